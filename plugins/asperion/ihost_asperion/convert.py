"""Asperion's JSON <-> ihost records, both ways, and nothing else (api/asperion.md §2).

Date-times without a zone are Amsterdam local time, both ways. Amounts are JSON numbers:
read through their text into Decimal, written as numbers rounded to cents. What is only
PROPOSED about Asperion's fields (the sales-order body, contact persons, reservedStock,
the debtor kind as "business booking group", the statuses of sales orders) is named by the
settings, not fixed here.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, timedelta, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from host.models import Address, Customer, Feedback, Order, OrderStatus, split_street_line

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
    moment = _date_of(row, field, "is not a date-time")
    if moment is not None and moment > datetime.now(timezone.utc) + FUTURE:
        raise Malformed(field, row.get(field), "lies in the future")
    return moment


def number(row: Mapping[str, Any], field: str, at: str = "") -> Decimal | None:
    """A numeric field of an item as Decimal (None when empty); Malformed for anything
    but a finite JSON number or its text (named `at` + field: `lines._data[0].amount`)."""
    value = row.get(field)
    if isinstance(value, bool | dict | list):
        raise Malformed(at + field, value, "is not a number")
    try:
        found = decimal(value)
    except ValueError:
        raise Malformed(at + field, value, "is not a number") from None
    if found is not None and not found.is_finite():
        raise Malformed(at + field, value, "is not a number")
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


# --- feedback -> a debtor's field ------------------------------------------------------------

#: the statuses of feedback in the order they come: of one day, a later one replaces an
#: earlier one (sent, then completed), never the other way round
FEEDBACK_STATUSES = ("entered", "sent", "reminded", "started", "expired", "completed")
#: a line feedback_line wrote: its status ("F100 ..." is a completed one) and its day
FEEDBACK_LINE = re.compile(
    r"^(?:(?P<score>F100 )|feedback (?P<status>[a-z]+)\b).*?(?:, (?P<day>\d{4}-\d{2}-\d{2}))?$"
)


def feedback_moment(feedback: Feedback) -> datetime | None:
    """When the feedback reached its status: completed_at of a completed one, sent_at of a
    sent one, else the last change of its status (updated_at); the others where it lacks
    that one."""
    moments: tuple[datetime | None, ...] = (feedback.updated_at, feedback.sent_at)
    if feedback.status == "completed":
        moments = (feedback.completed_at, *moments)
    elif feedback.status == "sent":
        moments = (feedback.sent_at, feedback.updated_at)
    return next((m for m in moments if m is not None), None)


def _plain(value: Decimal) -> str:
    """85 as "85", 8.50 as "8.5"."""
    return f"{value.normalize():f}"


def feedback_line(feedback: Feedback, number: str | None, limit: int) -> str:
    """The one line a debtor's feedback_field keeps of a feedback: "F100 85 (8.5) order
    1001, 2026-03-13" once answered, "feedback sent for order 1001, 2026-03-11" (reminded,
    expired, ...) before; the day in Amsterdam. No personal data. Within `limit`
    characters: a long order number is cut ("..."), never the score or the day."""
    moment = feedback_moment(feedback)
    day = f", {to_local_date(moment)}" if moment is not None else ""
    if feedback.status == "completed" and feedback.score is not None:
        grade = f" ({_plain(feedback.grade)})" if feedback.grade is not None else ""
        head, joint = f"F100 {_plain(feedback.score)}{grade}", " order "
    else:
        head, joint = f"feedback {feedback.status}", " for order "
    line = f"{head}{joint}{number}{day}" if number else f"{head}{day}"
    if len(line) > limit and number:
        room = len(number) - (len(line) - limit) - 3
        line = f"{head}{joint}{number[:room]}...{day}" if room > 0 else f"{head}{day}"
    return line[:limit]


def feedback_rank(line: str | None) -> tuple[date, int] | None:
    """The day and status rank of a line feedback_line wrote; None for anything else (an
    empty field, a text of the user's, a line without a day)."""
    found = FEEDBACK_LINE.match(line or "")
    if found is None or found["day"] is None:
        return None
    status = "completed" if found["score"] else found["status"]
    if status not in FEEDBACK_STATUSES:
        return None
    return date.fromisoformat(found["day"]), FEEDBACK_STATUSES.index(status)


def feedback_replaces(line: str, held: str | None) -> bool:
    """Whether `line` goes into the field over `held`: the most recent feedback by day
    stays (of one day, the one further on: completed over sent; of two orders at the same
    point, the one written last). What is not a dated line of ours is replaced; an undated
    line replaces only that."""
    if line == (held or ""):
        return False
    before = feedback_rank(held)
    if before is None:
        return True
    after = feedback_rank(line)
    return after is not None and after >= before


def feedback_debtor_body(existing: Mapping[str, Any], field: str, line: str) -> dict[str, Any]:
    """The debtor to PUT over `existing` (as GET gave it) with `line` in `field`: the rest
    as it is, since a PUT empties what it leaves out."""
    kept = {k: v for k, v in existing.items() if k not in READ_ONLY_DEBTOR}
    return {**kept, field: line}


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


# --- sales invoices and sales orders -> orders ----------------------------------------------

#: the statuses of a sales invoice by number (api/asperion.md §2.5, from the Go client's
#: filter documentation); an invoice may carry the number or the name
INVOICE_STATUS_NAMES: dict[int, str] = {
    1: "Concept",
    2: "InJournalentry",
    3: "InLedger",
    6: "Payable",
    7: "Paid",
    8: "Hold",
}
#: what an invoice's status makes of its order (the setting invoice_statuses changes it):
#: only a paid invoice is paid; a draft, one booked and waiting for payment, one on hold
#: is pending. A credit invoice (a negative total) is refunded, whatever its status.
INVOICE_STATUSES: dict[str, OrderStatus] = {
    "Concept": "pending",
    "InJournalentry": "pending",
    "InLedger": "pending",
    "Payable": "pending",
    "Paid": "paid",
    "Hold": "pending",
}
#: an invoice line the connector wrote for an order line (invoice_lines): "2 x Mug (MUG-01)"
WRITTEN_LINE = re.compile(r"(?P<quantity>\d+(?:\.\d+)?) x (?P<name>.+) \((?P<sku>[^()]+)\)")
UNIT_PRICE = Decimal("0.0001")


def invoice_status_name(value: Any) -> str | None:
    """An invoice status as its name ("Paid"), given as its number (7), the number's text
    or the name; None when empty. A number the notes do not list stays its text ("4")."""
    if isinstance(value, int) and not isinstance(value, bool):
        return INVOICE_STATUS_NAMES.get(value, str(value))
    name = _text(value)
    if name is not None and name.isdigit():
        return INVOICE_STATUS_NAMES.get(int(name), name)
    return name


def invoice_statuses(overrides: Mapping[str, OrderStatus]) -> dict[str, OrderStatus]:
    """Invoice status name -> order status: INVOICE_STATUSES, with `overrides` (keyed by
    status name or number, the setting invoice_statuses) over them."""
    table = dict(INVOICE_STATUSES)
    for key, status in overrides.items():
        name = invoice_status_name(key) or key
        table = {k: v for k, v in table.items() if k.casefold() != name.casefold()}
        table[name] = status
    return table


def order_status(
    native: str | None, table: Mapping[str, OrderStatus], unknown: OrderStatus
) -> OrderStatus:
    """The order status `table` gives a native status (compared without case); `unknown`
    for a status the table does not name, or none."""
    if not native:
        return unknown
    wanted = native.casefold()
    return next((s for k, s in table.items() if k.casefold() == wanted), unknown)


def status_filter(
    wanted: Iterable[str], table: Mapping[str, OrderStatus], unknown: OrderStatus
) -> str | None:
    """The one native status (a key of `table`) of every item whose order status is
    `wanted`, so that asking the remote for it alone loses nothing; None where there are
    several, none, or where a status the table does not know (`unknown`) is wanted."""
    statuses = set(wanted)
    if unknown in statuses:
        return None
    natives = [k for k, v in table.items() if v in statuses]
    return natives[0] if len(natives) == 1 else None


def _date_of(row: Mapping[str, Any], field: str, problem: str = "is not a date") -> datetime | None:
    """A date or date-time field of an item (Amsterdam local) in UTC; None when empty;
    Malformed (`problem`) when it is neither."""
    value = row.get(field)
    if value is None or value == "":
        return None
    try:
        moment = from_local(value) if isinstance(value, str) else None
    except ValueError:
        moment = None
    if moment is None:
        raise Malformed(field, value, problem)
    return moment


def _stamp(moment: datetime | None) -> datetime | None:
    """An item's date as its updated_at, where it has no change stamp: none for a date
    ahead of now, which would carry the flow's cursor past every real change."""
    if moment is None or moment > datetime.now(timezone.utc) + FUTURE:
        return None
    return moment


def _lines_of(row: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """The lines of an invoice or sales order (`lines._data`); Malformed when not so."""
    lines = row.get("lines")
    if lines is None:
        return []
    items = lines.get("_data") if isinstance(lines, Mapping) else None
    if not isinstance(items, list):
        raise Malformed("lines", lines, "is not {_data: [...]}")
    for index, item in enumerate(items):
        if not isinstance(item, Mapping):
            raise Malformed(f"lines._data[{index}]", item, "is not an object")
    return items


def _required(row: Mapping[str, Any], field: str, at: str) -> Decimal:
    found = number(row, field, at)
    if found is None:
        raise Malformed(at + field, None, "is missing")
    return found


def _unit_price(amount: Decimal, quantity: Decimal) -> Decimal:
    """A line's amount per unit: to the cent where it divides, else to 1/100 of a cent."""
    unit = amount / quantity
    exact = unit.quantize(CENT, ROUND_HALF_UP)
    return exact if exact == unit else unit.quantize(UNIT_PRICE, ROUND_HALF_UP)


def order_from_invoice(
    row: Mapping[str, Any],
    customer: Customer,
    vat_rates: Mapping[str, Decimal],
    settings: AsperionSettings,
) -> dict[str, Any]:
    """A sales invoice with lines as an Order of its debtor (`customer`).

    The key is the invoice's id. The number is the order number the connector writes
    into `invoice_reference_field` (invoiceNumber by default), else the invoice number:
    the number the customer knows. The date is created_at, and updated_at (an invoice has
    no change stamp). Amounts exclude VAT, as the lines are booked. A line on the shipping
    ledger (when it is not the revenue ledger) is a shipping line; a line the connector
    wrote as "2 x Mug (MUG-01)" gives back its quantity, name and SKU; any other line is
    one unit of its description. The tax rate is that of the line's VAT code."""
    created = _date_of(row, "date")
    shipping_ledger = settings.shipping_ledger_account_id
    if shipping_ledger == settings.revenue_ledger_account_id:
        shipping_ledger = None
    lines, shipping = [], []
    for index, line in enumerate(_lines_of(row)):
        at = f"lines._data[{index}]."
        amount = _required(line, "amount", at)
        description = _text(line.get("description"))
        rate = vat_rates.get(str(line.get("vatCode")))
        if shipping_ledger is not None and line.get("ledgerAccountId") == shipping_ledger:
            shipping.append({"method": description, "price": amount, "tax_rate": rate})
            continue
        written = WRITTEN_LINE.fullmatch(description or "")
        quantity = Decimal(written["quantity"]) if written else Decimal(1)
        if not quantity:
            written, quantity = None, Decimal(1)
        lines.append(
            {
                "sku": written["sku"] if written else None,
                "name": written["name"] if written else description,
                "quantity": quantity,
                "unit_price": _unit_price(amount, quantity),
                "tax_rate": rate,
            }
        )
    total = number(row, "amountInclVat")
    status = (
        "refunded"
        if total is not None and total < 0
        else order_status(
            invoice_status_name(row.get("status")),
            invoice_statuses(settings.invoice_statuses),
            settings.unknown_order_status,
        )
    )
    key = str(row.get("id"))
    invoice_number = text_of(row, "invoiceNumber")
    reference = text_of(row, settings.invoice_reference_field)
    return {
        "key": key,
        "number": reference or invoice_number or key,
        "created_at": created,
        "updated_at": _stamp(created),
        "status": status,
        "currency": settings.currency,
        "prices_include_tax": False,
        "customer": customer,
        "billing_address": customer.billing_address,
        "lines": lines,
        "shipping_lines": shipping,
        "payment_terms": _text(row.get("paymentConditionId")),
        "note": _text(row.get("description")),
        "total": total,
        "tax_total": number(row, "vatAmount"),
        "extra": compact(
            {
                "invoice_number": invoice_number,
                "payment_due_date": _text(row.get("paymentDueDate")),
            }
        ),
    }


def address_from_delivery(value: Any) -> dict[str, Any] | None:
    """A sales order's deliveryAddress (PROPOSED shape) as an Address: a company `name`
    with the person in `attentionTo`, or the person's `name`."""
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise Malformed("deliveryAddress", value, "is not an object")
    person = _text(value.get("attentionTo"))
    street, house, suffix = split_street_line(_text(value.get("address")))
    return compact(
        {
            "company": _text(value.get("name")) if person else None,
            "name": person or _text(value.get("name")),
            "street": street,
            "house_number": house,
            "house_number_suffix": suffix,
            "street2": _text(value.get("addressLine2")),
            "postcode": _text(value.get("postCode")),
            "city": _text(value.get("city")),
            "country": _text(value.get("countryCode")),
        }
    )


def order_from_sales_order(
    row: Mapping[str, Any],
    customer: Customer,
    vat_rates: Mapping[str, Decimal],
    settings: AsperionSettings,
) -> dict[str, Any]:
    """A SalesOrderWithLines (PROPOSED shape, as the connector writes it) as an Order of
    its debtor (`customer`): key its id, number the order number the connector writes into
    `order_reference_field`, else Asperion's own number; article lines by article code,
    the shipping article's lines as shipping lines; the status through the setting
    sales_order_statuses."""
    created = _date_of(row, "date")
    lines, shipping = [], []
    for index, line in enumerate(_lines_of(row)):
        at = f"lines._data[{index}]."
        quantity = _required(line, "quantity", at)
        price = _required(line, "unitPrice", at)
        percentage = number(line, "discountPercentage", at)
        discount = (
            (price * quantity * percentage / HUNDRED).quantize(CENT, ROUND_HALF_UP)
            if percentage
            else Decimal(0)
        )
        code = _text(line.get("articleCode"))
        description = _text(line.get("description"))
        rate = vat_rates.get(str(line.get("vatCodeId")))
        if code is not None and code == settings.shipping_article:
            price = price * quantity - discount
            shipping.append({"method": description, "price": price, "tax_rate": rate})
            continue
        lines.append(
            {
                "sku": code,
                "name": description,
                "quantity": quantity,
                "unit_price": price,
                "tax_rate": rate,
                "discount": discount,
            }
        )
    key = str(row.get("id"))
    own = text_of(row, "salesOrderNumber")
    reference = text_of(row, settings.order_reference_field)
    return {
        "key": key,
        "number": reference or own or key,
        "created_at": created,
        "updated_at": changed_at(row) or _stamp(created),
        "status": order_status(
            _text(row.get("status")), settings.sales_order_statuses, settings.unknown_order_status
        ),
        "currency": settings.currency,
        "prices_include_tax": row.get("pricesIncludeVat") is True,
        "customer": customer,
        "billing_address": customer.billing_address,
        "shipping_address": address_from_delivery(row.get("deliveryAddress")),
        "lines": lines,
        "shipping_lines": shipping,
        "payment_method": _text(row.get("paymentMethodId")),
        "payment_terms": _text(row.get("paymentConditionId")),
        "reference": _text(row.get("reference")),
        "note": _text(row.get("description")),
        "total": number(row, "amountInclVat"),
        "tax_total": number(row, "vatAmount"),
        "extra": compact({"sales_order_number": own}),
    }
