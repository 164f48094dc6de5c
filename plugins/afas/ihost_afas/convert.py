"""AFAS values <-> host.models: country codes, Amsterdam-local dates, debtor and order bodies."""

from __future__ import annotations

from datetime import date, datetime, timezone
from typing import Any
from zoneinfo import ZoneInfo

AMSTERDAM = ZoneInfo("Europe/Amsterdam")

#: ISO 3166-1 alpha-2 -> AFAS country code where they differ (api/afas.md §4.1); every other
#: country uses its ISO code. Extend with the `country_codes` setting.
AFAS_COUNTRY = {
    "BE": "B",
    "DE": "D",
    "FR": "F",
    "AT": "A",
    "ES": "E",
    "IT": "I",
    "LU": "L",
    "US": "USA",
    "SE": "S",
    "NO": "N",
    "PT": "P",
    "FI": "FIN",
    "JP": "J",
}


def to_afas_country(iso: str | None, extra: dict[str, str] | None = None) -> str | None:
    if iso is None:
        return None
    table = {**AFAS_COUNTRY, **(extra or {})}
    return table.get(iso, iso)


def from_afas_country(code: str | None, extra: dict[str, str] | None = None) -> str | None:
    if code is None:
        return None
    reverse = {afas: iso for iso, afas in {**AFAS_COUNTRY, **(extra or {})}.items()}
    return reverse.get(code, code)


def from_afas_datetime(text: str | None) -> datetime | None:
    """An AFAS timestamp (Amsterdam local time, despite its "Z") as aware UTC."""
    if not text:
        return None
    local = datetime.fromisoformat(text.rstrip("Z").replace("Z", ""))
    if local.tzinfo is None:
        local = local.replace(tzinfo=AMSTERDAM)
    return local.astimezone(timezone.utc)


def to_afas_filter(moment: datetime) -> str:
    """A moment as AFAS compares it in a filter: Amsterdam local time, no "Z"."""
    return moment.astimezone(AMSTERDAM).strftime("%Y-%m-%dT%H:%M:%S")


def to_afas_date(moment: datetime | date) -> str:
    """The Amsterdam calendar date of a moment, as AFAS dates are written."""
    if isinstance(moment, datetime):
        moment = moment.astimezone(AMSTERDAM).date()
    return moment.isoformat()


#: lengths of the AFAS fields that carry record values which identify or address
#: something (AFAS's OpenAPI files): a longer value is refused, never cut
REFERENCE = 100  # RfCs, the order number on a sales order or invoice
INVOICE_ID = 12  # InId, the order number on a journal entry's debtor line
ITEM_CODE = 40  # ItCd, the article code (SKU) of a line
PERSON = {"first_name": 50, "last_name": 80, "email": 255, "phone": 255, "vat_number": 21}
ADDRESS = {"street": 60, "house_number_suffix": 30, "postcode": 15, "city": 50}


def order_problems(order: Any, order_type: str | None) -> list[tuple[str, str]]:
    """(field, problem) for each value of `order` AFAS would refuse as `order_type`."""
    problems = []
    limit, field = (INVOICE_ID, "InId") if order_type == "financial_entry" else (REFERENCE, "RfCs")
    if len(order.number) > limit:
        problems.append(
            ("number", f"is {len(order.number)} characters; AFAS's {field} holds {limit}")
        )
    for line in order.lines:
        if not line.sku:
            problems.append(("lines.sku", f"line {line.name!r} has no SKU; AFAS needs one"))
        elif len(line.sku) > ITEM_CODE:
            problems.append(("lines.sku", f"SKU {line.sku} is longer than {ITEM_CODE}"))
    return problems


def customer_problems(customer: Any) -> list[tuple[str, str]]:
    """(field, problem) for each value of `customer` longer than AFAS's field."""
    problems = [
        (name, f"is longer than AFAS's {limit} characters")
        for name, limit in PERSON.items()
        if len(getattr(customer, name) or "") > limit
    ]
    for kind in ("billing_address", "shipping_address"):
        address = getattr(customer, kind)
        problems += [
            (f"{kind}.{name}", f"is longer than AFAS's {limit} characters")
            for name, limit in ADDRESS.items()
            if address is not None and len(getattr(address, name) or "") > limit
        ]
    return problems
