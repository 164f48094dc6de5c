"""BuchhaltungsButler's JSON <-> ihost records, both ways, and nothing else.

BuchhaltungsButler gives amounts as strings ("123.45") and takes them as numbers; it refuses
an empty string for an optional input, so what a record lacks is left out, never sent empty.
Its dates are calendar days ("2026-05-01") and its times Europe/Berlin local time without a
zone ("2026-05-01 14:30:00").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from datetime import date, datetime, timezone
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any, TypeVar
from zoneinfo import ZoneInfo

from host.models import Address, Customer, Order, Refund

if TYPE_CHECKING:
    from ihost_buchhaltungsbutler.plugin import BuchhaltungsButlerSettings

T = TypeVar("T")
BERLIN = ZoneInfo("Europe/Berlin")
CENT = Decimal("0.01")
INVOICE_NUMBER = 60  # the longest invoice number a receipt keeps (/receipts/add)
STAMP = re.compile(r"\d{4}-\d{2}-\d{2}(?:[ T]\d{2}:\d{2}:\d{2})?")


def compact(values: Mapping[str, Any]) -> dict[str, Any]:
    """The entries with a value: BuchhaltungsButler refuses an empty optional input."""
    return {k: v for k, v in values.items() if v is not None and v != "" and v != []}


def money(value: Decimal) -> float:
    """A Decimal rounded to cents, as the JSON number BuchhaltungsButler takes."""
    return float(value.quantize(CENT, ROUND_HALF_UP))


def amount(value: Any) -> Decimal | None:
    """An amount as BuchhaltungsButler writes it ("123.45") as Decimal; None for empty."""
    if value is None or value == "":
        return None
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        raise ValueError(f"{value!r} is not an amount") from None
    if not found.is_finite():
        raise ValueError(f"{value!r} is not an amount")
    return found


def to_berlin(moment: datetime) -> str:
    """A moment as date_since_last_modified takes it: Berlin local, to the second."""
    return moment.astimezone(BERLIN).strftime("%Y-%m-%d %H:%M:%S")


def from_berlin(text: Any) -> datetime | None:
    """A Berlin local date or date-time in UTC (a date: its local midnight); None for empty.
    ValueError for anything else (a number, another format, a day that does not exist)."""
    if text is None or text == "":
        return None
    if not isinstance(text, str) or not STAMP.fullmatch(text.strip()):
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD[ HH:MM:SS]")
    try:
        moment = datetime.fromisoformat(text.strip().replace(" ", "T"))
    except ValueError:
        raise ValueError(f"{text!r} is not a date YYYY-MM-DD[ HH:MM:SS]") from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=BERLIN)
    return moment.astimezone(timezone.utc)


def day(moment: datetime | date) -> str:
    """The Berlin calendar day of a moment."""
    if isinstance(moment, datetime):
        return moment.astimezone(BERLIN).date().isoformat()
    return moment.isoformat()


def full_name(customer: Customer | None) -> str | None:
    if customer is None:
        return None
    return " ".join(p for p in (customer.first_name, customer.last_name) if p) or None


# --- debtors --------------------------------------------------------------------------------


def debtor_body(customer: Customer, settings: BuchhaltungsButlerSettings) -> dict[str, Any]:
    """The debtor for /settings/add/debtor and /settings/update/debtor. BuchhaltungsButler
    keeps no company/person distinction: a company debtor is named by the company with the
    person as contact_person_name; a person debtor by the person. The customer's key goes
    into customer_number, by which ihost finds the debtor again."""
    address = customer.billing_address or customer.shipping_address or Address()
    person = full_name(customer)
    return compact(
        {
            "name": customer.company or person or customer.email or customer.key,
            "contact_person_name": person if customer.company else None,
            "street": address.street_line,
            "additional_address_line": address.street2,
            "zip": address.postcode,
            "city": address.city,
            "country": address.country or (settings.default_country if address.city else None),
            "customer_number": customer.key,
            "email": customer.email,
            "sales_tax_id": customer.vat_number,
        }
    )


def batch_item(customer: Customer, settings: BuchhaltungsButlerSettings) -> dict[str, Any]:
    """A debtor of /settings/add-batch/debtors: as debtor_body, without the e-mail address
    (the batch endpoint takes none; the debtor is found again by its customer number)."""
    return {k: v for k, v in debtor_body(customer, settings).items() if k != "email"}


# --- orders -> outgoing invoices and receipts -----------------------------------------------


def _items(order: Order, settings: BuchhaltungsButlerSettings) -> list[dict[str, Any]]:
    """One item a line and a shipping line: name, quantity, unit, VAT % and single price
    (the line's discount taken off its price)."""
    items = []
    for line in order.lines:
        price = line.unit_price
        if line.discount and line.quantity:
            price = (line.unit_price * line.quantity - line.discount) / line.quantity
        items.append(
            {
                "item_name": (line.name or line.sku or "Artikel")[:255],
                "item_description": f"SKU {line.sku}" if line.sku else None,
                "item_amount": float(line.quantity),
                "item_unit": settings.unit,
                "item_vat": float(
                    line.tax_rate if line.tax_rate is not None else settings.vat_rate
                ),
                "item_single_price": money(price),
            }
        )
    for shipping in order.shipping_lines:
        if shipping.price:
            rate = shipping.tax_rate if shipping.tax_rate is not None else settings.vat_rate
            items.append(
                {
                    "item_name": shipping.method or "Versand",
                    "item_description": None,
                    "item_amount": 1.0,
                    "item_unit": settings.unit,
                    "item_vat": float(rate),
                    "item_single_price": money(shipping.price),
                }
            )
    return items


def parallel(items: list[dict[str, Any]]) -> dict[str, list[Any]]:
    """Items as the parallel arrays /invoices/create takes (item_name[], item_amount[], ...);
    a description only where one item has it (an empty string is refused)."""
    arrays: dict[str, list[Any]] = {
        name: [item[name] for item in items]
        for name in ("item_name", "item_amount", "item_unit", "item_vat", "item_single_price")
    }
    if any(item.get("item_description") for item in items):
        arrays["item_description"] = [item.get("item_description") or "-" for item in items]
    return arrays


def addressee(order: Order, debtor: Mapping[str, Any] | None) -> dict[str, Any]:
    """Who the invoice is addressed to: the order's billing address and customer."""
    customer = order.customer
    address = order.billing_address or (customer.billing_address if customer else None)
    address = address or Address()
    person = full_name(customer) or address.name
    company = (customer.company if customer else None) or address.company
    return compact(
        {
            "company_name": company or person or (debtor or {}).get("name") or order.number,
            "contact_person_name": person if company else None,
            "street": address.street_line,
            "additional_addressline": address.street2,
            "zip": address.postcode,
            "city": address.city,
            "country": address.country,
            "email": customer.email if customer else None,
        }
    )


def invoice_body(
    order: Order, debtor: Mapping[str, Any] | None, settings: BuchhaltungsButlerSettings
) -> dict[str, Any]:
    """/invoices/create for an order: its lines as items, net or gross as the order's prices
    are, the order number as the invoice number, linked to the debtor's customer number."""
    return compact(
        {
            "type": "invoice",
            "show_prices_type": "gross" if order.prices_include_tax else "net",
            **addressee(order, debtor),
            "customer_number": _debtor_number(debtor),
            "invoicenumber": order.number,
            "date": day(order.created_at),
            "due_days": settings.due_days,
            "language": settings.language,
            **parallel(_items(order, settings)),
        }
    )


def _debtor_number(debtor: Mapping[str, Any] | None) -> str | None:
    if not debtor:
        return None
    return str(debtor.get("customer_number") or debtor.get("postingaccount_number") or "") or None


def receipt_body(
    order: Order, debtor: Mapping[str, Any] | None, settings: BuchhaltungsButlerSettings
) -> dict[str, Any]:
    """/receipts/add for an order booked as an outbound receipt (financial_entry): the
    gross total on the revenue account, the order number as the invoice number."""
    total = order.total
    if total is None:
        total = sum((li.unit_price * li.quantity - li.discount for li in order.lines), Decimal(0))
        total += sum((s.price for s in order.shipping_lines), Decimal(0))
    rates = {li.tax_rate for li in order.lines if li.tax_rate is not None}
    return compact(
        {
            "type": "invoice outbound",
            "counterparty": addressee(order, debtor)["company_name"],
            "invoice_number": order.number,
            "date": day(order.created_at),
            "amount": money(total),
            "currency": order.currency,
            "vat_rate": float(rates.pop()) if len(rates) == 1 else None,
            "account": str(order.extra.get("revenue_account") or settings.revenue_account),
            "creditor_debtor": (debtor or {}).get("postingaccount_number"),
            "payment_reference": order.reference,
        }
    )


def credit_body(
    refund: Refund, original: Mapping[str, Any], settings: BuchhaltungsButlerSettings
) -> dict[str, Any]:
    """/invoices/create of type credit for a refund of the outbound receipt `original`:
    each refunded line an item at its amount (gross), shipping an item of its own."""
    items = [
        {
            "item_name": (f"Gutschrift {line.sku}" if line.sku else "Gutschrift")[:255],
            "item_description": None,
            "item_amount": 1.0,
            "item_unit": settings.unit,
            "item_vat": float(settings.vat_rate),
            "item_single_price": money(line.amount),
        }
        for line in refund.lines
        if line.amount
    ]
    if refund.shipping_amount:
        items.append(
            {
                "item_name": "Versand",
                "item_description": None,
                "item_amount": 1.0,
                "item_unit": settings.unit,
                "item_vat": float(settings.vat_rate),
                "item_single_price": money(refund.shipping_amount),
            }
        )
    return compact(
        {
            "type": "credit",
            "show_prices_type": "gross",
            "company_name": original.get("counterparty") or refund.order_number,
            "invoicenumber": credit_number(refund),
            "date": day(refund.updated_at or datetime.now(timezone.utc)),
            "correspondence": refund.reason,
            "language": settings.language,
            **parallel(items),
        }
    )


def credit_number(refund: Refund) -> str:
    """The invoice number of a refund's credit, by which it is found again."""
    return f"GS-{refund.key}"[:INVOICE_NUMBER]


# --- outbound receipts -> orders ------------------------------------------------------------


def order_from_receipt(
    row: Mapping[str, Any],
    detail: Mapping[str, Any],
    debtor: Mapping[str, Any] | None,
    settings: BuchhaltungsButlerSettings,
) -> dict[str, Any]:
    """An outbound receipt as an Order. Receipts have no line items: the order carries one
    line per VAT rate (its net amount, at that rate), from the receipt's VAT breakdown, or
    one line of the gross amount where it has none. The customer is the debtor whose name
    is the counterparty, when there is one (with its e-mail and address)."""
    if not isinstance(detail, Mapping):
        raise ValueError(f"a detail that is not an object: {type(detail).__name__}")
    key = str(row.get("id_by_customer"))
    gross = field("amount", row.get("amount"), amount) or Decimal(0)
    paid = field("amount_paid", row.get("amount_paid"), amount) or Decimal(0)
    number = str(row.get("invoicenumber") or key)
    lines = []
    tax = Decimal(0)
    for i, part in enumerate(_vat_parts(detail.get("vat"))):
        rate = field(f"vat[{i}].rate", part.get("rate"), amount)
        net = field(f"vat[{i}].net", part.get("net"), amount)
        if net is None:
            continue
        tax += field(f"vat[{i}].vat", part.get("vat"), amount) or Decimal(0)
        lines.append(
            {
                "name": f"Rechnung {number}, {rate.normalize():f} % USt"
                if rate is not None
                else f"Rechnung {number}",
                "quantity": Decimal(1),
                "unit_price": net,
                "tax_rate": rate,
            }
        )
    includes_tax = not lines
    if not lines:
        lines = [{"name": f"Rechnung {number}", "quantity": Decimal(1), "unit_price": gross}]
    created = field("date", row.get("date"), from_berlin)
    uploaded = field("date_uploaded", row.get("date_uploaded"), from_berlin)
    customer = _customer(row, debtor)
    return {
        "key": key,
        "number": number,
        "created_at": created,
        "updated_at": uploaded or created,
        "status": "paid" if gross and paid >= gross else "pending",
        "currency": detail.get("currency") or "EUR",
        "prices_include_tax": includes_tax,
        "customer": customer,
        "billing_address": customer.get("billing_address"),
        "lines": lines,
        "reference": detail.get("payment_reference") or None,
        "total": gross,
        "tax_total": tax if not includes_tax else None,
    }


def field(name: str, value: Any, parse: Callable[[Any], T]) -> T:
    """`value` parsed; the ValueError names the field BuchhaltungsButler sent it in."""
    try:
        return parse(value)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}") from None


