"""Asperion as a source of orders: sales invoices (or, when asked, sales orders) read over
HTTP from the sandbox as Orders of their debtors, with lines and totals; paging, the
cursor, statuses, bad invoices failing alone, each debtor read once a run; and an orders
flow from Asperion through the CLI."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import actions, authorize, dead_letters, run_flow, write_config
from ihost_asperion.plugin import AsperionPlugin
from ihost_asperion.samples import SETTINGS
from ihost_asperion.sandbox import AsperionSandbox
from ihost_testconnectors.sandbox import RecordSandbox

from host.authorize import authorize_at_sandbox
from host.errors import RecordInvalid, RemoteRejected
from host.models import Address, Order, OrderLine, ShippingLine
from host.plugins import Connection, PluginInfo

PAID, PAYABLE, CONCEPT = 7, 6, 1


@contextmanager
def connect(sandbox: AsperionSandbox, **settings: Any) -> Iterator[Connection]:
    """The Asperion connection to the sandbox's administration, authorized."""
    given = {**sandbox.connection_settings(), **SETTINGS, **settings}
    model = AsperionPlugin.Settings.model_validate(given)
    with Connection("erp", PluginInfo(name="asperion", cls=AsperionPlugin), model) as conn:
        authorize_at_sandbox(conn.hook.oauth2_flow())
        yield conn


def read(
    sandbox: AsperionSandbox,
    since: datetime | None = None,
    statuses: list[str] | None = None,
    **settings: Any,
) -> list[Order | RecordInvalid]:
    with connect(sandbox, **settings) as conn:
        return list(conn.hook.fetch_orders(since=since, statuses=statuses))


def orders(found: list[Any]) -> dict[str, Order]:
    """The orders read, by number (and nothing else was read)."""
    assert all(isinstance(o, Order) for o in found), found
    return {o.number: o for o in found}


def line(description: str, amount: Any, vat: str = "H21", ledger: int = 8000) -> dict[str, Any]:
    return {"description": description, "amount": amount, "vatCode": vat, "ledgerAccountId": ledger}


def invoice(
    number: str,
    debtor: str = "10500",
    status: int = PAID,
    date: str = "2026-05-01",
    lines: list[dict[str, Any]] | None = None,
    **changes: Any,
) -> dict[str, Any]:
    """A sales invoice in Asperion's JSON, as `seed("salesinvoices", ...)` takes it."""
    return {
        "invoiceNumber": number,
        "date": date,
        "debtorCustomerNumber": debtor,
        "journalId": "VK",
        "status": status,
        "lines": {"_data": lines or [line("Article SKU-1", 10.0)]},
        **changes,
    }


def debtor_reads(sandbox: AsperionSandbox) -> int:
    return len(sandbox.calls_to("/v1/debtors", "GET"))


def corrupt_invoice(sandbox: AsperionSandbox, number: str, field: str, value: Any) -> None:
    """What a misbehaving Asperion would send: `field` of invoice `number` set to `value`,
    past the sandbox's own checks."""
    with sandbox.lock:
        table = sandbox.administrations[sandbox.administration_id].tables["salesinvoices"]
        (row,) = [r for r in table.values() if r["invoiceNumber"] == number]
        row[field] = value


# --- invoices as orders ---------------------------------------------------------------------


