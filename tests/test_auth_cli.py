"""`ihost auth` end to end, and refreshes across processes, with the real `ihost` command
in subprocesses against the OAuth2 sandbox and a real SQLite store: a process killed
between the token endpoint's answer and the store's commit (or just after it) loses no
token, and two processes refreshing at once make one refresh."""

from __future__ import annotations

import dataclasses
import os
import signal
import sqlite3
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import IO
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from cryptography.fernet import Fernet
from flow_data import product
from helpers import IHOST, Result, write_config
from ihost_testconnectors.sandbox import OAuthRecordSandbox, RecordSandbox

from host.authorize import authorize_at_sandbox
from host.config import load_config
from host.plugins import discover
from host.sandbox_oauth import LIGHTSPEED
from host.tokens import KEY_VARIABLE, StoredTokens, TokenVault

DEADLINE = 60.0
FLOWS = """
[flows.products]
kind = "products"
source = "shop"
target = "erp"
"""


class Child:
    """`ihost ARGS` running in a subprocess, its output read as it comes."""

    def __init__(self, *args: str, env: dict[str, str]) -> None:
        self.proc = subprocess.Popen(
            [IHOST, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )
        self.out: list[str] = []
        self.err: list[str] = []
        self._readers = [
            threading.Thread(target=self._read, args=(stream, lines), daemon=True)
            for stream, lines in ((self.proc.stdout, self.out), (self.proc.stderr, self.err))
        ]
        for reader in self._readers:
            reader.start()

    @staticmethod
    def _read(stream: IO[str], lines: list[str]) -> None:
        for line in stream:
            lines.append(line.rstrip("\n"))

    def line(self, wanted: Callable[[str], bool], stream: str = "err") -> str:
        """The first line of `stream` for which `wanted` is true, once it has come."""
        lines = self.out if stream == "out" else self.err
        until(lambda: any(wanted(line) for line in lines), self)
        return next(line for line in lines if wanted(line))

    def kill(self) -> None:
        os.kill(self.proc.pid, signal.SIGKILL)
        self.proc.wait()

    def finish(self) -> Result:
        code = self.proc.wait(timeout=DEADLINE)
        for reader in self._readers:
            reader.join()
        return Result(code, "\n".join(self.out), "\n".join(self.err))


def run(*args: str, env: dict[str, str]) -> Result:
    """`ihost ARGS` with exactly the environment `env`."""
    return Child(*args, env=env).finish()


def until(condition: Callable[[], bool], *children: Child) -> None:
    """Wait for `condition`; fail when a child ends first or after DEADLINE seconds."""
    deadline = time.monotonic() + DEADLINE
    while not condition():
        for child in children:
            if child.proc.poll() is not None and not condition():
                result = child.finish()
                pytest.fail(f"ihost ended first (exit {result.code}): {result.output}")
        assert time.monotonic() < deadline, "waited too long"
        time.sleep(0.02)


@pytest.fixture
def env() -> dict[str, str]:
    full = {k: v for k, v in os.environ.items() if k not in ("IHOST_CONFIG", KEY_VARIABLE)}
    full[KEY_VARIABLE] = Fernet.generate_key().decode()
    return full


@pytest.fixture
def erp() -> Iterator[OAuthRecordSandbox]:
    with OAuthRecordSandbox() as running:
        yield running


@pytest.fixture
def shop() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        running.seed("products", [product("SKU-1")])
        yield running


@pytest.fixture
def config(tmp_path: Path, erp: OAuthRecordSandbox, shop: RecordSandbox) -> Path:
    return write_config(tmp_path, {"erp": ("testoauth", erp), "shop": ("testshop", shop)}, FLOWS)


@pytest.fixture
def vault(config: Path, env: dict[str, str]) -> TokenVault:
    return TokenVault(f"sqlite:///{config.parent / 'ihost.db'}", "erp", environ=env)


@pytest.fixture
def authorized(
    config: Path, env: dict[str, str], monkeypatch: pytest.MonkeyPatch, vault: TokenVault
) -> StoredTokens:
    """Connection `erp` authorized (in this process, as `ihost auth` does); its tokens."""
    monkeypatch.setenv(KEY_VARIABLE, env[KEY_VARIABLE])
    with load_config(config, discover()).connect("erp", discover()) as conn:
        authorize_at_sandbox(conn.hook.oauth2_flow())
    found = vault.read()
    assert found is not None
    return found


def start_auth(config: Path, env: dict[str, str], *args: str) -> tuple[Child, str]:
    """`ihost auth erp` started; the authorize URL it printed."""
    child = Child("-c", str(config), "auth", "erp", *args, env=env)
    url = child.line(lambda line: line.startswith("  http"), "out").strip()
    return child, url


def follow(url: str) -> httpx.Response:
    """What a browser does: open the authorize URL, then go where it redirects."""
    answer = httpx.get(url)
    assert answer.status_code == 302, answer.text
    return httpx.get(answer.headers["location"])


def secrets_of(found: StoredTokens | None) -> list[str]:
    assert found is not None
    return [found.tokens.access_token, found.tokens.refresh_token or "-"]


def test_ihost_auth_end_to_end(config: Path, env: dict[str, str], erp: OAuthRecordSandbox) -> None:
    made = run("auth", "--new-key", env=env)
    assert made.code == 0
    env[KEY_VARIABLE] = made.out.strip()
    child, url = start_auth(config, env)
    params = parse_qs(urlsplit(url).query)
    assert params["response_type"] == ["code"] and params["client_id"] == [erp.client_id]
    assert params["code_challenge_method"] == ["S256"] and params["code_challenge"]
    assert params["redirect_uri"][0].startswith("http://127.0.0.1:")
    assert url.startswith(erp.base_url + LIGHTSPEED.authorize_path + "?")
    page = follow(url)
    assert page.status_code == 200 and "received the authorization" in page.text
    result = child.finish()
    assert result.code == 0, result.output
    assert result.out.splitlines()[-1] == (
        "erp: authorized; its tokens are stored, encrypted, in the store"
    )
    vault = TokenVault(f"sqlite:///{config.parent / 'ihost.db'}", "erp", environ=env)
    assert all(secret not in result.output for secret in secrets_of(vault.read()))

    checked = run("-c", str(config), "check", "erp", env=env)
    assert checked.code == 0, checked.output
    ran = run("-c", str(config), "run", "products", env=env)
    assert ran.code == 0, ran.output
    assert [p["sku"] for p in erp.dump("products")] == ["SKU-1"]


def test_no_redirect_in_time(config: Path, env: dict[str, str]) -> None:
    child, _url = start_auth(config, env, "--timeout", "1")
    result = child.finish()
    assert result.code == 3
    assert result.err.strip() == (
        "ihost: erp: no authorization came back within 1 s; run `ihost auth erp` again"
    )


def test_a_connection_without_an_authorization_code_flow(config: Path, env: dict[str, str]) -> None:
    result = run("-c", str(config), "auth", "shop", env=env)
    assert result.code == 2
    assert result.err.strip() == (
        "shop (testshop) does not sign in with OAuth2 authorization code: it needs no `ihost auth`"
    )


def test_the_key_missing_or_malformed(
    config: Path, env: dict[str, str], authorized: StoredTokens
) -> None:
    without = {k: v for k, v in env.items() if k != KEY_VARIABLE}
    malformed = {**env, KEY_VARIABLE: "not-a-fernet-key"}
    for environment, args in ((without, ("auth", "erp")), (malformed, ("check", "erp"))):
        result = run("-c", str(config), *args, env=environment)
        assert result.code == 2, result.output
        assert len(result.err.strip().splitlines()) == 1 and not result.out
        assert "IHOST_SECRET_KEY" in result.err and "ihost auth --new-key" in result.err
        assert "not-a-fernet-key" not in result.err


# --- refreshes across processes -------------------------------------------------------------


def test_killed_between_the_refresh_answer_and_the_commit_loses_no_token(
    config: Path,
    env: dict[str, str],
    erp: OAuthRecordSandbox,
    vault: TokenVault,
    authorized: StoredTokens,
) -> None:
    erp.oauth.expire_access_tokens()
    erp.oauth.hold_token_answers()
    child = Child("-v", "-c", str(config), "check", "erp", env=env)
    until(lambda: erp.oauth.held == 1, child)  # the sandbox rotated; its answer waits
    store = sqlite3.connect(config.parent / "ihost.db", isolation_level=None)
    store.execute("BEGIN IMMEDIATE")  # the child's commit must wait for this
    try:
        erp.oauth.release_token_answers()
        child.line(lambda line: "refreshed the OAuth2 tokens; storing them" in line)
        child.kill()
    finally:
        store.execute("ROLLBACK")
        store.close()
    assert vault.read() == authorized  # nothing was stored
    assert erp.oauth.refreshes == 1

    # the next process refreshes again with the stored token (the vendor's grace)
    result = run("-c", str(config), "check", "erp", env=env)
    assert result.code == 0, result.output
    assert erp.oauth.refreshes == 2
    after = vault.read()
    assert after is not None and after.version == authorized.version + 1
    assert after.tokens.refresh_token != authorized.tokens.refresh_token
    erp.oauth.expire_access_tokens()  # and the chain goes on
    assert run("-c", str(config), "check", "erp", env=env).code == 0
    assert erp.oauth.refreshes == 3


def test_killed_just_after_the_commit_loses_no_token(
    config: Path,
    env: dict[str, str],
    erp: OAuthRecordSandbox,
    vault: TokenVault,
    authorized: StoredTokens,
) -> None:
    expiring = dataclasses.replace(authorized.tokens, expires_at=time.time() - 1)
    version = vault.write(expiring, expected_version=authorized.version)
    stall = erp.inject("GET", "/api/ping", "stall", seconds=5)  # its call, not acted on
    child = Child("-v", "-c", str(config), "check", "erp", env=env)
    child.line(lambda line: "stored the new OAuth2 tokens" in line)
    until(lambda: stall.hits == 1, child)
    child.kill()
    after = vault.read()
    assert after is not None and after.version == version + 1
    assert after.tokens.refresh_token != authorized.tokens.refresh_token
    assert erp.oauth.refreshes == 1

    result = run("-c", str(config), "check", "erp", env=env)
    assert result.code == 0, result.output
    assert erp.oauth.refreshes == 1  # the stored tokens were good
    assert not erp.oauth.refresh_token_valid(authorized.tokens.refresh_token or "")
    erp.oauth.expire_access_tokens()
    assert run("-c", str(config), "check", "erp", env=env).code == 0
    assert erp.oauth.refreshes == 2


def test_two_processes_refreshing_at_once_make_one_refresh(
    config: Path,
    env: dict[str, str],
    erp: OAuthRecordSandbox,
    vault: TokenVault,
    authorized: StoredTokens,
) -> None:
    erp.oauth.expire_access_tokens()
    erp.oauth.hold_token_answers()
    children = [Child("-c", str(config), "check", "erp", env=env) for _ in range(2)]
    refused = lambda: [c for c in erp.calls_to("/api/ping") if c.status == 401]  # noqa: E731
    until(lambda: erp.oauth.held == 1 and len(refused()) == 2, *children)
    erp.oauth.release_token_answers()
    results = [child.finish() for child in children]
    assert [r.code for r in results] == [0, 0], [r.output for r in results]
    assert erp.oauth.refreshes == 1
    after = vault.read()
    assert after is not None and after.version == authorized.version + 1
