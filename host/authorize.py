"""`ihost auth CONNECTION`: a connection's OAuth2 authorization-code flow, from a terminal.

ihost prints the remote's authorize URL (with a random `state` and, when the connector
asks for it, a PKCE S256 challenge), listens on 127.0.0.1 for the redirect the remote
sends the browser back with, checks the state, exchanges the code for tokens, and stores
them, encrypted, in the connection's token vault (host.tokens).

A remote that sends the browser only to an HTTPS redirect URI (Lightspeed's rule) cannot
reach a listener on 127.0.0.1: with `paste`, ihost asks for the address the browser was
sent to instead (`ihost auth CONNECTION --paste`); the page itself need not load.
"""

from __future__ import annotations

import secrets
import time
import webbrowser
from collections.abc import Callable, Mapping
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

    def handle_error(self, request: object, client_address: object) -> None:
        # a client that drops its connection (a closed tab) is no error of ihost's: no
        # traceback on the terminal; the wait goes on
        return


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
            host, port, path = _loopback(redirect_uri)
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
        return code_of(self._server.received, state, connection)


def _loopback(redirect_uri: str) -> tuple[str, int, str]:
    """The host, port and path of `redirect_uri`; ConfigError when `ihost auth` cannot
    listen there."""
    try:
        parts = urlsplit(redirect_uri)
        port = parts.port
    except ValueError:  # a port out of range or not a number, a broken IPv6 address
        port = None
    if not port or parts.scheme != "http" or parts.hostname not in LOOPBACK_NAMES:
        raise ConfigError(
            f"redirect URI {redirect_uri} cannot reach `ihost auth`: it must be "
            "http://127.0.0.1:PORT/PATH or http://localhost:PORT/PATH, or use "
            "`ihost auth --paste`"
        )
    return str(parts.hostname), port, parts.path or "/"


def code_of(params: Mapping[str, str], state: str, connection: str) -> str:
    """The code of a redirect's query `params`, when its state is `state`; AuthError when
    the state differs, the remote refused, or no code came."""
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


def _pasted(address: str, redirect_uri: str, connection: str) -> dict[str, str]:
    """The query of the address the user pasted, which must be the redirect URI's."""
    address = address.strip()
    parts, expected = urlsplit(address), urlsplit(redirect_uri)
    if parts._replace(query="", fragment="") != expected._replace(query="", fragment=""):
        raise AuthError(
            f"{connection}: that is not an address at the redirect URI {redirect_uri}; "
            f"run `ihost auth {connection} --paste` again and paste the whole address"
        )
    return dict(parse_qsl(parts.query))


def authorize(
    flow: OAuth2AuthorizationCode,
    connection: str,
    *,
    say: Callable[[str], None],
    timeout: float,
    open_browser: bool = False,
    paste: Callable[[], str] | None = None,
) -> None:
    """Run the authorization of `connection` through `flow`, talking to the user with `say`.
    Stores the tokens in the flow's vault. With `paste` (which reads one line from the
    user), the code comes from the redirected address the user pastes, not from a
    listener on 127.0.0.1; the connection's registered redirect URI is then required."""
    if flow.vault is None:
        raise ConfigError(
            f"{connection}: its connector keeps no tokens (it must build its "
            "OAuth2AuthorizationCode with vault=context.tokens)"
        )
    flow.vault.check_key()
    if paste is not None and flow.redirect_uri is None:
        raise ConfigError(
            f"{connection}: --paste needs the redirect URI registered with the remote "
            "(the connection's redirect_uri setting)"
        )
    receiver = None if paste is not None else RedirectReceiver(flow.redirect_uri)
    redirect_uri = receiver.redirect_uri if receiver is not None else str(flow.redirect_uri)
    try:
        state = secrets.token_urlsafe(24)
        verifier, challenge = pkce_pair() if flow.pkce else (None, None)
        url = flow.authorization_url(redirect_uri, state, challenge)
        say(f"Open this URL in a browser and allow ihost access for {connection}:")
        say("")
        say(f"  {url}")
        say("")
        if open_browser:
            webbrowser.open(url)
        if receiver is None:
            assert paste is not None
            say(f"Then paste the address the browser was sent to ({redirect_uri}?code=...):")
            code = code_of(_pasted(paste(), redirect_uri, connection), state, connection)
        else:
            say(f"Waiting up to {timeout:g} s for the redirect to {redirect_uri} ...")
            code = receiver.wait(state, timeout, connection)
    finally:
        if receiver is not None:
            receiver.close()
    flow.exchange(code, redirect_uri, verifier)


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
