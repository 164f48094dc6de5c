"""The sandboxes' OAuth2 endpoints (host.sandbox_oauth), spoken to over plain HTTP as a
vendor's client would: codes, PKCE, client authentication, rotating refresh tokens with
and without the retry grace, the refresh limit, and the vendors' error shapes."""

from __future__ import annotations

import base64
import hashlib
from collections.abc import Iterator
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from ihost_testconnectors.sandbox import OAuthRecordSandbox

from host.sandbox_oauth import ASPERION, LIGHTSPEED, OAuth2Vendor

REDIRECT = "http://127.0.0.1:9/callback"


class Clock:
    """The sandbox's clock, moved by the test."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> Clock:
    return Clock()


def _sandbox(vendor: OAuth2Vendor, clock: Clock) -> Iterator[OAuthRecordSandbox]:
    with OAuthRecordSandbox(vendor=vendor) as running:
        running.oauth.clock = clock
        yield running


@pytest.fixture
def lightspeed(clock: Clock) -> Iterator[OAuthRecordSandbox]:
    yield from _sandbox(LIGHTSPEED, clock)


@pytest.fixture
def asperion(clock: Clock) -> Iterator[OAuthRecordSandbox]:
    yield from _sandbox(ASPERION, clock)


def authorize(sandbox: OAuthRecordSandbox, **extra: str) -> httpx.Response:
    params = {
        "response_type": "code",
        "client_id": sandbox.client_id,
        "redirect_uri": REDIRECT,
        "state": "s-1",
        **extra,
    }
    return httpx.get(sandbox.base_url + sandbox.oauth.vendor.authorize_path, params=params)


def redirected(answer: httpx.Response) -> dict[str, str]:
    assert answer.status_code == 302, answer.text
    location = answer.headers["location"]
    assert location.startswith(REDIRECT + "?")
    return dict(parse_qsl(urlsplit(location).query))


def code(sandbox: OAuthRecordSandbox, **extra: str) -> str:
    params = redirected(authorize(sandbox, **extra))
    assert params["state"] == "s-1"
    return params["code"]


def token(
    sandbox: OAuthRecordSandbox, as_json: bool = False, secret: str | None = None, **fields: str
) -> httpx.Response:
    body = {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret if secret is None else secret,
        **fields,
    }
    url = sandbox.base_url + sandbox.oauth.vendor.token_path
    return httpx.post(url, json=body) if as_json else httpx.post(url, data=body)


def tokens(sandbox: OAuthRecordSandbox, **extra: str) -> dict[str, Any]:
    answer = token(sandbox, grant_type="authorization_code", code=code(sandbox, **extra))
    assert answer.status_code == 200, answer.text
    return answer.json()


def refresh(sandbox: OAuthRecordSandbox, refresh_token: str) -> httpx.Response:
    return token(sandbox, grant_type="refresh_token", refresh_token=refresh_token)


def api(sandbox: OAuthRecordSandbox, access_token: str) -> httpx.Response:
    return httpx.get(
        sandbox.base_url + "/api/ping", headers={"Authorization": f"Bearer {access_token}"}
    )


def test_a_code_buys_tokens_once(lightspeed: OAuthRecordSandbox) -> None:
    given = code(lightspeed)
    first = token(lightspeed, grant_type="authorization_code", code=given)
    assert first.status_code == 200
    body = first.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 3600
    assert api(lightspeed, body["access_token"]).status_code == 200
    again = token(lightspeed, grant_type="authorization_code", code=given)
    assert again.status_code == 400
    assert again.json()["error"] == "invalid_grant"
    assert set(again.json()) == {"error", "error_description", "hint"}


def test_a_code_is_valid_for_60_seconds(lightspeed: OAuthRecordSandbox, clock: Clock) -> None:
    fresh, stale = code(lightspeed), code(lightspeed)
    clock.now += 59
    assert token(lightspeed, grant_type="authorization_code", code=fresh).status_code == 200
    clock.now += 2
    late = token(lightspeed, grant_type="authorization_code", code=stale)
    assert late.status_code == 400
    assert late.json()["hint"] == "Authorization code has expired"


def test_pkce_s256_is_checked_when_a_challenge_was_given(lightspeed: OAuthRecordSandbox) -> None:
    verifier = "v" * 50
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    pkce = {"code_challenge": challenge.decode().rstrip("="), "code_challenge_method": "S256"}
    for wrong in ({"code_verifier": "w" * 50}, {}):  # another verifier, or none
        given = code(lightspeed, **pkce)
        answer = token(lightspeed, grant_type="authorization_code", code=given, **wrong)
        assert answer.status_code == 400 and answer.json()["error"] == "invalid_grant"
    right = token(
        lightspeed,
        grant_type="authorization_code",
        code=code(lightspeed, **pkce),
        code_verifier=verifier,
    )
    assert right.status_code == 200
    plain = redirected(authorize(lightspeed, code_challenge="abc", code_challenge_method="plain"))
    assert plain == {"error": "invalid_request", "state": "s-1"}


def test_the_client_must_authenticate(lightspeed: OAuthRecordSandbox) -> None:
    given = code(lightspeed)
    wrong = token(lightspeed, secret="not-the-secret", grant_type="authorization_code", code=given)
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"
    unknown = authorize(lightspeed, client_id="someone-else")
    assert unknown.status_code == 400 and "location" not in unknown.headers
    elsewhere = authorize(lightspeed, redirect_uri="https://evil.example/callback")
    assert elsewhere.status_code == 400 and "location" not in elsewhere.headers


def test_a_refused_authorization_redirects_with_the_error(lightspeed: OAuthRecordSandbox) -> None:
    lightspeed.oauth.deny_next_authorization()
    assert redirected(authorize(lightspeed)) == {"error": "access_denied", "state": "s-1"}
    assert "code" in redirected(authorize(lightspeed))


def test_refresh_tokens_rotate_with_the_retry_grace(lightspeed: OAuthRecordSandbox) -> None:
    first = tokens(lightspeed)
    answer = refresh(lightspeed, first["refresh_token"])
    assert answer.status_code == 200
    second = answer.json()
    assert second["refresh_token"] != first["refresh_token"]
    assert lightspeed.oauth.refreshes == 1
    # the old access token ends at once, with Lightspeed's 401
    old = api(lightspeed, first["access_token"])
    assert old.status_code == 401
    assert old.json() == {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request.",
        "hint": "Access token has been revoked",
    }
    # the old refresh token lives on until the new access token is used
    assert lightspeed.oauth.refresh_token_valid(first["refresh_token"])
    assert api(lightspeed, second["access_token"]).status_code == 200
    assert not lightspeed.oauth.refresh_token_valid(first["refresh_token"])
    refused = refresh(lightspeed, first["refresh_token"])
    assert refused.status_code == 400 and refused.json()["error"] == "invalid_grant"
    assert refresh(lightspeed, second["refresh_token"]).status_code == 200


def test_a_refresh_asked_again_replaces_the_answer_that_was_lost(
    lightspeed: OAuthRecordSandbox,
) -> None:
    first = tokens(lightspeed)
    lost = refresh(lightspeed, first["refresh_token"]).json()
    again = refresh(lightspeed, first["refresh_token"])
    assert again.status_code == 200
    assert lightspeed.oauth.refreshes == 2
    assert api(lightspeed, lost["access_token"]).status_code == 401
    assert refresh(lightspeed, lost["refresh_token"]).status_code == 400
    assert api(lightspeed, again.json()["access_token"]).status_code == 200


def test_at_most_five_refreshes_a_minute(lightspeed: OAuthRecordSandbox, clock: Clock) -> None:
    current = tokens(lightspeed)["refresh_token"]
    for _ in range(5):
        current = refresh(lightspeed, current).json()["refresh_token"]
    limited = refresh(lightspeed, current)
    assert limited.status_code == 429 and int(limited.headers["Retry-After"]) >= 1
    clock.now += 60
    assert refresh(lightspeed, current).status_code == 200


def test_access_tokens_expire(lightspeed: OAuthRecordSandbox, clock: Clock) -> None:
    first = tokens(lightspeed)
    assert api(lightspeed, first["access_token"]).status_code == 200
    clock.now += 3600
    assert api(lightspeed, first["access_token"]).json()["hint"] == (
        "Access token could not be verified"
    )
    second = refresh(lightspeed, first["refresh_token"]).json()
    assert api(lightspeed, second["access_token"]).status_code == 200
    assert lightspeed.oauth.expire_access_tokens() == 1
    assert api(lightspeed, second["access_token"]).status_code == 401


def test_lightspeed_takes_json_bodies(lightspeed: OAuthRecordSandbox) -> None:
    answer = token(lightspeed, as_json=True, grant_type="authorization_code", code=code(lightspeed))
    assert answer.status_code == 200
    multipart = httpx.post(
        lightspeed.base_url + LIGHTSPEED.token_path, files={"grant_type": (None, "refresh_token")}
    )
    assert multipart.status_code == 400
    assert "not emulated" in multipart.json()["hint"]


def test_asperion_speaks_form_only_and_rotates_without_grace(asperion: OAuthRecordSandbox) -> None:
    as_json = token(asperion, as_json=True, grant_type="authorization_code", code=code(asperion))
    assert as_json.status_code == 400 and as_json.json() == {"error": "invalid_request"}
    first = tokens(asperion)
    second = refresh(asperion, first["refresh_token"])
    assert second.status_code == 200
    assert refresh(asperion, first["refresh_token"]).json() == {"error": "invalid_grant"}
    refused = api(asperion, first["access_token"])
    assert refused.status_code == 401
    assert set(refused.json()) == {"title", "status", "detail", "traceId"}


def revoke(sandbox: OAuthRecordSandbox, token_text: str) -> httpx.Response:
    body = {
        "client_id": sandbox.client_id,
        "client_secret": sandbox.client_secret,
        "token": token_text,
    }
    return httpx.post(sandbox.base_url + "/auth/oauth/revoke", data=body)


def test_lightspeed_revokes_a_pair_by_either_token(lightspeed: OAuthRecordSandbox) -> None:
    first = tokens(lightspeed)
    assert revoke(lightspeed, first["refresh_token"]).status_code == 200
    assert api(lightspeed, first["access_token"]).json()["hint"] == "Access token has been revoked"
    assert refresh(lightspeed, first["refresh_token"]).json()["error"] == "invalid_grant"
    second = tokens(lightspeed)
    assert revoke(lightspeed, second["access_token"]).status_code == 200
    assert api(lightspeed, second["access_token"]).status_code == 401
    assert not lightspeed.oauth.refresh_token_valid(second["refresh_token"])
    assert revoke(lightspeed, "unknown").status_code == 200
    wrong = httpx.post(
        lightspeed.base_url + "/auth/oauth/revoke",
        data={"client_id": lightspeed.client_id, "client_secret": "wrong", "token": "x"},
    )
    assert wrong.status_code == 401 and wrong.json()["error"] == "invalid_client"


def test_asperion_has_no_revoke_endpoint(asperion: OAuthRecordSandbox) -> None:
    assert revoke(asperion, "x").status_code in (404, 405)


def test_lightspeed_refresh_tokens_expire_after_30_days_unused(
    lightspeed: OAuthRecordSandbox, clock: Clock
) -> None:
    kept, idle = tokens(lightspeed), tokens(lightspeed)
    clock.now += 30 * 86400 - 1
    assert refresh(lightspeed, kept["refresh_token"]).status_code == 200
    clock.now += 1
    expired = refresh(lightspeed, idle["refresh_token"])
    assert expired.status_code == 400
    assert expired.json()["error"] == "invalid_grant"
    assert expired.json()["hint"] == "Token has expired"


def test_mint_access_makes_the_access_tokens(lightspeed: OAuthRecordSandbox) -> None:
    made: list[tuple[str | None, float]] = []

    def mint(scope: str | None, ttl: float) -> str:
        made.append((scope, ttl))
        return f"minted-{len(made)}"

    lightspeed.oauth.mint_access = mint
    first = tokens(lightspeed, scope="employee:inventory")
    assert first["access_token"] == "minted-1"
    assert made == [("employee:inventory", 3600.0)]
    assert api(lightspeed, "minted-1").status_code == 200
    assert refresh(lightspeed, first["refresh_token"]).json()["access_token"] == "minted-2"
