"""AFAS Profit REST: GetConnectors (read) and UpdateConnectors (write) (api/afas.md §1-§3, §6).

The token travels as `Authorization: AfasToken <base64 of the token XML>`. GetConnectors
page with skip/take until a short page (the toolkit's SkipTake); filters use AFAS's
parallel lists. Business errors arrive as HTTP 500 with `externalMessage` and
`profitLogReference`: they refuse the record and are not retried. At most 5 calls run at
once, as AFAS advises.
"""

from __future__ import annotations

import base64
import binascii
import re
import threading
from collections.abc import Iterator, Sequence
from typing import Any

import httpx

from host.auth import ApiKeyHeader
from host.errors import RemoteRejected
from host.http import HttpClient
from host.paging import SkipTake

SERVICE = {"production": "rest", "test": "resttest", "accept": "restaccept"}
_DATA = re.compile(r"[0-9A-Fa-f]{64}")
PARALLEL = 5

#: AFAS's filter operators (api/afas.md §2)
EQUALS, AT_LEAST, AT_MOST, MORE, LESS, CONTAINS = "1", "2", "3", "4", "5", "6"


def token_value(token: str) -> str:
    """The base64 token AFAS takes after `AfasToken `, from a token given as its XML, its
    data part, or base64."""
    token = token.strip()
    if _DATA.fullmatch(token):
        token = f"<token><version>1</version><data>{token}</data></token>"
    if not _is_base64_token(token):  # the XML, or something AFAS will refuse with 401
        token = base64.b64encode(token.encode()).decode()
    return token


def _is_base64_token(token: str) -> bool:
    try:
        return base64.b64decode(token, validate=True).startswith(b"<token>")
    except (ValueError, binascii.Error):
        return False


class _AfasHttp(HttpClient):
    """AFAS's error words and refusals; at most PARALLEL requests at once, every page of a
    read among them."""

    def __init__(
        self, base_url: str, *, headers: dict[str, str], auth: httpx.Auth, timeout: float
    ) -> None:
        super().__init__(base_url, headers=headers, auth=auth, timeout=timeout, name="afas")
        self._slots = threading.Semaphore(PARALLEL)

    def request(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        with self._slots:
            return super().request(method, path, **kwargs)

    def error_message(self, response: httpx.Response) -> str:
        if response.status_code == 401 and not response.content:
            return (
                "token refused, or the GetConnector/UpdateConnector is not in the App Connector "
                "(give the token as its XML, its 64-character data part, or base64 of the XML)"
            )
        try:
            body = response.json()
        except ValueError:
            return response.text.strip()[:500] or response.reason_phrase
        if isinstance(body, dict) and body.get("externalMessage"):
            reference = body.get("profitLogReference")
            suffix = f" (AFAS log reference {reference})" if reference else ""
            return f"{body['externalMessage']}{suffix}"
        return super().error_message(response)

    def refusal(self, response: httpx.Response, message: str) -> Exception | None:
        if response.status_code != 500 or "unexpected error" in message.lower():
            return None
        try:
            body = response.json()
        except ValueError:
            return None
        if isinstance(body, dict) and body.get("externalMessage"):
            return RemoteRejected(f"afas refused it: {message}", status=500, details=body)
        return None


class AfasClient:
    """One AFAS environment's ProfitRestServices."""

    def __init__(
        self,
        environment: str,
        token: str,
        environment_type: str = "production",
        *,
        base_url: str | None = None,
        integration_id: str | None = None,
        timeout: float = 60.0,
    ) -> None:
        digits = re.sub(r"\D", "", environment)
        base = (
            base_url
            or f"https://{digits}.{SERVICE[environment_type]}.afas.online/ProfitRestServices"
        )
        auth = ApiKeyHeader("Authorization", token_value(token), prefix="AfasToken")
        headers = {"Accept": "application/json"}
        if integration_id:
            headers["IntegrationId"] = integration_id
        self.http = _AfasHttp(base.rstrip("/"), headers=headers, auth=auth, timeout=timeout)

    def close(self) -> None:
        self.http.close()

    @property
    def waited(self) -> float:
        """Seconds spent waiting on AFAS (Retry-After of 429/503)."""
        return self.http.waited

    def _call(self, method: str, path: str, **kwargs: Any) -> httpx.Response:
        return self.http.request(method, path, **kwargs)

    def version(self) -> str:
        return self._call("GET", "/profitversion").json().get("version", "")

    def rows(
        self,
        connector: str,
        filters: Sequence[tuple[str, str, str]] = (),
        order: Sequence[str] = (),
        take: int = 100,
    ) -> Iterator[dict[str, Any]]:
        """Stream a GetConnector's rows; `filters` are (field, operator, value), all AND."""
        params: dict[str, Any] = {}
        if filters:
            params["filterfieldids"] = ",".join(f for f, _, _ in filters)
            params["operatortypes"] = ",".join(o for _, o, _ in filters)
            params["filtervalues"] = ",".join(v for _, _, v in filters)
        if order:
            params["orderbyfieldids"] = ",".join(order)
        paging = SkipTake("rows", page_size=take)
        return self.http.paginate("GET", f"/connectors/{connector}", paging, params=params)

    def any_of(
        self, connector: str, field: str, values: Sequence[str], take: int = 100
    ) -> list[dict[str, Any]]:
        """Rows whose `field` equals one of `values` (one OR-filter read per 50 values)."""
        found: list[dict[str, Any]] = []
        for start in range(0, len(values), 50):
            chunk = values[start : start + 50]
            params = {
                "filterfieldids": ";".join(field for _ in chunk),
                "operatortypes": ";".join(EQUALS for _ in chunk),
                "filtervalues": ";".join(chunk),
            }
            paging = SkipTake("rows", page_size=max(take, len(chunk)))
            found += self.http.paginate("GET", f"/connectors/{connector}", paging, params=params)
        return found

    def insert(self, connector: str, body: dict[str, Any]) -> dict[str, Any]:
        """POST to an UpdateConnector; returns the `results` object (the new keys)."""
        response = self._call("POST", f"/connectors/{connector}", json=body)
        return (response.json() if response.content else {}).get("results", {})

    def update(self, connector: str, body: dict[str, Any]) -> None:
        """PUT to an UpdateConnector."""
        self._call("PUT", f"/connectors/{connector}", json=body)
