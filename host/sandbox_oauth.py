"""OAuth2 authorization-code endpoints for sandboxes, as the vendors run them.

A sandbox whose remote signs in with OAuth2 (Lightspeed, Asperion) holds an
`OAuth2Server`, serves its routes beside its own, and checks the bearer token on each
API route:

    class LightspeedSandbox(Sandbox):
        def __init__(self, **kwargs):
            super().__init__(**kwargs)
            self.oauth = OAuth2Server(LIGHTSPEED, client_id="ihost", client_secret="s3cret")

        def routes(self):
            return [*self.oauth.routes(), Route("/API/V3/Account.json", self._account)]

        async def _account(self, request):
            if (refused := self.oauth.check_bearer(request)) is not None:
                return refused
            ...

What it emulates (`OAuth2Vendor` says where the vendors differ):

- authorize (GET): allows at once (there is no login page) and redirects to the
  redirect URI with ``code`` and ``state``; an unknown client or redirect URI is answered
  400, not redirected. A redirect URI must be the registered one, or, when none is
  registered, any http URI on 127.0.0.1 or localhost.
- token (POST, form or JSON body as the vendor takes it; client_id and client_secret in
  the body): ``authorization_code`` (a code is valid `code_ttl` seconds, once; the PKCE S256
  challenge is checked when one was given), ``refresh_token`` (the refresh token rotates:
  the old access token ends at once; the old refresh token ends when the new access token
  is first used, or at once without the vendor's retry grace; at most
  `max_refreshes_per_minute`; a refresh token older than the vendor's `refresh_idle_ttl`
  is refused invalid_grant "Token has expired"), and ``client_credentials`` when enabled.
  An access token is a random string, or what `mint_access` makes (Lightspeed's sandbox: a
  JWT with the account id).
- revoke (POST, where the vendor has it: Lightspeed): `token` is an access or a refresh
  token; either ends the pair it belongs to (and the refresh tokens issued from it); 200.
- errors: ``{"error", "error_description", "hint"}`` (Lightspeed) or ``{"error"}`` (Asperion),
  400 for a bad grant or request, 401 invalid_client; `check_bearer` answers 401 in the
  vendor's shape.

Time is read from `clock` (never slept on): a test moves it, or calls
`expire_access_tokens`. `refreshes` counts the refreshes granted. `hold_token_answers`
makes the token endpoint act and then keep its answer until `release_token_answers`, so a
test can stop a client between the remote's answer and what the client does with it.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import threading
import time
from collections import deque
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED

#: how long a held token answer waits at most for release_token_answers
HOLD_LIMIT = 120.0


def _lightspeed_unauthorized(hint: str) -> dict[str, Any]:
    return {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request.",
        "hint": hint,
    }


def _asperion_unauthorized(hint: str) -> dict[str, Any]:
    return {
        "title": "Unauthorized",
        "status": 401,
        "detail": hint,
        "traceId": secrets.token_hex(8),
    }


@dataclass(frozen=True)
class OAuth2Vendor:
    """Where and how one vendor's OAuth2 endpoints answer."""

    name: str
    authorize_path: str
    token_path: str
    #: the token endpoint's bodies: "form" (application/x-www-form-urlencoded), "json"
    token_bodies: frozenset[str]
    #: the old refresh token stays valid until the new access token is first used
    refresh_grace: bool
    max_refreshes_per_minute: int | None
    #: token errors carry error_description and hint besides error
    describes_errors: bool
    #: the body of an API route's 401, given what is wrong with the token
    unauthorized: Callable[[str], dict[str, Any]]
    #: where tokens are revoked (RFC 7009 style); None: the vendor has no revoke endpoint
    revoke_path: str | None = None
    #: seconds a refresh token lives unused (it is used once: counted from its issue)
    refresh_idle_ttl: float | None = None


