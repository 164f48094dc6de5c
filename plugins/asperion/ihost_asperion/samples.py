"""Asperion records for tests and demos, in Asperion's own JSON (as the sandbox seeds them)."""

from __future__ import annotations

from typing import Any

STAMP = "2026-05-01T12:00:00"  # Amsterdam local time, as Asperion writes it
#: the settings of a connection to the sandbox's administration beyond its own
SETTINGS = {
    "business_booking_group": "BI",
    "payment_condition_id": 1,
    "sales_journal_id": "VK",
    "revenue_ledger_account_id": 8000,
    "shipping_ledger_account_id": 8020,
}


def article(code: str, price: float = 10.0, stock: int = 7, **changes: Any) -> dict[str, Any]:
    """An active article at `price` excluding 21 % VAT with `stock` in stock."""
    return {
        "articleCode": code,
        "description": f"Article {code}",
        "salesPrice": price,
        "vatCodeId": "H21",
        "salesTypeId": 1,
        "currentStock": stock,
        "dateLastChange": STAMP,
        **changes,
    }


def shipping_article() -> dict[str, Any]:
    """The article shipping costs are booked on (the connector's shipping_article)."""
    return article("VERZENDKOSTEN", price=4.09, stock=0, salesTypeId=2, description="Verzendkosten")
