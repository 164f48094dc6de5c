"""The authenticators of host.auth against sandboxes on 127.0.0.1: what each one sends,
that no secret reaches a log line or an error, and OAuth2 authorization code with rotating
refresh tokens kept in a real store (host.tokens)."""

from __future__ import annotations

import base64
import dataclasses
import logging
import re
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from urllib.parse import parse_qs, parse_qsl, urlencode, urlsplit

import httpx
import pytest
import sqlalchemy as sa
from cryptography.fernet import Fernet
from helpers import write_config
from ihost_testconnectors.plugin import OAuthErpPlugin
from ihost_testconnectors.sandbox import OAuthRecordSandbox
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

import host.store
from host.auth import (
    ApiKeyHeader,
    ApiKeyQuery,
    Basic,
    BasicWithBodyKey,
    Bearer,
    OAuth2ClientCredentials,
    TokenLogin,
    Tokens,
)
from host.authorize import RedirectReceiver, authorize, authorize_at_sandbox
from host.config import Config, load_config
from host.errors import AuthError, ConfigError
from host.http import HttpClient
from host.ledger import Ledger
from host.plugins import Connection, PluginInfo, discover
from host.sandbox import Sandbox
from host.sandbox_oauth import LIGHTSPEED, OAuth2Server
from host.secrets import RedactingFormatter
from host.store import Store, normalise_url
from host.store.schema import SCHEMA_VERSION
from host.tokens import KEY_VARIABLE, TokensChanged, TokenVault

KEY = "ihost-api-key-0123456789"
PASSWORD = "login-password-0042"
CC_SECRET = "client-credentials-secret-7788"


def hidden(text: str, *secrets: str | None) -> bool:
    """Whether none of `secrets` appears in `text`, as given or base64-encoded."""
    for secret in filter(None, secrets):
        if secret in text or base64.b64encode(secret.encode()).decode()[:12] in text:
            return False
    return True


def log_text(caplog: pytest.LogCaptureFixture) -> str:
    """Every log line as the CLI prints it (through its redacting formatter; httpx's own
    lines too, which show whole URLs), and the host's own lines as they were written."""
    printed = RedactingFormatter()
    lines = [printed.format(record) for record in caplog.records]
    lines += [r.getMessage() for r in caplog.records if r.name.startswith("host")]
    return "\n".join(lines)


class EchoSandbox(Sandbox):
    """Shows what a client sent (/echo), refuses repeating it (/refuse, as some APIs do),
    logs in for a token (/login, /session) and grants client credentials (/cc)."""

    name = "echo"

    def __init__(self) -> None:
        super().__init__()
        self.logins = 0
        self.sessions: set[str] = set()
        self.oauth = OAuth2Server(
            LIGHTSPEED,
            client_id="cc-client",
            client_secret=CC_SECRET,
            grants=("client_credentials",),
        )

    def routes(self) -> list[BaseRoute]:
        return [
            *self.oauth.routes(),
            Route("/echo", self._echo, methods=["GET", "POST"]),
            Route("/refuse", self._refuse, methods=["GET", "POST"]),
            Route("/login", self._login, methods=["POST"]),
            Route("/session", self._session),
            Route("/cc", self._cc),
        ]

    async def _echo(self, request: Request) -> Response:
        return JSONResponse(
            {
                "headers": dict(request.headers),
                "query": dict(request.query_params),
                "body": (await request.body()).decode(),
            }
        )

    async def _refuse(self, request: Request) -> Response:
        said = (
            f"{request.headers.get('authorization')} {request.url.query} {await request.body()!r}"
        )
        return JSONResponse({"error": f"not allowed: {said}"}, status_code=401)

    async def _login(self, request: Request) -> Response:
        body = await request.json()
        if body != {"authCode": "feeddex-user", "organization": "Acme", "password": PASSWORD}:
            return JSONResponse({"error": f"wrong credentials {body}"}, status_code=401)
        with self.lock:
            self.logins += 1
            session = f"session-token-{self.logins:04d}"
            self.sessions.add(session)
        return JSONResponse({"token": session})

    async def _session(self, request: Request) -> Response:
        scheme, _, session = request.headers.get("authorization", "").partition(" ")
        if scheme != "Bearer" or session not in self.sessions:
            return JSONResponse({"error": "log in first"}, status_code=401)
        return JSONResponse({"ok": True})

    async def _cc(self, request: Request) -> Response:
        return self.oauth.check_bearer(request) or JSONResponse({"ok": True})