#: Lightspeed Retail (R-Series): league/oauth2-server style errors, JSON or form bodies,
#: the retry grace of 2026-01-15, at most 5 refreshes a minute, a revoke endpoint, and refresh
#: tokens that expire after 30 days unused.
LIGHTSPEED = OAuth2Vendor(
    name="lightspeed",
    authorize_path="/auth/oauth/authorize",
    token_path="/auth/oauth/token",
    token_bodies=frozenset({"form", "json"}),
    refresh_grace=True,
    max_refreshes_per_minute=5,
    describes_errors=True,
    unauthorized=_lightspeed_unauthorized,
    revoke_path="/auth/oauth/revoke",
    refresh_idle_ttl=30 * 86400.0,
)

#: Asperion (an IdentityServer): form bodies, ``{"error": "invalid_grant"}``, problem details
#: on the API. Whether it grants a retry grace is not documented: it does not here.
ASPERION = OAuth2Vendor(
    name="asperion",
    authorize_path="/connect/authorize",
    token_path="/connect/token",
    token_bodies=frozenset({"form"}),
    refresh_grace=False,
    max_refreshes_per_minute=None,
    describes_errors=False,
    unauthorized=_asperion_unauthorized,
)

_DESCRIPTIONS = {
    "invalid_request": "The request is missing a required parameter or is malformed.",
    "invalid_client": "Client authentication failed.",
    "invalid_grant": "The authorization grant or refresh token is invalid, expired or revoked.",
    "unsupported_grant_type": "The authorization grant type is not supported.",
    "too_many_requests": "Too many token refreshes.",
}


@dataclass
class _Code:
    client_id: str
    redirect_uri: str
    scope: str | None
    challenge: str | None
    issued_at: float
    used: bool = False


@dataclass
class _Access:
    client_id: str
    expires_at: float
    redeemed: str | None  # the refresh token given up for this one: ends when this is used
    revoked: bool = False
    used: bool = False


@dataclass
class _Refresh:
    client_id: str
    scope: str | None
    access: str  # issued together with this refresh token
    issued_at: float = 0.0
    revoked: bool = False
    successor: str | None = None  # the refresh token issued in exchange for this one


@dataclass
class _Answer:
    status: int
    body: dict[str, Any]
    headers: dict[str, str] = field(default_factory=dict)


