"""Authenticators for connector clients, and the context the host gives a connector.

Each authenticator is an ``httpx.Auth``: hand the one your remote documents to the
client, ``HttpClient(base_url, auth=Bearer(token))``.

- ``ApiKeyHeader(name, value, prefix=None)``: a key in a header of its own
  (``X-Shopify-Access-Token``) or after a scheme (``prefix="AfasToken"``);
- ``ApiKeyQuery(name, value)``: a key in the query string;
- ``Bearer(token)``: ``Authorization: Bearer <token>``;
- ``BasicWithBodyKey(user, password, field, key)``: HTTP Basic, plus ``field: key`` in the
  JSON body of every POST, PUT and PATCH (BuchhaltungsButler's ``api_key``);
- ``TokenLogin(url, credentials)``: logs in with a JSON body, sends the token it gets as
  Bearer, logs in again once when a request is refused with 401 (Feeddex);
- ``OAuth2ClientCredentials(token_url, client_id, client_secret, scope=None)``;
- ``OAuth2AuthorizationCode(...)``: tokens from ``ihost auth CONNECTION``, kept in the store
  encrypted (host.tokens), refreshed shortly before they expire or once on a 401; refresh
  tokens that rotate are stored before the new access token is used (Lightspeed, Asperion).

Every secret handed to an authenticator and every token it receives is registered with
the redactor (host.secrets), so none reaches a log line, an event or an error message.
Token endpoints are called through HttpClient: their retries spend the current record's
retry budget (host.retry). A refusal raises AuthError with the remote's own words and says
what to do (``ihost auth CONNECTION`` when the connection must be authorized again).
"""

from __future__ import annotations

import base64
import hashlib
import json
import logging
import math
import secrets
import threading
import time
from collections.abc import Generator, Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal
from urllib.parse import urlencode

import httpx

from host.errors import AuthError, RemoteUnavailable, TransientError
from host.http import HttpClient
from host.ledger import Ledger
from host.secrets import redact, redactor, secret_problem

if TYPE_CHECKING:
    from host.tokens import StoredTokens, TokenVault

log = logging.getLogger(__name__)

__all__ = [
    "ApiKeyHeader",
    "ApiKeyQuery",
    "BasicWithBodyKey",
    "Bearer",
    "ConnectorContext",
    "OAuth2AuthorizationCode",
    "OAuth2ClientCredentials",
    "TokenLogin",
    "Tokens",
    "pkce_pair",
]

#: refresh an access token this many seconds before it expires
REFRESH_BEFORE = 60.0
_BODY_METHODS = frozenset({"POST", "PUT", "PATCH"})


@dataclass(frozen=True, repr=False)
class Tokens:
    """An access token, the refresh token that renews it, and when the access token expires
    (seconds since the epoch; None when the remote did not say)."""

    access_token: str
    refresh_token: str | None = None
    expires_at: float | None = None
    token_type: str = "Bearer"
    scope: str | None = None

    def __repr__(self) -> str:  # never a token in a log line or a traceback
        refresh = "***" if self.refresh_token else None
        return f"Tokens(access_token=***, refresh_token={refresh}, expires_at={self.expires_at})"

    def due(self, leeway: float, now: float | None = None) -> bool:
        """Whether the access token expires within `leeway` seconds."""
        if self.expires_at is None:
            return False
        return (time.time() if now is None else now) >= self.expires_at - leeway

    @classmethod
    def from_answer(cls, answer: Mapping[str, Any], keep_refresh: str | None = None) -> Tokens:
        """The tokens of a token endpoint's answer (RFC 6749 §5.1), registered as secrets.
        An answer without a refresh token keeps `keep_refresh`. ValueError names what is
        missing."""
        if not isinstance(answer, Mapping):
            raise ValueError("the answer is not a JSON object")
        access = answer.get("access_token")
        if not isinstance(access, str) or not access:
            raise ValueError("the answer holds no access_token")
        if problem := secret_problem(access):  # it could not go into a header
            raise ValueError(f"its access_token {problem}")
        refresh = answer.get("refresh_token")
        if refresh is not None and not isinstance(refresh, str):
            raise ValueError("its refresh_token is not a string")
        expires_in = answer.get("expires_in")
        try:
            lifetime = None if expires_in is None else float(expires_in)
        except (TypeError, ValueError):
            lifetime = math.nan
        if isinstance(expires_in, bool) or not (lifetime is None or 0 <= lifetime < math.inf):
            raise ValueError(f"its expires_in is not a number of seconds: {expires_in!r}")
        tokens = cls(
            access_token=access,
            refresh_token=refresh or keep_refresh,
            expires_at=time.time() + lifetime if lifetime is not None else None,
            token_type=str(answer.get("token_type") or "Bearer"),
            scope=answer.get("scope") if isinstance(answer.get("scope"), str) else None,
        )
        tokens.register()
        return tokens

    def register(self) -> None:
        """Make the redactor blank these tokens out of every output."""
        redactor.add(self.access_token)
        redactor.add(self.refresh_token)


