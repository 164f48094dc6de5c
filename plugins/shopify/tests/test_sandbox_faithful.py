"""The Shopify sandbox answers as Shopify documents it, driven by Shopify's own Python
library (ShopifyAPI's GraphQL client) and plain HTTP: paging, references, node lookups,
sort keys, search, inventory levels, costs, versions, errors, seeding, webhooks and bulk
queries. What it does not emulate it refuses loudly."""

from __future__ import annotations

import json
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path
from typing import Any

import httpx
import pytest
import shopify
from ihost_shopify import samples
from ihost_shopify.sandbox import ShopifySandbox
from ihost_shopify.schema import vendor_schema

from host.testing.specs import need_specs

VERSION = "2026-10"
IHOST = str(Path(sys.executable).with_name("ihost"))


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(restore_rate=5000, bucket_size=5000) as running:
        yield running


@pytest.fixture
def library(shop: ShopifySandbox) -> Iterator[Any]:
    """ShopifyAPI's GraphQL client, pointed at the sandbox with the library's own knobs
    (protocol, shop domain and port of its Session)."""
    saved = (shopify.Session.protocol, shopify.Session.myshopify_domain, shopify.Session.port)
    # the library makes "<shop>.<domain>[:port]" of the shop name: 127 + 0.0.1 = 127.0.0.1
    shopify.Session.protocol, shopify.Session.myshopify_domain = "http", "0.0.1"
    shopify.Session.port = shop.port
    session = shopify.Session("127", VERSION, shop.token)
    shopify.ShopifyResource.activate_session(session)

    def run(query: str, **variables: Any) -> dict[str, Any]:
        return json.loads(shopify.GraphQL().execute(query, variables or None))

    try:
        yield run
    finally:
        shopify.ShopifyResource.clear_session()
        shopify.Session.protocol, shopify.Session.myshopify_domain, shopify.Session.port = saved


def post(
    shop: ShopifySandbox, query: str, version: str = VERSION, **variables: Any
) -> httpx.Response:
    return httpx.post(
        f"{shop.base_url}/admin/api/{version}/graphql.json",
        json={"query": query, "variables": variables},
        headers={"X-Shopify-Access-Token": shop.token},
    )


def big_order(number: int, lines: int) -> dict[str, Any]:
    return samples.order(number, skus=tuple(f"L-{i:03d}" for i in range(lines)))


# --- paging -------------------------------------------------------------------------------


def test_nested_connections_page_to_the_end_with_cursors(
    shop: ShopifySandbox, library: Any
) -> None:
    shop.seed("orders", [big_order(1, 120)])
    query = """query($after: String) { orders(first: 1) { nodes {
        lineItems(first: 50, after: $after) { pageInfo { hasNextPage endCursor } nodes { sku } }
    } } }"""
    skus: list[str] = []
    after = None
    pages = 0
    while True:
        connection = library(query, after=after)["data"]["orders"]["nodes"][0]["lineItems"]
        skus += [n["sku"] for n in connection["nodes"]]
        pages += 1
        if not connection["pageInfo"]["hasNextPage"]:
            break
        after = connection["pageInfo"]["endCursor"]
    assert pages == 3 and skus == [f"L-{i:03d}" for i in range(120)]


def test_last_before_and_reverse_page_backwards(shop: ShopifySandbox, library: Any) -> None:
    shop.seed("orders", [samples.order(n) for n in range(1, 8)])
    last = library(
        "{ orders(last: 3) { pageInfo { hasPreviousPage startCursor } nodes { name } } }"
    )
    page = last["data"]["orders"]
    assert [n["name"] for n in page["nodes"]] == ["#5", "#6", "#7"]
    assert page["pageInfo"]["hasPreviousPage"] is True
    before = library(
        "query($b: String) { orders(last: 2, before: $b) { nodes { name } } }",
        b=page["pageInfo"]["startCursor"],
    )
    assert [n["name"] for n in before["data"]["orders"]["nodes"]] == ["#3", "#4"]
    backwards = library("{ orders(first: 2, reverse: true) { nodes { name } } }")
    assert [n["name"] for n in backwards["data"]["orders"]["nodes"]] == ["#7", "#6"]


