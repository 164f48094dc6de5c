"""Connectors written from DESIGN.md alone, for the host's own tests.

`testshop` plays a webshop (source of orders, refunds, customers and products
with variants, and of the feedback its customers gave; target of products, stock,
customers and shipments); `testerp` plays an accounting system (source of products,
stock, customers and shipments; target of orders, debtors (new ones created in batches),
products without variants, images or categories, stock, refunds and feedback, which it
keeps with the order); `testoauth` is testerp signing in with
OAuth2 authorization code (host.auth). They talk to the RecordSandbox REST API in
sandbox.py over real HTTP. Each entity's hooks live in a mixin so that a class
implements exactly the hooks its capabilities declare.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Iterator, Mapping
from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, Field, SecretStr

from host import hookimpl
from host.auth import ConnectorContext, OAuth2AuthorizationCode
from host.capabilities import Capabilities
from host.errors import AuthError, RecordInvalid
from host.http import HttpClient
from host.models import (
    Customer,
    Feedback,
    Order,
    Product,
    Record,
    Refund,
    Shipment,
    StockLevel,
    WebhookEvent,
    record_or_invalid,
)
from host.vocabulary import OrderType

_SKIP = {"id", "source_key", "order_id", "order_type", "debtor_id"}


class RecordSettings(BaseModel):
    base_url: str = Field(description="the system's base URL")
    token: SecretStr = Field(description="API token")
    page_size: int = Field(100, ge=1, le=1000, description="records per page when reading")
    webhook_secret: SecretStr | None = Field(None, description="shared secret of webhooks")
    timeout: float = Field(30.0, gt=0, description="seconds per request")


class _RecordPlugin:
    """What both test connectors share: settings, the client and the REST calls."""

    Settings = RecordSettings

    def __init__(self, settings: RecordSettings) -> None:
        self.settings = settings
        self.client = HttpClient(
            settings.base_url,
            headers={"Authorization": f"Bearer {settings.token.get_secret_value()}"},
            retries=3,
            max_backoff=0.2,
            timeout=settings.timeout,
            name=self.name,  # type: ignore[attr-defined]
        )

    def close(self) -> None:
        self.client.close()

    # --- helpers --------------------------------------------------------------------------

    def _pages(self, entity: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        cursor: str | None = "0"
        while cursor is not None:
            params = {"limit": self.settings.page_size, "cursor": cursor}
            if since is not None:
                params["updated_since"] = since.isoformat()
            page = self.client.get(f"/api/{entity}", params=params).json()
            yield from page["items"]
            cursor = page["next"]

    def _search(self, entity: str, field: str, values: list[str]) -> list[dict[str, Any]]:
        if not values:
            return []
        return self.client.get(f"/api/{entity}/search", params={field: ",".join(values)}).json()[
            "items"
        ]

    def _create(self, entity: str, body: dict[str, Any], idempotency_key: str | None = None) -> str:
        headers = {"Idempotency-Key": idempotency_key} if idempotency_key else None
        return str(self.client.post(f"/api/{entity}", json=body, headers=headers).json()["id"])

    def _update(self, entity: str, record_id: str, body: dict[str, Any]) -> str:
        return str(self.client.put(f"/api/{entity}/{record_id}", json=body).json()["id"])

    @staticmethod
    def _native(record: Record) -> dict[str, Any]:
        """The record as this system stores it; extra fields (native.X as X) on top."""
        body = record.model_dump(mode="json", exclude={"extra"})
        body.update({k.removeprefix("native."): v for k, v in record.extra.items()})
        return body

    @staticmethod
    def _canonical(model: type[Record], row: dict[str, Any]) -> Any:
        """The canonical record, or a RecordInvalid naming the field (yielded, not raised)."""
        fields = {k: v for k, v in row.items() if k in model.model_fields and k not in _SKIP}
        fields.setdefault("key", row["id"])
        return record_or_invalid(model, fields, key=str(fields["key"]), payload=row)

    # --- both sides -----------------------------------------------------------------------

    @hookimpl
    def check_connection(self) -> None:
        self.client.get("/api/ping")


class CustomersSource:
    @hookimpl
    def fetch_customers(self, since: datetime | None) -> Iterator[Customer]:
        for row in self._pages("customers", since):
            yield self._canonical(Customer, row)


class CustomersTarget:
    @hookimpl
    def find_debtor(self, customer: Customer, match_on: str) -> str | None:
        value = getattr(customer, match_on, None)
        if not value:
            raise RecordInvalid(
                f"customer {customer.key} has no {match_on} to match a debtor on",
                key=customer.key,
                field=match_on,
            )
        found = self._search("customers", match_on, [str(value)])
        return str(found[0]["id"]) if found else None

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        body = self._native(customer)
        if existing_id:
            return self._update("customers", existing_id, body)
        return self._create("customers", body)


class DebtorBatchTarget:
    @hookimpl
    def create_debtors(self, customers: list[Customer]) -> list[str]:
        body = {"records": [self._native(customer) for customer in customers]}
        return [str(i) for i in self.client.post("/api/customers/batch", json=body).json()["ids"]]


class OrdersSource:
    @hookimpl
    def fetch_orders(self, since: datetime | None, statuses: list[str] | None) -> Iterator[Order]:
        for row in self._pages("orders", since):
            if statuses is None or row.get("status") in statuses:
                yield self._canonical(Order, row)


class OrdersTarget:
    @hookimpl
    def find_order(self, order: Order) -> str | None:
        found = self._search("orders", "source_key", [order.key])
        return str(found[0]["id"]) if found else None

    @hookimpl
    def create_order(self, order: Order, order_type: OrderType, debtor_id: str | None) -> str:
        body = {
            **self._native(order),
            "source_key": order.key,
            "order_type": order_type,
            "debtor_id": debtor_id,
        }
        return self._create("orders", body, idempotency_key=f"order-{order.key}")


class ProductsSource:
    @hookimpl
    def fetch_products(self, since: datetime | None) -> Iterator[Product]:
        for row in self._pages("products", since):
            yield self._canonical(Product, row)


class ProductsTarget:
    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        found: dict[str, str] = {}
        for row in self._search("products", "sku", skus):
            if row["sku"] in skus:
                found[row["sku"]] = str(row["id"])
            for variant in row.get("variants") or []:
                if variant["sku"] in skus:
                    found[variant["sku"]] = f"{row['id']}/{variant['sku']}"
        return found

    @hookimpl
    def upsert_product(self, product: Product, existing_id: str | None, update_info: bool) -> str:
        body = self._native(product)
        if existing_id is None:
            return self._create("products", body)
        product_id = existing_id.split("/")[0]
        if not update_info:
            body = {k: body[k] for k in ("price", "ean", "active", "cost_price", "variants")}
        return self._update("products", product_id, body)


class StockSource:
    @hookimpl
    def fetch_stock(self, since: datetime | None) -> Iterator[StockLevel]:
        for row in self._pages("stock", since):
            yield self._canonical(StockLevel, row)


class StockTarget:
    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        self.client.post(
            "/api/stock",
            json={
                "levels": [
                    {"sku": lv.sku, "quantity": str(lv.quantity), "managed": lv.managed}
                    for lv in levels
                ]
            },
        )


class ShipmentsSource:
    @hookimpl
    def fetch_shipments(self, since: datetime | None) -> Iterator[Shipment]:
        for row in self._pages("shipments", since):
            yield self._canonical(Shipment, row)


def _order_by_number(
    plugin: Any, record: Shipment | Refund | Feedback, order_id: str | None
) -> str:
    if order_id:
        return order_id
    found = plugin._search("orders", "number", [record.order_number or ""])
    if not found:
        raise RecordInvalid(
            f"no order numbered {record.order_number} in {plugin.name}",
            key=record.key,
            field="order_number",
        )
    return str(found[0]["id"])


class ShipmentsTarget:
    @hookimpl
    def create_shipment(self, shipment: Shipment, order_id: str | None) -> str:
        order_id = _order_by_number(self, shipment, order_id)
        body = {**self._native(shipment), "order_id": order_id, "source_key": shipment.key}
        return self._create("shipments", body, idempotency_key=f"shipment-{shipment.key}")


class RefundsSource:
    @hookimpl
    def fetch_refunds(self, since: datetime | None) -> Iterator[Refund]:
        for row in self._pages("refunds", since):
            yield self._canonical(Refund, row)


class RefundsTarget:
    @hookimpl
    def create_refund(self, refund: Refund, order_id: str | None) -> str:
        order_id = _order_by_number(self, refund, order_id)
        body = {**self._native(refund), "order_id": order_id, "source_key": refund.key}
        return self._create("refunds", body, idempotency_key=f"refund-{refund.key}")


class FeedbackSource:
    @hookimpl
    def fetch_feedback(self, since: datetime | None) -> Iterator[Feedback]:
        for row in self._pages("feedback", since):
            yield self._canonical(Feedback, row)


class FeedbackTarget:
    @hookimpl
    def write_feedback(self, feedback: Feedback, order_id: str | None) -> str:
        """Kept with the order (by number when no binding names it), else with the
        customer; replaced by key."""
        if order_id is None and feedback.order_number is not None:
            order_id = _order_by_number(self, feedback, order_id)
        if order_id is None and not feedback.customer_key:
            raise RecordInvalid(
                f"feedback {feedback.key} names no order and no customer to keep it with",
                key=feedback.key,
                field="order_number",
            )
        body = {**self._native(feedback), "order_id": order_id, "source_key": feedback.key}
        # every row read and matched whole: a search takes values separated by commas
        kept = [r for r in self._pages("feedback", None) if r.get("source_key") == feedback.key]
        if kept:
            return self._update("feedback", str(kept[0]["id"]), body)
        return self._create("feedback", body, idempotency_key=f"feedback-{feedback.key}")


class ShopPlugin(
    OrdersSource,
    RefundsSource,
    CustomersSource,
    ProductsSource,
    FeedbackSource,
    CustomersTarget,
    ProductsTarget,
    StockTarget,
    ShipmentsTarget,
    _RecordPlugin,
):
    """A webshop for the host's tests: sells configurable products, announces orders."""

    name = "testshop"
    title = "Test shop (ihost's own tests)"
    capabilities = Capabilities(
        reads={"orders", "refunds", "customers", "products", "feedback"},
        writes={"products", "stock", "customers", "shipments"},
        product_types={"simple", "configurable"},
        variants=True,
        images=10,
        variant_images=1,
        categories=True,
        attributes=True,
        debtor_match={"email", "phone", "vat_number"},
        split_shipments=True,
        stock_batch=250,
        webhooks={"orders"},
        rate_limit="none",
    )

    @hookimpl
    def parse_webhook(self, headers: Mapping[str, str], body: bytes) -> WebhookEvent | None:
        secret = self.settings.webhook_secret
        lowered = {k.lower(): v for k, v in headers.items()}
        if secret is None:
            raise AuthError("testshop: no webhook_secret is configured")
        expected = hmac.new(secret.get_secret_value().encode(), body, hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, lowered.get("x-test-signature", "")):
            raise AuthError("testshop: webhook signature does not match")
        payload = json.loads(body)
        return WebhookEvent(
            connection=self.name,
            entity=payload["entity"],
            keys=payload["keys"],
            event_id=lowered.get("x-test-event-id"),
        )


