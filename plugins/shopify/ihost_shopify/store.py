"""The Shopify sandbox's records: every node by type and id, kept in Shopify's own shape.

A record is stored as the GraphQL node Shopify would answer (camelCase fields,
`gid://shopify/Type/N` ids, `...Set` MoneyBags). Connections and lists are stored as
plain lists of their nodes; paging happens when they are read. A node that is a record
of its own (a customer on an order, a variant's product, a line item's variant) is
stored as a reference `{"id": ...}` and resolved when read, so every path to a node
answers the same node.

Seeding (`Records.put`) takes that shape, refuses what Shopify would not hold with a
message naming the kind and the field, and completes what Shopify always fills in.
"""

from __future__ import annotations

import itertools
from collections import defaultdict
from datetime import datetime, timezone
from decimal import Decimal
from typing import Any

from graphql import (
    GraphQLEnumType,
    GraphQLObjectType,
    GraphQLSchema,
    get_named_type,
    is_list_type,
    is_non_null_type,
    is_object_type,
)

#: seed kinds and the node type each holds
KINDS = {
    "orders": "Order",
    "products": "Product",
    "customers": "Customer",
    "collections": "Collection",
    "locations": "Location",
}
#: node types that are records of their own: where another node holds one, it holds a reference
RECORDS = {
    "Order",
    "Customer",
    "Product",
    "ProductVariant",
    "InventoryItem",
    "Location",
    "Collection",
    "LineItem",
    "MediaImage",
}
#: child lists whose nodes point back at their parent, by (parent type, field): child field
PARENT_LINKS = {
    ("Product", "variants"): "product",
    ("Order", "fulfillmentOrders"): "order",
    ("Order", "refunds"): "order",
    ("Order", "fulfillments"): "order",
}
#: fields Shopify computes; a seed may not set them
COMPUTED = {
    "legacyResourceId",
    "displayName",
    "inventoryQuantity",
    "totalInventory",
    "closed",
    "orderId",
    "orderName",
    "inventoryLevel",
    "inventoryLevels",
}
DEFAULT_LOCATION = "gid://shopify/Location/1"
CURRENCY = "EUR"


def now_iso() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def gid_type(gid: str) -> str:
    """`gid://shopify/Order/12` -> "Order" ("" for anything else)."""
    parts = gid.split("/") if isinstance(gid, str) and gid.startswith("gid://shopify/") else []
    return parts[3] if len(parts) > 4 else ""


def numeric_id(gid: str) -> int:
    tail = gid.rsplit("/", 1)[-1].split("?", 1)[0]
    return int(tail) if tail.isdigit() else 0


def money(amount: str = "0.0", currency: str = CURRENCY) -> dict[str, Any]:
    value = {"amount": amount, "currencyCode": currency}
    return {"shopMoney": value, "presentmentMoney": dict(value)}


def is_reference(value: Any) -> bool:
    return isinstance(value, dict) and set(value) <= {"id", "__typename"} and "id" in value


class SeedError(ValueError):
    """A record the sandbox refuses, named by kind and field."""