def test_a_connection_needs_first_or_last(shop: ShopifySandbox, library: Any) -> None:
    shop.seed("orders", [samples.order(1)])
    answer = library("{ orders(first: 1) { nodes { lineItems { nodes { sku } } } } }")
    assert answer["errors"][0]["message"] == "you must provide one of first or last"
    assert answer["data"] is None


def test_a_garbage_cursor_is_refused_in_shopifys_words(shop: ShopifySandbox, library: Any) -> None:
    answer = library('{ orders(first: 1, after: "not-a-cursor") { nodes { id } } }')
    message = answer["errors"][0]["message"]
    assert message.startswith("Invalid cursor") and "Error" not in message
    assert "Traceback" not in json.dumps(answer)


# --- lookups and references ----------------------------------------------------------------


def test_node_nodes_and_typed_lookups_find_existing_records(
    shop: ShopifySandbox, library: Any
) -> None:
    shop.seed("products", [samples.product("MUG-1", title="Mug")])
    shop.seed("orders", [samples.order(7, customer_id=77)])
    (variant,) = shop.dump("products")[0]["variants"]["nodes"]
    found = library(
        """query($v: ID!, $c: ID!, $o: ID!) {
          productVariant(id: $v) { sku product { title } }
          customer(id: $c) { email displayName }
          node(id: $o) { id ... on Order { name customer { id } } }
          nodes(ids: [$v, $c, "gid://shopify/Order/999"]) { id }
        }""",
        v=variant["id"],
        c="gid://shopify/Customer/77",
        o="gid://shopify/Order/7",
    )["data"]
    assert found["productVariant"] == {"sku": "MUG-1", "product": {"title": "Mug"}}
    assert found["customer"] == {"email": "anna@example.com", "displayName": "Anna de Vries"}
    assert found["node"] == {
        "id": "gid://shopify/Order/7",
        "name": "#7",
        "customer": {"id": "gid://shopify/Customer/77"},
    }
    assert [n and n["id"] for n in found["nodes"]] == [
        variant["id"],
        "gid://shopify/Customer/77",
        None,
    ]


def test_references_resolve_through_every_path(shop: ShopifySandbox, library: Any) -> None:
    shop.seed("products", [samples.product("MUG-1", title="Mug")])
    answer = library(
        """{ productVariants(first: 5) { nodes {
             product { title variants(first: 5) {
               nodes { sku inventoryItem { sku variant { sku } } }
             } }
        } } }"""
    )
    assert "errors" not in answer
    (node,) = answer["data"]["productVariants"]["nodes"]
    inner = node["product"]["variants"]["nodes"][0]
    assert inner == {"sku": "MUG-1", "inventoryItem": {"sku": "MUG-1", "variant": {"sku": "MUG-1"}}}


# --- sort keys and search -----------------------------------------------------------------


def test_sort_keys_order_the_answer(shop: ShopifySandbox, library: Any) -> None:
    shop.seed(
        "orders",
        [
            samples.order(1, createdAt="2026-05-03T00:00:00Z", updated_at="2026-05-01T00:00:00Z"),
            samples.order(2, createdAt="2026-05-01T00:00:00Z", updated_at="2026-05-03T00:00:00Z"),
            samples.order(3, createdAt="2026-05-02T00:00:00Z", updated_at="2026-05-02T00:00:00Z"),
        ],
    )

    def names(sort: str, reverse: bool = False) -> list[str]:
        arguments = f"first: 5, sortKey: {sort}, reverse: {str(reverse).lower()}"
        query = f"{{ orders({arguments}) {{ nodes {{ name }} }} }}"
        return [n["name"] for n in library(query)["data"]["orders"]["nodes"]]

    assert names("CREATED_AT") == ["#2", "#3", "#1"]
    assert names("UPDATED_AT") == ["#1", "#3", "#2"]
    assert names("UPDATED_AT", reverse=True) == ["#2", "#3", "#1"]
    assert names("ORDER_NUMBER", reverse=True) == ["#3", "#2", "#1"]


