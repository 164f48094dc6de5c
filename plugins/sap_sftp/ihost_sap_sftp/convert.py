"""IDocs (and CSV rows) <-> ihost records, both ways, and nothing else.

Read from SAP: ORDERS05 (message ORDERS) -> Order, DELVRY03 (DESADV) -> Shipment, ORDRSP ->
a confirmation (the PO number and SAP's sales order number). Written to SAP: Product ->
MATMAS05, Customer -> DEBMAS07, Order -> ORDERS05, stock -> a CSV snapshot or LOISTD01.
Field names, lengths and qualifiers follow SAP's segment definitions (WE60); what SAP's
documentation leaves open is a setting (see the README).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable, Mapping
from datetime import date, datetime, time, timezone
from decimal import Decimal, InvalidOperation
from typing import Any, Protocol
from zoneinfo import ZoneInfo

from host.errors import RecordInvalid
from host.models import (
    Address,
    Customer,
    Order,
    Product,
    Shipment,
    StockLevel,
    record_or_invalid,
    split_street_line,
)
from ihost_sap_sftp.idoc import Idoc, Segment

#: SAP's field lengths for what ihost writes (the segment definitions, WE60)
LENGTHS = {
    "KUNNR": 10,
    "NAME": 35,
    "STRAS": 35,
    "ORT01": 35,
    "PSTLZ": 10,
    "PSTLZ_ORDERS": 9,
    "MAKTX": 40,
    "BELNR": 35,
    "TDLINE": 132,
    "EAN11": 18,
    "TELF1": 16,
    "STCEG": 20,
}


class Options(Protocol):
    """What conversion reads from the connection's settings (plugin.SapSftpSettings)."""

    control: dict[str, str]
    timezone: str
    order_status: str
    email_field: str
    company_titles: list[str]
    contact_field: str
    strip_material_zeros: bool
    material_length: int
    unit: str
    order_unit: str
    language: str
    account_group: str
    material_type: str
    industry_sector: str
    sales_area: dict[str, str]
    tracking_field: str
    decimal_separator: str


class Malformed(ValueError):
    """A value SAP sent that its field cannot hold; `field` is SAP's SEGMENT-FIELD."""

    def __init__(self, field: str, problem: str) -> None:
        super().__init__(f"{field}: {problem}")
        self.field = field


# --- values --------------------------------------------------------------------------------


def sap_number(text: str | None, field: str, decimal_separator: str = ".") -> Decimal | None:
    """An IDoc number: text with `.` decimals (or the CSV's separator); SAP writes a
    negative sign after the number ("12.5-")."""
    if text is None or not text.strip():
        return None
    value = text.strip().replace(" ", "")
    if decimal_separator != ".":
        value = value.replace(".", "").replace(decimal_separator, ".")
    negative = value.endswith("-")
    try:
        number = Decimal(value.rstrip("-"))
    except InvalidOperation:
        raise Malformed(field, "is not a number") from None
    if not number.is_finite():
        raise Malformed(field, "is not a number")
    return -number if negative else number


def sap_moment(day: str | None, clock: str | None, zone: str, field: str) -> datetime | None:
    """An IDoc date (YYYYMMDD) and time (HHMMSS) in SAP's own time zone, as UTC."""
    if day is None or not day.strip() or set(day.strip()) == {"0"}:
        return None
    try:
        moment = datetime.combine(
            date(int(day[:4]), int(day[4:6]), int(day[6:8])),
            time(int(clock[:2]), int(clock[2:4]), int(clock[4:6]))
            if clock and clock.strip() and len(clock.strip()) >= 6
            else time(0),
        )
    except (ValueError, IndexError):
        raise Malformed(field, "is not a date (YYYYMMDD) and time (HHMMSS)") from None
    return moment.replace(tzinfo=ZoneInfo(zone)).astimezone(timezone.utc)


def material(value: str | None, options: Options) -> str | None:
    """A material number as a SKU: numeric ones lose SAP's leading zeros (setting)."""
    if value is None:
        return None
    value = value.strip()
    if options.strip_material_zeros and value.isdigit():
        value = value.lstrip("0") or "0"
    return value or None


def fmt(number: Decimal | None) -> str | None:
    """A number as IDocs write it: plain decimals, the minus sign behind."""
    if number is None:
        return None
    text = format(abs(number).normalize(), "f")
    return f"{text}-" if number < 0 else text


