"""Lightspeed's JSON <-> ihost records, both ways, and nothing else (api/lightspeed.md §4-§7).

Lightspeed writes every scalar as a string ("33", "34.48", "false"), an absent foreign key
as "0", a container of one element as a bare object and an empty one as "", and
`attributeNValues` as a string or a list: all of it is normalised here.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timezone
from decimal import Decimal, InvalidOperation
from typing import TYPE_CHECKING, Any

from ihost_lightspeed.client import one_or_many

if TYPE_CHECKING:
    from ihost_lightspeed.plugin import LightspeedSettings


class FieldError(ValueError):
    """A value Lightspeed sent that cannot be read: `field` names it, the message quotes it."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


def truthy(value: Any) -> bool:
    return str(value).strip().lower() in ("true", "1")


def number(value: Any, field: str) -> Decimal:
    """A numeric string as Decimal ("" and None are 0); FieldError naming the field."""
    if value is None or value == "":
        return Decimal(0)
    if isinstance(value, (dict, list, bool)):
        raise FieldError(field, f"{value!r} is not a number")
    try:
        found = Decimal(str(value))
    except InvalidOperation:
        raise FieldError(field, f"{value!r} is not a number") from None
    if not found.is_finite():
        raise FieldError(field, f"{value!r} is not a number")
    return found


def moment(value: Any, field: str = "timeStamp") -> datetime | None:
    """A Lightspeed time ("2026-05-01T10:00:00+00:00") as an aware datetime (UTC when it
    carries no offset); FieldError naming the field when it is no time."""
    if not value:
        return None
    try:
        found = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    except ValueError:
        raise FieldError(field, f"{value!r} is not a date and time") from None
    return found if found.tzinfo else found.replace(tzinfo=timezone.utc)


def related(record: Mapping[str, Any], name: str) -> Mapping[str, Any]:
    """A to-one relation or nested object (Category, Contact, ItemAttributes...): {} when
    absent or "" (Lightspeed's empty); FieldError for anything but an object."""
    value = record.get(name)
    if value is None or value == "":
        return {}
    if not isinstance(value, Mapping):
        raise FieldError(name, f"expected an object, got {value!r}")
    return value


def rows(record: Mapping[str, Any], name: str, element: str) -> list[Mapping[str, Any]]:
    """A to-many container (`{"SaleLines": {"SaleLine": [..]}}`): its elements, one as a
    bare object or "" for none; FieldError for any other shape."""
    container = related(record, name)
    found = one_or_many(container.get(element)) if container else []
    for entry in found:
        if not isinstance(entry, Mapping):
            raise FieldError(f"{name}.{element}", f"expected objects, got {entry!r}")
    return found


def key(value: Any) -> str | None:
    """A foreign key, None for Lightspeed's "0"."""
    text = str(value or "").strip()
    return None if text in ("", "0") else text


def to_filter(when: datetime) -> str:
    """A moment as the `>=` filter Lightspeed takes (UTC, its offset spelled out)."""
    return ">=," + when.astimezone(timezone.utc).isoformat(timespec="seconds")


def sku_of(item: Mapping[str, Any], settings: LightspeedSettings) -> str:
    """The item's SKU: the field the settings name, else its system SKU."""
    return str(item.get(settings.sku_field) or item.get("systemSku") or item.get("itemID"))


def price_of(item: Mapping[str, Any], settings: LightspeedSettings) -> Decimal:
    """The price at the `price_level`; FieldError when the record has none at that level
    (writing it on would leave the target without a price, or zero it)."""
    prices = rows(item, "Prices", "ItemPrice")
    for price in prices:
        if str(price.get("useType")) == settings.price_level:
            return number(price.get("amount"), f"Prices.{settings.price_level}")
    levels = ", ".join(str(p.get("useType")) for p in prices) or "none"
    raise FieldError("Prices", f"no {settings.price_level} price (the price levels sent: {levels})")