@dataclass(frozen=True)
class ConnectorContext:
    """What the host hands a connector besides its settings.

    A connector whose constructor takes a ``context`` parameter receives it:
    ``def __init__(self, settings: Settings, context: ConnectorContext) -> None``
    (one without it is built as ``cls(settings)``).

    - ``connection``: the configured connection's name (use it in messages; ``ihost auth``
      takes it);
    - ``tokens``: where the connection's OAuth2 tokens are kept: pass it on as
      ``OAuth2AuthorizationCode(..., vault=context.tokens)``. None when a Connection is
      built without a configuration (the contract kit, tests): tokens then live in memory.
    - ``ledger``: what the connection keeps in the store to know what it has read or
      written before (host.ledger.Ledger); in memory without a configuration.
    """

    connection: str
    tokens: TokenVault | None = None
    ledger: Ledger = None  # type: ignore[assignment]  # set in __post_init__

    def __post_init__(self) -> None:
        if self.ledger is None:
            object.__setattr__(self, "ledger", Ledger(None, self.connection))


# --- static credentials ---------------------------------------------------------------------


class ApiKeyHeader(httpx.Auth):
    """Send `value` in header `name`; with `prefix`, as ``<prefix> <value>`` (AFAS:
    ``ApiKeyHeader("Authorization", base64_token, prefix="AfasToken")``)."""

    def __init__(self, name: str, value: str, *, prefix: str | None = None) -> None:
        self.name = name
        self._value = f"{prefix} {value}" if prefix else value
        redactor.add(value)
        redactor.add(self._value)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers[self.name] = self._value
        yield request


class Bearer(ApiKeyHeader):
    """Send ``Authorization: Bearer <token>``."""

    def __init__(self, token: str) -> None:
        super().__init__("Authorization", token, prefix="Bearer")


class ApiKeyQuery(httpx.Auth):
    """Send `value` as query parameter `name` of every request."""

    def __init__(self, name: str, value: str) -> None:
        self.name = name
        self._value = value
        redactor.add(value)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.url = request.url.copy_merge_params({self.name: self._value})
        yield request


class Basic(httpx.BasicAuth):
    """HTTP Basic with `user` and `password`, both masked in every output."""

    def __init__(self, user: str, password: str) -> None:
        super().__init__(user, password)
        for value in (user, password):
            redactor.add(value)


class BasicWithBodyKey(httpx.Auth):
    """HTTP Basic with `user` and `password`, and ``field: key`` merged into the JSON object
    body of every POST, PUT and PATCH (a request without a body gets ``{field: key}``).
    A body that is not a JSON object is refused with ValueError."""

    requires_request_body = True

    def __init__(self, user: str, password: str, field: str, key: str) -> None:
        self.field = field
        self._key = key
        self._basic = httpx.BasicAuth(user, password)
        for value in (user, password, key):
            redactor.add(value)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if request.method in _BODY_METHODS:
            request = self._with_key(request)
        yield from self._basic.auth_flow(request)

    def _with_key(self, request: httpx.Request) -> httpx.Request:
        body: Any = {}
        if request.content:
            if not request.headers.get("content-type", "").startswith("application/json"):
                raise ValueError(f"{self.field} goes into a JSON body; this request sends another")
            body = json.loads(request.content)
            if not isinstance(body, dict):
                raise ValueError(f"{self.field} goes into a JSON object; the body is not one")
        headers = [
            (name, value)
            for name, value in request.headers.multi_items()
            if name.lower() not in ("content-length", "content-type")
        ]
        return httpx.Request(
            request.method,
            request.url,
            headers=headers,
            json={**body, self.field: self._key},
            extensions=request.extensions,
        )


# --- tokens the authenticator obtains -------------------------------------------------------