def test_seeded_invoices_read_back_as_orders_of_their_debtors(asperion: AsperionSandbox) -> None:
    asperion.seed(
        "salesinvoices",
        [
            invoice(
                "2026-00001",
                lines=[
                    line("2 x Mok (SKU-1)", 20.0),
                    line("Advies", 50.0, vat="L9"),
                    line("Verzending", 4.09, ledger=8020),
                ],
                description="Order via de telefoon",
                paymentConditionId=2,
            ),
            invoice("2026-00002", debtor="10000", status=PAYABLE, date="2026-05-02"),
        ],
    )
    found = orders(read(asperion))
    assert list(found) == ["2026-00001", "2026-00002"]  # oldest date first
    anna = found["2026-00001"]
    assert anna.key == str(asperion.dump("salesinvoices")[0]["id"])
    # 1 May in Amsterdam began at 22:00 UTC on 30 April
    assert anna.created_at == datetime(2026, 4, 30, 22, tzinfo=timezone.utc)
    assert anna.updated_at == anna.created_at
    assert (anna.status, anna.currency, anna.prices_include_tax) == ("paid", "EUR", False)
    assert anna.lines == [
        OrderLine(sku="SKU-1", name="Mok", quantity=2, unit_price=Decimal("10.00"), tax_rate=21),
        OrderLine(name="Advies", quantity=1, unit_price=Decimal("50.00"), tax_rate=9),
    ]
    assert anna.shipping_lines == [
        ShippingLine(method="Verzending", price=Decimal("4.09"), tax_rate=21)
    ]
    # 74.09 excluding VAT; 21 % of 24.09 and 9 % of 50.00, each line to the cent
    assert (anna.total, anna.tax_total) == (Decimal("83.65"), Decimal("9.56"))
    assert (anna.note, anna.payment_terms) == ("Order via de telefoon", "2")
    customer = anna.customer
    assert customer is not None
    assert (customer.key, customer.email, customer.first_name, customer.last_name) == (
        "10500",
        "anna@example.com",
        "Anna",
        "de Vries",
    )
    assert customer.company is None
    assert anna.billing_address == Address(
        name="Anna de Vries",
        street="Keizersgracht",
        house_number="123",
        house_number_suffix="A",
        postcode="1015 CJ",
        city="Amsterdam",
        country="NL",
    )
    webshop = found["2026-00002"]
    assert webshop.status == "pending"  # payable: not paid yet
    assert webshop.customer is not None and webshop.customer.key == "10000"


def test_a_company_debtor_comes_with_its_person(asperion: AsperionSandbox) -> None:
    asperion.seed(
        "debtors",
        [
            {
                "customerNumber": "10600",
                "name": "Acme BV",
                "attentionTo": "Jan Jansen",
                "emailAddress": "inkoop@acme.nl",
                "debtorKindId": "BI",
            }
        ],
    )
    asperion.seed("salesinvoices", [invoice("2026-00010", debtor="10600")])
    (acme,) = read(asperion)
    assert isinstance(acme, Order) and acme.customer is not None
    assert (acme.customer.company, acme.customer.first_name, acme.customer.last_name) == (
        "Acme BV",
        "Jan",
        "Jansen",
    )
    assert acme.customer.email == "inkoop@acme.nl"


def test_orders_the_connector_wrote_as_invoices_come_back_with_their_number_and_skus(
    asperion: AsperionSandbox,
) -> None:
    sold = Order(
        key="shop-1",
        number="WEB-1001",
        created_at=datetime(2026, 5, 3, 9, 30, tzinfo=timezone.utc),
        status="paid",
        currency="EUR",
        lines=[OrderLine(sku="SKU-1", name="Mok", quantity=2, unit_price=Decimal("12.10"))],
        shipping_lines=[ShippingLine(method="PostNL", price=Decimal("4.95"))],
    )
    with connect(asperion) as conn:
        target_id = conn.hook.create_order(order=sold, order_type="invoice", debtor_id="10500")
        (concept,) = conn.hook.fetch_orders(since=None, statuses=None)
    assert isinstance(concept, Order)
    assert (concept.key, concept.number, concept.status) == (target_id, "WEB-1001", "pending")
    (written,) = asperion.dump("salesinvoices")
    asperion.seed("salesinvoices", [{**written, "status": PAID}])  # paid in Asperion
    (paid,) = read(asperion)
    assert isinstance(paid, Order)
    assert (paid.key, paid.number, paid.status) == (target_id, "WEB-1001", "paid")
    assert paid.extra["invoice_number"] == "WEB-1001"
    assert paid.created_at.astimezone(timezone.utc).date().isoformat() == "2026-05-02"
    # 24.20 and 4.95 including 21 % VAT were booked as 20.00 and 4.09 excluding it
    assert paid.lines == [
        OrderLine(sku="SKU-1", name="Mok", quantity=2, unit_price=Decimal("10.00"), tax_rate=21)
    ]
    assert paid.shipping_lines == [
        ShippingLine(method="PostNL", price=Decimal("4.09"), tax_rate=21)
    ]
    assert (paid.total, paid.tax_total) == (Decimal("29.15"), Decimal("5.06"))
    assert paid.customer is not None and paid.customer.key == "10500"


def test_a_line_that_does_not_divide_keeps_its_amount(asperion: AsperionSandbox) -> None:
    asperion.seed("salesinvoices", [invoice("2026-00020", lines=[line("3 x Mok (SKU-1)", 10.0)])])
    (found,) = read(asperion)
    assert isinstance(found, Order)
    (only,) = found.lines
    assert (only.quantity, only.unit_price) == (3, Decimal("3.3333"))


