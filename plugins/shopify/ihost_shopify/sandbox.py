"""A Shopify Admin GraphQL API emulator on 127.0.0.1 (DESIGN §9, api/shopify.md).

`POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`, answered as
Shopify does:

- The version is echoed in `X-Shopify-API-Version`; a version older than the oldest
  supported one falls forward to it, and one that is not a version is a 404.
- A request is validated against Shopify's own schema when its file is beside the
  repository, then against the sandbox's schema (admin.graphql): what Shopify has and
  the sandbox does not emulate is refused with "not emulated by the ihost sandbox" and
  `extensions.code` NOT_EMULATED, never answered with a silent null. Validation errors
  carry Shopify's `extensions.code` (undefinedField, argumentNotAccepted, ...).
- A leaky cost bucket (configurable size and restore rate) is charged the requested
  cost before execution, THROTTLED with HTTP 200 when it runs dry, and refunded the
  difference to the actual cost afterwards; `extensions.cost` on every answer.
- Connections page with `first/after/last/before/reverse` and need `first` or `last`;
  references (`productVariant { product { title } }`) resolve to their records;
  `node(id:)`/`nodes(ids:)` find any record; sort keys and search as documented.
- Mutations answer `userErrors` for bad input; from API 2026-04 on,
  inventorySetQuantities needs `changeFromQuantity` and an `@idempotent` key.
- Bulk queries (sandbox_bulk.py); webhooks sent on the shop's own events to the subscriptions
  registered with `subscribe` (topics as Shopify names them, bodies REST-shaped).

Seeding takes Shopify's GraphQL shape (store.py) through `seed`, over HTTP
(`POST /_sandbox/seed/{kind}`) or from a file (`ihost sandbox shopify --seed FILE`).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import threading
import time
import uuid
from collections.abc import Callable
from typing import Any

import httpx
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute_sync,
    parse,
    validate,
)
from graphql.execution.values import get_variable_values
from graphql.language import FragmentDefinitionNode
from starlette.requests import Request
from starlette.responses import FileResponse, JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import NOT_EMULATED, Sandbox
from ihost_shopify import resolvers
from ihost_shopify.sandbox_bulk import DOWNLOAD_PATH, BulkOperations
from ihost_shopify.schema import actual_cost, requested_cost, sandbox_schema, vendor_schema
from ihost_shopify.store import (
    DEFAULT_LOCATION,
    KINDS,
    Records,
    SeedError,
    gid_type,
    now_iso,
    numeric_id,
)

log = logging.getLogger(__name__)
TOKEN = "shpat_sandbox0123456789abcdef"
APP_SECRET = "sandbox-app-secret-42"
MAX_QUERY_COST = 1000
#: the oldest version the sandbox serves; an older one falls forward to it, as Shopify's do
OLDEST_VERSION = "2025-01"
WEBHOOKS_PATH = "/_sandbox/webhooks"
VERSION = re.compile(r"^(\d{4})-(01|04|07|10)$")
__all__ = ["DEFAULT_LOCATION", "TOKEN", "ShopifySandbox", "now_iso"]

#: graphql-core's validation messages and Shopify's (GraphQL Ruby) codes for them
VALIDATION_CODES = (
    ("Cannot query field", "undefinedField"),
    ("Unknown argument", "argumentNotAccepted"),
    ("is required, but it was not provided", "missingRequiredArguments"),
    ("Unknown type", "undefinedType"),
    ("Unknown fragment", "undefinedFragment"),
    ("is never used", "variableNotUsed"),
    ("is not defined", "variableNotDefined"),
    ("used in position expecting", "variableMismatch"),
    ("must have a selection of subfields", "selectionMismatch"),
    ("must not have a selection", "selectionMismatch"),
    ("Expected value of type", "argumentLiteralsIncompatible"),
    ("cannot represent", "argumentLiteralsIncompatible"),
    ("Unknown directive", "undefinedDirective"),
)


def _coded(error: GraphQLError, prefix: str = "") -> dict[str, Any]:
    shaped: dict[str, Any] = dict(error.formatted)
    code = next((c for text, c in VALIDATION_CODES if text in error.message), "validationError")
    shaped["extensions"] = {**(shaped.get("extensions") or {}), "code": code}
    if prefix:
        shaped["message"] = prefix + shaped["message"]
    return shaped


def _not_emulated(error: GraphQLError) -> dict[str, Any]:
    shaped: dict[str, Any] = dict(error.formatted)
    shaped["message"] = f"{error.message} ({NOT_EMULATED}: Shopify has it)"
    shaped["extensions"] = {"code": "NOT_EMULATED"}
    return shaped


class ShopifySandbox(Sandbox):
    """The emulated shop."""

    name = "shopify"

    def __init__(
        self,
        *,
        bucket_size: float = 2000,
        restore_rate: float = 100,
        api_version: str = "2026-10",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.token = TOKEN
        self.app_secret = APP_SECRET
        self.api_version = api_version
        self.bucket_size = bucket_size
        self.restore_rate = restore_rate
        self._available = float(bucket_size)
        self._stamp = time.monotonic()
        self.throttled = 0  # THROTTLED answers given
        self.charged = 0  # cost points charged (the actual cost) for executed requests
        self.operations: list[str] = []  # the operation name of every executed request
        self.schema: GraphQLSchema = sandbox_schema()
        resolvers.install(self.schema)
        self.records: Records = Records(self.schema)
        self.level_updated: dict[tuple[str, str], str] = {}
        self.idempotency: dict[str, tuple[str, Any]] = {}
        self.bulk = BulkOperations(self)
        self.subscriptions: list[tuple[str, str]] = []  # (topic, url)
        self.deliveries: list[tuple[str, int]] = []  # (topic, HTTP status or 0) sent
        self.field_resolver = resolvers.resolve_field
        self.type_resolver = resolvers.resolve_type
        self.shop = {
            "id": "gid://shopify/Shop/1",
            "name": "ihost sandbox",
            "myshopifyDomain": "sandbox.myshopify.com",
            "currencyCode": "EUR",
            "email": "shop@sandbox.example",
            "ianaTimezone": "Europe/Amsterdam",
            "taxesIncluded": True,
        }

    # --- the records by kind (tests and the demo read these) -----------------------------

    @property
    def orders(self) -> dict[str, dict[str, Any]]:
        return self.records.table("Order")

    @property
    def products(self) -> dict[str, dict[str, Any]]:
        return self.records.table("Product")

    @property
    def customers(self) -> dict[str, dict[str, Any]]:
        return self.records.table("Customer")

    @property
    def locations(self) -> dict[str, dict[str, Any]]:
        return self.records.table("Location")

    @property
    def inventory(self) -> dict[tuple[str, str], int]:
        return self.records.inventory

    def new_id(self, kind: str) -> str:
        return self.records.new_id(kind)

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "shop": self.base_url,
            "access_token": self.token,
            "api_version": self.api_version,
            "webhook_secret": self.app_secret,
        }

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        """Load records in Shopify's GraphQL shape; SeedError (a ValueError) names the
        kind, the record and the field of what is refused, and nothing is half loaded."""
        with self.lock:
            for index, record in enumerate(records):
                try:
                    if kind == "inventory":
                        self.records.put_inventory(record)
                        continue
                    node = self.records.put(kind, record)
                except SeedError as exc:
                    raise SeedError(f"{kind}[{index}]: {exc}") from None
                if kind == "orders":
                    self._open_fulfilment_order(node)
                    self.touched("orders/create", node)

    def dump(self, kind: str) -> list[dict[str, Any]]:
        """The records of `kind` in the shape a query answers them (connections as
        `{"nodes": [...]}`, references resolved one level)."""
        with self.lock:
            if kind == "inventory":
                return [
                    {"inventoryItemId": item, "locationId": loc, "available": qty}
                    for (item, loc), qty in sorted(self.records.inventory.items())
                ]
            if kind not in KINDS:
                raise SeedError(f"unknown kind {kind!r}")
            table = self.records.table(KINDS[kind])
            return json.loads(json.dumps([self._shaped(n) for n in table.values()]))

    def _shaped(self, node: Any) -> Any:
        """A stored node with its children (the nodes of its lists) in place; a single
        reference stays `{"id": ...}`."""
        if not isinstance(node, dict):
            return node
        shaped = {
            k: [self._shaped(self.records.resolve(v)) for v in value]
            if isinstance(value, list)
            else self._shaped(value)
            for k, value in node.items()
        }
        type_name = gid_type(node.get("id", ""))
        object_type = self.schema.get_type(type_name) if type_name else None
        for field, definition in getattr(object_type, "fields", {}).items():
            if field in shaped and str(definition.type).rstrip("!").endswith("Connection"):
                shaped[field] = {"nodes": shaped[field]}
        return shaped

    def _open_fulfilment_order(self, order: dict[str, Any]) -> None:
        """What Shopify gives a new order: one open fulfilment order holding its lines."""
        if order.get("fulfillmentOrders"):
            return
        lines = [self.records.resolve(line) for line in order.get("lineItems") or []]
        fo = self.records._node(
            "FulfillmentOrder",
            {
                "status": "OPEN",
                "createdAt": order.get("createdAt"),
                "updatedAt": order.get("updatedAt"),
                "assignedLocation": {"name": "Warehouse", "location": {"id": DEFAULT_LOCATION}},
                "lineItems": [
                    {
                        "sku": line.get("sku"),
                        "totalQuantity": line.get("quantity", 0),
                        "remainingQuantity": line.get("quantity", 0),
                        "lineItem": {"id": line["id"]},
                    }
                    for line in lines
                ],
            },
            "fulfillmentOrders[0]",
        )
        fo["order"] = {"id": order["id"]}
        order["fulfillmentOrders"] = [fo]

    # --- webhooks -------------------------------------------------------------------------

    def subscribe(self, topic: str, url: str) -> None:
        """Deliver `topic` events (e.g. "orders/create", "products/update") to `url`."""
        with self.lock:
            self.subscriptions.append((topic, url))

    def touched(self, topic: str, node: dict[str, Any]) -> None:
        """An event happened in the shop: deliver it to the topic's subscribers, in the
        background, REST-shaped as Shopify's webhook bodies are."""
        urls = [url for t, url in self.subscriptions if t == topic]
        if not urls:
            return
        payload = _rest_shape(node) if "id" in node else dict(node)
        for url in urls:
            threading.Thread(target=self._deliver, args=(url, topic, payload), daemon=True).start()

    def _deliver(self, url: str, topic: str, payload: dict[str, Any]) -> None:
        try:
            status = self.send_webhook(url, topic, payload).status_code
        except httpx.HTTPError:
            status = 0
        with self.lock:
            self.deliveries.append((topic, status))

    def sign(self, body: bytes) -> str:
        """Shopify's webhook signature: base64 of HMAC-SHA256 of the raw body."""
        digest = hmac.new(self.app_secret.encode(), body, hashlib.sha256).digest()
        return base64.b64encode(digest).decode()

    def send_webhook(
        self,
        url: str,
        topic: str,
        payload: dict[str, Any],
        event_id: str | None = None,
        secret: str | None = None,
    ) -> httpx.Response:
        """POST a webhook delivery as Shopify does (REST-shaped JSON, signed headers)."""
        body = json.dumps(payload).encode()
        key = (secret or self.app_secret).encode()
        signature = base64.b64encode(hmac.new(key, body, hashlib.sha256).digest()).decode()
        headers = {
            "Content-Type": "application/json",
            "X-Shopify-Topic": topic,
            "X-Shopify-Hmac-Sha256": signature,
            "X-Shopify-Shop-Domain": "sandbox.myshopify.com",
            "X-Shopify-API-Version": self.api_version,
            "X-Shopify-Webhook-Id": str(uuid.uuid4()),
            "X-Shopify-Event-Id": event_id or str(uuid.uuid4()),
            "X-Shopify-Triggered-At": now_iso(),
        }
        return httpx.post(url, content=body, headers=headers, timeout=10)

    # --- HTTP -----------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/admin/api/{version}/graphql.json", self._graphql, methods=["POST"]),
            Route(DOWNLOAD_PATH + "/{name}", self._download, methods=["GET"]),
            Route(WEBHOOKS_PATH, self._subscribe_route, methods=["POST"]),
        ]

    async def _subscribe_route(self, request: Request) -> Response:
        """`POST /_sandbox/webhooks {"topic": ..., "url": ...}` (test-only): `subscribe`."""
        try:
            body = await request.json()
            topic, url = body["topic"], body["url"]
        except (ValueError, KeyError, TypeError):
            return JSONResponse({"error": 'expected {"topic": ..., "url": ...}'}, status_code=400)
        self.subscribe(str(topic), str(url))
        return JSONResponse({"subscribed": topic})

    def stop(self) -> None:
        super().stop()
        self.bulk.close()

    async def _download(self, request: Request) -> Response:
        path = self.bulk.path(request.path_params["name"])
        if path is None:
            return Response("<Error><Code>NoSuchKey</Code></Error>", status_code=404)
        return FileResponse(path, media_type="application/jsonl")

    def _refill(self) -> None:
        moment = time.monotonic()
        self._available = min(
            self.bucket_size, self._available + (moment - self._stamp) * self.restore_rate
        )
        self._stamp = moment

    def _cost(self, requested: int, actual: int | None) -> dict[str, Any]:
        return {
            "requestedQueryCost": requested,
            "actualQueryCost": actual,
            "throttleStatus": {
                "maximumAvailable": float(self.bucket_size),
                "currentlyAvailable": int(self._available),
                "restoreRate": float(self.restore_rate),
            },
        }

    def _served_version(self, asked: str) -> str | None:
        """The version Shopify answers for the one in the URL (None: not a version)."""
        if asked == "unstable":
            return asked
        if not VERSION.match(asked):
            return None
        return max(asked, OLDEST_VERSION)

    async def _graphql(self, request: Request) -> Response:
        version = self._served_version(request.path_params["version"])
        if version is None:
            return JSONResponse({"errors": "Not Found"}, status_code=404)
        headers = {"X-Shopify-API-Version": version}
        if request.headers.get("x-shopify-access-token") != self.token:
            return JSONResponse(
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login or "
                    "wrong password)"
                },
                status_code=401,
                headers=headers,
            )
        try:
            body = await request.json()
            document = parse(body["query"])
        except GraphQLError as exc:
            return JSONResponse({"errors": [_coded(exc)]}, headers=headers)
        except (ValueError, KeyError, TypeError):
            return JSONResponse(
                {"errors": [{"message": "invalid request body: JSON with a query expected"}]},
                status_code=400,
                headers=headers,
            )
        answer = self._answer(document, body, version)
        return JSONResponse(answer, headers=headers)

    def _answer(self, document: Any, body: dict[str, Any], version: str) -> dict[str, Any]:
        variables = body.get("variables") or {}
        refused = self.validation_errors(document)
        if refused:
            return {"errors": refused}
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        operation = next(
            (
                o
                for o in operations
                if not body.get("operationName")
                or (o.name and o.name.value == body["operationName"])
            ),
            None,
        )
        if operation is None:
            return {
                "errors": [{"message": "No operation named " + repr(body.get("operationName"))}]
            }
        refused = self._variables_refused(operation, variables)
        if refused:
            return {"errors": refused}
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        requested = requested_cost(self.schema, operation, fragments, variables)
        with self.lock:
            self._refill()
            if requested > MAX_QUERY_COST:
                return {
                    "errors": [
                        {
                            "message": f"Query cost is {requested}, which exceeds the "
                            f"single query max cost limit ({MAX_QUERY_COST}).",
                            "extensions": {"code": "MAX_COST_EXCEEDED"},
                        }
                    ],
                    "extensions": {"cost": self._cost(requested, None)},
                }
            if requested > self._available:
                self.throttled += 1
                return {
                    "errors": [
                        {
                            "message": "Throttled",
                            "extensions": {
                                "code": "THROTTLED",
                                "documentation": "https://shopify.dev/api/usage/rate-limits",
                            },
                        }
                    ],
                    "extensions": {"cost": self._cost(requested, None)},
                }
            self._available -= requested
            self.operations.append(operation.name.value if operation.name else "")
            result = execute_sync(
                self.schema,
                document,
                variable_values=variables,
                operation_name=body.get("operationName"),
                context_value={"sandbox": self, "version": version},
                field_resolver=self.field_resolver,
                type_resolver=self.type_resolver,
            )
            actual = actual_cost(self.schema, operation, fragments, variables, result.data)
            actual = min(actual, requested)
            self._available = min(self.bucket_size, self._available + requested - actual)
            self.charged += actual
        answer: dict[str, Any] = {}
        if result.errors:
            answer["errors"] = [_execution_error(e) for e in result.errors]
        answer["data"] = result.data
        answer["extensions"] = {"cost": self._cost(requested, actual)}
        return answer

    def validation_errors(self, document: Any) -> list[dict[str, Any]]:
        """Shopify's own validation errors for `document` (with its schema file beside the
        repository), else the sandbox's: what Shopify takes and the sandbox does not serve
        is NOT_EMULATED. Empty when the sandbox can run it."""
        return _two_schemas(lambda schema: validate(schema, document), self.schema)

    def _variables_refused(
        self, operation: OperationDefinitionNode, variables: Any
    ) -> list[dict[str, Any]]:
        """Variables Shopify refuses, or (Shopify takes them) the sandbox does not emulate."""
        if not isinstance(variables, dict):
            return [
                {"message": "Variables must be an object", "extensions": {"code": "BAD_REQUEST"}}
            ]
        definitions = operation.variable_definitions or ()

        def refused(schema: GraphQLSchema) -> list[GraphQLError]:
            coerced = get_variable_values(schema, definitions, variables)
            return coerced if isinstance(coerced, list) else []

        return _two_schemas(refused, self.schema)


