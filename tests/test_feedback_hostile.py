"""The feedback flow as a hostile user meets it: malformed feedback from the source, orders
the target lacks, the same feedback twice, a target that refuses or loses its answer, a
dry run, two runs at once, a killed run, personal data and the dashboard. Test connectors
only (testshop -> testerp), through the `ihost` command and real processes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from flow_data import order
from helpers import IHOST, actions, dead_letters, fail, run_flow, run_ihost, write_config
from ihost_testconnectors.sandbox import RecordSandbox
from test_daemon import free_port, start, stop, wait_for

FLOWS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"

[flows.feedback]
kind = "feedback"
source = "shop"
target = "erp"
[flows.feedback.settings]
retry_backoff = 0.05
"""

EMAIL = "anna.jansen@example.com"
T1 = "2026-05-02T10:00:00+00:00"
T2 = "2026-05-03T10:00:00+00:00"
T3 = "2026-05-04T10:00:00+00:00"


def feedback(key: str, **fields: Any) -> dict[str, Any]:
    """A feedback row as testshop holds it (its id is the key unless `id` is given)."""
    return {"id": key, "key": key, "status": "sent", "customer_key": "c-77", "updated_at": T1} | {
        **fields
    }


def connect(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, *numbers: tuple[str, str]
) -> tuple[Path, dict[str, str]]:
    """A config with both flows; the shop's orders (key, number) written to the ERP first.
    Returns the config and the ERP's id of each shop order."""
    shop.seed("orders", [order(key, number) for key, number in numbers or _ORDERS])
    path = write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, FLOWS)
    result, report = run_flow(path, "orders")
    assert result.code == 0, result.output
    return path, {key: target for key, (_, target) in actions(report).items()}


_ORDERS = (("1", "1001"), ("2", "1002"), ("3", "1003"))


def kept(erp: RecordSandbox) -> dict[str, dict[str, Any]]:
    """The feedback the ERP keeps, by source key; never two for one key."""
    rows = erp.dump("feedback")
    keys = [row["source_key"] for row in rows]
    assert len(keys) == len(set(keys)), f"a feedback kept twice: {sorted(keys)}"
    return {row["source_key"]: row for row in rows}


def db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "ihost.db")


def feedback_bindings(tmp_path: Path) -> dict[str, tuple[str, str | None, str | None]]:
    """{source key: (target id, snapshot, fingerprint)} of the feedback bindings."""
    with db(tmp_path) as conn:
        rows = conn.execute(
            "SELECT source_key, target_id, snapshot, fingerprint FROM bindings"
            " WHERE entity = 'feedback'"
        ).fetchall()
    return {key: (target, snapshot, fingerprint) for key, target, snapshot, fingerprint in rows}


def fingerprint(tmp_path: Path, key: str) -> dict[str, Any]:
    found = feedback_bindings(tmp_path)[key][2]
    assert found is not None
    return dict(json.loads(found))


# --- malformed feedback from the source ---------------------------------------------------


