from __future__ import annotations

from datetime import datetime, timedelta, timezone
from decimal import Decimal

import pytest
from pydantic import ValidationError

from host.models import (
    Address,
    Customer,
    Order,
    OrderLine,
    Product,
    StockLevel,
    Variant,
    validation_problems,
)


def order(**changes: object) -> dict[str, object]:
    return {
        "key": "1",
        "number": "1001",
        "created_at": "2026-03-01T12:00:00+01:00",
        "status": "paid",
        "currency": "EUR",
        "lines": [{"sku": "A", "quantity": "2", "unit_price": "9.95"}],
        **changes,
    }


def problems(model: type, data: dict[str, object], record: str = "order 1") -> list[str]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return validation_problems(info.value, record)


def test_valid_order_keeps_decimals_and_utc() -> None:
    parsed = Order.model_validate(order())
    assert parsed.lines[0].unit_price == Decimal("9.95")
    assert parsed.created_at == datetime(2026, 3, 1, 11, 0, tzinfo=timezone.utc)
    assert parsed.created_at.utcoffset() == timedelta(0)


def test_bad_country_names_the_field() -> None:
    lines = problems(Order, order(billing_address={"country": "Holland"}))
    assert lines == [
        "order 1: billing_address.country: 'Holland' is not an ISO 3166-1 alpha-2 country code"
    ]


def test_country_is_upper_cased() -> None:
    assert Address(country="nl").country == "NL"


def test_negative_quantity_names_the_field() -> None:
    data = order(lines=[{"sku": "A", "quantity": "-1", "unit_price": "1"}])
    (line,) = problems(Order, data)
    assert line.startswith("order 1: lines.0.quantity: ")
    assert "greater than or equal to 0" in line


def test_float_money_is_refused() -> None:
    (line,) = problems(OrderLine, {"quantity": 1, "unit_price": 0.1}, record="line")
    assert line.startswith("line: unit_price: ")
    assert "float" in line


def test_email_needs_an_at_and_is_lower_cased() -> None:
    (line,) = problems(Customer, {"key": "c1", "email": "jan.example.com"}, record="customer c1")
    assert line.startswith("customer c1: email: not an e-mail address")
    assert "jan.example.com" not in line  # personal data is not echoed
    assert Customer(key="c1", email=" Jan@Example.COM ").email == "jan@example.com"


def test_naive_datetime_is_refused() -> None:
    (line,) = problems(Order, order(created_at="2026-03-01T12:00:00"))
    assert line.startswith("order 1: created_at: ")


def test_unknown_currency_and_field() -> None:
    lines = problems(Order, order(currency="EURO", colour="red"))
    assert any(line.startswith("order 1: currency: 'EURO' is not an ISO 4217") for line in lines)
    assert any(line.startswith("order 1: colour: ") for line in lines)


def test_customer_kind() -> None:
    assert Customer(key="1", company="Acme BV").kind == "company"
    assert Customer(key="2", first_name="Jan").kind == "person"


def test_only_configurable_products_have_variants() -> None:
    data = {"key": "p", "sku": "P", "name": "Shirt", "variants": [{"sku": "P-M"}]}
    (line,) = problems(Product, data, record="product p")
    assert "only a configurable product has variants" in line
    configurable = Product.model_validate({**data, "type": "configurable"})
    assert configurable.variants == [Variant(sku="P-M")]


def test_stock_level_allows_oversold_on_hand() -> None:
    level = StockLevel(key="A", sku="A", on_hand=Decimal(-2), reserved=Decimal(1))
    assert level.available is None and level.quantity is None


def test_round_trip_through_json() -> None:
    original = Order.model_validate(
        order(customer={"key": "c", "email": "a@b.nl", "company": "Acme"})
    )
    again = Order.model_validate(original.model_dump(mode="json"))
    assert again == original
