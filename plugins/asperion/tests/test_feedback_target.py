"""Asperion as a target of feedback: the latest feedback on a debtor's orders, one line in
the debtor field feedback_field names. The debtor is found by the order id the orders
bindings give, by the order number, or by the customer key; a line of a later day is never
overwritten by an older one. Over the sandbox, and through the CLI from the test shop."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from flow_data import customer, order
from helpers import actions, authorize, one_line, run_flow, run_ihost, write_config
from ihost_asperion.convert import feedback_line, feedback_replaces
from ihost_asperion.plugin import AsperionPlugin
from ihost_asperion.samples import SETTINGS
from ihost_asperion.sandbox import AsperionSandbox
from ihost_testconnectors.sandbox import RecordSandbox
from pydantic import ValidationError

from host.authorize import authorize_at_sandbox
from host.errors import RecordInvalid
from host.models import Feedback
from host.plugins import Connection, PluginInfo

FIELD = "characteristic4"
SENT = datetime(2026, 3, 11, 9, 0, tzinfo=timezone.utc)
COMPLETED = datetime(2026, 3, 13, 9, 0, tzinfo=timezone.utc)


@contextmanager
def connect(sandbox: AsperionSandbox, **settings: Any) -> Iterator[Connection]:
    """The Asperion connection to the sandbox's administration, authorized, writing
    feedback into characteristic4."""
    given = {**sandbox.connection_settings(), **SETTINGS, "feedback_field": FIELD, **settings}
    model = AsperionPlugin.Settings.model_validate(given)
    with Connection("erp", PluginInfo(name="asperion", cls=AsperionPlugin), model) as conn:
        authorize_at_sandbox(conn.hook.oauth2_flow())
        yield conn


def feedback(number: str | None = "1001", status: str = "completed", **changes: Any) -> Feedback:
    """Feeddex's feedback on order `number`: answered with F100 85 (8.5) on 13 March, or
    sent on 11 March."""
    answered = status == "completed"
    return Feedback.model_validate(
        {
            "key": f"fb-{number}",
            "order_number": number,
            "customer_key": "c-unknown",
            "status": status,
            "score": Decimal("85") if answered else None,
            "grade": Decimal("8.5") if answered else None,
            "sent_at": SENT,
            "completed_at": COMPLETED if answered else None,
            **changes,
        }
    )


def write(conn: Connection, record: Feedback, order_id: str | None = None) -> str:
    return str(conn.hook.write_feedback(feedback=record, order_id=order_id))


def debtor(sandbox: AsperionSandbox, number: str) -> dict[str, Any]:
    (found,) = [d for d in sandbox.dump("debtors") if d["customerNumber"] == number]
    return found


def kept(sandbox: AsperionSandbox, number: str) -> Any:
    """What the debtor's feedback field holds."""
    return debtor(sandbox, number).get(FIELD)


def invoice(number: str, customer_number: str) -> dict[str, Any]:
    line = {"description": "Article SKU-1", "amount": 10.0, "vatCode": "H21"}
    return {
        "invoiceNumber": number,
        "date": "2026-03-01",
        "debtorCustomerNumber": customer_number,
        "journalId": "VK",
        "lines": {"_data": [{**line, "ledgerAccountId": 8000}]},
    }


def sales_order(number: str, debtor_id: int) -> dict[str, Any]:
    return {
        "debtorId": debtor_id,
        "orderNumber": number,
        "date": "2026-03-01",
        "lines": {"_data": [{"articleCode": "SKU-1", "quantity": 1, "unitPrice": 10.0}]},
    }


def id_of(sandbox: AsperionSandbox, kind: str, field: str, number: str) -> str:
    (found,) = [r for r in sandbox.dump(kind) if r[field] == number]
    return str(found["id"])


def puts(sandbox: AsperionSandbox) -> int:
    return len(sandbox.calls_to("/v1/debtors/", "PUT"))


# --- finding the debtor --------------------------------------------------------------------


def test_found_by_the_invoice_id_of_the_orders_bindings(asperion: AsperionSandbox) -> None:
    asperion.seed("salesinvoices", [invoice("INV-7", "10000"), invoice("1001", "10500")])
    order_id = id_of(asperion, "salesinvoices", "invoiceNumber", "1001")
    with connect(asperion) as conn:
        assert write(conn, feedback(), order_id) == "10500"
    anna = debtor(asperion, "10500")
    assert anna[FIELD] == "F100 85 (8.5) order 1001, 2026-03-13"
    assert anna["iban"] == "NL91ABNA0417164300"  # the PUT kept the rest of the debtor
    assert kept(asperion, "10000") is None
    # no order number on the feedback: the invoice's own number is shown
    with connect(asperion) as conn:
        assert write(conn, feedback(None, key="fb-x"), order_id) == "10500"
    assert kept(asperion, "10500") == "F100 85 (8.5) order 1001, 2026-03-13"


