"""Asperion's JSON <-> ihost records, both ways, and nothing else (api/asperion.md §2).

Date-times without a zone are Amsterdam local time, both ways. Amounts are JSON numbers:
read through their text into Decimal, written as numbers rounded to cents. What is only
PROPOSED about Asperion's fields (the sales-order body, contact persons, reservedStock,
the debtor kind as "business booking group") is named by the settings, not fixed here.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from host.models import Address, Customer, Order, split_street_line

if TYPE_CHECKING:
    from ihost_asperion.plugin import AsperionSettings

AMSTERDAM = ZoneInfo("Europe/Amsterdam")
CENT = Decimal("0.01")
HUNDRED = Decimal(100)
FREE_FIELDS = tuple(f"freeField{n}" for n in range(1, 6))

#: lengths of the debtor fields that carry record values (PROPOSED, as the sandbox keeps
#: them): a longer value is refused before anything is written, never cut
DEBTOR_LIMITS = {
    "name": 100,
    "attentionTo": 100,
    "address": 100,
    "postCode": 10,
    "city": 50,
    "emailAddress": 100,
    "phoneNumber": 30,
}
ARTICLE_CODE = 30
ORDER_REFERENCE = 50


#: how far ahead of now a change may be stamped (clocks differ); a later dateLastChange is
#: not a time anything changed, and would carry the flow's cursor past every real change
FUTURE = timedelta(days=1)


class Malformed(ValueError):
    """A value in Asperion's JSON that its field cannot hold; `field` is Asperion's name."""

    def __init__(self, field: str, value: Any, problem: str) -> None:
        shown = repr(value)
        shown = shown if len(shown) <= 60 else f"{shown[:57]}..."
        super().__init__(f"{field}: {shown} {problem}")
        self.field = field
        self.problem = f"{field}: {problem}"


# --- values -------------------------------------------------------------------------------


def from_local(text: Any) -> datetime | None:
    """A date-time as Asperion gives it (Amsterdam local, no zone; or with a zone; or a
    date) in UTC; None for empty. ValueError for what is none of these."""
    if not text:
        return None
    moment = datetime.fromisoformat(str(text).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=AMSTERDAM)
    try:
        return moment.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError(f"{text!r} is out of range") from None


def changed_at(row: Mapping[str, Any], field: str = "dateLastChange") -> datetime | None:
    """The moment of `field` of an item; Malformed when it is no date-time, or lies in
    the future."""
    value = row.get(field)
    if value is None or value == "":
        return None
    try:
        moment = from_local(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise Malformed(field, value, "is not a date-time")
    if moment > datetime.now(timezone.utc) + FUTURE:
        raise Malformed(field, value, "lies in the future")
    return moment


def number(row: Mapping[str, Any], field: str) -> Decimal | None:
    """A numeric field of an item as Decimal (None when empty); Malformed for anything
    but a finite JSON number or its text."""
    value = row.get(field)
    if isinstance(value, bool | dict | list):
        raise Malformed(field, value, "is not a number")
    try:
        found = decimal(value)
    except ValueError:
        raise Malformed(field, value, "is not a number") from None
    if found is not None and not found.is_finite():
        raise Malformed(field, value, "is not a number")
    return found


def text_of(row: Mapping[str, Any], field: str, limit: int | None = None) -> str | None:
    """A text field of an item, stripped (None when empty); Malformed when it is longer
    than Asperion's field holds."""
    value = _text(row.get(field))
    if value is not None and limit is not None and len(value) > limit:
        raise Malformed(field, f"{value[:20]}...", f"is {len(value)} characters; it holds {limit}")
    return value


def to_local(moment: datetime) -> str:
    """A moment as Asperion takes it: Amsterdam local time, no zone, to the second."""
    return moment.astimezone(AMSTERDAM).replace(tzinfo=None, microsecond=0).isoformat()


def to_local_date(moment: datetime | date) -> str:
    """The Amsterdam calendar day of a moment (an order placed at 23:30 UTC is booked on
    the next day in Amsterdam)."""
    if isinstance(moment, datetime):
        return moment.astimezone(AMSTERDAM).date().isoformat()
    return moment.isoformat()


def decimal(value: Any) -> Decimal | None:
    """A JSON number (or its text) as Decimal, through its text: 12.1 stays 12.1."""
    if value is None or value == "":
        return None
    try:
        return Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not a number") from None


def cents(value: Decimal) -> float:
    """A Decimal rounded to cents, as the JSON number Asperion takes."""
    return float(value.quantize(CENT, ROUND_HALF_UP))