def cut(value: str | None, length: int) -> str | None:
    """A descriptive text cut to its SAP field (SAP would cut it on import too)."""
    return value[:length] if value else None


def stamp(moment: datetime | None, zone: str) -> tuple[str, str]:
    moment = (moment or datetime.now(timezone.utc)).astimezone(ZoneInfo(zone))
    return moment.strftime("%Y%m%d"), moment.strftime("%H%M%S")


# --- read: orders, shipments, confirmations --------------------------------------------------


def _company(partner: Segment, options: Options) -> bool:
    return (partner.get("ANRED") or "").lower() in {t.lower() for t in options.company_titles}


def _address(partner: Segment | None, options: Options) -> dict[str, Any] | None:
    """A partner segment's address: a company's (its title is a company title) names its
    contact person in `contact_field`."""
    if partner is None:
        return None
    street, number, suffix = split_street_line(partner.get("STRAS"))
    if partner.get("HAUSN"):
        number, suffix = partner.get("HAUSN"), None
    company = _company(partner, options)
    return {
        "company": partner.get("NAME1") if company else None,
        "name": partner.get(options.contact_field) if company else partner.get("NAME1"),
        "street": street,
        "house_number": number,
        "house_number_suffix": suffix,
        "postcode": partner.get("PSTLZ"),
        "city": partner.get("ORT01"),
        "country": partner.get("LAND1"),
        "phone": partner.get("TELF1"),
    }


def _customer(partner: Segment, options: Options) -> dict[str, Any]:
    """The sold-to party: a company (its title is a company title) with its contact person
    in `contact_field`, or a person."""
    company = _company(partner, options)
    person = partner.get(options.contact_field) if company else partner.get("NAME1")
    first, _, last = (person or "").partition(" ")
    return {
        "key": material(partner.get("PARTN"), options) or partner.get("LIFNR"),
        "email": partner.get(options.email_field),
        "company": partner.get("NAME1") if company else None,
        "first_name": first or None,
        "last_name": last or None,
        "phone": partner.get("TELF1"),
        "language": (partner.get("SPRAS_ISO") or "").lower() or None,
        "billing_address": _address(partner, options),
    }


def _order_data(idoc: Idoc, options: Options) -> dict[str, Any]:
    head = idoc.first("E1EDK01")
    if head is None:
        raise Malformed("E1EDK01", "the order header segment is missing")
    number = head.get("BELNR")
    if not number:
        raise Malformed("E1EDK01-BELNR", "the order number is missing")
    sold_to = idoc.first("E1EDKA1", PARVW="AG")
    if sold_to is None:
        raise Malformed("E1EDKA1", "no sold-to party (PARVW AG)")
    bill_to = idoc.first("E1EDKA1", PARVW="RE") or sold_to
    ship_to = idoc.first("E1EDKA1", PARVW="WE") or sold_to
    dated = idoc.first("E1EDK03", IDDAT="012") or idoc.first("E1EDK03", IDDAT="002")
    control = idoc.control
    created = sap_moment(control.get("CREDAT"), control.get("CRETIM"), options.timezone, "CREDAT")
    if dated is not None:
        created = sap_moment(dated.get("DATUM"), dated.get("UZEIT"), options.timezone, "DATUM")
    po = idoc.first("E1EDK02", QUALF="001")
    lines = []
    for i, item in enumerate(idoc.all("E1EDP01")):
        where = f"E1EDP01[{item.get('POSEX') or i + 1}]"
        ident = (
            item.first("E1EDP19", QUALF="002")
            or item.first("E1EDP19", QUALF="003")
            or item.first("E1EDP19", QUALF="001")
        )
        sku = None
        if ident is not None:
            sku = material(ident.get("IDTNR_LONG") or ident.get("IDTNR"), options)
        sku = sku or material(item.get("MATNR_LONG") or item.get("MATNR"), options)
        quantity = sap_number(item.get("MENGE"), f"{where}-MENGE")
        if quantity is None:
            raise Malformed(f"{where}-MENGE", "the quantity is missing")
        unit = (sap_number(item.get("PEINH"), f"{where}-PEINH") or Decimal(1)) or Decimal(1)
        price = sap_number(item.get("VPREI"), f"{where}-VPREI")
        if price is None:
            net = sap_number(item.get("NETWR"), f"{where}-NETWR")
            price = net / quantity if net is not None and quantity else Decimal(0)
        else:
            price = price / unit
        tax = item.first("E1EDP04")
        lines.append(
            {
                "sku": sku,
                "name": ident.get("KTEXT") if ident is not None else None,
                "quantity": quantity,
                "unit_price": price,
                "tax_rate": sap_number(tax.get("MSATZ"), f"{where}-E1EDP04-MSATZ")
                if tax is not None
                else None,
            }
        )
    total = idoc.first("E1EDS01", SUMID="002")
    return {
        "key": number,
        "number": number,
        "reference": po.get("BELNR") if po is not None else None,
        "created_at": created,
        "updated_at": sap_moment(
            control.get("CREDAT"), control.get("CRETIM"), options.timezone, "CREDAT"
        )
        or created,
        "status": options.order_status,
        "currency": head.get("CURCY"),
        "prices_include_tax": False,
        "customer": _customer(sold_to, options),
        "billing_address": _address(bill_to, options),
        "shipping_address": _address(ship_to, options),
        "lines": lines,
        "payment_terms": head.get("ZTERM"),
        "total": sap_number(total.get("SUMME"), "E1EDS01-SUMME") if total is not None else None,
        "extra": {"docnum": idoc.docnum} if idoc.docnum else {},
    }