def test_reading_pages_through_every_invoice(asperion: AsperionSandbox) -> None:
    asperion.seed(
        "salesinvoices",
        [invoice(f"2026-{n:05d}", date=f"2026-05-{n:02d}") for n in range(1, 8)],
    )
    found = read(asperion, page_size=3)
    assert list(orders(found)) == [f"2026-{n:05d}" for n in range(1, 8)]
    assert len(asperion.calls_to("/v1/salesinvoiceswithlines", "GET")) == 3
    stamps = [o.updated_at for o in found if isinstance(o, Order) and o.updated_at]
    assert len(stamps) == 7 and stamps == sorted(stamps)


# --- since and statuses -----------------------------------------------------------------------


def test_without_a_lookback_every_invoice_is_read_whatever_the_cursor(
    asperion: AsperionSandbox,
) -> None:
    asperion.seed(
        "salesinvoices",
        [invoice("2026-00001", date="2026-03-01"), invoice("2026-00002", date="2026-05-20")],
    )
    since = datetime(2026, 5, 10, tzinfo=timezone.utc)
    # an invoice carries no change date: one dated in March may have been paid today
    assert list(orders(read(asperion, since))) == ["2026-00001", "2026-00002"]


@pytest.mark.parametrize(
    ("days", "numbers"),
    [
        (0, ["2026-00004"]),
        (9, ["2026-00003", "2026-00004"]),
        (100, ["2026-00001", "2026-00002", "2026-00003", "2026-00004"]),
    ],
)
def test_a_lookback_reads_the_invoices_dated_that_long_before_the_cursor(
    asperion: AsperionSandbox, days: int, numbers: list[str]
) -> None:
    dates = ("2026-03-01", "2026-04-30", "2026-05-01", "2026-05-10")
    asperion.seed(
        "salesinvoices", [invoice(f"2026-{n:05d}", date=d) for n, d in enumerate(dates, 1)]
    )
    since = datetime(2026, 5, 9, 22, 0, tzinfo=timezone.utc)  # 10 May in Amsterdam
    assert list(orders(read(asperion, since, invoice_lookback_days=days))) == numbers
    assert list(orders(read(asperion, None, invoice_lookback_days=days))) == [
        f"2026-{n:05d}" for n in range(1, 5)
    ]


@pytest.fixture
def statuses(asperion: AsperionSandbox) -> AsperionSandbox:
    """Invoices in each status: 1 concept, 2 booked, 6 payable, 7 paid, 8 on hold, 4 (not in
    the notes), and a paid credit invoice."""
    asperion.seed(
        "salesinvoices",
        [invoice(f"S{code}", status=code) for code in (1, 2, 6, 7, 8, 4)]
        + [invoice("CREDIT", lines=[line("Retour", -10.0)])],
    )
    return asperion


def by_status(found: list[Any]) -> dict[str, str]:
    return {o.number: o.status for o in orders(found).values()}


def test_only_a_paid_invoice_is_a_paid_order(statuses: AsperionSandbox) -> None:
    assert by_status(read(statuses)) == {
        "S1": "pending",
        "S2": "pending",
        "S6": "pending",
        "S7": "paid",
        "S8": "pending",
        "S4": "pending",  # unknown_order_status
        "CREDIT": "refunded",
    }


def test_paid_orders_are_asked_of_asperion_alone(statuses: AsperionSandbox) -> None:
    # what the orders flow asks: its statuses and the cancelled ones
    found = read(statuses, statuses=["paid", "cancelled", "voided"])
    # Status=7: the other invoices never leave Asperion; the credit invoice is paid too
    assert by_status(found) == {"S7": "paid", "CREDIT": "refunded"}


def test_statuses_no_single_asperion_status_stands_for_are_left_to_the_runner(
    statuses: AsperionSandbox,
) -> None:
    assert len(read(statuses, statuses=["pending"])) == 7
    assert len(read(statuses, statuses=["paid", "refunded"])) == 7


def test_the_status_table_is_a_setting(statuses: AsperionSandbox) -> None:
    found = read(
        statuses,
        statuses=["authorized"],
        invoice_statuses={"Payable": "authorized"},
        unknown_order_status="cancelled",
    )
    assert by_status(found) == {"S6": "authorized"}  # asked as Status=6
    found = read(statuses, invoice_statuses={"8": "cancelled"}, unknown_order_status="voided")
    assert by_status(found)["S8"] == "cancelled" and by_status(found)["S4"] == "voided"


