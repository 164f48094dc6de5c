"""The project's vocabulary, defined once: entities, order types, product kinds and the
customer fields a debtor is found by.

Each term is a `Literal` (for type checkers and pydantic) with a table saying what every
value means; the tuple beside it lists the values in their documented order. Capabilities,
records, hook specs, the config checks, the matrix, the contract kit and the sandboxes
use these names; a connector spells a term exactly as it is written here.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal, get_args

Entity = Literal["orders", "products", "stock", "customers", "shipments", "refunds", "feedback"]
"""A kind of record, and the flow that carries it (`[flows.NAME] kind`)."""

OrderType = Literal["sales_order", "invoice", "direct_invoice", "quote", "financial_entry"]
"""What an order becomes in the target (`order_type` of an orders flow)."""

ProductKind = Literal["simple", "virtual", "configurable"]
"""The kind of a product (`Product.type`, `Capabilities.product_types`)."""

DebtorField = Literal["email", "phone", "vat_number", "key"]
"""A customer field a target can find its debtor by (`match_debtor_on`,
`Capabilities.debtor_match`)."""

ENTITY_MEANING: dict[Entity, str] = {
    "orders": "sales orders with their customer, lines, shipping and taxes",
    "products": "products, a configurable one with its variants",
    "stock": "stock levels, one per SKU and location",
    "customers": "customers; in an accounting system they are kept as debtors",
    "shipments": "shipments of an order, with carrier and tracking",
    "refunds": "refunds (credit notes) of an order",
    "feedback": "a customer's feedback on an order: invitation status and score",
}

ORDER_TYPE_MEANING: dict[OrderType, str] = {
    "sales_order": "a sales order, delivered and invoiced later",
    "invoice": "an invoice",
    "direct_invoice": "an invoice made at once, without a sales order before it",
    "quote": "a quotation",
    "financial_entry": "a journal entry: the debtor for the total, revenue and VAT opposite",
}

PRODUCT_KIND_MEANING: dict[ProductKind, str] = {
    "simple": "one SKU, sold as it is",
    "virtual": "one SKU that is never shipped (a service, a download)",
    "configurable": "a product whose variants (size, colour, ...) each have their own SKU",
}

DEBTOR_FIELD_MEANING: dict[DebtorField, str] = {
    "email": "the e-mail address, without case",
    "phone": "the phone number",
    "vat_number": "the VAT number",
    "key": "the customer's key in the source, which is the debtor's number in the target",
}


def _values(term: Any, meaning: Mapping[Any, str]) -> tuple[Any, ...]:
    """The values of Literal `term`, checked against its table of meanings."""
    values = get_args(term)
    if tuple(meaning) != values:
        raise TypeError(f"the meanings {tuple(meaning)} do not list {values} in order")
    return values


ENTITIES: tuple[Entity, ...] = _values(Entity, ENTITY_MEANING)
ORDER_TYPES: tuple[OrderType, ...] = _values(OrderType, ORDER_TYPE_MEANING)
PRODUCT_KINDS: tuple[ProductKind, ...] = _values(ProductKind, PRODUCT_KIND_MEANING)
DEBTOR_FIELDS: tuple[DebtorField, ...] = _values(DebtorField, DEBTOR_FIELD_MEANING)

__all__ = [
    "DEBTOR_FIELDS",
    "DEBTOR_FIELD_MEANING",
    "ENTITIES",
    "ENTITY_MEANING",
    "ORDER_TYPES",
    "ORDER_TYPE_MEANING",
    "PRODUCT_KINDS",
    "PRODUCT_KIND_MEANING",
    "DebtorField",
    "Entity",
    "OrderType",
    "ProductKind",
]