class Records:
    """Every node the shop holds, by type, and the inventory levels."""

    def __init__(self, schema: GraphQLSchema) -> None:
        self.schema = schema
        self.tables: dict[str, dict[str, dict[str, Any]]] = defaultdict(dict)
        self.inventory: dict[tuple[str, str], int] = {}  # (item, location) -> available
        self._ids = itertools.count(1001)
        self.put("locations", {"id": DEFAULT_LOCATION, "name": "Warehouse", "isPrimary": True})

    def new_id(self, type_name: str) -> str:
        return f"gid://shopify/{type_name}/{next(self._ids)}"

    def get(self, gid: str) -> dict[str, Any] | None:
        return self.tables.get(gid_type(gid), {}).get(gid) if isinstance(gid, str) else None

    def table(self, type_name: str) -> dict[str, dict[str, Any]]:
        return self.tables[type_name]

    def resolve(self, value: Any) -> Any:
        """A reference's node (the reference itself when its node is unknown)."""
        if is_reference(value):
            return self.get(value["id"]) or value
        return value

    # --- seeding --------------------------------------------------------------------------

    def put(self, kind: str, record: Any) -> dict[str, Any]:
        """Store one record of `kind` in Shopify's GraphQL shape; SeedError when refused."""
        type_name = KINDS.get(kind)
        if type_name is None:
            known = ", ".join([*KINDS, "inventory"])
            raise SeedError(f"unknown kind {kind!r} (the Shopify sandbox takes {known})")
        if not isinstance(record, dict):
            raise SeedError(f"a {type_name} record must be a JSON object")
        return self._node(type_name, record, type_name)

    def put_inventory(self, row: Any) -> None:
        """One inventory level: {inventoryItemId, locationId (default: the first), available}."""
        if not isinstance(row, dict):
            raise SeedError("an inventory level must be a JSON object")
        unknown = set(row) - {"inventoryItemId", "locationId", "available"}
        if unknown:
            raise SeedError(f"an inventory level has no field {sorted(unknown)[0]!r}")
        item = str(row.get("inventoryItemId"))
        location = str(row.get("locationId", DEFAULT_LOCATION))
        if self.get(item) is None or gid_type(item) != "InventoryItem":
            raise SeedError(f"inventoryItemId {item!r} is not an inventory item of this shop")
        if self.get(location) is None or gid_type(location) != "Location":
            raise SeedError(f"locationId {location!r} is not a location of this shop")
        available = row.get("available")
        if not isinstance(available, int) or isinstance(available, bool):
            raise SeedError(f"available must be an integer, not {type(available).__name__}")
        self.inventory[(item, location)] = available

    def _object(self, type_name: str) -> GraphQLObjectType:
        found = self.schema.get_type(type_name)
        assert isinstance(found, GraphQLObjectType), type_name
        return found

    def _node(self, type_name: str, data: dict[str, Any], where: str) -> dict[str, Any]:
        """Check, complete and (for a node with an id) register one node; returns the
        stored node."""
        object_type = self._object(type_name)
        gid = data.get("id")
        if "id" in object_type.fields:
            if gid is None:
                gid = self.new_id(type_name)
            elif gid_type(gid) != type_name:
                raise SeedError(f"{where}.id {gid!r} is not a {type_name} id (gid://shopify/...)")
        existing = self.get(gid) if gid else None
        node: dict[str, Any] = existing if existing is not None else {}
        for field, value in data.items():
            if field == "__typename":
                continue
            definition = object_type.fields.get(field)
            if definition is None or field in COMPUTED:
                why = "is computed by Shopify" if definition else "is not a field of " + type_name
                raise SeedError(
                    f"{where}.{field} {why} (the sandbox takes Shopify's GraphQL Admin "
                    "shape: camelCase fields, connections as lists)"
                )
            node[field] = self._value(type_name, field, definition.type, value, f"{where}.{field}")
        if gid:
            node["id"] = gid
            self.tables[type_name][gid] = node
        self._complete(type_name, node)
        for (parent, field), back in PARENT_LINKS.items():
            if parent == type_name:
                for child in node.get(field) or []:
                    self.resolve(child)[back] = {"id": node["id"]}
        if type_name == "ProductVariant":
            item = self.get(node["inventoryItem"]["id"])
            if item is not None:
                item["variant"] = {"id": node["id"]}
                if node.get("sku") is not None:
                    item.setdefault("sku", node["sku"])
        return node

    def _value(self, parent: str, field: str, kind: Any, value: Any, where: str) -> Any:
        if value is None:
            if is_non_null_type(kind):
                raise SeedError(f"{where} cannot be null")
            return None
        inner = kind.of_type if is_non_null_type(kind) else kind
        named = get_named_type(inner)
        if named.name.endswith("Connection"):
            items = _connection_items(value, where)
            node_type = get_named_type(named.fields["nodes"].type)  # type: ignore[attr-defined]
            return [
                self._child(
                    node_type.name if is_object_type(node_type) else _concrete(item),
                    item,
                    f"{where}[{i}]",
                )
                for i, item in enumerate(items)
            ]
        if is_list_type(inner):
            if not isinstance(value, list):
                raise SeedError(f"{where} must be a list, not {type(value).__name__}")
            element = inner.of_type
            return [
                self._value(parent, field, element, v, f"{where}[{i}]") for i, v in enumerate(value)
            ]
        if is_object_type(named):
            return self._child(named.name, value, where)
        if hasattr(named, "resolve_type") or not hasattr(named, "serialize"):
            return self._child(_concrete(value), value, where)  # an interface (Media)
        return _scalar(named, value, where)

    def _child(self, type_name: str, value: Any, where: str) -> dict[str, Any]:
        if not isinstance(value, dict):
            raise SeedError(f"{where} must be a {type_name} object, not {type(value).__name__}")
        if type_name in RECORDS and is_reference(value) and self.get(value["id"]) is not None:
            return {"id": value["id"]}
        node = self._node(type_name, value, where)
        return {"id": node["id"]} if type_name in RECORDS and "id" in node else node

    def _complete(self, type_name: str, node: dict[str, Any]) -> None:
        """Fill in what Shopify always has: timestamps, empty lists, zero amounts, and the
        type's defaults."""
        stamp = now_iso()
        for field, value in DEFAULTS.get(type_name, {}).items():
            if node.get(field) is None:
                node[field] = value(self, node) if callable(value) else value
        for field, definition in self._object(type_name).fields.items():
            if field in node or field in COMPUTED or not is_non_null_type(definition.type):
                continue
            named = get_named_type(definition.type)
            if field in ("createdAt", "updatedAt", "processedAt"):
                node[field] = node.get("createdAt") or stamp
            elif named.name.endswith("Connection") or is_list_type(definition.type.of_type):
                node[field] = []
            elif named.name == "Boolean":
                node[field] = False
            elif named.name == "MoneyBag":
                node[field] = money()
            elif named.name in ("Int", "Float"):
                node[field] = 0