class _RenewingBearer(httpx.Auth):
    """Sends a bearer token it obtains itself, and renews it once when refused with 401."""

    requires_request_body = True  # a refused request is sent again

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        token = self._valid_token()
        request.headers["Authorization"] = f"Bearer {token}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self._renewed(token)}"
            yield request

    def _valid_token(self) -> str:
        """A token that has not expired (obtained or renewed first when needed)."""
        raise NotImplementedError

    def _renewed(self, refused: str) -> str:
        """A token other than `refused` (another thread's renewal, or a new one)."""
        raise NotImplementedError


class _Refused(AuthError):
    """The token endpoint refused a grant (4xx, with an OAuth2 error body or without)."""

    def __init__(self, status: int, error: str, description: str) -> None:
        super().__init__(f"{status} {error}: {description}" if description else error)
        self.status = status
        self.error = error


class _TokenEndpoint(HttpClient):
    """An OAuth2 token endpoint. Its requests are safe to repeat (so a lost answer is asked
    again: a rotated refresh token stays valid until the new access token is used), and
    its refusals carry the remote's ``error`` and ``error_description``."""

    def __init__(
        self,
        url: str,
        client_id: str,
        client_secret: str | None,
        *,
        client_auth: Literal["body", "basic"],
        body: Literal["form", "json"],
        timeout: float,
        retries: int,
        name: str | None,
    ) -> None:
        basic = httpx.BasicAuth(client_id, client_secret or "") if client_auth == "basic" else None
        super().__init__(url, auth=basic, timeout=timeout, retries=retries, name=name)
        self.url = url
        self.body = body
        self.client_fields = {"client_id": client_id} if client_auth == "body" else {}
        if client_auth == "body" and client_secret:
            self.client_fields["client_secret"] = client_secret
        redactor.add(client_secret)

    def observe(self, response: httpx.Response) -> None:
        # before HttpClient's own mapping: a refusal keeps the remote's OAuth2 error
        status = response.status_code
        if 400 <= status < 500 and status not in (408, 429):
            response.read()
            try:
                answer = response.json()
            except ValueError:
                answer = None
            if not isinstance(answer, dict):
                raise _Refused(status, f"HTTP {status}", response.text.strip()[:300])
            words = [answer.get("error_description"), answer.get("hint")]
            description = "; ".join(str(w) for w in words if w)
            raise _Refused(status, str(answer.get("error") or f"HTTP {status}"), description)

    def grant(self, fields: Mapping[str, str], what: str, hint: str) -> Tokens:
        """POST a grant; the tokens it answers with. `what` names the grant in messages,
        `hint` says what to do when the grant itself is refused."""
        payload = {**fields, **self.client_fields}
        try:
            response = self.request(
                "POST",
                self.url,
                data=payload if self.body == "form" else None,
                json=payload if self.body == "json" else None,
                headers={"Accept": "application/json"},
                idempotent=True,
            )
        except _Refused as refused:
            if refused.error in ("invalid_client", "unauthorized_client") or refused.status == 401:
                advice = "; check the client id and secret of the connection"
            elif refused.error == "invalid_grant" and hint:
                advice = f"; {hint}"
            else:
                advice = ""
            raise AuthError(
                redact(f"{self.name}: the token endpoint refused the {what} ({refused})") + advice
            ) from None
        except TransientError as exc:  # the retry budget is spent: nothing to repeat above
            raise RemoteUnavailable(
                f"{self.name}: no tokens from the token endpoint: {exc}"
            ) from None
        try:
            return Tokens.from_answer(response.json(), keep_refresh=fields.get("refresh_token"))
        except ValueError as exc:
            raise AuthError(
                redact(f"{self.name}: the token endpoint's answer to the {what} is unusable: {exc}")
            ) from None


