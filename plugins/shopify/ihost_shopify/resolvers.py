"""How the Shopify sandbox answers each field of its schema (admin.graphql).

Every field resolves from the stored records (store.py) through `resolve_field`:
references become their nodes, connections are paged (paging.py) and lists are cut to
`first`. The fields below need more: the query root's lookups and searches, what
Shopify computes (inventory levels, totals, legacy ids) and the mutations.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from graphql import (
    GraphQLError,
    GraphQLObjectType,
    GraphQLSchema,
    get_directive_values,
    get_named_type,
)

from host.sandbox import NOT_EMULATED
from ihost_shopify.paging import check_size, comparable, page
from ihost_shopify.search import SearchError, Tokenized, compile_search
from ihost_shopify.store import (
    DEFAULT_LOCATION,
    SeedError,
    gid_type,
    now_iso,
    numeric_id,
)

if TYPE_CHECKING:
    from ihost_shopify.sandbox import ShopifySandbox

RESOLVERS: dict[tuple[str, str], Callable[..., Any]] = {}


def resolver(type_name: str, field: str) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    def register(function: Callable[..., Any]) -> Callable[..., Any]:
        RESOLVERS[(type_name, field)] = function
        return function

    return register


def install(schema: GraphQLSchema) -> None:
    """Attach the resolvers to the (shared, cached) schema; they find their sandbox in
    the execution context, so one schema serves every sandbox."""
    for (type_name, field), function in RESOLVERS.items():
        schema.get_type(type_name).fields[field].resolve = function  # type: ignore[union-attr]
    for kind in schema.type_map.values():  # every legacy id is the number of the gid
        if isinstance(kind, GraphQLObjectType) and "legacyResourceId" in kind.fields:
            kind.fields["legacyResourceId"].resolve = _legacy_id


def box_of(info: Any) -> ShopifySandbox:
    return info.context["sandbox"]


def resolve_field(source: Any, info: Any, **args: Any) -> Any:
    """The default resolver: the stored value, references resolved, connections paged."""
    value = source.get(info.field_name) if isinstance(source, dict) else None
    records = box_of(info).records
    named = get_named_type(info.return_type)
    if named.name.endswith("Connection"):
        items = [records.resolve(v) for v in value or []]
        order = {id(item): [index] for index, item in enumerate(items)}
        return connect(info, items, lambda n: order[id(n)], **args)
    if isinstance(value, list):
        found = [records.resolve(v) for v in value]
        first = args.get("first")
        return found[:first] if first is not None else found
    return records.resolve(value)


def resolve_type(value: Any, info: Any, abstract: Any) -> str | None:
    """The concrete type of a Node or Media value: `__typename`, else from its gid."""
    if isinstance(value, dict):
        return value.get("__typename") or gid_type(value.get("id", "")) or None
    return None


def connect(
    info: Any,
    items: list[dict[str, Any]],
    key: Callable[..., list[Any]],
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    reverse: bool = False,
    **_: Any,
) -> dict[str, Any]:
    """A page of `items` for the connection field being resolved. In a bulk query every
    node is answered, the root connection a slice at a time."""
    window = info.context.get("bulk")
    if window is None:
        check_size(first, last)
    elif info.path.prev is None:
        items = items[window[0] : window[1]]
    positions = {id(item): key(item) for item in items}
    return page(
        items,
        lambda n: positions[id(n)],
        first=first,
        after=after,
        last=last,
        before=before,
        reverse=reverse,
    )


# --- the query root --------------------------------------------------------------------


def _text(*values: Any) -> Tokenized:
    return Tokenized(" ".join(str(v) for v in values if v))


def _lines(box: ShopifySandbox, order: dict[str, Any]) -> list[dict[str, Any]]:
    return [box.records.resolve(v) for v in order.get("lineItems") or []]


def _order_fulfilment(order: dict[str, Any]) -> str:
    status = order.get("displayFulfillmentStatus") or "UNFULFILLED"
    return {
        "FULFILLED": "shipped",
        "PARTIALLY_FULFILLED": "partial",
        "UNFULFILLED": "unshipped",
    }.get(status, status.lower())


SEARCH: dict[str, Callable[[ShopifySandbox], dict[str, Callable[[dict[str, Any]], Any]]]] = {
    "Order": lambda box: {
        "": lambda o: _text(
            o.get("name"), o.get("email"), *(li.get("sku") for li in _lines(box, o))
        ),
        "updated_at": lambda o: o.get("updatedAt"),
        "created_at": lambda o: o.get("createdAt"),
        "processed_at": lambda o: o.get("processedAt"),
        "financial_status": lambda o: (o.get("displayFinancialStatus") or "").lower(),
        "fulfillment_status": _order_fulfilment,
        "status": lambda o: (
            "cancelled" if o.get("cancelledAt") else ("closed" if o.get("closedAt") else "open")
        ),
        "name": lambda o: [o.get("name"), (o.get("name") or "").lstrip("#")],
        "email": lambda o: o.get("email"),
        "tag": lambda o: o.get("tags") or [],
        "sku": lambda o: [li.get("sku") for li in _lines(box, o)],
        "customer_id": lambda o: numeric_id((o.get("customer") or {}).get("id", "")) or None,
        "id": lambda o: numeric_id(o["id"]),
    },
    "ProductVariant": lambda box: {
        "": lambda v: _text(v.get("sku"), v.get("title"), v.get("barcode")),
        "sku": lambda v: Tokenized(v.get("sku") or ""),
        "barcode": lambda v: v.get("barcode"),
        "product_id": lambda v: numeric_id((v.get("product") or {}).get("id", "")),
        "title": lambda v: v.get("title"),
        "updated_at": lambda v: v.get("updatedAt"),
        "id": lambda v: numeric_id(v["id"]),
    },
    "Product": lambda box: {
        "": lambda p: _text(p.get("title"), p.get("vendor"), p.get("productType")),
        "sku": lambda p: [box.records.resolve(v).get("sku") for v in p.get("variants") or []],
        "handle": lambda p: p.get("handle"),
        "title": lambda p: Tokenized(p.get("title") or ""),
        "vendor": lambda p: p.get("vendor"),
        "product_type": lambda p: p.get("productType"),
        "tag": lambda p: p.get("tags") or [],
        "updated_at": lambda p: p.get("updatedAt"),
        "created_at": lambda p: p.get("createdAt"),
        "status": lambda p: (p.get("status") or "").lower(),
        "id": lambda p: numeric_id(p["id"]),
    },
    "Customer": lambda box: {
        "": lambda c: _text(c.get("firstName"), c.get("lastName"), c.get("email")),
        "email": lambda c: c.get("email"),
        "phone": lambda c: c.get("phone"),
        "first_name": lambda c: c.get("firstName"),
        "last_name": lambda c: c.get("lastName"),
        "tag": lambda c: c.get("tags") or [],
        "id": lambda c: numeric_id(c["id"]),
        "updated_at": lambda c: c.get("updatedAt"),
        "created_at": lambda c: c.get("createdAt"),
    },
    "Collection": lambda box: {
        "": lambda c: _text(c.get("title")),
        "title": lambda c: c.get("title"),
        "handle": lambda c: c.get("handle"),
        "id": lambda c: numeric_id(c["id"]),
        "updated_at": lambda c: c.get("updatedAt"),
    },
    "Location": lambda box: {
        "": lambda loc: _text(loc.get("name")),
        "name": lambda loc: loc.get("name"),
        "id": lambda loc: numeric_id(loc["id"]),
    },
    "InventoryItem": lambda box: {
        "sku": lambda i: Tokenized(i.get("sku") or ""),
        "id": lambda i: numeric_id(i["id"]),
        "updated_at": lambda i: i.get("updatedAt"),
    },
}
#: each sort key the schema offers, as the node's sort value
SORT_KEYS: dict[str, Callable[[dict[str, Any]], Any]] = {
    "ID": lambda n: None,
    "CREATED_AT": lambda n: n.get("createdAt"),
    "UPDATED_AT": lambda n: n.get("updatedAt"),
    "PROCESSED_AT": lambda n: n.get("processedAt"),
    "ORDER_NUMBER": lambda n: numeric_id(n["id"]),
    "TITLE": lambda n: (n.get("title") or "").lower(),
    "NAME": lambda n: (n.get("name") or "").lower(),
    "SKU": lambda n: n.get("sku") or "",
    "POSITION": lambda n: n.get("position") or 0,
}


def _root_connection(type_name: str) -> Callable[..., dict[str, Any]]:
    def resolve(
        _root: Any,
        info: Any,
        query: str | None = None,
        sortKey: str | None = None,
        **args: Any,
    ) -> dict[str, Any]:
        box = box_of(info)
        with box.lock:
            try:
                predicate = compile_search(query, SEARCH[type_name](box))
            except SearchError as exc:
                raise GraphQLError(str(exc), extensions={"code": "BAD_REQUEST"}) from None
            found = [n for n in box.records.table(type_name).values() if predicate(n)]
            sort = SORT_KEYS[sortKey or "ID"]

            def position(node: dict[str, Any]) -> list[Any]:
                return [sort(node), numeric_id(node["id"])]

            found.sort(key=lambda n: comparable(position(n)))
            return connect(info, found, position, **args)

    return resolve


for _field, _type in (
    ("orders", "Order"),
    ("products", "Product"),
    ("productVariants", "ProductVariant"),
    ("customers", "Customer"),
    ("collections", "Collection"),
    ("locations", "Location"),
    ("inventoryItems", "InventoryItem"),
):
    RESOLVERS[("QueryRoot", _field)] = _root_connection(_type)


def _lookup(type_name: str) -> Callable[..., dict[str, Any] | None]:
    def resolve(_root: Any, info: Any, id: str | None = None) -> dict[str, Any] | None:
        records = box_of(info).records
        if id is None and type_name == "Location":
            return records.get(DEFAULT_LOCATION)
        node = records.get(id) if id else None
        return node if node is not None and gid_type(id or "") == type_name else None

    return resolve


for _field, _type in (
    ("order", "Order"),
    ("product", "Product"),
    ("productVariant", "ProductVariant"),
    ("customer", "Customer"),
    ("collection", "Collection"),
    ("location", "Location"),
    ("inventoryItem", "InventoryItem"),
):
    RESOLVERS[("QueryRoot", _field)] = _lookup(_type)


def _any_node(info: Any, gid: str) -> dict[str, Any] | None:
    """`node(id:)`: any record with an id; a type the sandbox does not hold is refused."""
    kind = gid_type(gid)
    if kind and info.schema.get_type(kind) is None:
        raise GraphQLError(
            f"node type {kind} is {NOT_EMULATED}", extensions={"code": "NOT_EMULATED"}
        )
    box = box_of(info)
    if kind == "BulkOperation":
        return box.bulk.get(gid)
    return box.records.get(gid)


@resolver("QueryRoot", "node")
def _node(_root: Any, info: Any, id: str) -> dict[str, Any] | None:
    return _any_node(info, id)


@resolver("QueryRoot", "nodes")
def _nodes(_root: Any, info: Any, ids: list[str]) -> list[dict[str, Any] | None]:
    if len(ids) > 250:
        raise GraphQLError("nodes: at most 250 ids", extensions={"code": "BAD_REQUEST"})
    return [_any_node(info, gid) for gid in ids]


@resolver("QueryRoot", "shop")
def _shop(_root: Any, info: Any) -> dict[str, Any]:
    return box_of(info).shop


@resolver("QueryRoot", "currentBulkOperation")
def _current_bulk(_root: Any, info: Any, type: str = "QUERY") -> dict[str, Any] | None:
    return box_of(info).bulk.current(type)


# --- what Shopify computes --------------------------------------------------------------


def _legacy_id(source: dict[str, Any], info: Any) -> str:
    return str(numeric_id(source["id"]))


@resolver("Order", "closed")
def _closed(order: dict[str, Any], info: Any) -> bool:
    return order.get("closedAt") is not None


@resolver("Customer", "displayName")
def _customer_name(customer: dict[str, Any], info: Any) -> str:
    name = " ".join(filter(None, (customer.get("firstName"), customer.get("lastName"))))
    return name or customer.get("email") or customer.get("phone") or ""


@resolver("ProductVariant", "displayName")
def _variant_name(variant: dict[str, Any], info: Any) -> str:
    product = box_of(info).records.resolve(variant.get("product")) or {}
    return f"{product.get('title') or ''} - {variant.get('title') or ''}"


@resolver("FulfillmentOrder", "orderId")
def _fo_order_id(fo: dict[str, Any], info: Any) -> str:
    return (fo.get("order") or {}).get("id", "")


@resolver("FulfillmentOrder", "orderName")
def _fo_order_name(fo: dict[str, Any], info: Any) -> str:
    order = box_of(info).records.resolve(fo.get("order")) or {}
    return order.get("name") or ""


@resolver("FulfillmentOrderLineItem", "inventoryItemId")
def _fo_line_item(line: dict[str, Any], info: Any) -> str | None:
    variant = _line_variant(box_of(info), line)
    return (variant or {}).get("inventoryItem", {}).get("id")


def _line_variant(box: ShopifySandbox, line: dict[str, Any]) -> dict[str, Any] | None:
    source = box.records.resolve(line.get("lineItem")) or line
    if source.get("variant"):
        return box.records.resolve(source["variant"])
    sku = source.get("sku")
    return next(
        (v for v in box.records.table("ProductVariant").values() if v.get("sku") == sku), None
    )


@resolver("FulfillmentOrderLineItem", "variant")
def _fo_variant(line: dict[str, Any], info: Any) -> dict[str, Any] | None:
    return _line_variant(box_of(info), line)


def _levels(
    box: ShopifySandbox, item: str | None = None, location: str | None = None
) -> list[dict[str, Any]]:
    """Inventory levels (a stocked item at a location) in Shopify's shape."""
    return [
        {
            "id": f"gid://shopify/InventoryLevel/{numeric_id(loc)}?inventory_item_id={numeric_id(it)}",
            "item": {"id": it},
            "location": {"id": loc},
            "available": quantity,
            "updatedAt": box.level_updated.get((it, loc), now_iso()),
        }
        for (it, loc), quantity in sorted(box.records.inventory.items())
        if (item is None or it == item) and (location is None or loc == location)
    ]


