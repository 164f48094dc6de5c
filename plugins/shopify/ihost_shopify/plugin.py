"""The Shopify connector (DESIGN §2): source of orders and refunds; target of products,
stock, customers and shipments; order webhooks."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import uuid
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field, SecretStr

from host import hookimpl
from host.capabilities import Capabilities
from host.errors import AuthError, RecordInvalid, RemoteRejected
from host.models import (
    Customer,
    Order,
    Product,
    Refund,
    Shipment,
    StockLevel,
    WebhookEvent,
    record_or_invalid,
)
from host.paging import GraphQLConnection
from ihost_shopify import bulk, convert, queries
from ihost_shopify.client import ShopifyClient, user_errors

SKU_CHUNK = 50  # SKUs per search query: keeps the query string and its cost small
WEBHOOK_TOPICS = {"orders/create", "orders/updated", "orders/paid", "orders/cancelled"}


class ShopifySettings(BaseModel):
    shop: str = Field(description="the shop's domain, e.g. acme.myshopify.com (or a URL)")
    access_token: SecretStr = Field(description="Admin API access token of the custom app")
    api_version: str = Field(
        "2026-10", pattern=r"^\d{4}-\d{2}$|^unstable$", description="Admin API version, YYYY-MM"
    )
    location_id: str | None = Field(
        None, description="location whose stock is set (gid or number); default: the first active"
    )
    webhook_secret: SecretStr | None = Field(
        None, description="the app's client secret, to verify webhook signatures"
    )
    page_size: int = Field(
        4,
        ge=1,
        le=50,
        description="orders per page: each costs ~220 of the 1000 points a query may",
    )
    bulk_backfill: bool = Field(
        True,
        description="read a first or --full sync of orders with a bulk operation (one "
        "export file instead of thousands of pages); false: page as for later runs",
    )
    bulk_poll_seconds: float = Field(
        2.0,
        gt=0,
        le=60,
        description="seconds between checks on a running bulk operation (the first "
        "checks come sooner: a small export is done in a moment)",
    )
    bulk_timeout: float = Field(
        6 * 3600.0, gt=0, description="seconds to wait for a bulk export before paging instead"
    )
    prices_include_tax: bool = Field(
        True,
        description="the shop's prices include tax (Settings > Taxes and duties); prices a "
        "source gives the other way are converted by the product's tax rate",
    )
    timeout: float = Field(30.0, gt=0, description="seconds per request")


class ShopifyPlugin:
    """Shopify through the Admin GraphQL API: orders and refunds out; products (with
    variants, images and collections), stock, customers and fulfilments in."""

    name = "shopify"
    title = "Shopify"
    Settings = ShopifySettings
    capabilities = Capabilities(
        reads={"orders", "refunds"},
        writes={"products", "stock", "customers", "shipments"},
        product_types={"simple", "configurable"},
        variants=True,
        images=250,
        variant_images=1,
        categories=True,
        attributes=True,
        debtor_match=set(convert.CUSTOMER_MATCH),
        split_shipments=True,
        stock_batch=250,
        webhooks={"orders"},
        rate_limit="GraphQL cost: 100 points/s (Standard) to 2000/s (Enterprise); 1000 a query",
    )

    def __init__(self, settings: ShopifySettings) -> None:
        self.settings = settings
        self.client = ShopifyClient(
            settings.shop,
            settings.access_token.get_secret_value(),
            settings.api_version,
            timeout=settings.timeout,
        )
        self._items: dict[str, str] = {}  # sku -> inventory item id, for this run
        self._location: str | None = (
            convert.gid("Location", settings.location_id) if settings.location_id else None
        )
        self._collections: dict[str, str] = {}

    def close(self) -> None:
        self.client.close()

    # --- both sides -----------------------------------------------------------------------

    @hookimpl
    def check_connection(self) -> None:
        self.client.execute(queries.SHOP)

    @hookimpl
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        lowered = {k.lower(): v for k, v in headers.items()}
        secret = self.settings.webhook_secret
        if secret is None:
            raise AuthError(
                "shopify: set webhook_secret (the app's client secret) to receive webhooks"
            )
        expected = base64.b64encode(
            hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).digest()
        ).decode()
        given = lowered.get("x-shopify-hmac-sha256", "")
        if not hmac.compare_digest(expected.encode(), given.encode()):
            raise AuthError("shopify: webhook signature does not match")
        topic = lowered.get("x-shopify-topic", "")
        if topic not in WEBHOOK_TOPICS:
            return None
        payload = json.loads(body)
        return WebhookEvent(
            connection=self.name,
            entity="orders",
            keys=[str(payload["id"])],
            event_id=lowered.get("x-shopify-event-id") or lowered.get("x-shopify-webhook-id"),
        )

    # --- source ---------------------------------------------------------------------------

    def _orders(self, query: str, search: str) -> Iterator[dict[str, Any]]:
        orders = GraphQLConnection("orders", page_size=self.settings.page_size)
        return self.client.paginate(query, {"query": search}, orders)

    def _rest_of(self, node: dict[str, Any], field: str, query: str, root: str) -> None:
        """Read the rest of `node[field]`, a connection Shopify answered one page of: an
        order is never read short (its lines, shipping lines, refund lines)."""
        connection = node.get(field)
        if not connection or not connection["pageInfo"]["hasNextPage"]:
            return

        def rest(data: dict[str, Any]) -> dict[str, Any]:
            more = data[root] or {}
            if field not in more:
                raise RemoteRejected(f"shopify: {node['id']} went away while reading its {field}")
            connection["pageInfo"] = more[field]["pageInfo"]  # the last page's, at the end
            return more[field]

        variables = {"id": node["id"], "after": connection["pageInfo"]["endCursor"]}
        connection["nodes"] += self.client.paginate(query, variables, GraphQLConnection(rest))

    def _whole_orders(self, search: str, full: bool) -> Iterator[dict[str, Any]]:
        """Orders with every line: a first or full read as a bulk operation (when the
        settings allow and Shopify runs it), otherwise page by page."""
        if full and self.settings.bulk_backfill:
            exported = bulk.export_orders(self.client, search, self.settings)
            if exported is not None:
                yield from exported
                return
        for node in self._orders(queries.ORDERS, search):
            self._rest_of(node, "lineItems", queries.ORDER_LINES, "order")
            self._rest_of(node, "shippingLines", queries.ORDER_SHIPPING_LINES, "order")
            yield node

    @staticmethod
    def _since(since: datetime | None) -> str:
        return f"updated_at:>='{since.strftime('%Y-%m-%dT%H:%M:%SZ')}'" if since else ""

    @hookimpl
    def fetch_orders(self, since: datetime | None, statuses: list[str] | None) -> Iterator[Order]:
        terms = [self._since(since)]
        if statuses:
            filters = [convert.STATUS_FILTER[s] for s in statuses if s in convert.STATUS_FILTER]
            terms.append("(" + " OR ".join(filters) + ")")
        search = " ".join(t for t in terms if t)
        for node in self._whole_orders(search, full=since is None):
            yield record_or_invalid(
                Order, convert.order(node), key=convert.legacy_id(node["id"]), payload=node
            )

    @hookimpl
    def fetch_refunds(self, since: datetime | None) -> Iterator[Refund]:
        for node in self._orders(queries.REFUNDS, self._since(since)):
            for refund in node.get("refunds") or []:
                self._rest_of(refund, "refundLineItems", queries.REFUND_LINES, "node")
            for data in convert.refunds(node):
                if (
                    since is None
                    or datetime.fromisoformat(data["created_at"].replace("Z", "+00:00")) >= since
                ):
                    yield record_or_invalid(Refund, data, key=data["key"], payload=node)

    @hookimpl
    def validate_record(self, entity: str, record: Any) -> None:
        if entity == "products":
            problems = convert.product_problems(record, self.settings.prices_include_tax)
            noun = f"product {record.sku}"
        elif entity == "customers":
            problems, noun = convert.customer_problems(record), f"customer {record.key}"
        else:
            return
        if problems:
            listed = "; ".join(f"{field}: {problem}" for field, problem in problems)
            raise RecordInvalid(f"{noun}: {listed}", key=record.key, field=problems[0][0])

    # --- products -------------------------------------------------------------------------

    def _variants(self, skus: list[str]) -> list[dict[str, Any]]:
        """Variants whose SKU is exactly one of `skus` (search also returns near matches)."""
        wanted = set(skus)
        found = []
        for start in range(0, len(skus), SKU_CHUNK):
            chunk = skus[start : start + SKU_CHUNK]
            search = " OR ".join(f"sku:'{sku}'" for sku in chunk)
            nodes = self.client.execute(
                queries.VARIANTS_BY_SKU, {"first": min(250, 2 * len(chunk)), "query": search}
            )["productVariants"]["nodes"]
            found += [n for n in nodes if n.get("sku") in wanted]
        return found

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        found = {v["sku"]: v["product"]["id"] for v in self._variants(list(dict.fromkeys(skus)))}
        for sku in skus:  # a configurable product is found by the handle made from its SKU
            if sku not in found:
                nodes = self.client.execute(
                    queries.PRODUCTS_BY_HANDLE, {"query": f"handle:'{convert.handle(sku)}'"}
                )["products"]["nodes"]
                if nodes:
                    found[sku] = nodes[0]["id"]
        return found

    def _collection_ids(self, categories: list[str]) -> list[str]:
        ids = []
        for path in categories:
            title = path.split(">")[-1].strip()
            if title not in self._collections:
                nodes = self.client.execute(queries.COLLECTIONS, {"query": f"title:'{title}'"})[
                    "collections"
                ]["nodes"]
                match = [n["id"] for n in nodes if n["title"] == title]
                if match:
                    self._collections[title] = match[0]
                else:
                    payload = self.client.execute(
                        queries.COLLECTION_CREATE, {"input": {"title": title}}
                    )["collectionCreate"]
                    user_errors(payload, f"collection {title!r}")
                    self._collections[title] = payload["collection"]["id"]
            ids.append(self._collections[title])
        return ids

    @hookimpl
    def upsert_product(self, product: Product, existing_id: str | None, update_info: bool) -> str:
        self.validate_record("products", product)
        product = convert.store_prices(product, self.settings.prices_include_tax)
        variant_ids: dict[str, str] = {}
        if existing_id:
            node = self.client.execute(queries.PRODUCT, {"id": existing_id})["product"]
            if node is None:
                existing_id = None  # deleted in Shopify: create it again
            else:
                variant_ids = {v["sku"]: v["id"] for v in node["variants"]["nodes"] if v.get("sku")}
        incoming = {v.sku for v in product.variants} or {product.sku}
        if existing_id and variant_ids and incoming < set(variant_ids):
            # some variants of a larger product (an ERP's articles are single variants):
            # productSet would replace the variant list and delete their siblings
            return self._update_variants(product, existing_id, variant_ids)
        collections = (
            self._collection_ids(product.categories) if update_info or not existing_id else None
        )
        data = convert.product_set_input(
            product, existing_id, variant_ids, collections, update_info
        )
        payload = self.client.execute(
            queries.PRODUCT_SET, {"input": data}, idempotent=existing_id is not None
        )["productSet"]
        user_errors(payload, f"product {product.sku}")
        return payload["product"]["id"]

    def _update_variants(
        self, product: Product, product_id: str, variant_ids: dict[str, str]
    ) -> str:
        """Update the price and barcode of just the variants `product` carries."""
        variants = product.variants or [product]
        changes = [
            {
                k: v
                for k, v in {
                    "id": variant_ids[variant.sku],
                    "price": None if variant.price is None else str(variant.price),
                    "barcode": variant.ean,
                }.items()
                if v is not None
            }
            for variant in variants
        ]
        payload = self.client.execute(
            queries.VARIANTS_BULK_UPDATE,
            {"productId": product_id, "variants": changes},
            idempotent=True,  # sets prices and barcodes
        )["productVariantsBulkUpdate"]
        user_errors(payload, f"product {product.sku}")
        return product_id

    # --- stock ----------------------------------------------------------------------------

    def _location_id(self) -> str:
        if self._location is None:
            nodes = self.client.execute(queries.LOCATIONS)["locations"]["nodes"]
            active = [n for n in nodes if n.get("isActive")]
            if not active:
                raise RemoteRejected("shopify: the shop has no active location to keep stock at")
            self._location = active[0]["id"]
        return self._location

    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        missing = [lv.sku for lv in levels if lv.sku not in self._items]
        for start in range(0, len(missing), 250):
            chunk = missing[start : start + 250]
            search = " OR ".join(f"sku:'{sku}'" for sku in chunk)
            nodes = self.client.execute(
                queries.INVENTORY_ITEMS_BY_SKU, {"first": 250, "query": search}
            )["productVariants"]["nodes"]
            wanted = set(chunk)
            self._items.update(
                {n["sku"]: n["inventoryItem"]["id"] for n in nodes if n["sku"] in wanted}
            )
        unknown = [lv.sku for lv in levels if lv.sku not in self._items]
        if unknown:
            raise RemoteRejected(f"shopify has no variant with SKU {', '.join(unknown)}")
        location = self._location_id()
        quantities = [
            {
                "inventoryItemId": self._items[lv.sku],
                "locationId": location,
                "quantity": int(lv.quantity if lv.quantity is not None else 0),
                "changeFromQuantity": None,  # ihost is the source of truth: no compare-and-swap
            }
            for lv in levels
        ]
        data = {
            "input": {
                "name": "available",
                "reason": "correction",
                "referenceDocumentUri": "gid://ihost/StockSync/" + uuid.uuid4().hex,
                "quantities": quantities,
            },
            # a new key per call: a retry of this request repeats it; a later call with the
            # same quantities must be applied again, not answered from the first
            "key": str(uuid.uuid4()),
        }
        payload = self.client.execute(queries.INVENTORY_SET, data)["inventorySetQuantities"]
        user_errors(payload, f"stock for {len(levels)} SKUs")

    # --- customers ------------------------------------------------------------------------

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: str) -> str | None:
        """The customer with `match_on`'s value, else with the other of e-mail and phone:
        a customer Shopify has (a second run, one made in the shop) is found, not made
        twice."""
        if match_on not in convert.CUSTOMER_MATCH:
            raise RecordInvalid(
                f"shopify finds customers by email or phone, not {match_on}", field=match_on
            )
        order = [match_on, *(f for f in convert.CUSTOMER_MATCH if f != match_on)]
        known = [(field, str(value)) for field in order if (value := getattr(customer, field))]
        if not known:
            raise RecordInvalid(
                f"customer {customer.key} has no email or phone: Shopify could not find it "
                "again, and would make it twice",
                key=customer.key,
                field=match_on,
            )
        for field, value in known:
            found = self._customer_by(field, value)
            if found:
                return found
        return None

    def _customer_by(self, field: str, value: str) -> str | None:
        """The id of the customer whose `field` is `value` (compared as Shopify keeps it)."""
        search = convert.customer_search(field, value)
        nodes = self.client.execute(queries.CUSTOMERS_BY, {"query": search})["customers"]["nodes"]
        wanted = convert.customer_match_value(field, value)
        for node in nodes:
            if convert.customer_match_value(field, node.get(field) or "") == wanted:
                return convert.legacy_id(node["id"])
        return None

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        self.validate_record("customers", customer)
        data = convert.customer_input(customer, existing_id)
        if existing_id:
            payload = self.client.execute(
                queries.CUSTOMER_UPDATE, {"input": data}, idempotent=True
            )["customerUpdate"]
        else:
            payload = self.client.execute(queries.CUSTOMER_CREATE, {"input": data})[
                "customerCreate"
            ]
        user_errors(payload, f"customer {customer.key}")
        return convert.legacy_id(payload["customer"]["id"])

    # --- shipments ------------------------------------------------------------------------

    def _order_gid(self, shipment: Shipment, order_id: str | None) -> str:
        if order_id:
            return convert.gid("Order", order_id)
        if not shipment.order_number:
            raise RecordInvalid(
                f"shipment {shipment.key} names no order", key=shipment.key, field="order_number"
            )
        nodes = self.client.execute(
            queries.ORDER_BY_NAME, {"query": f"name:'#{shipment.order_number.lstrip('#')}'"}
        )["orders"]["nodes"]
        if not nodes:
            raise RecordInvalid(
                f"shopify has no order {shipment.order_number}",
                key=shipment.key,
                field="order_number",
            )
        return nodes[0]["id"]

    @hookimpl
    def create_shipment(self, shipment: Shipment, order_id: str | None) -> str:
        order_gid = self._order_gid(shipment, order_id)
        node = self.client.execute(queries.ORDER_FULFILMENT, {"id": order_gid})["order"]
        if node is None:
            raise RecordInvalid(f"shopify has no order {order_id}", key=shipment.key, field="order")
        for fulfillment in node["fulfillments"]:  # already written (a retry after a crash)
            numbers = {t.get("number") for t in fulfillment.get("trackingInfo") or []}
            if shipment.tracking_number and shipment.tracking_number in numbers:
                return convert.legacy_id(fulfillment["id"])
        self._rest_of(node, "fulfillmentOrders", queries.ORDER_FULFILMENT_ORDERS, "order")
        for fulfillment_order in node["fulfillmentOrders"]["nodes"]:
            self._rest_of(fulfillment_order, "lineItems", queries.FULFILMENT_ORDER_LINES, "node")
        wanted = {line.sku: int(line.quantity) for line in shipment.lines}
        groups = []
        for fulfillment_order in node["fulfillmentOrders"]["nodes"]:
            if fulfillment_order["status"] not in ("OPEN", "IN_PROGRESS"):
                continue
            items = []
            for item in fulfillment_order["lineItems"]["nodes"]:
                remaining = item["remainingQuantity"]
                if not remaining:
                    continue
                if not wanted:  # no lines given: ship everything that remains
                    items.append({"id": item["id"], "quantity": remaining})
                elif wanted.get(item.get("sku"), 0) > 0:
                    quantity = min(remaining, wanted[item["sku"]])
                    wanted[item["sku"]] -= quantity
                    items.append({"id": item["id"], "quantity": quantity})
            if items:
                groups.append(
                    {
                        "fulfillmentOrderId": fulfillment_order["id"],
                        "fulfillmentOrderLineItems": items,
                    }
                )
        if not groups:
            found_again = (
                ""
                if shipment.tracking_number
                else (
                    " (a fulfilment without tracking number cannot be found again: if an earlier "
                    "try of this shipment lost its answer, it is there; resolve this letter)"
                )
            )
            raise RecordInvalid(
                f"order {node['name']} has nothing left to fulfil for shipment {shipment.key}"
                + found_again,
                key=shipment.key,
                field="lines",
            )
        tracking = {
            "number": shipment.tracking_number,
            "url": shipment.tracking_url,
            "company": shipment.carrier,
        }
        payload = self.client.execute(
            queries.FULFILLMENT_CREATE,
            {
                "fulfillment": {
                    "lineItemsByFulfillmentOrder": groups[:1],
                    "trackingInfo": {k: v for k, v in tracking.items() if v},
                    "notifyCustomer": False,
                }
            },
        )["fulfillmentCreate"]
        user_errors(payload, f"shipment {shipment.key}")
        return convert.legacy_id(payload["fulfillment"]["id"])
