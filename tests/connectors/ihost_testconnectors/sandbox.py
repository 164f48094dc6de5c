"""A small JSON REST system for the host's own tests, served on 127.0.0.1.

API (every call needs ``Authorization: Bearer <token>``, else 401
``{"error": "invalid token in '<the header given>'"}``):

- ``GET  /api/ping``
- ``GET  /api/{entity}?updated_since=ISO&limit=N&cursor=C`` -> ``{"items": [...], "next": C|null}``,
  ordered by updated_at then id
- ``GET  /api/{entity}/search?FIELD=a,b`` -> ``{"items": [...]}`` exact matches (e-mail
  ignoring case); for products, `sku` matches variant SKUs as well
- ``POST /api/{entity}`` -> 201 ``{"id": ...}``; with an ``Idempotency-Key`` header a repeated
  call returns the first record (200)
- ``PUT  /api/{entity}/{id}`` -> merges the given fields
- ``POST /api/stock`` ``{"levels": [{"sku", "quantity", "managed"}]}``, at most `stock_batch`
  levels a call (400 above), 422 naming an unknown SKU
- ``POST /api/customers/batch`` ``{"records": [...]}`` -> 201 ``{"ids": [...]}`` in the same
  order, at most `debtor_batch` records a call (400 above); all or nothing: a failure
  injected for any of its records (``/api/fail``) answers for the whole call, nothing made
  (unless ``"applied"``: all made, and the answer is the error)
- ``POST /api/fail`` (testing) ``{"entity": ..., "key": ..., "status": 500|422, "times": N}``
  makes the next N writes of that record answer with that status; optional: ``"message"``
  (the error's words), ``"delay"`` (seconds to wait first; with status 0 the write then
  goes through), ``"applied": true`` (the write is made, and its answer is the error)

Native records are flat JSON objects with an ``id`` and ``updated_at``.
"""

from __future__ import annotations

import asyncio
import itertools
import json
from datetime import datetime, timezone
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import Sandbox
from host.sandbox_oauth import LIGHTSPEED, OAuth2Server, OAuth2Vendor
from host.vocabulary import ENTITIES

TOKEN = "sandbox-token-0123456789"
_KEY_FIELD = {
    "orders": "source_key",
    "shipments": "source_key",
    "refunds": "source_key",
    "feedback": "source_key",
}


def _now() -> str:
    return datetime.now(timezone.utc).isoformat()


