"""BuchhaltungsButler through the CLI: Shopify's orders in as outgoing invoices with their
debtors; Asperion's debtors in; outbound receipts out to Asperion as sales invoices."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from helpers import actions, authorize, run_flow, run_ihost, write_config
from ihost_asperion.samples import SETTINGS as ASPERION_SETTINGS
from ihost_asperion.sandbox import AsperionSandbox
from ihost_buchhaltungsbutler.demo import outbound_receipt
from ihost_buchhaltungsbutler.sandbox import BuchhaltungsButlerSandbox
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox

from host.tokens import KEY_VARIABLE

ASPERION_STAMP = "2026-05-01T12:00:00"


@pytest.fixture
def books() -> Iterator[BuchhaltungsButlerSandbox]:
    with BuchhaltungsButlerSandbox() as running:
        yield running


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(restore_rate=2000) as running:
        yield running


@pytest.fixture
def asperion(monkeypatch: pytest.MonkeyPatch) -> Iterator[AsperionSandbox]:
    monkeypatch.setenv(KEY_VARIABLE, Fernet.generate_key().decode())
    with AsperionSandbox() as running:
        running.seed(
            "vatcodes",
            [
                {"id": "DE19", "description": "OSS 19%", "percentage": 19.0, "countryCode": "DE"},
                {"id": "DE7", "description": "OSS 7%", "percentage": 7.0, "countryCode": "DE"},
            ],
        )
        yield running


def receipt(number: int, counterparty: str, net: str, rate: str, paid: bool = True) -> dict:
    return outbound_receipt(f"RE-{number}", counterparty, net, rate, paid, "2026-05-01")


def orders_flow(source: str, target: str, order_type: str, more: str = "") -> str:
    return (
        f'[flows.orders]\nkind = "orders"\nsource = "{source}"\ntarget = "{target}"\n'
        f'[flows.orders.settings]\norder_type = "{order_type}"\n{more}'
    )


def test_shopify_orders_become_outgoing_invoices_with_their_debtors(
    tmp_path: Path, shop: ShopifySandbox, books: BuchhaltungsButlerSandbox
) -> None:
    shop.seed(
        "orders",
        [
            samples.order(1001, company="Acme GmbH", email="einkauf@acme.de"),
            samples.order(1002, email="anna@example.com", taxesIncluded=False),
        ],
    )
    connections = {"shop": ("shopify", shop), "books": ("buchhaltungsbutler", books)}
    config = write_config(tmp_path, connections, orders_flow("shop", "books", "invoice"))
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 2
    invoices = {i["invoicenumber"]: i for i in books.dump("invoices")}
    acme = invoices["1001"]
    assert acme["show_prices_type"] == "gross"
    assert acme["company_name"] == "Acme GmbH" and acme["contact_person_name"] == "Anna de Vries"
    assert acme["item_name"] == ["Product SKU-1", "PostNL"]
    assert acme["item_amount"] == [2, 1] and acme["item_vat"] == [21, 21]
    assert acme["item_single_price"] == [12.1, 6.95]
    debtors = {d["email"]: d for d in books.dump("debtors") if d.get("email")}
    assert acme["customer_number"] == debtors["einkauf@acme.de"]["customer_number"]
    assert debtors["einkauf@acme.de"]["name"] == "Acme GmbH"
    assert debtors["einkauf@acme.de"]["contact_person_name"] == "Anna de Vries"
    assert invoices["1002"]["show_prices_type"] == "net"  # the shop's prices exclude VAT
    (receipt_1001,) = [r for r in books.dump("receipts") if r["invoicenumber"] == "1001"]
    assert receipt_1001["type"] == "invoice outbound" and receipt_1001["amount"] == "31.15"
    _, again = run_flow(config, "orders", "--full")
    assert again["counts"]["created"] == 0 and len(books.dump("invoices")) == 2


def test_asperion_debtors_become_buchhaltungsbutler_debtors(
    tmp_path: Path, asperion: AsperionSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    asperion.seed(
        "debtors",
        [
            {
                "customerNumber": "10501",
                "name": "Bäckerei Müller GmbH",
                "attentionTo": "Jonas Müller",
                "emailAddress": "einkauf@mueller.de",
                "address": "Hauptstraße 5",
                "postCode": "50667",
                "city": "Köln",
                "countryCode": "DE",
                "vatNumber": "DE123456789",
                "debtorKindId": "EU",
                "dateLastChange": ASPERION_STAMP,
            },
            {
                "customerNumber": "10502",
                "name": "Piet Jansen",
                "emailAddress": "piet@example.com",
                "debtorKindId": "BI",
                "dateLastChange": ASPERION_STAMP,
            },
        ],
    )
    connections = {
        "erp": ("asperion", asperion, ASPERION_SETTINGS),
        "books": ("buchhaltungsbutler", books),
    }
    flows = '[flows.customers]\nkind = "customers"\nsource = "erp"\ntarget = "books"\n'
    config = write_config(tmp_path, connections, flows)
    authorize(config, "erp")
    result, report = run_flow(config, "customers")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 2
    debtors = {d["customer_number"]: d for d in books.dump("debtors")}
    mueller = debtors["10501"]
    assert (mueller["name"], mueller["contact_person_name"]) == (
        "Bäckerei Müller GmbH",
        "Jonas Müller",
    )
    assert (mueller["street"], mueller["zip"], mueller["city"], mueller["country"]) == (
        "Hauptstraße 5",
        "50667",
        "Köln",
        "DE",
    )
    assert mueller["sales_tax_id_eu"] == "DE123456789"
    assert debtors["10502"]["name"] == "Piet Jansen" and not debtors["10502"].get(
        "contact_person_name"
    )
    _, again = run_flow(config, "customers", "--full")
    assert again["counts"]["created"] == 0 and again["counts"]["updated"] == 0


def test_paid_outbound_receipts_reach_asperion_as_invoices(
    tmp_path: Path, asperion: AsperionSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    books.seed(
        "debtors",
        [
            {
                "name": "Kaffeehaus Schmidt",
                "contact_person_name": "Lena Schmidt",
                "street": "Marktplatz 1",
                "zip": "10115",
                "city": "Berlin",
                "country": "DE",
                "email": "lena@kaffeehaus-schmidt.de",
                "customer_number": "K-2001",
            }
        ],
    )
    books.seed(
        "receipts",
        [
            receipt(1, "Kaffeehaus Schmidt", "250.00", "19"),
            receipt(2, "Kaffeehaus Schmidt", "80.00", "7"),
            receipt(3, "Kaffeehaus Schmidt", "40.00", "19", paid=False),
            receipt(4, "Laufkundschaft", "12.00", "19"),  # no debtor: no e-mail
        ],
    )
    connections = {
        "books": ("buchhaltungsbutler", books),
        "erp": ("asperion", asperion, ASPERION_SETTINGS),
    }
    config = write_config(tmp_path, connections, orders_flow("books", "erp", "invoice"))
    authorize(config, "erp")
    result, report = run_flow(config, "orders")
    assert result.code == 1, result.output
    by_number = {a["key"]: a for a in report["actions"]}
    assert sorted(a["action"] for a in by_number.values()) == ["created", "created", "failed"]
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert "email" in failed["reason"]
    invoices = {i["invoiceNumber"]: i for i in asperion.dump("salesinvoices")}
    assert sorted(invoices) == ["RE-1", "RE-2"]
    (line,) = invoices["RE-1"]["lines"]["_data"]
    assert (line["amount"], line["vatAmount"], line["vatCode"]) == (250.0, 47.5, "DE19")
    (schmidt,) = [d for d in asperion.dump("debtors") if d.get("name") == "Kaffeehaus Schmidt"]
    assert schmidt["attentionTo"] == "Lena Schmidt"
    assert invoices["RE-2"]["debtorCustomerNumber"] == schmidt["customerNumber"]

    # a receipt added since: date_since_last_modified does not show it; the date pass does
    books.seed("receipts", [receipt(5, "Kaffeehaus Schmidt", "10.00", "19")])
    _, second = run_flow(config, "orders")
    assert {k: a for k, (a, _) in actions(second).items() if a == "created"}
    assert sorted(i["invoiceNumber"] for i in asperion.dump("salesinvoices")) == [
        "RE-1",
        "RE-2",
        "RE-5",
    ]


@pytest.mark.parametrize("kind", ["products", "stock"])
def test_products_and_stock_into_buchhaltungsbutler_fail_at_load_saying_why(
    tmp_path: Path, asperion: AsperionSandbox, books: BuchhaltungsButlerSandbox, kind: str
) -> None:
    connections = {
        "erp": ("asperion", asperion, ASPERION_SETTINGS),
        "books": ("buchhaltungsbutler", books),
    }
    flows = f'[flows.x]\nkind = "{kind}"\nsource = "erp"\ntarget = "books"\n'
    config = write_config(tmp_path, connections, flows)
    result = run_ihost("-c", str(config), "run", "x")
    assert result.code == 2 and result.err.count("\n") == 1, result.output
    assert f"does not write {kind}: BuchhaltungsButler's API has no" in result.err


def lines_of(invoice: dict[str, Any]) -> list[Any]:
    return invoice["lines"]["_data"]


def test_check_names_an_account_the_customer_lacks_and_refused_credentials(
    tmp_path: Path, books: BuchhaltungsButlerSandbox
) -> None:
    def config(name: str, **settings: Any) -> Path:
        (tmp_path / name).mkdir()
        return write_config(tmp_path / name, {"books": ("buchhaltungsbutler", books, settings)}, "")

    result = run_ihost("-c", str(config("account", revenue_account="9999")), "check", "books")
    assert result.code == 2 and result.err.count("\n") == 1, result.output
    assert "revenue_account 9999 is not a posting account" in result.err
    ok = config("ok")
    assert run_ihost("-c", str(ok), "check", "books").code == 0
    for field in ("api_secret", "api_key"):
        result = run_ihost("-c", str(config(field, **{field: "wrong"})), "check", "books")
        assert result.code == 3 and result.err.count("\n") == 1, result.output
        assert "refused the credentials" in result.err and "wrong" not in result.err
    books.inactive = True
    result = run_ihost("-c", str(ok), "check", "books")
    assert result.code == 3 and "inactive" in result.err


def test_past_the_rate_limit_the_client_waits_and_goes_on(
    tmp_path: Path, shop: ShopifySandbox
) -> None:
    import time

    import httpx

    with BuchhaltungsButlerSandbox(rate_limit=True) as books:
        # the sandbox's minute stands still until it has refused a request, then runs on
        frozen, started = time.monotonic(), []

        def clock() -> float:
            if not books.refused:
                return frozen
            if not started:
                started.append(time.monotonic())
            return frozen + time.monotonic() - started[0]

        books.monotonic = clock
        settings = books.connection_settings()
        auth = (settings["api_client"], settings["api_secret"])
        for _ in range(100):  # another program of the customer's spends the minute
            httpx.post(
                f"{settings['base_url']}/settings/get/debtors",
                json={"api_key": settings["api_key"]},
                auth=auth,
            )
        shop.seed("orders", [samples.order(3001, email="anna@example.com")])
        connections = {"shop": ("shopify", shop), "books": ("buchhaltungsbutler", books)}
        config = write_config(tmp_path, connections, orders_flow("shop", "books", "invoice"))
        result, report = run_flow(config, "orders")
        refused = books.refused
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 1
    assert refused >= 1 and report["rate_limit_wait"] > 0  # code 15 waited out, not shown


def customer_row(n: int) -> dict[str, Any]:
    """A customer of the test ERP, in its own JSON (every third one a company)."""
    return {
        "key": f"C{n:04d}",
        "email": f"kunde{n}@example.de",
        "company": f"Firma {n} GmbH" if n % 3 == 0 else None,
        "first_name": "Eva",
        "last_name": f"Kunde {n}",
        "billing_address": {"street": "Ringstraße", "house_number": str(n), "postcode": "10115"}
        | {"city": "Berlin", "country": "DE"},
        "updated_at": "2026-05-01T10:00:00+00:00",
    }


def test_new_debtors_go_in_batches_of_50_and_are_found_again(tmp_path: Path) -> None:
    from ihost_testconnectors.sandbox import RecordSandbox

    with RecordSandbox() as erp, BuchhaltungsButlerSandbox(rate_limit=True) as books:
        erp.seed("customers", [customer_row(n) for n in range(120)])
        books.seed("debtors", [{"name": "Eva Kunde 7", "email": "KUNDE7@example.de"}])
        connections = {"erp": ("testerp", erp), "books": ("buchhaltungsbutler", books)}
        flows = '[flows.customers]\nkind = "customers"\nsource = "erp"\ntarget = "books"\n'
        config = write_config(tmp_path, connections, flows)
        result, report = run_flow(config, "customers")
        batches = [c for c in books.calls if c.path.endswith("/add-batch/debtors")]
        singles = [c for c in books.calls if c.path.endswith("/add/debtor")]
        debtors = books.dump("debtors")
        refused = books.refused
        _, again = run_flow(config, "customers", "--full")
    assert result.code == 0, result.output
    assert report["counts"] == report["counts"] | {"created": 119, "updated": 1}
    assert len(batches) == 3 and not singles  # 50, 50, 19 new; customer 7 was there
    assert refused == 0  # one batch every 5 s, as BuchhaltungsButler allows
    assert len(debtors) == 120  # one each: the one found by e-mail was updated
    assert again["counts"]["created"] == 0 and again["counts"]["updated"] == 0


def test_an_invoice_whose_answer_was_lost_is_made_once_and_a_gone_remote_stops_the_run(
    tmp_path: Path, shop: ShopifySandbox
) -> None:
    shop.seed("orders", [samples.order(4001, email="anna@example.com")])
    with BuchhaltungsButlerSandbox() as books:
        connections = {"shop": ("shopify", shop), "books": ("buchhaltungsbutler", books)}
        config = write_config(tmp_path, connections, orders_flow("shop", "books", "invoice"))
        books.inject("POST", "/api/v1/invoices/create", "lost")
        result, report = run_flow(config, "orders")
        invoices = books.dump("invoices")
        lost = books.faults[0].hits
    assert result.code == 0, result.output
    assert lost == 1 and report["counts"]["created"] == 1
    assert [i["invoicenumber"] for i in invoices] == ["4001"]  # found, not made again
    shop.seed("orders", [samples.order(4002, email="anna@example.com")])
    gone = run_ihost("-c", str(config), "run", "orders")  # the sandbox has stopped
    assert gone.code == 3 and gone.err.count("\n") == 1, gone.output


def test_a_read_that_fails_once_is_asked_again(
    tmp_path: Path, asperion: AsperionSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    """Reads are POSTs too: a receipt's detail answered 503 once is asked again, not the
    end of the run."""
    books.seed("debtors", [{"name": "Kaffeehaus Schmidt", "email": "lena@example.de"}])
    books.seed("receipts", [receipt(1, "Kaffeehaus Schmidt", "100.00", "19")])
    connections = {
        "books": ("buchhaltungsbutler", books),
        "erp": ("asperion", asperion, ASPERION_SETTINGS),
    }
    config = write_config(tmp_path, connections, orders_flow("books", "erp", "invoice"))
    authorize(config, "erp")
    books.inject("POST", "/api/v1/receipts/get/", "503")
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert books.faults[0].hits == 1 and report["counts"]["created"] == 1