def _product_base(record: Mapping[str, Any], settings: LightspeedSettings) -> dict[str, Any]:
    category = related(record, "Category")
    path = str(category.get("fullPathName") or "").strip("/")
    return {
        "name": str(record.get("description") or "").strip() or "(no description)",
        "price": price_of(record, settings),
        "price_includes_tax": settings.prices_include_tax,
        "currency": settings.currency,
        "active": not truthy(record.get("archived")),
        "categories": [path.replace("/", " > ")] if path else [],
        "updated_at": moment(record.get("timeStamp")),
    }


def simple_product(item: Mapping[str, Any], settings: LightspeedSettings) -> dict[str, Any]:
    """An item that is no variant as a simple Product, keyed by its itemID."""
    sku = sku_of(item, settings)
    return {
        "key": f"item-{item['itemID']}",
        "sku": sku,
        "ean": str(item.get("ean") or item.get("upc") or "") or None,
        **_product_base(item, settings),
    }


def attribute_names(matrix: Mapping[str, Any]) -> list[str]:
    """The option names of a matrix (its ItemAttributeSet's attributeName1..3)."""
    found = related(matrix, "ItemAttributeSet")
    names = [str(found.get(f"attributeName{n}") or "") for n in (1, 2, 3)]
    return [n for n in names if n] or ["Option"]


def matrix_product(matrix: Mapping[str, Any], settings: LightspeedSettings) -> dict[str, Any]:
    """An ItemMatrix with its Items as a configurable Product, its items the variants (their
    ItemAttributes attribute1..3 the options, named by the matrix's attribute set)."""
    names = attribute_names(matrix)
    variants = []
    items = rows(matrix, "Items", "Item")
    if not items:
        raise FieldError("Items", "the matrix has no items: no variant to sell")
    for item in items:
        attributes = related(item, "ItemAttributes")
        options = {
            name: str(attributes.get(f"attribute{n}"))
            for n, name in enumerate(names, 1)
            if attributes.get(f"attribute{n}")
        }
        variants.append(
            {
                "sku": sku_of(item, settings),
                "name": str(item.get("description") or "") or None,
                "options": options,
                "price": price_of(item, settings),
                "ean": str(item.get("ean") or item.get("upc") or "") or None,
                "active": not truthy(item.get("archived")),
            }
        )
    base = _product_base(matrix, settings)
    return {
        "key": f"matrix-{matrix['itemMatrixID']}",
        "sku": f"M-{matrix['itemMatrixID']}",
        "type": "configurable",
        "attributes": {name: values_of(matrix, n) for n, name in enumerate(names, 1)},
        "variants": variants,
        **base,
    }


def values_of(matrix: Mapping[str, Any], n: int) -> list[str]:
    """attributeNValues: a list, one value as a string, none as ""."""
    values = one_or_many(matrix.get(f"attribute{n}Values"))
    for value in values:
        if isinstance(value, (dict, list)):
            raise FieldError(f"attribute{n}Values", f"expected text, got {value!r}")
    return [str(v) for v in values]


def reserved(itemshop: Mapping[str, Any]) -> Decimal:
    """What sales have set aside: layaways, special orders and work orders (PROPOSED sum;
    `onWorkorder` as the sample spells it, `onWorkOrder` as the field table does)."""
    work = itemshop.get("onWorkorder", itemshop.get("onWorkOrder"))
    return (
        number(itemshop.get("onLayaway"), "onLayaway")
        + number(itemshop.get("onSpecialOrder"), "onSpecialOrder")
        + number(work, "onWorkorder")
    )


def stock_level(
    itemshop: Mapping[str, Any],
    item: Mapping[str, Any],
    shop_name: str,
    settings: LightspeedSettings,
) -> dict[str, Any]:
    """One ItemShop row (of `item`) as a StockLevel at its shop."""
    return {
        "key": f"{itemshop['itemID']}@{itemshop['shopID']}",
        "sku": sku_of(item, settings) if item else str(itemshop["itemID"]),
        "location": shop_name,
        "on_hand": number(itemshop.get("qoh"), "qoh"),
        "reserved": reserved(itemshop),
        "updated_at": moment(itemshop.get("timeStamp")),
    }