def _vat_parts(value: Any) -> list[Mapping[str, Any]]:
    """A receipt detail's VAT breakdown: a list of objects {rate, net, vat}, or none."""
    if value is None or value == "" or value == []:
        return []
    if not isinstance(value, list) or not all(isinstance(p, Mapping) for p in value):
        raise ValueError(f"vat {value!r} is not a list of objects {{rate, net, vat}}")
    return value


#: the debtor fields an order's customer is made of
DEBTOR_TEXT = (
    "name",
    "contact_person_name",
    "street",
    "additional_addressline",
    "zip",
    "city",
    "country",
    "customer_number",
    "postingaccount_number",
    "email",
    "sales_tax_id_eu",
)


def _text(record: Mapping[str, Any], name: str, where: str) -> str | None:
    """A text field of a debtor or receipt (a number taken as its digits); None for empty,
    ValueError naming `where` and the field for anything else (a list, an object)."""
    value = record.get(name)
    if value is None or value == "":
        return None
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise ValueError(f"{where}{name} {value!r} is not text")
    return str(value)


def _customer(row: Mapping[str, Any], debtor: Mapping[str, Any] | None) -> dict[str, Any]:
    name = _text(row, "counterparty", "") or ""
    if not debtor:
        return {"key": name or str(row.get("id_by_customer")), "company": name or None}
    where = f"debtor {debtor.get('postingaccount_number')}: "
    values = {f: _text(debtor, f, where) for f in DEBTOR_TEXT}
    person = values["contact_person_name"]
    first, _, last = (person or "").partition(" ")
    address = compact(
        {
            "company": values["name"] if person else None,
            "name": person or values["name"],
            "street": values["street"],
            "street2": values["additional_addressline"],
            "postcode": values["zip"],
            "city": values["city"],
            "country": values["country"],
        }
    )
    if not person:
        first, _, last = (values["name"] or "").partition(" ")
    return compact(
        {
            "key": values["customer_number"] or values["postingaccount_number"],
            "email": values["email"],
            "company": values["name"] if person else None,
            "first_name": first if last else None,
            "last_name": last or first or None,
            "vat_number": values["sales_tax_id_eu"],
            "billing_address": address if address.get("city") or address.get("street") else None,
        }
    )