QUANTITY_NAMES = {
    "available",
    "on_hand",
    "committed",
    "incoming",
    "reserved",
    "damaged",
    "safety_stock",
    "quality_control",
}


@resolver("InventoryLevel", "quantities")
def _quantities(level: dict[str, Any], info: Any, names: list[str]) -> list[dict[str, Any]]:
    unknown = [n for n in names if n not in QUANTITY_NAMES]
    if unknown:
        raise GraphQLError(
            f"Invalid quantity name {unknown[0]!r} (names: {', '.join(sorted(QUANTITY_NAMES))})",
            extensions={"code": "BAD_REQUEST"},
        )
    # the sandbox holds no orders' commitments: on hand is what is available
    amounts = {"available": level["available"], "on_hand": level["available"]}
    return [
        {
            "id": f"{level['id']}&name={n}",
            "name": n,
            "quantity": amounts.get(n, 0),
            "updatedAt": level["updatedAt"],
        }
        for n in names
    ]


@resolver("InventoryItem", "inventoryLevels")
def _item_levels(item: dict[str, Any], info: Any, **args: Any) -> dict[str, Any]:
    levels = _levels(box_of(info), item=item["id"])
    return connect(info, levels, lambda n: [numeric_id(n["location"]["id"])], **args)


@resolver("InventoryItem", "inventoryLevel")
def _item_level(item: dict[str, Any], info: Any, locationId: str) -> dict[str, Any] | None:
    return next(iter(_levels(box_of(info), item=item["id"], location=locationId)), None)