def test_found_by_the_sales_order_id_where_sales_orders_are_the_orders(
    asperion: AsperionSandbox,
) -> None:
    anna = int(debtor(asperion, "10500")["id"])
    asperion.seed("salesorders", [sales_order("1001", anna)])
    order_id = id_of(asperion, "salesorders", "orderNumber", "1001")
    with connect(asperion, order_source="sales_orders") as conn:
        assert write(conn, feedback(), order_id) == "10500"
    assert kept(asperion, "10500") == "F100 85 (8.5) order 1001, 2026-03-13"
    assert not asperion.calls_to("/v1/salesinvoiceswithlines")  # the id named a sales order


def test_an_id_of_the_other_kind_is_not_taken_for_the_order(asperion: AsperionSandbox) -> None:
    """An orders flow wrote sales orders while order_source reads invoices: the id names
    another order (an invoice of the collective debtor); the number finds the right one."""
    asperion.seed("salesinvoices", [invoice("INV-7", "10000")])
    asperion.seed("salesorders", [sales_order("1001", int(debtor(asperion, "10500")["id"]))])
    order_id = id_of(asperion, "salesorders", "orderNumber", "1001")
    assert order_id == id_of(asperion, "salesinvoices", "invoiceNumber", "INV-7")
    with connect(asperion) as conn:
        assert write(conn, feedback(), order_id) == "10500"
    assert kept(asperion, "10000") is None


def test_found_by_the_customer_key(asperion: AsperionSandbox) -> None:
    """No order numbered so (an order Asperion does not have): Feeddex's customer code is
    the debtor's customer number."""
    with connect(asperion) as conn:
        assert write(conn, feedback("WEB-77", customer_key="10500")) == "10500"
    assert kept(asperion, "10500") == "F100 85 (8.5) order WEB-77, 2026-03-13"


@pytest.mark.parametrize("kind", ["salesinvoices", "salesorders"])
def test_found_by_the_order_number(asperion: AsperionSandbox, kind: str) -> None:
    anna = debtor(asperion, "10500")
    if kind == "salesinvoices":
        asperion.seed(kind, [invoice("1001", "10500")])
    else:
        asperion.seed(kind, [sales_order("1001", int(anna["id"]))])
    with connect(asperion) as conn:  # customer_key names no debtor: the number finds it
        assert write(conn, feedback()) == "10500"
    assert kept(asperion, "10500") == "F100 85 (8.5) order 1001, 2026-03-13"


def test_the_order_number_goes_before_the_customer_key(asperion: AsperionSandbox) -> None:
    """A webshop's customer key may be any debtor's number: the order is surer."""
    asperion.seed("salesinvoices", [invoice("1001", "10500")])
    with connect(asperion) as conn:
        assert write(conn, feedback(customer_key="10000")) == "10500"
    assert kept(asperion, "10000") is None


def test_none_found_fails_naming_the_field_and_what_was_looked_up(
    asperion: AsperionSandbox,
) -> None:
    with connect(asperion) as conn:
        with pytest.raises(RecordInvalid) as by_number:
            write(conn, feedback("9999"), "4242")
        with pytest.raises(RecordInvalid) as by_key:
            write(conn, feedback(None, customer_key="77777"))
        with pytest.raises(RecordInvalid) as neither:
            write(conn, feedback(None, customer_key=None))
    assert by_number.value.field == "order_number" and by_number.value.key == "fb-9999"
    message = str(by_number.value)
    assert "invoice 4242 numbered 9999" in message
    assert "salesinvoiceswithlines InvoiceNumber, SalesOrderWithLines OrderNumber" in message
    assert "no debtor with customer number c-unknown" in message
    assert by_key.value.field == "customer_key"
    assert "no debtor with customer number 77777 (CustomerNumber)" in str(by_key.value)
    assert neither.value.field == "order_number"
    assert "names no order number or customer key" in str(neither.value)
    assert puts(asperion) == 0


def test_an_order_of_a_debtor_asperion_lacks_fails_naming_it(asperion: AsperionSandbox) -> None:
    asperion.seed("salesinvoices", [invoice("1001", "10000")])
    with asperion.lock:  # a debtor removed since
        table = asperion.administrations[asperion.administration_id].tables["salesinvoices"]
        (lost,) = table.values()
        lost["debtorCustomerNumber"] = "55555"
    with connect(asperion) as conn, pytest.raises(RecordInvalid) as failed:
        write(conn, feedback())
    assert failed.value.field == "debtorCustomerNumber"
    assert "names debtor 55555" in str(failed.value)


