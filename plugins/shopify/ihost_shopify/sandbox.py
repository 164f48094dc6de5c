"""A Shopify Admin GraphQL API emulator on 127.0.0.1 (DESIGN §9, api/shopify.md).

`POST /admin/api/{version}/graphql.json` with `X-Shopify-Access-Token`. Every document
is validated against Shopify's 2025-01 schema plus the later changes in schema.py, and
answered as Shopify does: validation errors in top-level `errors`; a leaky cost bucket
(configurable size and restore rate) charged with the requested cost before execution,
THROTTLED with HTTP 200 when it runs dry; `extensions.cost` on every answer;
`userErrors` for bad mutation input. From API 2026-04 on, inventorySetQuantities needs
`changeFromQuantity` on every quantity (null opts out) and an `@idempotent` key.

Records are kept as GraphQL nodes (camelCase, `gid://shopify/...` ids, MoneyBag
`...Set` amounts); `seed` and `dump` use that shape for "orders", "products",
"customers", "inventory", "collections" and "locations".
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import itertools
import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

import httpx
from graphql import (
    GraphQLError,
    GraphQLSchema,
    OperationDefinitionNode,
    execute,
    get_directive_values,
    get_named_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
    parse,
    validate,
)
from graphql.language import FragmentDefinitionNode
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from host.sandbox import Sandbox
from ihost_shopify.schema import admin_schema, requested_cost
from ihost_shopify.search import SearchError, Tokenized, compile_search

TOKEN = "shpat_sandbox0123456789abcdef"
APP_SECRET = "sandbox-app-secret-42"
MAX_QUERY_COST = 1000
DEFAULT_LOCATION = "gid://shopify/Location/1"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def connection(
    items: list[Any],
    first: int | None = None,
    after: str | None = None,
    key: Callable[[Any], Any] | None = None,
) -> dict[str, Any]:
    """A GraphQL connection over `items` (already sorted), paged by opaque cursors."""
    marks = [str(key(item) if key else item.get("id", index)) for index, item in enumerate(items)]
    start = 0
    if after:
        wanted = base64.b64decode(after).decode()
        start = next((i + 1 for i, mark in enumerate(marks) if mark == wanted), len(items))
    end = start + first if first is not None else len(items)
    page = items[start:end]
    cursors = [base64.b64encode(mark.encode()).decode() for mark in marks[start:end]]
    return {
        "nodes": page,
        "edges": [{"node": n, "cursor": c} for n, c in zip(page, cursors, strict=True)],
        "pageInfo": {
            "hasNextPage": start + len(page) < len(items),
            "hasPreviousPage": start > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


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
        self.charged = 0  # cost points charged for executed requests
        self.operations: list[str] = []  # the operation name of every executed request
        self._ids = itertools.count(1001)
        self.orders: dict[str, dict[str, Any]] = {}
        self.products: dict[str, dict[str, Any]] = {}
        self.customers: dict[str, dict[str, Any]] = {}
        self.collections: dict[str, dict[str, Any]] = {}
        self.locations: dict[str, dict[str, Any]] = {
            DEFAULT_LOCATION: {"id": DEFAULT_LOCATION, "name": "Warehouse", "isActive": True}
        }
        self.inventory: dict[tuple[str, str], int] = {}  # (item, location) -> available
        self.idempotency: dict[str, tuple[str, Any]] = {}
        self.schema: GraphQLSchema | None = admin_schema()
        if self.schema is not None:
            install_resolvers(self.schema)

    # --- Sandbox API ----------------------------------------------------------------------

    def connection_settings(self) -> dict[str, Any]:
        return {
            "shop": self.base_url,
            "access_token": self.token,
            "api_version": self.api_version,
            "webhook_secret": self.app_secret,
        }

    def new_id(self, kind: str) -> str:
        return f"gid://shopify/{kind}/{next(self._ids)}"

    def seed(self, kind: str, records: list[dict[str, Any]]) -> None:
        with self.lock:
            if kind == "inventory":
                for row in records:
                    location = row.get("locationId", DEFAULT_LOCATION)
                    self.inventory[(row["inventoryItemId"], location)] = int(row["available"])
                return
            table = self._table(kind)
            type_name = {
                "orders": "Order",
                "products": "Product",
                "customers": "Customer",
                "collections": "Collection",
                "locations": "Location",
            }[kind]
            for record in records:
                node = self._normalise(type_name, dict(record))
                node.setdefault("id", self.new_id(type_name))
                if kind == "orders":
                    self._prepare_order(node)
                elif kind == "products":
                    self._prepare_product(node)
                node.setdefault("updatedAt", now_iso())
                node.setdefault("createdAt", node["updatedAt"])
                table[node["id"]] = node

    def dump(self, kind: str) -> list[dict[str, Any]]:
        with self.lock:
            if kind == "inventory":
                return [
                    {"inventoryItemId": item, "locationId": loc, "available": qty}
                    for (item, loc), qty in sorted(self.inventory.items())
                ]
            return json.loads(json.dumps(list(self._table(kind).values())))

    def _prepare_product(self, node: dict[str, Any]) -> None:
        """Link a seeded product's variants to it, each with an inventory item."""
        node.setdefault("variants", connection([]))
        node.setdefault("media", connection([]))
        node.setdefault("collections", connection([]))
        for variant in node["variants"]["nodes"]:
            variant.setdefault("id", self.new_id("ProductVariant"))
            variant["product"] = {"id": node["id"]}
            variant.setdefault(
                "inventoryItem", {"id": self.new_id("InventoryItem"), "tracked": True}
            )
            variant["inventoryItem"].setdefault("sku", variant.get("sku"))
            variant.setdefault("media", connection([]))

    def _prepare_order(self, node: dict[str, Any]) -> None:
        """Give a seeded order what Shopify would: line item ids and one open fulfilment
        order holding every line item."""
        node.setdefault("lineItems", connection([]))
        node.setdefault("shippingLines", connection([]))
        node.setdefault("refunds", [])
        node.setdefault("fulfillments", [])
        for line in node["lineItems"]["nodes"]:
            line.setdefault("id", self.new_id("LineItem"))
        if "fulfillmentOrders" not in node:
            items = [
                {
                    "id": self.new_id("FulfillmentOrderLineItem"),
                    "sku": line.get("sku"),
                    "remainingQuantity": line.get("quantity", 0),
                    "totalQuantity": line.get("quantity", 0),
                    "lineItem": {"id": line["id"]},
                }
                for line in node["lineItems"]["nodes"]
            ]
            node["fulfillmentOrders"] = connection(
                [
                    {
                        "id": self.new_id("FulfillmentOrder"),
                        "status": "OPEN",
                        "lineItems": connection(items),
                        "assignedLocation": {"location": {"id": DEFAULT_LOCATION}},
                    }
                ]
            )

    def _table(self, kind: str) -> dict[str, dict[str, Any]]:
        return {
            "orders": self.orders,
            "products": self.products,
            "customers": self.customers,
            "collections": self.collections,
            "locations": self.locations,
        }[kind]

    def _normalise(self, type_name: str, node: dict[str, Any]) -> dict[str, Any]:
        """Turn seeded lists into connections wherever the schema has a connection."""
        if self.schema is None:
            return node
        object_type = self.schema.get_type(type_name)
        for field, value in list(node.items()):
            definition = getattr(object_type, "fields", {}).get(field)
            if definition is None:
                continue
            named = get_named_type(definition.type)
            if named.name.endswith("Connection") and isinstance(value, list):
                item_type = get_named_type(named.fields["nodes"].type).name
                node[field] = connection([self._normalise(item_type, dict(v)) for v in value])
            elif is_object_type(named) and isinstance(value, dict):
                node[field] = self._normalise(named.name, value)
            elif is_object_type(named) and isinstance(value, list):
                node[field] = [self._normalise(named.name, dict(v)) for v in value]
        return node

    # --- HTTP -----------------------------------------------------------------------------

    def routes(self) -> list[BaseRoute]:
        return [Route("/admin/api/{version}/graphql.json", self._graphql, methods=["POST"])]

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

    async def _graphql(self, request: Request) -> Response:
        if request.headers.get("x-shopify-access-token") != self.token:
            return JSONResponse(
                {
                    "errors": "[API] Invalid API key or access token (unrecognized login or "
                    "wrong password)"
                },
                status_code=401,
            )
        try:
            body = await request.json()
            document = parse(body["query"])
        except (ValueError, KeyError, GraphQLError) as exc:
            message = exc.message if isinstance(exc, GraphQLError) else "invalid request body"
            return JSONResponse({"errors": [{"message": message}]}, status_code=400)
        variables = body.get("variables") or {}
        version = request.path_params["version"]
        if self.schema is not None:
            problems = validate(self.schema, document)
            if problems:
                return JSONResponse({"errors": [e.formatted for e in problems]})
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
            return JSONResponse({"errors": [{"message": "no such operation"}]})
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        requested = (
            requested_cost(self.schema, operation, fragments, variables) if self.schema else 1
        )
        with self.lock:
            self._refill()
            if requested > MAX_QUERY_COST:
                return JSONResponse(
                    {
                        "errors": [
                            {
                                "message": f"Query cost is {requested}, which exceeds the "
                                f"single query max cost limit ({MAX_QUERY_COST}).",
                                "extensions": {"code": "MAX_COST_EXCEEDED"},
                            }
                        ],
                        "extensions": {"cost": self._cost(requested, None)},
                    }
                )
            if requested > self._available:
                self.throttled += 1
                return JSONResponse(
                    {
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
                )
            self._available -= requested
            self.charged += requested
            self.operations.append(operation.name.value if operation.name else "")
            result = (
                execute(
                    self.schema,
                    document,
                    variable_values=variables,
                    operation_name=body.get("operationName"),
                    context_value={"sandbox": self, "version": version},
                )
                if self.schema is not None
                else None
            )
        answer: dict[str, Any] = {"data": result.data if result else None}
        if result is not None and result.errors:
            answer["errors"] = [e.formatted for e in result.errors]
        answer["extensions"] = {"cost": self._cost(requested, requested)}
        return JSONResponse(answer)

    # --- webhooks -------------------------------------------------------------------------

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


# --- resolvers ----------------------------------------------------------------------------


def _sandbox(info: Any) -> ShopifySandbox:
    return info.context["sandbox"]


def _directive_key(info: Any, name: str) -> str | None:
    directive = info.schema.get_directive(name)
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return (values or {}).get("key")


def _numeric_id(gid: str) -> int:
    return int(gid.rsplit("/", 1)[-1])


RESOLVERS: dict[tuple[str, str], Callable[..., Any]] = {}


def resolver(type_name: str, field: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        RESOLVERS[(type_name, field)] = function
        return function

    return register


def install_resolvers(schema: GraphQLSchema) -> None:
    """Attach the sandbox's resolvers to the (shared, cached) schema; they find their
    sandbox in the execution context, so one schema serves every sandbox."""
    for (type_name, field), function in RESOLVERS.items():
        schema.get_type(type_name).fields[field].resolve = function  # type: ignore[union-attr]


def _is_list(definition_type: Any) -> bool:
    inner = definition_type.of_type if is_non_null_type(definition_type) else definition_type
    return is_list_type(inner)


# Query ------------------------------------------------------------------------------------

ORDER_SEARCH = {
    "updated_at": lambda o: o.get("updatedAt"),
    "created_at": lambda o: o.get("createdAt"),
    "financial_status": lambda o: (o.get("displayFinancialStatus") or "").lower(),
    "status": lambda o: (
        "cancelled" if o.get("cancelledAt") else ("closed" if o.get("closedAt") else "open")
    ),
    "name": lambda o: [o.get("name"), (o.get("name") or "").lstrip("#")],
    "email": lambda o: o.get("email"),
    "tag": lambda o: o.get("tags") or [],
    "sku": lambda o: [li.get("sku") for li in o.get("lineItems", {}).get("nodes", [])],
    "id": lambda o: _numeric_id(o["id"]),
}
VARIANT_SEARCH = {
    "sku": lambda v: Tokenized(v.get("sku") or ""),
    "barcode": lambda v: v.get("barcode"),
    "product_id": lambda v: _numeric_id(v["product"]["id"]),
    "updated_at": lambda v: v.get("updatedAt"),
}
PRODUCT_SEARCH = {
    "sku": lambda p: [v.get("sku") for v in p["variants"]["nodes"]],
    "handle": lambda p: p.get("handle"),
    "title": lambda p: p.get("title"),
    "updated_at": lambda p: p.get("updatedAt"),
    "status": lambda p: p.get("status"),
}
CUSTOMER_SEARCH = {
    "email": lambda c: c.get("email"),
    "phone": lambda c: c.get("phone"),
    "id": lambda c: _numeric_id(c["id"]),
    "updated_at": lambda c: c.get("updatedAt"),
}
COLLECTION_SEARCH = {"title": lambda c: c.get("title"), "handle": lambda c: c.get("handle")}
SORT_FIELDS = {"UPDATED_AT": "updatedAt", "CREATED_AT": "createdAt", "ID": "id", "TITLE": "title"}


def _search(
    items: list[dict[str, Any]],
    query: str | None,
    fields: dict[str, Any],
    sort_key: str | None,
    reverse: bool,
) -> list[dict[str, Any]]:
    try:
        predicate = compile_search(query, fields)
    except SearchError as exc:
        raise GraphQLError(str(exc)) from None
    found = [item for item in items if predicate(item)]
    field = SORT_FIELDS.get(sort_key or "ID", "id")
    order = (
        (lambda i: (i.get(field) or "", _numeric_id(i["id"])))
        if field != "id"
        else (lambda i: _numeric_id(i["id"]))
    )
    return sorted(found, key=order, reverse=reverse)


def _connection_resolver(table: str, fields: dict[str, Any]) -> Callable[..., Any]:
    def resolve(
        _root: Any,
        info: Any,
        first: int | None = None,
        after: str | None = None,
        query: str | None = None,
        sortKey: str | None = None,
        reverse: bool = False,
        **_: Any,
    ) -> dict[str, Any]:
        box = _sandbox(info)
        with box.lock:
            items = _search(list(getattr(box, table).values()), query, fields, sortKey, reverse)
            if first is not None and first > 250:
                raise GraphQLError("first: at most 250 nodes a page")
            field = SORT_FIELDS.get(sortKey or "ID", "id")
            return connection(items, first, after, key=lambda i: (i.get(field), i["id"]))

    return resolve


for _table, _fields, _field in (
    ("orders", ORDER_SEARCH, "orders"),
    ("products", PRODUCT_SEARCH, "products"),
    ("customers", CUSTOMER_SEARCH, "customers"),
    ("collections", COLLECTION_SEARCH, "collections"),
    ("locations", {}, "locations"),
):
    RESOLVERS[("QueryRoot", _field)] = _connection_resolver(_table, _fields)


@resolver("QueryRoot", "shop")
def _shop(_root: Any, info: Any) -> dict[str, Any]:
    return {
        "name": "ihost sandbox",
        "myshopifyDomain": "sandbox.myshopify.com",
        "currencyCode": "EUR",
        "id": "gid://shopify/Shop/1",
    }


@resolver("QueryRoot", "product")
def _product(_root: Any, info: Any, id: str) -> dict[str, Any] | None:
    return _sandbox(info).products.get(id)


@resolver("QueryRoot", "order")
def _order(_root: Any, info: Any, id: str) -> dict[str, Any] | None:
    return _sandbox(info).orders.get(id)


@resolver("QueryRoot", "productVariants")
def _product_variants(
    _root: Any,
    info: Any,
    first: int | None = None,
    after: str | None = None,
    query: str | None = None,
    **_: Any,
) -> dict[str, Any]:
    box = _sandbox(info)
    with box.lock:
        variants = [v for p in box.products.values() for v in p["variants"]["nodes"]]
        items = _search(variants, query, VARIANT_SEARCH, "ID", False)
        return connection(items, first, after)


# Mutation ---------------------------------------------------------------------------------


def _user_error(field: list[str] | None, message: str, code: str | None = None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


@resolver("Mutation", "collectionCreate")
def _collection_create(_root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    box = _sandbox(info)
    title = (input.get("title") or "").strip()
    if not title:
        return {"collection": None, "userErrors": [_user_error(["title"], "Title can't be blank")]}
    with box.lock:
        node = {
            "id": box.new_id("Collection"),
            "title": title,
            "handle": input.get("handle") or title.lower().replace(" ", "-"),
            "updatedAt": now_iso(),
        }
        box.collections[node["id"]] = node
    return {"collection": node, "userErrors": []}


def _variant_media(files: list[dict[str, Any]], variant: dict[str, Any]) -> list[dict[str, Any]]:
    source = (variant.get("file") or {}).get("originalSource")
    return [f for f in files if f["image"]["url"] == source] if source else []


@resolver("Mutation", "productSet")
def _product_set(
    _root: Any, info: Any, input: dict[str, Any], synchronous: bool = True, **_: Any
) -> dict[str, Any]:
    box = _sandbox(info)
    errors = []
    options = input.get("productOptions") or []
    if len(options) > 3:
        errors.append(
            _user_error(
                ["input", "productOptions"],
                "A product can have at most 3 options",
                "OPTIONS_OVER_LIMIT",
            )
        )
    files = input.get("files")
    sources = {f.get("originalSource") for f in files or []}
    variants_in = input.get("variants")
    seen: set[tuple[tuple[str, str], ...]] = set()
    for index, variant in enumerate(variants_in or []):
        values = tuple(
            sorted(
                (v.get("optionName") or "", v.get("name") or "")
                for v in variant.get("optionValues") or []
            )
        )
        if values in seen:
            errors.append(
                _user_error(
                    ["input", "variants", str(index)],
                    "The variant's option values are already used",
                    "DUPLICATED_OPTION_VALUE",
                )
            )
        seen.add(values)
        source = (variant.get("file") or {}).get("originalSource")
        if source and source not in sources:
            errors.append(
                _user_error(
                    ["input", "variants", str(index), "file"],
                    "A variant's file must also be in the product's files",
                    "INVALID_VARIANT",
                )
            )
    with box.lock:
        existing = box.products.get(input["id"]) if input.get("id") else None
        if input.get("id") and existing is None:
            errors.append(
                _user_error(["input", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
            )
        if not existing and not input.get("title"):
            errors.append(_user_error(["input", "title"], "Title can't be blank", "BLANK"))
        if errors:
            return {"product": None, "productSetOperation": None, "userErrors": errors}
        product = existing or {
            "id": box.new_id("Product"),
            "createdAt": now_iso(),
            "variants": connection([]),
            "media": connection([]),
            "collections": connection([]),
            "options": [],
            "status": "ACTIVE",
        }
        for field in (
            "title",
            "descriptionHtml",
            "vendor",
            "productType",
            "tags",
            "status",
            "handle",
        ):
            if field in input:
                product[field] = input[field]
        product.setdefault("handle", (product.get("title") or "").lower().replace(" ", "-"))
        if files is not None:  # lists are replaced
            product["media"] = connection(
                [
                    {
                        "__typename": "MediaImage",
                        "id": box.new_id("MediaImage"),
                        "alt": f.get("alt"),
                        "status": "READY",
                        "mediaContentType": "IMAGE",
                        "image": {"url": f.get("originalSource")},
                    }
                    for f in files
                ]
            )
        if "productOptions" in input:
            product["options"] = [
                {
                    "id": box.new_id("ProductOption"),
                    "name": o["name"],
                    "position": i + 1,
                    "values": [v["name"] for v in o.get("values") or []],
                }
                for i, o in enumerate(options)
            ]
        if "collections" in input:
            product["collections"] = connection(
                [box.collections[c] for c in input["collections"] if c in box.collections]
            )
        if variants_in is not None:
            old = {v["id"]: v for v in product["variants"]["nodes"]}
            new_variants = []
            for index, variant in enumerate(variants_in):
                node = old.get(variant.get("id") or "") or {
                    "id": box.new_id("ProductVariant"),
                    "inventoryItem": {"id": box.new_id("InventoryItem"), "tracked": True},
                }
                node.update(
                    {
                        "sku": variant.get("sku", node.get("sku")),
                        "price": variant.get("price", node.get("price")),
                        "barcode": variant.get("barcode", node.get("barcode")),
                        "position": index + 1,
                        "selectedOptions": [
                            {"name": v.get("optionName"), "value": v.get("name")}
                            for v in variant.get("optionValues") or []
                        ],
                        "product": {"id": product["id"]},
                        "updatedAt": now_iso(),
                    }
                )
                item = variant.get("inventoryItem") or {}
                node["inventoryItem"] = {
                    **node["inventoryItem"],
                    "sku": node["sku"],
                    **{k: v for k, v in item.items() if k in ("tracked",)},
                }
                node["media"] = connection(_variant_media(product["media"]["nodes"], variant))
                node["title"] = (
                    " / ".join(v["value"] for v in node["selectedOptions"]) or "Default Title"
                )
                new_variants.append(node)
            product["variants"] = connection(new_variants)
        product["updatedAt"] = now_iso()
        box.products[product["id"]] = product
    return {"product": product, "productSetOperation": None, "userErrors": []}


@resolver("Mutation", "productVariantsBulkUpdate")
def _variants_bulk_update(
    _root: Any, info: Any, productId: str, variants: list[dict[str, Any]], **_: Any
) -> dict[str, Any]:
    box = _sandbox(info)
    with box.lock:
        product = box.products.get(productId)
        if product is None:
            return {
                "product": None,
                "productVariants": None,
                "userErrors": [
                    _user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
                ],
            }
        nodes = {v["id"]: v for v in product["variants"]["nodes"]}
        errors = [
            _user_error(
                ["variants", str(i), "id"],
                "Product variant does not exist",
                "PRODUCT_VARIANT_DOES_NOT_EXIST",
            )
            for i, change in enumerate(variants)
            if change.get("id") not in nodes
        ]
        if errors:
            return {"product": product, "productVariants": None, "userErrors": errors}
        updated = []
        for change in variants:
            node = nodes[change["id"]]
            node.update(
                {k: change[k] for k in ("price", "barcode") if k in change}, updatedAt=now_iso()
            )
            updated.append(node)
        product["updatedAt"] = now_iso()
    return {"product": product, "productVariants": updated, "userErrors": []}


@resolver("Mutation", "inventorySetQuantities")
def _inventory_set(_root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    box = _sandbox(info)
    version = info.context["version"]
    strict = version >= "2026-04"
    key = _directive_key(info, "idempotent")
    if strict and not key:
        raise GraphQLError(
            "An idempotency key is required: add @idempotent(key: ...)",
            extensions={"code": "IDEMPOTENCY_KEY_REQUIRED"},
        )
    errors = []
    if input["name"] not in ("available", "on_hand"):
        errors.append(
            _user_error(
                ["input", "name"], "The quantity name must be available or on_hand", "INVALID_NAME"
            )
        )
    quantities = input["quantities"]
    if len(quantities) > 250:
        errors.append(_user_error(["input", "quantities"], "At most 250 quantities"))
    with box.lock:
        known_items = {
            v["inventoryItem"]["id"] for p in box.products.values() for v in p["variants"]["nodes"]
        }
        for index, quantity in enumerate(quantities):
            where = ["input", "quantities", str(index)]
            if strict and "changeFromQuantity" not in quantity:
                errors.append(
                    _user_error(
                        [*where, "changeFromQuantity"],
                        "changeFromQuantity is required (null opts out)",
                    )
                )
            if strict and ("compareQuantity" in quantity or input.get("ignoreCompareQuantity")):
                errors.append(
                    _user_error(
                        where,
                        "compareQuantity and ignoreCompareQuantity were "
                        "removed in 2026-04: use changeFromQuantity",
                    )
                )
            if quantity["inventoryItemId"] not in known_items:
                errors.append(
                    _user_error(
                        [*where, "inventoryItemId"],
                        "The specified inventory item could not be found.",
                        "INVALID_INVENTORY_ITEM",
                    )
                )
            if quantity["locationId"] not in box.locations:
                errors.append(
                    _user_error(
                        [*where, "locationId"],
                        "The specified location could not be found.",
                        "INVALID_LOCATION",
                    )
                )
            if quantity["quantity"] < 0:
                errors.append(
                    _user_error(
                        [*where, "quantity"],
                        "The quantity can't be negative.",
                        "INVALID_QUANTITY_NEGATIVE",
                    )
                )
            expected = quantity.get("changeFromQuantity")
            current = box.inventory.get((quantity["inventoryItemId"], quantity["locationId"]), 0)
            if expected is not None and expected != current:
                errors.append(
                    _user_error(
                        [*where, "changeFromQuantity"],
                        "The quantity has changed since it was read.",
                        "CHANGE_FROM_QUANTITY_STALE",
                    )
                )
        fingerprint = json.dumps(input, sort_keys=True)
        if key and key in box.idempotency:
            previous_fingerprint, previous = box.idempotency[key]
            if previous_fingerprint != fingerprint:
                return {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": [
                        _user_error(
                            None,
                            "The idempotency key was used with other parameters.",
                            "IDEMPOTENCY_KEY_PARAMETER_MISMATCH",
                        )
                    ],
                }
            return previous
        if errors:
            return {"inventoryAdjustmentGroup": None, "userErrors": errors}
        changes = []
        for quantity in quantities:
            slot = (quantity["inventoryItemId"], quantity["locationId"])
            before = box.inventory.get(slot, 0)
            box.inventory[slot] = quantity["quantity"]
            changes.append(
                {
                    "name": input["name"],
                    "delta": quantity["quantity"] - before,
                    "quantityAfterChange": quantity["quantity"],
                    "item": {"id": slot[0]},
                    "location": {"id": slot[1]},
                }
            )
        result = {
            "inventoryAdjustmentGroup": {
                "id": box.new_id("InventoryAdjustmentGroup"),
                "reason": input["reason"],
                "referenceDocumentUri": input.get("referenceDocumentUri"),
                "createdAt": now_iso(),
                "changes": changes,
            },
            "userErrors": [],
        }
        if key:
            box.idempotency[key] = (fingerprint, result)
        return result


@resolver("Mutation", "customerCreate")
def _customer_create(_root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    return _customer_write(_sandbox(info), input, create=True)


@resolver("Mutation", "customerUpdate")
def _customer_update(_root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    return _customer_write(_sandbox(info), input, create=False)


def _customer_write(box: ShopifySandbox, data: dict[str, Any], create: bool) -> dict[str, Any]:
    email = (data.get("email") or "").strip()
    with box.lock:
        if not create and data.get("id") not in box.customers:
            return {
                "customer": None,
                "userErrors": [_user_error(["id"], "Customer does not exist")],
            }
        if email and "@" not in email:
            return {"customer": None, "userErrors": [_user_error(["email"], "Email is invalid")]}
        taken = [
            c
            for c in box.customers.values()
            if email
            and (c.get("email") or "").lower() == email.lower()
            and c["id"] != data.get("id")
        ]
        if taken:
            return {
                "customer": None,
                "userErrors": [_user_error(["email"], "Email has already been taken")],
            }
        if create and not (email or data.get("phone") or data.get("lastName")):
            return {
                "customer": None,
                "userErrors": [
                    _user_error(None, "A name, phone number, or email address must be present")
                ],
            }
        node = box.customers.get(data.get("id") or "") or {
            "id": box.new_id("Customer"),
            "createdAt": now_iso(),
        }
        for field in ("email", "firstName", "lastName", "phone", "tags", "note", "locale"):
            if field in data:
                node[field] = data[field]
        if "addresses" in data:
            node["addresses"] = [
                {**a, "id": box.new_id("MailingAddress"), "countryCodeV2": a.get("countryCode")}
                for a in data["addresses"]
            ]
            node["defaultAddress"] = node["addresses"][0] if node["addresses"] else None
        node["updatedAt"] = now_iso()
        box.customers[node["id"]] = node
    return {"customer": node, "userErrors": []}


@resolver("Mutation", "fulfillmentCreate")
def _fulfillment_create(
    _root: Any, info: Any, fulfillment: dict[str, Any], **_: Any
) -> dict[str, Any]:
    box = _sandbox(info)
    groups = fulfillment["lineItemsByFulfillmentOrder"]
    with box.lock:
        owners = {}
        for index, group in enumerate(groups):
            for order in box.orders.values():
                for fo in order.get("fulfillmentOrders", {}).get("nodes", []):
                    if fo["id"] == group["fulfillmentOrderId"]:
                        owners[index] = (order, fo)
            if index not in owners:
                return {
                    "fulfillment": None,
                    "userErrors": [
                        _user_error(
                            ["fulfillment", "lineItemsByFulfillmentOrder", str(index)],
                            "Fulfillment order does not exist.",
                        )
                    ],
                }
        if len({id(o) for o, _ in owners.values()}) > 1:
            return {
                "fulfillment": None,
                "userErrors": [
                    _user_error(
                        ["fulfillment"], "All fulfillment orders must belong to the same order."
                    )
                ],
            }
        shipped = []
        for index, group in enumerate(groups):
            order, fo = owners[index]
            items = {i["id"]: i for i in fo["lineItems"]["nodes"]}
            wanted = group.get("fulfillmentOrderLineItems") or [
                {"id": i["id"], "quantity": i["remainingQuantity"]} for i in items.values()
            ]
            for want in wanted:
                item = items.get(want["id"])
                if (
                    item is None
                    or want["quantity"] > item["remainingQuantity"]
                    or want["quantity"] <= 0
                ):
                    return {
                        "fulfillment": None,
                        "userErrors": [
                            _user_error(
                                ["fulfillment", "lineItemsByFulfillmentOrder", str(index)],
                                "Invalid fulfillment order line item quantity requested.",
                            )
                        ],
                    }
            for want in wanted:
                items[want["id"]]["remainingQuantity"] -= want["quantity"]
                shipped.append({"sku": items[want["id"]].get("sku"), "quantity": want["quantity"]})
            if all(i["remainingQuantity"] == 0 for i in items.values()):
                fo["status"] = "CLOSED"
        order = owners[0][0]
        tracking = fulfillment.get("trackingInfo") or {}
        node = {
            "id": box.new_id("Fulfillment"),
            "status": "SUCCESS",
            "createdAt": now_iso(),
            "trackingInfo": [
                {
                    "number": tracking.get("number"),
                    "url": tracking.get("url"),
                    "company": tracking.get("company"),
                }
            ]
            if tracking
            else [],
            "lines": shipped,
        }
        order.setdefault("fulfillments", []).append(node)
        remaining = sum(
            i["remainingQuantity"]
            for fo in order["fulfillmentOrders"]["nodes"]
            for i in fo["lineItems"]["nodes"]
        )
        order["displayFulfillmentStatus"] = "FULFILLED" if remaining == 0 else "PARTIALLY_FULFILLED"
        order["updatedAt"] = now_iso()
    return {"fulfillment": node, "userErrors": []}
