"""The HTTP toolkit connectors build their clients on.

`HttpClient` wraps an httpx.Client with timeouts, retries (tenacity) on
transient failures honouring Retry-After, an optional rate limiter (`RequestRate`
for requests/s, `CostBucket` for cost-based limits fed from responses), and maps
answers to the error taxonomy of host.errors:

- 401/403 -> AuthError; 429 -> RateLimited; 5xx, 408, timeouts, dropped connections
  -> TransientError; other 4xx -> RemoteRejected with the remote's own message;
- a connection that cannot be made, even after retries -> RemoteUnavailable.

`paginate` streams the records of a paged list in one of the shapes of host.paging
(offset/limit, skip/take, page number, next link, GraphQL connection), every page sent
through `request`.

Only what is safe to repeat is repeated here: reads and PUT/DELETE, a request
marked `idempotent=True` or carrying an `Idempotency-Key` header, and any request
the remote certainly did not act on (no connection, 429). A POST whose answer was
lost is raised to the caller: the runner checks whether the record exists before
writing it again. Retries spend the current record's budget (host.retry), or, outside
a run, the client's own `retries`.

Requests are logged at DEBUG without credentials and without query values that may
be personal data (only paging and other plain values are shown). While the runner keeps a
record's story (`keeping_calls`), each request sent for it is kept with the remote's
answer: bodies with every known secret and every credential-named field blanked, headers
never.
"""

from __future__ import annotations

import email.utils
import json
import logging
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import datetime, timezone
from typing import Any

import httpx
from tenacity import Retrying, retry_if_exception, stop_never

from host.errors import (
    AuthError,
    RateLimited,
    RemoteRejected,
    RemoteUnavailable,
    TransientError,
)
from host.paging import Page, PageRequest, Paginator, PagingError
from host.paging import paginate as _paginate
from host.retry import RetryBudget, current_budget
from host.secrets import MASK, redact, redactor

log = logging.getLogger("host.http")

_SECRET_NAME = re.compile(r"auth|token|key|secret|password|cookie|signature|hmac", re.I)
#: query parameters whose values say how to page or sort, never who or what
_PLAIN_PARAM = re.compile(
    r"^(skip|take|limit|offset|page|page_?size|per_page|first|last|cursor|after|before|"
    r"orderby\w*|sort\w*|order|fields?|filterfieldids|operatortypes|since|\w*_since|"
    r"\w*_(min|max))$",
    re.I,
)
_PLAIN_VALUE = re.compile(r"^[\d.,:+TZ-]{0,40}$")
HIDDEN = "…"
#: methods whose repetition has the effect of one call
REPEATABLE_METHODS = frozenset({"GET", "HEAD", "OPTIONS", "PUT", "DELETE"})


def is_secret_name(name: str) -> bool:
    """Whether a header or parameter called `name` carries a credential."""
    return bool(_SECRET_NAME.search(name))


def redact_headers(headers: Mapping[str, str]) -> dict[str, str]:
    """A copy of `headers` with credential-bearing values replaced by ***."""
    return {k: (MASK if is_secret_name(k) else v) for k, v in headers.items()}


def redact_url(url: httpx.URL) -> str:
    """The URL fit for logs and messages: secret query values as ***, values that may
    be personal data (a searched e-mail, a name) as …; paging and plain numbers stay. A user
    name and password in the URL and its #fragment (never sent) are left out."""
    url = url.copy_with(userinfo=b"", fragment=None)
    if not url.query:
        return redact(str(url))

    def shown(name: str, value: str) -> str:
        if is_secret_name(name):
            return MASK
        return value if _PLAIN_PARAM.match(name) or _PLAIN_VALUE.match(value) else HIDDEN

    params = [(k, shown(k, v)) for k, v in url.params.multi_items()]
    return redact(str(url.copy_with(params=params)).replace("%E2%80%A6", HIDDEN))