# --- what the field holds --------------------------------------------------------------------


def test_replaced_not_added_and_written_once(asperion: AsperionSandbox) -> None:
    asperion.seed("salesinvoices", [invoice("1001", "10500")])
    with connect(asperion) as conn:
        assert write(conn, feedback(status="sent")) == "10500"
        assert kept(asperion, "10500") == "feedback sent for order 1001, 2026-03-11"
        assert write(conn, feedback()) == "10500"
        assert kept(asperion, "10500") == "F100 85 (8.5) order 1001, 2026-03-13"
        assert puts(asperion) == 2
        assert write(conn, feedback()) == "10500"  # the same again: nothing to write
    assert puts(asperion) == 2
    assert kept(asperion, "10500") == "F100 85 (8.5) order 1001, 2026-03-13"


def test_an_older_feedback_does_not_overwrite_a_newer_one(asperion: AsperionSandbox) -> None:
    """Two orders of one debtor: the field shows the most recent feedback by day."""
    asperion.seed("salesinvoices", [invoice("1001", "10500"), invoice("1002", "10500")])
    newest = "F100 85 (8.5) order 1001, 2026-03-13"
    with connect(asperion) as conn:
        write(conn, feedback("1001"))
        # order 1002's invitation, sent on the 11th, comes after 1001's answer of the 13th
        assert write(conn, feedback("1002", status="sent")) == "10500"
        assert kept(asperion, "10500") == newest
        # of one day, what comes later (an answer) stays over what comes earlier
        write(conn, feedback("1002", status="sent", sent_at=COMPLETED))
        assert kept(asperion, "10500") == newest
        # 1001's own invitation, written again after its answer, does not undo it
        write(conn, feedback("1001", status="sent"))
        assert kept(asperion, "10500") == newest
        # a reminder for 1002 on the 20th is the most recent
        reminded = datetime(2026, 3, 20, 9, 0, tzinfo=timezone.utc)
        write(conn, feedback("1002", status="reminded", updated_at=reminded))
    assert kept(asperion, "10500") == "feedback reminded for order 1002, 2026-03-20"
    assert puts(asperion) == 2


def test_a_user_text_in_the_field_is_replaced(asperion: AsperionSandbox) -> None:
    anna = debtor(asperion, "10500")
    asperion.seed("debtors", [{**anna, FIELD: "call before delivery"}])
    with connect(asperion) as conn:
        write(conn, feedback(customer_key="10500", status="expired", updated_at=COMPLETED))
    assert kept(asperion, "10500") == "feedback expired for order 1001, 2026-03-13"


def test_the_line_says_status_score_order_and_amsterdam_day() -> None:
    late = datetime(2026, 3, 13, 23, 30, tzinfo=timezone.utc)  # the 14th in Amsterdam
    assert feedback_line(feedback(completed_at=late), "1001", 100) == (
        "F100 85 (8.5) order 1001, 2026-03-14"
    )
    assert feedback_line(feedback(grade=None), "1001", 100) == "F100 85 order 1001, 2026-03-13"
    assert feedback_line(feedback(score=None), "1001", 100) == (
        "feedback completed for order 1001, 2026-03-13"
    )
    assert feedback_line(feedback(status="sent"), None, 100) == "feedback sent, 2026-03-11"
    undated = feedback(status="entered", sent_at=None)
    assert feedback_line(undated, "1001", 100) == "feedback entered for order 1001"
    # nothing of the customer's: only what the flow's binding keeps too
    named = feedback(customer_key="anna@example.com", unit="Amsterdam")
    assert "anna" not in feedback_line(named, "1001", 100)


def test_a_long_order_number_is_cut_within_the_length() -> None:
    number = "WEB-" + "9" * 60
    line = feedback_line(feedback(number), number, 50)
    assert line == "F100 85 (8.5) order WEB-99999999999..., 2026-03-13" and len(line) == 50
    assert feedback_line(feedback(number), number, 30) == "F100 85 (8.5), 2026-03-13"
    sent = feedback_line(feedback(number, status="reminded", updated_at=SENT), number, 30)
    assert sent == "feedback reminded, 2026-03-11"
    # a cut line still tells its day
    assert not feedback_replaces(feedback_line(feedback("1", status="sent"), "1", 100), line)


def test_feedback_max_length_is_kept_in_asperion(asperion: AsperionSandbox) -> None:
    number = "WEB-" + "9" * 60
    with connect(asperion, feedback_max_length=40) as conn:
        write(conn, feedback(number, customer_key="10500"))
    assert kept(asperion, "10500") == "F100 85 (8.5) order WEB-9..., 2026-03-13"


# --- settings and config ---------------------------------------------------------------------