def _two_schemas(
    errors_in: Callable[[GraphQLSchema], list[GraphQLError]], ours: GraphQLSchema
) -> list[dict[str, Any]]:
    """Errors by Shopify's schema first (when present), then by the sandbox's; those only
    the sandbox's schema has are NOT_EMULATED when Shopify's could be asked."""
    vendor = vendor_schema()
    if vendor is not None and (problems := errors_in(vendor)):
        return [_coded(e) for e in problems]
    shape = _not_emulated if vendor is not None else _coded
    return [shape(e) for e in errors_in(ours)]


def _execution_error(error: GraphQLError) -> dict[str, Any]:
    shaped: dict[str, Any] = dict(error.formatted)
    if not (shaped.get("extensions") or {}).get("code"):
        shaped["extensions"] = {**(shaped.get("extensions") or {}), "code": "BAD_REQUEST"}
    if error.original_error is not None and not isinstance(error.original_error, GraphQLError):
        # the sandbox's own failure: logged here, answered without a Python traceback
        log.error("sandbox failure at %s", error.path, exc_info=error.original_error)
        shaped["message"] = "Internal error in the ihost sandbox"
        shaped["extensions"]["code"] = "INTERNAL_SERVER_ERROR"
    return shaped


def _rest_shape(node: dict[str, Any]) -> dict[str, Any]:
    """A node as a webhook body: snake_case keys, numeric ids (Shopify's REST shape)."""

    def snake(name: str) -> str:
        return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()

    body: dict[str, Any] = {}
    for key, value in node.items():
        if key == "id":
            body["id"] = numeric_id(value)
            body["admin_graphql_api_id"] = value
        elif isinstance(value, (str, int, float, bool)) or value is None:
            body[snake(key)] = value
    return body