def test_malformed_feedback_fails_alone_naming_the_field_never_the_value(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    bad = {
        # key: (the row's fields, the field named, words of the problem)
        "BADSTATUS": ({"status": "Completed-ish"}, "status", "Input should be "),
        "BADSCORE": ({"score": "abc"}, "score", "valid decimal"),
        "BADGRADE": ({"grade": "11"}, "grade", "less than or equal to 10"),
        "NEGATIVE": ({"score": "-1"}, "score", "greater than or equal to 0"),
        "FLOAT": ({"score": 85.5}, "score", "a float"),
        "NAN": ({"score": "NaN"}, "score", "finite number"),
        "COMMA": ({"grade": "8,5"}, "grade", "valid decimal"),
        "NAIVE": ({"sent_at": "2026-03-13T09:00:00"}, "sent_at", "timezone"),
        "INTNUMBER": ({"order_number": 1001}, "order_number", "valid string"),
    }
    rows = [
        feedback("OK", order_key="1", order_number="1001", status="completed", score="85"),
        *(
            feedback(key, **({"order_number": "1001", "customer_key": EMAIL} | fields))
            for key, (fields, _, _) in bad.items()
        ),
        {"id": "NOSTATUS", "key": "NOSTATUS", "order_number": "1001", "customer_key": EMAIL},
    ]
    shop.seed("feedback", rows)
    result, report = run_flow(path, "feedback")
    assert result.code == 1, result.output
    assert report["counts"]["created"] == 1 and report["counts"]["failed"] == len(bad) + 1
    assert list(kept(erp)) == ["OK"]

    letters = {d["record_key"]: d["error"] for d in dead_letters(path)}
    assert set(letters) == {*bad, "NOSTATUS"}
    for key, (_, field, words) in bad.items():
        assert letters[key].startswith(f"feedback {key}: {field}: "), letters[key]
        assert words in letters[key], letters[key]
    assert letters["NOSTATUS"] == "feedback NOSTATUS: status: Field required"
    # the vocabulary is blanked in the log line (quoted), and shown whole with the letter
    (status,) = [d for d in dead_letters(path) if d["record_key"] == "BADSTATUS"]
    shown = run_ihost("-c", str(path), "deadletters", "show", str(status["id"])).out
    assert "'entered', 'sent', 'reminded', 'started', 'completed' or 'expired'" in shown, shown
    shown = json.dumps(letters) + run_ihost("-c", str(path), "logs", "--json").out
    for value in ("abc", "Completed-ish", "8,5", EMAIL):
        assert value not in shown, value  # a value may be personal: never echoed

    # a record that is not a record cannot be retried: it is fixed at the source
    (letter,) = [d for d in dead_letters(path) if d["record_key"] == "BADSCORE"]
    retried = run_ihost("-c", str(path), "deadletters", "retry", str(letter["id"]))
    assert "cannot retry (payload is not a valid record)" in retried.out, retried.output
    assert list(kept(erp)) == ["OK"]
    shop.seed("feedback", [feedback("BADSCORE", order_number="1001", score="70", updated_at=T2)])
    result, report = run_flow(path, "feedback")
    assert actions(report)["BADSCORE"][0] == "created", report
    assert kept(erp)["BADSCORE"]["score"] == "70"
    assert "BADSCORE" not in {d["record_key"] for d in dead_letters(path)}


# --- orders the target lacks --------------------------------------------------------------


def test_feedback_for_orders_the_target_lacks_fails_alone(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, erp_ids = connect(tmp_path, shop, erp)
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001"),
            feedback("F9", order_key="999", order_number="9999"),  # never written to the ERP
            feedback("F3", order_number="1003"),
        ],
    )
    result, report = run_flow(path, "feedback")
    assert result.code == 1
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "F1": "created",
        "F9": "failed",
        "F3": "created",
    }
    (letter,) = dead_letters(path)
    assert letter["record_key"] == "F9"
    assert letter["error"].endswith(" F9 (order_number): no order numbered 9999 in testerp")
    assert {k: row["order_id"] for k, row in kept(erp).items()} == {
        "F1": erp_ids["1"],
        "F3": erp_ids["3"],
    }
    assert set(feedback_bindings(tmp_path)) == {"F1", "F3"}

    # the order reaches the ERP; the dead letter's retry now keeps the feedback with it
    shop.seed("orders", [order("999", "9999", updated_at=T2)])
    _, orders = run_flow(path, "orders")
    retried = run_ihost("-c", str(path), "deadletters", "retry", str(letter["id"]))
    assert retried.code == 0, retried.output
    assert kept(erp)["F9"]["order_id"] == actions(orders)["999"][1]
    assert dead_letters(path) == []


