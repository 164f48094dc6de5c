"""Shopify GraphQL nodes <-> host.models (api/shopify.md §3-§8).

Money arrives as decimal strings inside MoneyBags (`totalPriceSet.shopMoney.amount`) and
stays Decimal; tax rates arrive as fractions (0.21) and become percentages (21); ids are
`gid://shopify/Order/123`, and records are keyed by the number at the end.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal
from typing import Any

from host.models import Address, Customer, Product, split_street_line
from host.vocabulary import DebtorField

FINANCIAL_STATUS = {
    "PENDING": "pending",
    "AUTHORIZED": "authorized",
    "PARTIALLY_PAID": "partially_paid",
    "PAID": "paid",
    "PARTIALLY_REFUNDED": "partially_refunded",
    "REFUNDED": "refunded",
    "VOIDED": "voided",
    "EXPIRED": "voided",
}
#: canonical status -> the orders search filter that selects it
STATUS_FILTER = {
    "pending": "financial_status:pending",
    "authorized": "financial_status:authorized",
    "partially_paid": "financial_status:partially_paid",
    "paid": "financial_status:paid",
    "partially_refunded": "financial_status:partially_refunded",
    "refunded": "financial_status:refunded",
    "voided": "financial_status:voided",
    "cancelled": "status:cancelled",
}


def legacy_id(gid: str | None) -> str | None:
    """The number at the end of a global id: gid://shopify/Order/123 -> "123"."""
    return gid.rsplit("/", 1)[-1] if gid else None


def gid(kind: str, key: str) -> str:
    """A global id from a key that may already be one."""
    return key if key.startswith("gid://") else f"gid://shopify/{kind}/{key}"


def amount(bag: dict[str, Any] | None) -> Decimal | None:
    """The shop-currency amount of a MoneyBag."""
    if not bag:
        return None
    value = (bag.get("shopMoney") or {}).get("amount")
    return Decimal(str(value)) if value is not None else None


def _first_amount(node: dict[str, Any], *fields: str) -> Decimal | None:
    """The first of `fields` that has an amount (free shipping, 0.00, counts)."""
    for field in fields:
        value = amount(node.get(field))
        if value is not None:
            return value
    return None


def _or_zero(value: Decimal | None) -> Decimal:
    return Decimal(0) if value is None else value  # Decimal("0.00") is falsy: no `or`


def rate_percent(tax_lines: list[dict[str, Any]] | None) -> Decimal | None:
    """The summed rate of tax lines as a percentage (Shopify gives 0.21 for 21 %)."""
    rates = [Decimal(str(t["rate"])) for t in tax_lines or [] if t.get("rate") is not None]
    return (sum(rates) * 100).normalize() if rates else None


def address(node: dict[str, Any] | None) -> dict[str, Any] | None:
    """A MailingAddress as a canonical Address; the house number split off address1."""
    if not node:
        return None
    street, number, suffix = split_street_line(node.get("address1"))
    name = node.get("name") or " ".join(
        part for part in (node.get("firstName"), node.get("lastName")) if part
    )
    return {
        "company": node.get("company"),
        "name": name or None,
        "street": street,
        "house_number": number,
        "house_number_suffix": suffix,
        "street2": node.get("address2"),
        "postcode": node.get("zip"),
        "city": node.get("city"),
        "region": node.get("provinceCode") or node.get("province"),
        "country": node.get("countryCodeV2"),
        "phone": node.get("phone"),
    }