@pytest.fixture
def echo() -> Iterator[EchoSandbox]:
    with EchoSandbox() as running:
        yield running


@pytest.fixture
def debug_log(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.DEBUG)
    return caplog


def client(sandbox: Sandbox, auth: httpx.Auth) -> HttpClient:
    return HttpClient(sandbox.base_url, auth=auth, retries=2, max_backoff=0.1)


# --- static credentials -------------------------------------------------------------------


def test_api_key_header_sends_the_key_and_hides_it(
    echo: EchoSandbox, debug_log: pytest.LogCaptureFixture
) -> None:
    with client(echo, ApiKeyHeader("X-Shopify-Access-Token", KEY)) as http:
        seen = http.get("/echo").json()
        assert seen["headers"]["x-shopify-access-token"] == KEY
        with pytest.raises(AuthError) as refused:
            http.get("/refuse")
    assert "not allowed" in str(refused.value)
    assert hidden(str(refused.value), KEY) and hidden(log_text(debug_log), KEY)


def test_api_key_header_with_a_prefix_makes_afas_token(echo: EchoSandbox) -> None:
    token = base64.b64encode(b"<token><version>1</version><data>ABC123456</data></token>")
    with client(echo, ApiKeyHeader("Authorization", token.decode(), prefix="AfasToken")) as http:
        assert http.get("/echo").json()["headers"]["authorization"] == f"AfasToken {token.decode()}"
        with pytest.raises(AuthError) as refused:
            http.post("/refuse", json={})
    assert hidden(str(refused.value), token.decode())


def test_bearer(echo: EchoSandbox, debug_log: pytest.LogCaptureFixture) -> None:
    with client(echo, Bearer(KEY)) as http:
        assert http.get("/echo").json()["headers"]["authorization"] == f"Bearer {KEY}"
        with pytest.raises(AuthError) as refused:
            http.get("/refuse")
    assert hidden(str(refused.value), KEY) and hidden(log_text(debug_log), KEY)


def test_api_key_query(echo: EchoSandbox, debug_log: pytest.LogCaptureFixture) -> None:
    with client(echo, ApiKeyQuery("apikey", KEY)) as http:
        assert http.get("/echo", params={"page": 2}).json()["query"] == {"page": "2", "apikey": KEY}
        with pytest.raises(AuthError) as refused:
            http.get("/refuse", params={"page": 2})
    assert hidden(str(refused.value), KEY) and hidden(log_text(debug_log), KEY)
    assert "page=2" in log_text(debug_log)


def test_basic_sends_the_user_and_password_and_hides_them(
    echo: EchoSandbox, debug_log: pytest.LogCaptureFixture
) -> None:
    user = "merchant-api-user-7"
    expected = "Basic " + base64.b64encode(f"{user}:{PASSWORD}".encode()).decode()
    with client(echo, Basic(user, PASSWORD)) as http:
        assert http.get("/echo").json()["headers"]["authorization"] == expected
        with pytest.raises(AuthError) as refused:
            http.get("/refuse")  # the remote repeats the header in its error
    assert hidden(str(refused.value), PASSWORD, f"{user}:{PASSWORD}")
    assert hidden(log_text(debug_log), PASSWORD)


