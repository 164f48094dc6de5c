"""Shopify nodes in the GraphQL shape, for seeding the sandbox (tests and the demo)."""

from __future__ import annotations

from typing import Any


def money(amount: str, currency: str = "EUR") -> dict[str, Any]:
    """A MoneyBag."""
    value = {"amount": amount, "currencyCode": currency}
    return {"shopMoney": value, "presentmentMoney": value}


def mailing_address(company: str | None = None, country: str = "NL", **changes: Any) -> dict:
    return {
        "firstName": "Anna",
        "lastName": "de Vries",
        "name": "Anna de Vries",
        "company": company,
        "address1": "Keizersgracht 123 A",
        "address2": None,
        "zip": "1015 CJ",
        "city": "Amsterdam",
        "province": None,
        "provinceCode": None,
        "countryCodeV2": country,
        "phone": "+31201234567",
        **changes,
    }


def order(
    number: int,
    status: str = "PAID",
    email: str = "anna@example.com",
    company: str | None = None,
    skus: tuple[str, ...] = ("SKU-1",),
    updated_at: str = "2026-05-01T10:00:00Z",
    customer_id: int | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """An Order node with customer, addresses, lines (21 % VAT included) and shipping."""
    lines = [
        {
            "sku": sku,
            "name": f"Product {sku}",
            "quantity": 2,
            "originalUnitPriceSet": money("12.10"),
            "totalDiscountSet": money("0.00"),
            "taxLines": [
                {"rate": 0.21, "ratePercentage": 21.0, "title": "BTW", "priceSet": money("4.20")}
            ],
        }
        for sku in skus
    ]
    return {
        "id": f"gid://shopify/Order/{number}",
        "name": f"#{number}",
        "email": email,
        "createdAt": "2026-05-01T09:00:00Z",
        "updatedAt": updated_at,
        "cancelledAt": None,
        "note": None,
        "tags": [],
        "poNumber": None,
        "displayFinancialStatus": status,
        "displayFulfillmentStatus": "UNFULFILLED",
        "currencyCode": "EUR",
        "taxesIncluded": True,
        "paymentGatewayNames": ["shopify_payments"],
        "totalPriceSet": money(f"{24.20 * len(skus) + 6.95:.2f}"),
        "totalTaxSet": money(f"{4.20 * len(skus) + 1.21:.2f}"),
        "customer": {
            "id": f"gid://shopify/Customer/{customer_id or 500 + number}",
            "firstName": "Anna",
            "lastName": "de Vries",
            "email": email,
            "phone": "+31201234567",
            "locale": "nl",
            "updatedAt": updated_at,
        },
        "billingAddress": mailing_address(company),
        "shippingAddress": mailing_address(company),
        "shippingLines": [
            {
                "title": "PostNL",
                "code": "postnl-standard",
                "originalPriceSet": money("6.95"),
                "discountedPriceSet": money("6.95"),
                "taxLines": [
                    {
                        "rate": 0.21,
                        "ratePercentage": 21.0,
                        "title": "BTW",
                        "priceSet": money("1.21"),
                    }
                ],
            }
        ],
        "lineItems": lines,
        **changes,
    }


def product(sku: str, title: str = "Sample product", price: str = "9.95") -> dict[str, Any]:
    """A Product node with one variant carrying `sku`."""
    return {
        "title": title,
        "handle": sku.lower(),
        "status": "ACTIVE",
        "options": [{"name": "Title", "values": ["Default Title"]}],
        "variants": [
            {
                "id": f"gid://shopify/ProductVariant/{abs(hash(sku)) % 10**9}",
                "sku": sku,
                "price": price,
                "title": "Default Title",
                "selectedOptions": [{"name": "Title", "value": "Default Title"}],
                "inventoryItem": {
                    "id": f"gid://shopify/InventoryItem/{abs(hash(sku)) % 10**9}",
                    "sku": sku,
                    "tracked": True,
                },
            }
        ],
    }
