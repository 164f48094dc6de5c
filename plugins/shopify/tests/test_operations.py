"""Every operation the connector can send validates against Shopify's schema."""

from __future__ import annotations

import httpx
import pytest
from graphql import parse, validate
from ihost_shopify.queries import OPERATIONS
from ihost_shopify.sandbox import ShopifySandbox
from ihost_shopify.schema import admin_schema


def test_the_schema_is_read_in_place() -> None:
    assert admin_schema() is not None, "the test suite needs ../shared/specs (or IHOST_SPECS_DIR)"


@pytest.mark.parametrize("name", sorted(OPERATIONS))
def test_operation_validates(name: str) -> None:
    errors = validate(admin_schema(), parse(OPERATIONS[name]))
    assert errors == [], [e.message for e in errors]


def test_default_pages_stay_under_shopify_cost_limit() -> None:
    from graphql.language import FragmentDefinitionNode, OperationDefinitionNode
    from ihost_shopify.plugin import ShopifySettings
    from ihost_shopify.schema import requested_cost

    first = ShopifySettings(shop="x", access_token="y").page_size
    for name in ("ORDERS", "REFUNDS", "ORDER_FULFILMENT"):
        document = parse(OPERATIONS[name])
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        cost = requested_cost(admin_schema(), operation, fragments, {"first": first})
        assert cost <= 1000, (name, cost)


def test_operations_cover_every_call_in_the_plugin() -> None:
    import inspect

    from ihost_shopify import plugin

    source = inspect.getsource(plugin)
    used = {name for name in OPERATIONS if f"queries.{name}" in source}
    assert used == set(OPERATIONS), set(OPERATIONS) - used


def test_sandbox_rejects_what_shopify_rejects() -> None:
    with ShopifySandbox() as sandbox:
        url = f"{sandbox.base_url}/admin/api/2026-10/graphql.json"
        headers = {"X-Shopify-Access-Token": sandbox.token}
        unknown = httpx.post(
            url, json={"query": "{ orders(first: 1) { nodes { subtotal } } }"}, headers=headers
        ).json()
        assert unknown["errors"][0]["message"] == "Cannot query field 'subtotal' on type 'Order'."
        nested = "{ orders(first: 250) { nodes { lineItems(first: 250) { nodes { id } } } } }"
        too_big = httpx.post(url, json={"query": nested}, headers=headers).json()
        assert too_big["errors"][0]["extensions"]["code"] == "MAX_COST_EXCEEDED"
        no_key = httpx.post(
            url,
            headers=headers,
            json={
                "query": "mutation($i: InventorySetQuantitiesInput!) "
                "{ inventorySetQuantities(input: $i) { userErrors { message } } }",
                "variables": {"i": {"name": "available", "reason": "correction", "quantities": []}},
            },
        ).json()
        assert no_key["errors"][0]["extensions"]["code"] == "IDEMPOTENCY_KEY_REQUIRED"
        bad_search = httpx.post(
            url,
            headers=headers,
            json={"query": '{ orders(first: 1, query: "colour:red") { nodes { id } } }'},
        ).json()
        assert "unknown search field 'colour'" in bad_search["errors"][0]["message"]
        assert httpx.post(url, json={"query": "{ shop { name } }"}).status_code == 401
