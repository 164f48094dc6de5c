"""The record log: what each run read, mapped, sent and was answered for each record, kept
in the store (purged after retention_days), and searched by key or order number."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_data import customer, order, product
from helpers import fail, run_flow, run_ihost, write_config
from ihost_testconnectors.sandbox import RecordSandbox

from host.store import Store

ORDERS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"
"""
CUSTOMERS = """
[flows.customers]
kind = "customers"
source = "erp"
target = "shop"
"""


@pytest.fixture
def pair() -> Iterator[tuple[RecordSandbox, RecordSandbox]]:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        yield shop, erp


def config(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, flows: str) -> Path:
    return write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, flows)


def entries(tmp_path: Path, **query: object) -> list[dict]:
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        return store.list_record_entries(oldest_first=True, **query)  # type: ignore[arg-type]


def test_an_order_keeps_what_was_read_sent_and_answered_and_its_failure_the_remotes_words(
    tmp_path: Path, pair: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = pair
    erp.seed("products", [product("SKU-1")])
    shop.seed(
        "orders",
        [order("1", "1001"), order("2", "1002", skus=("SKU-9",)), order("3", "1003")],
    )
    fail(erp, "orders", "3", 422, message="Debtor 'Jan Jansen' is blocked")
    path = config(tmp_path, shop, erp, ORDERS)
    result, _ = run_flow(path, "orders")
    assert result.code == 1, result.output

    (written,) = entries(tmp_path, search="1001")
    assert (written["action"], written["order_ref"]) == ("created", "1001")
    assert written["source"]["number"] == "1001"
    assert written["source"]["customer"]["email"] == "buyer1@example.com"  # only here
    posts = [c for c in written["calls"] if c["method"] == "POST"]
    assert posts and posts[-1]["sent"]["number"] == "1001"
    assert posts[-1]["status"] in (200, 201)
    assert written["target_id"] and written["target_id"] in json.dumps(posts[-1]["answer"])

    (missing,) = entries(tmp_path, search="1002")
    assert missing["action"] == "failed" and "SKU SKU-9 not found in erp" in missing["reason"]
    assert missing["source"]["lines"][0]["sku"] == "SKU-9"

    (refused,) = entries(tmp_path, search="3")
    assert refused["action"] == "failed"
    refusal = [c for c in refused["calls"] if c["status"] == 422]
    assert refusal and "is blocked" in json.dumps(refusal[0]["answer"])  # its own words
    assert "Jan Jansen" not in refused["reason"]  # the kept line is scrubbed ...
    assert "Jan Jansen" in refused["detail"]  # ... the words in full are purged with payloads

    # the token went in a header, never kept; nor is any form of it in what was kept
    kept = json.dumps(entries(tmp_path), default=str)
    assert erp.token not in kept and shop.token not in kept
    # the activity log stays free of personal data
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        log = json.dumps([e for e in store.list_events() if e["flow"] == "orders"], default=str)
        letters = {d.record_key: d.kind for d in store.list_dead_letters()}
    assert "buyer1@example.com" not in log and "Jan Jansen" not in log
    assert letters == {"2": "invalid", "3": "refused"}


def test_an_update_keeps_the_fields_it_changed_and_unchanged_records_leave_no_entry(
    tmp_path: Path, pair: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = pair
    erp.seed("customers", [{**customer("K2", "piet@example.com"), "id": "K2"}])
    path = config(tmp_path, shop, erp, CUSTOMERS)
    assert run_flow(path, "customers")[0].code == 0
    assert run_flow(path, "customers", "--full")[0].code == 0  # unchanged: nothing kept
    erp.seed("customers", [{**customer("K2", "piet@example.com", phone="0612345678"), "id": "K2"}])
    assert run_flow(path, "customers")[0].code == 0

    created, updated = entries(tmp_path, search="K2")
    assert (created["action"], updated["action"]) == ("created", "updated")
    assert updated["changes"] == {"phone": [None, "0612345678"]}
    assert updated["target_id"] == created["target_id"]
    (put,) = [c for c in updated["calls"] if c["method"] in ("PUT", "PATCH", "POST")]
    assert put["sent"]["phone"] == "0612345678"
    # the activity log names the field changed, not its value
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        (event,) = [e for e in store.list_events(record_key="K2") if e["action"] == "updated"]
    assert event["message"] == "changed: phone"


def test_a_retried_dead_letter_says_what_resolved_it(
    tmp_path: Path, pair: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = pair
    shop.seed("orders", [order("2", "1002", skus=("SKU-9",)), order("4", "1004", skus=("X",))])
    path = config(tmp_path, shop, erp, ORDERS)
    run_flow(path, "orders")
    erp.seed("products", [product("SKU-9")])
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        ids = {d.record_key: d.id for d in store.list_dead_letters()}
    retried = run_ihost("-c", str(path), "deadletters", "retry", str(ids["2"]))
    assert retried.code == 0, retried.output
    resolved = run_ihost("-c", str(path), "deadletters", "resolve", str(ids["4"]))
    assert resolved.code == 0, resolved.output
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        by = {d.record_key: d.resolved_by for d in store.list_dead_letters(status="resolved")}
    assert by["2"] is not None and by["2"].endswith("the record went through when it was retried")
    assert by["4"] is not None and by["4"].startswith("resolved by hand: ihost deadletters resolve")
    failed, created = entries(tmp_path, search="1002")
    assert (failed["action"], created["action"]) == ("failed", "created")
    # the same story from the command line, oldest first
    story = run_ihost("-c", str(path), "records", "1002")
    assert story.code == 0, story.output
    lines = [line for line in story.out.splitlines() if " 1002 " in line]
    assert [("failed" in line, "created" in line) for line in lines] == [
        (True, False),
        (False, True),
    ]
    full = json.loads(run_ihost("-c", str(path), "records", "1002", "--json").out)
    assert [e["action"] for e in full["entries"]] == ["failed", "created"]
    assert full["entries"][0]["source"]["number"] == "1002"
    nothing = run_ihost("-c", str(path), "records", "9999")
    assert nothing.code == 0 and "Nothing is kept of 9999" in nothing.out


def test_a_huge_answer_is_kept_cut_short_and_secret_fields_blanked() -> None:
    from host.http import KEPT_BODY, _kept_body

    huge = json.dumps({"rows": ["x" * 100] * 1000}).encode()
    kept = _kept_body(huge, "application/json")
    assert isinstance(kept, str) and len(kept) < KEPT_BODY + 40 and kept.endswith("chars)")
    body = json.dumps({"user": "u", "password": "hunter2hunter2", "nested": [{"api_key": "k"}]})
    assert _kept_body(body.encode(), "application/json") == {
        "user": "u",
        "password": "***",
        "nested": [{"api_key": "***"}],
    }
    assert _kept_body(b"", "application/json") is None
    assert _kept_body(b"<html>oops</html>", "text/html") == "<html>oops</html>"


@pytest.mark.parametrize(("kept", "expected"), [("failed", ["failed"]), ("off", [])])
def test_a_flow_can_keep_only_failed_records_or_none(
    tmp_path: Path, pair: tuple[RecordSandbox, RecordSandbox], kept: str, expected: list[str]
) -> None:
    shop, erp = pair
    erp.seed("products", [product("SKU-1")])
    shop.seed("orders", [order("1", "1001"), order("2", "1002", skus=("SKU-9",))])
    flows = ORDERS + f'[flows.orders.settings]\nrecord_log = "{kept}"\n'
    result, report = run_flow(config(tmp_path, shop, erp, flows), "orders")
    assert result.code == 1, result.output
    assert report["counts"]["created"] == 1 and report["counts"]["failed"] == 1
    assert [e["action"] for e in entries(tmp_path)] == expected
    if expected:
        (failed,) = entries(tmp_path)
        assert failed["source"]["number"] == "1002"


def test_a_huge_record_is_kept_cut_short(
    tmp_path: Path, pair: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = pair
    huge = "x" * 300_000
    erp.seed("customers", [{**customer("K1", "k1@example.com", company=huge), "id": "K1"}])
    result, report = run_flow(config(tmp_path, shop, erp, CUSTOMERS), "customers")
    assert result.code == 0 and report["counts"]["created"] == 1, result.output
    (entry,) = entries(tmp_path, search="K1")
    assert isinstance(entry["source"], str) and entry["source"].endswith("characters, cut)")
    assert len(entry["source"]) < 100_100
    (call,) = [c for c in entry["calls"] if c["method"] == "POST"]
    assert isinstance(call["sent"], str) and call["sent"].endswith("chars)")