class OAuth2Server:
    """One vendor's authorize and token endpoints and the tokens they issued (see the module).

    `client_id` and `client_secret` are the registered client (`client_secret` None: a
    public client, which must use PKCE); `redirect_uri` the registered redirect URI (None:
    any loopback one). `access_ttl` is the access tokens' lifetime in seconds, `code_ttl`
    the codes'. `refresh_grace` and `max_refreshes_per_minute` default to the vendor's.
    `grants` lists the grant types the token endpoint takes. `mint_access` makes an access
    token's text from its scope and lifetime (a sandbox whose vendor issues JWTs gives one
    carrying the vendor's claims); None: a random opaque string. `refresh_idle_ttl` is the
    vendor's (None: refresh tokens never expire unused).
    """

    def __init__(
        self,
        vendor: OAuth2Vendor,
        *,
        client_id: str,
        client_secret: str | None,
        redirect_uri: str | None = None,
        access_ttl: float = 3600.0,
        code_ttl: float = 60.0,
        refresh_grace: bool | None = None,
        max_refreshes_per_minute: int | None = -1,
        grants: tuple[str, ...] = ("authorization_code", "refresh_token"),
        clock: Callable[[], float] = time.monotonic,
        mint_access: Callable[[str | None, float], str] | None = None,
    ) -> None:
        self.vendor = vendor
        self.mint_access = mint_access
        self.refresh_idle_ttl = vendor.refresh_idle_ttl
        self.client_id = client_id
        self.client_secret = client_secret
        self.redirect_uri = redirect_uri
        self.access_ttl = access_ttl
        self.code_ttl = code_ttl
        self.refresh_grace = vendor.refresh_grace if refresh_grace is None else refresh_grace
        self.max_refreshes_per_minute = (
            vendor.max_refreshes_per_minute
            if max_refreshes_per_minute == -1
            else max_refreshes_per_minute
        )
        self.grants = grants
        self.clock = clock
        #: refreshes granted so far
        self.refreshes = 0
        #: token answers held back now (see hold_token_answers)
        self.held = 0
        self._lock = threading.RLock()
        self._codes: dict[str, _Code] = {}
        self._access: dict[str, _Access] = {}
        self._refresh: dict[str, _Refresh] = {}
        self._recent_refreshes: deque[float] = deque()
        self._gate: threading.Event | None = None
        self._deny: str | None = None

    def routes(self) -> list[BaseRoute]:
        """The authorize and token routes (and the revoke route, where the vendor has one),
        at the vendor's paths."""
        routes: list[BaseRoute] = [
            Route(self.vendor.authorize_path, self._authorize, methods=["GET"]),
            Route(self.vendor.token_path, self._token, methods=["POST"]),
        ]
        if self.vendor.revoke_path is not None:
            routes.append(Route(self.vendor.revoke_path, self._revoke_route, methods=["POST"]))
        return routes

    # --- for the sandbox's API routes ---------------------------------------------------

    def check_bearer(self, request: Request) -> Response | None:
        """None when the request carries a valid access token, else the vendor's 401.
        The first use of an access token ends the grace of the refresh token it replaced."""
        scheme, _, token = request.headers.get("authorization", "").partition(" ")
        with self._lock:
            access = self._access.get(token) if scheme.lower() == "bearer" else None
            if access is None:
                return self._unauthorized("Missing or unknown access token")
            if access.revoked:
                return self._unauthorized("Access token has been revoked")
            if self.clock() >= access.expires_at:
                return self._unauthorized("Access token could not be verified")
            if not access.used:
                access.used = True
                if access.redeemed is not None:
                    self._refresh[access.redeemed].revoked = True
        return None

    # --- test controls --------------------------------------------------------------------

    def expire_access_tokens(self) -> int:
        """End every access token issued so far, as if its lifetime had passed; returns how
        many were live."""
        now = self.clock()
        with self._lock:
            live = [a for a in self._access.values() if not a.revoked and a.expires_at > now]
            for access in live:
                access.expires_at = now
        return len(live)

    def hold_token_answers(self) -> None:
        """From now on the token endpoint grants, then keeps its answer until
        `release_token_answers` (at most HOLD_LIMIT seconds); `held` counts those waiting."""
        with self._lock:
            self._gate = threading.Event()

    def release_token_answers(self) -> None:
        """Let held token answers go, and answer at once again."""
        with self._lock:
            gate, self._gate = self._gate, None
        if gate is not None:
            gate.set()

    def deny_next_authorization(self, error: str = "access_denied") -> None:
        """Make the next authorization end with `error` (the merchant said no)."""
        with self._lock:
            self._deny = error

    def refresh_token_valid(self, token: str) -> bool:
        """Whether the token endpoint would still take refresh token `token`."""
        with self._lock:
            found = self._refresh.get(token)
            return found is not None and not found.revoked

    # --- authorize ------------------------------------------------------------------------

    async def _authorize(self, request: Request) -> Response:
        params = request.query_params
        if params.get("client_id") != self.client_id:
            return self._error(400, "invalid_client", "unknown client_id")
        redirect_uri = params.get("redirect_uri") or self.redirect_uri
        if problem := self._redirect_problem(redirect_uri):
            return self._error(400, "invalid_request", problem)
        assert redirect_uri is not None
        state = params.get("state")
        challenge = params.get("code_challenge")
        method = params.get("code_challenge_method")
        if params.get("response_type") != "code":
            return self._redirect(redirect_uri, state, error="unsupported_response_type")
        if (challenge or method) and (not challenge or method != "S256"):  # S256 only
            return self._redirect(redirect_uri, state, error="invalid_request")
        if self.client_secret is None and not challenge:
            return self._redirect(redirect_uri, state, error="invalid_request")
        with self._lock:
            denied, self._deny = self._deny, None
            if denied:
                return self._redirect(redirect_uri, state, error=denied)
            code = secrets.token_urlsafe(24)
            self._codes[code] = _Code(
                self.client_id,
                redirect_uri,
                params.get("scope"),
                challenge,
                self.clock(),
            )
        return self._redirect(redirect_uri, state, code=code)

    def _redirect_problem(self, redirect_uri: str | None) -> str | None:
        if redirect_uri is None:
            return "redirect_uri is required (no redirect URI is registered)"
        if self.redirect_uri is not None:
            return None if redirect_uri == self.redirect_uri else "redirect_uri is not registered"
        parts = urlsplit(redirect_uri)
        if parts.scheme == "http" and parts.hostname in ("127.0.0.1", "localhost"):
            return None
        return "redirect_uri must be an http URI on 127.0.0.1 or localhost"

    @staticmethod
    def _redirect(redirect_uri: str, state: str | None, **params: str) -> Response:
        if state is not None:
            params["state"] = state
        separator = "&" if urlsplit(redirect_uri).query else "?"
        return RedirectResponse(f"{redirect_uri}{separator}{urlencode(params)}", status_code=302)

    # --- token ----------------------------------------------------------------------------

    async def _token(self, request: Request) -> Response:
        fields, problem = await self._fields(request)
        if fields is None:
            answer = self._refusal(400, "invalid_request", problem)
        else:
            with self._lock:
                answer = self._grant(fields)
        gate = self._gate
        if gate is not None and answer.status == 200:
            with self._lock:
                self.held += 1
            try:
                await asyncio.get_running_loop().run_in_executor(None, gate.wait, HOLD_LIMIT)
            finally:
                with self._lock:
                    self.held -= 1
        return JSONResponse(answer.body, status_code=answer.status, headers=answer.headers)

    async def _fields(self, request: Request) -> tuple[dict[str, str] | None, str]:
        kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
        body = await request.body()
        if kind == "application/x-www-form-urlencoded" and "form" in self.vendor.token_bodies:
            return dict(parse_qsl(body.decode("utf-8", "replace"))), ""
        if kind == "application/json" and "json" in self.vendor.token_bodies:
            try:
                fields = json.loads(body)
            except ValueError:
                return None, "the body is not JSON"
            if not isinstance(fields, dict):
                return None, "the body is not a JSON object"
            return {k: str(v) for k, v in fields.items()}, ""
        return None, f"a token request sent as {kind or 'no content type'} is {NOT_EMULATED}"

    def _grant(self, fields: Mapping[str, str]) -> _Answer:
        grant = fields.get("grant_type")
        if grant not in self.grants:
            return self._refusal(400, "unsupported_grant_type", f"grant_type {grant!r}")
        if fields.get("client_id") != self.client_id or not _same(
            fields.get("client_secret"), self.client_secret
        ):
            return self._refusal(401, "invalid_client", "Client authentication failed")
        if grant == "authorization_code":
            return self._redeem_code(fields)
        if grant == "refresh_token":
            return self._rotate(fields)
        return self._issue(fields.get("scope"), redeemed=None, with_refresh=False)

    def _redeem_code(self, fields: Mapping[str, str]) -> _Answer:
        code = self._codes.get(fields.get("code") or "")
        if code is None:
            return self._refusal(400, "invalid_request", "Check the `code` parameter")
        if code.used:
            return self._refusal(400, "invalid_grant", "Authorization code has been revoked")
        if self.clock() - code.issued_at > self.code_ttl:
            return self._refusal(400, "invalid_grant", "Authorization code has expired")
        given_uri = fields.get("redirect_uri")
        if given_uri is not None and given_uri != code.redirect_uri:
            return self._refusal(400, "invalid_grant", "Invalid redirect URI")
        if code.challenge is not None:
            verifier = fields.get("code_verifier") or ""
            digest = hashlib.sha256(verifier.encode("ascii", "replace")).digest()
            expected = base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")
            if not hmac.compare_digest(expected, code.challenge):
                return self._refusal(400, "invalid_grant", "Failed to verify `code_verifier`.")
        code.used = True
        return self._issue(code.scope, redeemed=None)

    def _rotate(self, fields: Mapping[str, str]) -> _Answer:
        token = fields.get("refresh_token")
        if not token:
            return self._refusal(400, "invalid_request", "Check the `refresh_token` parameter")
        old = self._refresh.get(token)
        if old is None or old.revoked:
            return self._refusal(400, "invalid_grant", "Token has been revoked")
        idle = self.refresh_idle_ttl
        if idle is not None and self.clock() - old.issued_at >= idle:
            return self._refusal(400, "invalid_grant", "Token has expired")
        if limited := self._rate_limited():
            return limited
        if old.successor is not None:  # asked again: the answer before was lost
            self._revoke(old.successor)
        self._access[old.access].revoked = True
        if not self.refresh_grace:
            old.revoked = True
        answer = self._issue(old.scope, redeemed=token if self.refresh_grace else None)
        old.successor = answer.body["refresh_token"]
        self.refreshes += 1
        return answer

    def _rate_limited(self) -> _Answer | None:
        limit = self.max_refreshes_per_minute
        if limit is None:
            return None
        now = self.clock()
        recent = self._recent_refreshes
        while recent and recent[0] <= now - 60:
            recent.popleft()
        if len(recent) >= limit:
            answer = self._refusal(429, "too_many_requests", f"at most {limit} refreshes a minute")
            answer.headers["Retry-After"] = str(max(1, round(recent[0] + 60 - now)))
            return answer
        recent.append(now)
        return None

    def _revoke(self, refresh_token: str) -> None:
        refresh = self._refresh[refresh_token]
        refresh.revoked = True
        self._access[refresh.access].revoked = True

    # --- revoke --------------------------------------------------------------------------

    async def _revoke_route(self, request: Request) -> Response:
        """RFC 7009: `token` (an access or a refresh token; `token_type_hint` is not needed)
        with the client's credentials in the body. Revoking either token of a pair ends both,
        and the refresh tokens issued from it; an unknown token is answered 200 too."""
        fields, problem = await self._fields(request)
        if fields is None:
            return self._error(400, "invalid_request", problem)
        if fields.get("client_id") != self.client_id or not _same(
            fields.get("client_secret"), self.client_secret
        ):
            return self._error(401, "invalid_client", "Client authentication failed")
        token = fields.get("token")
        if not token:
            return self._error(400, "invalid_request", "Check the `token` parameter")
        with self._lock:
            if token in self._access:
                self._access[token].revoked = True
                token = next((k for k, r in self._refresh.items() if r.access == token), "")
            chain = token
            while chain in self._refresh:
                self._revoke(chain)
                chain = self._refresh[chain].successor or ""
        return Response(status_code=200)

    def _issue(
        self, scope: str | None, *, redeemed: str | None, with_refresh: bool = True
    ) -> _Answer:
        if self.mint_access is not None:
            access = self.mint_access(scope, self.access_ttl)
        else:
            access = secrets.token_urlsafe(32)
        self._access[access] = _Access(self.client_id, self.clock() + self.access_ttl, redeemed)
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "expires_in": int(self.access_ttl),
            "access_token": access,
        }
        if with_refresh:
            refresh = secrets.token_urlsafe(32)
            self._refresh[refresh] = _Refresh(self.client_id, scope, access, self.clock())
            body["refresh_token"] = refresh
        return _Answer(200, body)

    # --- errors ---------------------------------------------------------------------------

    def _refusal(self, status: int, error: str, hint: str) -> _Answer:
        body: dict[str, Any] = {"error": error}
        if self.vendor.describes_errors:
            body["error_description"] = _DESCRIPTIONS.get(error, error)
            body["hint"] = hint
        return _Answer(status, body)

    def _error(self, status: int, error: str, hint: str) -> Response:
        answer = self._refusal(status, error, hint)
        return JSONResponse(answer.body, status_code=answer.status)

    def _unauthorized(self, hint: str) -> Response:
        return JSONResponse(self.vendor.unauthorized(hint), status_code=401)


def _same(given: str | None, expected: str | None) -> bool:
    """Whether a client secret matches (a public client has none to give)."""
    if expected is None:
        return not given
    return given is not None and hmac.compare_digest(given.encode(), expected.encode())