def _contact(record: Mapping[str, Any]) -> dict[str, Any]:
    contact = related(record, "Contact")
    emails = rows(contact, "Emails", "ContactEmail")
    primary = next(
        (e for e in emails if e.get("useType") == "Primary"), emails[0] if emails else {}
    )
    phones = rows(contact, "Phones", "ContactPhone")
    addresses = rows(contact, "Addresses", "ContactAddress")
    address = addresses[0] if addresses else {}
    return {
        "email": str(primary.get("address") or "") or None,
        "phone": str(phones[0].get("number") or "") or None if phones else None,
        "address": {
            "street": str(address.get("address1") or "") or None,
            "street2": str(address.get("address2") or "") or None,
            "postcode": str(address.get("zip") or "") or None,
            "city": str(address.get("city") or "") or None,
            "country": str(address.get("countryCode") or "") or None,
        }
        if address.get("city") or address.get("address1")
        else None,
    }


def customer(record: Mapping[str, Any]) -> dict[str, Any]:
    """A Customer (with its Contact loaded) as a canonical customer."""
    contact = _contact(record)
    return {
        "key": str(record["customerID"]),
        "email": contact["email"],
        "company": str(record.get("company") or "") or None,
        "first_name": str(record.get("firstName") or "") or None,
        "last_name": str(record.get("lastName") or "") or None,
        "phone": contact["phone"],
        "vat_number": str(record.get("vatNumber") or "") or None,
        "billing_address": contact["address"],
        "updated_at": moment(record.get("timeStamp")),
    }


def order_from_sale(sale: Mapping[str, Any], settings: LightspeedSettings) -> dict[str, Any]:
    """A completed Sale with its SaleLines, SalePayments and Customer as an Order."""
    lines = []
    sold = rows(sale, "SaleLines", "SaleLine")
    if not sold:
        raise FieldError("SaleLines", "the sale has no lines")
    for line in sold:
        item = related(line, "Item")
        quantity = number(line.get("unitQuantity"), "SaleLine.unitQuantity")
        if quantity < 0:
            raise FieldError(
                "SaleLine.unitQuantity",
                f"{line.get('unitQuantity')!r} on sale line {line.get('saleLineID')}: a refund "
                "line (a return); refunds are not read yet",
            )
        rate = number(line.get("tax1Rate"), "SaleLine.tax1Rate") + number(
            line.get("tax2Rate"), "SaleLine.tax2Rate"
        )
        lines.append(
            {
                "sku": sku_of(item, settings) if item else None,
                "name": str(item.get("description") or "") or None,
                "quantity": abs(quantity),
                "unit_price": number(line.get("unitPrice"), "SaleLine.unitPrice"),
                "tax_rate": rate * 100 if rate < 1 else rate,
                "discount": number(line.get("calcLineDiscount"), "SaleLine.calcLineDiscount"),
            }
        )
    payments = rows(sale, "SalePayments", "SalePayment")
    method = next((str(related(p, "PaymentType").get("name") or "") for p in payments if p), None)
    buyer = related(sale, "Customer")
    status = "cancelled" if truthy(sale.get("voided")) else "paid"
    return {
        "key": str(sale["saleID"]),
        "number": str(sale.get("ticketNumber") or sale["saleID"]),
        "created_at": moment(sale.get("completeTime"), "completeTime")
        or moment(sale.get("createTime"), "createTime"),
        "updated_at": moment(sale.get("timeStamp")),
        "status": status,
        "currency": settings.currency,
        "prices_include_tax": truthy(sale.get("isTaxInclusive")),
        "customer": customer(buyer) if buyer else None,
        "lines": lines,
        "payment_method": method or None,
        "total": number(sale.get("calcTotal") or sale.get("total"), "Sale.calcTotal"),
        "tax_total": number(sale.get("calcTax1"), "Sale.calcTax1")
        + number(sale.get("calcTax2"), "Sale.calcTax2"),
    }


def stock_body(itemshops: list[dict[str, Any]], shop_id: str, quantity: Decimal) -> dict:
    """The PUT Item body setting the quantity on hand at one shop (PROPOSED: the way the
    public inventory clients set qoh; the notes say stock normally moves by sales)."""
    rows = [
        {"itemShopID": str(row["itemShopID"]), "qoh": f"{quantity.normalize():f}"}
        for row in itemshops
        if str(row.get("shopID")) == shop_id
    ]
    return {"ItemShops": {"ItemShop": rows}}
