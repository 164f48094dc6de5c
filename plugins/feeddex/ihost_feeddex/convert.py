"""Feeddex payloads <-> ihost records, both ways, and nothing else.

Out (PROPOSED shapes, api/feeddex.md §5; the client renames fields as configured): an order
becomes a transaction (the moment Feeddex invites its customer for), a customer a Feeddex
customer keyed by its code, a product and a stock level the emulator-only shapes. In
(CONFIRMED, §2.1): a feedbackData item becomes a Feedback, its status read from which of
the transaction's moments have happened.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import date, datetime, timezone
from decimal import Decimal
from typing import Any
from zoneinfo import ZoneInfo

from host.errors import RecordInvalid
from host.models import Customer, Feedback, Order, Product, StockLevel, record_or_invalid

#: feedbackData's timestamp format (CONFIRMED: UTC, fractional seconds, "Z")
TIMESTAMP = "%Y-%m-%dT%H:%M:%S.%fZ"
#: the transaction moments, latest first: the first one present names the status
MOMENTS = (
    ("feedbackCompleted", "completed"),
    ("expirationDate", "expired"),
    ("feedbackStarted", "started"),
    ("remindedOn", "reminded"),
    ("sentOn", "sent"),
    ("enteredOn", "entered"),
)


def _number(value: Decimal) -> int | float:
    """A quantity as a JSON number: whole ones as integers."""
    return int(value) if value == value.to_integral_value() else float(value)


def _clean(body: dict[str, Any]) -> dict[str, Any]:
    """`body` without its empty values (the API is sent what is known, nothing null)."""
    return {k: v for k, v in body.items() if v not in (None, "", [], {})}


def _native(record: Customer | Order | Product, body: dict[str, Any]) -> dict[str, Any]:
    """`body` with the record's `native.X` extras set as field X, as they are."""
    for name, value in record.extra.items():
        if name.startswith("native."):
            body[name.removeprefix("native.")] = value
    return body


def language(value: str | None) -> str | None:
    """A customer's language as the two letters Feeddex takes ("nl-NL" -> "nl")."""
    if not value:
        return None
    code = value.strip().replace("_", "-").split("-")[0].lower()
    return code if len(code) == 2 and code.isalpha() else None


def customer_fields(customer: Customer) -> dict[str, Any]:
    """The customer as a transaction or a Feeddex customer holds it."""
    address = customer.billing_address or customer.shipping_address
    return _clean(
        {
            "email": customer.email,
            "firstName": customer.first_name,
            "lastName": customer.last_name,
            "companyName": customer.company,
            "phone": customer.phone or (address.phone if address else None),
            "language": language(customer.language),
        }
    )


def customer_body(customer: Customer) -> dict[str, Any]:
    """A Feeddex customer (PROPOSED), keyed by the customer's key as its code."""
    return _native(customer, {"customerCode": customer.key, **customer_fields(customer)})


def transaction_body(
    order: Order,
    unit_id: int,
    customer_code: str | None,
    zone: ZoneInfo,
    *,
    invite_after_days: int | None = None,
    order_lines: bool = True,
) -> dict[str, Any]:
    """The transaction an order becomes (PROPOSED): its number as the external id, its
    local date, the unit, the customer (by code, and with the e-mail Feeddex invites),
    the lines it was for."""
    customer = order.customer
    assert customer is not None  # validate_record refuses an order without one
    lines = [
        _clean({"sku": line.sku, "name": line.name, "quantity": _number(line.quantity)})
        for line in order.lines
    ]
    body = {
        "externalId": order.number,
        "date": order.created_at.astimezone(zone).date().isoformat(),
        "unitId": unit_id,
        "customerCode": customer_code,
        "customer": customer_fields(customer),
        "orderLines": lines if order_lines else None,
        "sendInvitationAfterDays": invite_after_days,
    }
    return _native(order, _clean(body))


def product_body(product: Product) -> dict[str, Any]:
    """A product on the emulator-only endpoint (NON-AUTHORITATIVE)."""
    price = None if product.price is None else str(product.price)
    body = {"sku": product.sku, "name": product.name, "price": price, "ean": product.ean}
    return _native(product, _clean(body))


def stock_body(level: StockLevel) -> dict[str, Any]:
    """A stock level on the emulator-only endpoint (NON-AUTHORITATIVE)."""
    return {"quantity": _number(level.quantity if level.quantity is not None else Decimal(0))}


def moment(value: Any) -> datetime | None:
    """A feedbackData timestamp (or an expiration date) as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    try:
        if len(value) == 10:
            return datetime.combine(date.fromisoformat(value), datetime.min.time(), timezone.utc)
        return datetime.strptime(value, TIMESTAMP).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def feedback_from_item(
    item: Mapping[str, Any], units: Mapping[str, str], order_number: str | None
) -> Feedback | RecordInvalid:
    """One feedbackData item as a Feedback (or a RecordInvalid naming the field): status
    from the latest moment that happened, the F100 score and grade once completed."""
    transaction = item.get("transaction")
    if not isinstance(transaction, Mapping) or transaction.get("id") in (None, ""):
        return RecordInvalid(
            "feedbackData item: transaction.id is missing", key="?", field="transaction.id"
        )
    key = str(transaction["id"])
    for name in ("enteredOn", "sentOn", "remindedOn", "feedbackStarted", "feedbackCompleted"):
        value = transaction.get(name)
        if value not in (None, "") and moment(value) is None:
            return RecordInvalid(
                f"feedback {key}: transaction.{name} is not a timestamp like "
                "2026-03-10T11:00:00.000Z",
                key=key,
                field=f"transaction.{name}",
                payload=dict(item),
            )
    # an expiration date still ahead is a deadline, not a moment that happened
    now = _now()
    happened = {
        status: when
        for name, status in MOMENTS
        if (when := moment(transaction.get(name))) is not None
        and (name != "expirationDate" or when <= now)
    }
    status = next((s for _, s in MOMENTS if s in happened), "entered")
    unit = transaction.get("unitId")
    score = (item.get("f100Scores") or {}).get("overallScore") or {}
    customer = transaction.get("customerCode")
    data = {
        "key": key,
        "order_key": key,
        "order_number": order_number,
        "unit": units.get(str(unit), str(unit)) if unit not in (None, "") else None,
        "customer_key": None if customer in (None, "") else str(customer),
        "status": status,
        "score": _decimal(score.get("value")),
        "grade": _decimal(score.get("valueAsGrade")),
        "sent_at": moment(transaction.get("sentOn")),
        "completed_at": moment(transaction.get("feedbackCompleted")),
        "updated_at": max(happened.values(), default=None),
    }
    return record_or_invalid(Feedback, data, key=key, payload=dict(item))  # type: ignore[return-value]


def _now() -> datetime:
    return datetime.now(timezone.utc)


def _decimal(value: Any) -> Any:
    """A score as a Decimal (its float read through its text: 8.5, not 8.4999...)."""
    if isinstance(value, bool) or value is None:
        return value
    if isinstance(value, (int, float)):
        return Decimal(str(value))
    return value
