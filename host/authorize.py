"""`ihost auth CONNECTION`: a connection's OAuth2 authorization-code flow, from a terminal.

ihost prints the remote's authorize URL (with a random `state` and, when the connector
asks for it, a PKCE S256 challenge), listens on 127.0.0.1 for the redirect the remote
sends the browser back with, checks the state, exchanges the code for tokens, and stores
them, encrypted, in the connection's token vault (host.tokens).
"""

from __future__ import annotations

import secrets
import time
import webbrowser
from collections.abc import Callable
from html import escape
from http.server import BaseHTTPRequestHandler, HTTPServer
from urllib.parse import parse_qsl, urlsplit

import httpx

from host.auth import OAuth2AuthorizationCode, pkce_pair
from host.errors import AuthError, ConfigError

CALLBACK_PATH = "/callback"
LOOPBACK_NAMES = ("127.0.0.1", "localhost")


class _Server(HTTPServer):
    path: str
    received: dict[str, str] | None = None


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    timeout = 10  # a browser's idle preconnection must not hold the one-request server

    def do_GET(self) -> None:
        parts = urlsplit(self.path)
        if parts.path != self.server.path:
            self._answer(404, "Not the authorization redirect.")
            return
        self.server.received = dict(parse_qsl(parts.query))
        self._answer(200, "ihost received the authorization: the terminal says how it went.")

    def _answer(self, status: int, text: str) -> None:
        page = f"<!doctype html><title>ihost</title><p>{escape(text)}</p>".encode()
        self.send_response(status)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(page)))
        self.end_headers()
        self.wfile.write(page)

    def log_message(self, format: str, *args: object) -> None:  # the line holds the code
        return


class RedirectReceiver:
    """Waits on 127.0.0.1 for one authorization redirect.

    `redirect_uri` is the one registered with the remote: ihost listens on its port and
    path (it must be http on 127.0.0.1 or localhost). None: a free port, path /callback.
    """

    def __init__(self, redirect_uri: str | None) -> None:
        if redirect_uri is None:
            host, port, path = "127.0.0.1", 0, CALLBACK_PATH
        else:
            parts = urlsplit(redirect_uri)
            if parts.scheme != "http" or parts.hostname not in LOOPBACK_NAMES or not parts.port:
                raise ConfigError(
                    f"redirect URI {redirect_uri} cannot reach `ihost auth`: it must be "
                    "http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH"
                )
            host, port, path = parts.hostname, parts.port, parts.path or "/"
        try:
            self._server = _Server(("127.0.0.1", port), _Handler)
        except OSError as exc:
            why = (exc.strerror or str(exc)).lower()
            raise ConfigError(
                f"cannot listen on 127.0.0.1:{port} for the redirect: {why}"
            ) from None
        self._server.path = path
        self.redirect_uri = redirect_uri or f"http://{host}:{self._server.server_port}{path}"

    def close(self) -> None:
        self._server.server_close()

    def wait(self, state: str, timeout: float, connection: str) -> str:
        """The code of the redirect that comes back with `state` within `timeout` seconds;
        AuthError when none does, the state differs or the remote refused."""
        deadline = time.monotonic() + timeout
        while self._server.received is None:
            left = deadline - time.monotonic()
            if left <= 0:
                raise AuthError(
                    f"{connection}: no authorization came back within {timeout:g} s; "
                    f"run `ihost auth {connection}` again"
                )
            self._server.timeout = left
            self._server.handle_request()
        params = self._server.received
        if not secrets.compare_digest(params.get("state", "").encode(), state.encode()):
            raise AuthError(
                f"{connection}: the redirect's state is not the one ihost sent (a stale or "
                f"forged redirect); run `ihost auth {connection}` again"
            )
        if "error" in params:
            words = ": ".join(p for p in (params["error"], params.get("error_description")) if p)
            raise AuthError(f"{connection}: the remote did not authorize ihost ({words})")
        code = params.get("code")
        if not code:
            raise AuthError(f"{connection}: the redirect carries no code")
        return code


def authorize(
    flow: OAuth2AuthorizationCode,
    connection: str,
    *,
    say: Callable[[str], None],
    timeout: float,
    open_browser: bool = False,
) -> None:
    """Run the authorization of `connection` through `flow`, talking to the user with `say`.
    Stores the tokens in the flow's vault."""
    if flow.vault is None:
        raise ConfigError(
            f"{connection}: its connector keeps no tokens (it must build its "
            "OAuth2AuthorizationCode with vault=context.tokens)"
        )
    flow.vault.check_key()
    receiver = RedirectReceiver(flow.redirect_uri)
    try:
        state = secrets.token_urlsafe(24)
        verifier, challenge = pkce_pair() if flow.pkce else (None, None)
        url = flow.authorization_url(receiver.redirect_uri, state, challenge)
        say(f"Open this URL in a browser and allow ihost access for {connection}:")
        say("")
        say(f"  {url}")
        say("")
        say(f"Waiting up to {timeout:g} s for the redirect to {receiver.redirect_uri} ...")
        if open_browser:
            webbrowser.open(url)
        code = receiver.wait(state, timeout, connection)
    finally:
        receiver.close()
    flow.exchange(code, receiver.redirect_uri, verifier)


def authorize_at_sandbox(flow: OAuth2AuthorizationCode) -> None:
    """Authorize `flow` against a sandbox (host.sandbox_oauth), whose authorize endpoint
    allows at once: follow the authorize URL without a browser and exchange the code. For
    tests and the contract kit; AuthError when the sandbox does not redirect with a code."""
    redirect_uri = flow.redirect_uri or f"http://127.0.0.1:9{CALLBACK_PATH}"
    state = secrets.token_urlsafe(16)
    verifier, challenge = pkce_pair() if flow.pkce else (None, None)
    answer = httpx.get(flow.authorization_url(redirect_uri, state, challenge), timeout=30)
    params = dict(parse_qsl(urlsplit(answer.headers.get("location", "")).query))
    if answer.status_code != 302 or params.get("state") != state or not params.get("code"):
        why = params.get("error") or answer.text[:200]
        raise AuthError(f"the sandbox did not authorize ({answer.status_code}): {why}")
    flow.exchange(params["code"], redirect_uri, verifier)
