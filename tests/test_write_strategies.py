"""Write strategies and steps (host.flows.writes, host.flows.Step) through real runs:
what each strategy commits when, and the orders flow's debtor written as a step."""

from __future__ import annotations

import json
import sqlite3
import subprocess
from pathlib import Path

import pytest
from flow_data import customer, order, product
from helpers import IHOST, actions, fail, run_flow, run_ihost, write_config
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


def events(tmp_path: Path) -> list[str]:
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        return [row[0] for row in db.execute("SELECT message FROM events") if row[0]]


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


# --- the orders flow's debtor step ------------------------------------------------------


def test_the_debtor_is_bound_and_reused_for_every_order_of_its_customer(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    anna = customer("c-anna", "anna@example.com")
    shop.seed(
        "orders",
        [
            order("1", "1001", customer_data=anna),
            order("2", "1002", customer_data=anna),
            order("3", "1003"),
        ],
    )
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 3
    debtors = bindings(tmp_path, "customers")
    assert set(debtors) == {"c-anna", "c-3"}
    orders = {o["number"]: o for o in erp.dump("orders")}
    assert orders["1001"]["debtor_id"] == orders["1002"]["debtor_id"] == debtors["c-anna"]
    # the second order of Anna used the binding: no look-up, no write of her debtor
    assert len(erp.calls_to("/api/customers/search")) == 2
    assert len(erp.calls_to("/api/customers", "POST")) == 2
    assert erp.calls_to("/api/customers/", "PUT") == []
    created = [m for m in events(tmp_path) if m.startswith("debtor ")]
    assert sorted(created) == sorted(
        f"debtor {debtors[key]} created for customer {key}" for key in ("c-anna", "c-3")
    )

    # a later run: the same customer is still bound; a changed one is updated where bound
    moved = customer("c-anna", "anna@example.com", phone="0612345678")
    shop.seed(
        "orders",
        [
            order("4", "1004", customer_data=anna, updated_at="2026-05-02T10:00:00+00:00"),
            order("5", "1005", customer_data=moved, updated_at="2026-05-03T10:00:00+00:00"),
        ],
    )
    result, again = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert {k: a for k, (a, _) in actions(again).items()}["4"] == "created"
    orders = {o["number"]: o for o in erp.dump("orders")}
    assert orders["1004"]["debtor_id"] == orders["1005"]["debtor_id"] == debtors["c-anna"]
    assert len(erp.calls_to("/api/customers/search")) == 2  # bound: never looked up again
    assert len(erp.calls_to("/api/customers", "POST")) == 2
    (update,) = erp.calls_to("/api/customers/", "PUT")
    assert update.path == f"/api/customers/{debtors['c-anna']}"
    assert [c["phone"] for c in erp.dump("customers") if c["key"] == "c-anna"] == ["0612345678"]


def test_a_debtor_that_fails_fails_its_order_naming_the_customer_and_field(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed(
        "orders",
        [
            order("1", "1001"),
            order("2", "1002"),
            order("3", "1003", customer_data={**customer("c-3", "-"), "email": None}),
        ],
    )
    fail(erp, "customers", "c-2", 422)
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders")
    assert result.code == 1
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "1": "created",
        "2": "failed",
        "3": "failed",
    }
    letters = json.loads(run_ihost("-c", str(path), "deadletters", "list", "--json").out)
    errors = {d["record_key"]: (d["entity"], d["error"]) for d in letters["dead_letters"]}
    assert set(errors) == {"2", "3"}  # the orders: retrying one writes its debtor first
    entity, error = errors["2"]
    assert entity == "orders"
    assert error.startswith(f"order 2: customer c-2: testerp rejected POST {erp.base_url}/api/")
    assert error.endswith("/api/customers (422): injected failure for c-2")
    assert errors["3"] == ("orders", "order 3: customer c-3 has no email to match a debtor on")
    assert {o["number"] for o in erp.dump("orders")} == {"1001"}
    assert set(bindings(tmp_path, "customers")) == {"c-1"}

    (letter,) = [d for d in letters["dead_letters"] if d["record_key"] == "2"]
    retried = run_ihost("-c", str(path), "deadletters", "retry", str(letter["id"]))
    assert retried.code == 0, retried.output
    assert set(bindings(tmp_path, "customers")) == {"c-1", "c-2"}
    assert {o["number"] for o in erp.dump("orders")} == {"1001", "1002"}


def test_a_dry_run_shows_the_debtor_each_order_would_get(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    anna = customer("c-anna", "anna@example.com")
    erp.seed("customers", [{"id": "D-7", "key": "old", "email": "piet@example.com"}])
    shop.seed(
        "orders",
        [
            order("1", "1001", customer_data=anna),
            order("2", "1002", customer_data=anna),
            order("3", "1003", customer_data=customer("c-piet", "piet@example.com")),
        ],
    )
    path = config(tmp_path, shop, erp)
    result, dry = run_flow(path, "orders", "--dry-run")
    assert result.code == 0, result.output

    def step(action: str, target_id: str, key: str = "c-anna") -> list[dict[str, str | None]]:
        return [
            {"step": "debtor", "key": key, "action": action, "target_id": target_id, "reason": None}
        ]

    planned = {a["key"]: a.get("steps") for a in dry["actions"]}
    assert planned == {
        "1": step("created", "(new debtor)"),
        "2": step("unchanged", "(new debtor)"),  # as the real run: the first one's debtor
        "3": step("updated", "D-7", "c-piet"),
    }
    assert erp.calls_to("/api/customers", "POST") == erp.calls_to("/api/customers/", "PUT") == []
    assert bindings(tmp_path, "customers") == {}
    shown = run_ihost("-c", str(path), "run", "orders", "--dry-run")  # the table says it too
    assert "debtor c-anna: created (new debtor)" in shown.out
    assert "debtor c-piet: updated D-7" in shown.out

    result, real = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert all("steps" not in a for a in real["actions"])  # the activity log has them
    debtors = bindings(tmp_path, "customers")
    assert debtors["c-piet"] == "D-7"
    assert {o["number"]: o["debtor_id"] for o in erp.dump("orders")} == {
        "1001": debtors["c-anna"],
        "1002": debtors["c-anna"],
        "1003": "D-7",
    }