def _text(value: Any) -> str | None:
    return None if value is None or str(value).strip() == "" else str(value).strip()


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries whose value is not None."""
    return {k: v for k, v in values.items() if v is not None}


# --- articles, stock, debtors -> records ------------------------------------------------


def product_from_article(
    row: Mapping[str, Any], vat_rates: Mapping[str, Decimal], settings: AsperionSettings
) -> dict[str, Any]:
    """An article as a simple Product: the article code is its key and SKU; the free
    fields named in the settings become attributes or characteristics."""
    code = str(row.get("articleCode") or "")
    attributes = {
        name: row[field]
        for field, name in settings.attribute_fields.items()
        if _text(row.get(field))
    }
    characteristics = {
        name: row[field]
        for field, name in settings.characteristic_fields.items()
        if _text(row.get(field))
    }
    return {
        "key": code,
        "sku": code,
        "name": _text(row.get("description")) or code,
        "description": _text(row.get("longDescription")),
        "price": number(row, "salesPrice"),
        "price_includes_tax": False,
        "tax_rate": vat_rates.get(str(row.get("vatCodeId"))),
        "currency": "EUR",
        "ean": _text(row.get("ean")),
        "unit": _text(row.get("unit")),
        "active": bool(row.get("active", True)),
        "attributes": attributes,
        "characteristics": characteristics,
        "updated_at": changed_at(row),
    }


def stock_from_article(row: Mapping[str, Any], reserved_field: str | None) -> dict[str, Any]:
    """An article's stock: currentStock on hand, the reserved quantity where the
    administration reports one (`reserved_field`)."""
    code = str(row.get("articleCode") or "")
    reserved = number(row, reserved_field) if reserved_field else None
    return {
        "key": code,
        "sku": code,
        "on_hand": number(row, "currentStock") or Decimal(0),
        "reserved": reserved or Decimal(0),
        "updated_at": changed_at(row),
    }


def is_company(row: Mapping[str, Any]) -> bool:
    """A company debtor names the person it is for (attentionTo) or carries a chamber of
    commerce or VAT number; a person debtor has none of these (see the README)."""
    return any(_text(row.get(f)) for f in ("attentionTo", "cocNumber", "vatNumber"))


def split_name(full: str | None) -> tuple[str | None, str | None]:
    """First name and the rest: "Anna de Vries" -> ("Anna", "de Vries")."""
    if not full or not full.strip():
        return None, None
    first, _, rest = full.strip().partition(" ")
    return (first, rest.strip()) if rest.strip() else (None, first)


def customer_from_debtor(row: Mapping[str, Any]) -> dict[str, Any]:
    """A debtor as a Customer; its customer number is the key."""
    for field, limit in DEBTOR_LIMITS.items():
        text_of(row, field, limit)  # a longer value is not one Asperion keeps
    company = is_company(row)
    person = _text(row.get("attentionTo")) if company else _text(row.get("name"))
    first, last = split_name(person)
    street, number, suffix = split_street_line(_text(row.get("address")))
    address = compact(
        {
            "company": _text(row.get("name")) if company else None,
            "name": person,
            "street": street,
            "house_number": number,
            "house_number_suffix": suffix,
            "street2": _text(row.get("addressLine2")),
            "postcode": _text(row.get("postCode")),
            "city": _text(row.get("city")),
            "country": _text(row.get("countryCode")),
            "phone": _text(row.get("phoneNumber")),
        }
    )
    return {
        "key": str(row.get("customerNumber") or row.get("id")),
        "email": _text(row.get("emailAddress")),
        "company": _text(row.get("name")) if company else None,
        "first_name": first,
        "last_name": last,
        "phone": _text(row.get("phoneNumber")) or _text(row.get("mobileNumber")),
        "vat_number": _text(row.get("vatNumber")),
        "group": _text(row.get("debtorKindId")),
        "billing_address": address if street or address.get("city") else None,
        "updated_at": changed_at(row),
    }


# --- records -> debtors ---------------------------------------------------------------------


def full_name(customer: Customer) -> str | None:
    return " ".join(p for p in (customer.first_name, customer.last_name) if p) or None


def debtor_body(
    customer: Customer,
    settings: AsperionSettings,
    existing: Mapping[str, Any] | None = None,
    payment_condition: int | None = None,
) -> dict[str, Any]:
    """The debtor to POST (`existing` None) or to PUT over `existing` (as GET gave it):
    only what the customer has replaces what Asperion holds; the rest is kept, since a PUT
    empties what it leaves out. A company is named by its company name with the person in
    attentionTo; a person by their name."""
    address = customer.billing_address or customer.shipping_address or Address()
    person = full_name(customer)
    ours = {
        "name": customer.company or person or customer.email or customer.key,
        "attentionTo": person if customer.company else None,
        "address": address.street_line,
        "addressLine2": address.street2,
        "postCode": address.postcode,
        "city": address.city,
        "countryCode": address.country or (settings.default_country if address.city else None),
        "emailAddress": customer.email,
        "phoneNumber": customer.phone or address.phone,
        "vatNumber": customer.vat_number,
        # a new debtor gets the business booking group; a known one keeps its own
        settings.booking_group_field: settings.business_booking_group
        if existing is None or not existing.get(settings.booking_group_field)
        else None,
        # a new debtor gets the default terms; a known one keeps its own unless mapped
        "paymentConditionId": payment_condition
        or (settings.payment_condition_id if existing is None else None),
        "paymentMethodId": settings.payment_method_id if existing is None else None,
    }
    if existing is None:
        return compact(ours)
    kept = {k: v for k, v in existing.items() if k not in READ_ONLY_DEBTOR}
    if not customer.company:
        ours["attentionTo"] = None  # a person debtor names no one else
        kept.pop("attentionTo", None)
    return {**kept, **compact(ours)}


READ_ONLY_DEBTOR = frozenset({"id", "_meta", "dateAdded", "dateLastChange"})


def contact_body(customer: Customer) -> dict[str, Any]:
    """The contact person of a company debtor (PROPOSED sub-resource)."""
    return compact(
        {
            "firstName": customer.first_name,
            "lastName": customer.last_name or customer.first_name or customer.email,
            "emailAddress": customer.email,
            "phoneNumber": customer.phone,
        }
    )


def debtor_problems(customer: Customer, settings: AsperionSettings) -> list[tuple[str, str]]:
    """(field, problem) for each customer value longer than the debtor field it fills."""
    body = debtor_body(customer, settings)
    first, last = len(customer.first_name or ""), len(customer.last_name or "")
    fields = {
        "name": "company" if customer.company else "first_name" if first > last else "last_name",
        "attentionTo": "first_name",
        "address": "billing_address.street",
        "postCode": "billing_address.postcode",
        "city": "billing_address.city",
        "emailAddress": "email",
        "phoneNumber": "phone",
    }
    return [
        (fields[name], f"is {len(str(body[name]))} characters; Asperion's {name} holds {limit}")
        for name, limit in DEBTOR_LIMITS.items()
        if len(str(body.get(name) or "")) > limit
    ]


# --- records -> sales orders and invoices ---------------------------------------------------


def delivery_address(order: Order, settings: AsperionSettings) -> dict[str, Any] | None:
    address = order.shipping_address
    if address is None:
        return None
    return compact(
        {
            "name": address.company or address.name,
            "attentionTo": address.name if address.company else None,
            "address": address.street_line,
            "addressLine2": address.street2,
            "postCode": address.postcode,
            "city": address.city,
            "countryCode": address.country or settings.default_country,
        }
    )


def discount_percentage(gross: Decimal, discount: Decimal) -> float | None:
    """A line's discount as the percentage Asperion takes, precise enough that the line
    comes to the same cents."""
    if not discount or not gross:
        return None
    return float((discount / gross * HUNDRED).quantize(Decimal("0.000001")))


def sales_order_body(
    order: Order,
    debtor_id: int,
    vat_codes: Mapping[int, str | None],
    settings: AsperionSettings,
    payment: Mapping[str, Any],
) -> dict[str, Any]:
    """A SalesOrderWithLines (PROPOSED body): article lines by article code, shipping as
    the shipping article; `vat_codes` gives each line's VAT code by its index (the order's
    lines, then its shipping lines), None for the article's own."""
    lines = []
    for index, line in enumerate(order.lines):
        lines.append(
            compact(
                {
                    "articleCode": line.sku,
                    "description": line.name,
                    "quantity": float(line.quantity),
                    "unitPrice": cents(line.unit_price),
                    "discountPercentage": discount_percentage(
                        line.unit_price * line.quantity, line.discount
                    ),
                    "vatCodeId": vat_codes.get(index),
                }
            )
        )
    charged = (s for s in order.shipping_lines if s.price)
    for offset, shipping in enumerate(charged, len(order.lines)):
        lines.append(
            compact(
                {
                    "articleCode": settings.shipping_article,
                    "description": shipping.method,
                    "quantity": 1.0,
                    "unitPrice": cents(shipping.price),
                    "vatCodeId": vat_codes.get(offset),
                }
            )
        )
    return compact(
        {
            "debtorId": debtor_id,
            settings.order_reference_field: order.number,
            "date": to_local_date(order.created_at),
            "description": f"Order {order.number}",
            "reference": order.reference,
            "pricesIncludeVat": order.prices_include_tax,
            "deliveryAddress": delivery_address(order, settings),
            **payment,
            "lines": {"_data": lines},
        }
    )