def test_basic_with_the_key_in_every_json_body(
    echo: EchoSandbox, debug_log: pytest.LogCaptureFixture
) -> None:
    auth = BasicWithBodyKey("bhb-client", PASSWORD, "api_key", KEY)
    expected = "Basic " + base64.b64encode(f"bhb-client:{PASSWORD}".encode()).decode()
    with client(echo, auth) as http:
        seen = http.post("/echo", json={"date_from": "2024-01-01"}).json()
        assert seen["headers"]["authorization"] == expected
        assert httpx.Response(200, content=seen["body"]).json() == {
            "date_from": "2024-01-01",
            "api_key": KEY,
        }
        assert http.post("/echo").json()["body"] == f'{{"api_key":"{KEY}"}}'
        bare = http.get("/echo").json()
        assert bare["body"] == "" and bare["headers"]["authorization"] == expected
        with pytest.raises(ValueError, match="JSON body"):
            http.post("/echo", data={"form": "field"})
        with pytest.raises(AuthError) as refused:
            http.post("/refuse", json={"list": [1]})
    assert hidden(str(refused.value), KEY, PASSWORD)
    assert hidden(log_text(debug_log), KEY, PASSWORD)


# --- tokens the authenticator obtains -----------------------------------------------------


def test_token_login_logs_in_once_and_again_once_when_refused(
    echo: EchoSandbox, debug_log: pytest.LogCaptureFixture
) -> None:
    credentials = {"authCode": "feeddex-user", "organization": "Acme", "password": PASSWORD}
    login = TokenLogin(echo.base_url + "/login", credentials)
    with client(echo, login) as http:
        assert http.get("/session").json() == {"ok": True}
        assert http.get("/session").json() == {"ok": True}
        assert echo.logins == 1
        echo.sessions.clear()  # the remote ended the session
        assert http.get("/session").json() == {"ok": True}
        assert echo.logins == 2
    login.close()
    assert hidden(log_text(debug_log), PASSWORD, "session-token-0001", "session-token-0002")


def test_token_login_refused(echo: EchoSandbox) -> None:
    wrong = {"authCode": "feeddex-user", "organization": "Acme", "password": "wrong-password-77"}
    login = TokenLogin(echo.base_url + "/login", wrong)
    with client(echo, login) as http, pytest.raises(AuthError) as refused:
        http.get("/session")
    assert "wrong credentials" in str(refused.value)
    assert hidden(str(refused.value), "wrong-password-77")


def test_token_login_logs_in_again_only_once(echo: EchoSandbox) -> None:
    credentials = {"authCode": "feeddex-user", "organization": "Acme", "password": PASSWORD}
    login = TokenLogin(echo.base_url + "/login", credentials)
    with client(echo, login) as http, pytest.raises(AuthError):
        http.get("/refuse")
    assert echo.logins == 2


def test_client_credentials_are_cached_until_shortly_before_they_expire(
    echo: EchoSandbox, debug_log: pytest.LogCaptureFixture
) -> None:
    auth = OAuth2ClientCredentials(
        echo.base_url + LIGHTSPEED.token_path, "cc-client", CC_SECRET, scope="read"
    )
    token_calls = lambda: len(echo.calls_to(LIGHTSPEED.token_path))  # noqa: E731
    with client(echo, auth) as http:
        for _ in range(3):
            assert http.get("/cc").json() == {"ok": True}
        assert token_calls() == 1
        echo.oauth.expire_access_tokens()  # refused once: fetched again, once
        assert http.get("/cc").json() == {"ok": True}
        assert token_calls() == 2
        assert [c.status for c in echo.calls_to("/cc")] == [200, 200, 200, 401, 200]
        echo.oauth.access_ttl = 30  # less than refresh_before: each request needs a new one
        echo.oauth.expire_access_tokens()
        http.get("/cc")
        http.get("/cc")
        http.get("/cc")
        assert token_calls() == 5
    auth.close()
    assert hidden(log_text(debug_log), CC_SECRET)