def order(node: dict[str, Any]) -> dict[str, Any]:
    """An Order node as canonical order data (validated by the caller)."""
    billing = address(node.get("billingAddress"))
    shipping = address(node.get("shippingAddress"))
    status = (
        "cancelled"
        if node.get("cancelledAt")
        else FINANCIAL_STATUS.get(node.get("displayFinancialStatus") or "PENDING", "pending")
    )
    buyer = node.get("customer") or {}
    email = buyer.get("email") or node.get("email")
    customer = None
    if buyer or email:
        customer = {
            "key": legacy_id(buyer.get("id")) or f"email:{email}",
            "email": email,
            "company": (billing or {}).get("company") or (shipping or {}).get("company"),
            "first_name": buyer.get("firstName"),
            "last_name": buyer.get("lastName"),
            "phone": buyer.get("phone"),
            "language": buyer.get("locale"),
            "billing_address": billing,
            "shipping_address": shipping,
        }
    lines = [
        {
            "sku": line.get("sku") or None,
            "name": line.get("name"),
            "quantity": Decimal(line["quantity"]),
            "unit_price": _or_zero(amount(line.get("originalUnitPriceSet"))),
            "tax_rate": rate_percent(line.get("taxLines")),
            "discount": _or_zero(amount(line.get("totalDiscountSet"))),
        }
        for line in (node.get("lineItems") or {}).get("nodes", [])
    ]
    shipping_lines = [
        {
            "method": line.get("title") or line.get("code"),
            "price": _or_zero(_first_amount(line, "discountedPriceSet", "originalPriceSet")),
            "tax_rate": rate_percent(line.get("taxLines")),
        }
        for line in (node.get("shippingLines") or {}).get("nodes", [])
    ]
    gateways = node.get("paymentGatewayNames") or []
    return {
        "key": legacy_id(node["id"]),
        "number": (node.get("name") or "").lstrip("#") or legacy_id(node["id"]),
        "created_at": node.get("createdAt"),
        "updated_at": node.get("updatedAt"),
        "status": status,
        "fulfillment_status": (node.get("displayFulfillmentStatus") or "").lower() or None,
        "currency": node.get("currencyCode"),
        "prices_include_tax": bool(node.get("taxesIncluded")),
        "customer": customer,
        "billing_address": billing,
        "shipping_address": shipping,
        "lines": lines,
        "shipping_lines": shipping_lines,
        "payment_method": gateways[0] if gateways else None,
        "reference": node.get("poNumber"),
        "note": node.get("note"),
        "tags": node.get("tags") or [],
        "total": amount(node.get("totalPriceSet")),
        "tax_total": amount(node.get("totalTaxSet")),
    }


def refunds(node: dict[str, Any]) -> list[dict[str, Any]]:
    """The refunds of an Order node as canonical refund data."""
    found = []
    for refund in node.get("refunds") or []:
        total = refund.get("totalRefundedSet")
        lines = [
            {
                "sku": (line.get("lineItem") or {}).get("sku"),
                "quantity": Decimal(line["quantity"]),
                "amount": _or_zero(amount(line.get("subtotalSet"))),
            }
            for line in (refund.get("refundLineItems") or {}).get("nodes", [])
        ]
        found.append(
            {
                "key": legacy_id(refund["id"]),
                "order_key": legacy_id(node["id"]),
                "order_number": (node.get("name") or "").lstrip("#"),
                "created_at": refund.get("createdAt"),
                "updated_at": refund.get("createdAt"),
                "lines": lines,
                "total": _or_zero(amount(total)),
                "currency": ((total or {}).get("shopMoney") or {}).get("currencyCode")
                or node.get("currencyCode"),
                "reason": refund.get("note"),
            }
        )
    return found


def handle(sku: str) -> str:
    """The product handle ihost gives a product: its SKU as a URL slug."""
    return re.sub(r"[^a-z0-9]+", "-", sku.lower()).strip("-")


def product_set_input(
    product: Product,
    existing_id: str | None,
    variant_ids: dict[str, str],
    collection_ids: list[str] | None,
    update_info: bool,
    tracked: bool = True,
) -> dict[str, Any]:
    """The ProductSetInput for a canonical product (one image per variant)."""
    data: dict[str, Any] = {}
    if existing_id:
        data["id"] = existing_id
    else:
        data["handle"] = handle(product.sku)
    if update_info or not existing_id:
        data["title"] = product.name
        if product.description is not None:
            data["descriptionHtml"] = product.description
        files = list(
            dict.fromkeys([*product.images, *(v.image for v in product.variants if v.image)])
        )
        data["files"] = [{"originalSource": url, "contentType": "IMAGE"} for url in files]
        if collection_ids is not None:
            data["collections"] = collection_ids
    data["status"] = "ACTIVE" if product.active else "DRAFT"
    if product.variants:
        names = list(dict.fromkeys(name for v in product.variants for name in v.options))
        data["productOptions"] = [
            {
                "name": name,
                "values": [
                    {"name": value}
                    for value in dict.fromkeys(
                        v.options[name] for v in product.variants if name in v.options
                    )
                ],
            }
            for name in names
        ]
        variants = [
            {
                "optionValues": [{"optionName": k, "name": v} for k, v in variant.options.items()],
                "sku": variant.sku,
                "price": str(variant.price if variant.price is not None else product.price or 0),
                "barcode": variant.ean,
                "file": {"originalSource": variant.image, "contentType": "IMAGE"}
                if variant.image and (update_info or not existing_id)
                else None,
                "inventoryItem": {"tracked": tracked},
                "id": variant_ids.get(variant.sku),
            }
            for variant in product.variants
        ]
    else:
        data["productOptions"] = [{"name": "Title", "values": [{"name": "Default Title"}]}]
        variants = [
            {
                "optionValues": [{"optionName": "Title", "name": "Default Title"}],
                "sku": product.sku,
                "price": str(product.price or 0),
                "barcode": product.ean,
                "inventoryItem": {"tracked": tracked},
                "id": variant_ids.get(product.sku),
            }
        ]
    data["variants"] = [{k: v for k, v in variant.items() if v is not None} for variant in variants]
    return data


