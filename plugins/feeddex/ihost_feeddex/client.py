"""Feeddex's API over the host's toolkit (api/feeddex.md).

CONFIRMED: `POST /authenticate` with `{authCode, organization, password}` answers a
`token`, sent as Bearer on every `/v1/` call (host.auth.TokenLogin: logged in once, again
once on a 401); `GET /v1/feedbackData?year&month` answers a month of transactions with their
F100 scores. Everything else is PROPOSED (the notes found no documentation): the paths come
from the settings, the JSON field names through `Names`, and a duplicate's status code
(409) is a setting too. Errors are read from `{"message", "errors"?}`.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from host.auth import TokenLogin
from host.errors import RemoteRejected
from host.http import HttpClient, RequestRate
from host.paging import PageNumber

#: the JSON names the connector writes and reads on the PROPOSED endpoints, each replaceable
#: by the name the real API uses (setting `field_names`)
PROPOSED_NAMES = (
    "externalId",
    "date",
    "unitId",
    "customerCode",
    "customer",
    "email",
    "firstName",
    "lastName",
    "companyName",
    "phone",
    "language",
    "orderLines",
    "sku",
    "name",
    "quantity",
    "sendInvitationAfterDays",
    "price",
    "ean",
    "items",
    "total",
    "id",
)


#: items per page of a proposed list (the sandbox's most)
PAGE_SIZE = 100


class Names:
    """The proposed JSON names, as the real API spells them (`field_names` over them)."""

    def __init__(self, renamed: Mapping[str, str] | None = None) -> None:
        self._out = {name: name for name in PROPOSED_NAMES} | dict(renamed or {})
        self._in = {remote: ours for ours, remote in self._out.items()}

    def __getitem__(self, name: str) -> str:
        return self._out[name]

    def outgoing(self, value: Any) -> Any:
        """`value` with every proposed key renamed as configured, at any depth."""
        if isinstance(value, dict):
            return {self._out.get(k, k): self.outgoing(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.outgoing(item) for item in value]
        return value

    def incoming(self, value: Any) -> Any:
        """An answer with the configured names read back as the proposed ones."""
        if isinstance(value, dict):
            return {self._in.get(k, k): self.incoming(v) for k, v in value.items()}
        if isinstance(value, list):
            return [self.incoming(item) for item in value]
        return value


class Duplicate(RemoteRejected):
    """Feeddex already holds what was posted (409: a transaction with this externalId, a
    customer with this code); `existing` is its id when the answer names it."""

    def __init__(self, message: str, existing: str | None) -> None:
        super().__init__(message, status=409)
        self.existing = existing


class _FeeddexHttp(HttpClient):
    def __init__(self, *args: Any, duplicate_status: int, id_field: str, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.duplicate_status = duplicate_status
        self.id_field = id_field

    def error_message(self, response: httpx.Response) -> str:
        """`message`, and the fields `errors` names ("customer.email: is required")."""
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if not isinstance(body, dict):
            return super().error_message(response)
        message = str(body.get("message") or response.reason_phrase)
        errors = body.get("errors")
        if isinstance(errors, dict) and errors:
            named = "; ".join(f"{field}: {_listed(problems)}" for field, problems in errors.items())
            if named not in message:
                message = f"{message} ({named})"
        return message[:500]

    def error_for(self, response: httpx.Response, message: str) -> Exception | None:
        if response.status_code != self.duplicate_status:
            return None
        try:
            body = response.json()
        except ValueError:
            body = None
        found = body.get(self.id_field) if isinstance(body, dict) else None
        return Duplicate(f"feeddex: {message}", None if found in (None, "") else str(found))


def _listed(problems: Any) -> str:
    return ", ".join(map(str, problems)) if isinstance(problems, list) else str(problems)


class FeeddexClient:
    """One Feeddex organization, logged in with its auth code and password."""

    def __init__(
        self,
        base_url: str,
        credentials: Mapping[str, str],
        *,
        login_path: str = "/authenticate",
        names: Names | None = None,
        duplicate_status: int = 409,
        per_second: float | None = None,
        timeout: float = 30.0,
        retries: int = 5,
    ) -> None:
        base = base_url.rstrip("/")
        self.names = names or Names()
        self.login = TokenLogin(
            base + login_path, credentials, timeout=timeout, retries=retries, name="feeddex"
        )
        self.http = _FeeddexHttp(
            base,
            headers={"Accept": "application/json"},
            auth=self.login,
            timeout=timeout,
            retries=retries,
            # a burst a request short of a second's worth: the remote's bucket keeps one
            # request of slack for the time requests take to arrive (else 429s)
            limiter=RequestRate(per_second, burst=max(1, int(per_second) - 1))
            if per_second
            else None,
            name="feeddex",
            duplicate_status=duplicate_status,
            id_field=self.names["id"],
        )

    def close(self) -> None:
        self.http.close()
        self.login.close()

    @property
    def waited(self) -> float:
        return self.http.waited

    # --- CONFIRMED ------------------------------------------------------------------------

    def feedback_month(self, path: str, year: int, month: int) -> dict[str, Any]:
        """`GET feedbackData?year&month`: one month's transactions, scores and units."""
        answer = self.http.get(path, params={"year": year, "month": f"{month:02d}"}).json()
        return answer if isinstance(answer, dict) else {}

    # --- PROPOSED -------------------------------------------------------------------------

    def get(self, path: str, **params: Any) -> Any:
        return self.names.incoming(self.http.get(path, params=params or None).json())

    def rows(self, path: str, **params: Any) -> Iterator[dict[str, Any]]:
        """Every item of a proposed list (`page`/`pageSize`, `{"items", "total"}`)."""
        paging = PageNumber(self.names["items"], page_size=PAGE_SIZE, total=self.names["total"])
        query = self.names.outgoing(params) or None  # filters are named as fields are
        for row in self.http.paginate("GET", path, paging, params=query):
            yield self.names.incoming(row)

    def post(self, path: str, body: Any) -> Any:
        """POST `body` (renamed as configured); the answer, its names read back. Duplicate
        when Feeddex holds it already. Not repeated on a lost answer: the caller's existence
        check finds what it made."""
        response = self.http.post(path, json=self.names.outgoing(body), idempotent=False)
        return self.names.incoming(response.json()) if response.content else {}

    def put(self, path: str, body: Any) -> Any:
        """PUT `body`: a whole replacement, safe to repeat."""
        response = self.http.put(path, json=self.names.outgoing(body))
        return self.names.incoming(response.json()) if response.content else {}
