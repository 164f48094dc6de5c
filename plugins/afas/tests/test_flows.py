"""AFAS with Shopify, through the CLI: orders in; articles, stock and delivery notes out."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
import shopify_afas
from helpers import actions, run_flow, write_config
from ihost_afas import sandbox as afas
from ihost_afas import spec
from ihost_afas.sandbox import AfasSandbox, elements, fields, objects
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox

STAMP = shopify_afas.STAMP


shop = shopify_afas.shop
erp = shopify_afas.erp


def config(tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox, flows: str) -> Path:
    return write_config(tmp_path, {"shop": ("shopify", shop), "erp": ("afas", erp)}, flows)


def orders_flow(order_type: str = "sales_order") -> str:
    return (
        '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"\n'
        f'[flows.orders.settings]\norder_type = "{order_type}"\n'
    )


def assert_every_body_validates(erp: AfasSandbox) -> None:
    for connector, received in erp.received.items():
        for call in received:
            assert spec.problems(connector, call["method"], call["body"]) == [], connector


def test_orders_become_sales_orders_with_their_debtors(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    shop.seed(
        "orders",
        [
            samples.order(1001, company="Acme BV", email="inkoop@acme.nl"),
            samples.order(1002, email="anna@example.com"),  # an existing debtor, other case
            samples.order(1003, skus=("SKU-404",), email="x@example.com"),  # no such article
            samples.order(1004, skus=("SKU-2",), email="Inkoop@Acme.nl", company="Acme BV"),
            samples.order(1005, email="new@example.com"),  # a private customer, new
        ],
    )
    result, report = run_flow(config(tmp_path, shop, erp, orders_flow()), "orders")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "1001": "created",
        "1002": "created",
        "1003": "failed",
        "1004": "created",
        "1005": "created",
    }
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert failed["reason"] == "order 1003: SKU SKU-404 not found in erp"

    organisations = erp.dump("KnSalesRelationOrg")
    assert [c["method"] for c in organisations] == ["POST", "PUT"]  # one debtor, then updated
    (company,) = elements(organisations[0]["body"]["KnSalesRelationOrg"])
    (org,) = objects(company, "KnOrganisation")
    assert fields(org)["Nm"] == "Acme BV" and fields(org)["EmAd"] == "inkoop@acme.nl"
    (contact,) = objects(org, "KnContact")
    (person,) = objects(contact, "KnPerson")
    assert (fields(person)["FiNm"], fields(person)["LaNm"]) == ("Anna", "de Vries")
    (address,) = objects(org, "KnBasicAddressAdr")
    assert fields(address) == {
        "CoId": "NL",
        "PbAd": False,
        "Ad": "Keizersgracht",
        "HmNr": 123,
        "HmAd": "A",
        "ZpCd": "1015 CJ",
        "Rs": "Amsterdam",
        "ResZip": False,
    }
    persons = erp.dump("KnSalesRelationPer")
    assert [c["method"] for c in persons] == ["PUT", "POST"]
    assert fields(elements(persons[0]["body"]["KnSalesRelationPer"])[0])["DbId"] == "10500"
    (new_person,) = objects(elements(persons[1]["body"]["KnSalesRelationPer"])[0], "KnPerson")
    assert fields(new_person)["EmAd"] == "new@example.com"
    assert len(erp.dump(afas.DEBTORS)) == 3  # Anna was there; Acme and the new customer added

    sales = erp.dump("FbSales")
    assert len(sales) == 4
    (first,) = elements(sales[0]["body"]["FbSales"])
    header = fields(first)
    assert header["RfCs"] == "1001" and header["CuId"] == "EUR" and header["InVa"] is True
    lines = [fields(line) for line in objects(first, "FbSalesLines")]
    assert lines == [
        {
            "VaIt": "2",
            "ItCd": "SKU-1",
            "Ds": "Product SKU-1",
            "BiUn": "stk",
            "QuUn": "2",
            "Upri": "12.10",
        },
        {
            "VaIt": "6",
            "ItCd": "VERZEND",
            "Ds": "PostNL",
            "BiUn": "*****",
            "QuUn": "1",
            "Upri": "6.95",
        },
    ]
    assert_every_body_validates(erp)
    _, again = run_flow(config(tmp_path, shop, erp, orders_flow()), "orders", "--full")
    assert again["counts"]["created"] == 0 and len(erp.dump("FbSales")) == 4


@pytest.mark.parametrize("order_type", ["invoice", "financial_entry"])
def test_invoices_and_journal_entries(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox, order_type: str
) -> None:
    shop.seed("orders", [samples.order(2001, email="anna@example.com")])
    flows = orders_flow(order_type) + (
        '[flows.orders.mapping]\ntax_code_by_country = { NL = "1", "*" = "0" }\n'
        'revenue_account_by_country = { NL = "8010", "*" = "8020" }\n'
        'cost_centre = "100"\ncost_unit = { NL = "WEB" }\n'
    )
    result, _ = run_flow(config(tmp_path, shop, erp, flows), "orders")
    assert result.code == 0, result.output
    if order_type == "invoice":
        (invoice,) = erp.dump("FbDirectInvoice")
        (element,) = elements(invoice["body"]["FbDirectInvoice"])
        assert fields(element)["DbId"] == "10500"
        invoice_lines = [fields(li) for li in objects(element, "FbDirectInvoiceLines")]
        assert [li["VaIt"] for li in invoice_lines] == ["2", "6"]
        assert invoice_lines[0]["VaRc"] == "1"
    else:
        (entry,) = erp.dump("FiEntries")
        (element,) = elements(entry["body"]["FiEntryPar"])
        lines = [fields(line) for line in objects(element, "FiEntries")]
        debit = sum(Decimal(line["AmDe"]) for line in lines)
        credit = sum(Decimal(line["AmCr"]) for line in lines)
        assert debit == credit == Decimal("31.15")
        assert lines[0]["VaAs"] == "2" and lines[0]["AcNr"] == "10500"
        revenue = objects(element, "FiEntries")[1]
        assert (fields(revenue)["AcNr"], fields(revenue)["VaId"]) == ("8010", "1")
        (allocation,) = objects(revenue, "FiDimEntries")
        assert fields(allocation) == {"DiC1": "100", "DiC2": "WEB", "AmDe": "0.00", "AmCr": "25.74"}
    assert_every_body_validates(erp)


def test_articles_stock_and_delivery_notes_reach_shopify(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    erp.seed(
        afas.STOCK,
        [
            {"ItemCode": "SKU-1", "Warehouse": "*****", "StockActual": 17, "ModifiedDate": STAMP},
            {"ItemCode": "SKU-2", "Warehouse": "*****", "StockActual": 3, "ModifiedDate": STAMP},
        ],
    )
    shop.seed("orders", [samples.order(3001, skus=("SKU-1", "SKU-2"), email="anna@example.com")])
    flows = orders_flow() + (
        '[flows.products]\nkind = "products"\nsource = "erp"\ntarget = "shop"\n'
        '[flows.stock]\nkind = "stock"\nsource = "erp"\ntarget = "shop"\n'
        '[flows.shipments]\nkind = "shipments"\nsource = "erp"\ntarget = "shop"\n'
    )
    path = config(tmp_path, shop, erp, flows)
    for flow in ("products", "stock", "orders"):
        result, _ = run_flow(path, flow)
        assert result.code == 0, result.output
    products = {p["variants"]["nodes"][0]["sku"]: p for p in shop.dump("products")}
    assert set(products) == {"SKU-1", "SKU-2"} and products["SKU-1"]["title"] == "Article SKU-1"
    items = {p["variants"]["nodes"][0]["inventoryItem"]["id"]: sku for sku, p in products.items()}
    stock = {items[row["inventoryItemId"]]: row["available"] for row in shop.dump("inventory")}
    assert stock == {"SKU-1": 17, "SKU-2": 3}

    (sales_order,) = erp.dump(afas.ORDERS)
    erp.seed(
        afas.DELIVERIES,
        [
            {
                "DeliveryNote": "PB-1",
                "OrderNumber": sales_order["OrderNumber"],
                "Carrier": "PostNL",
                "TrackTrace": "3SPOSTNL123",
                "DeliveryDate": STAMP,
                "ModifiedDate": STAMP,
            }
        ],
    )
    result, shipped = run_flow(path, "shipments")
    assert result.code == 0, result.output
    (order,) = shop.dump("orders")
    (fulfilment,) = order["fulfillments"]
    assert fulfilment["trackingInfo"][0]["number"] == "3SPOSTNL123"
    assert fulfilment["trackingInfo"][0]["company"] == "PostNL"
    assert order["displayFulfillmentStatus"] == "FULFILLED"
    assert actions(shipped)["PB-1"][0] == "created"


@pytest.mark.parametrize("order_type", ["sales_order", "financial_entry"])
def test_a_write_whose_answer_was_lost_is_booked_once(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox, order_type: str
) -> None:
    """AFAS acts on a POST whose answer never arrives (a 502 from a proxy): neither the
    debtor nor the order is sent again as it is; the order is written again from its
    existence checks, which find what the lost answers created."""
    shop.seed(
        "orders",
        [
            samples.order(3001, email="first@example.com"),
            samples.order(3002, email="second@example.com"),
        ],
    )
    connector = "FbSales" if order_type == "sales_order" else "FiEntries"
    debtor = erp.inject("POST", "/ProfitRestServices/connectors/KnSalesRelationPer", "lost")
    booking = erp.inject(
        "POST", f"/ProfitRestServices/connectors/{connector}", "lost", body_contains="3002"
    )
    path = config(tmp_path, shop, erp, orders_flow(order_type) + "retry_backoff = 0.05\n")
    result, report = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert debtor.hits == booking.hits == 1
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "3001": "created",
        "3002": "created",
    }
    emails = [row["Email"] for row in erp.dump(afas.DEBTORS)]
    assert sorted(emails) == ["ANNA@example.com", "first@example.com", "second@example.com"]
    if order_type == "sales_order":
        booked = [row["CustomerReference"] for row in erp.dump(afas.ORDERS)]
    else:
        booked = [row["InvoiceId"] for row in erp.dump(afas.TRANSACTIONS) if row["InvoiceId"]]
    assert sorted(booked) == ["3001", "3002"]


def refund(number: int, refund_id: int) -> dict:
    """A Shopify order with one refund of one unit of SKU-1."""
    order = samples.order(number, email="anna@example.com")
    order["refunds"] = [
        {
            "id": f"gid://shopify/Refund/{refund_id}",
            "createdAt": "2026-05-02T10:00:00Z",
            "note": "damaged",
            "totalRefundedSet": samples.money("12.10"),
            "refundLineItems": [
                {"quantity": 1, "lineItem": {"sku": "SKU-1"}, "subtotalSet": samples.money("12.10")}
            ],
        }
    ]
    return order


def test_a_refund_without_a_bound_order_credits_the_order_found_by_its_number(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    """An order AFAS had before ihost booked anything (so no binding names it) is found
    by the webshop's order number in its customer reference, and credited on its debtor."""
    erp.seed(
        afas.ORDERS,
        [{"OrderNumber": "60000900", "DebtorId": "10500", "CustomerReference": "7001"}],
    )
    shop.seed("orders", [refund(7001, 91), refund(7002, 92)])  # AFAS has no order 7002
    flows = '[flows.refunds]\nkind = "refunds"\nsource = "shop"\ntarget = "erp"\n'
    path = config(tmp_path, shop, erp, flows)
    result, report = run_flow(path, "refunds")
    assert result.code == 1, result.output
    done = {a["key"]: a for a in report["actions"]}
    assert done["91"]["action"] == "created"
    assert done["91"]["reason"] == "order 7001 found by number"
    assert done["92"]["action"] == "failed"
    assert done["92"]["reason"] == (
        "refund 92: AFAS has no sales order or invoice with customer reference 7002 "
        "(an order booked as a journal entry is not credited)"
    )
    (call,) = erp.dump("FbSales")
    (credit,) = elements(call["body"]["FbSales"])
    header = fields(credit)
    assert (header["DbId"], header["RfCs"], header["CrOr"]) == ("10500", "credit 91", True)
    assert [fields(line)["QuUn"] for line in objects(credit, "FbSalesLines")] == ["-1"]
    assert_every_body_validates(erp)

    _, again = run_flow(path, "refunds", "--full")
    assert actions(again)["91"][0] != "failed"
    assert len(erp.dump("FbSales")) == 1  # found by its reference: not credited twice