class ErpPlugin(
    ProductsSource,
    StockSource,
    CustomersSource,
    ShipmentsSource,
    OrdersTarget,
    CustomersTarget,
    DebtorBatchTarget,
    ProductsTarget,
    StockTarget,
    RefundsTarget,
    FeedbackTarget,
    _RecordPlugin,
):
    """An accounting system for the host's tests: keeps debtors (created in batches of 50),
    sales orders, credits."""

    name = "testerp"
    title = "Test ERP (ihost's own tests)"
    capabilities = Capabilities(
        reads={"products", "stock", "customers", "shipments"},
        writes={"orders", "customers", "products", "stock", "refunds", "feedback"},
        product_types={"simple"},
        order_types={"sales_order", "invoice"},
        debtor_match={"email", "phone", "vat_number"},
        debtor_batch=50,
        stock_batch=100,
        rate_limit="5 requests/s",
    )


class OAuthSettings(BaseModel):
    base_url: str = Field(description="the system's base URL")
    authorize_url: str = Field(description="where a merchant authorizes ihost")
    token_url: str = Field(description="the OAuth2 token endpoint")
    client_id: str = Field(description="the OAuth2 client registered for ihost")
    client_secret: SecretStr = Field(description="its secret")
    redirect_uri: str | None = Field(None, description="the redirect URI registered, if any")
    pkce: bool = Field(True, description="send a PKCE S256 challenge")
    token_body: Literal["form", "json"] = Field("form", description="how token requests go")
    page_size: int = Field(100, ge=1, le=1000, description="records per page when reading")
    timeout: float = Field(30.0, gt=0, description="seconds per request")


class OAuthErpPlugin(ErpPlugin):
    """The test ERP behind OAuth2 authorization code with rotating refresh tokens: authorize
    a connection with `ihost auth NAME`."""

    name = "testoauth"
    title = "Test ERP behind OAuth2 (ihost's own tests)"
    Settings = OAuthSettings  # type: ignore[assignment]

    def __init__(self, settings: OAuthSettings, context: ConnectorContext) -> None:
        self.settings = settings  # type: ignore[assignment]
        self.auth = OAuth2AuthorizationCode(
            settings.authorize_url,
            settings.token_url,
            settings.client_id,
            settings.client_secret.get_secret_value(),
            redirect_uri=settings.redirect_uri,
            pkce=settings.pkce,
            token_body=settings.token_body,
            vault=context.tokens,
            retries=3,
            name=context.connection,
        )
        self.client = HttpClient(
            settings.base_url,
            auth=self.auth,
            retries=3,
            max_backoff=0.2,
            timeout=settings.timeout,
            name=self.name,
        )

    def close(self) -> None:
        self.client.close()
        self.auth.close()

    @hookimpl
    def oauth2_flow(self) -> OAuth2AuthorizationCode:
        return self.auth
