"""Benchmark connectors: `generator` makes records in memory, `counter` counts writes.

The benchmarks hand them to the runner through a Registry built here, not through entry
points, so they never show among a user's installed plugins.

Neither touches a network, so a benchmark between them measures the host alone.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from decimal import Decimal
from typing import Any

from pydantic import BaseModel, Field

from host import hookimpl
from host.capabilities import Capabilities
from host.models import Product, StockLevel, Variant

EPOCH = datetime(2026, 1, 1, tzinfo=timezone.utc)


class GeneratorSettings(BaseModel):
    levels: int = Field(100_000, ge=0, description="stock levels to yield")
    products: int = Field(20_000, ge=0, description="configurable products to yield")
    variants: int = Field(3, ge=0, description="variants per product")
    generation: int = Field(0, ge=0, description="bump to change every record's content")


class GeneratorPlugin:
    """Yields stock levels and configurable products made up on the fly."""

    name = "generator"
    title = "Benchmark generator"
    Settings = GeneratorSettings
    capabilities = Capabilities(
        reads={"stock", "products"},
        product_types={"simple", "configurable"},
        variants=True,
        images=10,
        variant_images=1,
        categories=True,
        attributes=True,
    )

    def __init__(self, settings: GeneratorSettings) -> None:
        self.settings = settings

    @hookimpl
    def check_connection(self) -> None:
        return None

    @hookimpl
    def fetch_stock(self, since: datetime | None) -> Iterator[StockLevel]:
        shift = self.settings.generation
        for i in range(self.settings.levels):
            yield StockLevel(
                key=f"L{i}",
                sku=f"SKU-{i:07d}",
                on_hand=Decimal((i + shift) % 97),
                reserved=Decimal(i % 3),
                updated_at=EPOCH + timedelta(seconds=i),
            )

    @hookimpl
    def fetch_products(self, since: datetime | None) -> Iterator[Product]:
        s = self.settings
        for i in range(s.products):
            sku = f"P-{i:06d}"
            yield Product(
                key=sku,
                sku=sku,
                name=f"Product {i} generation {s.generation}",
                type="configurable",
                description="A product long enough to look like a real description. " * 3,
                short_description="Short text",
                price=Decimal("19.95"),
                price_includes_tax=True,
                tax_rate=Decimal(21),
                cost_price=Decimal("8.10"),
                currency="EUR",
                ean=f"87{i:011d}",
                unit="piece",
                weight=Decimal("0.350"),
                active=True,
                attributes={"material": "cotton", "brand": "Acme"},
                characteristics={"origin": "NL", "delivery_time": "1-2 days"},
                categories=["Clothing > Shirts", "Sale"],
                images=[f"https://img.example.com/{sku}-{n}.jpg" for n in range(2)],
                variants=[
                    Variant(
                        sku=f"{sku}-{v}",
                        name=f"Product {i} size {v}",
                        options={"Size": str(v)},
                        price=Decimal("19.95"),
                        ean=f"88{i:08d}{v:03d}",
                        image=f"https://img.example.com/{sku}-v{v}.jpg",
                    )
                    for v in range(s.variants)
                ],
                updated_at=EPOCH + timedelta(seconds=i),
            )


class CounterSettings(BaseModel):
    stock_batch: int = Field(250, ge=1)


class CounterPlugin:
    """Counts what it is asked to write and keeps nothing."""

    name = "counter"
    title = "Benchmark counter"
    Settings = CounterSettings
    capabilities = Capabilities(
        writes={"stock", "products"},
        product_types={"simple", "configurable"},
        variants=True,
        images=10,
        variant_images=1,
        categories=True,
        attributes=True,
        stock_batch=250,
    )

    def __init__(self, settings: CounterSettings) -> None:
        self.counts: dict[str, int] = {"push_stock": 0, "levels": 0, "products": 0}

    @hookimpl
    def check_connection(self) -> None:
        return None

    @hookimpl
    def push_stock(self, levels: list[StockLevel]) -> None:
        self.counts["push_stock"] += 1
        self.counts["levels"] += len(levels)

    @hookimpl
    def find_products(self, skus: list[str]) -> dict[str, str]:
        return {}

    @hookimpl
    def upsert_product(self, product: Product, existing_id: Any, update_info: bool) -> str:
        self.counts["products"] += 1
        return existing_id or f"id-{product.sku}"
