"""Throughput of the pieces every flow leans on: record validation and the store."""

from __future__ import annotations

import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from host.models import Order, StockLevel
from host.store import Store

ORDER = {
    "key": "1",
    "number": "1001",
    "created_at": "2026-03-01T12:00:00+01:00",
    "status": "paid",
    "currency": "EUR",
    "customer": {"key": "c1", "email": "Jan@Example.com", "company": "Acme BV"},
    "billing_address": {"street": "Dorpsstraat", "house_number": "1", "country": "nl"},
    "lines": [
        {"sku": f"SKU-{i}", "quantity": "2", "unit_price": "9.95", "tax_rate": "21"}
        for i in range(3)
    ],
    "shipping_lines": [{"method": "PostNL", "price": "4.95"}],
    "total": "34.80",
}


def each(items: list[dict[str, object]], validate: Callable[[dict[str, object]], object]) -> None:
    """Validate one record at a time, keeping none (as a streaming flow does)."""
    for item in items:
        validate(item)


def rate(count: int, work: Callable[[], None]) -> float:
    started = time.perf_counter()
    work()
    return count / (time.perf_counter() - started)


def run() -> list[tuple[str, float, str]]:
    rows: list[tuple[str, float, str]] = []
    levels = [{"key": str(i), "sku": f"SKU-{i}", "on_hand": str(i % 50)} for i in range(100_000)]
    rows.append(
        (
            "stock levels validated",
            rate(len(levels), lambda: each(levels, StockLevel.model_validate)),
            "records/s",
        )
    )
    rows.append(
        (
            "orders validated (3 lines)",
            rate(20_000, lambda: each([ORDER] * 20_000, Order.model_validate)),
            "records/s",
        )
    )
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(f"sqlite:///{Path(tmp) / 'bench.db'}")
        keys = [str(i) for i in range(100_000)]

        def write() -> None:
            for start in range(0, len(keys), 1000):
                chunk = keys[start : start + 1000]
                store.put_bindings("a", "b", "stock", ((k, k, "h" * 40, None) for k in chunk))

        def read() -> None:
            for start in range(0, len(keys), 1000):
                store.get_bindings("a", "b", "stock", keys[start : start + 1000])

        rows.append(("bindings written (batches of 1000)", rate(len(keys), write), "bindings/s"))
        rows.append(("bindings looked up (batches of 1000)", rate(len(keys), read), "bindings/s"))
        store.close()
    return rows
