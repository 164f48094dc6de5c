"""The feedback flow via the CLI: a feedback service's answers kept with the order in the
target, found through the orders bindings or by number, written again as they move on."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from flow_data import order
from helpers import actions, dead_letters, run_flow, write_config
from ihost_testconnectors.sandbox import RecordSandbox

FLOWS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"

[flows.feedback]
kind = "feedback"
source = "shop"
target = "erp"
"""


def feedback(key: str, **fields: Any) -> dict[str, Any]:
    return {"id": key, "key": key, "status": "sent", "customer_key": "c1", **fields}


def test_feedback_is_kept_with_its_order_and_replaced_as_it_moves_on(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001"), order("2", "1002")])
    path = write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, FLOWS)
    _, report = run_flow(path, "orders")
    erp_ids = {k: target for k, (_, target) in actions(report).items()}
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001"),
            feedback("F2", order_number="1002"),  # no binding names it: found by number
        ],
    )
    result, first = run_flow(path, "feedback")
    assert result.code == 0, result.output
    assert first["counts"]["created"] == 2
    kept = {f["source_key"]: f for f in erp.dump("feedback")}
    assert kept["F1"]["order_id"] == erp_ids["1"] and kept["F1"]["status"] == "sent"
    assert kept["F2"]["order_id"] == erp_ids["2"]
    assert [a["reason"] for a in first["actions"] if a["key"] == "F2"] == [
        "order 1002 found by number"
    ]

    # the customer answers: the same feedback, completed with a score, replaces the first
    shop.seed(
        "feedback",
        [
            feedback(
                "F1",
                order_key="1",
                order_number="1001",
                status="completed",
                score="85",
                grade="8.5",
                completed_at="2026-03-13T09:00:00+00:00",
            )
        ],
    )
    result, second = run_flow(path, "feedback")
    assert result.code == 0, result.output
    assert actions(second)["F1"][0] == "updated"
    kept = {f["source_key"]: f for f in erp.dump("feedback")}
    assert len(erp.dump("feedback")) == 2
    assert kept["F1"]["status"] == "completed" and kept["F1"]["score"] == "85"

    # the binding keeps what the dashboard shows, and nothing personal
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        (fingerprint,) = db.execute(
            "SELECT fingerprint FROM bindings WHERE entity = 'feedback' AND source_key = 'F1'"
        ).fetchone()
    assert json.loads(fingerprint) == {
        "order_number": "1001",
        "unit": None,
        "status": "completed",
        "score": "85",
        "grade": "8.5",
        "sent_at": None,
        "completed_at": "2026-03-13T09:00:00Z",
    }
    _, third = run_flow(path, "feedback", "--full")
    assert third["counts"]["unchanged"] == 2 and len(erp.dump("feedback")) == 2


def test_feedback_for_an_order_the_target_lacks_fails_alone(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001")])
    path = write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, FLOWS)
    run_flow(path, "orders")
    shop.seed(
        "feedback",
        [
            feedback("F1", order_number="9999"),
            feedback("F2", order_number="1001", score="101"),  # not a score: 0 to 100
            feedback("F3", order_number="1001"),
        ],
    )
    result, report = run_flow(path, "feedback")
    assert result.code == 1
    assert report["counts"] == {**report["counts"], "created": 1, "failed": 2}
    letters = {d["record_key"]: d["error"] for d in dead_letters(path)}
    assert "no order numbered 9999 in testerp" in letters["F1"]
    assert "score" in letters["F2"] and "less than or equal to 100" in letters["F2"]
    assert [f["source_key"] for f in erp.dump("feedback")] == ["F3"]


def test_a_dry_run_keeps_no_feedback(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001")])
    path = write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, FLOWS)
    run_flow(path, "orders")
    shop.seed("feedback", [feedback("F1", order_key="1", order_number="1001")])
    result, report = run_flow(path, "feedback", "--dry-run")
    assert result.code == 0, result.output
    assert actions(report)["F1"][0] == "created" and erp.dump("feedback") == []