def test_client_credentials_refused(echo: EchoSandbox) -> None:
    auth = OAuth2ClientCredentials(
        echo.base_url + LIGHTSPEED.token_path, "cc-client", "not-the-secret-123"
    )
    with client(echo, auth) as http, pytest.raises(AuthError) as refused:
        http.get("/cc")
    message = str(refused.value)
    assert "invalid_client" in message and "Client authentication failed" in message
    assert "check the client id and secret" in message
    assert hidden(message, "not-the-secret-123")


# --- OAuth2 authorization code with tokens in the store -----------------------------------


@pytest.fixture
def key(monkeypatch: pytest.MonkeyPatch) -> str:
    value = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_VARIABLE, value)
    return value


@pytest.fixture
def erp() -> Iterator[OAuthRecordSandbox]:
    with OAuthRecordSandbox() as running:
        yield running


@pytest.fixture
def config(tmp_path: Path, erp: OAuthRecordSandbox) -> Config:
    return load_config(write_config(tmp_path, {"erp": ("testoauth", erp)}, ""), discover())


@pytest.fixture
def vault(config: Config) -> TokenVault:
    return TokenVault(config.store_url, "erp")


@pytest.fixture
def config_with_key(config: Config, key: str) -> Config:
    """The config, IHOST_SECRET_KEY set."""
    return config


@pytest.fixture
def authorized(config: Config, key: str) -> Config:
    """The config, its connection `erp` authorized as `ihost auth` would."""
    with config.connect("erp", discover()) as conn:
        authorize_at_sandbox(conn.hook.oauth2_flow())
    return config


def check(config: Config) -> None:
    """`ihost check erp`, in this process: a new Connection, as a new process has."""
    with config.connect("erp", discover()) as conn:
        conn.hook.check_connection()


def stored(vault: TokenVault) -> Tokens:
    found = vault.read()
    assert found is not None
    return found.tokens


def test_the_store_keeps_no_token_in_clear_text(
    authorized: Config, vault: TokenVault, tmp_path: Path
) -> None:
    check(authorized)
    tokens = stored(vault)
    files = [p for p in tmp_path.iterdir() if p.name.startswith("ihost.db")]
    raw = b"".join(p.read_bytes() for p in files)
    assert tokens.access_token.encode() not in raw
    assert tokens.refresh_token and tokens.refresh_token.encode() not in raw
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        [(sealed,)] = db.execute("SELECT sealed FROM oauth_tokens WHERE connection = 'erp'")
    assert sealed.startswith("gAAAA")  # a Fernet token


def test_an_expired_access_token_is_refreshed_once_and_the_chain_rotates(
    authorized: Config, vault: TokenVault, erp: OAuthRecordSandbox
) -> None:
    before = vault.read()
    assert before is not None and before.version == 1
    erp.oauth.expire_access_tokens()
    check(authorized)
    after = vault.read()
    assert after is not None and after.version == 2
    assert erp.oauth.refreshes == 1
    assert [c.status for c in erp.calls_to("/api/ping")] == [401, 200]
    old, new = before.tokens.refresh_token, after.tokens.refresh_token
    assert old and new and new != old
    # the new access token was used: the sandbox refuses the old refresh token
    refused = httpx.post(
        erp.base_url + LIGHTSPEED.token_path,
        data={
            "grant_type": "refresh_token",
            "refresh_token": old,
            "client_id": erp.client_id,
            "client_secret": erp.client_secret,
        },
    )
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    check(authorized)
    assert erp.oauth.refreshes == 1  # the stored access token is still good


def test_tokens_about_to_expire_are_refreshed_before_they_are_used(
    authorized: Config, vault: TokenVault, erp: OAuthRecordSandbox
) -> None:
    found = vault.read()
    assert found is not None
    soon = dataclasses.replace(found.tokens, expires_at=time.time() + 30)
    vault.write(soon, expected_version=found.version)
    check(authorized)
    assert erp.oauth.refreshes == 1
    assert [c.status for c in erp.calls_to("/api/ping")] == [200]
    assert stored(vault).refresh_token != found.tokens.refresh_token


