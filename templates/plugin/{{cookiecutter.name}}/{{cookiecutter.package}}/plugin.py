{%- set reads = cookiecutter.reads.replace(" ", "").split(",") | select | list -%}
{%- set writes = cookiecutter.writes.replace(" ", "").split(",") | select | list -%}
{%- set order_types = cookiecutter.order_types.replace(" ", "").split(",") | select | list -%}
"""The {{ cookiecutter.system }} connector: reads {{ reads | join(", ") or "nothing" }}; writes {{ writes | join(", ") or "nothing" }}."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime
from typing import Any

from pydantic import BaseModel, Field{% if cookiecutter.auth != "none" %}, SecretStr{% endif %}

from host import hookimpl
from host.capabilities import Capabilities
{%- if "customers" in writes %}
from host.errors import RecordInvalid
{%- endif %}
from host.models import (
    Customer,
    Order,
    Product,
    Refund,
    Shipment,
    StockLevel,
)
from {{ cookiecutter.package }}.client import Client
from {{ cookiecutter.package }}.convert import to_record, to_remote


class Settings(BaseModel):
    base_url: str = Field(description="the {{ cookiecutter.system }} API's base URL")
{%- if cookiecutter.auth == "api_key" %}
    api_key: SecretStr = Field(description="API key (X-Api-Key header): give it as ${VAR}")
{%- elif cookiecutter.auth == "bearer" %}
    token: SecretStr = Field(description="bearer token: give it as ${VAR}")
{%- elif cookiecutter.auth == "basic" %}
    username: str = Field(description="user name")
    password: SecretStr = Field(description="password: give it as ${VAR}")
{%- elif cookiecutter.auth == "oauth2_client_credentials" %}
    client_id: str = Field(description="OAuth2 client id")
    client_secret: SecretStr = Field(description="OAuth2 client secret: give it as ${VAR}")
    token_url: str | None = Field(None, description="token endpoint (default: /oauth/token)")
{%- endif %}
    page_size: int = Field(100, ge=1, le=1000, description="records per page when reading")


class Plugin:
    """{{ cookiecutter.system }}."""

    name = "{{ cookiecutter.name }}"
    title = "{{ cookiecutter.system }}"
    Settings = Settings
    capabilities = Capabilities(
        reads={{ "{" ~ (reads | map("tojson") | join(", ")) ~ "}" if reads else "set()" }},
        writes={{ "{" ~ (writes | map("tojson") | join(", ")) ~ "}" if writes else "set()" }},
        product_types={{ '{"simple", "configurable"}' if cookiecutter.variants == "yes" else '{"simple"}' }},
        variants={{ "True" if cookiecutter.variants == "yes" else "False" }},
        images={{ cookiecutter.images | int }},
        variant_images={{ 1 if cookiecutter.variants == "yes" and (cookiecutter.images | int) > 0 else 0 }},
        categories={{ "True" if cookiecutter.categories == "yes" else "False" }},
        order_types={{ ("{" ~ (order_types | map("tojson") | join(", ")) ~ "}") if "orders" in writes and order_types else "set()" }},
        stock_batch={{ cookiecutter.stock_batch | int }},
    )

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.client = Client(settings)

    def close(self) -> None:
        self.client.close()

    def _pages(self, entity: str, since: datetime | None) -> Iterator[dict[str, Any]]:
        cursor: str | None = "0"
        while cursor is not None:
            params: dict[str, Any] = {"limit": self.settings.page_size, "cursor": cursor}
            if since is not None:
                params["updated_since"] = since.isoformat()
            page = self.client.get(f"/api/{entity}", **params)
            yield from page["items"]
            cursor = page["next"]

    def _search(self, entity: str, field: str, values: list[str]) -> list[dict[str, Any]]:
        return self.client.get(f"/api/{entity}/search", **{field: ",".join(values)})["items"] if values else []

    @hookimpl
    def check_connection(self) -> None:
        self.client.get("/api/ping")
{%- set models = {"orders": "Order", "products": "Product", "stock": "StockLevel", "customers": "Customer", "shipments": "Shipment", "refunds": "Refund"} %}
{%- for entity in reads %}
{%- if entity == "orders" %}

    @hookimpl
    def fetch_orders(self, since: datetime | None, statuses: list[str] | None) -> Iterator[Order]:
        for row in self._pages("orders", since):
            if statuses is None or row.get("status") in statuses:
                yield to_record(Order, row)
{%- else %}

    @hookimpl
    def fetch_{{ entity }}(self, since: datetime | None) -> Iterator[{{ models[entity] }}]:
        for row in self._pages("{{ entity }}", since):
            yield to_record({{ models[entity] }}, row)
{%- endif %}
{%- endfor %}
{%- if "orders" in writes %}

    @hookimpl
    def find_order(self, order: Order, order_type: str) -> str | None:
        found = self._search("orders", "source_key", [order.key])
        return str(found[0]["id"]) if found else None

    @hookimpl
    def create_order(self, order: Order, order_type: str, debtor_id: str | None) -> str:
        body = {**to_remote(order), "source_key": order.key, "order_type": order_type,
                "debtor_id": debtor_id}
        return str(self.client.post("/api/orders", body, key=f"order-{order.key}")["id"])
{%- endif %}
{%- if "customers" in writes %}

    @hookimpl
    def find_debtor(self, customer: Customer, match_on: str) -> str | None:
        value = getattr(customer, match_on, None)
        if not value:
            raise RecordInvalid(f"customer {customer.key} has no {match_on}", key=customer.key,
                                field=match_on)
        found = self._search("customers", match_on, [str(value)])
        return str(found[0]["id"]) if found else None

    @hookimpl
    def upsert_debtor(self, customer: Customer, existing_id: str | None) -> str:
        if existing_id:
            return str(self.client.put(f"/api/customers/{existing_id}", to_remote(customer))["id"])
        return str(self.client.post("/api/customers", to_remote(customer))["id"])
{%- endif %}
{%- if "products" in writes %}

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        wanted = set(skus)
        return {row["sku"]: str(row["id"]) for row in self._search("products", "sku", skus)
                if row["sku"] in wanted}

    @hookimpl
    def upsert_product(self, product: Product, existing_id: str | None, update_info: bool) -> str:
        body = to_remote(product)
        if existing_id is None:
            return str(self.client.post("/api/products", body)["id"])
        if not update_info:
            body = {k: body[k] for k in ("price", "ean", "active", "cost_price")}
        return str(self.client.put(f"/api/products/{existing_id}", body)["id"])
{%- endif %}
{%- if "stock" in writes %}

    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        body = {"levels": [{"sku": lv.sku, "quantity": str(lv.quantity), "managed": lv.managed}
                           for lv in levels]}
        self.client.post("/api/stock", body)
{%- endif %}
{%- if "shipments" in writes %}

    @hookimpl
    def create_shipment(self, shipment: Shipment, order_id: str | None) -> str:
        body = {**to_remote(shipment), "order_id": order_id or shipment.order_number,
                "source_key": shipment.key}
        return str(self.client.post("/api/shipments", body, key=f"shipment-{shipment.key}")["id"])
{%- endif %}
{%- if "refunds" in writes %}

    @hookimpl
    def create_refund(self, refund: Refund, order_id: str | None) -> str:
        body = {**to_remote(refund), "order_id": order_id or refund.order_number,
                "source_key": refund.key}
        return str(self.client.post("/api/refunds", body, key=f"refund-{refund.key}")["id"])
{%- endif %}
