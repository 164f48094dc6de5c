"""AFAS values <-> host.models: country codes, Amsterdam-local dates, debtor and order bodies."""

from __future__ import annotations

from datetime import date, datetime, timezone
from decimal import ROUND_FLOOR, ROUND_HALF_UP, Decimal
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


#: the debtors GetConnector's `Type`: a person (KnSalesRelationPer) or an organisation
#: (KnSalesRelationOrg), AFAS's own codes for them
DEBTOR_TYPES = ("PER", "ORG")


def debtor_type(row: dict[str, Any]) -> str | None:
    """The kind of debtor a row is, "PER" or "ORG"; None when its Type is neither. A row
    without Type (the standard Profit_Debtor has none) is an organisation: its DebtorName
    is the company."""
    value = row.get("Type")
    if value is None or str(value).strip() == "":
        return "ORG"
    code = str(value).strip().upper()
    return code if code in DEBTOR_TYPES else None


def _text(value: Any) -> str | None:
    """A GetConnector value as stripped text; None for null or blank."""
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def debtor_address(
    row: dict[str, Any], company: str | None, country_codes: dict[str, str], default_country: str
) -> dict[str, Any] | None:
    """The debtor's address from the GetConnector's address columns, or None without any."""
    parts = {
        "street": _text(row.get("Street")),
        "house_number": _text(row.get("HouseNumber")),
        "house_number_suffix": _text(row.get("HouseNumberAddition")),
        "postcode": _text(row.get("ZipCode")),
        "city": _text(row.get("City")),
    }
    if not any(parts.values()):
        return None
    country = from_afas_country(_text(row.get("CountryId")), country_codes) or default_country
    return {"company": company, **parts, "country": country}


def debtor_customer(
    row: dict[str, Any], kind: str, country_codes: dict[str, str], default_country: str
) -> dict[str, Any]:
    """A debtors GetConnector row as canonical customer data (validated by the caller).

    A person (`kind` "PER") is named by FirstName, NamePrefix and LastName, else by
    DebtorName; an organisation ("ORG") is the company DebtorName, with those columns
    naming its contact person when it has one."""
    name = _text(row.get("DebtorName"))
    first = _text(row.get("FirstName"))
    last = " ".join(p for p in (_text(row.get("NamePrefix")), _text(row.get("LastName"))) if p)
    company = name if kind == "ORG" else None
    if kind == "PER" and not (first or last):
        last = name or ""
    return {
        "key": str(row["DebtorId"]),
        "email": _text(row.get("Email")),
        "company": company,
        "first_name": first,
        "last_name": last or None,
        "phone": _text(row.get("TelNr")),
        "vat_number": _text(row.get("VatNr")),
        "billing_address": debtor_address(row, company, country_codes, default_country),
        "updated_at": from_afas_datetime(row.get("ModifiedDate")),
    }


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


CENT = Decimal("0.01")


def split_amount(amount: Decimal, quantity: Decimal) -> list[tuple[Decimal, Decimal]]:
    """(quantity, unit price) lines that book `amount` for `quantity` units to the cent.

    AFAS books a line as quantity x unit price, and a unit price holds whole cents:
    10.00 for 3 units is 1 x 3.34 + 2 x 3.33, never 3 x 3.33. The cents left over go
    one each to as many units (largest remainder), so the prices differ by at most a
    cent and the lines add up to `amount` (rounded to the cent) exactly. A quantity
    that is not a whole number gets one line when a price in cents is exact, else a
    ValueError (no split into whole cents exists).
    """
    total = amount.quantize(CENT, ROUND_HALF_UP)
    if quantity <= 0:
        raise ValueError(f"{total} is refunded for {quantity} units; AFAS books units")
    if quantity == quantity.to_integral_value():
        units = int(quantity)
        base = (total / units).quantize(CENT, ROUND_FLOOR)
        extra = int((total - base * units) / CENT)  # cents left over: 0 <= extra < units
        lines = [(Decimal(extra), base + CENT), (Decimal(units - extra), base)]
        return [(q, price) for q, price in lines if q]
    price = (total / quantity).quantize(CENT, ROUND_HALF_UP)
    if price * quantity != total:
        raise ValueError(f"{total} cannot be split over {quantity} units in whole cents")
    return [(quantity, price)]


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
