"""BuchhaltungsButler at the documented limits (100 requests a minute per api_key, one batch
call per 5 s, 50 a batch), against the sandbox with its limits on: 500 new debtors written,
and 200 paid outbound receipts read as orders.

The least time: the batch calls are ceil(500 / 50) = 10, five seconds apart, so 45 s after
the first; the other calls (the debtor index) fit in the minute's 100. The figures say how
close the connector comes to that, and whether the remote refused a request (code 15).
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path
from typing import Any

from host.config import load_config
from host.plugins import discover
from host.runner import Runner

DEBTORS = 500
RECEIPTS = 200
BATCH, SPACING, PER_MINUTE = 50, 5.0, 100


def _customer(n: int) -> dict[str, Any]:
    return {
        "key": f"C{n:05d}",
        "email": f"kunde{n}@example.de",
        "company": f"Firma {n} GmbH" if n % 3 == 0 else None,
        "first_name": "Eva",
        "last_name": f"Kunde {n}",
        "billing_address": {"street": "Ringstraße", "house_number": str(n), "postcode": "10115"}
        | {"city": "Berlin", "country": "DE"},
        "updated_at": "2026-05-01T10:00:00+00:00",
    }


def main() -> list[tuple[str, float, str]]:
    return _debtors() + _receipts()


def _receipts() -> list[tuple[str, float, str]]:
    """RECEIPTS paid outbound receipts read as orders: the list in pages of 500, and one
    detail call each for its VAT breakdown (receipts have no line items)."""
    from ihost_buchhaltungsbutler.plugin import (
        BuchhaltungsButlerPlugin,
        BuchhaltungsButlerSettings,
    )
    from ihost_buchhaltungsbutler.sandbox import BuchhaltungsButlerSandbox

    seeded = [
        {
            "type": "invoice outbound",
            "date": "2026-05-01",
            "counterparty": f"Kunde {n}",
            "invoicenumber": f"RE-{n:05d}",
            "amount": "119.00",
            "amount_paid": "119.00",
            "currency": "EUR",
            "vat": [{"rate": "19.00", "net": "100.00", "vat": "19.00"}],
        }
        for n in range(RECEIPTS)
    ]
    with BuchhaltungsButlerSandbox(rate_limit=True) as books:
        books.seed("receipts", seeded)
        plugin = BuchhaltungsButlerPlugin(BuchhaltungsButlerSettings(**books.connection_settings()))
        try:
            started = time.perf_counter()
            read = sum(1 for _ in plugin.fetch_orders(since=None, statuses=["paid"]))
            elapsed = time.perf_counter() - started
        finally:
            plugin.close()
        calls, refused = books.requests, books.refused
    if read != RECEIPTS:
        raise RuntimeError(f"the receipts read gave {read} of {RECEIPTS}")
    least = max(0, calls - PER_MINUTE) * 60 / PER_MINUTE
    return [
        (f"buchhaltungsbutler orders read, {RECEIPTS} receipts at 100/min", elapsed, "s"),
        ("  least time the limit allows (a detail call per receipt)", least, "s"),
        ("  elapsed / least, in hundredths", elapsed / least * 100, "/100"),
        ("  calls in all", calls, ""),
        ("  code 15 refusals (waited out, none shown)", refused, ""),
    ]


def _debtors() -> list[tuple[str, float, str]]:
    from ihost_buchhaltungsbutler.sandbox import BuchhaltungsButlerSandbox
    from ihost_testconnectors.sandbox import RecordSandbox

    from host.demo import toml_value

    with (
        RecordSandbox() as erp,
        BuchhaltungsButlerSandbox(rate_limit=True) as books,
        tempfile.TemporaryDirectory() as tmp,
    ):
        erp.seed("customers", [_customer(n) for n in range(DEBTORS)])
        lines = [f'[store]\nurl = "sqlite:///{Path(tmp) / "ihost.db"}"']
        for name, plugin, box in (("erp", "testerp", erp), ("books", "buchhaltungsbutler", books)):
            lines += [f"[connections.{name}]", f'plugin = "{plugin}"']
            lines += [f"{k} = {toml_value(v)}" for k, v in box.connection_settings().items()]
        lines.append('[flows.customers]\nkind = "customers"\nsource = "erp"\ntarget = "books"')
        path = Path(tmp) / "ihost.toml"
        path.write_text("\n".join(lines) + "\n")
        registry = discover()
        config = load_config(path, registry)
        started = time.perf_counter()
        report = Runner(config, "customers", registry).run()
        elapsed = time.perf_counter() - started
        batches = sum(1 for c in books.calls if c.path.endswith("/add-batch/debtors"))
        calls = sum(1 for c in books.calls if c.path.startswith("/api/v1/"))
        refused = books.refused
        if report.error or report.counts["created"] != DEBTORS:
            raise RuntimeError(f"the debtors sync failed: {report.error or report.counts}")
    least = (
        max(0, -(-DEBTORS // BATCH) - 1) * SPACING + max(0, calls - PER_MINUTE) * 60 / PER_MINUTE
    )
    return [
        (f"buchhaltungsbutler debtors sync, {DEBTORS} new, batches of {BATCH}", elapsed, "s"),
        ("  least time the limits allow (a batch per 5 s, 100 calls/min)", least, "s"),
        ("  elapsed / least, in hundredths", elapsed / least * 100, "/100"),
        ("  batch calls (ceil(500 / 50) = 10)", batches, ""),
        ("  calls in all", calls, ""),
        ("  code 15 refusals (waited out, none shown)", refused, ""),
    ]


if __name__ == "__main__":
    from bench.__main__ import show

    show(main())