def customer_input(customer: Customer, existing_id: str | None) -> dict[str, Any]:
    """The CustomerInput for a canonical customer.

    Shopify keeps a company only on a customer's addresses: a new company customer
    without an address gets one holding just the company (an existing one keeps the
    addresses it has). A company without a contact person is named by its company (as
    lastName), the name Shopify shows for it."""
    addresses = _distinct_addresses(customer)
    if not addresses and customer.company and not existing_id:
        addresses = [Address(company=customer.company)]
    first, last = customer.first_name, customer.last_name
    if not (first or last):
        last = customer.company
    data: dict[str, Any] = {
        "email": customer.email,
        "firstName": first,
        "lastName": last,
        "phone": customer.phone,
        "tags": [customer.group] if customer.group else None,
        "addresses": [mailing_address(a, customer) for a in addresses] or None,
    }
    if existing_id:
        data["id"] = gid("Customer", existing_id)
    return {k: v for k, v in data.items() if v is not None}


def _distinct_addresses(customer: Customer) -> list[Any]:
    found: list[Any] = []
    for candidate in (customer.billing_address, customer.shipping_address):
        if candidate is not None and candidate not in found:
            found.append(candidate)
    return found


def mailing_address(addr: Any, customer: Customer) -> dict[str, Any]:
    values = {
        "address1": addr.street_line,
        "address2": addr.street2,
        "city": addr.city,
        "company": addr.company or customer.company,
        "countryCode": addr.country,
        "provinceCode": addr.region,
        "zip": addr.postcode,
        "firstName": customer.first_name,
        "lastName": customer.last_name,
        "phone": addr.phone,
    }
    return {k: v for k, v in values.items() if v is not None}


MAX_OPTIONS = 3  # options per product (api/shopify.md §4)
MAX_VARIANTS = 2048  # variants per product since 2025-10
MAX_TITLE = 255


def store_prices(product: Product, include_tax: bool) -> Product:
    """`product` with its prices as the store shows them: including tax or not (a source
    such as an ERP may give them the other way), by the product's tax rate, to the cent."""
    if product.price_includes_tax == include_tax or product.tax_rate is None:
        return product
    factor = (Decimal(100) + product.tax_rate) / Decimal(100)

    def shown(price: Decimal | None) -> Decimal | None:
        if price is None:
            return None
        return (price * factor if include_tax else price / factor).quantize(
            Decimal("0.01"), ROUND_HALF_UP
        )

    return product.model_copy(
        update={
            "price": shown(product.price),
            "price_includes_tax": include_tax,
            "variants": [v.model_copy(update={"price": shown(v.price)}) for v in product.variants],
        }
    )


def product_problems(product: Product, include_tax: bool = True) -> list[tuple[str, str]]:
    """(field, problem) for each thing Shopify would refuse in `product`."""
    problems = []
    if product.price_includes_tax != include_tax and product.tax_rate is None:
        given, store = (
            ("includes", "excluding") if product.price_includes_tax else ("excludes", "including")
        )
        problems.append(
            (
                "tax_rate",
                f"is not known, and the price {given} tax: the shop shows prices {store} tax",
            )
        )
    names = {name for variant in product.variants for name in variant.options}
    if len(names) > MAX_OPTIONS:
        problems.append(("variants.options", f"has {len(names)} options; Shopify takes 3"))
    if len(product.variants) > MAX_VARIANTS:
        problems.append(
            ("variants", f"has {len(product.variants)} variants; Shopify takes {MAX_VARIANTS}")
        )
    if len(product.name) > MAX_TITLE:
        problems.append(("name", f"is longer than Shopify's {MAX_TITLE} characters"))
    return problems


def customer_problems(customer: Customer) -> list[tuple[str, str]]:
    """(field, problem) for what Shopify would refuse in `customer`."""
    named = customer.first_name or customer.last_name or customer.company
    if not (customer.email or customer.phone or named):
        return [("email", "Shopify needs an e-mail address, a phone number or a name")]
    return []


#: the customer fields a Shopify customer is found by, in the order they are tried
CUSTOMER_MATCH: tuple[DebtorField, ...] = ("email", "phone")


def customer_match_value(field: str, value: str) -> str:
    """`value` as compared when finding a customer: an e-mail address without case, a
    phone number without spaces, dashes, dots or brackets."""
    if field == "phone":
        return re.sub(r"[^\d+]", "", value)
    return value.strip().lower()


def customer_search(field: str, value: str) -> str:
    """The customers search term for one field's value, quoted for Shopify's syntax."""
    quote = '"' if "'" in value else "'"
    return f"{field}:{quote}{value}{quote}"
