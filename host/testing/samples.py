"""Sample canonical records the contract kit writes; override per plugin where needed."""

from __future__ import annotations

from datetime import datetime, timezone
from decimal import Decimal

from host.models import (
    Address,
    Customer,
    Feedback,
    Order,
    OrderLine,
    Product,
    Refund,
    RefundLine,
    Shipment,
    ShipmentLine,
    ShippingLine,
    StockLevel,
)

SKU = "IHOST-KIT-1"


def address() -> Address:
    return Address(
        name="Kit Tester",
        street="Teststraat",
        house_number="1",
        postcode="1234 AB",
        city="Utrecht",
        country="NL",
    )


def customer(key: str = "kit-customer-1") -> Customer:
    return Customer(
        key=key,
        email="kit.tester@example.com",
        first_name="Kit",
        last_name="Tester",
        billing_address=address(),
        shipping_address=address(),
    )


def product(key: str = "kit-product-1") -> Product:
    return Product(
        key=key,
        sku=SKU,
        name="ihost contract kit product",
        price=Decimal("12.50"),
        tax_rate=Decimal("21"),
        currency="EUR",
    )


def stock_level() -> StockLevel:
    return StockLevel(key=SKU, sku=SKU, on_hand=Decimal(7), quantity=Decimal(7))


def order(key: str = "kit-order-1") -> Order:
    return Order(
        key=key,
        number="KIT-1001",
        created_at=datetime(2026, 1, 2, 10, 0, tzinfo=timezone.utc),
        status="paid",
        currency="EUR",
        customer=customer(),
        billing_address=address(),
        shipping_address=address(),
        lines=[OrderLine(sku=SKU, name="kit product", quantity=2, unit_price=Decimal("12.50"))],
        shipping_lines=[ShippingLine(method="standard", price=Decimal("4.95"))],
        total=Decimal("29.95"),
    )


def shipment(key: str = "kit-shipment-1") -> Shipment:
    return Shipment(
        key=key,
        order_key="kit-order-1",
        order_number="KIT-1001",
        carrier="PostNL",
        tracking_number="3SKIT0001",
        tracking_url="https://tracking.example.com/3SKIT0001",
        lines=[ShipmentLine(sku=SKU, quantity=2)],
    )


def refund(key: str = "kit-refund-1") -> Refund:
    return Refund(
        key=key,
        order_key="kit-order-1",
        order_number="KIT-1001",
        lines=[RefundLine(sku=SKU, quantity=1, amount=Decimal("12.50"))],
        total=Decimal("12.50"),
        currency="EUR",
        reason="damaged",
    )


def feedback(key: str = "kit-feedback-1") -> Feedback:
    """The customer's answered feedback on the sample order (KIT-1001)."""
    return Feedback(
        key=key,
        order_key="kit-order-1",
        order_number="KIT-1001",
        unit="Webshop",
        customer_key="kit-customer-1",
        status="completed",
        score=Decimal("85"),
        grade=Decimal("8.5"),
        sent_at=datetime(2026, 3, 11, 9, 0, tzinfo=timezone.utc),
        completed_at=datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc),
    )
