"""Write strategies (host.flows.writes) through real runs: what each commits when."""

from __future__ import annotations

import sqlite3
import subprocess
from pathlib import Path

import pytest
from flow_data import customer, product
from helpers import IHOST, fail, write_config
from ihost_testconnectors.sandbox import RecordSandbox
from test_daemon import wait_for

from host.flows.writes import Batches

ORDERS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"
[flows.orders.settings]
retry_backoff = 0.05
"""
STAMP = "2026-05-01T10:00:00+00:00"


def config(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, flows: str = ORDERS) -> Path:
    return write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, flows)


def bindings(tmp_path: Path, entity: str) -> dict[str, str]:
    """{source key: target id} of one entity's bindings in the run's store."""
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        rows = db.execute(
            "SELECT source_key, target_id FROM bindings WHERE entity = ?", (entity,)
        ).fetchall()
    return dict(rows)


# --- strategies ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("flow", "entity", "keys", "bound"),
    [
        # CommitEach: a debtor is bound and committed before the next is written
        ("customers", "customers", ["K1", "K2", "K3"], {"K1", "K2"}),
        # CommitPerChunk: products are bound with their chunk (find_products finds the rest)
        ("products", "products", ["p-A", "p-B", "p-C"], set()),
    ],
)
def test_what_a_crash_during_the_third_write_leaves_bound(
    tmp_path: Path,
    shop: RecordSandbox,
    erp: RecordSandbox,
    flow: str,
    entity: str,
    keys: list[str],
    bound: set[str],
) -> None:
    if entity == "customers":
        rows = [{**customer(k, f"{k.lower()}@example.com"), "id": k} for k in keys]
    else:
        rows = [{**product(k.removeprefix("p-")), "id": k} for k in keys]
    erp.seed(entity, [{**row, "updated_at": STAMP} for row in rows])
    fail(shop, entity, keys[2], 0, delay=5)  # the third write waits; the run is killed then
    flows = f'[flows.{flow}]\nkind = "{flow}"\nsource = "erp"\ntarget = "shop"\n'
    process = subprocess.Popen([IHOST, "-c", str(config(tmp_path, shop, erp, flows)), "run", flow])
    try:
        assert wait_for(lambda: shop.failures[(entity, keys[2])]["times"] == 0, seconds=60)
    finally:
        process.kill()
        process.wait()
    assert {r["key"] for r in shop.dump(entity)} >= set(keys[:2])  # both written before
    assert set(bindings(tmp_path, entity)) == bound


def test_a_batch_holds_at_least_one_unit() -> None:
    assert Batches(1).size == 1
    with pytest.raises(ValueError, match="at least one unit, not 0"):
        Batches(0)