@resolver("Location", "inventoryLevels")
def _location_levels(location: dict[str, Any], info: Any, **args: Any) -> dict[str, Any]:
    levels = _levels(box_of(info), location=location["id"])
    return connect(info, levels, lambda n: [numeric_id(n["item"]["id"])], **args)


@resolver("Location", "inventoryLevel")
def _location_level(
    location: dict[str, Any], info: Any, inventoryItemId: str
) -> dict[str, Any] | None:
    return next(iter(_levels(box_of(info), item=inventoryItemId, location=location["id"])), None)


def _available(box: ShopifySandbox, item: str) -> int:
    return sum(q for (it, _), q in box.records.inventory.items() if it == item)


@resolver("ProductVariant", "inventoryQuantity")
def _variant_quantity(variant: dict[str, Any], info: Any) -> int:
    return _available(box_of(info), variant["inventoryItem"]["id"])


@resolver("Product", "totalInventory")
def _total_inventory(product: dict[str, Any], info: Any) -> int:
    box = box_of(info)
    variants = [box.records.resolve(v) for v in product.get("variants") or []]
    return sum(_available(box, v["inventoryItem"]["id"]) for v in variants)


# --- mutations -------------------------------------------------------------------------


def user_error(field: list[str] | None, message: str, code: str | None = None) -> dict[str, Any]:
    return {"field": field, "message": message, "code": code}


