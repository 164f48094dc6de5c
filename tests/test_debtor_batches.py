"""New debtors created in batches (create_debtors, capabilities.debtor_batch): the customers
flow from testshop to testerp, whose sandbox takes at most 50 customers a batch call."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from flow_data import customer
from helpers import actions, fail, run_flow, run_ihost, write_config
from ihost_testconnectors.plugin import ErpPlugin
from ihost_testconnectors.sandbox import RecordSandbox

from host.capabilities import Capabilities, hook_mismatches

FLOW = """
[flows.customers]
kind = "customers"
source = "shop"
target = "erp"
[flows.customers.settings]
retry_backoff = 0.05
"""


def config(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox) -> Path:
    return write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, FLOW)


def customers(count: int) -> list[dict[str, Any]]:
    return [customer(f"c{i:03d}", f"person{i}@example.com") for i in range(count)]


def bindings(tmp_path: Path) -> dict[str, str]:
    """{customer key: debtor id} as the store binds them."""
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        rows = db.execute("SELECT source_key, target_id FROM bindings WHERE entity = 'customers'")
        return dict(rows.fetchall())


def posts(erp: RecordSandbox, path: str) -> int:
    return sum(1 for c in erp.calls if c.method == "POST" and c.path == path)


def debtors(erp: RecordSandbox) -> dict[str, str]:
    """{customer key: debtor id} of the debtors in the ERP, checking each is there once."""
    keys = [d["key"] for d in erp.dump("customers")]
    assert len(keys) == len(set(keys)), sorted(keys)
    return {d["key"]: d["id"] for d in erp.dump("customers")}


def test_new_customers_are_created_fifty_at_a_time(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("customers", customers(120))
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "customers")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 120 and report["counts"]["failed"] == 0
    assert erp.batches == [50, 50, 20]
    assert posts(erp, "/api/customers/batch") == 3 and posts(erp, "/api/customers") == 0
    assert len(erp.calls_to("/api/customers/search")) == 120  # each looked up once
    made = debtors(erp)
    assert len(made) == 120 and bindings(tmp_path) == made
    assert {key: target for key, (_, target) in actions(report).items()} == made

    calls = len(erp.calls)
    _, again = run_flow(path, "customers", "--full")
    assert again["counts"]["unchanged"] == 120 and again["counts"]["created"] == 0
    assert len(erp.calls) == calls  # nothing looked up, nothing written
    assert erp.batches == [50, 50, 20]


def test_found_debtors_are_updated_one_at_a_time_and_new_ones_batched(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("customers", customers(10))
    erp.seed(
        "customers",
        [
            {"id": "D-1", "email": "PERSON1@example.com"},  # found in any case
            {"id": "D-4", "email": "person4@example.com"},
            {"id": "D-8", "email": "person8@example.com"},
        ],
    )
    result, report = run_flow(config(tmp_path, shop, erp), "customers")
    assert result.code == 0, result.output
    done = actions(report)
    assert {k: v for k, v in done.items() if v[0] == "updated"} == {
        "c001": ("updated", "D-1"),
        "c004": ("updated", "D-4"),
        "c008": ("updated", "D-8"),
    }
    assert report["counts"]["created"] == 7 and erp.batches == [7]
    assert len([c for c in erp.calls if c.method == "PUT"]) == 3
    assert posts(erp, "/api/customers") == 0
    assert len(erp.calls_to("/api/customers/search")) == 10
    assert len(erp.dump("customers")) == 10
    assert bindings(tmp_path) == {key: target for key, (_, target) in done.items()}


def test_two_customers_with_one_email_in_a_batch_become_one_debtor(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed(
        "customers",
        [
            customer("c1", "anna@example.com"),
            customer("c2", "bert@example.com"),
            customer("c3", "Anna@Example.com"),  # Anna again, waiting for c1's batch
            customer("c4", "carl@example.com"),
        ],
    )
    result, report = run_flow(config(tmp_path, shop, erp), "customers")
    assert result.code == 0, result.output
    done = actions(report)
    assert erp.batches == [3]
    assert sorted(d["email"] for d in erp.dump("customers")) == [
        "anna@example.com",
        "bert@example.com",
        "carl@example.com",
    ]
    assert done["c1"][0] == "created"
    assert done["c3"] == ("updated", done["c1"][1])  # found once c1's batch was written
    assert bindings(tmp_path)["c3"] == bindings(tmp_path)["c1"]


def test_a_refused_batch_is_written_one_at_a_time_and_the_bad_customer_fails_alone(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("customers", customers(5))
    # refused in the batch (nothing made), and again when written on its own
    fail(erp, "customers", "c002", 422, times=2, message="vat_number: not a valid VAT number")
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "customers")
    assert result.code == 1, result.output
    done = actions(report)
    assert done.pop("c002")[0] == "failed"
    assert {action for action, _ in done.values()} == {"created"}
    assert erp.batches == [] and posts(erp, "/api/customers/batch") == 1
    assert posts(erp, "/api/customers") == 5  # one at a time: four made, c002 refused
    assert sorted(debtors(erp)) == ["c000", "c001", "c003", "c004"]
    letters = json.loads(run_ihost("-c", str(path), "deadletters", "--json").out)
    (letter,) = letters["dead_letters"]
    assert letter["record_key"] == "c002" and "not a valid VAT number" in letter["error"]

    result, again = run_flow(path, "customers", "--full")  # the remote takes it now
    assert result.code == 0, result.output
    assert actions(again)["c002"][0] == "created" and again["counts"]["unchanged"] == 4
    assert erp.batches == [1] and len(debtors(erp)) == 5
    assert json.loads(run_ihost("-c", str(path), "deadletters", "--json").out)["dead_letters"] == []


@pytest.mark.parametrize("count", [1, 5])
def test_a_batch_whose_answer_was_lost_creates_no_customer_twice(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, count: int
) -> None:
    shop.seed("customers", customers(count))
    lost = erp.inject("POST", "/api/customers/batch", "lost")
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "customers")
    assert result.code == 0, result.output
    assert lost.hits == 1 and erp.batches == [count]  # made, its answer lost
    assert posts(erp, "/api/customers/batch") == 1 and posts(erp, "/api/customers") == 0
    made = debtors(erp)  # each once: found, not created again
    assert len(made) == count
    assert actions(report) == {key: ("created", target) for key, target in made.items()}
    assert bindings(tmp_path) == made


def test_a_dry_run_creates_no_batch_and_reports_as_one_at_a_time(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, monkeypatch: pytest.MonkeyPatch
) -> None:
    shop.seed("customers", customers(60))
    erp.seed("customers", [{"id": "D-7", "email": "person7@example.com"}])
    path = config(tmp_path, shop, erp)
    result, batched = run_flow(path, "customers", "--dry-run")
    assert result.code == 0, result.output
    assert [c for c in erp.calls if c.method != "GET"] == []  # nothing written, no batch
    assert erp.batches == []

    one_by_one = ErpPlugin.capabilities.model_copy(update={"debtor_batch": 1})
    monkeypatch.setattr(ErpPlugin, "capabilities", one_by_one)  # the flow does not batch
    _, single = run_flow(path, "customers", "--dry-run")

    def by_key(report: dict[str, Any]) -> list[dict[str, Any]]:
        return sorted(report["actions"], key=lambda action: action["key"])

    assert by_key(batched) == by_key(single)  # the same lines, in another order
    assert batched["counts"] == single["counts"]
    assert actions(batched)["c007"] == ("updated", "D-7")
    assert batched["counts"]["created"] == 59


def test_create_debtors_goes_with_a_debtor_batch_above_one() -> None:
    hooks = {"check_connection", "find_debtor", "upsert_debtor"}
    batching = Capabilities(writes={"customers"}, debtor_batch=50)
    assert hook_mismatches(batching, hooks) == [
        "declares debtor_batch but does not implement create_debtors"
    ]
    assert hook_mismatches(batching, hooks | {"create_debtors"}) == []
    assert hook_mismatches(Capabilities(writes={"customers"}), hooks | {"create_debtors"}) == [
        "implements create_debtors but declares no debtor_batch above 1"
    ]
    assert "declares debtor_batch but does not write customers" in hook_mismatches(
        Capabilities(debtor_batch=50), {"check_connection", "create_debtors"}
    )
    assert "create_debtors" in batching.required_hooks()