def net_and_vat(gross: Decimal, rate: Decimal, includes_tax: bool) -> tuple[Decimal, Decimal]:
    """A line's amount excluding VAT and its VAT, each to the cent, adding up to the line's
    total including VAT."""
    if includes_tax:
        net = (gross * HUNDRED / (HUNDRED + rate)).quantize(CENT, ROUND_HALF_UP)
        return net, gross.quantize(CENT, ROUND_HALF_UP) - net
    net = gross.quantize(CENT, ROUND_HALF_UP)
    return net, (net * rate / HUNDRED).quantize(CENT, ROUND_HALF_UP)


def invoice_lines(
    order: Order, rates: Iterable[tuple[str, Decimal]], settings: AsperionSettings
) -> list[dict[str, Any]]:
    """Financial lines of a sales invoice (ledger account and VAT code, not articles), one
    per order line and shipping line; `rates` gives each one's (VAT code, percentage)."""
    amounts: list[tuple[str, Decimal, int]] = [
        (
            f"{line.quantity.normalize():f} x {line.name or line.sku} ({line.sku})"
            if line.sku
            else line.name or "Order line",
            line.unit_price * line.quantity - line.discount,
            settings.revenue_ledger_account_id or 0,
        )
        for line in order.lines
    ]
    amounts += [
        (
            shipping.method or "Shipping",
            shipping.price,
            settings.shipping_ledger_account_id or settings.revenue_ledger_account_id or 0,
        )
        for shipping in order.shipping_lines
        if shipping.price
    ]
    lines = []
    for (description, gross, ledger), (code, rate) in zip(amounts, rates, strict=True):
        net, vat = net_and_vat(gross, rate, order.prices_include_tax)
        lines.append(
            compact(
                {
                    "description": description[:255],
                    "amount": cents(net),
                    "vatAmount": cents(vat),
                    "vatCode": code,
                    "ledgerAccountId": ledger,
                    "costCenterId": settings.cost_center_id,
                }
            )
        )
    return lines


