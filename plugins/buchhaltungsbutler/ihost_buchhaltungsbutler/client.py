"""BuchhaltungsButler's API v1 (api/buchhaltungsbutler.md §1-§3), over the host's toolkit.

Every endpoint is a POST, reads included: HTTP Basic with the API client and secret, and the
customer's `api_key` in every body (host.auth.BasicWithBodyKey). Answers are
`{success, message, rows, data}`; an error is `{success: false, error_code, message}`, whose
code means something per endpoint: 3 and 4 are refused credentials, 11 an inactive
customer, 15 "temporarily restricted" (past the rate limit), 30 a timeout. Lists page by
offset with `rows` counting this page only (host.paging.OffsetLimit). The client keeps to
the documented limits: 100 requests a minute per api_key, and one batch call per 5 s.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from host.auth import BasicWithBodyKey
from host.errors import AuthError, RateLimited, RemoteRejected, TransientError
from host.http import HttpClient, RequestRate, parse_retry_after
from host.paging import OffsetLimit

#: the documented limits (per api_key): requests a minute, seconds between batch calls
PER_MINUTE = 100
BATCH_SPACING = 5.0
BATCH_MAX = 50


class _Spacing:
    """At most one call per `seconds`, counted from the end of the one before (the remote
    counts from when it arrived, which is earlier): `wait` before a call, `done` after."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self._last: float | None = None
        self._lock = threading.Lock()

    def wait(self) -> float:
        with self._lock:
            now = time.monotonic()
            pause = 0.0 if self._last is None else max(0.0, self._last + self.seconds - now)
        if pause:
            time.sleep(pause)
        return pause

    def done(self) -> None:
        with self._lock:
            self._last = time.monotonic()


class _BhbHttp(HttpClient):
    """BuchhaltungsButler's error codes mapped onto the host's errors."""

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            if "html" in response.headers.get("content-type", ""):
                return f"no such endpoint ({response.status_code}, an HTML page)"
            return super().error_message(response)
        if isinstance(body, dict) and "error_code" in body:
            return f"{body.get('message') or 'error'} (error_code {body['error_code']})"
        return super().error_message(response)

    def error_for(self, response: httpx.Response, message: str) -> Exception | None:
        code = _error_code(response)
        if code in (3, 4):
            return AuthError(f"buchhaltungsbutler refused the credentials: {message}")
        if code == 11:
            return AuthError(f"buchhaltungsbutler: the customer account is inactive: {message}")
        if code == 15:
            wait = parse_retry_after(response.headers.get("Retry-After"))
            return RateLimited(f"buchhaltungsbutler: temporarily restricted: {message}", wait)
        if code == 30:
            return TransientError(f"buchhaltungsbutler timed out: {message}")
        return None


def _error_code(response: httpx.Response) -> int | None:
    try:
        body = response.json()
    except ValueError:
        return None
    code = body.get("error_code") if isinstance(body, dict) else None
    return int(code) if isinstance(code, int | str) and str(code).isdigit() else None


class BuchhaltungsButlerClient:
    """One BuchhaltungsButler customer (api_key)."""

    def __init__(
        self,
        base_url: str,
        api_client: str,
        api_secret: str,
        api_key: str,
        *,
        per_minute: float = PER_MINUTE,
        timeout: float = 60.0,
        retries: int = 5,
    ) -> None:
        auth = BasicWithBodyKey(api_client, api_secret, "api_key", api_key)
        self.http = _BhbHttp(
            base_url.rstrip("/"),
            headers={"Accept": "application/json"},
            auth=auth,
            timeout=timeout,
            retries=retries,
            # a minute's worth at once, then as fast as the minute refills; one request
            # short of the remote's bucket, so a clock apart never meets a refusal
            limiter=RequestRate(per_minute / 60.0, burst=max(1, int(per_minute) - 1)),
            name="buchhaltungsbutler",
        )
        self._batches = _Spacing(BATCH_SPACING)

    def close(self) -> None:
        self.http.close()

    @property
    def waited(self) -> float:
        return self.http.waited

    def call(
        self, path: str, body: Mapping[str, Any] | None = None, *, read: bool = False
    ) -> dict[str, Any]:
        """POST `body` to `path`; the answer's JSON. A `read` (every endpoint is a POST, reads
        too) is repeated on a transient failure, a write is not. RemoteRejected when
        BuchhaltungsButler answers `success: false` with a 200."""
        response = self.http.post(path, json=dict(body or {}), idempotent=read)
        answer = response.json() if response.content else {}
        if isinstance(answer, dict) and answer.get("success") is False:
            raise RemoteRejected(
                f"buchhaltungsbutler refused {path}: {answer.get('message')} "
                f"(error_code {answer.get('error_code')})",
                status=response.status_code,
                details=answer,
            )
        return answer

    def batch(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        """A batch call: at most one per BATCH_SPACING seconds, as BuchhaltungsButler allows."""
        self.http.waited += self._batches.wait()
        try:
            return self.call(path, body)
        finally:
            self._batches.done()

    def rows(
        self,
        path: str,
        body: Mapping[str, Any] | None = None,
        page_size: int = 500,
        start: int = 0,
    ) -> Iterator[dict[str, Any]]:
        """Every item of a list endpoint from offset `start`, page by page (offset; `rows`
        counts the page)."""
        paging = OffsetLimit("data", in_body=True, count="rows", page_size=page_size, start=start)
        return self.http.paginate("POST", path, paging, json=dict(body or {}))
