"""Canonical records: what every connector reads and writes (DESIGN §3).

Money and quantities are Decimal (a float is refused, since it cannot hold 0.10
exactly); datetimes are timezone aware and kept in UTC; countries are ISO 3166-1
alpha-2, currencies ISO 4217; e-mail addresses are lower-cased. Every record has
`key` (its id in the source system), `updated_at` and `extra` (custom fields;
keys starting with `native.` go into the target's native payload as they are).
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)

from host.codes import COUNTRIES, CURRENCIES
from host.errors import RecordInvalid
from host.vocabulary import Entity, ProductKind
from host.vocabulary import OrderType as OrderType  # re-exported: flows name it from here


def _refuse_float(value: Any) -> Any:
    if isinstance(value, float):
        raise ValueError("a float; give money and quantities as Decimal or a string")
    return value


def _country(value: str) -> str:
    code = value.strip().upper()
    if code not in COUNTRIES:
        raise ValueError(f"{value!r} is not an ISO 3166-1 alpha-2 country code")
    return code


def _currency(value: str) -> str:
    code = value.strip().upper()
    if code not in CURRENCIES:
        raise ValueError(f"{value!r} is not an ISO 4217 currency code")
    return code


_EMAIL = re.compile(r"[^@\s]+@[^@\s]+")


def _email(value: str) -> str:
    address = value.strip().lower()
    if not _EMAIL.fullmatch(address):
        raise ValueError("not an e-mail address (it needs one '@' between a name and a domain)")
    return address


def _utc(value: datetime) -> datetime:
    return value.astimezone(timezone.utc)


Money = Annotated[Decimal, BeforeValidator(_refuse_float)]
Quantity = Annotated[Decimal, BeforeValidator(_refuse_float), Field(ge=0)]
SignedQuantity = Annotated[Decimal, BeforeValidator(_refuse_float)]
TaxRate = Annotated[Decimal, BeforeValidator(_refuse_float), Field(ge=0, le=100)]
"""A tax rate in percent: 21 means 21 %."""
Country = Annotated[str, AfterValidator(_country)]
Currency = Annotated[str, AfterValidator(_currency)]
Email = Annotated[str, AfterValidator(_email)]
UtcDatetime = Annotated[AwareDatetime, AfterValidator(_utc)]

OrderStatus = Literal[
    "pending",
    "authorized",
    "paid",
    "partially_paid",
    "refunded",
    "partially_refunded",
    "voided",
    "cancelled",
]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Record(_Model):
    """Fields every record carries."""

    key: str = Field(min_length=1, description="the record's id in the source system")
    updated_at: UtcDatetime | None = None
    extra: dict[str, Any] = Field(default_factory=dict)


class Address(_Model):
    company: str | None = None
    name: str | None = None
    street: str | None = None
    house_number: str | None = None
    house_number_suffix: str | None = None
    street2: str | None = None
    postcode: str | None = None
    city: str | None = None
    region: str | None = None
    country: Country | None = None
    phone: str | None = None

    @property
    def street_line(self) -> str | None:
        """Street, house number and suffix on one line ("Keizersgracht 123 A"), as remotes
        with a single address line take them; None when all three are empty."""
        parts = (self.street, self.house_number, self.house_number_suffix)
        return " ".join(p for p in parts if p) or None


_HOUSE_NUMBER = re.compile(
    r"^(?P<street>.*?\D)\s+(?P<number>\d+)\s*[-/]?\s*(?P<suffix>[A-Za-z0-9]{0,4})$"
)


def split_street_line(line: str | None) -> tuple[str | None, str | None, str | None]:
    """(street, house number, suffix) of one address line: "Keizersgracht 123 A" ->
    ("Keizersgracht", "123", "A"); a line without a house number at its end is the street."""
    if not line or not line.strip():
        return None, None, None
    match = _HOUSE_NUMBER.match(line.strip())
    if match is None:
        return line.strip(), None, None
    return match["street"].strip(), match["number"], match["suffix"] or None


class Customer(Record):
    email: Email | None = None
    company: str | None = None
    first_name: str | None = None
    last_name: str | None = None
    phone: str | None = None
    vat_number: str | None = None
    group: str | None = Field(None, description="customer classification")
    language: str | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None

    @property
    def kind(self) -> Literal["company", "person"]:
        """ "company" when a company name is set, else "person"."""
        return "company" if self.company else "person"


class Variant(_Model):
    sku: str = Field(min_length=1)
    name: str | None = None
    options: dict[str, str] = Field(default_factory=dict, description='e.g. {"Size": "M"}')
    price: Money | None = None
    ean: str | None = None
    image: str | None = None
    weight: Quantity | None = None
    active: bool = True


class Product(Record):
    sku: str = Field(min_length=1)
    name: str
    type: ProductKind = "simple"
    description: str | None = None
    short_description: str | None = None
    price: Money | None = None
    price_includes_tax: bool = True
    tax_rate: TaxRate | None = None
    cost_price: Money | None = None
    currency: Currency | None = None
    ean: str | None = None
    unit: str | None = None
    weight: Quantity | None = None
    active: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)
    characteristics: dict[str, Any] = Field(
        default_factory=dict, description="origin, delivery time, ..."
    )
    categories: list[str] = Field(default_factory=list, description='paths such as "A > B"')
    images: list[str] = Field(default_factory=list, description="image URLs")
    variants: list[Variant] = Field(default_factory=list)

    @model_validator(mode="after")
    def _variants_need_configurable(self) -> Product:
        if self.variants and self.type != "configurable":
            raise ValueError("only a configurable product has variants (type is not configurable)")
        return self


class StockLevel(Record):
    """Stock of one SKU at one location; `quantity` is set by the stock flow."""

    sku: str = Field(min_length=1)
    location: str | None = None
    on_hand: SignedQuantity = Decimal(0)
    reserved: SignedQuantity = Decimal(0)
    available: SignedQuantity | None = None
    managed: bool = True
    quantity: SignedQuantity | None = Field(
        None, description="what the target should show, set from the flow's stock_rule"
    )


class OrderLine(_Model):
    sku: str | None = None
    name: str | None = None
    quantity: Quantity
    unit_price: Money
    tax_rate: TaxRate | None = None
    discount: Money = Decimal(0)


class ShippingLine(_Model):
    method: str | None = None
    price: Money
    tax_rate: TaxRate | None = None


class Order(Record):
    number: str
    created_at: UtcDatetime
    status: OrderStatus
    fulfillment_status: str | None = None
    currency: Currency
    prices_include_tax: bool = True
    customer: Customer | None = None
    billing_address: Address | None = None
    shipping_address: Address | None = None
    lines: list[OrderLine] = Field(default_factory=list)
    shipping_lines: list[ShippingLine] = Field(default_factory=list)
    payment_method: str | None = None
    payment_terms: str | None = None
    reference: str | None = Field(None, description="the customer's purchase order number")
    note: str | None = None
    tags: list[str] = Field(default_factory=list)
    total: Money | None = None
    tax_total: Money | None = None


class ShipmentLine(_Model):
    sku: str
    quantity: Quantity


class Shipment(Record):
    order_key: str | None = None
    order_number: str | None = None
    carrier: str | None = None
    tracking_number: str | None = None
    tracking_url: str | None = None
    lines: list[ShipmentLine] = Field(default_factory=list)
    shipped_at: UtcDatetime | None = None
    complete: bool = True


class RefundLine(_Model):
    sku: str | None = None
    quantity: Quantity
    amount: Money


class Refund(Record):
    order_key: str | None = None
    order_number: str | None = None
    created_at: UtcDatetime | None = None
    lines: list[RefundLine] = Field(default_factory=list)
    shipping_amount: Money = Decimal(0)
    total: Money
    currency: Currency
    reason: str | None = None


FeedbackStatus = Literal["entered", "sent", "reminded", "started", "completed", "expired"]
"""Where a feedback invitation is: entered (not sent yet), sent, reminded, started (the
customer began answering), completed (answered: it has a score) or expired (never answered)."""


class Feedback(Record):
    """A customer's feedback on one order (a feedback service's transaction): the
    invitation's status and, once the customer answered, the score.

    `key` is the feedback's id in its source; `order_key` the order's id in that source
    (a feedback service's transaction is its order) and `order_number` the order number the
    transaction was entered with, so that the flow finds the order in the target."""

    order_key: str | None = None
    order_number: str | None = None
    unit: str | None = Field(
        None, max_length=255, description="the branch, shop or location it is for"
    )
    customer_key: str | None = Field(None, description="the customer's key it was entered with")
    status: FeedbackStatus
    score: Annotated[Decimal, BeforeValidator(_refuse_float), Field(ge=0, le=100)] | None = Field(
        None, description="the overall score, 0 to 100 (Feeddex's F100)"
    )
    grade: Annotated[Decimal, BeforeValidator(_refuse_float), Field(ge=0, le=10)] | None = Field(
        None, description="the score as a grade, 0 to 10"
    )
    sent_at: UtcDatetime | None = None
    completed_at: UtcDatetime | None = None


class WebhookEvent(_Model):
    """What a webhook announced: which records of which entity changed."""

    connection: str
    entity: Entity
    keys: list[str] = Field(default_factory=list)
    event_id: str | None = Field(None, description="the remote's id, for de-duplication")


#: The record class of each entity.
RECORD_TYPES: dict[str, type[Record]] = {
    "orders": Order,
    "products": Product,
    "stock": StockLevel,
    "customers": Customer,
    "shipments": Shipment,
    "refunds": Refund,
    "feedback": Feedback,
}


def record_or_invalid(
    model: type[Record], data: dict[str, Any], key: str, payload: Any = None
) -> Record | RecordInvalid:
    """Validate `data` as `model`; a record that does not validate comes back as a
    RecordInvalid (naming the record and the field) for a source to yield, not raise."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        noun = {"StockLevel": "stock level"}.get(model.__name__, model.__name__.lower())
        problems = validation_problems(exc, f"{noun} {key}")
        field = ".".join(str(p) for p in exc.errors()[0]["loc"]) if exc.errors() else None
        return RecordInvalid("; ".join(problems), key=key, field=field, payload=payload)


def validation_problems(error: ValidationError, record: str | None = None) -> list[str]:
    """One line per problem, naming the record and the field, never echoing the value.

    Input values are left out on purpose: they may be secrets or personal data.
    """
    prefix = f"{record}: " if record else ""
    lines = []
    for problem in error.errors(include_input=False, include_url=False):
        field = ".".join(str(part) for part in problem["loc"]) or "(record)"
        message = problem["msg"].removeprefix("Value error, ")
        lines.append(f"{prefix}{field}: {message}")
    return lines