def directive_key(info: Any, name: str) -> str | None:
    directive = info.schema.get_directive(name)
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return (values or {}).get("key")


@resolver("Mutation", "collectionCreate")
def _collection_create(_root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    box = box_of(info)
    title = (input.get("title") or "").strip()
    if not title:
        return {"collection": None, "userErrors": [user_error(["title"], "Title can't be blank")]}
    with box.lock:
        handle = input.get("handle") or title.lower().replace(" ", "-")
        node = box.records.put(
            "collections", {"title": title, "handle": handle, "updatedAt": now_iso()}
        )
        box.touched("collections/create", node)
    return {"collection": node, "userErrors": []}


def _product_problems(box: ShopifySandbox, data: dict[str, Any]) -> list[dict[str, Any]]:
    errors = []
    if len(data.get("productOptions") or []) > 3:
        errors.append(
            user_error(
                ["input", "productOptions"],
                "A product can have at most 3 options",
                "OPTIONS_OVER_LIMIT",
            )
        )
    sources = {f.get("originalSource") for f in data.get("files") or []}
    seen: set[tuple[tuple[str, str], ...]] = set()
    for index, variant in enumerate(data.get("variants") or []):
        values = tuple(
            sorted(
                (v.get("optionName") or "", v.get("name") or "")
                for v in variant.get("optionValues") or []
            )
        )
        if values in seen:
            errors.append(
                user_error(
                    ["input", "variants", str(index)],
                    "The variant's option values are already used",
                    "DUPLICATED_OPTION_VALUE",
                )
            )
        seen.add(values)
        source = (variant.get("file") or {}).get("originalSource")
        if source and source not in sources:
            errors.append(
                user_error(
                    ["input", "variants", str(index), "file"],
                    "A variant's file must also be in the product's files",
                    "INVALID_VARIANT",
                )
            )
    existing = box.records.get(data["id"]) if data.get("id") else None
    if data.get("id") and existing is None:
        errors.append(
            user_error(["input", "id"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        )
    if not existing and not data.get("title"):
        errors.append(user_error(["input", "title"], "Title can't be blank", "BLANK"))
    return errors


@resolver("Mutation", "productSet")
def _product_set(
    _root: Any, info: Any, input: dict[str, Any], synchronous: bool = True, **_: Any
) -> dict[str, Any]:
    box = box_of(info)
    if synchronous is False:
        raise GraphQLError(
            f"productSet(synchronous: false) is {NOT_EMULATED}", extensions={"code": "NOT_EMULATED"}
        )
    with box.lock:
        errors = _product_problems(box, input)
        if errors:
            return {"product": None, "productSetOperation": None, "userErrors": errors}
        existing = box.records.get(input["id"]) if input.get("id") else None
        record: dict[str, Any] = {
            k: input[k]
            for k in (
                "id",
                "title",
                "descriptionHtml",
                "vendor",
                "productType",
                "tags",
                "status",
                "handle",
            )
            if k in input
        }
        stamp = now_iso()
        record["updatedAt"] = stamp
        if existing is None:
            record["createdAt"] = stamp
            record.setdefault("handle", (input.get("title") or "").lower().replace(" ", "-"))
        media: list[dict[str, Any]] = [
            box.records.resolve(m) for m in (existing or {}).get("media") or []
        ]
        if input.get("files") is not None:  # lists are replaced
            media = [
                {
                    "__typename": "MediaImage",
                    "alt": f.get("alt"),
                    "image": {"url": f.get("originalSource")},
                }
                for f in input["files"]
            ]
            record["media"] = media
        if "productOptions" in input:
            record["options"] = [
                {
                    "name": o["name"],
                    "position": i + 1,
                    "values": [v["name"] for v in o.get("values") or []],
                }
                for i, o in enumerate(input["productOptions"])
            ]
        if "collections" in input:
            record["collections"] = [{"id": c} for c in input["collections"] if box.records.get(c)]
        product = box.records.put("products", record)
        if input.get("variants") is not None:
            media_nodes = [box.records.resolve(m) for m in product.get("media") or []]
            product["variants"] = [
                box.records._child(
                    "ProductVariant", _variant_record(box, v, i, media_nodes, stamp), "variants"
                )
                for i, v in enumerate(input["variants"])
            ]
            for variant in product["variants"]:
                box.records.resolve(variant)["product"] = {"id": product["id"]}
        box.touched("products/create" if existing is None else "products/update", product)
    return {"product": product, "productSetOperation": None, "userErrors": []}


def _variant_record(
    box: ShopifySandbox,
    variant: dict[str, Any],
    index: int,
    media: list[dict[str, Any]],
    stamp: str,
) -> dict[str, Any]:
    old = box.records.get(variant.get("id") or "") or {}
    source = (variant.get("file") or {}).get("originalSource")
    tracked = (variant.get("inventoryItem") or {}).get("tracked", True)
    item = old.get("inventoryItem") or {"sku": variant.get("sku"), "tracked": tracked}
    if old.get("inventoryItem"):
        box.records.resolve(item).update(sku=variant.get("sku"), tracked=tracked)
    return {
        **({"id": old["id"]} if old else {}),
        "sku": variant.get("sku", old.get("sku")),
        "price": variant.get("price", old.get("price")),
        "barcode": variant.get("barcode", old.get("barcode")),
        "position": index + 1,
        "selectedOptions": [
            {"name": v.get("optionName"), "value": v.get("name")}
            for v in variant.get("optionValues") or []
        ],
        "title": " / ".join(v.get("name") or "" for v in variant.get("optionValues") or [])
        or "Default Title",
        "inventoryItem": item,
        "media": [{"id": m["id"]} for m in media if source and m["image"]["url"] == source],
        "updatedAt": stamp,
        **({} if old else {"createdAt": stamp}),
    }


@resolver("Mutation", "productVariantsBulkUpdate")
def _variants_bulk_update(
    _root: Any, info: Any, productId: str, variants: list[dict[str, Any]], **_: Any
) -> dict[str, Any]:
    box = box_of(info)
    with box.lock:
        product = box.records.get(productId)
        if product is None or gid_type(productId) != "Product":
            return {
                "product": None,
                "productVariants": None,
                "userErrors": [
                    user_error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
                ],
            }
        nodes = {v["id"]: box.records.resolve(v) for v in product.get("variants") or []}
        errors = [
            user_error(
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
                {k: change[k] for k in ("price", "barcode", "compareAtPrice") if k in change}
            )
            node["updatedAt"] = now_iso()
            updated.append(node)
        product["updatedAt"] = now_iso()
        box.touched("products/update", product)
    return {"product": product, "productVariants": updated, "userErrors": []}


def _quantity_problems(
    box: ShopifySandbox, input: dict[str, Any], strict: bool
) -> list[dict[str, Any]]:
    errors = []
    if input["name"] not in ("available", "on_hand"):
        errors.append(
            user_error(
                ["input", "name"], "The quantity name must be available or on_hand", "INVALID_NAME"
            )
        )
    quantities = input["quantities"]
    if len(quantities) > 250:
        errors.append(user_error(["input", "quantities"], "At most 250 quantities"))
    for index, quantity in enumerate(quantities):
        where = ["input", "quantities", str(index)]
        if strict and "changeFromQuantity" not in quantity:
            errors.append(
                user_error(
                    [*where, "changeFromQuantity"], "changeFromQuantity is required (null opts out)"
                )
            )
        if strict and ("compareQuantity" in quantity or input.get("ignoreCompareQuantity")):
            errors.append(
                user_error(
                    where,
                    "compareQuantity and ignoreCompareQuantity were removed in 2026-04: "
                    "use changeFromQuantity",
                )
            )
        item = quantity["inventoryItemId"]
        if gid_type(item) != "InventoryItem" or box.records.get(item) is None:
            errors.append(
                user_error(
                    [*where, "inventoryItemId"],
                    "The specified inventory item could not be found.",
                    "INVALID_INVENTORY_ITEM",
                )
            )
        location = quantity["locationId"]
        if gid_type(location) != "Location" or box.records.get(location) is None:
            errors.append(
                user_error(
                    [*where, "locationId"],
                    "The specified location could not be found.",
                    "INVALID_LOCATION",
                )
            )
        if quantity["quantity"] < 0:
            errors.append(
                user_error(
                    [*where, "quantity"],
                    "The quantity can't be negative.",
                    "INVALID_QUANTITY_NEGATIVE",
                )
            )
        expected = quantity.get("changeFromQuantity")
        current = box.records.inventory.get((item, location), 0)
        if expected is not None and expected != current:
            errors.append(
                user_error(
                    [*where, "changeFromQuantity"],
                    "The quantity has changed since it was read.",
                    "CHANGE_FROM_QUANTITY_STALE",
                )
            )
    return errors


@resolver("Mutation", "inventorySetQuantities")
def _inventory_set(_root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    box = box_of(info)
    strict = info.context["version"] >= "2026-04"
    key = directive_key(info, "idempotent")
    if strict and not key:
        raise GraphQLError(
            "An idempotency key is required: add @idempotent(key: ...)",
            extensions={"code": "IDEMPOTENCY_KEY_REQUIRED"},
        )
    with box.lock:
        errors = _quantity_problems(box, input, strict)
        fingerprint = json.dumps(input, sort_keys=True)
        if key and key in box.idempotency:
            previous_fingerprint, previous = box.idempotency[key]
            if previous_fingerprint != fingerprint:
                return {
                    "inventoryAdjustmentGroup": None,
                    "userErrors": [
                        user_error(
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
        for quantity in input["quantities"]:
            slot = (quantity["inventoryItemId"], quantity["locationId"])
            before = box.records.inventory.get(slot, 0)
            box.records.inventory[slot] = quantity["quantity"]
            box.level_updated[slot] = now_iso()
            changes.append(
                {
                    "name": input["name"],
                    "delta": quantity["quantity"] - before,
                    "quantityAfterChange": quantity["quantity"],
                    "item": {"id": slot[0]},
                    "location": {"id": slot[1]},
                }
            )
            box.touched(
                "inventory_levels/update",
                {
                    "inventory_item_id": numeric_id(slot[0]),
                    "location_id": numeric_id(slot[1]),
                    "available": quantity["quantity"],
                },
            )
        result = {
            "inventoryAdjustmentGroup": {
                "id": box.records.new_id("InventoryAdjustmentGroup"),
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
    return _customer_write(box_of(info), input, create=True)


@resolver("Mutation", "customerUpdate")
def _customer_update(_root: Any, info: Any, input: dict[str, Any]) -> dict[str, Any]:
    return _customer_write(box_of(info), input, create=False)


def _customer_write(box: ShopifySandbox, data: dict[str, Any], create: bool) -> dict[str, Any]:
    email = (data.get("email") or "").strip()
    with box.lock:
        existing = box.records.get(data.get("id") or "")
        if not create and (existing is None or gid_type(data.get("id") or "") != "Customer"):
            return {"customer": None, "userErrors": [user_error(["id"], "Customer does not exist")]}
        if email and "@" not in email:
            return {"customer": None, "userErrors": [user_error(["email"], "Email is invalid")]}
        taken = [
            c
            for c in box.records.table("Customer").values()
            if email
            and (c.get("email") or "").lower() == email.lower()
            and c["id"] != data.get("id")
        ]
        if taken:
            return {
                "customer": None,
                "userErrors": [user_error(["email"], "Email has already been taken")],
            }
        if create and not (
            email or data.get("phone") or data.get("lastName") or data.get("firstName")
        ):
            return {
                "customer": None,
                "userErrors": [
                    user_error(None, "A name, phone number, or email address must be present")
                ],
            }
        record: dict[str, Any] = {
            k: data[k]
            for k in ("id", "email", "firstName", "lastName", "phone", "tags", "note", "locale")
            if k in data
        }
        if "addresses" in data:
            record["addresses"] = [
                {
                    **{k: v for k, v in a.items() if k != "countryCode"},
                    "countryCodeV2": a.get("countryCode"),
                }
                for a in data["addresses"]
            ]
        record["updatedAt"] = now_iso()
        if existing is None:
            record["createdAt"] = record["updatedAt"]
        try:
            node = box.records.put("customers", record)
        except SeedError as exc:
            return {"customer": None, "userErrors": [user_error(None, str(exc))]}
        if "addresses" in data:
            addresses = node.get("addresses") or []
            node["defaultAddress"] = addresses[0] if addresses else None
        box.touched("customers/create" if existing is None else "customers/update", node)
    return {"customer": node, "userErrors": []}


def _fulfillment_owner(
    box: ShopifySandbox, fulfillment_order_id: str
) -> tuple[dict[str, Any], dict[str, Any]] | None:
    for order in box.records.table("Order").values():
        for fo in order.get("fulfillmentOrders") or []:
            if fo["id"] == fulfillment_order_id:
                return order, fo
    return None


@resolver("Mutation", "fulfillmentCreate")
def _fulfillment_create(
    _root: Any, info: Any, fulfillment: dict[str, Any], **_: Any
) -> dict[str, Any]:
    box = box_of(info)
    groups = fulfillment["lineItemsByFulfillmentOrder"]
    where = ["fulfillment", "lineItemsByFulfillmentOrder"]
    with box.lock:
        owners = {}
        for index, group in enumerate(groups):
            owner = _fulfillment_owner(box, group["fulfillmentOrderId"])
            if owner is None:
                return {
                    "fulfillment": None,
                    "userErrors": [
                        user_error([*where, str(index)], "Fulfillment order does not exist.")
                    ],
                }
            owners[index] = owner
        if len({id(o) for o, _ in owners.values()}) > 1:
            return {
                "fulfillment": None,
                "userErrors": [
                    user_error(
                        ["fulfillment"], "All fulfillment orders must belong to the same order."
                    )
                ],
            }
        shipped = []
        for index, group in enumerate(groups):
            order, fo = owners[index]
            items = {i["id"]: i for i in fo["lineItems"]}
            wanted = group.get("fulfillmentOrderLineItems") or [
                {"id": i["id"], "quantity": i["remainingQuantity"]} for i in items.values()
            ]
            for want in wanted:
                item = items.get(want["id"])
                if item is None or not 0 < want["quantity"] <= item["remainingQuantity"]:
                    return {
                        "fulfillment": None,
                        "userErrors": [
                            user_error(
                                [*where, str(index)],
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
            "id": box.records.new_id("Fulfillment"),
            "status": "SUCCESS",
            "createdAt": now_iso(),
            "updatedAt": now_iso(),
            "order": {"id": order["id"]},
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
        box.records.table("Fulfillment")[str(node["id"])] = node
        remaining = sum(
            i["remainingQuantity"] for fo in order["fulfillmentOrders"] for i in fo["lineItems"]
        )
        order["displayFulfillmentStatus"] = "FULFILLED" if remaining == 0 else "PARTIALLY_FULFILLED"
        order["updatedAt"] = now_iso()
        box.touched("orders/fulfilled" if remaining == 0 else "orders/partially_fulfilled", order)
    return {"fulfillment": node, "userErrors": []}


@resolver("Mutation", "bulkOperationRunQuery")
def _bulk_run(
    _root: Any, info: Any, query: str, groupObjects: bool | None = None
) -> dict[str, Any]:
    box = box_of(info)
    return box.bulk.start(query, groupObjects, info.context["version"])


@resolver("Mutation", "bulkOperationCancel")
def _bulk_cancel(_root: Any, info: Any, id: str) -> dict[str, Any]:
    return box_of(info).bulk.cancel(id)
