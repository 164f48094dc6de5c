"""Shopify in flows, through the CLI: orders out to an ERP; products and stock in."""

from __future__ import annotations

import math
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from helpers import actions, run_flow, write_config
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox
from ihost_testconnectors.sandbox import RecordSandbox


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    # an Enterprise shop's restore rate keeps the tests quick; bench/ measures a Standard one
    with ShopifySandbox(restore_rate=2000) as running:
        yield running


@pytest.fixture
def erp() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        running.seed("products", [{"key": s, "sku": s, "name": s} for s in ("SKU-1", "SKU-2")])
        yield running


def test_paid_orders_reach_the_erp_once_with_everything_intact(
    tmp_path: Path, shop: ShopifySandbox, erp: RecordSandbox
) -> None:
    shop.seed(
        "orders",
        [
            samples.order(1001, company="Acme BV", email="inkoop@acme.nl"),
            samples.order(1002, skus=("SKU-1", "SKU-2"), updated_at="2026-05-02T10:00:00Z"),
            samples.order(1003, status="PENDING"),
            *[samples.order(1100 + i, updated_at=f"2026-05-03T10:{i:02d}:00Z") for i in range(9)],
        ],
    )
    flows = '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"\n'
    path = write_config(tmp_path, {"shop": ("shopify", shop), "erp": ("testerp", erp)}, flows)
    result, report = run_flow(path, "orders")
    assert result.code == 0, result.output
    assert report["counts"]["read"] == 11 and report["counts"]["created"] == 11
    assert "1003" not in actions(report)  # unpaid: not even read

    orders = {o["number"]: o for o in erp.dump("orders")}
    assert "1003" not in orders and len(orders) == 11
    company = orders["1001"]
    assert company["currency"] == "EUR" and company["prices_include_tax"] is True
    assert company["customer"]["company"] == "Acme BV"
    assert company["customer"]["email"] == "inkoop@acme.nl"
    assert company["billing_address"] == {
        "company": "Acme BV",
        "name": "Anna de Vries",
        "street": "Keizersgracht",
        "house_number": "123",
        "house_number_suffix": "A",
        "street2": None,
        "postcode": "1015 CJ",
        "city": "Amsterdam",
        "region": None,
        "country": "NL",
        "phone": "+31201234567",
    }
    assert company["lines"] == [
        {
            "sku": "SKU-1",
            "name": "Product SKU-1",
            "quantity": "2",
            "unit_price": "12.10",
            "tax_rate": "21",
            "discount": "0.00",
        }
    ]
    assert company["shipping_lines"] == [{"method": "PostNL", "price": "6.95", "tax_rate": "21"}]
    assert (company["total"], company["tax_total"]) == ("31.15", "5.41")
    assert company["payment_method"] == "shopify_payments"
    assert [line["sku"] for line in orders["1002"]["lines"]] == ["SKU-1", "SKU-2"]

    debtors = {d["email"]: d for d in erp.dump("customers")}
    assert debtors["inkoop@acme.nl"]["company"] == "Acme BV"
    assert debtors["anna@example.com"]["company"] is None

    _, again = run_flow(path, "orders")
    assert again["counts"]["created"] == 0 and len(erp.dump("orders")) == 11
    _, full = run_flow(path, "orders", "--full")
    assert full["counts"]["created"] == 0 and full["counts"]["unchanged"] == 11


def graphql(shop: ShopifySandbox, query: str, variables: dict | None = None) -> dict:
    answer = httpx.post(
        f"{shop.base_url}/admin/api/2026-10/graphql.json",
        json={"query": query, "variables": variables or {}},
        headers={"X-Shopify-Access-Token": shop.token},
    ).json()
    assert "errors" not in answer, answer
    return answer["data"]


def test_product_with_variants_images_and_category_reads_back_the_same(
    tmp_path: Path, shop: ShopifySandbox
) -> None:
    with RecordSandbox() as source:
        source.seed(
            "products",
            [
                {
                    "key": "p-shirt",
                    "sku": "SHIRT",
                    "name": "Shirt",
                    "type": "configurable",
                    "description": "<p>Cotton</p>",
                    "price": "25.00",
                    "categories": ["Clothing > Shirts"],
                    "images": [
                        "https://img.example.com/front.jpg",
                        "https://img.example.com/back.jpg",
                    ],
                    "variants": [
                        {
                            "sku": f"SHIRT-{size}",
                            "options": {"Size": size},
                            "price": "25.00",
                            "ean": f"871000000000{n}",
                            "image": f"https://img.example.com/{size}.jpg",
                        }
                        for n, size in enumerate(("S", "M", "L"))
                    ],
                }
            ],
        )
        flows = '[flows.products]\nkind = "products"\nsource = "pim"\ntarget = "shop"\n'
        path = write_config(
            tmp_path, {"pim": ("testshop", source), "shop": ("shopify", shop)}, flows
        )
        result, report = run_flow(path, "products")
        assert result.code == 0, result.output
        product_id = actions(report)["p-shirt"][1]
    data = graphql(
        shop,
        """
      query($id: ID!) { product(id: $id) {
        title descriptionHtml handle options { name values }
        media(first: 10) { nodes { ... on MediaImage { image { url } } } }
        collections(first: 5) { nodes { title } }
        variants(first: 10) { nodes { sku price barcode selectedOptions { name value }
          media(first: 5) { nodes { ... on MediaImage { image { url } } } } } } } }
    """,
        {"id": product_id},
    )["product"]
    assert data["title"] == "Shirt" and data["descriptionHtml"] == "<p>Cotton</p>"
    assert data["handle"] == "shirt"
    assert data["options"] == [{"name": "Size", "values": ["S", "M", "L"]}]
    assert [c["title"] for c in data["collections"]["nodes"]] == ["Shirts"]
    urls = [m["image"]["url"] for m in data["media"]["nodes"]]
    assert urls[:2] == ["https://img.example.com/front.jpg", "https://img.example.com/back.jpg"]
    for variant, size in zip(data["variants"]["nodes"], ("S", "M", "L"), strict=True):
        assert variant["sku"] == f"SHIRT-{size}" and variant["price"] == "25.00"
        assert variant["selectedOptions"] == [{"name": "Size", "value": size}]
        images = [m["image"]["url"] for m in variant["media"]["nodes"]]
        assert images == [f"https://img.example.com/{size}.jpg"]  # one image per variant


def test_stock_for_1000_skus_in_batches_of_250_and_a_rerun_makes_none(
    tmp_path: Path, shop: ShopifySandbox
) -> None:
    skus = [f"SKU-{i:04d}" for i in range(1000)]
    shop.seed("products", [samples.product(sku) for sku in skus])
    with RecordSandbox() as erp:
        erp.seed("stock", [{"sku": sku, "on_hand": str(i % 40)} for i, sku in enumerate(skus)])
        flows = '[flows.stock]\nkind = "stock"\nsource = "erp"\ntarget = "shop"\n'
        path = write_config(tmp_path, {"erp": ("testerp", erp), "shop": ("shopify", shop)}, flows)
        result, report = run_flow(path, "stock")
        assert result.code == 0, result.output
        assert report["counts"]["updated"] == 1000
        assert shop.operations.count("InventorySet") == math.ceil(1000 / 250)
        levels = {row["inventoryItemId"]: row["available"] for row in shop.dump("inventory")}
        assert len(levels) == 1000 and sorted(set(levels.values())) == list(range(40))

        _, again = run_flow(path, "stock", "--full")
        assert again["counts"]["unchanged"] == 1000
        assert shop.operations.count("InventorySet") == 4  # nothing changed: no mutation