#: the calls kept for the record being written (keeping_calls); None: none are kept
_kept_calls: ContextVar[list[dict[str, Any]] | None] = ContextVar("ihost_calls", default=None)
#: characters of a body kept, and calls kept per record
KEPT_BODY, KEPT_CALLS = 20_000, 20


@contextmanager
def keeping_calls() -> Iterator[list[dict[str, Any]]]:
    """Keep, in the list it yields, each request sent in this context (thread) and the
    remote's answer: {"method", "url", "status", "sent", "answer"}. Past KEPT_CALLS, the
    first ones, {"more": n} for those left out, and the latest (the one that failed, say)."""
    calls: list[dict[str, Any]] = []
    token = _kept_calls.set(calls)
    try:
        yield calls
    finally:
        _kept_calls.reset(token)


def _kept_body(content: bytes, content_type: str) -> Any:
    """A body fit to keep: secrets blanked, JSON as JSON, at most KEPT_BODY characters."""
    if not content:
        return None
    text = redact(content.decode("utf-8", "replace"))
    if len(text) <= KEPT_BODY and "json" in content_type.lower():
        try:
            return _blank_secrets(json.loads(text))
        except (ValueError, RecursionError):  # not JSON, or nested past what Python parses
            pass
    return text if len(text) <= KEPT_BODY else f"{text[:KEPT_BODY]}{HIDDEN} ({len(text)} chars)"


#: how deep a kept JSON body is walked; deeper parts are kept as a note
KEPT_DEPTH = 40


def _blank_secrets(value: Any, depth: int = 0) -> Any:
    """`value` with every credential-named field's value as *** and every known secret
    blanked in its strings and keys: JSON may spell a secret in a form the text's
    redaction does not know (``\\/`` for ``/``, ``\\u0073`` for ``s``), which parsing
    turns back into the secret."""
    if isinstance(value, str):
        return redact(value)
    if depth >= KEPT_DEPTH and isinstance(value, (dict, list)):
        return f"{HIDDEN} (nested deeper than {KEPT_DEPTH})"
    if isinstance(value, dict):
        return {
            redact(str(k)): MASK if is_secret_name(str(k)) else _blank_secrets(v, depth + 1)
            for k, v in value.items()
        }
    if isinstance(value, list):
        return [_blank_secrets(v, depth + 1) for v in value]
    return value


def _keep_call(request: httpx.Request, response: httpx.Response | None, failure: str) -> None:
    """Keep a call for the record being written, if any: never at the cost of the call
    itself (a remote that has acted must not look as if it failed)."""
    calls = _kept_calls.get()
    if calls is None:
        return
    try:
        call = {
            "method": request.method,
            "url": redact_url(request.url),
            "status": response.status_code if response is not None else None,
            "sent": _kept_body(request.content, request.headers.get("content-type", "")),
            "answer": (
                _kept_body(response.content, response.headers.get("content-type", ""))
                if response is not None
                else failure
            ),
        }
    except Exception as exc:  # whatever the body, the call goes on
        call = {"method": request.method, "note": f"not kept: {type(exc).__name__}"}
    if len(calls) >= KEPT_CALLS:  # the first ones, how many were left out, and the latest
        if "more" in calls[-2]:
            calls[-2]["more"] += 1
            calls.pop()
        else:
            calls[-1] = {"more": 1}
    calls.append(call)


