"""Failures, dry-run, dead letters, the activity log, shipments and refunds, via the CLI."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

from flow_data import order, product
from helpers import actions, fail, run_flow, run_ihost, write_config
from ihost_testconnectors.sandbox import RecordSandbox

ORDERS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"
[flows.orders.settings]
retry_backoff = 0.05
"""


def config(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, flows: str = ORDERS) -> Path:
    return write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, flows)


def five_orders(shop: RecordSandbox) -> None:
    shop.seed(
        "orders",
        [order(str(i), f"100{i}", updated_at=f"2026-05-0{i}T10:00:00+00:00") for i in range(1, 6)],
    )


def db(tmp_path: Path) -> sqlite3.Connection:
    return sqlite3.connect(tmp_path / "ihost.db")


def test_failure_on_record_3_of_5(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox) -> None:
    five_orders(shop)
    fail(erp, "orders", "3", 422)
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders", process=True)  # exit 1 from a real process
    assert result.code == 1
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "1": "created",
        "2": "created",
        "3": "failed",
        "4": "created",
        "5": "created",
    }
    bound = {
        row[0]
        for row in db(tmp_path).execute("SELECT source_key FROM bindings WHERE entity='orders'")
    }
    assert bound == {"1", "2", "4", "5"}
    letters = run_ihost("-c", str(path), "deadletters", "list", "--json")
    (letter,) = json.loads(letters.out)["dead_letters"]
    assert letter["record_key"] == "3" and letter["flow"] == "orders"
    assert "(422): injected failure for 3" in letter["error"]
    assert letter["error"].startswith("order 3: testerp rejected POST ")
    # the cursor moved past every record read: record 3 waits in the dead letters
    cursor = db(tmp_path).execute("SELECT value FROM cursors").fetchone()[0]
    assert cursor == "2026-05-05T10:00:00+00:00"

    shown = run_ihost("-c", str(path), "deadletters", "show", str(letter["id"]))
    assert shown.code == 0 and '"number": "1003"' in shown.out

    retried = run_ihost("-c", str(path), "deadletters", "retry", str(letter["id"]))
    assert retried.code == 0, retried.output
    assert retried.out.strip() == f"dead letter {letter['id']} (3): resolved"
    assert {o["number"] for o in erp.dump("orders")} == {f"100{i}" for i in range(1, 6)}
    assert run_ihost("-c", str(path), "deadletters").out.strip() == "No open dead letters."


def test_transient_errors_spend_one_budget_per_record(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    """`retries = 3`: a record's calls may fail twice and be tried again; the third failure
    fails it. The HTTP client and the runner spend the same budget (no 3 x 3 attempts)."""
    five_orders(shop)
    fail(erp, "orders", "2", 503, times=2)  # the third try goes through
    fail(erp, "orders", "4", 503, times=3)  # the budget is spent
    result, report = run_flow(config(tmp_path, shop, erp), "orders")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "1": "created",
        "2": "created",
        "3": "created",
        "4": "failed",
        "5": "created",
    }
    assert len(erp.dump("orders")) == 4
    # one POST for orders 1, 3 and 5; three for order 2 and three for order 4
    assert len(erp.calls_to("/api/orders", "POST")) == 9