def _record(model: type, idoc: Idoc, noun: str, build: Any, options: Options) -> Any:
    """`build(idoc)` validated as `model`; a RecordInvalid naming the IDoc and SAP's field."""
    head = idoc.first("E1EDK01") or idoc.first("E1EDL20")
    key = (head.get("BELNR") or head.get("VBELN") if head else None) or idoc.docnum or "?"
    try:
        data = build(idoc, options)
    except Malformed as exc:
        return RecordInvalid(
            f"{noun} {key} (IDoc {idoc.docnum or '?'}): SAP sent {exc}",
            key=key,
            field=exc.field,
            payload=None,
        )
    return record_or_invalid(model, data, key=key)


def order(idoc: Idoc, options: Options) -> Order | RecordInvalid:
    """An ORDERS05 IDoc from SAP as an Order (prices net, as SAP's VPREI is)."""
    return _record(Order, idoc, "order", _order_data, options)


def _shipment_data(idoc: Idoc, options: Options) -> dict[str, Any]:
    head = idoc.first("E1EDL20")
    if head is None or not head.get("VBELN"):
        raise Malformed("E1EDL20-VBELN", "the delivery number is missing")
    items = head.all("E1EDL24")
    refs = [ref for item in items for ref in item.all("E1EDL41", QUALI="001")]
    order_number = next((r.get("BSTNR") for r in refs if r.get("BSTNR")), None)
    field = options.tracking_field
    if field == "EXIDV":
        unit = head.first("E1EDL37")
        tracking = unit.get("EXIDV") if unit is not None else None
    else:
        tracking = head.get(field)
    carrier = head.first("E1ADRM1", PARTNER_Q="SP")
    issued = head.first("E1EDT13", QUALF="006")
    shipped = None
    if issued is not None:
        shipped = sap_moment(issued.get("NTANF"), issued.get("NTANZ"), options.timezone, "NTANF")
    return {
        "key": head.get("VBELN"),
        "order_number": order_number,
        "carrier": carrier.get("NAME1") if carrier is not None else None,
        "tracking_number": tracking,
        "lines": [
            {
                "sku": material(i.get("MATNR"), options),
                "quantity": sap_number(i.get("LFIMG"), "E1EDL24-LFIMG") or Decimal(0),
            }
            for i in items
            if i.get("MATNR")
        ],
        "shipped_at": shipped
        or sap_moment(
            idoc.control.get("CREDAT"), idoc.control.get("CRETIM"), options.timezone, "CREDAT"
        ),
        "updated_at": sap_moment(
            idoc.control.get("CREDAT"), idoc.control.get("CRETIM"), options.timezone, "CREDAT"
        ),
    }


def shipment(idoc: Idoc, options: Options) -> Shipment | RecordInvalid:
    """A DELVRY03 (DESADV) IDoc as a Shipment; the tracking number is the field the
    connection names (tracking_field)."""
    return _record(Shipment, idoc, "delivery", _shipment_data, options)


def confirmation(idoc: Idoc) -> tuple[str, str] | None:
    """(PO number, SAP's sales order number) of an ORDRSP IDoc, None when it lacks either."""
    head, po = idoc.first("E1EDK01"), idoc.first("E1EDK02", QUALF="001")
    if head is None or po is None or not head.get("BELNR") or not po.get("BELNR"):
        return None
    return po.get("BELNR") or "", head.get("BELNR") or ""


