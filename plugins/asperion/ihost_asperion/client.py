"""Asperion's REST API (api/asperion.md §1-§3): one administration, over the host's toolkit.

Every call carries the OAuth2 bearer token (host.auth.OAuth2AuthorizationCode, refreshed
by the toolkit), `X-Tenant-Id` for the administration and `Accept-Language` for the
language of Asperion's error texts. Lists come in the `{_data, _meta}` envelope, paged with
`page`/`pageSize` until `_meta.nextPage` is empty (host.paging.PageNumber). Errors are
ASP.NET problem details: `title`, `detail` and `errors{field: [..]}` become the message,
the field named. Asperion publishes no rate limit: a 429 is waited out by its
Retry-After; `requests_per_second` paces the client where an administration needs it.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from host.http import HttpClient, RequestRate
from host.paging import PageNumber

#: how long reference data (VAT codes, payment methods, ...) is kept before it is read again
REFERENCE_TTL = 600.0


def problem_text(body: Any) -> str | None:
    """Asperion's own words from a problem-details body: the title or detail, then each
    field with its messages ("emailAddress: 'x' is not an e-mail address"); None when the
    body is not problem details."""
    if not isinstance(body, dict) or not ({"title", "detail", "errors"} & body.keys()):
        return None
    parts = [str(body.get("detail") or body.get("title") or "").strip()]
    errors = body.get("errors")
    if isinstance(errors, dict):
        for field, messages in errors.items():
            listed = messages if isinstance(messages, list) else [messages]
            parts.append(f"{field}: {' '.join(str(m) for m in listed)}")
    return "; ".join(p for p in parts if p)[:1000] or None


def refused_fields(body: Any) -> list[str]:
    """The fields a problem-details body names under `errors`."""
    errors = body.get("errors") if isinstance(body, dict) else None
    return list(errors) if isinstance(errors, dict) else []


class _AsperionHttp(HttpClient):
    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        return problem_text(body) or super().error_message(response)


class AsperionClient:
    """One Asperion administration's REST API.

    `auth` signs every request (the OAuth2 flow); `administration_id` goes out as
    X-Tenant-Id (None: the user's default administration); `language` as Accept-Language.
    """

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        administration_id: int | None = None,
        language: str = "en-US",
        page_size: int = 100,
        timeout: float = 60.0,
        requests_per_second: float | None = None,
        retries: int = 5,
    ) -> None:
        headers = {"Accept": "application/json", "Accept-Language": language}
        if administration_id is not None:
            headers["X-Tenant-Id"] = str(administration_id)
        self.http = _AsperionHttp(
            base_url.rstrip("/"),
            headers=headers,
            auth=auth,
            timeout=timeout,
            retries=retries,
            limiter=RequestRate(requests_per_second) if requests_per_second else None,
            name="asperion",
        )
        self.page_size = page_size
        self._reference: dict[str, tuple[float, list[dict[str, Any]]]] = {}
        self._lock = threading.Lock()

    def close(self) -> None:
        self.http.close()

    @property
    def waited(self) -> float:
        """Seconds spent waiting on Asperion (Retry-After of 429, and the pacing)."""
        return self.http.waited

    # --- reading --------------------------------------------------------------------------

    def rows(self, resource: str, params: Mapping[str, Any] | None = None) -> Iterator[dict]:
        """Stream every item of a list (`/v1/{resource}`) matching `params`, page by page."""
        paging = PageNumber(
            "_data",
            page_size=self.page_size,
            next_page="_meta.nextPage",
            pages="_meta.pageCount",
        )
        return self.http.paginate("GET", f"/v1/{resource}", paging, params=params)

    def equal(self, resource: str, field: str, value: str) -> list[dict[str, Any]]:
        """Items whose `field` (PascalCase filter name) equals `value`: the `Equals`
        comparison, not the default `Contains`, and checked again here (case-insensitive,
        as Asperion compares), so a near match is never taken for the record."""
        params = {field: value, f"{field}_comparison": "Equals"}
        json_name = field[0].lower() + field[1:]
        wanted = value.casefold()
        return [
            row
            for row in self.rows(resource, params)
            if str(row.get(json_name) if row.get(json_name) is not None else "").casefold()
            == wanted
        ]

    def get(self, resource: str, item_id: int | str) -> dict[str, Any]:
        return self.http.get(f"/v1/{resource}/{item_id}").json()

    def reference(self, resource: str) -> list[dict[str, Any]]:
        """A list of reference data (vatcodes, paymentmethods, ...), kept REFERENCE_TTL
        seconds: it changes when an accountant changes the administration, not per record."""
        with self._lock:
            cached = self._reference.get(resource)
            if cached is not None and time.monotonic() - cached[0] < REFERENCE_TTL:
                return cached[1]
        found = list(self.rows(resource))
        with self._lock:
            self._reference[resource] = (time.monotonic(), found)
        return found

    # --- writing --------------------------------------------------------------------------

    def create(
        self, resource: str, body: dict[str, Any], *, validate_only: bool = False
    ) -> dict[str, Any]:
        """POST a new item; with `validate_only` Asperion checks it and keeps nothing."""
        params = {"validateOnly": "true"} if validate_only else None
        response = self.http.post(f"/v1/{resource}", json=body, params=params)
        return response.json() if response.content else {}

    def replace(
        self,
        resource: str,
        item_id: int | str,
        body: dict[str, Any],
        *,
        validate_only: bool = False,
    ) -> dict[str, Any]:
        """PUT an item whole (fields left out are emptied: merge with what GET gave first)."""
        params = {"validateOnly": "true"} if validate_only else None
        response = self.http.put(f"/v1/{resource}/{item_id}", json=body, params=params)
        return response.json() if response.content else {}