def test_a_feedback_failing_in_the_target_is_called_a_feedback(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed(
        "feedback",
        [
            feedback("F9", order_number="9999"),
            feedback("F2", order_key="2", order_number="1002"),
        ],
    )
    fail(erp, "feedback", "F2", 422, message="feedback closed")
    result, report = run_flow(path, "feedback")
    assert result.code == 1
    letters = {d["record_key"]: d["error"] for d in dead_letters(path)}
    log = run_ihost("-c", str(path), "logs", "--json").out + json.dumps(report)
    assert "feedbac " not in json.dumps(letters) + log
    assert letters["F9"] == "feedback F9 (order_number): no order numbered 9999 in testerp"
    assert letters["F2"].startswith("feedback F2: testerp rejected POST ")


def test_feedback_naming_no_order_and_no_customer_is_refused(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed("feedback", [feedback("F0", customer_key=None)])  # no order, no customer
    result, report = run_flow(path, "feedback")
    assert result.code == 1, report
    assert actions(report)["F0"][0] == "failed"
    assert kept(erp) == {}


def test_feedback_kept_with_the_customer_is_not_said_found_by_a_number(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed("feedback", [feedback("F0", customer_key="c-77")])  # kept with the customer
    result, report = run_flow(path, "feedback")
    assert result.code == 0, result.output
    (line,) = report["actions"]
    assert line["action"] == "created"
    assert "None" not in (line["reason"] or ""), line["reason"]
    logs = run_ihost("-c", str(path), "logs", "--json").out
    assert "order None" not in logs


def test_an_order_number_that_is_another_orders_key_finds_the_right_order(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    # a shop whose internal ids run alongside its order numbers: order 1001 has key 7,
    # and the order with key 1001 is number 5000
    path, erp_ids = connect(tmp_path, shop, erp, ("7", "1001"), ("1001", "5000"))
    shop.seed("feedback", [feedback("F1", order_number="1001", status="completed", score="20")])
    result, _ = run_flow(path, "feedback")
    assert result.code == 0, result.output
    numbers = {row["id"]: row["number"] for row in erp.dump("orders")}
    assert numbers[kept(erp)["F1"]["order_id"]] == "1001"
    assert kept(erp)["F1"]["order_id"] == erp_ids["7"]


# --- the same feedback again --------------------------------------------------------------


def read_twice(shop: RecordSandbox) -> None:
    """Feedback F1 in two rows of the shop: sent (T1), then completed (T2)."""
    first = feedback("F1", id="a", order_key="1", order_number="1001", updated_at=T1)
    done = {"status": "completed", "score": "90", "grade": "9", "updated_at": T2}
    shop.seed("feedback", [first, first | {"id": "b"} | done])


def test_the_same_feedback_twice_in_one_run_is_kept_once_as_its_latest(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    read_twice(shop)
    result, report = run_flow(path, "feedback")
    assert result.code == 0, result.output
    assert report["counts"]["read"] == 2 and report["counts"]["failed"] == 0
    assert len(erp.dump("feedback")) == 1
    assert kept(erp)["F1"]["status"] == "completed" and kept(erp)["F1"]["score"] == "90"
    assert fingerprint(tmp_path, "F1")["status"] == "completed"
    assert len(feedback_bindings(tmp_path)) == 1


def test_the_same_feedback_twice_in_one_run_is_counted_created_once(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    """Read twice in one run, a feedback is written once, as its last copy (it was counted
    created twice)."""
    path, _ = connect(tmp_path, shop, erp)
    read_twice(shop)
    result, report = run_flow(path, "feedback")
    assert result.code == 0, result.output
    assert [(a["key"], a["action"], a["reason"]) for a in report["actions"]] == [
        ("F1", "skipped", "read again later in this run"),
        ("F1", "created", None),
    ]
    ((kept),) = erp.dump("feedback")
    assert kept["status"] == "completed"


def test_reading_a_feedback_twice_again_leaves_the_target_at_its_latest(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed("feedback", [feedback("F1", id="a", order_key="1", order_number="1001")])
    assert run_flow(path, "feedback")[0].code == 0
    shop.seed(
        "feedback",
        [
            feedback(
                "F1",
                id="b",
                order_key="1",
                order_number="1001",
                status="completed",
                score="90",
                updated_at=T2,
            )
        ],
    )
    assert run_flow(path, "feedback")[0].code == 0
    assert kept(erp)["F1"]["status"] == "completed"
    # read again in full (as `--full` does, or a source that reads back months): the source
    # still says completed, last
    result, _ = run_flow(path, "feedback", "--full")
    assert result.code == 0, result.output
    assert kept(erp)["F1"]["status"] == "completed" and kept(erp)["F1"]["score"] == "90"
    assert fingerprint(tmp_path, "F1")["status"] == kept(erp)["F1"]["status"]


def test_a_plain_rerun_leaves_a_feedback_read_twice_alone(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    first = feedback("F1", id="a", order_key="1", order_number="1001", updated_at=T1)
    done = {"status": "completed", "score": "90", "updated_at": T1}
    shop.seed("feedback", [first, first | {"id": "b"} | done])
    assert run_flow(path, "feedback")[0].code == 0
    assert kept(erp)["F1"]["status"] == "completed"
    for _ in range(2):  # nothing changes at the source
        result, report = run_flow(path, "feedback")
        assert result.code == 0, result.output
        assert kept(erp)["F1"]["status"] == "completed", report["actions"]


def test_a_feedback_going_back_in_status_replaces_what_was_kept_once(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    done = {"status": "completed", "score": "85", "grade": "8.5", "completed_at": T1}
    shop.seed("feedback", [feedback("F1", order_key="1", order_number="1001", **done)])
    assert run_flow(path, "feedback")[0].code == 0
    (target_id,) = [row["id"] for row in erp.dump("feedback")]
    # the source now says it was sent again (a new invitation): the target follows it
    shop.seed(
        "feedback", [feedback("F1", order_key="1", order_number="1001", sent_at=T2, updated_at=T2)]
    )
    result, report = run_flow(path, "feedback")
    assert result.code == 0, result.output
    assert actions(report)["F1"] == ("updated", target_id)
    row = kept(erp)["F1"]
    assert (row["id"], row["status"], row["score"], row["grade"]) == (target_id, "sent", None, None)
    assert fingerprint(tmp_path, "F1") | {"sent_at": None} == {
        "order_number": "1001",
        "unit": None,
        "status": "sent",
        "score": None,
        "grade": None,
        "sent_at": None,
        "completed_at": None,
    }
    _, again = run_flow(path, "feedback", "--full")
    assert again["counts"]["unchanged"] == 1 and len(erp.dump("feedback")) == 1


def test_a_feedback_key_holding_a_comma_is_replaced_as_it_moves_on(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed("feedback", [feedback("F,1", order_key="1", order_number="1001")])
    assert run_flow(path, "feedback")[0].code == 0
    shop.seed(
        "feedback",
        [feedback("F,1", order_key="1", order_number="1001", status="completed", updated_at=T2)],
    )
    _, report = run_flow(path, "feedback")
    assert actions(report)["F,1"][0] == "updated"
    assert kept(erp)["F,1"]["status"] == "completed"


# --- a target that refuses, or loses its answer -------------------------------------------


def test_a_refused_feedback_is_dead_lettered_with_the_targets_words_and_retried(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed(
        "feedback",
        [feedback(f"F{i}", order_key=str(i), order_number=f"100{i}") for i in (1, 2, 3)],
    )
    fail(erp, "feedback", "F2", 422, message="order 1002 is archived: feedback closed")
    fail(erp, "feedback", "F3", 503, times=2)  # transient: tried again within the run
    result, report = run_flow(path, "feedback")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "F1": "created",
        "F2": "failed",
        "F3": "created",
    }
    (letter,) = dead_letters(path)
    assert letter["record_key"] == "F2" and letter["entity"] == "feedback"
    assert " F2: testerp rejected POST " in letter["error"], letter["error"]
    assert letter["error"].endswith("(422): order 1002 is archived: feedback closed")
    assert set(kept(erp)) == {"F1", "F3"}

    retried = run_ihost("-c", str(path), "deadletters", "retry", str(letter["id"]))
    assert retried.code == 0, retried.output
    assert retried.out.strip() == f"dead letter {letter['id']} (F2): resolved"
    assert set(kept(erp)) == {"F1", "F2", "F3"} and dead_letters(path) == []
    assert set(feedback_bindings(tmp_path)) == {"F1", "F2", "F3"}
    _, again = run_flow(path, "feedback", "--full")
    assert again["counts"]["unchanged"] == 3


def test_an_older_feedbacks_dead_letter_never_overwrites_the_newer(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed("feedback", [feedback("F1", order_key="1", order_number="1001")])
    fail(erp, "feedback", "F1", 422, message="try later")
    assert run_flow(path, "feedback")[0].code == 1
    (letter,) = dead_letters(path)
    assert letter["record_key"] == "F1"
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001", status="completed")
            | {"score": "75", "updated_at": T2}
        ],
    )
    result, report = run_flow(path, "feedback")  # the newer one goes through
    assert result.code == 0 and actions(report)["F1"][0] == "created", result.output
    assert dead_letters(path) == []  # and closes the older one's letter
    retried = run_ihost("-c", str(path), "deadletters", "retry", str(letter["id"]))
    assert retried.out.strip() == f"dead letter {letter['id']} (F1): already resolved", (
        retried.output
    )
    assert (kept(erp)["F1"]["status"], kept(erp)["F1"]["score"]) == ("completed", "75")


def test_a_write_made_whose_answer_is_lost_keeps_one_copy(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001"),
            feedback("F2", order_key="2", order_number="1002"),
        ],
    )
    fail(erp, "feedback", "F1", 500, applied=True)  # made; the answer is a 500: tried again
    fail(erp, "feedback", "F2", 422, applied=True)  # made; the answer refuses it
    result, report = run_flow(path, "feedback")
    assert result.code == 1, result.output
    assert actions(report)["F1"][0] == "created" and actions(report)["F2"][0] == "failed"
    assert set(kept(erp)) == {"F1", "F2"}  # each once

    # both move on; the update of F1 is made and its answer lost
    shop.seed(
        "feedback",
        [
            feedback(f"F{i}", order_key=str(i), order_number=f"100{i}", status="completed")
            | {"score": "60", "updated_at": T2}
            for i in (1, 2)
        ],
    )
    fail(erp, "feedback", "F1", 422, applied=True)
    result, report = run_flow(path, "feedback")
    assert actions(report)["F1"][0] == "failed" and actions(report)["F2"][0] == "created"
    retried = run_ihost("-c", str(path), "deadletters", "retry", "--flow", "feedback")
    assert retried.code == 0, retried.output
    rows = kept(erp)
    assert len(erp.dump("feedback")) == 2
    assert {k: (r["status"], r["score"]) for k, r in rows.items()} == {
        "F1": ("completed", "60"),
        "F2": ("completed", "60"),
    }
    assert dead_letters(path) == []
    bound = feedback_bindings(tmp_path)
    assert {k: v[0] for k, v in bound.items()} == {k: r["id"] for k, r in rows.items()}


# --- a dry run ----------------------------------------------------------------------------


def test_a_dry_run_writes_nothing_anywhere(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed("feedback", [feedback("F1", order_key="1", order_number="1001")])
    assert run_flow(path, "feedback")[0].code == 0
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001", status="completed")
            | {"score": "85", "updated_at": T2},
            feedback("F2", order_key="2", order_number="1002", updated_at=T2),
            feedback("F9", order_number="9999", updated_at=T2),
            feedback("BAD", order_number="1001", score="abc", updated_at=T2),
        ],
    )
    before = (erp.dump("feedback"), feedback_bindings(tmp_path))
    with db(tmp_path) as conn:
        cursor = conn.execute("SELECT value FROM cursors WHERE flow = 'feedback'").fetchall()
    erp.calls.clear()
    result, report = run_flow(path, "feedback", "--dry-run")
    assert result.code == 1 and report["dry_run"] is True  # BAD fails, as in the real run
    assert actions(report)["F1"][0] == "updated" and actions(report)["F2"][0] == "created"
    assert actions(report)["BAD"][0] == "failed"
    assert (
        erp.calls_to("/api/feedback", "POST") == [] and erp.calls_to("/api/feedback", "PUT") == []
    )
    assert (erp.dump("feedback"), feedback_bindings(tmp_path)) == before
    with db(tmp_path) as conn:
        assert conn.execute("SELECT value FROM cursors WHERE flow = 'feedback'").fetchall() == (
            cursor
        )
    assert dead_letters(path) == []

    _, report = run_flow(path, "feedback")  # the real run does what the dry run said
    assert actions(report)["F1"][0] == "updated" and kept(erp)["F1"]["status"] == "completed"
    assert set(kept(erp)) == {"F1", "F2"}


@pytest.mark.xfail(
    strict=True,
    reason="DEFECT: host/dryrun.py DryRun.write_feedback answers '(feedback kept)' without "
    "asking the target (no preview_write, unlike create_order), and FeedbackFlow.write then "
    "reports 'order 9999 found by number' for an order the target lacks: the dry run says "
    "created where the real run fails",
)
def test_a_dry_run_does_not_claim_an_order_the_target_lacks_was_found(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed("feedback", [feedback("F9", order_number="9999")])
    _, dry = run_flow(path, "feedback", "--dry-run")
    (line,) = dry["actions"]
    real, report = run_flow(path, "feedback")
    assert real.code == 1 and actions(report)["F9"][0] == "failed"
    assert line["action"] == "failed" or "found" not in (line["reason"] or ""), line


# --- two runs at once, a killed run -------------------------------------------------------


def held(sandbox: RecordSandbox, key: str) -> bool:
    """Whether the write of feedback `key` reached the sandbox and waits on its delay
    (the failure injected for it is spent when the write arrives)."""
    with sandbox.lock:
        return bool(sandbox.failures[("feedback", key)]["times"] == 0)


def test_a_second_feedback_run_at_once_does_nothing(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001"),
            feedback("F2", order_key="2", order_number="1002"),
        ],
    )
    fail(erp, "feedback", "F1", 0, delay=3)  # the first run waits on its remote
    erp.calls.clear()
    first = subprocess.Popen(
        [IHOST, "-c", str(path), "run", "feedback"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert wait_for(lambda: held(erp, "F1"), seconds=15)
        second = run_ihost("-c", str(path), "run", "feedback")
        assert second.code == 2, second.output
        assert second.err.strip().startswith(
            f"ihost: flow 'feedback' is running already (pid {first.pid} on "
        )
        assert second.err.strip().endswith("nothing was done")
        assert first.wait(timeout=30) == 0, first.stderr.read() if first.stderr else ""
    finally:
        if first.poll() is None:
            first.kill()
        first.communicate()
    assert set(kept(erp)) == {"F1", "F2"}
    with db(tmp_path) as conn:
        statuses = conn.execute("SELECT status FROM runs WHERE flow = 'feedback'").fetchall()
    assert statuses == [("ok",)]  # the refused run left no run behind


def test_a_killed_feedback_run_rerun_keeps_each_feedback_once(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001"),
            feedback("F2", order_key="2", order_number="1002"),
            feedback("F3", order_key="3", order_number="1003"),
        ],
    )
    fail(erp, "feedback", "F2", 0, delay=1.5)  # made 1.5 s on: after its process is killed
    erp.calls.clear()
    process = subprocess.Popen(
        [IHOST, "-c", str(path), "run", "feedback"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    assert wait_for(lambda: held(erp, "F2"), seconds=15)  # F2's create is on its way
    process.send_signal(signal.SIGKILL)
    process.wait()
    assert wait_for(lambda: len(erp.dump("feedback")) == 2, seconds=10)  # F1, and F2 unheard
    assert set(feedback_bindings(tmp_path)) == {"F1"}

    result, report = run_flow(path, "feedback")
    assert result.code == 0, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "F1": "unchanged",
        "F2": "created",
        "F3": "created",
    }
    rows = kept(erp)
    assert set(rows) == {"F1", "F2", "F3"} and len(erp.dump("feedback")) == 3
    assert {k: v[0] for k, v in feedback_bindings(tmp_path).items()} == {
        k: r["id"] for k, r in rows.items()
    }
    with db(tmp_path) as conn:
        statuses = conn.execute(
            "SELECT status FROM runs WHERE flow = 'feedback' ORDER BY id"
        ).fetchall()
    assert statuses == [("aborted",), ("ok",)]


# --- personal data ------------------------------------------------------------------------


def test_the_customer_stays_out_of_the_activity_log_and_the_fingerprint(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path, _ = connect(tmp_path, shop, erp)
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number="1001", customer_key=EMAIL),
            feedback("F2", order_number="1002", customer_key="c-secret-7713"),
            feedback("F3", order_number="9999", customer_key=EMAIL.upper()),
            feedback("F4", order_key="3", order_number="1003", customer_key=EMAIL),
        ],
    )
    # the target's refusal quotes the customer
    fail(erp, "feedback", "F4", 422, message=f"customer {EMAIL} has opted out of feedback")
    result, report = run_flow(path, "feedback")
    assert result.code == 1
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "F1": "created",
        "F2": "created",
        "F3": "failed",
        "F4": "failed",
    }
    log = run_ihost("-c", str(path), "logs", "--json")
    assert log.code == 0
    shown = (
        log.out
        + run_ihost("-c", str(path), "logs").out
        + run_ihost("-c", str(path), "logs", "feedback").out
        + json.dumps([d["error"] for d in dead_letters(path)])
    )
    for secret in (EMAIL, EMAIL.upper(), "c-secret-7713", "anna.jansen"):
        assert secret not in shown, secret
    events = json.loads(log.out)
    assert "<e-mail>" in json.dumps(events)  # the refusal is logged, the address blanked

    for key in ("F1", "F2"):
        kept_fields = fingerprint(tmp_path, key)
        assert "customer_key" not in kept_fields
        assert EMAIL not in json.dumps(kept_fields) and "c-secret-7713" not in json.dumps(
            kept_fields
        )


# --- the dashboard ------------------------------------------------------------------------

SCRIPT = "<script>alert('feedback')</script>"
IMG = '<img src=x onerror="alert(1)">'


def test_the_dashboard_escapes_feedback_hides_the_customer_and_survives_a_purge(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    from host.store import Store, utcnow

    path, _ = connect(tmp_path, shop, erp)
    huge = "U" * 255  # the most a unit holds; 100 KB is refused, naming the field
    shop.seed(
        "feedback",
        [
            feedback("F1", order_key="1", order_number=SCRIPT, unit=IMG, customer_key=EMAIL)
            | {"status": "completed", "score": "85", "grade": "8.5", "completed_at": T3},
            feedback('F"><svg onload=alert(2)>', order_key="2", order_number="1002", unit=huge)
            | {"customer_key": "c-secret-7713"},
            feedback("F-HUGE", order_key="2", order_number="1002", unit="U" * 100_000),
        ],
    )
    result, _ = run_flow(path, "feedback")
    assert result.code == 1, result.output
    (letter,) = dead_letters(path)
    assert letter["error"] == "feedback F-HUGE: unit: String should have at most 255 characters"
    assert kept(erp)["F1"]["order_number"] == SCRIPT  # what the ERP keeps, as it came

    # retention passes: the kept records (snapshots) go, what the dashboard shows stays
    bound = feedback_bindings(tmp_path)
    assert EMAIL in (bound["F1"][1] or "")  # the kept record, until the retention purge
    store = Store(f"sqlite:///{tmp_path / 'ihost.db'}", 30)
    try:
        purged = store.purge(now=utcnow() + timedelta(days=400))
    finally:
        store.close()
    assert purged["snapshots"] >= 2
    bound = feedback_bindings(tmp_path)
    assert all(snapshot is None for _, snapshot, _ in bound.values())
    assert EMAIL not in json.dumps(bound) and "c-secret-7713" not in json.dumps(bound)

    port = free_port()
    process = start(path, port)
    try:
        base = f"http://127.0.0.1:{port}"
        api = httpx.get(f"{base}/api/feedback", timeout=30)
        page = httpx.get(f"{base}/feedback", timeout=30)
    finally:
        stop(process)
    assert api.status_code == 200 and page.status_code == 200
    rows = {row["key"]: row for row in api.json()}
    assert set(rows) == {"F1", 'F"><svg onload=alert(2)>'}
    first = rows["F1"]
    assert (first["order_number"], first["unit"], first["status"]) == (SCRIPT, IMG, "completed")
    assert (first["score"], first["grade"], first["completed_at"]) == (
        "85",
        "8.5",
        "2026-05-04T10:00:00Z",
    )
    assert rows['F"><svg onload=alert(2)>']["unit"] == huge
    for shown in (api.text, page.text):
        assert EMAIL not in shown and "c-secret-7713" not in shown and "customer_key" not in shown
    text = page.text
    for raw in (SCRIPT, IMG, "<svg onload=alert(2)>", '"><svg'):
        assert raw not in text, raw
    assert "&lt;script&gt;alert(" in text and "&lt;img src=x onerror=" in text
    assert huge in text and "8.5" in text and "2026-05-04T10:00" in text
