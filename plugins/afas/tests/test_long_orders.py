"""Shopify orders are read whole: an order of 120 lines reaches AFAS with 120 lines, on a
first run (read with a bulk export) and on a later one (paged, its lines followed to the
end); and a first run pages when Shopify will not run the bulk export."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import actions, run_flow, write_config
from ihost_afas import sandbox as afas
from ihost_afas.sandbox import AfasSandbox, elements, objects
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox

SKUS = tuple(f"LONG-{i:03d}" for i in range(120))
STAMP = "2026-05-01T10:00:00Z"
FLOW = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"
"""


@pytest.fixture
def erp() -> Iterator[AfasSandbox]:
    with AfasSandbox() as running:
        running.seed(
            afas.ARTICLES,
            [
                {"ItemCode": s, "Description": s, "UnitId": "stk", "DateModified": STAMP}
                for s in SKUS
            ],
        )
        yield running


def booked_lines(erp: AfasSandbox) -> dict[str, int]:
    """{customer reference: number of article lines} of the sales orders AFAS received
    (the shipping costs are a line of their own)."""
    counted = {}
    for call in erp.dump("FbSales"):
        for order in elements(call["body"]["FbSales"]):
            reference = order["Fields"]["RfCs"]
            lines = objects(order, "FbSalesLines")
            counted[reference] = sum(line["Fields"].get("ItCd") in SKUS for line in lines)
    return counted


def test_an_order_of_120_lines_reaches_afas_whole_on_first_and_later_runs(
    tmp_path: Path, erp: AfasSandbox
) -> None:
    with ShopifySandbox(restore_rate=2000, api_version="2025-10") as shop:
        shop.seed("orders", [samples.order(2001, skus=SKUS)])
        config = write_config(tmp_path, {"shop": ("shopify", shop), "erp": ("afas", erp)}, FLOW)
        result, report = run_flow(config, "orders")
        assert result.code == 0, result.output
        assert "BulkRun" in shop.operations and "Orders" not in shop.operations
        shop.seed(
            "orders",
            [samples.order(2002, skus=SKUS, updated_at="2026-12-01T10:00:00Z")],
        )
        result, report = run_flow(config, "orders")
        assert result.code == 0, result.output
        assert actions(report)["2002"][0] == "created"
        # 30 lines with the order, the other 90 in one more query per order read
        assert shop.operations.count("OrderLines") == report["counts"]["read"]
    assert booked_lines(erp) == {"2001": 120, "2002": 120}


def test_a_first_run_pages_when_shopify_will_not_run_the_bulk_export(
    tmp_path: Path, erp: AfasSandbox
) -> None:
    with ShopifySandbox(restore_rate=2000, api_version="2025-10") as shop:
        shop.seed("orders", [samples.order(n, skus=SKUS[:3]) for n in range(3001, 3011)])
        # another bulk query of this app is running (before 2026-01: one at a time)
        shop.bulk.held.set()
        shop.bulk.start(
            "{ orders { edges { node { id lineItems { edges { node { sku } } } } } } }",
            None,
            "2025-10",
        )
        shop.seed("orders", [samples.order(3500, skus=SKUS)])
        config = write_config(tmp_path, {"shop": ("shopify", shop), "erp": ("afas", erp)}, FLOW)
        result, _ = run_flow(config, "orders")
        assert result.code == 0, result.output
        assert "Orders" in shop.operations
        shop.bulk.held.clear()
    assert booked_lines(erp)["3500"] == 120 and len(booked_lines(erp)) == 11


def test_a_failed_bulk_export_is_read_again_page_by_page(tmp_path: Path, erp: AfasSandbox) -> None:
    with ShopifySandbox(restore_rate=2000) as shop:
        shop.seed("orders", [samples.order(n, skus=SKUS[:2]) for n in range(4001, 4006)])
        shop.bulk.fail_after = 3  # Shopify's export fails part way (partialDataUrl)
        config = write_config(tmp_path, {"shop": ("shopify", shop), "erp": ("afas", erp)}, FLOW)
        result, report = run_flow(config, "orders")
        assert result.code == 0, result.output
        assert shop.operations[:1] == ["BulkRun"] and "Orders" in shop.operations
        assert report["counts"]["created"] == 5  # none lost, none twice
    assert sorted(booked_lines(erp)) == [str(n) for n in range(4001, 4006)]