# --- bad invoices and debtors -----------------------------------------------------------------


def test_a_bad_invoice_fails_alone_naming_the_invoice_and_the_field(
    asperion: AsperionSandbox,
) -> None:
    asperion.seed(
        "debtors",
        [
            {
                "customerNumber": "10600",
                "name": "Piet",
                "city": "Gouda",
                "countryCode": "XX",  # no country: Asperion checks only its form
                "debtorKindId": "BI",
            },
            {"customerNumber": "10700", "name": "Weg", "debtorKindId": "BI"},
        ],
    )
    asperion.seed(
        "salesinvoices",
        [
            invoice("OK-1"),
            invoice("BAD-AMOUNT", date="2026-05-02"),
            invoice("BAD-TOTAL", date="2026-05-03"),
            invoice("BAD-DEBTOR", debtor="10600", date="2026-05-04"),
            invoice("GONE", debtor="10700", date="2026-05-05"),
            invoice("OK-2", date="2026-05-06"),
        ],
    )
    corrupt_invoice(asperion, "BAD-AMOUNT", "lines", [line("Mok", "lots")])
    corrupt_invoice(asperion, "BAD-TOTAL", "amountInclVat", {"value": 12.1})
    (gone,) = [d for d in asperion.dump("debtors") if d["customerNumber"] == "10700"]
    asperion.seed("debtors", [{**gone, "customerNumber": "10799"}])  # renumbered in Asperion
    found = read(asperion)
    assert [o.number for o in found if isinstance(o, Order)] == ["OK-1", "OK-2"]
    ids = {i["invoiceNumber"]: str(i["id"]) for i in asperion.dump("salesinvoices")}
    failed = {f.key: f for f in found if isinstance(f, RecordInvalid)}
    assert set(failed) == {ids[n] for n in ("BAD-AMOUNT", "BAD-TOTAL", "BAD-DEBTOR", "GONE")}
    amount = failed[ids["BAD-AMOUNT"]]
    assert amount.field == "lines._data[0].amount"
    assert "invoice" in str(amount) and "BAD-AMOUNT" in str(amount)
    assert failed[ids["BAD-TOTAL"]].field == "amountInclVat"
    debtor = failed[ids["BAD-DEBTOR"]]
    assert debtor.field == "debtorCustomerNumber"
    assert "10600" in str(debtor) and "country" in str(debtor) and "BAD-DEBTOR" in str(debtor)
    missing = failed[ids["GONE"]]
    assert missing.field == "debtorCustomerNumber"
    assert "has no debtor 10700" in str(missing) and "GONE" in str(missing)
    assert isinstance(missing.payload, dict) and missing.payload["invoiceNumber"] == "GONE"


def test_an_invoice_without_a_date_names_asperions_field(asperion: AsperionSandbox) -> None:
    asperion.seed("salesinvoices", [invoice("NO-DATE")])
    corrupt_invoice(asperion, "NO-DATE", "date", None)
    (failed,) = read(asperion)
    assert isinstance(failed, RecordInvalid)
    assert failed.field == "date" and "NO-DATE" in str(failed)


def test_each_debtor_is_read_once_a_run(asperion: AsperionSandbox) -> None:
    asperion.seed(
        "salesinvoices",
        [invoice(f"A{n}") for n in range(4)] + [invoice(f"W{n}", debtor="10000") for n in range(3)],
    )
    before = debtor_reads(asperion)
    found = read(asperion, page_size=2)  # the debtors of one page are known on the next
    assert len(orders(found)) == 7
    assert debtor_reads(asperion) - before == 2
    read(asperion)
    assert debtor_reads(asperion) - before == 4  # a new run reads them again


def test_a_missing_debtor_is_asked_once_too(asperion: AsperionSandbox) -> None:
    asperion.seed("debtors", [{"customerNumber": "10700", "name": "Weg", "debtorKindId": "BI"}])
    asperion.seed("salesinvoices", [invoice(f"G{n}", debtor="10700") for n in range(3)])
    (gone,) = [d for d in asperion.dump("debtors") if d["customerNumber"] == "10700"]
    asperion.seed("debtors", [{**gone, "customerNumber": "10799"}])
    before = debtor_reads(asperion)
    found = read(asperion)
    assert len(found) == 3 and all(isinstance(f, RecordInvalid) for f in found)
    assert debtor_reads(asperion) - before == 1