def invoice_body(
    order: Order,
    customer_number: str,
    lines: list[dict[str, Any]],
    settings: AsperionSettings,
    payment_condition: int | None,
) -> dict[str, Any]:
    """A sales invoice with lines: the order number is its invoice number (or the field
    `invoice_reference_field` names), booked in the sales journal."""
    return compact(
        {
            settings.invoice_reference_field: order.number,
            "date": to_local_date(order.created_at),
            "description": f"Order {order.number}",
            "debtorCustomerNumber": customer_number,
            "journalId": settings.sales_journal_id,
            "paymentConditionId": payment_condition,
            "lines": {"_data": lines},
        }
    )


def order_problems(
    order: Order, settings: AsperionSettings, order_type: str | None = None
) -> list[tuple[str, str]]:
    """(field, problem) for each order value Asperion would refuse as `order_type`. A line
    without SKU is refused on a sales order (article lines); an invoice's lines are
    financial and take it (an order read from a bookkeeping system has one line per VAT
    rate, without articles)."""
    problems = []
    if len(order.number) > ORDER_REFERENCE:
        problems.append(
            ("number", f"is {len(order.number)} characters; Asperion keeps {ORDER_REFERENCE}")
        )
    for line in order.lines:
        if not line.sku:
            if order_type != "invoice":
                problems.append(
                    ("lines.sku", f"line {line.name!r} has no SKU; a sales order needs one")
                )
        elif len(line.sku) > ARTICLE_CODE:
            problems.append(("lines.sku", f"SKU {line.sku} is longer than {ARTICLE_CODE}"))
        if line.quantity == 0:
            problems.append(("lines.quantity", f"SKU {line.sku}: a quantity of 0"))
        if line.unit_price < 0 or line.discount < 0:
            problems.append(
                (
                    "lines.unit_price" if line.unit_price < 0 else "lines.discount",
                    f"SKU {line.sku}: a negative price or discount; Asperion books a return "
                    "as a credit, not as an order line",
                )
            )
    for shipping in order.shipping_lines:
        if shipping.price < 0:
            problems.append(("shipping_lines.price", "a negative shipping price"))
    return problems
