"""Feeddex against its sandbox with the rate limit on (10 requests a second per token,
bursts of 10; UNCONFIRMED that Feeddex has one: the sandbox's proposal) and the connector
keeping to it (requests_per_second = 10).

The main write: ORDERS new paid orders of the test shop entered as transactions, each for a
new customer, through the orders flow. The connector enters one transaction a call (the
proposed API takes arrays of up to 100; the connector does not batch them), and makes four
calls an order: the transaction look-up by externalId (the existence check), the customer
look-up by e-mail, the new customer, the transaction. The least time the limit allows:
the calls less the burst of 10, at 10 a second.

The main read: the feedback of TRANSACTIONS transactions over 3 months (this month and the
two before; feedbackData has no paging: one call a month, whatever the volume). Read twice:
transactions ihost entered (their order numbers in the ledger: 3 calls), and LOOKED_UP
entered by hand (each one's order number asked once: GET /v1/transactions/ID).
"""

from __future__ import annotations

import tempfile
import time
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

ORDERS = 150
TRANSACTIONS = 900
LOOKED_UP = 100
MONTHS = 3
RATE, BURST = 10.0, 10
LEAST = "  least time the limit allows (calls less the burst, 10 a second)"


def main() -> list[tuple[str, float, str]]:
    return _write() + _read()


def _least(calls: int) -> float:
    return max(0, calls - BURST) / RATE


def _write() -> list[tuple[str, float, str]]:
    from ihost_feeddex.sandbox import FeeddexSandbox
    from ihost_testconnectors.sandbox import RecordSandbox

    from host.config import load_config
    from host.demo import toml_value
    from host.plugins import discover
    from host.runner import Runner

    created = datetime.now(timezone.utc).isoformat()
    orders = [
        {
            "id": f"o{n}",
            "key": f"o{n}",
            "number": f"{100000 + n}",
            "created_at": created,
            "updated_at": created,
            "status": "paid",
            "currency": "EUR",
            "customer": {
                "key": f"c{n}",
                "email": f"klant{n}@example.nl",
                "first_name": "Eva",
                "last_name": f"Klant {n}",
            },
            "lines": [{"sku": "SKU-1", "name": "Mok", "quantity": "1", "unit_price": "9.95"}],
            "total": "9.95",
        }
        for n in range(ORDERS)
    ]
    with (
        RecordSandbox() as shop,
        FeeddexSandbox(rate_limit=True) as feeddex,
        tempfile.TemporaryDirectory() as tmp,
    ):
        shop.seed("orders", orders)
        settings: dict[str, Any] = {
            **feeddex.connection_settings(),
            "requests_per_second": RATE,
        }
        lines = [f'[store]\nurl = "sqlite:///{Path(tmp) / "ihost.db"}"']
        for name, plugin, given in (
            ("shop", "testshop", shop.connection_settings()),
            ("fx", "feeddex", settings),
        ):
            lines += [f"[connections.{name}]", f'plugin = "{plugin}"']
            lines += [f"{k} = {toml_value(v)}" for k, v in given.items()]
        lines.append('[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "fx"')
        path = Path(tmp) / "ihost.toml"
        path.write_text("\n".join(lines) + "\n")
        registry = discover()
        config = load_config(path, registry)
        started = time.perf_counter()
        report = Runner(config, "orders", registry).run()
        elapsed = time.perf_counter() - started
        calls = len(feeddex.calls_to("/v1/"))
        posts = len(feeddex.calls_to("/v1/transactions", "POST"))
        entered = len(feeddex.dump("transactions"))
        throttled = feeddex.throttled
    if report.error or report.counts["created"] != ORDERS or entered != ORDERS:
        raise RuntimeError(f"the orders sync failed: {report.error or report.counts}")
    least = _least(calls)
    return [
        (f"feeddex orders -> transactions, {ORDERS} new orders at 10 requests/s", elapsed, "s"),
        (LEAST, least, "s"),
        ("  elapsed / least, in hundredths", elapsed / least * 100, "/100"),
        ("  calls in all (4 an order: 2 look-ups, the customer, the transaction)", calls, ""),
        ("  transaction POSTs (one a call; the API would take 100: not batched)", posts, ""),
        ("  429 answers (waited out, none shown)", throttled, ""),
    ]


def _month(today: date, back: int) -> date:
    index = today.year * 12 + today.month - 1 - back
    return date(index // 12, index % 12 + 1, 1)


def _read() -> list[tuple[str, float, str]]:
    from ihost_feeddex.plugin import FeeddexPlugin, FeeddexSettings
    from ihost_feeddex.sandbox import FeeddexSandbox

    from host.auth import ConnectorContext
    from host.models import Feedback

    today = datetime.now(timezone.utc)
    seeded, entered = [], {}
    for n in range(TRANSACTIONS):
        month = _month(today.date(), n % MONTHS)
        sent = datetime.combine(month, datetime.min.time(), timezone.utc) + timedelta(hours=n % 20)
        sent = min(sent, today - timedelta(days=3))
        seeded.append(
            {
                "id": n + 1,
                "externalId": f"F{n:05d}",
                "date": month.isoformat(),
                "unitId": 1,
                "customerCode": f"c{n}",
                "customer": {"email": f"klant{n}@example.nl"},
                "sentOn": f"{sent:%Y-%m-%dT%H:%M:%S}.000Z",
            }
        )
        entered[f"tx:{n + 1}"] = f"F{n:05d}"  # as the ledger keeps what ihost entered
    by_hand = dict(list(entered.items())[LOOKED_UP:])  # the first LOOKED_UP not in it
    rows = []
    with FeeddexSandbox(rate_limit=True) as feeddex:
        feeddex.seed("transactions", seeded)
        settings = FeeddexSettings(
            **feeddex.connection_settings(),
            requests_per_second=RATE,
            feedback_history_months=MONTHS - 1,
        )
        for known in (entered, by_hand):
            context = ConnectorContext(connection="bench")
            context.ledger.put(known)
            plugin = FeeddexPlugin(settings, context)
            with feeddex.lock:
                feeddex.calls.clear()
            try:
                started = time.perf_counter()
                read = list(plugin.fetch_feedback(since=None))
                elapsed = time.perf_counter() - started
            finally:
                plugin.close()
            good = [f for f in read if isinstance(f, Feedback) and f.order_number]
            if len(good) != TRANSACTIONS:
                raise RuntimeError(f"the feedback read gave {len(good)} of {TRANSACTIONS}")
            calls = len(feeddex.calls_to("/v1/"))
            lookups = len(feeddex.calls_to("/v1/transactions/", "GET"))
            if known is entered:
                rows += [
                    (
                        f"feeddex feedback read, {TRANSACTIONS} transactions over {MONTHS} "
                        "months, entered by ihost (order numbers in the ledger)",
                        elapsed * 1000,
                        "ms",
                    ),
                    (f"  calls ({MONTHS}: one a month, no paging)", calls, ""),
                ]
            else:
                least = _least(calls)
                rows += [
                    (
                        f"feeddex feedback read, the same with {LOOKED_UP} entered by hand "
                        "(order number asked once each)",
                        elapsed,
                        "s",
                    ),
                    (LEAST, least, "s"),
                    ("  elapsed / least, in hundredths", elapsed / least * 100, "/100"),
                    (f"  calls ({MONTHS} months and {LOOKED_UP} look-ups)", calls, ""),
                    ("  order-number look-ups", lookups, ""),
                ]
        rows.append(("  429 answers in both reads (waited out, none shown)", feeddex.throttled, ""))
    return rows


if __name__ == "__main__":
    from bench.__main__ import show

    show(main())