# --- sales orders (order_source = "sales_orders", an unconfirmed read) -------------------------


def sales_order(debtor_id: int, number: str, **changes: Any) -> dict[str, Any]:
    return {
        "debtorId": debtor_id,
        "orderNumber": number,
        "date": "2026-05-01",
        "lines": {
            "_data": [
                {
                    "articleCode": "SKU-1",
                    "quantity": 3,
                    "unitPrice": 10.0,
                    "discountPercentage": 10,
                },
                {"articleCode": "VERZENDKOSTEN", "quantity": 1, "description": "PostNL"},
            ]
        },
        **changes,
    }


def debtor_id(sandbox: AsperionSandbox, number: str) -> int:
    (found,) = [d for d in sandbox.dump("debtors") if d["customerNumber"] == number]
    return int(found["id"])


def test_sales_orders_are_read_when_asked(asperion: AsperionSandbox) -> None:
    anna = debtor_id(asperion, "10500")
    delivery = {"name": "Acme BV", "attentionTo": "Jan Jansen", "address": "Dorpsstraat 12",
                "postCode": "1234 AB", "city": "Gouda", "countryCode": "NL"}  # fmt: skip
    asperion.seed(
        "salesorders",
        [
            sales_order(anna, "WEB-1", deliveryAddress=delivery, reference="PO-7"),
            sales_order(anna, "WEB-2", status="Delivered", dateLastChange="2026-05-02T10:00:00"),
            sales_order(debtor_id(asperion, "10000"), "", status="Delivered"),
        ],
    )
    assert read(asperion) == []  # no invoices: sales orders are read only when asked
    found = read(asperion, order_source="sales_orders", sales_order_statuses={"Delivered": "paid"})
    by_number = orders(found)
    assert set(by_number) == {"WEB-1", "WEB-2", "VO000003"}  # own number where none was given
    first = by_number["WEB-1"]
    assert (first.status, first.prices_include_tax, first.reference) == ("pending", False, "PO-7")
    assert first.lines == [
        OrderLine(
            sku="SKU-1",
            name="Article SKU-1",
            quantity=3,
            unit_price=Decimal("10.00"),
            tax_rate=21,
            discount=Decimal("3.00"),
        )
    ]
    assert first.shipping_lines == [
        ShippingLine(method="PostNL", price=Decimal("4.09"), tax_rate=21)
    ]
    assert first.shipping_address == Address(
        company="Acme BV",
        name="Jan Jansen",
        street="Dorpsstraat",
        house_number="12",
        postcode="1234 AB",
        city="Gouda",
        country="NL",
    )
    assert (first.total, first.tax_total) == (Decimal("37.62"), Decimal("6.53"))
    assert first.customer is not None and first.customer.key == "10500"
    assert by_number["WEB-2"].status == "paid"
    assert len(asperion.calls_to("/v1/debtors/", "GET")) == 2  # two debtors, each once


def test_sales_orders_since_the_cursor_and_by_status(asperion: AsperionSandbox) -> None:
    anna = debtor_id(asperion, "10500")
    asperion.seed(
        "salesorders",
        [
            sales_order(anna, "OLD", dateLastChange="2026-04-01T10:00:00"),
            sales_order(anna, "NEW", dateLastChange="2026-05-02T10:00:00", status="Delivered"),
            sales_order(anna, "OPEN", dateLastChange="2026-05-03T10:00:00"),
        ],
    )
    settings: dict[str, Any] = {
        "order_source": "sales_orders",
        "sales_order_statuses": {"Delivered": "paid"},
    }
    since = datetime(2026, 5, 1, tzinfo=timezone.utc)
    assert list(orders(read(asperion, since, **settings))) == ["NEW", "OPEN"]
    assert list(orders(read(asperion, None, ["paid"], **settings))) == ["NEW"]


def test_a_sales_order_of_an_unknown_debtor_fails_alone(asperion: AsperionSandbox) -> None:
    anna = debtor_id(asperion, "10500")
    asperion.seed("salesorders", [sales_order(anna, "LOST"), sales_order(anna, "KEPT")])
    with asperion.lock:
        table = asperion.administrations[asperion.administration_id].tables["salesorders"]
        (lost,) = [r for r in table.values() if r["orderNumber"] == "LOST"]
        lost["debtorId"] = 9999  # a debtor removed since
    found = read(asperion, order_source="sales_orders")
    (failed,) = [f for f in found if isinstance(f, RecordInvalid)]
    assert failed.field == "debtorId" and "9999" in str(failed) and "LOST" in str(failed)
    assert [o.number for o in found if isinstance(o, Order)] == ["KEPT"]