def test_a_sort_key_shopify_has_but_the_sandbox_does_not_is_refused(
    shop: ShopifySandbox, library: Any
) -> None:
    need_specs(vendor_schema() is not None, "Shopify's Admin schema")
    answer = library("{ orders(first: 5, sortKey: TOTAL_PRICE) { nodes { name } } }")
    assert answer["errors"][0]["extensions"]["code"] == "NOT_EMULATED"
    assert "not emulated by the ihost sandbox" in answer["errors"][0]["message"]


def test_documented_search_fields_free_text_and_dates(shop: ShopifySandbox, library: Any) -> None:
    shop.seed(
        "orders",
        [
            samples.order(
                1, customer_id=41, email="piet@example.com", updated_at="2026-05-01T10:00:00Z"
            ),
            samples.order(
                2,
                customer_id=42,
                displayFulfillmentStatus="FULFILLED",
                updated_at="2026-05-03T10:00:00Z",
            ),
        ],
    )
    shop.seed("products", [{**samples.product("TEA-1", title="Green tea"), "vendor": "Leaf Co"}])

    def orders(search: str) -> list[str]:
        answer = library(
            "query($q: String) { orders(first: 5, query: $q) { nodes { name } } }", q=search
        )
        assert "errors" not in answer, answer
        return [n["name"] for n in answer["data"]["orders"]["nodes"]]

    assert orders("fulfillment_status:shipped") == ["#2"]
    assert orders("fulfillment_status:unshipped") == ["#1"]
    assert orders("customer_id:41") == ["#1"]
    assert orders("piet") == ["#1"]  # free text
    assert orders("updated_at:>=2026-05-02") == ["#2"]  # a day, not a timestamp
    assert orders("updated_at:<2026-05-02") == ["#1"]
    products = library("{ products(first: 5, query: \"vendor:'Leaf Co'\") { nodes { title } } }")
    assert products["data"]["products"]["nodes"] == [{"title": "Green tea"}]


# --- inventory ------------------------------------------------------------------------------


def test_seeded_stock_reads_back_through_inventory_levels(
    shop: ShopifySandbox, library: Any
) -> None:
    shop.seed("locations", [{"id": "gid://shopify/Location/2", "name": "Shop floor"}])
    shop.seed("products", [samples.product("MUG-1")])
    item = shop.dump("products")[0]["variants"]["nodes"][0]["inventoryItem"]["id"]
    shop.seed(
        "inventory",
        [
            {"inventoryItemId": item, "available": 7},
            {"inventoryItemId": item, "locationId": "gid://shopify/Location/2", "available": 3},
        ],
    )
    answer = library(
        """query($id: ID!) { inventoryItem(id: $id) {
             sku variant { inventoryQuantity }
             inventoryLevels(first: 5) { nodes {
               location { name }
               quantities(names: ["available", "on_hand"]) { name quantity }
             } }
             inventoryLevel(locationId: "gid://shopify/Location/2") {
               quantities(names: ["available"]) { quantity }
             }
        } }""",
        id=item,
    )["data"]["inventoryItem"]
    levels = {
        n["location"]["name"]: {q["name"]: q["quantity"] for q in n["quantities"]}
        for n in answer["inventoryLevels"]["nodes"]
    }
    assert levels == {
        "Warehouse": {"available": 7, "on_hand": 7},
        "Shop floor": {"available": 3, "on_hand": 3},
    }
    assert answer["inventoryLevel"]["quantities"] == [{"quantity": 3}]
    assert answer["variant"]["inventoryQuantity"] == 10


# --- costs, versions, errors --------------------------------------------------------------