# --- write: the control record, materials, debtors, orders, stock -----------------------------


def control(options: Options, idoctyp: str, mestyp: str, moment: datetime | None) -> dict[str, str]:
    """The EDI_DC40 of an IDoc to SAP (DIRECT 2; DOCNUM left to SAP; partners from the
    connection's `control` setting; created at the record's time, when it has one)."""
    fields = {"TABNAM": "EDI_DC40", "DIRECT": "2", "IDOCTYP": idoctyp, "MESTYP": mestyp}
    fields.update({k: v for k, v in options.control.items() if v})
    if moment is None:  # no time of the record's own: none, so a repeated write is the same
        return fields
    day, clock = stamp(moment, options.timezone)
    return {**fields, "CREDAT": day, "CRETIM": clock}


def matnr(sku: str, options: Options, field: str = "sku") -> str:
    if len(sku) > options.material_length:
        raise RecordInvalid(
            f"{field} {sku!r} is longer than SAP's {options.material_length}-character "
            "material number (MATNR; set material_length = 40 for S/4HANA)",
            field=field,
        )
    return sku


def matmas(product: Product, options: Options, update_info: bool, new: bool) -> Idoc:
    """A MATMAS05 IDoc that creates or replaces the material (MSGFN 005). Without
    update_info an existing material gets no descriptions (E1MAKTM) and no long text."""
    idoc = Idoc(control(options, "MATMAS05", "MATMAS", product.updated_at))
    unit = (product.unit or options.unit).upper()[:3]
    mara = idoc.add(
        "E1MARAM",
        {
            "MSGFN": "005",
            "MATNR": matnr(product.sku, options),
            "MTART": options.material_type,
            "MBRSH": options.industry_sector,
            "MEINS": unit,
            "BRGEW": fmt(product.weight),
            "NTGEW": fmt(product.weight),
            "GEWEI": "KGM" if product.weight is not None else None,
            "EAN11": product.ean,
            "NUMTP": ("HE" if len(product.ean) in (12, 13) else "UC") if product.ean else None,
            "LVORM": None if product.active else "X",
        },
    )
    if new or update_info:
        mara.add(
            "E1MAKTM",
            {
                "MSGFN": "005",
                "SPRAS_ISO": options.language.upper(),
                "MAKTX": cut(product.name, LENGTHS["MAKTX"]),
            },
        )
        text = product.description or product.short_description
        if text:
            head = mara.add(
                "E1MTXHM",
                {
                    "MSGFN": "005",
                    "TDOBJECT": "MATERIAL",
                    "TDNAME": product.sku,
                    "TDID": "GRUN",
                    "TDSPRAS_ISO": options.language.upper(),
                },
            )
            for line in _text_lines(text, LENGTHS["TDLINE"]):
                head.add("E1MTXLM", {"MSGFN": "005", "TDFORMAT": "*", "TDLINE": line})
    return idoc


def _text_lines(text: str, width: int) -> Iterable[str]:
    """A long text as SAP text lines of at most `width` characters, broken at spaces."""
    for paragraph in re.sub(r"<[^>]+>", " ", text).splitlines():
        words = paragraph.split()
        line = ""
        for word in words:
            while len(word) > width:
                if line:
                    yield line
                    line = ""
                yield word[:width]
                word = word[width:]
            if line and len(line) + 1 + len(word) > width:
                yield line
                line = word
            else:
                line = f"{line} {word}" if line else word
        if line:
            yield line


def kunnr(key: str, prefix: str = "IH") -> str:
    """The SAP customer number (KUNNR, 10 characters) of a customer key: the key itself,
    digits zero-padded as SAP keeps them; a longer key (a webshop's 13-digit id) gets
    `prefix` and a number derived from it, the same every time."""
    key = key.strip()
    if len(key) <= LENGTHS["KUNNR"]:
        return key.zfill(LENGTHS["KUNNR"]) if key.isdigit() else key
    digest = int(hashlib.sha256(key.encode()).hexdigest(), 16)
    digits = ""
    while len(prefix) + len(digits) < LENGTHS["KUNNR"]:
        digest, digit = divmod(digest, 36)
        digits += "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"[digit]
    return prefix + digits


def _person(customer: Customer) -> str | None:
    return " ".join(p for p in (customer.first_name, customer.last_name) if p) or None