def test_retry_that_fails_again_keeps_the_letter_open(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001", skus=("MISSING",))])
    path = config(tmp_path, shop, erp)
    assert run_flow(path, "orders")[0].code == 1
    retried = run_ihost("-c", str(path), "deadletters", "retry", "--flow", "orders")
    assert retried.code == 1
    assert "failed again: order 1001: SKU MISSING not found in erp" in retried.out
    (letter,) = json.loads(run_ihost("-c", str(path), "deadletters", "list", "--json").out)[
        "dead_letters"
    ]
    assert letter["attempts"] == 2

    erp.seed("products", [product("MISSING")])  # fixed in the ERP, and the order changes
    shop.seed(
        "orders",
        [
            order(
                "1",
                "1001",
                skus=("MISSING",),
                note="paid again",
                updated_at="2026-06-01T00:00:00+00:00",
            )
        ],
    )
    result, report = run_flow(path, "orders")
    assert result.code == 0 and actions(report)["1"][0] == "created"
    assert json.loads(run_ihost("-c", str(path), "deadletters", "list", "--json").out) == {
        "dead_letters": []
    }  # resolved by the later run that wrote it
    resolved = run_ihost("-c", str(path), "deadletters", "list", "--all", "--json")
    assert json.loads(resolved.out)["dead_letters"][0]["status"] == "resolved"


def test_resolve_by_hand(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox) -> None:
    shop.seed("orders", [order("1", "1001", skus=("MISSING",))])
    path = config(tmp_path, shop, erp)
    run_flow(path, "orders")
    resolved = run_ihost("-c", str(path), "deadletters", "resolve", "1")
    assert resolved.code == 0 and resolved.out.strip() == "dead letter 1: resolved"
    again = run_ihost("-c", str(path), "deadletters", "resolve", "1")
    assert again.code == 2 and again.err.strip() == "no open dead letter 1"


def test_auth_error_stops_the_run_with_exit_3_and_cursor_untouched(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    five_orders(shop)
    path = config(tmp_path, shop, erp)
    head, erp_part = path.read_text().split("[connections.erp]")
    erp_part = erp_part.replace(f'token = "{erp.token}"', 'token = "expired-token"')
    path.write_text(head + "[connections.erp]" + erp_part)
    result, report = run_flow(path, "orders")
    assert result.code == 3
    assert report["status"] == "aborted"
    assert report["error"].startswith("testerp refused the credentials (401)")
    assert result.err.strip().splitlines()[-1].startswith("ihost: orders aborted: testerp refused")
    assert "Traceback" not in result.output
    assert db(tmp_path).execute("SELECT count(*) FROM cursors").fetchone()[0] == 0
    assert erp.dump("orders") == []


def test_dry_run_writes_nothing(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox) -> None:
    five_orders(shop)
    shop.seed("orders", [order("9", "1009", skus=("NOPE",))])
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders", "--dry-run")
    assert result.code == 1
    assert report["dry_run"] is True
    assert report["counts"]["created"] == 5 and report["counts"]["failed"] == 1
    assert actions(report)["1"] == ("created", "(new order)")
    assert erp.dump("orders") == [] and erp.dump("customers") == []
    assert (
        erp.calls_to("/api/orders", "POST") == [] and erp.calls_to("/api/customers", "POST") == []
    )
    con = db(tmp_path)
    assert con.execute("SELECT count(*) FROM bindings").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM cursors").fetchone()[0] == 0
    assert con.execute("SELECT count(*) FROM dead_letters").fetchone()[0] == 0
    result, real = run_flow(path, "orders")
    assert real["counts"]["created"] == 5  # the dry run changed nothing


def test_activity_log_has_keys_and_actions_but_no_personal_data(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    five_orders(shop)
    fail(erp, "orders", "4", 422)
    path = config(tmp_path, shop, erp)
    run_flow(path, "orders")
    logs = run_ihost("-c", str(path), "logs", "orders")
    assert logs.code == 0
    assert "orders" in logs.out and "created" in logs.out and "failed" in logs.out
    as_json = json.loads(run_ihost("-c", str(path), "logs", "orders", "--json").out)
    keys = {(e["record_key"], e["action"]) for e in as_json["events"] if e["action"]}
    assert ("1", "created") in keys and ("4", "failed") in keys
    everything = logs.out + json.dumps(as_json)
    for private in ("@example.com", "Dorpsstraat", "Jansen", "1234 AB"):
        assert private not in everything
    stored = "\n".join(
        str(row) for row in db(tmp_path).execute("SELECT message, payload FROM events")
    )
    assert "@example.com" not in stored and "Dorpsstraat" not in stored


def test_json_report_shape(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox) -> None:
    shop.seed("orders", [order("1", "1001")])
    result, report = run_flow(config(tmp_path, shop, erp), "orders")
    assert result.code == 0
    assert {"flow", "kind", "dry_run", "counts", "actions"} <= set(report)
    assert set(report["counts"]) == {"read", "created", "updated", "unchanged", "skipped", "failed"}
    assert report["flow"] == "orders" and report["kind"] == "orders"
    assert set(report["actions"][0]) == {"key", "action", "target_id", "reason"}
    plain = run_ihost("-c", str(config(tmp_path, shop, erp)), "run", "orders", "--full")
    assert plain.code == 0
    assert plain.out.startswith("orders (orders): read 1 · created 0 · updated 0 · unchanged 1")


def test_unknown_flow(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox) -> None:
    result = run_ihost("-c", str(config(tmp_path, shop, erp)), "run", "stock")
    assert (
        result.code == 2
        and result.err.strip() == "ihost.toml: no flow 'stock' (configured: orders)"
    )


SHIPMENTS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"

[flows.shipments]
kind = "shipments"
source = "erp"
target = "shop"

[flows.refunds]
kind = "refunds"
source = "shop"
target = "erp"
"""


def test_shipments_and_refunds_find_their_orders_through_bindings(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001"), order("2", "1002")])
    path = config(tmp_path, shop, erp, SHIPMENTS)
    _, report = run_flow(path, "orders")
    erp_ids = {k: target for k, (_, target) in actions(report).items()}
    erp.seed(
        "shipments",
        [
            {
                "id": "D1",
                "key": "D1",
                "order_key": erp_ids["1"],
                "carrier": "PostNL",
                "tracking_number": "3S123",
                "tracking_url": "https://t.example/3S123",
                "lines": [{"sku": "SKU-1", "quantity": "1"}],
                "complete": False,
            },
            {
                "id": "D2",
                "key": "D2",
                "order_number": "1002",
                "carrier": "DHL",
                "tracking_number": "JD1",
            },
        ],
    )
    result, shipped = run_flow(path, "shipments")
    assert result.code == 0, result.output
    created = {s["source_key"]: s for s in shop.dump("shipments")}
    assert created["D1"]["order_id"] == "1"  # the shop's order, through the orders binding
    assert created["D1"]["tracking_url"] == "https://t.example/3S123"
    assert created["D2"]["order_id"] == "2"  # unbound: the connector found it by number
    assert actions(shipped)["D2"][0] == "created"
    assert [a["reason"] for a in shipped["actions"] if a["key"] == "D2"] == [
        "order 1002 found by number"
    ]
    # testshop takes split shipments: no warning; a second run writes nothing
    _, again = run_flow(path, "shipments", "--full")
    assert again["counts"]["unchanged"] == 2 and len(shop.dump("shipments")) == 2

    shop.seed(
        "refunds",
        [
            {
                "id": "R1",
                "key": "R1",
                "order_key": "2",
                "total": "10.00",
                "currency": "EUR",
                "lines": [{"sku": "SKU-1", "quantity": "1", "amount": "10.00"}],
            }
        ],
    )
    result, refunded = run_flow(path, "refunds")
    assert refunded["counts"]["created"] == 1
    assert result.code == 0, result.output
    (refund,) = erp.dump("refunds")
    assert refund["order_id"] == erp_ids["2"] and refund["total"] == "10.00"


def test_source_record_that_cannot_be_read_is_dead_lettered(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed(
        "orders", [order("1", "1001"), order("2", "1002", currency="EURO"), order("3", "1003")]
    )
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "1": "created",
        "2": "failed",
        "3": "created",
    }
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed["reason"] == "order 2: currency: 'EURO' is not an ISO 4217 currency code"
