"""Orders flow through the CLI: testshop (webshop) -> testerp (accounting)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_data import customer, order, product
from helpers import actions, run_flow, run_ihost, write_config
from ihost_testconnectors.sandbox import RecordSandbox

FLOWS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"
"""


@pytest.fixture
def erp() -> Iterator[RecordSandbox]:  # seeded as this module needs
    with RecordSandbox() as running:
        running.seed("products", [product("SKU-1"), product("SKU-2")])
        yield running


def config(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, flows: str = FLOWS) -> Path:
    return write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, flows)


def test_paid_orders_become_sales_orders_with_their_debtors(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    company = customer("c-acme", "inkoop@acme.nl", company="Acme BV", vat_number="NL001")
    shop.seed(
        "orders",
        [
            order("1", "1001", customer_data=company),
            order("2", "1002", customer_data=customer("c-jan", "Jan@Example.com")),
            order("3", "1003", customer_data=customer("c-jan2", "jan@example.COM")),
            order("4", "1004", status="pending"),
        ],
    )
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert report["counts"] == {
        "read": 3,
        "created": 3,
        "updated": 0,
        "unchanged": 0,
        "skipped": 0,
        "failed": 0,
    }
    assert "4" not in actions(report)  # the unpaid order is not read at all

    debtors = {d["email"]: d for d in erp.dump("customers")}
    assert set(debtors) == {"inkoop@acme.nl", "jan@example.com"}  # one debtor for both cases
    assert debtors["inkoop@acme.nl"]["company"] == "Acme BV"
    assert debtors["inkoop@acme.nl"]["first_name"] == "Jan"  # the contact person
    assert debtors["jan@example.com"]["company"] is None

    orders = {o["number"]: o for o in erp.dump("orders")}
    assert set(orders) == {"1001", "1002", "1003"}
    assert orders["1001"]["debtor_id"] == debtors["inkoop@acme.nl"]["id"]
    assert orders["1002"]["debtor_id"] == orders["1003"]["debtor_id"]
    assert orders["1001"]["order_type"] == "sales_order"
    assert orders["1001"]["lines"][0]["sku"] == "SKU-1"
    assert orders["1001"]["shipping_lines"][0]["price"] == "4.95"

    writes = len(erp.calls_to("/api/", "POST")) + len(erp.calls_to("/api/", "PUT"))
    again, second = run_flow(path, "orders")
    assert again.code == 0
    # the cursor is inclusive: orders of the newest second are read again, and written never
    assert second["counts"]["created"] == 0 and second["counts"]["unchanged"] == 3
    _, third = run_flow(path, "orders", "--full")
    assert third["counts"]["unchanged"] == 3
    assert len(erp.calls_to("/api/", "POST")) + len(erp.calls_to("/api/", "PUT")) == writes
    assert len(erp.dump("orders")) == 3


def test_existing_order_is_skipped_and_bound(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001"), order("2", "1002")])
    erp.seed("orders", [{"id": "SO-77", "source_key": "1", "number": "1001"}])
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders")
    assert result.code == 0
    assert actions(report)["1"] == ("skipped", "SO-77")
    assert actions(report)["2"][0] == "created"
    assert len(erp.dump("orders")) == 2
    _, again = run_flow(path, "orders", "--full")
    assert actions(again)["1"] == ("unchanged", "SO-77")


def test_missing_sku_fails_only_its_order(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed(
        "orders",
        [order("1", "1001"), order("2", "1002", skus=("SKU-1", "NOPE-9")), order("3", "1003")],
    )
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders")
    assert result.code == 1
    assert report["counts"]["created"] == 2 and report["counts"]["failed"] == 1
    failed = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed == [
        {
            "key": "2",
            "action": "failed",
            "target_id": None,
            "reason": "order 1002: SKU NOPE-9 not found in erp",
        }
    ]
    assert {o["number"] for o in erp.dump("orders")} == {"1001", "1003"}
    assert [c["email"] for c in erp.dump("customers")].count("buyer2@example.com") == 0


def test_order_types_default_debtor_and_mapping(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed(
        "orders",
        [
            order("1", "1001"),
            order(
                "2",
                "1002",
                payment_method="paypal",
                shipping_address=None,
                billing_address={"country": "BE"},
            ),
        ],
    )
    flows = (
        FLOWS
        + """
[flows.orders.settings]
order_type = "invoice"
default_debtor = "D-COLLECTIVE"
[flows.orders.mapping]
payment_method = { ideal = "IDEAL", "*" = "OTHER" }
shipping_method = { PostNL = "PNL" }
tax_code_by_country = { NL = "1", "*" = "0" }
revenue_account_by_country = { NL = "8000", BE = "8100" }
cost_centre = "100"
fields = { reference = "web-{number}", "native.OrderChannel" = "webshop" }
"""
    )
    path = config(tmp_path, shop, erp, flows)
    result, report = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 2
    orders = {o["number"]: o for o in erp.dump("orders")}
    first, second = orders["1001"], orders["1002"]
    assert first["order_type"] == "invoice" and first["debtor_id"] == "D-COLLECTIVE"
    assert erp.dump("customers") == []
    assert (first["payment_method"], second["payment_method"]) == ("IDEAL", "OTHER")
    assert first["shipping_lines"][0]["method"] == "PNL"
    assert first["reference"] == "web-1001"
    assert first["OrderChannel"] == "webshop"
    assert (first["tax_code"], second["tax_code"]) == ("1", "0")
    assert (first["revenue_account"], second["revenue_account"]) == ("8000", "8100")
    assert first["cost_centre"] == "100"


def test_mapping_error_dead_letters_the_record_naming_the_field(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001"), order("2", "1002", payment_method="paypal")])
    flows = (
        FLOWS
        + """
[flows.orders.mapping]
payment_method = { ideal = "IDEAL" }
"""
    )
    path = config(tmp_path, shop, erp, flows)
    result, report = run_flow(path, "orders")
    assert result.code == 1
    assert actions(report)["1"][0] == "created"
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed["reason"] == (
        "order 2: payment_method: no mapping for 'paypal' and no '*' default"
    )


def test_transforms_by_entry_point_and_by_module(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    (tmp_path / "shop_rules.py").write_text(
        "def note_number(order):\n"
        "    return order.model_copy(update={'note': 'order ' + order.number})\n"
        "def refuse_big(order):\n"
        "    if order.number == '1002':\n"
        "        raise ValueError('order too big for the ERP')\n"
        "    return order\n"
    )
    shop.seed("orders", [order("1", "1001"), order("2", "1002")])
    flows = (
        FLOWS
        + """
[flows.orders.mapping]
transforms = ["tag_web", "shop_rules:note_number", "shop_rules:refuse_big"]
"""
    )
    path = config(tmp_path, shop, erp, flows)
    result = run_ihost(
        "-c", str(path), "run", "orders", "--json", env={"PYTHONPATH": str(tmp_path)}
    )
    assert result.code == 1, result.output
    report = json.loads(result.out)
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed["key"] == "2"
    assert failed["reason"] == (
        "order 2: transform shop_rules:refuse_big failed: ValueError: order too big for the ERP"
    )
    (written,) = erp.dump("orders")
    assert written["tags"] == ["web"] and written["note"] == "order 1001"