def test_a_refresh_whose_answer_was_lost_is_asked_again_with_the_same_token(
    authorized: Config, vault: TokenVault, erp: OAuthRecordSandbox
) -> None:
    lost = erp.inject("POST", LIGHTSPEED.token_path, "lost")
    erp.oauth.expire_access_tokens()
    check(authorized)
    assert lost.hits == 1
    assert erp.oauth.refreshes == 2  # the sandbox rotated twice; the client kept the second
    tokens = stored(vault)
    assert tokens.refresh_token and erp.oauth.refresh_token_valid(tokens.refresh_token)
    erp.oauth.expire_access_tokens()  # the chain goes on
    check(authorized)
    assert erp.oauth.refreshes == 3


def test_a_refused_refresh_says_to_authorize_again(
    authorized: Config, vault: TokenVault, erp: OAuthRecordSandbox
) -> None:
    vault.write(Tokens("dead-access-token-01", "revoked-refresh-token-01", expires_at=1.0))
    with pytest.raises(AuthError) as refused:
        check(authorized)
    message = str(refused.value)
    assert "invalid_grant" in message and "Token has been revoked" in message
    assert "run `ihost auth erp`" in message
    assert hidden(message, "revoked-refresh-token-01", erp.client_secret)


def test_a_connection_not_yet_authorized(config: Config, key: str) -> None:
    with pytest.raises(AuthError, match=r"erp is not authorized yet: run `ihost auth erp`"):
        check(config)


