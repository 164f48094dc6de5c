"""An emulator of the {{ cookiecutter.system }} API on 127.0.0.1 (DESIGN §9).

It serves the API the generated client calls. Make it speak the real system's API: its
paths, paging, error bodies and quirks, so that the connector is tested against them.

- `GET /api/ping`; `GET /api/{entity}?updated_since=&limit=&cursor=` -> `{"items", "next"}`
- `GET /api/{entity}/search?FIELD=a,b` (exact, e-mail without case)
- `POST /api/{entity}` (an `Idempotency-Key` repeats the first answer), `PUT /api/{entity}/{id}`
- `POST /api/stock` `{"levels": [{"sku", "quantity", "managed"}]}`
{%- if cookiecutter.auth == "oauth2_client_credentials" %}
- `POST /oauth/token` (client credentials) -> `{"access_token", "expires_in"}`
{%- endif %}
"""

from __future__ import annotations

{%- if cookiecutter.auth == "basic" %}
import base64
{%- endif %}
import itertools
import secrets
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import Sandbox

ENTITIES = ("orders", "products", "stock", "customers", "shipments", "refunds")
{%- if cookiecutter.auth == "api_key" %}
CREDENTIALS = {"api_key": "sandbox-api-key-0123456789"}
{%- elif cookiecutter.auth == "bearer" %}
CREDENTIALS = {"token": "sandbox-token-0123456789"}
{%- elif cookiecutter.auth == "basic" %}
CREDENTIALS = {"username": "sandbox", "password": "sandbox-password-0123"}
{%- elif cookiecutter.auth == "oauth2_client_credentials" %}
CREDENTIALS = {"client_id": "sandbox-client", "client_secret": "sandbox-secret-0123456789"}
{%- else %}
CREDENTIALS: dict[str, str] = {}
{%- endif %}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class SystemSandbox(Sandbox):
    """{{ cookiecutter.system }}, in memory."""

    name = "{{ cookiecutter.name }}"

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.tables: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.tokens: set[str] = set()
        self._ids = (f"{n}" for n in itertools.count(1000))

    def connection_settings(self) -> dict[str, Any]:
        return {"base_url": self.base_url, **CREDENTIALS}

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        with self.lock:
            for record in records:
                row = {"id": next(self._ids), **record}
                row["updated_at"] = row.get("updated_at") or _now()
                self.tables[kind][str(row["id"])] = row

    def dump(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.tables[kind].values()]

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/oauth/token", self._token, methods=["POST"]),
            Route("/api/ping", self._ping),
            Route("/api/stock", self._stock, methods=["POST"]),
            Route("/api/{entity}/search", self._search),
            Route("/api/{entity}", self._list, methods=["GET"]),
            Route("/api/{entity}", self._create, methods=["POST"]),
            Route("/api/{entity}/{id}", self._update, methods=["PUT"]),
        ]

    # --- authentication -------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        header = request.headers.get("authorization", "")
{%- if cookiecutter.auth == "api_key" %}
        return request.headers.get("x-api-key") == CREDENTIALS["api_key"]
{%- elif cookiecutter.auth == "bearer" %}
        return header == f"Bearer {CREDENTIALS['token']}"
{%- elif cookiecutter.auth == "basic" %}
        expected = base64.b64encode(
            f"{CREDENTIALS['username']}:{CREDENTIALS['password']}".encode()
        ).decode()
        return header == f"Basic {expected}"
{%- elif cookiecutter.auth == "oauth2_client_credentials" %}
        return header.startswith("Bearer ") and header[len("Bearer ") :] in self.tokens
{%- else %}
        return True  # the system takes no credentials
{%- endif %}

    async def _token(self, request: Request) -> Response:
        form = {k: v[0] for k, v in parse_qs((await request.body()).decode()).items()}
        if (form.get("client_id"), form.get("client_secret")) != (
            CREDENTIALS.get("client_id"), CREDENTIALS.get("client_secret")
        ) or form.get("grant_type") != "client_credentials":
            return JSONResponse({"error": "invalid_client"}, status_code=401)
        token = secrets.token_hex(16)
        self.tokens.add(token)
        return JSONResponse({"access_token": token, "token_type": "Bearer", "expires_in": 3600})

    def _guard(self, request: Request) -> Response | None:
        if not self._authorised(request):
            return JSONResponse({"error": "unauthorised"}, status_code=401)
        entity = request.path_params.get("entity")
        if entity is not None and entity not in ENTITIES:
            return JSONResponse({"error": f"no such collection: {entity}"}, status_code=404)
        return None

    # --- the API --------------------------------------------------------------------------

    async def _ping(self, request: Request) -> Response:
        return self._guard(request) or JSONResponse({"ok": True})

    async def _list(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity = request.path_params["entity"]
        since = request.query_params.get("updated_since")
        limit = int(request.query_params.get("limit", "100"))
        offset = int(request.query_params.get("cursor", "0"))
        with self.lock:
            rows = sorted((r for r in self.tables[entity].values()
                           if not since or r["updated_at"] >= since),
                          key=lambda r: (r["updated_at"], r["id"]))
        more = offset + limit < len(rows)
        return JSONResponse({"items": rows[offset : offset + limit],
                             "next": str(offset + limit) if more else None})

    async def _search(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity = request.path_params["entity"]
        field, raw = next(iter(request.query_params.items()), ("", ""))
        fold = (lambda v: str(v).lower()) if field == "email" else str
        wanted = {fold(v) for v in raw.split(",")}
        with self.lock:
            items = [dict(r) for r in self.tables[entity].values()
                     if r.get(field) is not None and fold(r[field]) in wanted]
        return JSONResponse({"items": items})

    async def _create(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity = request.path_params["entity"]
        body = await request.json()
        if entity == "products" and not body.get("sku"):
            return JSONResponse({"error": "sku is required"}, status_code=422)
        key = request.headers.get("idempotency-key")
        with self.lock:
            if key and (entity, key) in self.idempotency:
                return JSONResponse({"id": self.idempotency[(entity, key)]})
            record_id = next(self._ids)
            self.tables[entity][record_id] = {**body, "id": record_id, "updated_at": _now()}
            if key:
                self.idempotency[(entity, key)] = record_id
        return JSONResponse({"id": record_id}, status_code=201)

    async def _update(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity, record_id = request.path_params["entity"], request.path_params["id"]
        body = await request.json()
        with self.lock:
            if record_id not in self.tables[entity]:
                return JSONResponse({"error": f"{entity} {record_id} not found"}, status_code=404)
            self.tables[entity][record_id].update(body, updated_at=_now())
        return JSONResponse({"id": record_id})

    async def _stock(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
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