def parse_retry_after(value: str | None, now: datetime | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (seconds or an HTTP date), or None."""
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


class RequestRate:
    """At most `per_second` requests a second, with bursts up to `burst`."""

    def __init__(self, per_second: float, burst: int = 1) -> None:
        if per_second <= 0:
            raise ValueError("per_second must be positive")
        self.per_second = per_second
        self.burst = max(1, burst)
        self._tokens = float(self.burst)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self, cost: float = 1) -> float:
        """Wait until a request may go; returns the seconds waited."""
        with self._lock:
            now = time.monotonic()
            self._tokens = min(self.burst, self._tokens + (now - self._stamp) * self.per_second)
            self._stamp = now
            self._tokens -= 1
            delay = -self._tokens / self.per_second if self._tokens < 0 else 0.0
        if delay:
            time.sleep(delay)
            self.waited += delay
        return delay


class CostBucket:
    """A leaky bucket of cost points (Shopify's GraphQL cost, Lightspeed's drip).

    `acquire(cost)` waits until the bucket should hold `cost` points;
    `update(available, size, restore_rate)` corrects the estimate from what the
    remote reported in its last response.
    """

    def __init__(self, size: float, restore_rate: float) -> None:
        if size <= 0 or restore_rate <= 0:
            raise ValueError("size and restore_rate must be positive")
        self.size = size
        self.restore_rate = restore_rate
        self._available = float(size)
        self._stamp = time.monotonic()
        self._lock = threading.Lock()
        self.waited = 0.0

    def _refill(self, now: float) -> None:
        self._available = min(self.size, self._available + (now - self._stamp) * self.restore_rate)
        self._stamp = now

    @property
    def available(self) -> float:
        with self._lock:
            self._refill(time.monotonic())
            return self._available

    def acquire(self, cost: float = 1) -> float:
        """Wait until `cost` points are available and spend them; returns the seconds waited."""
        cost = min(cost, self.size)
        with self._lock:
            self._refill(time.monotonic())
            delay = max(0.0, (cost - self._available) / self.restore_rate)
            self._available -= cost
        if delay:
            time.sleep(delay)
            self.waited += delay
        return delay

    def refund(self, points: float) -> None:
        """Give back points that were reserved but not spent (the actual cost was lower)."""
        with self._lock:
            self._available = min(self.size, self._available + points)

    def update(
        self, available: float, size: float | None = None, restore_rate: float | None = None
    ) -> None:
        """Take the remote's own account of the bucket."""
        with self._lock:
            if size:
                self.size = size
            if restore_rate:
                self.restore_rate = restore_rate
            self._available = min(self.size, available)
            self._stamp = time.monotonic()


Limiter = RequestRate | CostBucket


class _DeadlineStream(httpx.SyncByteStream):
    """A response body that must arrive whole by `deadline` (time.monotonic): httpx's read
    timeout bounds each read, so a remote trickling a byte now and then would hold a call
    for ever."""

    def __init__(self, inner: httpx.SyncByteStream, deadline: float, seconds: float) -> None:
        self._inner = inner
        self._deadline = deadline
        self._seconds = seconds

    def __iter__(self) -> Iterator[bytes]:
        for chunk in self._inner:
            if time.monotonic() > self._deadline:
                raise httpx.ReadTimeout(f"the answer did not arrive whole in {self._seconds:g} s")
            yield chunk

    def close(self) -> None:
        self._inner.close()


class _AnswerDeadline(httpx.BaseTransport):
    """A transport whose answers must arrive whole within `seconds` of being asked for."""

    def __init__(self, inner: httpx.BaseTransport, seconds: float) -> None:
        self._inner = inner
        self._seconds = seconds

    def handle_request(self, request: httpx.Request) -> httpx.Response:
        deadline = time.monotonic() + self._seconds
        response = self._inner.handle_request(request)
        assert isinstance(response.stream, httpx.SyncByteStream)
        response.stream = _DeadlineStream(response.stream, deadline, self._seconds)
        return response

    def close(self) -> None:
        self._inner.close()


class HttpClient:
    """An httpx client with the host's timeouts, retries, rate limiting and error mapping.

    `timeout` bounds each read (and `connect_timeout` the connection); `answer_timeout`
    (four times `timeout` unless given) bounds the whole body of an answer, so a remote that
    trickles its answer a byte at a time times out like one that hangs.

    Subclass and override `error_message` to extract the remote's own words from
    an error body, or `observe` to feed a CostBucket from response headers.
    """

    def __init__(
        self,
        base_url: str,
        *,
        headers: Mapping[str, str] | None = None,
        auth: httpx.Auth | tuple[str, str] | None = None,
        timeout: float = 30.0,
        connect_timeout: float = 10.0,
        answer_timeout: float | None = None,
        retries: int = 5,
        backoff: float = 0.5,
        max_backoff: float = 60.0,
        limiter: Limiter | None = None,
        name: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.name = name or httpx.URL(base_url).host
        self.limiter = limiter
        self.retries = max(1, retries)
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.waited = 0.0  # seconds spent waiting on rate limits (limiter and Retry-After)
        self._sleep = sleep
        for header, value in (headers or {}).items():
            if is_secret_name(header):
                redactor.add(value)
        self._http = httpx.Client(
            base_url=base_url,
            headers=dict(headers or {}),
            auth=auth,
            timeout=httpx.Timeout(timeout, connect=connect_timeout),
            follow_redirects=False,
            # headers and body go out as separate writes: without TCP_NODELAY the body waits
            # for the server's delayed ACK, 40 ms on every POST
            transport=_AnswerDeadline(
                httpx.HTTPTransport(socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]),
                answer_timeout or 4 * timeout,
            ),
        )

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> HttpClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- hooks for subclasses -------------------------------------------------------------

    def error_message(self, response: httpx.Response) -> str:
        """The remote's own words from an error response (override per API)."""
        try:
            body = response.json()
        except ValueError:
            text = response.text.strip()
            return text[:500] or response.reason_phrase
        if isinstance(body, dict):
            for key in ("message", "error_description", "error", "errors", "detail", "title"):
                if body.get(key):
                    value = body[key]
                    return value if isinstance(value, str) else str(value)[:500]
        return str(body)[:500]

    def observe(self, response: httpx.Response) -> None:
        """Called with every response, to update a limiter from the remote's headers."""

    def error_for(self, response: httpx.Response, message: str) -> Exception | None:
        """The error for an answer of 400 or more, where the remote's own error codes say
        more than its status (BuchhaltungsButler's `error_code` 15, "temporarily
        restricted", comes with a 403 yet means wait); None maps it by its status."""
        return None

    def refusal(self, response: httpx.Response, message: str) -> Exception | None:
        """An error for a 5xx that is really a refusal of the record (some APIs, AFAS
        among them, answer a validation error with 500); None keeps it transient."""
        return None

    # --- requests -------------------------------------------------------------------------

    def get(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("POST", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> httpx.Response:
        return self.request("DELETE", path, **kwargs)

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Any = None,
        json: Any = None,
        content: bytes | str | None = None,
        data: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        cost: float = 1,
        idempotent: bool | None = None,
    ) -> httpx.Response:
        """Send a request; return a 2xx/3xx response or raise. Transient failures are
        retried when the request is safe to repeat (`idempotent`: by default by method,
        or an Idempotency-Key header) or certainly did not reach the remote."""
        repeatable = idempotent
        if repeatable is None:
            keyed = any(name.lower() == "idempotency-key" for name in (headers or {}))
            repeatable = method.upper() in REPEATABLE_METHODS or keyed
        budget = current_budget() or RetryBudget(
            self.retries, self.backoff, max_backoff=self.max_backoff
        )

        def again(exc: BaseException) -> bool:
            if not isinstance(exc, TransientError) or (exc.applied and not repeatable):
                return False
            allowed = budget.allows(exc)
            if allowed and isinstance(exc, RateLimited):
                self.waited += budget.delay
            return allowed

        retrying = Retrying(
            retry=retry_if_exception(again),
            stop=stop_never,  # the budget decides
            wait=lambda _state: budget.delay,
            sleep=self._sleep,
            reraise=True,
        )
        try:
            response = retrying(
                self._send, method, path, params, json, content, data, headers, cost
            )
        except _Unreachable as exc:
            raise RemoteUnavailable(str(exc)) from None
        budget.succeeded()
        return response

    def paginate(
        self,
        method: str,
        path: str,
        paging: Paginator,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        headers: Mapping[str, str] | None = None,
    ) -> Iterator[Any]:
        """The records of every page of a paged list, streamed page by page: `paging`
        (host.paging) says how the pages are asked for and where their records are;
        `params`, `json` and `headers` go out with every page it does not replace. Each page
        is a `request` (retried as a read, whatever the method); nothing is sent until the
        first record is asked for. PagingError when the remote's pages cannot be followed.

            for row in client.paginate("GET", "/rows", SkipTake("rows"), params=filters): ...
        """
        first = PageRequest(method.upper(), path, params, json, headers)
        return _paginate(self.fetch_page, paging, first, name=self.name)

    def fetch_page(self, request: PageRequest) -> Page:
        """Send one page's request (a read, so repeated on transient failures) and
        return the page with its decoded JSON body; PagingError for a redirect (not followed:
        it may lead to another host, or to a login page that would read as no records) or
        an answer that is not JSON."""
        response = self.request(
            request.method,
            request.url,
            params=request.params,
            json=request.json,
            headers=request.headers,
            idempotent=True,
        )
        where = f"{request.method} {redact_url(response.url)}"
        if response.is_redirect:
            raise PagingError(f"{where} answered {response.status_code}, a redirect, not a page")
        try:
            body = response.json() if response.content else None
        except ValueError:
            raise PagingError(f"{where} answered a page that is not JSON") from None
        return Page(body, response.url, response.headers)

    def _send(
        self,
        method: str,
        path: str,
        params: Any,
        json: Any,
        content: bytes | str | None,
        data: Mapping[str, Any] | None,
        headers: Mapping[str, str] | None,
        cost: float,
    ) -> httpx.Response:
        if self.limiter is not None:
            self.waited += self.limiter.acquire(cost)
        request = self._http.build_request(
            method, path, params=params, json=json, content=content, data=data, headers=headers
        )
        where = f"{method} {redact_url(request.url)}"
        started = time.perf_counter()
        try:
            response = self._http.send(request)
        except httpx.TransportError as exc:
            _keep_call(request, None, f"no answer: {type(exc).__name__}")
            raise self._no_answer(exc, where) from None
        _keep_call(request, response, "")
        elapsed = time.perf_counter() - started
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "%s -> %s in %.3fs headers=%s",
                where,
                response.status_code,
                elapsed,
                redact_headers(request.headers),
            )
        self.observe(response)
        self._raise_for_status(response, where)
        return response

    def _no_answer(self, exc: httpx.TransportError, where: str) -> TransientError:
        """The host's error for a request that got no answer."""
        if isinstance(exc, (httpx.ConnectError, httpx.ConnectTimeout)):
            return _Unreachable(
                f"{self.name}: cannot connect for {where}: {redact(str(exc))}", applied=False
            )
        if isinstance(exc, httpx.PoolTimeout):
            return TransientError(f"{self.name}: {where}: no free connection", applied=False)
        if isinstance(exc, httpx.TimeoutException):
            return TransientError(f"{self.name}: {where} timed out ({type(exc).__name__})")
        return TransientError(
            f"{self.name}: {where} failed ({type(exc).__name__}): {redact(str(exc))}"
        )

    def _raise_for_status(self, response: httpx.Response, where: str) -> None:
        status = response.status_code
        if status < 400:
            return
        response.read()
        message = redact(self.error_message(response))
        if (specific := self.error_for(response, message)) is not None:
            raise specific
        retry_after = parse_retry_after(response.headers.get("Retry-After"))
        if status in (401, 403):
            raise AuthError(f"{self.name} refused the credentials ({status}): {message}")
        if status == 429:
            raise RateLimited(f"{self.name}: rate limited on {where}: {message}", retry_after)
        if status >= 500 and (refused := self.refusal(response, message)) is not None:
            raise refused
        if status >= 500 or status == 408:
            raise TransientError(
                f"{self.name}: {where} answered {status}: {message}",
                retry_after,
                applied=status != 408,  # 408: the remote never got the whole request
            )
        raise RemoteRejected(f"{self.name} rejected {where} ({status}): {message}", status=status)


class _Unreachable(TransientError):
    """A connection that could not be made; retried, then raised as RemoteUnavailable."""
