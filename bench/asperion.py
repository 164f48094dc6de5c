"""Asperion: an orders sync in (sales orders with their debtors) and an articles read out,
against the sandbox with a rate limit switched on.

Asperion publishes no rate limit, so the sandbox's is one of our choosing (RATE requests a
second per token), and the client is paced to it (`requests_per_second`). The least time a
run can take is its calls / RATE: the figures say how close the connector comes to that,
how many calls each record costs (Asperion has no batch endpoints: an order is one create,
plus the existence checks of the seed rules), and whether a 429 reached the user.
"""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path
from typing import Any

from host.config import load_config
from host.plugins import discover
from host.runner import Runner
from host.tokens import KEY_VARIABLE, new_key

RATE = 20  # requests per second (Asperion documents no limit: this is ours)
ORDERS, CUSTOMERS = 100, 40
ARTICLES = 5_000


def _v1_calls(sandbox: Any) -> int:
    return sum(1 for c in sandbox.calls if c.path.lower().startswith("/v1/"))


def _orders(tmp: Path) -> list[tuple[str, float, str]]:
    from ihost_asperion.samples import SETTINGS, article, shipping_article
    from ihost_asperion.sandbox import AsperionSandbox
    from ihost_testconnectors.sandbox import RecordSandbox

    from host.authorize import authorize_at_sandbox
    from host.demo import toml_value

    with AsperionSandbox(rate_limit=(RATE, 1.0)) as erp, RecordSandbox() as shop:
        erp.seed("articles", [article(f"SKU-{i}") for i in range(20)] + [shipping_article()])
        shop.seed("orders", [_order(n) for n in range(ORDERS)])
        settings = {**erp.connection_settings(), **SETTINGS, "requests_per_second": RATE}
        path = tmp / "ihost.toml"
        lines = [f'[store]\nurl = "sqlite:///{tmp / "ihost.db"}"']
        for name, plugin, values in (
            ("shop", "testshop", shop.connection_settings()),
            ("erp", "asperion", settings),
        ):
            lines += [f"[connections.{name}]", f'plugin = "{plugin}"']
            lines += [f"{k} = {toml_value(v)}" for k, v in values.items()]
        lines.append('[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"')
        path.write_text("\n".join(lines) + "\n")
        registry = discover()
        config = load_config(path, registry)
        with config.connect("erp", registry) as conn:
            authorize_at_sandbox(conn.hook.oauth2_flow())
        before = _v1_calls(erp)
        started = time.perf_counter()
        report = Runner(config, "orders", registry).run()
        elapsed = time.perf_counter() - started
        calls = _v1_calls(erp) - before
        limited = sum(1 for c in erp.calls if c.status == 429)
        if report.error or report.counts["created"] != ORDERS:
            raise RuntimeError(f"the orders sync failed: {report.error or report.counts}")
    least = calls / RATE
    return [
        (f"asperion orders sync, {ORDERS} sales orders at {RATE} requests/s", elapsed, "s"),
        ("  least time the limit allows for its calls", least, "s"),
        ("  elapsed / least, in hundredths", elapsed / least * 100, "/100"),
        ("  calls per order (checks, debtor, create)", calls / ORDERS, ""),
        ("  429 answers (waited out, none shown)", limited, ""),
    ]


def _order(n: int) -> dict[str, Any]:
    """A paid order of the test shop: two articles and shipping, by one of CUSTOMERS
    customers (every other one a company)."""
    who = n % CUSTOMERS
    address = {"street": "Dorpsstraat", "house_number": str(n), "postcode": "1234 AB"}
    address |= {"city": "Utrecht", "country": "NL"}
    return {
        "id": f"o{n}",
        "key": f"o{n}",
        "number": f"B{n:05d}",
        "created_at": "2026-05-01T09:00:00+00:00",
        "updated_at": f"2026-05-01T10:{n // 60 % 60:02d}:{n % 60:02d}+00:00",
        "status": "paid",
        "currency": "EUR",
        "customer": {
            "key": f"c{who}",
            "email": f"buyer{who}@example.com",
            "company": f"Company {who} BV" if who % 2 else None,
            "first_name": "Jan",
            "last_name": f"Jansen {who}",
            "billing_address": address,
        },
        "shipping_address": address,
        "lines": [
            {"sku": f"SKU-{k}", "quantity": "1", "unit_price": "10.00", "tax_rate": "21"}
            for k in (n % 20, (n + 7) % 20)
        ],
        "shipping_lines": [{"method": "PostNL", "price": "4.95", "tax_rate": "21"}],
        "payment_method": "ideal",
    }


def _articles() -> list[tuple[str, float, str]]:
    from ihost_asperion.plugin import AsperionPlugin, AsperionSettings
    from ihost_asperion.samples import SETTINGS, article
    from ihost_asperion.sandbox import AsperionSandbox

    from host.auth import ConnectorContext
    from host.authorize import authorize_at_sandbox

    with AsperionSandbox(rate_limit=(RATE, 1.0)) as erp:
        erp.seed("articles", [article(f"A-{i:05d}") for i in range(ARTICLES)])
        settings = AsperionSettings(
            **erp.connection_settings(), **SETTINGS, requests_per_second=RATE
        )
        plugin = AsperionPlugin(settings, context=ConnectorContext(connection="bench"))
        try:
            authorize_at_sandbox(plugin.auth)
            before = _v1_calls(erp)
            started = time.perf_counter()
            read = sum(1 for _ in plugin.fetch_products(since=None))
            elapsed = time.perf_counter() - started
            calls = _v1_calls(erp) - before
        finally:
            plugin.close()
    if read != ARTICLES:
        raise RuntimeError(f"the articles read gave {read} of {ARTICLES}")
    least = calls / RATE
    return [
        (f"asperion articles read, {ARTICLES:,} at {RATE} requests/s", elapsed, "s"),
        ("  least time the limit allows for its calls", least, "s"),
        ("  elapsed / least, in hundredths", elapsed / least * 100, "/100"),
        ("  calls (pages of 100, and the VAT codes)", calls, ""),
    ]


def main() -> list[tuple[str, float, str]]:
    os.environ.setdefault(KEY_VARIABLE, new_key())  # the tokens of the runs are sealed with it
    with tempfile.TemporaryDirectory() as tmp:
        return _orders(Path(tmp)) + _articles()


if __name__ == "__main__":
    from bench.__main__ import show

    show(main())