class RecordSandbox(Sandbox):
    """The emulated system: one table per entity, in memory."""

    name = "testshop"

    def __init__(self, *, stock_batch: int = 250, debtor_batch: int = 50, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.stock_batch = stock_batch
        self.debtor_batch = debtor_batch
        self.batches: list[int] = []  # the size of each customers batch made
        self.token = TOKEN
        self.tables: dict[str, dict[str, dict[str, Any]]] = {e: {} for e in ENTITIES}
        self.idempotency: dict[tuple[str, str], str] = {}
        self.failures: dict[tuple[str, str], dict[str, Any]] = {}
        self._ids = (f"r{n}" for n in itertools.count(1000))

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {"base_url": self.base_url, "token": self.token}

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        with self.lock:
            for record in records:
                record = dict(record)
                record.setdefault("id", str(next(self._ids)))
                record.setdefault("updated_at", _now())
                self.tables[kind][str(record["id"])] = record

    def dump(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            return [dict(r) for r in self.tables[kind].values()]

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/api/ping", self._ping),
            Route("/api/fail", self._fail, methods=["POST"]),
            Route("/api/stock", self._push_stock, methods=["POST"]),
            Route("/api/customers/batch", self._create_customers, methods=["POST"]),
            Route("/api/{entity}/search", self._search),
            Route("/api/{entity}", self._list, methods=["GET"]),
            Route("/api/{entity}", self._create, methods=["POST"]),
            Route("/api/{entity}/{id}", self._update, methods=["PUT"]),
        ]

    # --- handlers -------------------------------------------------------------------------

    def _authorised(self, request: Request) -> bool:
        return request.headers.get("authorization") == f"Bearer {self.token}"

    def _guard(self, request: Request) -> Response | None:
        if not self._authorised(request):
            # like some real APIs, it repeats what it was given: the host must redact it
            given = request.headers.get("authorization", "")
            return JSONResponse({"error": f"invalid token in {given!r}"}, status_code=401)
        entity = request.path_params.get("entity")
        if entity is not None and entity not in ENTITIES:
            return JSONResponse({"error": f"no such collection: {entity}"}, status_code=404)
        return None

    async def _ping(self, request: Request) -> Response:
        return self._guard(request) or JSONResponse({"ok": True})

    async def _fail(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        spec = await request.json()
        with self.lock:
            self.failures[(spec["entity"], spec["key"])] = {"times": 1, **spec}
        return JSONResponse({"ok": True})

    async def _injected(self, entity: str, key: str | None) -> dict[str, Any] | None:
        """The failure to inject into this write, once its delay has passed (None: none)."""
        with self.lock:
            spec = self.failures.get((entity, key or ""))
            if not spec or spec["times"] <= 0:
                return None
            spec["times"] -= 1
        if spec.get("delay"):
            await asyncio.sleep(spec["delay"])
        return spec if spec["status"] else None

    @staticmethod
    def _failure(spec: dict[str, Any], key: str | None) -> Response:
        message = spec.get("message") or f"injected failure for {key}"
        return JSONResponse({"error": message}, status_code=spec["status"])

    async def _list(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity = request.path_params["entity"]
        since = request.query_params.get("updated_since")
        limit = int(request.query_params.get("limit", "100"))
        offset = int(request.query_params.get("cursor", "0"))
        with self.lock:
            rows = sorted(
                (r for r in self.tables[entity].values() if not since or r["updated_at"] >= since),
                key=lambda r: (r["updated_at"], r["id"]),
            )
        page = rows[offset : offset + limit]
        more = offset + limit < len(rows)
        return JSONResponse({"items": page, "next": str(offset + limit) if more else None})

    async def _search(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity = request.path_params["entity"]
        if len(request.query_params) != 1:
            return JSONResponse({"error": "search takes exactly one field"}, status_code=400)
        field, raw = next(iter(request.query_params.items()))
        wanted = {v.lower() if field == "email" else v for v in raw.split(",")}

        def value_of(row: dict[str, Any]) -> set[str]:
            found = row.get(field)
            values = {str(found).lower() if field == "email" else str(found)} if found else set()
            if entity == "products" and field == "sku":
                values |= {v["sku"] for v in row.get("variants") or []}
            return values

        with self.lock:
            items = [dict(r) for r in self.tables[entity].values() if value_of(r) & wanted]
        return JSONResponse({"items": items})

    async def _create(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity = request.path_params["entity"]
        body = await request.json()
        if problem := self._invalid(entity, body):
            return JSONResponse({"error": problem}, status_code=422)
        record_key = body.get(_KEY_FIELD.get(entity, "key"))
        failure = await self._injected(entity, record_key)
        if failure and not failure.get("applied"):
            return self._failure(failure, record_key)
        key = request.headers.get("idempotency-key")
        with self.lock:
            if key and (entity, key) in self.idempotency:
                return JSONResponse({"id": self.idempotency[(entity, key)]}, status_code=200)
            record_id = str(next(self._ids))
            self.tables[entity][record_id] = {**body, "id": record_id, "updated_at": _now()}
            if key:
                self.idempotency[(entity, key)] = record_id
        if failure:  # made, but the caller never hears so
            return self._failure(failure, record_key)
        return JSONResponse({"id": record_id}, status_code=201)

    async def _create_customers(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        records = (await request.json()).get("records") or []
        if not 0 < len(records) <= self.debtor_batch:
            return JSONResponse(
                {"error": f"1 to {self.debtor_batch} records a call, got {len(records)}"},
                status_code=400,
            )
        failures: list[tuple[dict[str, Any], str | None]] = []
        for record in records:
            if spec := await self._injected("customers", record.get("key")):
                failures.append((spec, record.get("key")))
        refused = [(spec, key) for spec, key in failures if not spec.get("applied")]
        if refused:
            return self._failure(*refused[0])
        ids = []
        with self.lock:
            for body in records:
                ids.append(str(next(self._ids)))
                self.tables["customers"][ids[-1]] = {**body, "id": ids[-1], "updated_at": _now()}
            self.batches.append(len(records))
        if failures:  # made, but the caller never hears so
            return self._failure(*failures[0])
        return JSONResponse({"ids": ids}, status_code=201)

    async def _update(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        entity, record_id = request.path_params["entity"], request.path_params["id"]
        body = await request.json()
        with self.lock:
            if record_id not in self.tables[entity]:
                return JSONResponse({"error": f"{entity} {record_id} not found"}, status_code=404)
            record_key = self.tables[entity][record_id].get("key")
        failure = await self._injected(entity, record_key)
        if failure and not failure.get("applied"):
            return self._failure(failure, record_key)
        with self.lock:
            self.tables[entity][record_id].update(body, updated_at=_now())
        if failure:
            return self._failure(failure, record_key)
        return JSONResponse({"id": record_id})

    async def _push_stock(self, request: Request) -> Response:
        if denied := self._guard(request):
            return denied
        levels = (await request.json()).get("levels", [])
        if len(levels) > self.stock_batch:
            return JSONResponse(
                {"error": f"at most {self.stock_batch} levels a call, got {len(levels)}"},
                status_code=400,
            )
        with self.lock:
            known = {p.get("sku") for p in self.tables["products"].values()} | {
                v["sku"] for p in self.tables["products"].values() for v in p.get("variants") or []
            }
            unknown = [level["sku"] for level in levels if level["sku"] not in known]
            if unknown:
                return JSONResponse({"error": f"unknown sku {unknown[0]}"}, status_code=422)
            by_sku = {r["sku"]: r for r in self.tables["stock"].values()}
            for level in levels:
                row = by_sku.get(level["sku"])
                if row is None:
                    row = {"id": str(next(self._ids)), "sku": level["sku"]}
                    self.tables["stock"][row["id"]] = row
                row.update(
                    on_hand=level["quantity"], managed=level.get("managed", True), updated_at=_now()
                )
        return JSONResponse({"ok": True, "count": len(levels)})

    @staticmethod
    def _invalid(entity: str, body: dict[str, Any]) -> str | None:
        if entity == "products" and not body.get("sku"):
            return "sku is required"
        if entity == "products" and body.get("images") and not isinstance(body["images"], list):
            return "images must be a list"
        if entity in ("shipments", "refunds") and not body.get("order_id"):
            return "order_id is required"
        return None


class OAuthRecordSandbox(RecordSandbox):
    """RecordSandbox behind OAuth2 authorization code with rotating refresh tokens, as
    `vendor` runs it (Lightspeed by default): `oauth` is the OAuth2Server; every API call
    needs one of its access tokens, and is refused in the vendor's shape without."""

    name = "testoauth"
    client_id = "testoauth-client"
    client_secret = "testoauth-secret-0123456789"

    def __init__(self, *, vendor: OAuth2Vendor = LIGHTSPEED, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.oauth = OAuth2Server(
            vendor, client_id=self.client_id, client_secret=self.client_secret
        )

    def connection_settings(self) -> dict[str, Any]:
        return {
            "base_url": self.base_url,
            "authorize_url": self.base_url + self.oauth.vendor.authorize_path,
            "token_url": self.base_url + self.oauth.vendor.token_path,
            "client_id": self.client_id,
            "client_secret": self.client_secret,
        }

    def routes(self) -> list[BaseRoute]:
        return [*self.oauth.routes(), *super().routes()]

    def _guard(self, request: Request) -> Response | None:
        return self.oauth.check_bearer(request) or super()._guard(request)

    def _authorised(self, request: Request) -> bool:
        return True  # the OAuth2 server has checked the bearer token

    def stop(self) -> None:
        self.oauth.release_token_answers()
        super().stop()


def webhook_body(entity: str, keys: list[str]) -> bytes:
    """The body the system sends to a webhook subscriber."""
    return json.dumps({"entity": entity, "keys": keys}).encode()