def test_a_journal_entry_written_before_a_crash_is_found_not_booked_again(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    shop.seed("orders", [samples.order(4001, email="anna@example.com")])
    path = config(tmp_path, shop, erp, orders_flow("financial_entry"))
    result, report = run_flow(path, "orders")
    assert result.code == 0 and actions(report)["4001"][0] == "created"
    entry = actions(report)["4001"][1]
    import sqlite3

    with sqlite3.connect(tmp_path / "ihost.db") as db:  # the crash: written, never bound
        db.execute("DELETE FROM bindings WHERE entity = 'orders'")
    _, again = run_flow(path, "orders", "--full")
    assert actions(again)["4001"] == ("skipped", entry)
    assert len(erp.dump("FiEntries")) == 1


def test_a_dry_run_refuses_what_afas_would(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    street = "Keizersgracht aan de overkant van het water bij de grote brug, achterom"
    shop.seed(
        "orders",
        [
            samples.order(5001, email="ok@example.com"),
            samples.order(
                5002,
                email="long@example.com",
                billingAddress=samples.mailing_address(address1=f"{street} 1"),
            ),
        ],
    )
    path = config(tmp_path, shop, erp, orders_flow())
    _, dry = run_flow(path, "orders", "--dry-run")
    _, real = run_flow(path, "orders")
    planned = {
        k: (a, r) for k, (a, r) in ((x["key"], (x["action"], x["reason"])) for x in dry["actions"])
    }
    done = {
        k: (a, r) for k, (a, r) in ((x["key"], (x["action"], x["reason"])) for x in real["actions"])
    }
    assert planned["5002"] == done["5002"]
    assert done["5002"] == (
        "failed",
        "order 5002: customer 5502: billing_address.street: is longer than AFAS's 60 characters",
    )
    assert planned["5001"][0] == done["5001"][0] == "created"
    assert "long@example.com" not in {row.get("Email") for row in erp.dump(afas.DEBTORS)}
