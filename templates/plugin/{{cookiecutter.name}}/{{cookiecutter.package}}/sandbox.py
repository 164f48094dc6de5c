{%- set auth = cookiecutter.auth -%}
{%- set oauth = auth.startswith("oauth2") -%}
"""An emulator of the {{ cookiecutter.system }} API on 127.0.0.1.

The tests, the demo and `ihost sandbox {{ cookiecutter.name }}` run against it.

What it serves (errors: `{"error": {"code", "message"}}` with the status):

- `GET /api/ping`
- `GET /api/{entity}?updated_since=&offset=&limit=` -> `{"items", "total"}`: the records
  changed at or after `updated_since`, oldest first, at most PAGE_LIMIT a page
- `GET /api/{entity}/search?FIELD=VALUE&...` -> `{"items"}`: records whose every FIELD
  equals its VALUE (a FIELD given twice: one of them), e-mail addresses without case
- `POST /api/{entity}` -> 201 `{"id"}`; a repeat with the same `Idempotency-Key` answers the
  first id; a shipment, refund or feedback of an order it does not hold is refused, 404
- `PUT /api/{entity}/{id}` -> `{"id"}`; 404 for an id it does not hold
- `POST /api/stock` `{"levels": [{"sku", "quantity", "managed"}]}`
{%- if auth == "oauth2_authorization_code" %}
- `GET /oauth/authorize`, `POST /oauth/token`: OAuth2 authorization code; refresh tokens
  rotate on every use (host.sandbox_oauth)
{%- elif auth == "oauth2_client_credentials" %}
- `POST /oauth/token`: OAuth2 client credentials (host.sandbox_oauth)
{%- endif %}
"""

from __future__ import annotations
{% if auth == "basic" %}
import base64
{%- endif %}
import itertools
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import Sandbox
{%- if oauth %}
from host.sandbox_oauth import OAuth2Server, OAuth2Vendor
{%- endif %}
from host.vocabulary import ENTITIES

# TODO({{ cookiecutter.prefix | lower }}): answer as the real API does: paths, paging, errors, quirks

#: the most records one page holds
PAGE_LIMIT = 250
{%- if auth == "api_key" %}
CREDENTIALS = {"api_key": "sandbox-api-key-0123456789"}
{%- elif auth == "bearer" %}
CREDENTIALS = {"token": "sandbox-token-0123456789"}
{%- elif auth == "basic" %}
CREDENTIALS = {"username": "sandbox", "password": "sandbox-password-0123"}
{%- elif oauth %}
CREDENTIALS = {"client_id": "sandbox-client", "client_secret": "sandbox-secret-0123456789"}
{%- endif %}


def _error(status: int, code: str, message: str) -> JSONResponse:
    """An error answer in the API's shape."""
    return JSONResponse({"error": {"code": code, "message": message}}, status_code=status)
{%- if oauth %}


# TODO({{ cookiecutter.prefix | lower }}): the vendor's OAuth2 paths and rules (as in host.sandbox_oauth)
VENDOR = OAuth2Vendor(
    name="{{ cookiecutter.name }}",
    authorize_path="/oauth/authorize",
    token_path="/oauth/token",
    token_bodies=frozenset({"form"}),
    refresh_grace=False,
    max_refreshes_per_minute=None,
    describes_errors=True,
    unauthorized=lambda hint: {"error": {"code": "unauthorized", "message": hint}},
)
{%- endif %}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


def _instant(text: str) -> datetime:
    """A timestamp of the API (ISO 8601, `Z` for UTC)."""
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


