"""Asperion through the CLI: orders in (sales orders and invoices, with their debtors) from
the test shop and from Shopify's sandbox; articles, stock and debtors out to Shopify."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flow_data import customer, order
from helpers import actions, authorize, run_flow, run_ihost, write_config
from ihost_asperion.samples import SETTINGS, STAMP, article
from ihost_asperion.sandbox import AsperionSandbox
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox
from ihost_testconnectors.sandbox import RecordSandbox

pytestmark = pytest.mark.usefixtures("secret_key")


@pytest.fixture
def testshop() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(restore_rate=2000) as running:
        yield running


def orders_flow(order_type: str = "sales_order", source: str = "shop", more: str = "") -> str:
    return (
        f'[flows.orders]\nkind = "orders"\nsource = "{source}"\ntarget = "erp"\n'
        f'[flows.orders.settings]\norder_type = "{order_type}"\n{more}'
    )


def setup(
    tmp_path: Path, plugin: str, shop: Any, erp: AsperionSandbox, flows: str, **settings: Any
) -> Path:
    """The config with the shop and the Asperion administration, `erp` authorized."""
    connections = {"shop": (plugin, shop), "erp": ("asperion", erp, {**SETTINGS, **settings})}
    path = write_config(tmp_path, connections, flows)
    authorize(path, "erp")
    return path


def lines_of(record: dict[str, Any]) -> list[dict[str, Any]]:
    return record["lines"]["_data"]


def test_orders_become_sales_orders_with_company_and_person_debtors(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    acme = customer("c-acme", "inkoop@acme.nl", company="Acme BV", phone="+31301234567")
    testshop.seed(
        "orders",
        [
            order("o1", "1001", customer_data=acme),
            order("o2", "1002", customer_data=customer("c-anna", "anna@example.com")),
            order("o3", "1003", skus=("SKU-404",)),  # no such article: fails alone
            order("o4", "1004", skus=("SKU-2",), customer_data=acme),  # the same company
            order("o5", "1005", customer_data=customer("c-new", "new@example.com")),
            order("o6", "1006", status="pending"),  # not paid: not read
        ],
    )
    config = setup(tmp_path, "testshop", testshop, asperion, orders_flow())
    result, report = run_flow(config, "orders")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "o1": "created",
        "o2": "created",
        "o3": "failed",
        "o4": "created",
        "o5": "created",
    }
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed["reason"].endswith("SKU SKU-404 not found in erp"), failed

    debtors = {d["customerNumber"]: d for d in asperion.dump("debtors")}
    assert len(debtors) == 4  # the collective one, Anna, Acme and the new customer
    (company,) = [d for d in debtors.values() if d["name"] == "Acme BV"]
    assert company["attentionTo"] == "Jan Jansen" and company["emailAddress"] == "inkoop@acme.nl"
    assert (company["address"], company["postCode"], company["city"]) == (
        "Dorpsstraat 12",
        "1234 AB",
        "Utrecht",
    )
    assert company["debtorKindId"] == "BI" and company["paymentConditionId"] == 1
    contacts = [c for c in asperion.dump("contactpersons") if c["debtorId"] == company["id"]]
    assert [(c["firstName"], c["lastName"], c["emailAddress"]) for c in contacts] == [
        ("Jan", "Jansen", "inkoop@acme.nl")
    ]  # added once, though two orders named the company
    anna = debtors["10500"]
    assert anna["iban"] == "NL91ABNA0417164300"  # the update kept what it did not know
    assert anna["name"] == "Jan Jansen" and not anna.get("attentionTo")  # a person debtor
    (new,) = [d for d in debtors.values() if d.get("emailAddress") == "new@example.com"]
    assert not new.get("attentionTo")
    assert not [c for c in asperion.dump("contactpersons") if c["debtorId"] == new["id"]]

    sales = {s["orderNumber"]: s for s in asperion.dump("salesorders")}
    assert sorted(sales) == ["1001", "1002", "1004", "1005"]
    first = sales["1001"]
    assert first["debtorId"] == company["id"] and first["date"] == "2026-05-01"
    assert first["paymentMethodId"] == "IDEAL"  # "ideal", found by its description
    assert first["pricesIncludeVat"] is True
    assert first["deliveryAddress"]["address"] == "Dorpsstraat 12"
    assert [
        (li["articleCode"], li["quantity"], li["unitPrice"], li["vatCodeId"])
        for li in lines_of(first)
    ] == [("SKU-1", 1, 10.0, "H21"), ("VERZENDKOSTEN", 1, 4.95, "H21")]
    assert sales["1002"]["debtorId"] == anna["id"]

    _, again = run_flow(config, "orders", "--full")
    assert again["counts"]["created"] == 0 and len(asperion.dump("salesorders")) == 4


def test_orders_become_invoices_on_the_collective_debtor(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "2001"), order("o2", "2002", skus=("SKU-1", "SKU-2"))])
    flows = orders_flow("invoice", more='default_debtor = "10000"\n')
    config = setup(tmp_path, "testshop", testshop, asperion, flows)
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 2
    invoices = {i["invoiceNumber"]: i for i in asperion.dump("salesinvoices")}
    assert sorted(invoices) == ["2001", "2002"]
    one = invoices["2001"]
    assert one["debtorCustomerNumber"] == "10000" and one["journalId"] == "VK"
    # 10.00 and 4.95 including 21 % VAT, each line to the cent
    assert [
        (li["amount"], li["vatAmount"], li["vatCode"], li["ledgerAccountId"])
        for li in lines_of(one)
    ] == [(8.26, 1.74, "H21", 8000), (4.09, 0.86, "H21", 8020)]
    assert one["amountInclVat"] == 14.95
    assert len(asperion.dump("debtors")) == 2  # no debtor made: the collective one took them
    _, again = run_flow(config, "orders", "--full")
    assert again["counts"]["created"] == 0 and len(asperion.dump("salesinvoices")) == 2


def test_shopify_orders_reach_asperion(
    tmp_path: Path, shop: ShopifySandbox, asperion: AsperionSandbox
) -> None:
    shop.seed(
        "orders",
        [
            samples.order(1001, company="Acme BV", email="inkoop@acme.nl"),
            samples.order(1002, email="anna@example.com"),
            samples.order(1003, skus=("SKU-404",), email="x@example.com"),
        ],
    )
    mapping = '[flows.orders.mapping]\npayment_method = { shopify_payments = "IDEAL" }\n'
    config = setup(tmp_path, "shopify", shop, asperion, orders_flow(more=mapping))
    result, report = run_flow(config, "orders")
    assert result.code == 1, result.output
    assert report["counts"]["created"] == 2 and report["counts"]["failed"] == 1
    sales = {s["orderNumber"]: s for s in asperion.dump("salesorders")}
    assert sorted(sales) == ["1001", "1002"]
    assert sales["1001"]["paymentMethodId"] == "IDEAL"
    assert [
        (li["articleCode"], li["quantity"], li["unitPrice"]) for li in lines_of(sales["1001"])
    ] == [
        ("SKU-1", 2, 12.1),
        ("VERZENDKOSTEN", 1, 6.95),
    ]
    (acme,) = [d for d in asperion.dump("debtors") if d["name"] == "Acme BV"]
    assert acme["attentionTo"] == "Anna de Vries"


def test_an_order_asperion_refuses_fails_alone_with_asperions_words(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    asperion.seed("articles", [article("SKU-OLD", active=False)])
    testshop.seed(
        "orders",
        [
            order("o1", "3001", payment_method="bitcoin"),  # no such payment method
            order("o2", "3002"),
        ],
    )
    config = setup(tmp_path, "testshop", testshop, asperion, orders_flow())
    result, report = run_flow(config, "orders")
    assert result.code == 1
    assert actions(report)["o2"][0] == "created"
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed["key"] == "o1"
    assert "Asperion has no paymentmethod 'bitcoin'" in failed["reason"]
    assert "IDEAL (iDEAL)" in failed["reason"] and "payment_method" in failed["reason"]


def test_a_sales_order_whose_answer_was_lost_is_booked_once(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "4001")])
    config = setup(tmp_path, "testshop", testshop, asperion, orders_flow())
    asperion.inject("POST", "/v1/SalesOrderWithLines", "lost")
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert actions(report)["o1"][0] == "created"
    assert len(asperion.dump("salesorders")) == 1


def test_a_dry_run_asks_asperion_and_writes_nothing(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed(
        "orders",
        [
            order("o1", "5001", customer_data=customer("c-anna", "anna@example.com")),
            order(
                "o2",
                "5002",
                customer_data=customer("c-anna", "anna@example.com"),
                lines=[
                    {
                        "sku": "SKU-1",
                        "name": "SKU-1",
                        "quantity": "1",
                        "unit_price": "10.00",
                        "tax_rate": "21",
                        "discount": "20.00",
                    },
                ],
            ),
        ],
    )
    config = setup(tmp_path, "testshop", testshop, asperion, orders_flow())
    result, report = run_flow(config, "orders", "--dry-run")
    assert result.code == 1, result.output
    assert actions(report)["o1"][0] == "created"
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed["key"] == "o2" and "discountPercentage" in failed["reason"]
    assert asperion.dump("salesorders") == []
    assert [d["name"] for d in asperion.dump("debtors")] == ["Webshop", "Anna de Vries"]
    validated = [c for c in asperion.calls if c.method in ("POST", "PUT")]
    assert validated and all(c.status in (200, 400) for c in validated)


def test_articles_stock_and_debtors_reach_shopify(
    tmp_path: Path, shop: ShopifySandbox, asperion: AsperionSandbox
) -> None:
    asperion.seed(
        "articles",
        [article("MUG-01", price=10.33, freeField1="Stoneware", currentStock=40, reservedStock=2)],
    )
    flows = "".join(
        f'[flows.{kind}]\nkind = "{kind}"\nsource = "erp"\ntarget = "shop"\n'
        for kind in ("products", "stock", "customers")
    )
    flows += "[flows.products.settings]\nupdate_info = false\n"
    config = setup(
        tmp_path, "shopify", shop, asperion, flows, attribute_fields={"freeField1": "Material"}
    )
    result, report = run_flow(config, "products")
    assert result.code == 0, result.output
    assert sorted(k for k, (a, _) in actions(report).items() if a == "created") == [
        "MUG-01",
        "SKU-1",
        "SKU-2",
    ]  # the shipping-costs article is not a product
    result, report = run_flow(config, "stock")
    assert result.code == 0, result.output
    products = {p["variants"]["nodes"][0]["sku"]: p for p in shop.dump("products")}
    mug = products["MUG-01"]
    assert mug["title"] == "Article MUG-01" and mug["variants"]["nodes"][0]["price"] == "12.50"
    items = {p["variants"]["nodes"][0]["inventoryItem"]["id"]: sku for sku, p in products.items()}
    stock = {items[row["inventoryItemId"]]: row["available"] for row in shop.dump("inventory")}
    assert stock == {"MUG-01": 38, "SKU-1": 7, "SKU-2": 7}  # on hand minus reserved
    result, report = run_flow(config, "customers")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "10500": "created",  # Anna
        "10000": "failed",  # the collective debtor has no e-mail for Shopify to find it by
    }
    (anna,) = shop.dump("customers")
    assert anna["email"] == "anna@example.com" and anna["lastName"] == "de Vries"

    # in Asperion, the article is renamed and repriced, and Anna moves
    (row,) = [r for r in asperion.dump("articles") if r["articleCode"] == "MUG-01"]
    del row["dateLastChange"]  # a change in Asperion stamps it now
    asperion.seed("articles", [{**row, "description": "Mug, renamed", "salesPrice": 11.0}])
    (debtor,) = [d for d in asperion.dump("debtors") if d["customerNumber"] == "10500"]
    del debtor["dateLastChange"]
    asperion.seed("debtors", [{**debtor, "city": "Haarlem", "postCode": "2011 AA"}])
    _, products_run = run_flow(config, "products")
    assert {k: a for k, (a, _) in actions(products_run).items()} == {
        "SKU-1": "unchanged",
        "SKU-2": "unchanged",
        "MUG-01": "updated",
    }
    (mug,) = [p for p in shop.dump("products") if p["variants"]["nodes"][0]["sku"] == "MUG-01"]
    # update_info false: Shopify keeps its title; the price follows Asperion (incl. 21 % VAT)
    assert mug["title"] == "Article MUG-01" and mug["variants"]["nodes"][0]["price"] == "13.31"
    _, customers_run = run_flow(config, "customers")
    assert actions(customers_run)["10500"][0] == "updated"  # always updated on a change
    (anna,) = shop.dump("customers")
    assert anna["defaultAddress"]["city"] == "Haarlem"


def test_without_authorization_a_run_stops_with_one_line(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    connections = {"shop": ("testshop", testshop), "erp": ("asperion", asperion, SETTINGS)}
    config = write_config(tmp_path, connections, orders_flow())
    testshop.seed("orders", [order("o1", "6001")])
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3 and result.err.count("\n") == 1, result.output
    assert "ihost auth erp" in result.err


def test_an_administration_the_user_may_not_open_is_named(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    config = setup(tmp_path, "testshop", testshop, asperion, "", administration_id=4242)
    result = run_ihost("-c", str(config), "check", "erp")
    assert result.code == 3, result.output
    assert "administration 4242" in result.output


def test_stamp_is_amsterdam_time() -> None:
    from ihost_asperion.convert import from_local

    moment = from_local(STAMP)
    assert moment is not None and moment.isoformat() == "2026-05-01T10:00:00+00:00"


@pytest.mark.parametrize("filter_setting", [True, False])
def test_changed_since_without_asperions_filter(
    tmp_path: Path, testshop: RecordSandbox, filter_setting: bool
) -> None:
    """A server without DateLastChange_from (it ignores it, as ASP.NET does an unknown
    parameter): with the filter on, what is older than the cursor is dropped by the
    connector; with it off, everything is read and content hashes find the change."""
    with AsperionSandbox(changed_since_filters=False) as books:
        books.seed(
            "debtors",
            [
                {"name": f"Klant {n}", "emailAddress": f"klant{n}@example.com"}
                | {
                    "debtorKindId": "BI",
                    "dateLastChange": STAMP if n == 2 else "2026-04-01T08:00:00",
                }
                for n in range(3)
            ],
        )
        flows = '[flows.customers]\nkind = "customers"\nsource = "erp"\ntarget = "shop"\n'
        config = setup(
            tmp_path, "testerp", testshop, books, flows, changed_since_filter=filter_setting
        )
        _, first = run_flow(config, "customers")
        assert first["counts"]["created"] == 3
        (one,) = [d for d in books.dump("debtors") if d["name"] == "Klant 1"]
        del one["dateLastChange"]
        books.seed("debtors", [{**one, "city": "Leiden"}])
        _, second = run_flow(config, "customers")
    assert {k: a for k, (a, _) in actions(second).items() if a != "unchanged"} == {
        one["customerNumber"]: "updated"
    }
    # the cursor is Klant 2's change: read again (since is inclusive), with Klant 1's
    assert second["counts"]["read"] == (2 if filter_setting else 3)