class _OAuth2Bearer(_RenewingBearer):
    """A bearer token from an OAuth2 token endpoint, kept with its lock (both grants)."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str | None,
        *,
        client_auth: Literal["body", "basic"],
        token_body: Literal["form", "json"],
        refresh_before: float,
        timeout: float,
        retries: int,
        name: str | None,
    ) -> None:
        self.refresh_before = refresh_before
        self._endpoint = _TokenEndpoint(
            token_url,
            client_id,
            client_secret,
            client_auth=client_auth,
            body=token_body,
            timeout=timeout,
            retries=retries,
            name=name,
        )
        self._tokens: Tokens | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._endpoint.close()


class TokenLogin(_RenewingBearer):
    """Log in by POSTing the JSON `credentials` to `url`, take the token from the answer's
    `token_field`, and send it as Bearer; log in again once when a request gets 401.
    Every value in `credentials` is treated as a secret."""

    def __init__(
        self,
        url: str,
        credentials: Mapping[str, str],
        *,
        token_field: str = "token",
        timeout: float = 30.0,
        retries: int = 3,
        name: str | None = None,
    ) -> None:
        self.url = url
        self.token_field = token_field
        self._credentials = dict(credentials)
        for value in self._credentials.values():
            redactor.add(value)
        self._client = HttpClient(url, timeout=timeout, retries=retries, name=name)
        self._token: str | None = None
        self._lock = threading.Lock()

    def close(self) -> None:
        self._client.close()

    def _valid_token(self) -> str:
        with self._lock:
            if self._token is None:
                self._token = self._login()
            return self._token

    def _renewed(self, refused: str) -> str:
        with self._lock:
            if self._token is None or self._token == refused:
                self._token = self._login()
            return self._token

    def _login(self) -> str:
        try:
            response = self._client.request(
                "POST", self.url, json=self._credentials, idempotent=True
            )
            answer = response.json()
        except TransientError as exc:  # the retry budget is spent: nothing to repeat above
            raise RemoteUnavailable(f"{self._client.name}: no login: {exc}") from None
        except ValueError:
            answer = None
        token = answer.get(self.token_field) if isinstance(answer, dict) else None
        if not isinstance(token, str) or not token:
            raise AuthError(f"{self._client.name}: the login answered without a {self.token_field}")
        redactor.add(token)
        return token


class OAuth2ClientCredentials(_OAuth2Bearer):
    """OAuth2 client credentials (RFC 6749 §4.4): a token from `token_url`, kept in memory
    until `refresh_before` seconds before it expires, and fetched again once on a 401.
    `client_auth` "body" sends client_id and client_secret as fields, "basic" as HTTP
    Basic; `token_body` "form" or "json" is how the fields are sent."""

    def __init__(
        self,
        token_url: str,
        client_id: str,
        client_secret: str,
        scope: str | None = None,
        *,
        client_auth: Literal["body", "basic"] = "body",
        token_body: Literal["form", "json"] = "form",
        refresh_before: float = REFRESH_BEFORE,
        timeout: float = 30.0,
        retries: int = 3,
        name: str | None = None,
    ) -> None:
        super().__init__(
            token_url,
            client_id,
            client_secret,
            client_auth=client_auth,
            token_body=token_body,
            refresh_before=refresh_before,
            timeout=timeout,
            retries=retries,
            name=name,
        )
        self.scope = scope

    def _valid_token(self) -> str:
        with self._lock:
            if self._tokens is None or self._tokens.due(self.refresh_before):
                self._tokens = self._fetch()
            return self._tokens.access_token

    def _renewed(self, refused: str) -> str:
        with self._lock:
            if self._tokens is None or self._tokens.access_token == refused:
                self._tokens = self._fetch()
            return self._tokens.access_token

    def _fetch(self) -> Tokens:
        fields = {"grant_type": "client_credentials"}
        if self.scope:
            fields["scope"] = self.scope
        return self._endpoint.grant(fields, "client credentials", "")


def pkce_pair() -> tuple[str, str]:
    """A PKCE code verifier and its S256 code challenge (RFC 7636)."""
    verifier = secrets.token_urlsafe(64)
    digest = hashlib.sha256(verifier.encode("ascii")).digest()
    return verifier, base64.urlsafe_b64encode(digest).decode("ascii").rstrip("=")


class OAuth2AuthorizationCode(_OAuth2Bearer):
    """OAuth2 authorization code (RFC 6749 §4.1) with refresh, for remotes a merchant
    authorizes once in a browser (``ihost auth CONNECTION``).

    Build it with the connection's vault, ``vault=context.tokens``: the tokens are read
    from the store, refreshed `refresh_before` seconds before the access token expires (or
    once when the remote answers 401), and each new set is stored before its access token
    is used. One process at a time refreshes a connection (a lock across processes); one
    that finds the tokens refreshed by another meanwhile uses those. A refresh whose answer
    was lost is asked again with the same refresh token, within the retry budget.

    `pkce` adds an S256 code challenge; `client_secret` may then be None for a public
    client. `redirect_uri` is the one registered with the remote (None: ``ihost auth``
    listens on a free port of 127.0.0.1). `token_body`, `client_auth` as for
    OAuth2ClientCredentials. Without a vault the tokens live in this object only.
    """

    def __init__(
        self,
        authorize_url: str,
        token_url: str,
        client_id: str,
        client_secret: str | None = None,
        *,
        scope: str | None = None,
        redirect_uri: str | None = None,
        pkce: bool = False,
        token_body: Literal["form", "json"] = "form",
        client_auth: Literal["body", "basic"] = "body",
        vault: TokenVault | None = None,
        refresh_before: float = REFRESH_BEFORE,
        timeout: float = 30.0,
        retries: int = 3,
        name: str | None = None,
    ) -> None:
        self.authorize_url = authorize_url
        self.client_id = client_id
        self.scope = scope
        self.redirect_uri = redirect_uri
        self.pkce = pkce
        self.vault = vault
        self.connection = vault.connection if vault is not None else (name or "this connection")
        super().__init__(
            token_url,
            client_id,
            client_secret,
            client_auth=client_auth,
            token_body=token_body,
            refresh_before=refresh_before,
            timeout=timeout,
            retries=retries,
            name=name,
        )
        self._version: int | None = None  # of the stored tokens this object holds

    @property
    def _reauthorize(self) -> str:
        return f"run `ihost auth {self.connection}` to authorize the connection again"

    # --- the authorization (ihost auth) -----------------------------------------------

    def authorization_url(
        self, redirect_uri: str, state: str, code_challenge: str | None = None
    ) -> str:
        """The URL a browser opens to let the merchant allow access; the remote sends it back
        to `redirect_uri` with a code and `state`."""
        params = {"response_type": "code", "client_id": self.client_id}
        params["redirect_uri"] = redirect_uri
        if self.scope:
            params["scope"] = self.scope
        params["state"] = state
        if code_challenge:
            params["code_challenge"] = code_challenge
            params["code_challenge_method"] = "S256"
        separator = "&" if "?" in self.authorize_url else "?"
        return f"{self.authorize_url}{separator}{urlencode(params)}"

    def exchange(self, code: str, redirect_uri: str, code_verifier: str | None = None) -> None:
        """Exchange an authorization code for tokens and store them (replacing any)."""
        redactor.add(code)
        redactor.add(code_verifier)
        fields = {"grant_type": "authorization_code", "code": code, "redirect_uri": redirect_uri}
        if code_verifier:
            fields["code_verifier"] = code_verifier
        hint = f"run `ihost auth {self.connection}` again (a code is valid for a minute, once)"
        tokens = self._endpoint.grant(fields, "authorization code", hint)
        with self._lock:
            if self.vault is None:
                self._tokens, self._version = tokens, None
                return
            with self.vault.locked():
                self._version = self.vault.write(tokens)
            self._tokens = tokens

    # --- using and refreshing the tokens ----------------------------------------------

    def _valid_token(self) -> str:
        with self._lock:
            if self._tokens is None:
                self._adopt(self._stored())
            assert self._tokens is not None
            if self._tokens.due(self.refresh_before):
                self._refresh()
            return self._tokens.access_token

    def _renewed(self, refused: str) -> str:
        with self._lock:
            assert self._tokens is not None
            if self._tokens.access_token == refused:
                self._refresh()
            return self._tokens.access_token

    def _stored(self) -> StoredTokens:
        stored = self.vault.read() if self.vault is not None else None
        if stored is None:
            raise AuthError(
                f"{self.connection} is not authorized yet: run `ihost auth {self.connection}`"
            )
        return stored

    def _adopt(self, stored: StoredTokens) -> None:
        self._tokens, self._version = stored.tokens, stored.version

    def _refresh(self) -> None:
        """Renew the tokens (the caller holds self._lock)."""
        if self.vault is None:
            assert self._tokens is not None
            self._tokens = self._grant_refresh(self._tokens)
            return
        with self.vault.locked():
            stored = self._stored()
            if stored.version != self._version and not stored.tokens.due(self.refresh_before):
                log.info("%s: using the OAuth2 tokens another process refreshed", self.connection)
                self._adopt(stored)
                return
            tokens = self._grant_refresh(stored.tokens)
            log.info("%s: refreshed the OAuth2 tokens; storing them", self.connection)
            version = self.vault.write(tokens, expected_version=stored.version)
            log.info("%s: stored the new OAuth2 tokens (version %d)", self.connection, version)
            self._tokens, self._version = tokens, version

    def _grant_refresh(self, tokens: Tokens) -> Tokens:
        if not tokens.refresh_token:
            raise AuthError(
                f"{self.connection}: the access token expired and the remote gave no refresh "
                f"token; {self._reauthorize}"
            )
        fields = {"grant_type": "refresh_token", "refresh_token": tokens.refresh_token}
        return self._endpoint.grant(fields, "refresh token", self._reauthorize)
