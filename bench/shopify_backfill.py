"""A first sync of 10,000 Shopify orders (3 lines each) on a Standard plan (100 points/s).

Read with a bulk export, as the connector does on a first or --full run, against the
sandbox at the real restore rate: the figure is the wall time. Read page by page, as a
later run does, the same orders would wait on the bucket for (points charged - 2,000)
/ 100 seconds: that figure is computed from the points a paged read of 1,000 of them is
charged (at a fast restore rate, so the benchmark does not take an hour), times ten;
the stock benchmark shows the client's pacing comes within a few percent of that least
time.
"""

from __future__ import annotations

import time

ORDERS = 10_000
SAMPLE = 1_000  # orders read page by page; the points scale with the orders
BUCKET, RESTORE = 2_000, 100


def _read_all(shop: object, bulk: bool) -> tuple[int, int]:
    """(orders, lines) read through the connector's fetch_orders on a first run."""
    from ihost_shopify.plugin import ShopifyPlugin, ShopifySettings

    settings = ShopifySettings(
        **shop.connection_settings(),  # type: ignore[attr-defined]
        bulk_backfill=bulk,
        bulk_poll_seconds=0.5,
    )
    plugin = ShopifyPlugin(settings)
    orders = lines = 0
    try:
        for order in plugin.fetch_orders(since=None, statuses=None):
            orders += 1
            lines += len(order.lines)
    finally:
        plugin.close()
    return orders, lines


def main() -> list[tuple[str, float, str]]:
    from ihost_shopify import samples
    from ihost_shopify.sandbox import ShopifySandbox

    seeded = [
        samples.order(n, skus=(f"A-{n % 97}", f"B-{n % 89}", f"C-{n % 83}"))
        for n in range(1, ORDERS + 1)
    ]
    with ShopifySandbox(bucket_size=BUCKET, restore_rate=RESTORE) as shop:
        shop.seed("orders", seeded)
        started = time.perf_counter()
        orders, lines = _read_all(shop, bulk=True)
        bulk_seconds = time.perf_counter() - started
    if (orders, lines) != (ORDERS, 3 * ORDERS):
        raise RuntimeError(f"the bulk read gave {orders} orders, {lines} lines")
    with ShopifySandbox(bucket_size=BUCKET, restore_rate=1_000_000) as shop:
        shop.seed("orders", seeded[:SAMPLE])
        orders, lines = _read_all(shop, bulk=False)
        paged_points = shop.charged * ORDERS // SAMPLE
    if (orders, lines) != (SAMPLE, 3 * SAMPLE):
        raise RuntimeError(f"the paged read gave {orders} orders, {lines} lines")
    paged_seconds = max(paged_points - BUCKET, 0) / RESTORE
    return [
        ("shopify first sync, 10,000 orders at 100 points/s, bulk export", bulk_seconds, "s"),
        ("  the same read page by page (least time for its points)", paged_seconds, "s"),
        (
            "  bulk export, elapsed / paged least time, in hundredths",
            bulk_seconds / paged_seconds * 100,
            "/100",
        ),
        ("  points a paged read is charged", paged_points, ""),
    ]
