"""Lightspeed through the CLI: completed sales to BuchhaltungsButler as invoices; items,
matrices and stock to Shopify; matrices flattened for a target without variants; a refresh
whose answer was lost handled without asking the merchant again."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet
from flow_data import product
from helpers import authorize, run_flow, run_ihost, write_config
from ihost_buchhaltungsbutler.sandbox import BuchhaltungsButlerSandbox
from ihost_lightspeed.demo import seed_pos
from ihost_lightspeed.sandbox import LightspeedSandbox
from ihost_shopify.sandbox import ShopifySandbox
from ihost_testconnectors.sandbox import RecordSandbox

from host.tokens import KEY_VARIABLE


@pytest.fixture
def pos(monkeypatch: pytest.MonkeyPatch) -> Iterator[LightspeedSandbox]:
    """An account with a plain item, a tee in two sizes (a matrix), stock at shop 1, a
    customer and a completed sale to her."""
    monkeypatch.setenv(KEY_VARIABLE, Fernet.generate_key().decode())
    with LightspeedSandbox(burst_fraction=None) as running:
        seed_pos(running)
        yield running


def config(tmp_path: Path, pos: LightspeedSandbox, other: Any, plugin: str, flows: str) -> Path:
    path = write_config(tmp_path, {"pos": ("lightspeed", pos), "other": (plugin, other)}, flows)
    authorize(path, "pos")
    return path


def flow(kind: str, source: str, target: str, more: str = "") -> str:
    return f'[flows.{kind}]\nkind = "{kind}"\nsource = "{source}"\ntarget = "{target}"\n{more}'


def test_completed_sales_become_outgoing_invoices_with_their_debtor(
    tmp_path: Path, pos: LightspeedSandbox
) -> None:
    with BuchhaltungsButlerSandbox() as books:
        settings = '[flows.orders.settings]\norder_type = "invoice"\n'
        path = config(
            tmp_path, pos, books, "buchhaltungsbutler", flow("orders", "pos", "other", settings)
        )
        result, report = run_flow(path, "orders")
        invoices = books.dump("invoices")
        debtors = books.dump("debtors")
        _, again = run_flow(path, "orders", "--full")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 1  # the open sale is not read
    (invoice,) = invoices
    assert invoice["show_prices_type"] == "gross"
    assert invoice["item_name"] == ["Mok", "Tee S"] and invoice["item_amount"] == [2, 1]
    assert invoice["item_vat"] == [19, 19] and invoice["item_single_price"] == [12.1, 19.95]
    (debtor,) = debtors
    assert (debtor["name"], debtor["contact_person_name"], debtor["email"]) == (
        "Kaffeehaus Schmidt",
        "Lena Schmidt",
        "lena@kaffeehaus.de",
    )
    assert again["counts"]["created"] == 0


def test_items_matrices_and_stock_reach_shopify(tmp_path: Path, pos: LightspeedSandbox) -> None:
    with ShopifySandbox(restore_rate=2000) as shop:
        flows = flow("products", "pos", "other") + flow("stock", "pos", "other")
        path = config(tmp_path, pos, shop, "shopify", flows)
        products, _ = run_flow(path, "products")
        assert products.code == 0, products.output
        stock, _ = run_flow(path, "stock")
        assert stock.code == 0, stock.output
        listed = {p["title"]: p for p in shop.dump("products")}
        inventory = shop.dump("inventory")
    assert sorted(listed) == ["Mok", "Tee"]
    tee = listed["Tee"]
    assert sorted(v["sku"] for v in tee["variants"]["nodes"]) == ["TEE-M", "TEE-S"]
    items = {
        p["variants"]["nodes"][i]["inventoryItem"]["id"]: p["variants"]["nodes"][i]["sku"]
        for p in listed.values()
        for i in range(len(p["variants"]["nodes"]))
    }
    levels = {items[row["inventoryItemId"]]: row["available"] for row in inventory}
    assert levels == {"MUG-01": 38, "TEE-S": 3, "TEE-M": 5}  # 40 on hand, 2 on layaway


def test_a_matrix_is_flattened_for_a_target_without_variants(
    tmp_path: Path, pos: LightspeedSandbox
) -> None:
    with RecordSandbox() as erp:
        path = config(tmp_path, pos, erp, "testerp", flow("products", "pos", "other"))
        result, _ = run_flow(path, "products")
        written = sorted(p["sku"] for p in erp.dump("products"))
        logs = run_ihost("-c", str(path), "logs", "products")
    assert result.code == 0, result.output
    assert written == ["MUG-01", "TEE-M", "TEE-S"]
    assert "flattened" in logs.out


def test_a_refresh_whose_answer_was_lost_asks_no_new_authorization(
    tmp_path: Path, pos: LightspeedSandbox
) -> None:
    """The access token expires; the refresh is granted but its answer never arrives (a
    crash, a cut line). The next attempt offers the same refresh token, which Lightspeed
    still takes (its retry grace), and the run goes on."""
    with RecordSandbox() as erp:
        path = config(tmp_path, pos, erp, "testerp", flow("customers", "pos", "other"))
        pos.oauth.expire_access_tokens()
        pos.inject("POST", "/auth/oauth/token", "lost")
        result, report = run_flow(path, "customers")
        again, _ = run_flow(path, "customers", "--full")
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 1
    assert pos.faults[0].hits == 1 and pos.oauth.refreshes >= 2
    assert again.code == 0, again.output


def test_bad_records_fail_alone_and_a_gone_or_refusing_remote_stops_the_run(
    tmp_path: Path, pos: LightspeedSandbox
) -> None:
    with pos.lock:  # a misbehaving Lightspeed: a price that is no number
        (mug,) = [i for i in pos.tables["Item"].values() if i.get("customSku") == "MUG-01"]
        mug["Prices"] = {
            "ItemPrice": [{"amount": "twelve", "useTypeID": "1", "useType": "Default"}]
        }
    with RecordSandbox() as erp:
        path = config(tmp_path, pos, erp, "testerp", flow("products", "pos", "other"))
        result, report = run_flow(path, "products")
        assert result.code == 1, result.output
        (failed,) = [a for a in report["actions"] if a["action"] == "failed"]
        assert "Prices.Default: 'twelve' is not a number" in failed["reason"]
        assert report["counts"]["created"] == 2  # the tee's sizes went on
        pos.oauth.expire_access_tokens()
        pos.oauth.client_secret = "changed-in-lightspeed"  # the client's secret was reset
        refused = run_ihost("-c", str(path), "run", "products")
    assert refused.code == 3 and refused.err.count("\n") == 1, refused.output
    assert "changed-in-lightspeed" not in refused.output
    pos.stop()  # Lightspeed gone
    gone = run_ihost("-c", str(path), "check", "pos")
    assert gone.code == 3 and gone.err.count("\n") == 1, gone.output
    assert "cannot connect" in gone.err


def test_a_sku_with_one_malformed_shop_row_is_not_written_as_a_partial_total(
    tmp_path: Path, pos: LightspeedSandbox
) -> None:
    pos.seed("shops", [{"shopID": 2, "name": "Tweede winkel"}])
    pos.seed(
        "items",
        [
            {
                "description": "Vaas",
                "customSku": "VASE-01",
                "Prices": {"ItemPrice": {"amount": 30}},
                "ItemShops": {"ItemShop": [{"shopID": 1, "qoh": 4}, {"shopID": 2, "qoh": 6}]},
            }
        ],
    )
    with pos.lock:  # Lightspeed sends the vase's quantity at the second shop malformed
        (vase,) = [i for i in pos.tables["Item"].values() if i.get("customSku") == "VASE-01"]
        for row in pos.tables["ItemShop"].values():
            if str(row.get("shopID")) == "2" and str(row["itemID"]) == str(vase["itemID"]):
                row["qoh"] = "lots"
    with RecordSandbox() as erp:
        erp.seed("products", [product(sku) for sku in ("MUG-01", "TEE-S", "TEE-M", "VASE-01")])
        path = config(tmp_path, pos, erp, "testerp", flow("stock", "pos", "other"))
        result, report = run_flow(path, "stock")
        pushed = {row["sku"]: row for row in erp.dump("stock")}
    assert result.code == 1, result.output
    failed = [a for a in report["actions"] if a["action"] == "failed"]
    assert [a["key"] for a in failed] == ["VASE-01"] and "qoh" in failed[0]["reason"], failed
    assert "VASE-01" not in pushed  # not 4 (shop 1 alone) instead of 10
    assert {"MUG-01", "TEE-S", "TEE-M"} <= set(pushed)