def _connection_items(value: Any, where: str) -> list[Any]:
    """A connection given as a list, as {"nodes": [...]} or as {"edges": [{"node"}]}."""
    if isinstance(value, list):
        return value
    if isinstance(value, dict) and isinstance(value.get("nodes"), list):
        return value["nodes"]
    if isinstance(value, dict) and isinstance(value.get("edges"), list):
        return [edge.get("node") if isinstance(edge, dict) else edge for edge in value["edges"]]
    raise SeedError(f"{where} must be a list of nodes (or {{nodes: [...]}} / {{edges: [...]}})")


def _concrete(value: Any) -> str:
    if isinstance(value, dict):
        return value.get("__typename") or gid_type(value.get("id", "")) or "MediaImage"
    return "MediaImage"


def _scalar(named: Any, value: Any, where: str) -> Any:
    name = named.name
    if isinstance(named, GraphQLEnumType):
        if value not in named.values:
            allowed = ", ".join(list(named.values)[:8])
            raise SeedError(f"{where}: {value!r} is not a {name} ({allowed}, ...)")
        return value
    if name == "Boolean" and not isinstance(value, bool):
        raise SeedError(f"{where} must be true or false")
    if name == "Int" and (not isinstance(value, int) or isinstance(value, bool)):
        raise SeedError(f"{where} must be an integer")
    if name == "Float" and (not isinstance(value, (int, float)) or isinstance(value, bool)):
        raise SeedError(f"{where} must be a number")
    if name in ("Money", "Decimal"):
        if isinstance(value, bool) or not isinstance(value, (str, int, float)):
            raise SeedError(f"{where} must be a decimal amount")
        return str(value)
    if name in ("String", "ID", "URL", "HTML", "FormattedString") and not isinstance(value, str):
        raise SeedError(f"{where} must be a string")
    if name == "DateTime":
        try:
            datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            raise SeedError(f"{where}: {value!r} is not an ISO 8601 date-time") from None
    return value


def _currency(node: dict[str, Any]) -> str:
    bag = node.get("originalUnitPriceSet") or {}
    return (bag.get("shopMoney") or {}).get("currencyCode") or CURRENCY


def _times(
    unit: dict[str, Any] | None, quantity: int, minus: dict[str, Any] | None = None
) -> dict[str, Any]:
    """A MoneyBag of `unit` x `quantity` (less `minus`), in the unit's currency."""
    if not unit:
        return money()
    shop = unit.get("shopMoney") or {}
    total = Decimal(str(shop.get("amount") or "0")) * quantity
    if minus:
        total -= Decimal(str((minus.get("shopMoney") or {}).get("amount") or "0"))
    return money(f"{total:.2f}", shop.get("currencyCode") or CURRENCY)


def _order_name(records: Records, node: dict[str, Any]) -> str:
    return f"#{numeric_id(node['id'])}"


def _line_title(records: Records, node: dict[str, Any]) -> str:
    return node.get("name") or node.get("sku") or "Item"


def _inventory_item(records: Records, node: dict[str, Any]) -> dict[str, Any]:
    item = records._node(
        "InventoryItem", {"sku": node.get("sku"), "tracked": True}, "inventoryItem"
    )
    return {"id": item["id"]}


def _variant_title(records: Records, node: dict[str, Any]) -> str:
    return " / ".join(o.get("value") or "" for o in node.get("selectedOptions") or []) or (
        "Default Title"
    )


#: what Shopify fills in where a seed leaves it out
DEFAULTS: dict[str, dict[str, Any]] = {
    "Order": {
        "name": _order_name,
        "currencyCode": CURRENCY,
        "displayFulfillmentStatus": "UNFULFILLED",
        "displayFinancialStatus": "PENDING",
        "totalPriceSet": lambda r, n: money(),
    },
    "LineItem": {
        "name": _line_title,
        "title": _line_title,
        "quantity": 1,
        "currentQuantity": lambda r, n: n["quantity"],
        "refundableQuantity": lambda r, n: n["quantity"],
        "requiresShipping": True,
        "taxable": lambda r, n: bool(n.get("taxLines")),
        "totalDiscountSet": lambda r, n: money("0.00", _currency(n)),
        "discountedUnitPriceSet": lambda r, n: n.get("originalUnitPriceSet") or money(),
        "originalTotalSet": lambda r, n: _times(n.get("originalUnitPriceSet"), n["quantity"]),
        "discountedTotalSet": lambda r, n: _times(
            n.get("originalUnitPriceSet"), n["quantity"], n.get("totalDiscountSet")
        ),
    },
    "Customer": {"state": "DISABLED", "tags": []},
    "Product": {"status": "ACTIVE", "handle": lambda r, n: (n.get("title") or "product").lower()},
    "ProductVariant": {
        "price": "0.00",
        "position": 1,
        "inventoryItem": _inventory_item,
        "title": _variant_title,
    },
    "InventoryItem": {"tracked": True, "requiresShipping": True},
    "Location": {"isActive": True, "isPrimary": False},
    "Collection": {"handle": lambda r, n: (n.get("title") or "").lower().replace(" ", "-")},
    "FulfillmentOrder": {"status": "OPEN"},
    "Fulfillment": {"status": "SUCCESS"},
    "RefundLineItem": {"restockType": "NO_RESTOCK", "restocked": False},
    "MediaImage": {"mediaContentType": "IMAGE", "status": "READY"},
}