def test_feedback_field_is_a_debtor_field_used_once() -> None:
    base = {"client_id": "x", "client_secret": "y", "business_booking_group": "BI"}
    model = AsperionPlugin.Settings
    assert model.model_validate({**base, "feedback_field": "comments"}).feedback_field
    with pytest.raises(ValidationError, match="booking_group_field"):
        model.model_validate(
            {**base, "feedback_field": "characteristic5", "booking_group_field": "characteristic5"}
        )
    with pytest.raises(ValidationError, match="feedback_field"):
        model.model_validate({**base, "feedback_field": "freeField1"})  # an article's
    with pytest.raises(ValidationError, match="feedback_max_length"):
        model.model_validate({**base, "feedback_max_length": 20})


def test_without_feedback_field_nothing_is_written(asperion: AsperionSandbox) -> None:
    with connect(asperion, feedback_field=None) as conn, pytest.raises(RecordInvalid) as failed:
        write(conn, feedback(customer_key="10500"))
    assert failed.value.field == "feedback_field"
    assert not asperion.calls_to("/v1/debtors")


FLOWS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"
[flows.orders.settings]
order_type = "invoice"

[flows.feedback]
kind = "feedback"
source = "shop"
target = "erp"
"""


@pytest.fixture
def testshop() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


def test_a_feedback_flow_without_feedback_field_fails_validation(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    connections = {"shop": ("testshop", testshop), "erp": ("asperion", asperion, SETTINGS)}
    config = write_config(tmp_path, connections, FLOWS)
    result = run_ihost("-c", str(config), "config", "validate")
    assert result.code == 2, result.output
    line = one_line(result)
    assert "feedback_field" in line and "writes feedback only when" in line, line
    with_field = {**SETTINGS, "feedback_field": FIELD}
    connections["erp"] = ("asperion", asperion, with_field)
    config = write_config(tmp_path, connections, FLOWS)
    result = run_ihost("-c", str(config), "config", "validate")
    assert result.code == 0, result.output


def shop_feedback(key: str, number: str, **fields: Any) -> dict[str, Any]:
    """The test shop's feedback on order `number`, as its sandbox keeps it."""
    return {"id": key, "key": key, "order_number": number, "customer_key": "c1", **fields}


@pytest.mark.usefixtures("secret_key")
def test_feedback_flows_from_the_shop_into_the_debtors(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed(
        "orders",
        [
            order("o1", "1001", customer_data=customer("c-anna", "anna@example.com")),
            order("o2", "1002", customer_data=customer("c-new", "new@example.com")),
        ],
    )
    settings = {**SETTINGS, "feedback_field": FIELD}
    connections = {"shop": ("testshop", testshop), "erp": ("asperion", asperion, settings)}
    config = write_config(tmp_path, connections, FLOWS)
    authorize(config, "erp")
    result, _ = run_flow(config, "orders")
    assert result.code == 0, result.output
    new = next(d for d in asperion.dump("debtors") if d.get("emailAddress") == "new@example.com")
    testshop.seed(
        "feedback",
        [
            # found through the orders binding (its order key) ...
            shop_feedback("F1", "1001", order_key="o1", status="sent", sent_at=SENT.isoformat()),
            # ... and by its number
            shop_feedback(
                "F2",
                "1002",
                status="completed",
                score="90",
                grade="9.0",
                sent_at=SENT.isoformat(),
                completed_at="2026-03-12T10:00:00+00:00",
            ),
        ],
    )
    result, first = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert actions(first) == {
        "F1": ("created", "10500"),
        "F2": ("created", new["customerNumber"]),
    }
    assert [a["reason"] for a in first["actions"] if a["key"] == "F2"] == [
        "order 1002 found by number"
    ]
    assert kept(asperion, "10500") == "feedback sent for order 1001, 2026-03-11"
    assert kept(asperion, new["customerNumber"]) == "F100 90 (9) order 1002, 2026-03-12"

    # Anna answers: her feedback moves on, and the line is replaced
    testshop.seed(
        "feedback",
        [
            shop_feedback(
                "F1",
                "1001",
                order_key="o1",
                status="completed",
                score="85",
                grade="8.5",
                sent_at=SENT.isoformat(),
                completed_at=COMPLETED.isoformat(),
            )
        ],
    )
    result, second = run_flow(config, "feedback")
    assert result.code == 0, result.output
    assert actions(second)["F1"] == ("updated", "10500")
    assert kept(asperion, "10500") == "F100 85 (8.5) order 1001, 2026-03-13"
    written = puts(asperion)
    _, third = run_flow(config, "feedback", "--full")
    assert third["counts"]["unchanged"] == 2 and puts(asperion) == written
