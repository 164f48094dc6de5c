"""Lightspeed: a full read of 5,000 items and of their stock (ItemShops) at the documented
bucket (90 drips, 1 a second, one register), with the burst limiter on, against the sandbox.

The least time the bucket allows: what the reads are charged, less the 90 the bucket holds
at the start, at one drip a second. The figures say how close the connector comes to that,
and whether a 429 reached the user.
"""

from __future__ import annotations

import os
import time

ITEMS = 5_000
SIZE, DRIP = 90, 1.0


def main() -> list[tuple[str, float, str]]:
    from ihost_lightspeed.plugin import LightspeedPlugin, LightspeedSettings
    from ihost_lightspeed.sandbox import LightspeedSandbox

    from host.auth import ConnectorContext
    from host.authorize import authorize_at_sandbox
    from host.tokens import KEY_VARIABLE, new_key

    os.environ.setdefault(KEY_VARIABLE, new_key())
    with LightspeedSandbox() as pos:
        pos.seed(
            "items",
            [
                {
                    "description": f"Item {n}",
                    "customSku": f"SKU-{n:05d}",
                    "Prices": {"ItemPrice": {"amount": 9.95}},
                    "ItemShops": {"ItemShop": {"shopID": 1, "qoh": n % 40}},
                }
                for n in range(ITEMS)
            ],
        )
        settings = LightspeedSettings(**pos.connection_settings())
        plugin = LightspeedPlugin(settings, context=ConnectorContext(connection="bench"))
        try:
            authorize_at_sandbox(plugin.auth)
            before = pos.charged
            started = time.perf_counter()
            products = sum(1 for _ in plugin.fetch_products(since=None))
            levels = sum(1 for _ in plugin.fetch_stock(since=None))
            elapsed = time.perf_counter() - started
            charged, throttled = pos.charged - before, pos.throttled
        finally:
            plugin.close()
    if (products, levels) != (ITEMS, ITEMS):
        raise RuntimeError(f"read {products} products and {levels} levels of {ITEMS}")
    least = max(0.0, charged - SIZE) / DRIP
    return [
        (f"lightspeed full read, {ITEMS:,} items and their stock, bucket 90 at 1/s", elapsed, "s"),
        ("  least time the bucket allows for the drips charged", least, "s"),
        ("  elapsed / least, in hundredths", elapsed / least * 100 if least else 0, "/100"),
        ("  drips charged", charged, ""),
        ("  429 answers (waited out, none shown)", throttled, ""),
    ]


if __name__ == "__main__":
    from bench.__main__ import show

    show(main())
