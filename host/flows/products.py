"""Products flow: create or update by SKU, adapted to what the target can hold (DESIGN §4).

A configurable product goes to a target without variants as one simple product per
variant (`variants = "flatten"`, the default), or is skipped ("skip") or fails
("error"). Images beyond the target's limit, categories and option attributes the
target cannot hold are dropped; every loss is an activity-log event.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field

from host.errors import CapabilityError, RecordInvalid
from host.flows import Flow, FlowSettings, Outcome, Unit
from host.flows.writes import CommitPerChunk, WriteStrategy
from host.models import Product, Variant


class ProductsSettings(FlowSettings):
    update_info: bool = Field(
        True,
        description="false: an existing product keeps its name, descriptions, attributes, "
        "categories and images; only price, EAN, active and stock settings are updated",
    )
    variants: Literal["flatten", "skip", "error"] = Field(
        "flatten", description="what a configurable product becomes in a target without variants"
    )


class ProductsFlow(Flow):
    kind = "products"
    Settings = ProductsSettings

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self._found: dict[str, str] = {}
        self._written: dict[str, str] = {}  # SKU -> the source record that wrote it this run

    def writes(self) -> WriteStrategy:
        return CommitPerChunk()  # find_products finds a product a crash left unbound

    def select(self, record: Any) -> str | None:
        caps = self.ctx.target.capabilities
        if record.variants and not caps.variants and self.settings.variants == "skip":
            return "configurable product skipped: target has no variants (variants = skip)"
        return None

    def units(self, record: Any) -> list[Unit]:
        caps = self.ctx.target.capabilities
        if not (record.variants and not caps.variants):
            return [self.unit(record.key, record.key, self._adapt(record))]
        if self.settings.variants == "error":
            raise CapabilityError(
                f"product {record.sku} has {len(record.variants)} variants and "
                f"{self.ctx.target.name} has none (variants = error)"
            )
        self.ctx.event(
            record.key,
            f"variants flattened: target has no variants ({len(record.variants)} simple products)",
        )
        units = []
        for variant in record.variants:
            simple = self._adapt(flatten(record, variant))
            units.append(self.unit(record.key, simple.key, simple))
        return units

    def _adapt(self, product: Product) -> Product:
        caps = self.ctx.target.capabilities
        changes: dict[str, Any] = {}
        losses = []
        if len(product.images) > caps.images:
            changes["images"] = product.images[: caps.images]
            dropped = len(product.images) - caps.images
            losses.append(
                "images dropped: target has no images"
                if caps.images == 0
                else f"{dropped} images dropped: target keeps at most {caps.images} per product"
            )
        if product.variants and caps.variant_images == 0 and any(v.image for v in product.variants):
            changes["variants"] = [v.model_copy(update={"image": None}) for v in product.variants]
            losses.append("variant images dropped: target has no variant images")
        if product.categories and not caps.categories:
            changes["categories"] = []
            losses.append("categories dropped: target has no categories")
        if product.attributes and not caps.attributes:
            changes["attributes"] = {}
            losses.append("attributes dropped: target has no option attributes")
        if product.type not in caps.product_types and product.type == "virtual":
            changes["type"] = "simple"
            losses.append("virtual product written as simple: target has no virtual products")
        for loss in losses:
            self.ctx.event(product.key, loss)
        return product.model_copy(update=changes) if changes else product

    def prepare(self, units: list[Unit]) -> None:
        """Look up every unbound SKU of a chunk in one call."""
        skus = [u.record.sku for u in units if u.binding is None]
        self._found = (self.ctx.target.hook.find_products(skus=skus) or {}) if skus else {}

    def write(self, unit: Unit) -> Outcome:
        product = unit.record
        other = self._written.setdefault(product.sku, unit.key)
        if other != unit.key:  # the target keeps one product per SKU: it would flip each run
            raise RecordInvalid(
                f"SKU {product.sku} is also product {other} in this run", key=unit.key, field="sku"
            )
        if unit.binding is not None:
            existing: str | None = unit.binding.target_id
        elif product.sku in self._found:
            existing = self._found[product.sku]
        else:
            existing = (self.ctx.target.hook.find_products(skus=[product.sku]) or {}).get(
                product.sku
            )
        target_id = self.ctx.target.hook.upsert_product(
            product=product, existing_id=existing, update_info=self.settings.update_info
        )
        return Outcome("updated" if existing else "created", str(target_id))


def flatten(product: Product, variant: Variant) -> Product:
    """One simple product for one variant of a configurable product."""
    options = ", ".join(f"{value}" for value in variant.options.values())
    return Product(
        key=f"{product.key}/{variant.sku}",
        updated_at=product.updated_at,
        extra=product.extra,
        sku=variant.sku,
        name=variant.name or (f"{product.name} ({options})" if options else product.name),
        type="simple",
        description=product.description,
        short_description=product.short_description,
        price=variant.price if variant.price is not None else product.price,
        price_includes_tax=product.price_includes_tax,
        tax_rate=product.tax_rate,
        cost_price=product.cost_price,
        currency=product.currency,
        ean=variant.ean,
        unit=product.unit,
        weight=variant.weight if variant.weight is not None else product.weight,
        active=product.active and variant.active,
        attributes={**product.attributes, **variant.options},
        characteristics=product.characteristics,
        categories=product.categories,
        images=[variant.image] if variant.image else product.images,
    )
