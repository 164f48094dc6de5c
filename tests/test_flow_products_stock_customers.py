"""Products, stock and customers flows through the CLI between the test connectors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_data import configurable, customer, product
from helpers import actions, run_flow, write_config
from ihost_testconnectors.sandbox import RecordSandbox


@pytest.fixture
def erp() -> Iterator[RecordSandbox]:  # seeded as this module needs
    with RecordSandbox() as running:
        yield running


def config(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, flows: str) -> Path:
    return write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, flows)


PRODUCTS = """
[flows.products]
kind = "products"
source = "shop"
target = "erp"
"""


def test_configurable_product_is_flattened_for_a_target_without_variants(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("products", [configurable("SHIRT"), product("MUG", images=["https://i/mug.jpg"])])
    path = config(tmp_path, shop, erp, PRODUCTS)
    result, report = run_flow(path, "products")
    assert result.code == 0, result.output
    assert report["counts"]["read"] == 2 and report["counts"]["created"] == 4
    written = {p["sku"]: p for p in erp.dump("products")}
    assert set(written) == {"SHIRT-S", "SHIRT-M", "SHIRT-L", "MUG"}
    medium = written["SHIRT-M"]
    assert medium["type"] == "simple" and medium["variants"] == []
    assert medium["name"] == "Shirt (M)" and medium["price"] == "25.00"
    assert medium["description"] == "A cotton shirt"
    assert medium["images"] == [] and medium["categories"] == [] and medium["attributes"] == {}
    assert written["MUG"]["images"] == []

    events = run_logs(path)
    assert "variants flattened: target has no variants (3 simple products)" in events
    assert "images dropped: target has no images" in events
    assert "categories dropped: target has no categories" in events

    _, again = run_flow(path, "products", "--full")
    assert again["counts"]["unchanged"] == 4 and again["counts"]["created"] == 0


def run_logs(path: Path) -> str:
    from helpers import run_ihost

    result = run_ihost("-c", str(path), "logs", "products")
    assert result.code == 0, result.err
    return result.out


@pytest.mark.parametrize(
    ("mode", "code", "action"), [("skip", 0, "skipped"), ("error", 1, "failed")]
)
def test_variants_skip_or_error(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, mode: str, code: int, action: str
) -> None:
    shop.seed("products", [configurable("SHIRT")])
    flows = PRODUCTS + f'[flows.products.settings]\nvariants = "{mode}"\n'
    result, report = run_flow(config(tmp_path, shop, erp, flows), "products")
    assert result.code == code
    assert actions(report)["p-SHIRT"][0] == action
    assert erp.dump("products") == []
    if mode == "error":
        assert (
            "has 3 variants and erp has none (variants = error)" in report["actions"][0]["reason"]
        )


def test_variants_kept_for_a_target_with_variants(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    """erp -> shop here: the shop keeps variants, 10 images, one image per variant."""
    erp.seed("products", [configurable("SHIRT")])
    flows = '[flows.back]\nkind = "products"\nsource = "erp"\ntarget = "shop"\n'
    result, report = run_flow(config(tmp_path, shop, erp, flows), "back")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 1
    (written,) = shop.dump("products")
    assert [v["sku"] for v in written["variants"]] == ["SHIRT-S", "SHIRT-M", "SHIRT-L"]
    assert len(written["images"]) == 2 and written["categories"] == ["Clothing > Shirts"]


def test_update_info_false_keeps_descriptions_but_updates_price(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    erp.seed(
        "products",
        [
            {
                **product("MUG", name="Mok (ERP naam)"),
                "id": "A-1",
                "description": "Beschrijving uit de ERP",
            }
        ],
    )
    shop.seed("products", [product("MUG", name="Mug", price="12.50", description="Shop text")])
    flows = PRODUCTS + "[flows.products.settings]\nupdate_info = false\n"
    result, report = run_flow(config(tmp_path, shop, erp, flows), "products")
    assert result.code == 0, result.output
    assert actions(report)["p-MUG"] == ("updated", "A-1")
    (mug,) = erp.dump("products")
    assert mug["name"] == "Mok (ERP naam)" and mug["description"] == "Beschrijving uit de ERP"
    assert mug["price"] == "12.50"


STOCK = """
[flows.stock]
kind = "stock"
source = "erp"
target = "erp2"
"""


def test_stock_in_batches_and_unchanged_levels_not_pushed(tmp_path: Path) -> None:
    with RecordSandbox() as source, RecordSandbox() as target:
        skus = [f"SKU-{i:04d}" for i in range(600)]
        target.seed("products", [product(sku) for sku in skus])
        source.seed(
            "stock",
            [{"sku": sku, "on_hand": "10", "available": "8", "reserved": "3"} for sku in skus],
        )
        path = write_config(
            tmp_path, {"erp": ("testerp", source), "erp2": ("testerp", target)}, STOCK
        )
        result, report = run_flow(path, "stock")
        assert result.code == 0, result.output
        assert report["counts"]["updated"] == 600
        assert len(target.calls_to("/api/stock", "POST")) == 6  # batches of testerp's 100
        levels = {r["sku"]: r for r in target.dump("stock")}
        assert levels["SKU-0000"]["on_hand"] == "5"  # available 8 minus reserved 3
        assert levels["SKU-0000"]["managed"] is True

        _, again = run_flow(path, "stock", "--full")
        assert again["counts"]["unchanged"] == 600
        assert len(target.calls_to("/api/stock", "POST")) == 6

        source.seed("stock", [{"sku": "SKU-0007", "on_hand": "2", "id": "x"}])
        _, changed = run_flow(path, "stock")
        assert changed["counts"]["updated"] == 1
        assert len(target.calls_to("/api/stock", "POST")) == 7
        assert {r["sku"]: r for r in target.dump("stock")}["SKU-0007"]["on_hand"] == "2"


def test_stock_rule_manage_stock_and_a_bad_sku(tmp_path: Path) -> None:
    with RecordSandbox() as source, RecordSandbox() as target:
        target.seed("products", [product("A"), product("B")])
        source.seed(
            "stock",
            [
                {"sku": "A", "on_hand": "10", "reserved": "4"},
                {"sku": "GONE", "on_hand": "1"},
                {"sku": "B", "on_hand": "-3"},
            ],
        )
        flows = STOCK + '[flows.stock.settings]\nstock_rule = "on_hand"\nmanage_stock = false\n'
        path = write_config(
            tmp_path, {"erp": ("testerp", source), "erp2": ("testerp", target)}, flows
        )
        result, report = run_flow(path, "stock")
        assert result.code == 1
        assert report["counts"] == {
            "read": 3,
            "created": 0,
            "updated": 2,
            "unchanged": 0,
            "skipped": 0,
            "failed": 1,
        }
        (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
        assert failed["key"] == "GONE" and "unknown sku GONE" in failed["reason"]
        levels = {r["sku"]: r for r in target.dump("stock")}
        assert levels["A"]["on_hand"] == "10" and levels["A"]["managed"] is False
        assert levels["B"]["on_hand"] == "0"  # never below zero


CUSTOMERS = """
[flows.customers]
kind = "customers"
source = "erp"
target = "shop"
"""


def test_customers_created_then_updated_when_changed(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    erp.seed(
        "customers",
        [
            {**customer("K1", "a@acme.nl", company="Acme"), "id": "K1"},
            {**customer("K2", "Piet@Example.com"), "id": "K2"},
        ],
    )
    shop.seed("customers", [{"id": "S-9", "email": "piet@example.com", "first_name": "P"}])
    flows = CUSTOMERS + '[flows.customers.mapping]\ncustomer_group = { "*" = "retail" }\n'
    path = config(tmp_path, shop, erp, flows)
    result, report = run_flow(path, "customers")
    assert result.code == 0, result.output
    assert actions(report)["K1"][0] == "created"
    assert actions(report)["K2"] == ("updated", "S-9")  # found by e-mail, any case
    assert {c["email"]: c["group"] for c in shop.dump("customers")} == {
        "a@acme.nl": "retail",
        "piet@example.com": "retail",
    }

    _, unchanged = run_flow(path, "customers", "--full")
    assert unchanged["counts"]["unchanged"] == 2

    erp.seed("customers", [{**customer("K2", "piet@example.com", phone="0612345678"), "id": "K2"}])
    _, changed = run_flow(path, "customers", "--dry-run")
    assert changed["dry_run"] is True
    (update,) = [a for a in changed["actions"] if a["action"] == "updated"]
    assert update["key"] == "K2" and update["changes"] == {"phone": [None, "0612345678"]}
    assert all(c.get("phone") is None for c in shop.dump("customers"))  # nothing written
    _, real = run_flow(path, "customers")
    assert actions(real)["K2"] == ("updated", "S-9")
    assert [c["phone"] for c in shop.dump("customers") if c["id"] == "S-9"] == ["0612345678"]
