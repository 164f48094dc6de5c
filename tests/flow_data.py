"""Native records for the test sandbox: a small shop's orders, customers and products."""

from __future__ import annotations

from typing import Any


def address(country: str = "NL", **changes: Any) -> dict[str, Any]:
    return {
        "name": "Jan Jansen",
        "street": "Dorpsstraat",
        "house_number": "12",
        "postcode": "1234 AB",
        "city": "Utrecht",
        "country": country,
        **changes,
    }


def customer(key: str, email: str, company: str | None = None, **changes: Any) -> dict[str, Any]:
    return {
        "key": key,
        "email": email,
        "company": company,
        "first_name": "Jan",
        "last_name": "Jansen",
        "billing_address": address(),
        "shipping_address": address(),
        **changes,
    }


def order(
    key: str,
    number: str,
    status: str = "paid",
    skus: tuple[str, ...] = ("SKU-1",),
    customer_data: dict[str, Any] | None = None,
    updated_at: str = "2026-05-01T10:00:00+00:00",
    **changes: Any,
) -> dict[str, Any]:
    return {
        "id": key,
        "key": key,
        "number": number,
        "created_at": "2026-05-01T09:00:00+00:00",
        "updated_at": updated_at,
        "status": status,
        "currency": "EUR",
        "customer": customer_data or customer(f"c-{key}", f"buyer{key}@example.com"),
        "billing_address": address(),
        "shipping_address": address(),
        "lines": [
            {"sku": sku, "name": sku, "quantity": "1", "unit_price": "10.00", "tax_rate": "21"}
            for sku in skus
        ],
        "shipping_lines": [{"method": "PostNL", "price": "4.95", "tax_rate": "21"}],
        "payment_method": "ideal",
        "total": f"{10 * len(skus) + 4.95:.2f}",
        "tax_total": "2.60",
        **changes,
    }


def product(sku: str, name: str = "Plain product", price: str = "10.00", **changes: Any) -> dict:
    return {"key": f"p-{sku}", "sku": sku, "name": name, "price": price, **changes}


def configurable(sku: str = "SHIRT") -> dict[str, Any]:
    return {
        "key": f"p-{sku}",
        "sku": sku,
        "name": "Shirt",
        "type": "configurable",
        "description": "A cotton shirt",
        "price": "25.00",
        "categories": ["Clothing > Shirts"],
        "images": ["https://img.example.com/shirt-1.jpg", "https://img.example.com/shirt-2.jpg"],
        "attributes": {"material": "cotton"},
        "variants": [
            {
                "sku": f"{sku}-{size}",
                "options": {"Size": size},
                "price": "25.00",
                "image": f"https://img.example.com/shirt-{size}.jpg",
            }
            for size in ("S", "M", "L")
        ],
    }
