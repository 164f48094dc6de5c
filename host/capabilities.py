"""Capability flags: what a connector reads, writes and can represent (DESIGN §2).

Capabilities are static class attributes, so the compatibility matrix needs no
credentials and no running remote. Their terms (entities, product kinds, order types,
debtor fields) are those of host.vocabulary.
"""

from __future__ import annotations

from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    field_serializer,
    field_validator,
    model_validator,
)

from host.vocabulary import ENTITIES as ENTITIES  # re-exported: the CLI names it from here
from host.vocabulary import DebtorField, Entity, OrderType, ProductKind

#: The hook a connector implements to be a source of an entity.
READ_HOOKS: dict[str, tuple[str, ...]] = {entity: (f"fetch_{entity}",) for entity in ENTITIES}

#: The hooks a connector implements to be a target of an entity.
WRITE_HOOKS: dict[str, tuple[str, ...]] = {
    "orders": ("find_order", "create_order"),
    "products": ("find_products", "upsert_product"),
    "stock": ("push_stock",),
    "customers": ("find_debtor", "upsert_debtor"),
    "shipments": ("create_shipment",),
    "refunds": ("create_refund",),
    "feedback": ("write_feedback",),
}


class Capabilities(BaseModel):
    """What one connector can do; declared once on the plugin class."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    reads: frozenset[Entity] = Field(frozenset(), description="entities it can be a source of")
    writes: frozenset[Entity] = Field(frozenset(), description="entities it can be a target of")
    product_types: frozenset[ProductKind] = Field(
        frozenset({"simple"}), description="kinds of product it takes (a products target)"
    )
    variants: bool = Field(False, description="keeps variants; else they are flattened")
    images: int = Field(0, ge=0, description="max images per product; 0 = no images")
    variant_images: int = Field(0, ge=0, description="max images per variant")
    categories: bool = Field(False, description="keeps categories; else they are dropped")
    attributes: bool = Field(False, description="keeps option axes such as size and colour")
    order_types: frozenset[OrderType] = Field(
        frozenset(), description="what an order can become in it (an orders target)"
    )
    debtor_match: frozenset[DebtorField] = Field(
        frozenset({"email"}),
        description="customer fields find_debtor finds a debtor by (match_debtor_on)",
    )
    debtor_batch: int = Field(
        1,
        ge=1,
        description="max customers per create_debtors call; 1: debtors are created one at a time",
    )
    split_shipments: bool = Field(False, description="keeps partial shipments of an order")
    stock_batch: int = Field(100, ge=1, description="max levels per push_stock call")
    webhooks: frozenset[Entity] = Field(frozenset(), description="entities it announces by webhook")
    rate_limit: str | None = Field(None, description="the documented rate limit, in words")
    why_not: dict[str, str] = Field(
        default_factory=dict,
        description='why an entity is not read or written, by "reads ENTITY" or "writes '
        'ENTITY", e.g. {"writes stock": "currentStock is read-only in the API"}: shown by the '
        "matrix and by a config that asks for it",
    )

    writes_when_set: dict[Entity, str] = Field(
        default_factory=dict,
        description="entities it writes only when a setting names the endpoint, by entity: "
        '{"products": "products_path"} where the docs show no such endpoint; off until the '
        'connection sets it. Each needs a why_not "writes ENTITY" saying why',
    )

    @model_validator(mode="after")
    def _switched_writes(self) -> Capabilities:
        for entity in self.writes_when_set:
            if entity not in self.writes:
                raise ValueError(f"writes_when_set: {entity} is not in writes")
            if f"writes {entity}" not in self.why_not:
                raise ValueError(f'writes_when_set: {entity} needs why_not "writes {entity}"')
        return self

    @field_validator("why_not")
    @classmethod
    def _why_not_keys(cls, value: dict[str, str]) -> dict[str, str]:
        for key in value:
            verb, _, entity = key.partition(" ")
            if verb not in ("reads", "writes") or entity not in ENTITIES:
                raise ValueError(f'why_not: {key!r} is not "reads ENTITY" or "writes ENTITY"')
        return value

    def switched_off(self, entity: str, settings: object) -> bool:
        """Whether writing `entity` waits for a setting (writes_when_set) that a connection
        with these `settings` has not set."""
        switch = self.writes_when_set.get(entity)  # type: ignore[call-overload]
        return switch is not None and not getattr(settings, switch, None)

    def reason(self, verb: str, entity: str) -> str:
        """Why this connector does not `verb` ("reads", "writes") `entity`: ": <why>", or
        "" when it does not say."""
        why = self.why_not.get(f"{verb} {entity}")
        return f": {why}" if why else ""

    @field_serializer("reads", "writes", "product_types", "order_types", "debtor_match", "webhooks")
    def _sorted(self, value: frozenset[str]) -> list[str]:
        return sorted(value)

    def required_hooks(self) -> set[str]:
        """Hook names that the declared reads, writes, webhooks and debtor_batch call for."""
        hooks = {"check_connection"}
        for entity in self.reads:
            hooks.update(READ_HOOKS[entity])
        for entity in self.writes:
            hooks.update(WRITE_HOOKS[entity])
        if self.webhooks:
            hooks.add("parse_webhook")
        if self.debtor_batch > 1:
            hooks.add("create_debtors")
        return hooks


def hook_mismatches(capabilities: Capabilities, implemented: set[str]) -> list[str]:
    """Differences between declared capabilities and implemented hooks, one line each."""
    problems = [
        f"declares {what} {entity} but does not implement {hook}"
        for what, table, entities in (
            ("reads", READ_HOOKS, capabilities.reads),
            ("writes", WRITE_HOOKS, capabilities.writes),
        )
        for entity in sorted(entities)
        for hook in table[entity]
        if hook not in implemented
    ]
    for entity in ENTITIES:
        if entity not in capabilities.reads and READ_HOOKS[entity][0] in implemented:
            problems.append(
                f"implements {READ_HOOKS[entity][0]} but does not declare reads {entity}"
            )
        extra = [h for h in WRITE_HOOKS[entity] if h in implemented]
        # an order target may keep debtors for its orders without being a customers target
        debtors_for_orders = entity == "customers" and "orders" in capabilities.writes
        if (
            entity not in capabilities.writes
            and len(extra) == len(WRITE_HOOKS[entity])
            and not debtors_for_orders
        ):
            problems.append(f"implements {', '.join(extra)} but does not declare writes {entity}")
    if capabilities.webhooks and "parse_webhook" not in implemented:
        problems.append("declares webhooks but does not implement parse_webhook")
    if capabilities.order_types and "orders" not in capabilities.writes:
        problems.append("declares order_types but does not write orders")
    if "orders" in capabilities.writes and not capabilities.order_types:
        problems.append("declares writes orders but no order_types")
    if capabilities.debtor_batch > 1:
        if "create_debtors" not in implemented:
            problems.append("declares debtor_batch but does not implement create_debtors")
        if "customers" not in capabilities.writes:
            problems.append("declares debtor_batch but does not write customers")
    elif "create_debtors" in implemented:
        problems.append("implements create_debtors but declares no debtor_batch above 1")
    if "find_debtor" in implemented and not capabilities.debtor_match:
        problems.append("implements find_debtor but declares no debtor_match")
    if "check_connection" not in implemented:
        problems.append("does not implement check_connection")
    return problems
