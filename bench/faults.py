"""A fault-injecting HTTP/1.1 reverse proxy between a connector and its sandbox.

`FaultProxy(upstream)` listens on 127.0.0.1 (an ephemeral port) and forwards every request
to the same path on the upstream's host. With probability `rate` a request gets one fault,
chosen uniformly among the enabled kinds:

- ``503`` / ``429``: answered with ``Retry-After: 1``, not forwarded;
- ``stall``: not forwarded; the connection is held `stall` seconds (set it beyond the
  client's timeout), then closed;
- ``drop``: not forwarded; the connection is closed without an answer;
- ``applied_lost``: forwarded (the upstream applies it), then the connection is closed, or
  answered 502, in turn, instead of passing the upstream's answer on.

Every request is logged as (method, path, kind or "ok"); `counts` has a figure per kind
and `lost_writes` the writes the upstream accepted (2xx) while the client never saw the
answer: the case that tests whether writes are idempotent. A write is a POST, PUT, PATCH or
DELETE, unless `is_write(method, path, body)` says otherwise (GraphQL reads are POSTs too).
`enabled = False` switches the faults off at run time.

Two figures tell whether the client lost answers the proxy did not mean to lose: "slow",
forwarded requests whose upstream took longer than `slow_after` (set it to the client's
timeout), and "client_gone", answers that could not be written because the client had
already closed the connection (it timed out, or was killed).

    with FaultProxy(sandbox.base_url + "/ProfitRestServices", rate=0.2, seed=1) as proxy:
        settings["base_url"] = proxy.base_url   # http://127.0.0.1:PORT/ProfitRestServices
"""

from __future__ import annotations

import contextlib
import random
import socket
import sys
import threading
import time
from collections import Counter
from collections.abc import Callable
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import httpx

KINDS = ("503", "429", "stall", "drop", "applied_lost")
WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})
#: headers that belong to one connection, not to the request (RFC 9110 §7.6.1), and those
#: httpx sets itself from the body it sends or decodes
_HOP = frozenset(
    {
        "connection",
        "keep-alive",
        "proxy-authenticate",
        "proxy-authorization",
        "proxy-connection",
        "te",
        "trailer",
        "trailers",
        "transfer-encoding",
        "upgrade",
        "host",
        "content-length",
        "content-encoding",
    }
)


class FaultProxy:
    """A reverse proxy to `upstream_base_url` that injects faults into a share of requests."""

    def __init__(
        self,
        upstream_base_url: str,
        rate: float = 0.2,
        seed: int | None = None,
        stall: float = 2.0,
        faults: set[str] | None = None,
        *,
        is_write: Callable[[str, str, bytes], bool] | None = None,
        slow_after: float | None = None,
        timeout: float = 30.0,
    ) -> None:
        unknown = set(faults or ()) - set(KINDS)
        if unknown:
            raise ValueError(f"unknown fault kinds {sorted(unknown)}; known: {', '.join(KINDS)}")
        if not 0 <= rate <= 1:
            raise ValueError("rate is a probability, 0 to 1")
        url = httpx.URL(upstream_base_url)
        self.upstream = f"{url.scheme}://{url.netloc.decode('ascii')}"
        self.prefix = url.path.rstrip("/")
        self.rate = rate
        self.stall = stall
        self.kinds = tuple(k for k in KINDS if faults is None or k in faults)
        self.is_write = is_write or (lambda method, path, body: method in WRITES)
        self.slow_after = slow_after
        self.enabled = True
        self.log: list[tuple[str, str, str]] = []
        self.counts: Counter[str] = Counter()
        self.lost_writes: list[tuple[str, str]] = []  # (method, path): applied, answer lost
        self._rng = random.Random(seed)
        self._lock = threading.Lock()
        self._lost_turn = 0
        self._client = httpx.Client(
            timeout=timeout,
            follow_redirects=False,
            limits=httpx.Limits(max_connections=64, max_keepalive_connections=32),
            transport=httpx.HTTPTransport(
                socket_options=[(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)]
            ),
        )
        self._server: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # --- lifecycle ------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        """The proxied base URL: this proxy's address with the upstream's path prefix."""
        if self._base_url is None:
            raise RuntimeError("FaultProxy is not started")
        return self._base_url

    def start(self) -> str:
        """Start serving; returns the proxied base URL."""
        if self._base_url is not None:
            return self._base_url
        server = _Server(("127.0.0.1", 0), _handler(self))
        self._server = server
        self._thread = threading.Thread(
            target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        host, port = server.server_address[:2]
        self._base_url = f"http://{host}:{port}{self.prefix}"
        return self._base_url

    def stop(self) -> None:
        """Stop serving; safe to call twice. Stalled handlers end on their own (daemons)."""
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout=5)
        self._server = self._thread = None
        self._base_url = None
        self._client.close()

    def __enter__(self) -> FaultProxy:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # --- figures --------------------------------------------------------------------------

    @property
    def injected(self) -> int:
        """Requests that got a fault."""
        with self._lock:
            return sum(n for kind, n in self.counts.items() if kind in KINDS)

    @property
    def applied_lost_writes(self) -> int:
        """Writes the upstream applied whose answer the client never saw."""
        with self._lock:
            return len(self.lost_writes)

    def summary(self) -> dict[str, int]:
        """Requests per kind, "ok" and "upstream_error" (the upstream could not be reached)
        included; "slow" and "client_gone"; and the writes applied with their answer lost."""
        with self._lock:
            figures = ("ok", *KINDS, "upstream_error", "slow", "client_gone")
            found = {figure: self.counts.get(figure, 0) for figure in figures}
            found["applied_lost_writes"] = len(self.lost_writes)
            return found

    # --- used by the handler --------------------------------------------------------------

    def choose(self) -> str | None:
        """The fault for the next request, or None to forward it as it is."""
        with self._lock:
            if not self.enabled or not self.kinds or self._rng.random() >= self.rate:
                return None
            return self._rng.choice(self.kinds)

    def lost_answer(self) -> str:
        """How the next applied-and-lost request loses its answer: "drop" or "502", in turn."""
        with self._lock:
            self._lost_turn += 1
            return "drop" if self._lost_turn % 2 else "502"

    def record(self, method: str, path: str, kind: str, applied_write: bool = False) -> None:
        with self._lock:
            self.log.append((method, path, kind))
            self.counts[kind] += 1
            if applied_write:
                self.lost_writes.append((method, path))

    def count(self, figure: str) -> None:
        """Count a figure that is not a request's kind ("slow", "client_gone")."""
        with self._lock:
            self.counts[figure] += 1

    def forward(
        self, method: str, path: str, headers: list[tuple[str, str]], body: bytes
    ) -> httpx.Response:
        """Send the request to the same path on the upstream host; the answer is read."""
        return self._client.request(
            method,
            self.upstream + path,
            headers=[(k, v) for k, v in headers if k.lower() not in _HOP],
            content=body or None,
        )


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    block_on_close = False
    request_queue_size = 64

    def handle_error(self, request: Any, client_address: Any) -> None:
        """A client that went away (reset, broken pipe) is no error of the proxy's."""
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


