"""Webhooks, throttling, customers, fulfilments and refunds against the Shopify sandbox."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
from helpers import actions, run_flow, write_config
from ihost_shopify import queries, samples
from ihost_shopify.client import ShopifyClient
from ihost_shopify.plugin import ShopifyPlugin
from ihost_shopify.sandbox import ShopifySandbox
from ihost_testconnectors.sandbox import RecordSandbox
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import BaseRoute, Route

from host.errors import AuthError, RemoteRejected
from host.models import Customer, Shipment, ShipmentLine
from host.sandbox import Sandbox


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(restore_rate=2000) as running:
        yield running


def plugin_for(shop: ShopifySandbox, **changes: Any) -> ShopifyPlugin:
    return ShopifyPlugin(ShopifyPlugin.Settings(**{**shop.connection_settings(), **changes}))


class Receiver(Sandbox):
    """Records webhook deliveries: the raw body and headers, as a web server gets them."""

    def __init__(self) -> None:
        super().__init__()
        self.deliveries: list[tuple[dict[str, str], bytes]] = []

    def routes(self) -> list[BaseRoute]:
        return [Route("/hook", self._hook, methods=["POST"])]

    async def _hook(self, request: Request) -> Response:
        self.deliveries.append((dict(request.headers), await request.body()))
        return Response(status_code=200)


def test_signed_webhooks(shop: ShopifySandbox) -> None:
    plugin = plugin_for(shop)
    with Receiver() as receiver:
        url = receiver.base_url + "/hook"
        shop.send_webhook(
            url, "orders/paid", {"id": 820982911946154508, "name": "#1001"}, event_id="evt-1"
        )
        shop.send_webhook(url, "orders/paid", {"id": 1}, secret="not-the-app-secret")
        shop.send_webhook(url, "products/update", {"id": 2})
    (good_headers, good_body), (bad_headers, bad_body), (other_headers, other_body) = (
        receiver.deliveries
    )
    event = plugin.parse_webhook(headers=good_headers, body=good_body)
    assert event is not None
    assert (event.entity, event.keys, event.event_id) == ("orders", ["820982911946154508"], "evt-1")
    with pytest.raises(AuthError, match="signature does not match"):
        plugin.parse_webhook(headers=bad_headers, body=bad_body)
    with pytest.raises(AuthError):  # one byte changed in transit
        plugin.parse_webhook(headers=good_headers, body=good_body.replace(b"1001", b"1002"))
    assert plugin.parse_webhook(headers=other_headers, body=other_body) is None
    plugin.close()


def test_the_client_paces_itself_and_waits_out_throttled_answers() -> None:
    with ShopifySandbox(bucket_size=1000, restore_rate=1000) as shop:
        # 250 variants answered: the actual cost is the requested one (nothing refunded)
        shop.seed("products", [samples.product(f"S{i}") for i in range(250)])
        variables = {"first": 250, "query": "sku:S*"}  # 752 points of a 1000-point bucket
        paced = ShopifyClient(shop.base_url, shop.token, "2026-10")
        for _ in range(3):  # after the first answer it knows the cost and waits for it
            paced.execute(queries.VARIANTS_BY_SKU, variables)
        assert paced.costs["VariantsBySku"] == 752
        assert shop.throttled == 0 and paced.waited > 0
        # a client that has not seen the cost yet runs into THROTTLED, waits, and succeeds
        fresh = ShopifyClient(shop.base_url, shop.token, "2026-10")
        data = fresh.execute(queries.VARIANTS_BY_SKU, variables)
        assert len(data["productVariants"]["nodes"]) == 250
        assert shop.throttled == 1 and fresh.throttled == 1
        paced.close()
        fresh.close()


def test_a_query_larger_than_the_bucket_fails_at_once() -> None:
    with ShopifySandbox(bucket_size=500, restore_rate=1000) as shop:
        client = ShopifyClient(shop.base_url, shop.token, "2026-10")
        with pytest.raises(RemoteRejected, match="costs 752 points, more than the bucket's 500"):
            client.execute(queries.VARIANTS_BY_SKU, {"first": 250, "query": "sku:x"})
        assert shop.throttled == 1
        client.close()


def test_customers_flow_creates_then_updates_and_reports_shopify_words(
    tmp_path: Path, shop: ShopifySandbox
) -> None:
    shop.seed("customers", [{"email": "piet@example.com", "firstName": "Piet"}])
    with RecordSandbox() as erp:
        erp.seed(
            "customers",
            [
                {
                    "id": "K1",
                    "key": "K1",
                    "email": "inkoop@acme.nl",
                    "company": "Acme BV",
                    "first_name": "Anna",
                    "last_name": "de Vries",
                    "billing_address": {
                        "street": "Keizersgracht",
                        "house_number": "123",
                        "postcode": "1015 CJ",
                        "city": "Amsterdam",
                        "country": "NL",
                    },
                },
                {"id": "K2", "key": "K2", "email": "PIET@example.com", "first_name": "Pieter"},
            ],
        )
        flows = '[flows.customers]\nkind = "customers"\nsource = "erp"\ntarget = "shop"\n'
        path = write_config(tmp_path, {"erp": ("testerp", erp), "shop": ("shopify", shop)}, flows)
        result, report = run_flow(path, "customers")
    assert result.code == 0, result.output
    assert actions(report)["K1"][0] == "created" and actions(report)["K2"][0] == "updated"
    customers = {c["email"]: c for c in shop.dump("customers")}
    assert customers["piet@example.com"]["firstName"] == "Pieter"
    address = customers["inkoop@acme.nl"]["addresses"][0]
    assert address["company"] == "Acme BV" and address["address1"] == "Keizersgracht 123"
    plugin = plugin_for(shop)
    with pytest.raises(RemoteRejected, match="email: Email has already been taken"):
        plugin.upsert_debtor(customer=Customer(key="x", email="inkoop@acme.nl"), existing_id=None)
    plugin.close()


def test_fulfilments_and_refunds_through_the_orders_bindings(
    tmp_path: Path, shop: ShopifySandbox
) -> None:
    order = samples.order(2001, skus=("SKU-1", "SKU-2"))
    order["refunds"] = [
        {
            "id": "gid://shopify/Refund/77",
            "createdAt": "2026-05-05T10:00:00Z",
            "note": "damaged",
            "totalRefundedSet": samples.money("12.10"),
            "refundLineItems": [
                {"quantity": 1, "lineItem": {"sku": "SKU-1"}, "subtotalSet": samples.money("12.10")}
            ],
        }
    ]
    shop.seed("orders", [order])
    with RecordSandbox() as erp:
        erp.seed("products", [{"key": s, "sku": s, "name": s} for s in ("SKU-1", "SKU-2")])
        flows = (
            '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"\n'
            '[flows.shipments]\nkind = "shipments"\nsource = "erp"\ntarget = "shop"\n'
            '[flows.refunds]\nkind = "refunds"\nsource = "shop"\ntarget = "erp"\n'
        )
        path = write_config(tmp_path, {"shop": ("shopify", shop), "erp": ("testerp", erp)}, flows)
        _, orders = run_flow(path, "orders")
        erp_order = actions(orders)["2001"][1]
        erp.seed(
            "shipments",
            [
                {
                    "id": "D1",
                    "key": "D1",
                    "order_key": erp_order,
                    "carrier": "PostNL",
                    "tracking_number": "3SABC1",
                    "tracking_url": "https://postnl.example/3SABC1",
                    "lines": [{"sku": "SKU-1", "quantity": "2"}],
                    "complete": False,
                },
            ],
        )
        result, _ = run_flow(path, "shipments")
        assert result.code == 0, result.output
        (stored,) = shop.dump("orders")
        (fulfilment,) = stored["fulfillments"]
        assert fulfilment["trackingInfo"] == [
            {"number": "3SABC1", "company": "PostNL", "url": "https://postnl.example/3SABC1"}
        ]
        assert fulfilment["lines"] == [{"sku": "SKU-1", "quantity": 2}]
        assert stored["displayFulfillmentStatus"] == "PARTIALLY_FULFILLED"
        _, again = run_flow(path, "shipments", "--full")
        assert (
            again["counts"]["unchanged"] == 1 and len(shop.dump("orders")[0]["fulfillments"]) == 1
        )

        result, _ = run_flow(path, "refunds")
        assert result.code == 0, result.output
        (refund,) = erp.dump("refunds")
        assert refund["order_id"] == erp_order and refund["total"] == "12.10"
        assert refund["lines"] == [{"sku": "SKU-1", "quantity": "1", "amount": "12.10"}]
        assert refund["reason"] == "damaged"


def test_sku_lookup_keeps_only_exact_matches(shop: ShopifySandbox) -> None:
    shop.seed("products", [samples.product(s) for s in ("A-1", "A-1-B", "B-2")])
    plugin = plugin_for(shop)
    search = plugin.client.execute(queries.VARIANTS_BY_SKU, {"first": 10, "query": "sku:'A-1'"})
    assert {n["sku"] for n in search["productVariants"]["nodes"]} == {"A-1", "A-1-B"}
    found = plugin.find_products(skus=["A-1", "C-3"])
    assert list(found) == ["A-1"]
    plugin.close()


def test_a_single_variant_update_keeps_its_siblings(shop: ShopifySandbox) -> None:
    """An ERP's articles are single variants of a shop's product: updating one must not
    delete the others (productSet replaces the whole variant list)."""
    from host.models import Product

    shop.seed(
        "products",
        [
            {
                "title": "Shirt",
                "handle": "shirt",
                "options": [{"name": "Size", "values": ["S", "M"]}],
                "variants": [
                    {
                        "sku": f"SHIRT-{s}",
                        "price": "20.00",
                        "selectedOptions": [{"name": "Size", "value": s}],
                    }
                    for s in ("S", "M")
                ],
            }
        ],
    )
    plugin = plugin_for(shop)
    found = plugin.find_products(skus=["SHIRT-M"])
    article = Product(key="SHIRT-M", sku="SHIRT-M", name="Shirt M", price="24.95")
    assert (
        plugin.upsert_product(product=article, existing_id=found["SHIRT-M"], update_info=True)
        == found["SHIRT-M"]
    )
    (stored,) = shop.dump("products")
    prices = {v["sku"]: v["price"] for v in stored["variants"]["nodes"]}
    assert prices == {"SHIRT-S": "20.00", "SHIRT-M": "24.95"}
    assert "VariantsBulkUpdate" in shop.operations and "ProductSet" not in shop.operations
    plugin.close()


def test_orders_refunds_and_fulfilment_lines_are_paged_to_the_end(shop: ShopifySandbox) -> None:
    """A later run pages the orders (page_size a page) and reads every connection Shopify
    answered one page of to its end: an order's lines, a refund's lines, the lines of a
    fulfilment order a shipment is made from."""
    skus = tuple(f"L-{i:03d}" for i in range(150))
    orders = [samples.order(3000 + i) for i in range(9)]
    orders[4] = samples.order(3004, skus=skus)
    orders[4]["refunds"] = [
        {
            "id": "gid://shopify/Refund/78",
            "createdAt": "2026-05-05T10:00:00Z",
            "note": None,
            "totalRefundedSet": samples.money("45.00"),
            "refundLineItems": [
                {"quantity": 1, "lineItem": {"sku": sku}, "subtotalSet": samples.money("1.00")}
                for sku in skus[:45]
            ],
        }
    ]
    shop.seed("orders", orders)
    plugin = plugin_for(shop, page_size=4)
    since = datetime(2026, 1, 1, tzinfo=timezone.utc)  # a later run: paged, not exported

    fetched = list(plugin.fetch_orders(since=since, statuses=None))
    assert sorted(o.key for o in fetched) == [str(3000 + i) for i in range(9)]
    (long,) = [o for o in fetched if o.key == "3004"]
    assert [line.sku for line in long.lines] == list(skus)
    # 30 lines come with the order, 100 and 20 more in two pages
    assert shop.operations.count("Orders") == 3 and shop.operations.count("OrderLines") == 2

    (refund,) = plugin.fetch_refunds(since=None)
    assert [line.sku for line in refund.lines] == list(skus[:45])
    assert shop.operations.count("RefundLines") == 1

    lines = [ShipmentLine(sku=sku, quantity=Decimal(1)) for sku in skus[-3:]]
    shipment = Shipment(key="S1", order_number="3004", tracking_number="T1", lines=lines)
    assert plugin.create_shipment(shipment, None)
    (fulfilment,) = next(o for o in shop.dump("orders") if o["name"] == "#3004")["fulfillments"]
    assert fulfilment["lines"] == [{"sku": sku, "quantity": 1} for sku in skus[-3:]]
    assert shop.operations.count("FulfilmentOrderLines") == 1  # past the first 50
    plugin.close()