# --- the sandbox ----------------------------------------------------------------------------------


def test_the_sandbox_lists_invoices_and_sales_orders_as_the_notes_say(
    asperion: AsperionSandbox,
) -> None:
    anna = debtor_id(asperion, "10500")
    asperion.seed(
        "salesinvoices",
        [invoice("A", lines=[line("Mok", 10.0), line("Kop", 5.0)]), invoice("B", "10000", 6)],
    )
    asperion.seed("salesorders", [sales_order(anna, "WEB-1")])
    with connect(asperion) as conn:
        client = conn.plugin.client

        def numbers(**params: Any) -> list[str]:
            return [r["invoiceNumber"] for r in client.rows("salesinvoiceswithlines", params)]

        assert numbers(DebtorId=anna) == ["A"]  # the notes' filter, by the debtor's id
        assert numbers(DebtorId=99999) == []
        assert numbers(Status=6) == ["B"]
        assert numbers(Date_from="2026-05-02") == []
        for refused in ({"DateLastChange_from": "2026-01-01T00:00:00"}, {"DebtorId": "x"}):
            with pytest.raises(RemoteRejected) as answer:
                numbers(**refused)
            assert answer.value.status == 400 and next(iter(refused)) in str(answer.value)
        (first,) = client.rows("salesinvoiceswithlines", {"InvoiceNumber": "A"})
        assert first["status"] == PAID and "dateLastChange" not in first
        assert first["lines"]["_meta"] == {"totalCount": 2}
        assert [li["description"] for li in first["lines"]["_data"]] == ["Mok", "Kop"]
        (order,) = client.rows("SalesOrderWithLines")
        assert (order["debtorId"], order["orderNumber"], order["status"]) == (anna, "WEB-1", "Open")
        assert client.get("SalesOrderWithLines", order["id"])["debtorId"] == anna


# --- an orders flow from Asperion ---------------------------------------------------------------


@pytest.mark.usefixtures("secret_key")
def test_paid_invoices_flow_to_another_system_once(
    tmp_path: Path, asperion: AsperionSandbox
) -> None:
    asperion.seed(
        "debtors",
        [
            {
                "customerNumber": "10600",
                "name": "Piet",
                "city": "Ede",
                "countryCode": "XX",
                "debtorKindId": "BI",
            }
        ],
    )
    asperion.seed(
        "salesinvoices",
        [
            invoice("2026-00001"),
            invoice("2026-00002", status=PAYABLE),
            invoice("2026-00003", debtor="10600"),  # a debtor that does not convert
        ],
    )
    ids = {i["invoiceNumber"]: str(i["id"]) for i in asperion.dump("salesinvoices")}
    with RecordSandbox() as erp:
        flows = '[flows.orders]\nkind = "orders"\nsource = "books"\ntarget = "erp"\n'
        connections = {"books": ("asperion", asperion, SETTINGS), "erp": ("testerp", erp)}
        config = write_config(tmp_path, connections, flows)
        authorize(config, "books")
        result, report = run_flow(config, "orders")
        assert result.code == 1, result.output
        assert {k: a for k, (a, _) in actions(report).items()} == {
            ids["2026-00001"]: "created",
            ids["2026-00003"]: "failed",
        }
        (letter,) = dead_letters(config)
        assert letter["record_key"] == ids["2026-00003"]
        assert "debtorCustomerNumber" in letter["error"], letter
        (sent,) = erp.dump("orders")
        assert sent["number"] == "2026-00001" and sent["status"] == "paid"
        (paid_later,) = [i for i in asperion.dump("salesinvoices") if i["status"] == PAYABLE]
        asperion.seed("salesinvoices", [{**paid_later, "status": PAID}])
        _, again = run_flow(config, "orders")
        assert {k: a for k, (a, _) in actions(again).items() if a != "failed"} == {
            ids["2026-00001"]: "unchanged",
            ids["2026-00002"]: "created",
        }
        assert sorted(o["number"] for o in erp.dump("orders")) == ["2026-00001", "2026-00002"]
