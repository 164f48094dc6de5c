"""OAuth2 code against a misbehaving remote, a hostile local client and a damaged store:
each ends in one clear error (or none), never a raw exception or a traceback."""

from __future__ import annotations

import json
import re
import socket
import sqlite3
import struct
import threading
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from host.auth import Tokens
from host.authorize import RedirectReceiver
from host.errors import ConfigError
from host.tokens import KEY_VARIABLE, TokenVault


@pytest.mark.parametrize("expires_in", ["NaN", "Infinity", "1e400", "-5", "true", '"nan"'])
def test_an_expires_in_that_is_no_lifetime_makes_the_answer_unusable(expires_in: str) -> None:
    # a NaN or infinite expiry would never come due: the token would never be refreshed
    # before it expires; a negative one would be refreshed before every request
    answer = json.loads(f'{{"access_token": "access-token-1", "expires_in": {expires_in}}}')
    with pytest.raises(ValueError, match="expires_in"):
        Tokens.from_answer(answer)


@pytest.mark.parametrize("token", ["access\r\nX-Injected: 1", "access\x00token"])
def test_an_access_token_that_cannot_go_into_a_header_makes_the_answer_unusable(
    token: str,
) -> None:
    # httpx refuses the header on every request: a transient error, retried, forever
    with pytest.raises(ValueError, match="access_token"):
        Tokens.from_answer({"access_token": token, "expires_in": 3600})


def test_an_expires_in_in_a_string_is_read() -> None:
    tokens = Tokens.from_answer({"access_token": "access-token-1", "expires_in": "3600"})
    assert tokens.expires_at is not None and not tokens.due(60)


@pytest.mark.parametrize("port", ["99999", "abc", "-1"])
def test_a_redirect_uri_with_a_port_that_is_none(port: str) -> None:
    with pytest.raises(ConfigError, match=re.escape("must be http://127.0.0.1:PORT/PATH")):
        RedirectReceiver(f"http://127.0.0.1:{port}/callback")


def _get(port: int, target: str, *, reset: bool = False) -> None:
    with socket.create_connection(("127.0.0.1", port)) as client:
        if reset:  # close with a RST, as a tab closed mid-request does
            client.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        client.sendall(f"GET {target} HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n".encode())
        if not reset:
            while client.recv(4096):
                pass


def test_a_client_that_drops_its_connection_leaves_no_traceback(
    capfd: pytest.CaptureFixture[str],
) -> None:
    receiver = RedirectReceiver(None)
    port = int(receiver.redirect_uri.rsplit(":", 1)[1].split("/")[0])
    codes: list[str] = []
    waiting = threading.Thread(target=lambda: codes.append(receiver.wait("st4te", 30, "erp")))
    waiting.start()
    try:
        _get(port, "/favicon.ico", reset=True)
        _get(port, "/elsewhere")
        _get(port, "/callback?code=the-code&state=st4te")
        waiting.join()
    finally:
        receiver.close()
    assert codes == ["the-code"]
    assert "Traceback" not in capfd.readouterr().err


@pytest.mark.parametrize(
    "damage",
    [
        "UPDATE oauth_tokens SET sealed = 'g\u00e4rbage'",
        "UPDATE oauth_tokens SET sealed = x'0001'",
        "UPDATE oauth_tokens SET sealed = :not_json",
        "UPDATE oauth_tokens SET sealed = :wrong_fields",
        "UPDATE oauth_tokens SET sealed = :a_list",
        "UPDATE oauth_tokens SET sealed = :number_token",
    ],
)
def test_a_damaged_token_row_says_to_authorize_again(tmp_path: Path, damage: str) -> None:
    key = Fernet.generate_key()
    vault = TokenVault(
        f"sqlite:///{tmp_path}/ihost.db", "erp", environ={KEY_VARIABLE: key.decode()}
    )
    vault.write(Tokens("access-token-1", "refresh-token-1"))
    sealed = {
        name: Fernet(key).encrypt(content).decode()
        for name, content in [
            ("not_json", b"not json"),
            ("wrong_fields", b'{"x": 1}'),
            ("a_list", b"[1]"),
            ("number_token", b'{"access_token": 12345}'),
        ]
    }
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        db.execute(damage, sealed)
    with pytest.raises(ConfigError, match=r"damaged.*`ihost auth erp`"):
        vault.read()
    vault.write(Tokens("access-token-2", "refresh-token-2"))  # what `ihost auth` does
    found = vault.read()
    assert found is not None and found.tokens.access_token == "access-token-2"