class {{ cookiecutter.prefix }}Sandbox(Sandbox):
    """{{ cookiecutter.system }}, in memory."""

    name = "{{ cookiecutter.name }}"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tables: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.idempotency: dict[tuple[str, str], str] = {}
        self._ids = (str(n) for n in itertools.count(1000))
{%- if auth == "oauth2_authorization_code" %}
        self.oauth = OAuth2Server(
            VENDOR, client_id=CREDENTIALS["client_id"], client_secret=CREDENTIALS["client_secret"]
        )
{%- elif auth == "oauth2_client_credentials" %}
        self.oauth = OAuth2Server(
            VENDOR,
            client_id=CREDENTIALS["client_id"],
            client_secret=CREDENTIALS["client_secret"],
            grants=("client_credentials",),
        )
{%- endif %}

    def connection_settings(self) -> dict[str, Any]:
{%- if auth == "oauth2_authorization_code" %}
        return {
            "base_url": self.base_url,
            "authorize_url": self.base_url + VENDOR.authorize_path,
            "token_url": self.base_url + VENDOR.token_path,
            **CREDENTIALS,
        }
{%- elif auth == "oauth2_client_credentials" %}
        return {
            "base_url": self.base_url,
            "token_url": self.base_url + VENDOR.token_path,
            **CREDENTIALS,
        }
{%- elif auth == "none" %}
        return {"base_url": self.base_url}
{%- else %}
        return {"base_url": self.base_url, **CREDENTIALS}
{%- endif %}

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        if kind not in self.tables:
            raise ValueError(f"no kind {kind!r}; the kinds are {', '.join(self.tables)}")
        with self.lock:
            for record in records:
                row = {"id": next(self._ids), **record}
                row["id"] = str(row["id"])
                row["updated_at"] = row.get("updated_at") or _now()
                try:
                    zoned = _instant(str(row["updated_at"])).tzinfo is not None
                except ValueError:
                    zoned = False
                if not zoned:
                    raise ValueError(f"{kind} {row['id']}: updated_at is not an ISO time with zone")
                self.tables[kind][row["id"]] = row

    def dump(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.tables[kind].values()]

    def routes(self) -> list[BaseRoute]:
        return [
{%- if oauth %}
            *self.oauth.routes(),
{%- endif %}
            Route("/api/ping", self._ping),
            Route("/api/stock", self._stock, methods=["POST"]),
            Route("/api/{entity}/search", self._search),
            Route("/api/{entity}", self._list, methods=["GET"]),
            Route("/api/{entity}", self._create, methods=["POST"]),
            Route("/api/{entity}/{id}", self._update, methods=["PUT"]),
        ]

    def _refused(self, request: Request) -> Response | None:
        """None for a request the API takes, else its refusal: 401 without the sandbox's
        credentials, 404 for a collection it does not have."""
{%- if oauth %}
        if denied := self.oauth.check_bearer(request):
            return denied
{%- elif auth == "api_key" %}
        if request.headers.get("x-api-key") != CREDENTIALS["api_key"]:
            return _error(401, "unauthorized", "the API key is missing or wrong")
{%- elif auth == "bearer" %}
        if request.headers.get("authorization") != f"Bearer {CREDENTIALS['token']}":
            return _error(401, "unauthorized", "the token is missing or wrong")
{%- elif auth == "basic" %}
        pair = f"{CREDENTIALS['username']}:{CREDENTIALS['password']}".encode()
        if request.headers.get("authorization") != f"Basic {base64.b64encode(pair).decode()}":
            return _error(401, "unauthorized", "the user name or password is wrong")
{%- endif %}
        entity = request.path_params.get("entity")
        if entity is not None and entity not in self.tables:
            return _error(404, "not_found", f"no such collection: {entity}")
        return None

    async def _ping(self, request: Request) -> Response:
        return self._refused(request) or JSONResponse({"ok": True})

    async def _list(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        entity = request.path_params["entity"]
        try:
            offset = int(request.query_params.get("offset", "0"))
            limit = min(int(request.query_params.get("limit", "100")), PAGE_LIMIT)
            since = request.query_params.get("updated_since")
            after = _instant(since) if since else None
        except ValueError:
            return _error(400, "bad_request", "offset and limit are numbers, updated_since a time")
        with self.lock:
            rows = sorted(
                (
                    dict(r)
                    for r in self.tables[entity].values()
                    if after is None or _instant(r["updated_at"]) >= after
                ),
                key=lambda r: (_instant(r["updated_at"]), r["id"]),
            )
        return JSONResponse({"items": rows[offset : offset + limit], "total": len(rows)})

    async def _search(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        entity = request.path_params["entity"]
        wanted = {field: request.query_params.getlist(field) for field in request.query_params}
        if not wanted:
            return _error(400, "bad_request", "name a field to search by")

        def fold(field: str, value: Any) -> str:
            return str(value).lower() if field == "email" else str(value)

        def matches(row: dict[str, Any]) -> bool:
            return all(
                row.get(field) is not None
                and fold(field, row[field]) in {fold(field, v) for v in values}
                for field, values in wanted.items()
            )

        with self.lock:
            items = [dict(r) for r in self.tables[entity].values() if matches(r)]
        return JSONResponse({"items": items})

    async def _create(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        entity = request.path_params["entity"]
        body = await request.json()
        if entity == "products" and not body.get("sku"):
            return _error(422, "invalid", "sku is required")
        key = request.headers.get("idempotency-key")
        with self.lock:
            if key and (entity, key) in self.idempotency:
                return JSONResponse({"id": self.idempotency[(entity, key)]})
            order_id = str(body.get("order_id"))
            attached = entity in ("shipments", "refunds", "feedback")
            if attached and order_id not in self.tables["orders"]:
                return _error(404, "not_found", f"order {order_id} not found")
            record_id = next(self._ids)
            self.tables[entity][record_id] = {**body, "id": record_id, "updated_at": _now()}
            if key:
                self.idempotency[(entity, key)] = record_id
        return JSONResponse({"id": record_id}, status_code=201)

    async def _update(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        entity, record_id = request.path_params["entity"], request.path_params["id"]
        body = await request.json()
        with self.lock:
            if record_id not in self.tables[entity]:
                return _error(404, "not_found", f"{entity} {record_id} not found")
            self.tables[entity][record_id].update(body, updated_at=_now())
        return JSONResponse({"id": record_id})

    async def _stock(self, request: Request) -> Response:
        if refused := self._refused(request):
            return refused
        levels = (await request.json()).get("levels", [])
        with self.lock:
            by_sku = {r["sku"]: r for r in self.tables["stock"].values()}
            for level in levels:
                row = by_sku.get(level["sku"])
                if row is None:
                    row = {"id": next(self._ids), "sku": level["sku"]}
                    self.tables["stock"][row["id"]] = row
                row.update(on_hand=level["quantity"], managed=level["managed"], updated_at=_now())
        return JSONResponse({"count": len(levels)})