def _handler(proxy: FaultProxy) -> type[BaseHTTPRequestHandler]:
    class Handler(_ProxyHandler):
        pass

    Handler.proxy = proxy
    return Handler


class _ProxyHandler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    timeout = 60  # an idle keep-alive connection is closed after this
    proxy: FaultProxy

    def setup(self) -> None:
        # headers and body are separate writes: without TCP_NODELAY the body waits for the
        # client's delayed ACK, 40 ms on every answer
        self.request.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        super().setup()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        self._proxy()

    do_POST = do_PUT = do_PATCH = do_DELETE = do_HEAD = do_OPTIONS = do_GET

    def _body(self) -> bytes:
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            parts = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(parts)
                parts.append(self.rfile.read(size))
                self.rfile.readline()
        length = int(self.headers.get("Content-Length") or 0)
        return self.rfile.read(length) if length else b""

    def _proxy(self) -> None:
        proxy, method, path = self.proxy, self.command, self.path
        body = self._body()
        kind = proxy.choose()
        if kind in ("503", "429"):
            proxy.record(method, path, kind)
            self._answer(int(kind), b"", [("Retry-After", "1")])
            return
        if kind in ("stall", "drop"):
            proxy.record(method, path, kind)
            if kind == "stall":
                time.sleep(proxy.stall)
            self._hang_up()
            return
        started = time.monotonic()
        try:
            response = proxy.forward(method, path, list(self.headers.items()), body)
        except httpx.HTTPError as exc:
            proxy.record(method, path, "upstream_error")
            self._answer(502, f"proxy: upstream failed: {exc}".encode(), [])
            return
        if proxy.slow_after is not None and time.monotonic() - started > proxy.slow_after:
            proxy.count("slow")
        if kind == "applied_lost":
            applied = response.status_code < 300 and proxy.is_write(method, path, body)
            proxy.record(method, path, kind, applied_write=applied)
            if proxy.lost_answer() == "drop":
                self._hang_up()
            else:
                self._answer(502, b"", [])
            return
        proxy.record(method, path, "ok")
        headers = [(k, v) for k, v in response.headers.multi_items() if k.lower() not in _HOP]
        self._answer(response.status_code, response.content, headers)

    def _answer(self, status: int, body: bytes, headers: list[tuple[str, str]]) -> None:
        self.send_response_only(status)
        for name, value in headers:
            if name.lower() not in ("date", "server"):
                self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        try:
            self.end_headers()
            if body and self.command != "HEAD":
                self.wfile.write(body)
        except OSError:  # the client closed the connection: it never sees this answer
            self.proxy.count("client_gone")
            self.close_connection = True

    def _hang_up(self) -> None:
        """Close the connection without a byte of answer."""
        self.close_connection = True
        with contextlib.suppress(OSError):
            self.request.shutdown(socket.SHUT_RDWR)
