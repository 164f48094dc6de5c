"""Four flow defects, each run end to end through the CLI between the AFAS and Shopify
sandboxes: debtors reach Shopify with their names and are found again; stock of several
warehouses is summed, with duplicates and fractions refused; a refund's cents add up;
an order edited or cancelled after it was created is reported, by field name."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from datetime import timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import shopify_afas
import sqlalchemy as sa
from helpers import actions, run_flow, run_ihost, write_config
from ihost_afas import sandbox as afas
from ihost_afas import spec
from ihost_afas.sandbox import AfasSandbox, elements, fields, objects
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox
from ihost_testconnectors.sandbox import RecordSandbox

import host.store
from host.store import Store

STAMP = shopify_afas.STAMP
LATER = "2026-05-03T10:00:00Z"


shop = shopify_afas.shop
erp = shopify_afas.erp


def config(tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox, flows: str) -> Path:
    return write_config(tmp_path, {"shop": ("shopify", shop), "erp": ("afas", erp)}, flows)


def flow(name: str, kind: str, source: str, target: str, **settings: Any) -> str:
    text = f'[flows.{name}]\nkind = "{kind}"\nsource = "{source}"\ntarget = "{target}"\n'
    if settings:
        text += f"[flows.{name}.settings]\n"
        text += "".join(f"{key} = {value}\n" for key, value in settings.items())
    return text


def dead_letters(tmp_path: Path) -> dict[str, str]:
    with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store:
        return {d.record_key: d.error for d in store.list_dead_letters()}


# --- 1. debtors become Shopify customers with their names ----------------------------------


#: a debtors GetConnector of the environment's own, with the columns the AFAS README names
#: (the standard Profit_Debtor has no name parts, kind or address fields)
@pytest.fixture
def debtors_erp() -> Iterator[AfasSandbox]:
    """An AFAS environment with no debtors yet (`erp` has one), whose App Connector has
    the debtors GetConnector `ihost_Debtors` (the README's suggested columns; the sandbox
    describes it) besides the standard one."""
    with AfasSandbox() as running:
        yield running


def debtor(number: str, name: str, **columns: Any) -> dict[str, Any]:
    return {"DebtorId": number, "DebtorName": name, "ModifiedDate": STAMP, **columns}


def customers_config(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox, connector: str
) -> Path:
    path = config(tmp_path, shop, erp, flow("customers", "customers", "erp", "shop"))
    text = path.read_text().replace(
        'plugin = "afas"\n', f'plugin = "afas"\nget_connectors = {{ debtors = "{connector}" }}\n'
    )
    path.write_text(text)
    return path


def test_debtors_reach_shopify_with_name_contact_and_company_on_the_address(
    tmp_path: Path, shop: ShopifySandbox, debtors_erp: AfasSandbox
) -> None:
    debtors_erp.seed(
        "ihost_Debtors",
        [
            debtor(
                "10500",
                "Anna de Vries",
                Type="PER",
                FirstName="Anna",
                NamePrefix="de",
                LastName="Vries",
                Email="anna@example.com",
                Street="Keizersgracht",
                HouseNumber=123,
                HouseNumberAddition="A",
                ZipCode="1015 CJ",
                City="Amsterdam",
                CountryId="NL",
            ),
            debtor(
                "10501",
                "Acme BV",
                Type="ORG",
                FirstName="Piet",
                LastName="Jansen",
                Email="inkoop@acme.be",
                Street="Grote Markt",
                HouseNumber=1,
                ZipCode="1000",
                City="Brussel",
                CountryId="B",  # AFAS's code for Belgium
            ),
            debtor("10502", "Bakkerij Bol", Type="ORG", Email="bol@example.com"),
            debtor("10503", "Eva Smit", Type="XYZ", Email="eva@example.com"),
        ],
    )
    path = customers_config(tmp_path, shop, debtors_erp, "ihost_Debtors")
    result, report = run_flow(path, "customers")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "10500": "created",
        "10501": "created",
        "10502": "created",
        "10503": "failed",
    }
    (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
    assert "10503" in failed["reason"] and "Type" in failed["reason"]
    assert "Eva" not in failed["reason"] and "eva@" not in failed["reason"]

    customers = {c["email"]: c for c in shop.dump("customers")}
    anna = customers["anna@example.com"]
    assert (anna["firstName"], anna["lastName"]) == ("Anna", "de Vries")
    (home,) = anna["addresses"]
    assert not home.get("company")
    assert (home["address1"], home["zip"], home["city"], home["countryCodeV2"]) == (
        "Keizersgracht 123 A",
        "1015 CJ",
        "Amsterdam",
        "NL",
    )
    acme = customers["inkoop@acme.be"]
    assert (acme["firstName"], acme["lastName"]) == ("Piet", "Jansen")  # the contact person
    (office,) = acme["addresses"]
    assert (office["company"], office["address1"], office["countryCodeV2"]) == (
        "Acme BV",
        "Grote Markt 1",
        "BE",
    )
    bol = customers["bol@example.com"]  # no contact person: named by the company
    assert not bol.get("firstName") and bol["lastName"] == "Bakkerij Bol"
    assert [a["company"] for a in bol["addresses"]] == ["Bakkerij Bol"]


def test_debtors_of_the_standard_getconnector_are_found_again_not_made_twice(
    tmp_path: Path, shop: ShopifySandbox, debtors_erp: AfasSandbox
) -> None:
    debtors_erp.seed(
        afas.DEBTORS,
        [
            debtor("10502", "Bakkerij Bol", TelNr="+31301234567"),  # no e-mail: found by phone
            debtor("10503", "Zon BV", Email="info@zon.nl"),
        ],
    )
    there = {"phone": "+31301234567", "firstName": "Bol", "addresses": [{"address1": "Markt 1"}]}
    shop.seed("customers", [there])  # in the shop already
    path = customers_config(tmp_path, shop, debtors_erp, afas.DEBTORS)
    result, report = run_flow(path, "customers")
    assert result.code == 0, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "10502": "updated",
        "10503": "created",
    }
    customers = {c.get("email") or c["phone"]: c for c in shop.dump("customers")}
    assert len(customers) == 2
    bol = customers["+31301234567"]  # Profit_Debtor tells no person: an organisation
    assert bol["lastName"] == "Bakkerij Bol"
    assert [a["address1"] for a in bol["addresses"]] == ["Markt 1"]  # kept: AFAS gave none
    zon = customers["info@zon.nl"]  # new: the company on an address of its own
    assert zon["lastName"] == "Zon BV" and [a["company"] for a in zon["addresses"]] == ["Zon BV"]

    with sqlite3.connect(tmp_path / "ihost.db") as db:  # the bindings lost: a crash, a new store
        db.execute("DELETE FROM bindings")
    result, again = run_flow(path, "customers", "--full")
    assert result.code == 0, result.output
    assert {a for a, _ in actions(again).values()} == {"updated"}
    assert len(shop.dump("customers")) == 2


# --- 2. stock of several warehouses ----------------------------------------------------


def level(sku: str, warehouse: str, actual: Any, **more: Any) -> dict[str, Any]:
    return {
        "ItemCode": sku,
        "Warehouse": warehouse,
        "StockActual": actual,
        "ModifiedDate": STAMP,
        **more,
    }


def shop_stock(shop: ShopifySandbox) -> dict[str, int]:
    items = {
        p["variants"]["nodes"][0]["inventoryItem"]["id"]: p["variants"]["nodes"][0]["sku"]
        for p in shop.dump("products")
    }
    return {items[row["inventoryItemId"]]: row["available"] for row in shop.dump("inventory")}


STOCK_SKUS = ("SKU-1", "SKU-2", "SKU-3", "SKU-4")


def test_stock_of_two_warehouses_is_summed_and_a_fraction_refused(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    shop.seed("products", [samples.product(sku) for sku in STOCK_SKUS])
    erp.seed(
        afas.STOCK,
        [
            level("SKU-1", "WH-A", 5),
            level("SKU-1", "WH-B", 7),
            level("SKU-3", "WH-A", 2.5),  # a fraction of a unit
            level("SKU-4", "WH-B", 1, Reserved=0),
        ],
    )
    path = config(tmp_path, shop, erp, flow("stock", "stock", "erp", "shop"))
    result, report = run_flow(path, "stock")
    assert result.code == 1, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {
        "SKU-1": "updated",
        "SKU-3": "failed",
        "SKU-4": "updated",
    }
    assert shop_stock(shop) == {"SKU-1": 12, "SKU-4": 1}
    letters = dead_letters(tmp_path)
    assert set(letters) == {"SKU-3"}
    assert letters["SKU-3"] == (
        "stock level SKU-3: on_hand 2.5 at location WH-A is not a whole number of units; "
        "a target keeps whole units"
    )

    with erp.lock:  # one warehouse's level changes: the sum keeps the other's
        for row in erp.rows[afas.STOCK]:
            if (row["ItemCode"], row["Warehouse"]) == ("SKU-1", "WH-B"):
                row.update(StockActual=1, ModifiedDate=LATER)
    result, again = run_flow(path, "stock")
    assert actions(again)["SKU-1"][0] == "updated"
    assert shop_stock(shop)["SKU-1"] == 6

    _, dry = run_flow(path, "stock", "--full", "--dry-run")
    assert actions(dry)["SKU-1"][0] == actions(dry)["SKU-4"][0] == "unchanged"
    _, full = run_flow(path, "stock", "--full")
    assert actions(full)["SKU-1"][0] == actions(full)["SKU-4"][0] == "unchanged"
    assert shop_stock(shop) == {"SKU-1": 6, "SKU-4": 1}

    with erp.lock:  # a warehouse no longer holds the SKU: a full read leaves it out
        erp.rows[afas.STOCK] = [
            row
            for row in erp.rows[afas.STOCK]
            if (row["ItemCode"], row["Warehouse"]) != ("SKU-1", "WH-B")
        ]
    _, dropped = run_flow(path, "stock", "--full")
    assert actions(dropped)["SKU-1"][0] == "updated"
    assert shop_stock(shop) == {"SKU-1": 5, "SKU-4": 1}


def test_two_levels_for_one_sku_and_location_are_refused_the_others_go_on(
    tmp_path: Path, shop: ShopifySandbox
) -> None:
    shop.seed("products", [samples.product(sku) for sku in STOCK_SKUS])
    with RecordSandbox() as source:  # a source whose rows need not be one per SKU and location
        source.seed(
            "stock",
            [
                {"sku": "SKU-1", "location": "WH-A", "on_hand": "5"},
                {"sku": "SKU-2", "location": "WH-A", "on_hand": "3"},
                {"sku": "SKU-2", "location": "WH-A", "on_hand": "4"},
                {"sku": "SKU-1", "location": "WH-B", "on_hand": "2", "reserved": "1"},
            ],
        )
        path = write_config(
            tmp_path,
            {"shop": ("shopify", shop), "erp": ("testerp", source)},
            flow("stock", "stock", "erp", "shop"),
        )
        for _ in range(2):  # the same answer every run, never one of the two
            result, report = run_flow(path, "stock", "--full")
            assert result.code == 1, result.output
            assert shop_stock(shop) == {"SKU-1": 6}
            (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
            assert failed["key"] == "SKU-2"
            assert failed["reason"] == (
                "stock level SKU-2: 2 levels at location WH-A (on_hand 3 and 4); the source "
                "must give one level per SKU and location"
            )
    assert set(dead_letters(tmp_path)) == {"SKU-2"}


def test_stock_locations_taken_by_a_table_and_a_table_to_two_locations_refused(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    shop.seed("products", [samples.product(sku) for sku in STOCK_SKUS])
    erp.seed(
        afas.STOCK,
        [
            level("SKU-1", "WH-A", 5),
            level("SKU-1", "WH-B", 7),
            level("SKU-1", "WH-C", 100),
            level("SKU-2", "WH-C", 3),
        ],
    )
    table = '{ "WH-A" = "shop", "WH-B" = "shop" }'
    path = config(tmp_path, shop, erp, flow("stock", "stock", "erp", "shop", locations=table))
    result, report = run_flow(path, "stock")
    assert result.code == 0, result.output
    assert shop_stock(shop) == {"SKU-1": 12}  # WH-C is not taken
    skipped = {a["key"]: a["reason"] for a in report["actions"] if a["action"] == "skipped"}
    assert set(skipped) == {"SKU-2"} and "WH-C" in skipped["SKU-2"]

    two = '{ "WH-A" = "shop", "WH-B" = "outlet" }'
    path = config(tmp_path, shop, erp, flow("stock", "stock", "erp", "shop", locations=two))
    result = run_ihost("-c", str(path), "run", "stock")
    assert result.code == 2
    (line,) = [x for x in result.err.splitlines() if "locations" in x]
    assert "[flows.stock.settings] locations:" in line and "one target location" in line


# --- 3. a refund's cents add up ------------------------------------------------------------


@pytest.mark.parametrize(
    ("amount", "quantity"), [("10.00", 3), ("0.05", 3), ("100.00", 7), ("19.99", 6)]
)
def test_a_refund_split_over_units_adds_up_to_the_cent(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox, amount: str, quantity: int
) -> None:
    order = samples.order(6001, email="anna@example.com")
    order["lineItems"][0]["quantity"] = quantity
    order["refunds"] = [
        {
            "id": "gid://shopify/Refund/91",
            "createdAt": "2026-05-02T10:00:00Z",
            "note": "damaged",
            "totalRefundedSet": samples.money(amount),
            "refundLineItems": [
                {
                    "quantity": quantity,
                    "lineItem": {"sku": "SKU-1"},
                    "subtotalSet": samples.money(amount),
                }
            ],
        }
    ]
    shop.seed("orders", [order])
    flows = flow("orders", "orders", "shop", "erp") + flow("refunds", "refunds", "shop", "erp")
    path = config(tmp_path, shop, erp, flows)
    for name in ("orders", "refunds"):
        result, _ = run_flow(path, name)
        assert result.code == 0, result.output
    credits = [
        element
        for call in erp.dump("FbSales")
        for element in elements(call["body"]["FbSales"])
        if fields(element).get("CrOr")
    ]
    (credit,) = credits
    lines = [fields(line) for line in objects(credit, "FbSalesLines")]
    articles = [line for line in lines if line["VaIt"] == "2"]
    assert sum(Decimal(li["QuUn"]) * Decimal(li["Upri"]) for li in articles) == -Decimal(amount)
    assert sum(Decimal(li["QuUn"]) for li in articles) == -quantity
    assert all(Decimal(li["Upri"]) == Decimal(li["Upri"]).quantize(Decimal("0.01")) for li in lines)
    for connector, received in erp.received.items():
        for call in received:
            assert spec.problems(connector, call["method"], call["body"]) == [], connector


def test_cent_distribution_adds_up_for_awkward_amounts() -> None:
    from ihost_afas.convert import split_amount

    for amount, quantity in [
        ("10.00", 3),
        ("0.01", 3),
        ("0.00", 2),
        ("99.99", 11),
        ("1000.00", 3),
        ("7.00", 7),
        ("-10.00", 3),
        ("3.30", Decimal("1.5")),  # a weighed article: 2.20 a unit exactly
    ]:
        parts = split_amount(Decimal(amount), Decimal(quantity))
        assert sum(q * p for q, p in parts) == Decimal(amount), (amount, quantity)
        assert sum(q for q, _ in parts) == Decimal(quantity)
        assert len(parts) <= 2 and all(p == p.quantize(Decimal("0.01")) for _, p in parts)
        prices = sorted(p for _, p in parts)
        assert prices[-1] - prices[0] <= Decimal("0.01")


# --- 4. orders changed or cancelled after creation -----------------------------------------


def test_an_order_edited_or_cancelled_after_creation_is_reported_by_field_name(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    shop.seed("orders", [samples.order(n, email="anna@example.com") for n in (7001, 7002, 7003)])
    path = config(tmp_path, shop, erp, flow("orders", "orders", "shop", "erp"))
    result, first = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert {a for a, _ in actions(first).values()} == {"created"}
    written = len(erp.dump("FbSales"))

    edited = samples.order(
        7001,
        email="anna@example.com",
        updated_at=LATER,
        shippingAddress=samples.mailing_address(address1="Prinsengracht 9"),
    )
    edited["lineItems"][0]["quantity"] = 5
    cancelled = samples.order(
        7002, status="REFUNDED", updated_at=LATER, cancelledAt="2026-05-03T09:00:00Z"
    )
    fulfilled = samples.order(7003, updated_at=LATER, displayFulfillmentStatus="FULFILLED")
    shop.seed("orders", [edited, cancelled, fulfilled])
    result, second = run_flow(path, "orders")
    assert result.code == 0, result.output
    got = {a["key"]: (a["action"], a["reason"] or "") for a in second["actions"]}
    action, reason = got["7001"]
    assert action == "skipped" and reason.startswith("changed after creation: ")
    changed = reason.removeprefix("changed after creation: ").split(";")[0].split(", ")
    assert {"lines", "shipping_address.street", "shipping_address.house_number"} <= set(changed)
    assert not any(
        name.startswith(("billing_address", "status", "fulfillment")) for name in changed
    )
    assert "on_change = report" in reason
    assert got["7002"][0] == "skipped" and got["7002"][1].startswith("cancelled after creation")
    assert got["7003"][0] == "unchanged"  # fulfilment is not an edit
    assert len(erp.dump("FbSales")) == written  # nothing written, nothing booked twice

    logs = run_ihost("-c", str(path), "logs", "orders")
    assert "changed after creation" in logs.out and "cancelled after creation" in logs.out
    assert "Prinsengracht" not in logs.out and "anna@" not in logs.out
    assert "Prinsengracht" not in reason

    with sqlite3.connect(tmp_path / "ihost.db") as db:  # the snapshots purged after retention
        db.execute("UPDATE bindings SET snapshot = NULL")
    _, third = run_flow(path, "orders", "--full")
    assert {a["key"]: a["reason"] for a in third["actions"]}["7001"] == reason


def test_on_change_update_is_refused_at_load_with_one_line(
    tmp_path: Path, shop: ShopifySandbox, erp: AfasSandbox
) -> None:
    path = config(
        tmp_path, shop, erp, flow("orders", "orders", "shop", "erp", on_change='"update"')
    )
    result = run_ihost("-c", str(path), "run", "orders")
    assert result.code == 2
    (line,) = [x for x in result.err.splitlines() if "on_change" in x]
    assert "[flows.orders.settings] on_change:" in line and '"report"' in line


def test_bindings_keep_their_fingerprint(store_url: str) -> None:
    with Store(store_url) as store:
        store.put_bindings(
            "shop", "erp", "orders", [("1", "SO-1", "h1", None, '{"lines":"0a1b2c3d"}')]
        )
        store.put_bindings("shop", "erp", "orders", [("2", "SO-2", "h2", None)])
        found = store.get_bindings("shop", "erp", "orders", ["1", "2"], snapshots=False)
        assert found["1"].fingerprint == '{"lines":"0a1b2c3d"}'
        assert found["2"].fingerprint is None
        store.purge(host.store.utcnow() + timedelta(days=400))
        assert store.get_binding("shop", "erp", "orders", "1").fingerprint is not None  # type: ignore[union-attr]


def test_a_store_of_schema_2_gains_the_fingerprint_column(store_url: str) -> None:
    Store(store_url).close()
    engine = sa.create_engine(host.store.normalise_url(store_url))
    with engine.begin() as raw:  # as ihost left it before fingerprints
        raw.execute(sa.text("ALTER TABLE bindings DROP COLUMN fingerprint"))
        raw.execute(sa.text("UPDATE meta SET value = '2' WHERE name = 'schema'"))
    engine.dispose()
    host.store._READY.discard(host.store.normalise_url(store_url))
    with Store(store_url) as store:
        store.put_bindings("s", "t", "orders", [("1", "T", "h", None, '{"a":"b"}')])
        assert store.get_binding("s", "t", "orders", "1").fingerprint == '{"a":"b"}'  # type: ignore[union-attr]
        with store.engine.connect() as db:
            version = db.execute(sa.text("SELECT value FROM meta WHERE name = 'schema'"))
            assert version.scalar() == str(host.store.SCHEMA_VERSION)