def test_the_key_is_needed_to_read_the_tokens(
    authorized: Config, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv(KEY_VARIABLE)
    with pytest.raises(ConfigError, match=r"IHOST_SECRET_KEY is not set.*ihost auth --new-key"):
        check(authorized)
    monkeypatch.setenv(KEY_VARIABLE, "too-short")
    with pytest.raises(ConfigError, match="IHOST_SECRET_KEY is not a key") as malformed:
        check(authorized)
    assert "too-short" not in str(malformed.value)
    monkeypatch.setenv(KEY_VARIABLE, Fernet.generate_key().decode())
    with pytest.raises(ConfigError, match=r"stored under another key.*`ihost auth erp`"):
        check(authorized)


def test_no_token_or_secret_reaches_the_log(
    authorized: Config,
    vault: TokenVault,
    erp: OAuthRecordSandbox,
    debug_log: pytest.LogCaptureFixture,
) -> None:
    first = stored(vault)
    erp.oauth.expire_access_tokens()
    check(authorized)
    second = stored(vault)
    assert "refreshed the OAuth2 tokens" in log_text(debug_log)
    assert hidden(
        log_text(debug_log),
        first.access_token,
        first.refresh_token,
        second.access_token,
        second.refresh_token,
        erp.client_secret,
    )
    assert hidden(repr(second), second.access_token, second.refresh_token)


def test_without_a_vault_the_tokens_live_in_memory(erp: OAuthRecordSandbox) -> None:
    info = PluginInfo(name="testoauth", cls=OAuthErpPlugin)
    settings = OAuthErpPlugin.Settings.model_validate(erp.connection_settings())
    with Connection("kit", info, settings) as conn:
        with pytest.raises(AuthError, match="not authorized yet"):
            conn.hook.check_connection()
        authorize_at_sandbox(conn.hook.oauth2_flow())
        conn.hook.check_connection()
        erp.oauth.expire_access_tokens()
        conn.hook.check_connection()
    assert erp.oauth.refreshes == 1


# --- the authorization, as `ihost auth` runs it ---------------------------------------------


class Authorizing(threading.Thread):
    """host.authorize.authorize() of connection erp in a thread, as `ihost auth erp` runs it;
    the test plays the browser."""

    def __init__(self, config: Config, timeout: float = 60.0) -> None:
        super().__init__(daemon=True)
        self.config = config
        self.timeout = timeout
        self.lines: list[str] = []
        self.error: Exception | None = None
        self.start()

    def run(self) -> None:
        try:
            with self.config.connect("erp", discover()) as conn:
                authorize(
                    conn.hook.oauth2_flow(), "erp", say=self.lines.append, timeout=self.timeout
                )
        except Exception as exc:
            self.error = exc

    def url(self) -> str:
        deadline = time.monotonic() + 60
        while not any(line.startswith("  http") for line in self.lines):
            assert self.is_alive() and time.monotonic() < deadline, self.error
            time.sleep(0.01)
        return next(line for line in self.lines if line.startswith("  http")).strip()

    def outcome(self) -> Exception | None:
        self.join(60)
        assert not self.is_alive()
        return self.error


def redirect_of(url: str) -> str:
    answer = httpx.get(url)
    assert answer.status_code == 302, answer.text
    return answer.headers["location"]


def test_a_redirect_with_another_state_is_refused(
    config_with_key: Config, vault: TokenVault
) -> None:
    flow = Authorizing(config_with_key)
    location = redirect_of(flow.url())
    parts = urlsplit(location)
    forged = {**dict(parse_qsl(parts.query)), "state": "forged-state"}
    httpx.get(parts._replace(query=urlencode(forged)).geturl())
    error = flow.outcome()
    assert isinstance(error, AuthError) and "state is not the one ihost sent" in str(error)
    assert vault.read() is None


def test_a_refused_authorization(config_with_key: Config, erp: OAuthRecordSandbox) -> None:
    erp.oauth.deny_next_authorization()
    flow = Authorizing(config_with_key)
    httpx.get(redirect_of(flow.url()))
    error = flow.outcome()
    assert str(error) == "erp: the remote did not authorize ihost (access_denied)"


def test_the_registered_redirect_uri_is_listened_on(
    tmp_path: Path, erp: OAuthRecordSandbox, key: str, vault: TokenVault
) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    redirect = f"http://localhost:{port}/ihost/back"
    path = write_config(tmp_path, {"erp": ("testoauth", erp)}, "")
    path.write_text(path.read_text() + f'redirect_uri = "{redirect}"\n')
    flow = Authorizing(load_config(path, discover()))
    url = flow.url()
    assert parse_qs(urlsplit(url).query)["redirect_uri"] == [redirect]
    location = redirect_of(url)
    assert location.startswith(redirect + "?")
    assert httpx.get(f"http://127.0.0.1:{port}/favicon.ico").status_code == 404  # waits on
    assert httpx.get(location).status_code == 200
    assert flow.outcome() is None
    assert vault.read() is not None


def test_an_https_redirect_uri_is_pasted(
    tmp_path: Path, erp: OAuthRecordSandbox, key: str, vault: TokenVault
) -> None:
    """Lightspeed registers only HTTPS redirect URIs, which no listener on 127.0.0.1 gets:
    the user pastes the address the browser was sent to (`ihost auth erp --paste`)."""
    redirect = "https://merchant.example/ihost/callback"
    erp.oauth.redirect_uri = redirect
    path = write_config(tmp_path, {"erp": ("testoauth", erp)}, "")
    path.write_text(path.read_text() + f'redirect_uri = "{redirect}"\n')
    config = load_config(path, discover())
    lines: list[str] = []
    pasted: list[str] = []

    def paste() -> str:  # the user follows the URL, and pastes where the browser landed
        url = next(line for line in lines if line.startswith("  http")).strip()
        pasted.append(redirect_of(url))
        return pasted[-1] + "\n"

    def run(answer: Callable[[], str]) -> None:
        with config.connect("erp", discover()) as conn:
            authorize(conn.hook.oauth2_flow(), "erp", say=lines.append, timeout=5, paste=answer)

    with pytest.raises(AuthError, match="not an address at the redirect URI"):
        run(lambda: "https://elsewhere.example/ihost/callback?code=x&state=y")
    assert vault.read() is None
    lines.clear()
    run(paste)
    assert pasted[0].startswith(redirect + "?")
    assert any("paste the address the browser was sent to" in line for line in lines)
    assert vault.read() is not None
    with config.connect("erp", discover()) as conn:
        conn.hook.check_connection()


def test_paste_needs_the_registered_redirect_uri(config_with_key: Config) -> None:
    with (
        config_with_key.connect("erp", discover()) as conn,
        pytest.raises(ConfigError, match="--paste needs the redirect URI"),
    ):
        authorize(conn.hook.oauth2_flow(), "erp", say=print, timeout=5, paste=lambda: "")


@pytest.mark.parametrize(
    ("redirect", "problem"),
    [
        ("https://example.com/callback", "must be http://127.0.0.1:PORT/PATH"),
        ("http://127.0.0.1/callback", "must be http://127.0.0.1:PORT/PATH"),
        ("http://127.0.0.1:{busy}/callback", "cannot listen on 127.0.0.1:{busy}"),
    ],
)
def test_a_redirect_uri_ihost_cannot_listen_on(redirect: str, problem: str) -> None:
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", 0))
        busy.listen()
        port = busy.getsockname()[1]
        with pytest.raises(ConfigError, match=re.escape(problem.format(busy=port))):
            RedirectReceiver(redirect.format(busy=port))


# --- the vault on both stores -------------------------------------------------------------


def test_writes_compare_and_swap(store_url: str) -> None:
    environ = {KEY_VARIABLE: Fernet.generate_key().decode()}
    vault = TokenVault(store_url, "shop", environ=environ)
    assert vault.read() is None
    assert vault.write(Tokens("access-1", "refresh-1")) == 1
    assert vault.write(Tokens("access-2", "refresh-2"), expected_version=1) == 2
    with pytest.raises(TokensChanged):
        vault.write(Tokens("access-3", "refresh-3"), expected_version=1)
    found = vault.read()
    assert found is not None and found.version == 2
    assert (found.tokens.access_token, found.tokens.refresh_token) == ("access-2", "refresh-2")
    assert TokenVault(store_url, "other", environ=environ).read() is None


def test_one_holder_of_the_lock_at_a_time(store_url: str) -> None:
    vault = TokenVault(store_url, "shop")
    order: list[str] = []
    holding = threading.Event()

    def second() -> None:
        holding.wait()
        with vault.locked():
            order.append("second")

    thread = threading.Thread(target=second)
    thread.start()
    with vault.locked():
        holding.set()
        time.sleep(0.3)  # room for the other thread to take the lock, were it free
        order.append("first")
    thread.join()
    assert order == ["first", "second"]


def test_a_store_of_schema_3_gets_the_tokens_and_ledger_tables(store_url: str) -> None:
    url = normalise_url(store_url)
    Store(url).close()
    engine = sa.create_engine(url)
    with engine.begin() as db:  # as schema 3 left it
        db.execute(sa.text("DROP TABLE oauth_tokens"))
        db.execute(sa.text("DROP TABLE ledger"))
        db.execute(sa.text("UPDATE meta SET value = '3' WHERE name = 'schema'"))
    engine.dispose()
    host.store._READY.discard(url)
    vault = TokenVault(url, "shop", environ={KEY_VARIABLE: Fernet.generate_key().decode()})
    assert vault.write(Tokens("access-1", "refresh-1")) == 1
    with Store(url) as store, store.engine.connect() as db:
        version = db.execute(sa.text("SELECT value FROM meta WHERE name = 'schema'")).scalar()
    assert version == str(SCHEMA_VERSION)
    ledger = Ledger(url, "sap")
    ledger.put({"docnum:1": "ORDERS_1.xml"})
    assert ledger.get(["docnum:1"]) == {"docnum:1": "ORDERS_1.xml"}
    ledger.close()