def test_unused_query_cost_is_refunded(shop: ShopifySandbox) -> None:
    shop.seed("orders", [samples.order(1)])
    cost = post(
        shop, "{ orders(first: 50) { nodes { lineItems(first: 10) { nodes { sku } } } } }"
    ).json()["extensions"]["cost"]
    assert cost["requestedQueryCost"] == 2 + 50 * (1 + 2 + 10)
    assert cost["actualQueryCost"] == 2 + 1 * (1 + 2 + 1)
    assert cost["throttleStatus"]["currentlyAvailable"] >= 5000 - cost["actualQueryCost"] - 1


def test_the_api_version_is_checked_and_echoed(shop: ShopifySandbox) -> None:
    answer = post(shop, "{ shop { name } }", version="2026-01")
    assert answer.headers["X-Shopify-API-Version"] == "2026-01"
    fallen = post(shop, "{ shop { name } }", version="2023-04")
    assert fallen.status_code == 200 and fallen.headers["X-Shopify-API-Version"] == "2025-01"
    assert post(shop, "{ shop { name } }", version="2026-13").status_code == 404
    assert post(shop, "{ shop { name } }", version="latest").status_code == 404


def test_validation_errors_carry_shopifys_codes(shop: ShopifySandbox) -> None:
    def code(query: str) -> str:
        return post(shop, query).json()["errors"][0]["extensions"]["code"]

    assert code("{ orders(first: 1) { nodes { nope } } }") == "undefinedField"
    assert code("{ orders(first: 1, colour: 1) { nodes { id } } }") == "argumentNotAccepted"
    assert code("{ order { id } }") == "missingRequiredArguments"
    assert code('{ orders(first: "x") { nodes { id } } }') == "argumentLiteralsIncompatible"


def test_what_shopify_has_but_the_sandbox_does_not_is_refused_loudly(shop: ShopifySandbox) -> None:
    need_specs(vendor_schema() is not None, "Shopify's Admin schema")
    shop.seed("orders", [samples.order(1)])
    field = post(shop, "{ orders(first: 1) { nodes { fullyPaid } } }").json()
    assert field["errors"][0]["extensions"]["code"] == "NOT_EMULATED" and "data" not in field
    mutation = post(
        shop,
        'mutation { orderMarkAsPaid(input: {id: "gid://shopify/Order/1"}) '
        "{ userErrors { message } } }",
    ).json()
    assert "not emulated by the ihost sandbox" in mutation["errors"][0]["message"]
    node = post(shop, '{ node(id: "gid://shopify/DraftOrder/1") { id } }').json()
    assert "not emulated by the ihost sandbox" in node["errors"][0]["message"]


# --- seeding --------------------------------------------------------------------------------


def test_seeding_completes_what_shopify_fills_in(shop: ShopifySandbox, library: Any) -> None:
    shop.seed("orders", [{"lineItems": {"edges": [{"node": {"sku": "A", "quantity": 2}}]}}])
    answer = library(
        """{ orders(first: 1) { nodes { name createdAt currencyCode displayFulfillmentStatus
             totalPriceSet { shopMoney { amount } } tags
             lineItems(first: 5) { nodes { title sku quantity currentQuantity } }
             fulfillmentOrders(first: 1) {
               nodes { status lineItems(first: 5) { nodes { remainingQuantity } } }
             }
        } } }"""
    )
    assert "errors" not in answer, answer
    (order,) = answer["data"]["orders"]["nodes"]
    assert order["name"].startswith("#") and order["currencyCode"] == "EUR" and order["tags"] == []
    assert order["lineItems"]["nodes"] == [
        {"title": "A", "sku": "A", "quantity": 2, "currentQuantity": 2}
    ]
    assert order["fulfillmentOrders"]["nodes"][0]["lineItems"]["nodes"] == [
        {"remainingQuantity": 2}
    ]