def debmas(customer: Customer, number: str, options: Options) -> Idoc:
    """A DEBMAS07 IDoc that creates or replaces customer `number`: a company with its
    contact person (E1KNVKM), or a person. DEBMAS has no e-mail field: ihost keeps the
    e-mail in its ledger to find the customer again."""
    idoc = Idoc(control(options, "DEBMAS07", "DEBMAS", customer.updated_at))
    address = customer.billing_address or customer.shipping_address or Address()
    person = _person(customer) or address.name
    name = customer.company or person
    if not name:
        raise RecordInvalid(
            f"customer {customer.key}: neither a company nor a person's name (NAME1)",
            key=customer.key,
            field="company",
        )
    if address.country is None:
        raise RecordInvalid(
            f"customer {customer.key}: SAP needs a country (LAND1)",
            key=customer.key,
            field="billing_address.country",
        )
    kna1 = idoc.add(
        "E1KNA1M",
        {
            "MSGFN": "005",
            "KUNNR": number,
            "KTOKD": options.account_group,
            "ANRED": "Firma" if customer.company else None,
            "NAME1": cut(name, LENGTHS["NAME"]),
            "NAME2": cut(person, LENGTHS["NAME"]) if customer.company else None,
            "STRAS": cut(address.street_line, LENGTHS["STRAS"]),
            "PSTLZ": cut(address.postcode, LENGTHS["PSTLZ"]),
            "ORT01": cut(address.city, LENGTHS["ORT01"]),
            "LAND1": address.country,
            "TELF1": cut(customer.phone or address.phone, LENGTHS["TELF1"]),
            "STCEG": cut(customer.vat_number, LENGTHS["STCEG"]),
            "SPRAS_ISO": (customer.language or options.language)[:2].upper(),
        },
    )
    if options.sales_area:
        kna1.add("E1KNVVM", {"MSGFN": "005", **options.sales_area})
    if customer.company and person:
        kna1.add(
            "E1KNVKM",
            {
                "MSGFN": "005",
                "NAMEV": cut(customer.first_name, LENGTHS["NAME"]),
                "NAME1": cut(customer.last_name or person, LENGTHS["NAME"]),
                "PARVW": "AP",
            },
        )
    return idoc


def _partner(role: str, number: str | None, address: Address | None) -> dict[str, Any]:
    address = address or Address()
    return {
        "PARVW": role,
        "PARTN": number,
        "NAME1": cut(address.company or address.name, LENGTHS["NAME"]),
        "NAME2": cut(address.name, LENGTHS["NAME"]) if address.company else None,
        "STRAS": cut(address.street_line, LENGTHS["STRAS"]),
        "PSTLZ": cut(address.postcode, LENGTHS["PSTLZ_ORDERS"]),
        "ORT01": cut(address.city, LENGTHS["ORT01"]),
        "LAND1": address.country,
        "TELF1": cut(address.phone, LENGTHS["TELF1"]),
    }


def orders05(order_: Order, customer_number: str | None, options: Options) -> Idoc:
    """An ORDERS05 IDoc placing the web order in SAP: the order number as the customer's
    PO number (E1EDK02 QUALF 001), which SAP's ORDRSP echoes and ihost finds it by."""
    if len(order_.number) > LENGTHS["BELNR"]:
        raise RecordInvalid(
            f"order {order_.key}: number longer than SAP's 35 characters (BELNR)",
            key=order_.key,
            field="number",
        )
    idoc = Idoc(control(options, "ORDERS05", "ORDERS", order_.created_at))
    idoc.add("E1EDK01", {"CURCY": order_.currency, "BELNR": order_.number})
    for qualifier, key in (("008", "VKORG"), ("007", "VTWEG"), ("006", "SPART")):
        if options.sales_area.get(key):
            idoc.add("E1EDK14", {"QUALF": qualifier, "ORGID": options.sales_area[key]})
    day, clock = stamp(order_.created_at, options.timezone)
    idoc.add("E1EDK03", {"IDDAT": "012", "DATUM": day, "UZEIT": clock})
    idoc.add("E1EDKA1", _partner("AG", customer_number, order_.billing_address))
    idoc.add("E1EDKA1", _partner("WE", customer_number, order_.shipping_address))
    idoc.add("E1EDK02", {"QUALF": "001", "BELNR": order_.number, "DATUM": day})
    for i, line in enumerate(order_.lines, start=1):
        if line.sku is None:
            raise RecordInvalid(
                f"order {order_.key}: line {i} has no SKU: SAP needs a material",
                key=order_.key,
                field=f"lines.{i - 1}.sku",
            )
        price = line.unit_price
        if order_.prices_include_tax and line.tax_rate:
            price = line.unit_price / (1 + line.tax_rate / 100)
        item = idoc.add(
            "E1EDP01",
            {
                "POSEX": f"{i * 10:06d}",
                "MENGE": fmt(line.quantity),
                "MENEE": options.order_unit,
                "VPREI": fmt(price.quantize(Decimal("0.01"))),
                "PEINH": "1",
                "NETWR": fmt((price * line.quantity).quantize(Decimal("0.01"))),
            },
        )
        item.add("E1EDP19", {"QUALF": "002", "IDTNR": matnr(line.sku, options, "lines.sku")})
    if order_.total is not None:
        idoc.add("E1EDS01", {"SUMID": "002", "SUMME": fmt(order_.total), "WAERQ": order_.currency})
    return idoc


