"""The base of every emulator: a real HTTP server on 127.0.0.1 (DESIGN §9).

A sandbox subclass provides Starlette routes that speak the remote's documented
API, keeps the remote's records in memory, and implements `seed`, `dump` and
`connection_settings`. The base runs the server (uvicorn, in a thread, on an
ephemeral port), records every request it answered, finds the third-party specs
the subclass validates against, and injects faults for tests (`inject`): a request
refused before the remote acts on it, or acted on with its answer lost.

    with MySandbox() as sandbox:
        plugin = MyPlugin(MyPlugin.Settings(**sandbox.connection_settings()))
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import socket
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route
from starlette.types import ASGIApp, Message, Receive, Scope, Send

log = logging.getLogger(__name__)
_S = TypeVar("_S", bound="Sandbox")
#: What every sandbox says of a request it does not emulate (never a silent null or success)
NOT_EMULATED = "not emulated by the ihost sandbox"
#: Where a running sandbox takes seed records over HTTP (test-only; no real remote has it).
SEED_PATH = "/_sandbox/seed"

_warned: set[str] = set()


def specs_dir() -> Path | None:
    """Where the third-party specs are read in place: $IHOST_SPECS_DIR, else
    ../shared/specs beside the repository root; None (with one warning) when absent."""
    configured = os.environ.get("IHOST_SPECS_DIR")
    candidate = (
        Path(configured)
        if configured
        else Path(__file__).resolve().parents[1].parent / "shared" / "specs"
    )
    if candidate.is_dir():
        return candidate
    if str(candidate) not in _warned:
        _warned.add(str(candidate))
        log.warning(
            "specs not found at %s (set IHOST_SPECS_DIR): sandboxes run without validation",
            candidate,
        )
    return None


@dataclass(frozen=True)
class Call:
    """One request the sandbox answered."""

    method: str
    path: str
    status: int


@dataclass
class Fault:
    """A fault to inject into the next `times` requests of `method` under `path`.

    `kind`: "lost" (the remote acts on the request; its answer is replaced by a 502),
    "503" or "429" (refused with Retry-After before the remote acts), "stall" (no answer
    for `seconds`, then the request is dropped unanswered, not acted on).
    """

    method: str
    path: str
    kind: str
    times: int = 1
    seconds: float = 0.0
    body_contains: str | None = None
    hits: int = 0


class _CallRecorder:
    """ASGI middleware that appends a Call for every HTTP request, and injects faults."""

    def __init__(
        self, app: ASGIApp, calls: list[Call], lock: threading.RLock, faults: list[Fault]
    ) -> None:
        self.app = app
        self.calls = calls
        self.lock = lock
        self.faults = faults

    async def _fault(self, scope: Scope, receive: Receive) -> tuple[Fault | None, Receive]:
        """The fault for this request, if one is due, and a `receive` that replays the body."""
        with self.lock:
            candidates = [
                f
                for f in self.faults
                if f.times > 0 and f.method == scope["method"] and scope["path"].startswith(f.path)
            ]
        if not candidates:
            return None, receive
        chunks = []
        while True:
            message = await receive()
            chunks.append(message)
            if not message.get("more_body"):
                break
        body = b"".join(m.get("body", b"") for m in chunks)
        replay = iter(chunks)

        async def again() -> Message:
            return next(replay, {"type": "http.disconnect"})

        with self.lock:
            for fault in candidates:
                wanted = fault.body_contains
                if fault.times > 0 and (wanted is None or wanted.encode() in body):
                    fault.times -= 1
                    fault.hits += 1
                    return fault, again
        return None, again

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        fault, receive = await self._fault(scope, receive)
        if fault is not None:
            await self._injected(fault, scope, receive, send)
            return
        recorded = False

        def record(status: int) -> None:
            nonlocal recorded
            if not recorded:
                recorded = True
                with self.lock:
                    self.calls.append(Call(scope["method"], scope["path"], status))

        async def capture(message: Message) -> None:
            if message["type"] == "http.response.start":
                record(message["status"])  # before the client can see the answer
            await send(message)

        try:
            await self.app(scope, receive, capture)
        finally:
            record(500)

    async def _injected(self, fault: Fault, scope: Scope, receive: Receive, send: Send) -> None:
        status = {"lost": 502, "503": 503, "429": 429, "stall": 504}[fault.kind]
        if fault.kind == "lost":  # acted on; the caller never sees the answer

            async def discard(message: Message) -> None:
                return None

            await self.app(scope, receive, discard)
        elif fault.kind == "stall":
            await asyncio.sleep(fault.seconds)
        with self.lock:
            self.calls.append(Call(scope["method"], scope["path"], status))
        headers = [(b"content-type", b"text/plain")]
        if fault.kind in ("503", "429"):
            headers.append((b"retry-after", b"1"))
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": f"injected {fault.kind}".encode()})


class Sandbox:
    """A remote system emulated in memory behind a real HTTP server."""

    #: The plugin name this sandbox emulates (equals its `ihost.sandboxes` entry point).
    name = "sandbox"

    def __init__(self, *, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host = host
        self.port = port
        self.lock = threading.RLock()
        self.calls: list[Call] = []
        self.faults: list[Fault] = []
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._base_url: str | None = None

    # --- for subclasses -------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        """The Starlette routes of the emulated API."""
        raise NotImplementedError

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Load records of `kind` in the remote's native JSON shape."""
        raise NotImplementedError

    def dump(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` the sandbox holds, in the remote's native JSON shape."""
        raise NotImplementedError

    def connection_settings(self) -> dict[str, Any]:
        """Settings for the plugin's Settings model that point it at this sandbox."""
        raise NotImplementedError

    # --- lifecycle ------------------------------------------------------------------------

    def app(self) -> ASGIApp:
        # first: a sandbox's own catch-all route must not take the seed path
        routes = [Route(SEED_PATH + "/{kind}", self._seed_route, methods=["POST"]), *self.routes()]
        return _CallRecorder(Starlette(routes=routes), self.calls, self.lock, self.faults)

    async def _seed_route(self, request: Request) -> Response:
        """`POST /_sandbox/seed/{kind}` with a JSON list of records (or {"records": [...]}):
        the test-only way to seed a running sandbox over HTTP; 400 names what was refused."""
        kind = request.path_params["kind"]
        try:
            body = await request.json()
        except ValueError:
            return JSONResponse({"error": "the body is not JSON"}, status_code=400)
        records = body.get("records") if isinstance(body, dict) else body
        if not isinstance(records, list) or not all(isinstance(r, dict) for r in records):
            return JSONResponse(
                {"error": "the body must be a JSON list of records (objects)"}, status_code=400
            )
        try:
            self.seed(kind, records)
        except (ValueError, KeyError, TypeError) as exc:  # the message names kind and field
            return JSONResponse({"error": str(exc)}, status_code=400)
        return JSONResponse({"seeded": len(records)})

    def seed_file(self, path: Path) -> dict[str, int]:
        """Seed from a JSON file `{kind: [records], ...}` (`ihost sandbox X --seed FILE`);
        returns how many records of each kind; ValueError names what was refused."""
        try:
            content = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:
            raise ValueError(f"cannot read seed file {path}: {exc}") from None
        if not isinstance(content, dict) or not all(isinstance(v, list) for v in content.values()):
            raise ValueError(f"{path}: expected an object of kinds, each a list of records")
        for kind, records in content.items():
            try:
                self.seed(kind, records)
            except (ValueError, KeyError, TypeError) as exc:
                raise ValueError(f"{path}: {kind}: {exc}") from None
        return {kind: len(records) for kind, records in content.items()}

    def inject(
        self,
        method: str,
        path: str,
        kind: str,
        *,
        times: int = 1,
        seconds: float = 0.0,
        body_contains: str | None = None,
    ) -> Fault:
        """Make the next `times` `method` requests under `path` (whose body contains
        `body_contains`, if given) fail as `kind` (see Fault); returns the Fault, whose
        `hits` counts the requests it met."""
        if kind not in ("lost", "503", "429", "stall"):
            raise ValueError(f"unknown fault {kind!r}")
        fault = Fault(method.upper(), path, kind, times, seconds, body_contains)
        with self.lock:
            self.faults.append(fault)
        return fault

    @property
    def base_url(self) -> str:
        if self._base_url is None:
            raise RuntimeError(f"{type(self).__name__} is not started")
        return self._base_url

    def start(self) -> str:
        """Start serving; returns the base URL (http://127.0.0.1:PORT)."""
        if self._base_url is not None:
            return self._base_url
        sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        # uvicorn writes a response's headers and body apart: without TCP_NODELAY (inherited by
        # accepted sockets) the body waits 40 ms for the client's delayed ACK
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        sock.bind((self.host, self.port))
        config = uvicorn.Config(self.app(), log_level="warning", access_log=False, lifespan="off")
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"sandbox-{self.name}",
            daemon=True,
        )
        self._thread.start()
        deadline = time.monotonic() + 15
        while not self._server.started:
            if not self._thread.is_alive() or time.monotonic() > deadline:
                sock.close()
                raise RuntimeError(f"sandbox {self.name} did not start")
            time.sleep(0.01)
        host, port = sock.getsockname()[:2]
        self.port = port
        self._base_url = f"http://{host}:{port}"
        return self._base_url

    def stop(self) -> None:
        """Stop serving; safe to call twice."""
        if self._server is not None and self._thread is not None:
            self._server.should_exit = True
            self._thread.join(timeout=10)
        self._server = self._thread = None
        self._base_url = None

    def __enter__(self: _S) -> _S:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def calls_to(self, path_prefix: str, method: str | None = None) -> list[Call]:
        """The calls answered under `path_prefix` (optionally of one method)."""
        with self.lock:
            return [
                c
                for c in self.calls
                if c.path.startswith(path_prefix) and (method is None or c.method == method)
            ]