def test_seeding_refuses_what_shopify_would_not_hold(shop: ShopifySandbox) -> None:
    with pytest.raises(ValueError, match=r"unknown kind 'order'.*orders"):
        shop.seed("order", [{}])
    with pytest.raises(ValueError, match=r"orders\[0\]: Order.total_price is not a field of Order"):
        shop.seed(
            "orders", [{"id": "gid://shopify/Order/5", "total_price": "10.00", "line_items": []}]
        )
    with pytest.raises(
        ValueError, match="displayFinancialStatus: 'paid' is not a OrderDisplayFinancialStatus"
    ):
        shop.seed("orders", [{"displayFinancialStatus": "paid"}])
    with pytest.raises(ValueError, match="is not a Order id"):
        shop.seed("orders", [{"id": "5"}])
    assert shop.dump("orders") == []
    refused = httpx.post(f"{shop.base_url}/_sandbox/seed/orders", json=[{"line_items": []}])
    assert refused.status_code == 400 and "line_items" in refused.json()["error"]
    seeded = httpx.post(f"{shop.base_url}/_sandbox/seed/orders", json=[samples.order(9)])
    assert seeded.json() == {"seeded": 1} and len(shop.dump("orders")) == 1


def test_the_cli_sandbox_loads_a_seed_file_and_refuses_a_bad_one(tmp_path: Path) -> None:
    good = tmp_path / "shop.json"
    good.write_text(
        json.dumps({"orders": [samples.order(3)], "products": [samples.product("X-1")]})
    )
    process = subprocess.Popen(
        [IHOST, "sandbox", "shopify", "--seed", str(good)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        assert process.stdout.readline().strip() == "seeded 1 orders, 1 products"
        url = process.stdout.readline().split(" at ")[1].strip()
        answer = httpx.post(
            f"{url}/admin/api/{VERSION}/graphql.json",
            json={"query": "{ orders(first: 5) { nodes { name } } }"},
            headers={"X-Shopify-Access-Token": "shpat_sandbox0123456789abcdef"},
        ).json()
        assert answer["data"]["orders"]["nodes"] == [{"name": "#3"}]
    finally:
        process.terminate()
        process.wait(10)
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps({"orders": [{"total_price": "1"}]}))
    result = subprocess.run(
        [IHOST, "sandbox", "shopify", "--seed", str(bad)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 2 and "total_price" in result.stderr
    assert "Traceback" not in result.stderr


# --- webhooks -------------------------------------------------------------------------------


class _Receiver(BaseHTTPRequestHandler):
    received: list[tuple[str, dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append((self.headers["X-Shopify-Topic"], json.loads(body)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return None


def test_webhooks_are_sent_on_the_shops_events(shop: ShopifySandbox) -> None:
    server = HTTPServer(("127.0.0.1", 0), _Receiver)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/hook"
    try:
        httpx.post(
            f"{shop.base_url}/_sandbox/webhooks", json={"topic": "orders/create", "url": url}
        )
        shop.subscribe("customers/create", url)
        httpx.post(f"{shop.base_url}/_sandbox/seed/orders", json=[samples.order(12)])
        post(
            shop,
            "mutation($i: CustomerInput!) { customerCreate(input: $i) { userErrors { message } } }",
            i={"email": "new@example.com"},
        )
        deadline = time.monotonic() + 5
        while len(_Receiver.received) < 2 and time.monotonic() < deadline:
            time.sleep(0.05)
        topics = {topic: body for topic, body in _Receiver.received}
        assert topics["orders/create"]["id"] == 12
        assert topics["orders/create"]["admin_graphql_api_id"] == "gid://shopify/Order/12"
        assert topics["customers/create"]["email"] == "new@example.com"
    finally:
        server.shutdown()


# --- bulk queries ---------------------------------------------------------------------------


def _finished(library: Any, gid: str) -> dict[str, Any]:
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        operation = library(
            "query($id: ID!) { node(id: $id) { ... on BulkOperation { id status errorCode "
            "objectCount rootObjectCount url partialDataUrl } } }",
            id=gid,
        )["data"]["node"]
        if operation["status"] not in ("CREATED", "RUNNING"):
            return operation
        time.sleep(0.05)
    raise AssertionError("the bulk operation did not finish")


BULK = """mutation($q: String!) { bulkOperationRunQuery(query: $q) {
    bulkOperation { id status } userErrors { field message code } } }"""
ORDERS_WITH_LINES = (
    '{ orders(query: "financial_status:paid") { edges { node { id name '
    "lineItems { edges { node { __typename sku } } } } } } }"
)


def test_a_bulk_query_exports_jsonl_with_parent_ids(shop: ShopifySandbox, library: Any) -> None:
    shop.seed("orders", [big_order(n, 3) for n in range(1, 451)])  # more than one slice
    started = library(BULK, q=ORDERS_WITH_LINES)["data"]["bulkOperationRunQuery"]
    assert started["userErrors"] == [] and started["bulkOperation"]["status"] == "CREATED"
    done = _finished(library, started["bulkOperation"]["id"])
    assert done["status"] == "COMPLETED" and done["objectCount"] == str(450 * 4)
    assert done["rootObjectCount"] == "450"
    lines = [json.loads(line) for line in httpx.get(done["url"]).text.splitlines()]  # no token
    assert lines[0] == {"id": "gid://shopify/Order/1", "name": "#1"}
    child = {"__typename": "LineItem", "sku": "L-000", "__parentId": "gid://shopify/Order/1"}
    assert lines[1] != child and child in lines  # from 2026-01 objects are not grouped
    grouped = library(
        "mutation($q: String!) { bulkOperationRunQuery(query: $q, groupObjects: true) "
        "{ bulkOperation { id } } }",
        q=ORDERS_WITH_LINES,
    )["data"]["bulkOperationRunQuery"]["bulkOperation"]
    url = _finished(library, grouped["id"])["url"]
    lines = [json.loads(line) for line in httpx.get(url).text.splitlines()]
    assert lines[1] == child and lines[4] == {"id": "gid://shopify/Order/2", "name": "#2"}
    current = library("{ currentBulkOperation { id status } }")["data"]["currentBulkOperation"]
    assert current == {"id": grouped["id"], "status": "COMPLETED"}


def test_bulk_queries_run_one_at_a_time_before_2026_01_and_are_checked(
    shop: ShopifySandbox,
) -> None:
    shop.seed("orders", [big_order(n, 2) for n in range(1, 2001)])

    def run(query: str, version: str) -> dict[str, Any]:
        return post(shop, BULK, version=version, q=query).json()["data"]["bulkOperationRunQuery"]

    first = run(ORDERS_WITH_LINES, "2025-10")
    second = run(ORDERS_WITH_LINES, "2025-10")
    assert first["userErrors"] == []
    assert second["userErrors"][0]["code"] == "OPERATION_IN_PROGRESS"
    assert first["bulkOperation"]["id"] in second["userErrors"][0]["message"]
    assert run("{ shop { name } }", "2026-10")["userErrors"][0]["code"] == "INVALID"
    too_deep = "{ products { edges { node { id collections { edges { node { id } } } } } } }"
    assert run(too_deep, "2026-10")["userErrors"] == []  # two levels are allowed


def test_a_failed_bulk_query_offers_its_partial_data(shop: ShopifySandbox, library: Any) -> None:
    shop.seed("orders", [big_order(n, 1) for n in range(1, 11)])
    shop.bulk.fail_after = 5
    started = library(BULK, q=ORDERS_WITH_LINES)["data"]["bulkOperationRunQuery"]
    done = _finished(library, started["bulkOperation"]["id"])
    assert done["status"] == "FAILED" and done["errorCode"] == "INTERNAL_SERVER_ERROR"
    assert done["url"] is None
    assert len(httpx.get(done["partialDataUrl"]).text.splitlines()) == 5