def loistd(levels: Iterable[StockLevel], options: Options) -> Idoc:
    """Stock levels as a LOISTD01 IDoc (E1MDSTL: material, plant, unrestricted stock)."""
    idoc = Idoc(control(options, "LOISTD01", "LOISTD", None))
    for level in levels:
        idoc.add(
            "E1MDSTL",
            {
                "MATNR": matnr(level.sku, options),
                "WERKS": level.location,
                "LABST": fmt(level.quantity if level.quantity is not None else level.on_hand),
            },
        )
    return idoc


def stock_row(level: StockLevel, columns: Mapping[str, str], options: Options) -> dict[str, str]:
    """One stock level as a CSV row of the connection's columns (column -> field)."""
    quantity = level.quantity if level.quantity is not None else level.on_hand
    values = {
        "sku": matnr(level.sku, options),
        "location": level.location or "",
        "quantity": (fmt(quantity) or "0").replace(".", options.decimal_separator),
        "unit": options.unit,
    }
    return {column: values.get(field, "") for column, field in columns.items()}


def order_from_rows(
    rows: list[dict[str, str]], columns: Mapping[str, str], options: Options
) -> dict[str, Any]:
    """The rows of one order in a CSV export (one row per line, the header fields
    repeated) as an ORDERS05-shaped Idoc's data, through `columns` (column -> field)."""
    field_of = {v: k for k, v in columns.items()}

    def cell(row: dict[str, str], name: str) -> str | None:
        column = field_of.get(name)
        value = row.get(column) if column else None
        return value.strip() or None if value is not None else None

    def _column(name: str) -> str:
        return field_of.get(name, name)

    first = rows[0]
    number = cell(first, "number")
    if not number:
        raise Malformed(field_of.get("number", "number"), "the order number is missing")
    moment = cell(first, "created_at")
    created = sap_moment(
        moment[:8].replace("-", "") if moment else None,
        None,
        options.timezone,
        field_of.get("created_at", "created_at"),
    )
    sep = options.decimal_separator
    return {
        "key": number,
        "number": number,
        "reference": cell(first, "reference"),
        "payment_terms": cell(first, "payment_terms"),
        "created_at": created,
        "status": options.order_status,
        "currency": cell(first, "currency"),
        "prices_include_tax": False,
        "customer": {
            "key": cell(first, "customer.key") or number,
            "email": cell(first, "customer.email"),
            "company": cell(first, "customer.company"),
            "first_name": cell(first, "customer.first_name"),
            "last_name": cell(first, "customer.last_name"),
        },
        "lines": [
            {
                "sku": cell(row, "sku"),
                "quantity": sap_number(cell(row, "quantity"), field_of.get("quantity", "?"), sep),
                "unit_price": sap_number(
                    cell(row, "unit_price"), field_of.get("unit_price", "?"), sep
                )
                or Decimal(0),
            }
            for row in rows
        ],
    }


def order_from_csv(
    rows: list[dict[str, str]], columns: Mapping[str, str], options: Options
) -> Order | RecordInvalid:
    key = rows[0].get(next((c for c, f in columns.items() if f == "number"), ""), "?") or "?"
    try:
        data = order_from_rows(rows, columns, options)
    except Malformed as exc:
        return RecordInvalid(f"order {key}: SAP's export has {exc}", key=key, field=exc.field)
    return record_or_invalid(Order, data, key=key)
