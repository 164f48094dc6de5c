"""Every operation the connector sends validates against the sandbox's schema and, with
Shopify's schema file present, against Shopify's; the sandbox's schema is a faithful
subset of Shopify's."""

from __future__ import annotations

import httpx
import pytest
from graphql import (
    GraphQLEnumType,
    GraphQLInputObjectType,
    GraphQLInterfaceType,
    GraphQLObjectType,
    GraphQLSchema,
    parse,
    validate,
)
from graphql.language import FragmentDefinitionNode, OperationDefinitionNode
from ihost_shopify.queries import BULK_ORDERS, OPERATIONS
from ihost_shopify.sandbox import ShopifySandbox
from ihost_shopify.schema import requested_cost, sandbox_schema, vendor_schema

from host.testing.specs import need_specs


def _vendor() -> GraphQLSchema:
    schema = vendor_schema()
    need_specs(schema is not None, "Shopify's Admin schema (shopify/admin_schema_2025-01.json.gz)")
    assert schema is not None
    return schema


#: every document the connector sends, the bulk export's query among them
DOCUMENTS = {**OPERATIONS, "BULK_ORDERS": BULK_ORDERS % '"updated_at:>=2026-01-01"'}


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_operation_validates_against_the_sandbox(name: str) -> None:
    errors = validate(sandbox_schema(), parse(DOCUMENTS[name]))
    assert errors == [], [e.message for e in errors]


@pytest.mark.parametrize("name", sorted(DOCUMENTS))
def test_operation_validates_against_shopify(name: str) -> None:
    errors = validate(_vendor(), parse(DOCUMENTS[name]))
    assert errors == [], [e.message for e in errors]


def test_the_sandbox_schema_is_a_faithful_subset_of_shopifys() -> None:
    vendor = _vendor()
    ours = sandbox_schema()
    problems = []
    for name, kind in ours.type_map.items():
        if name.startswith("__"):
            continue
        theirs = vendor.get_type(name)
        if theirs is None or type(theirs) is not type(kind):
            problems.append(f"type {name}: not in Shopify's schema as a {type(kind).__name__}")
            continue
        if isinstance(kind, GraphQLEnumType):
            problems += [
                f"{name}.{v}: no such value" for v in kind.values if v not in theirs.values
            ]  # type: ignore[attr-defined]
            continue
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType)):
            missing = {i.name for i in kind.interfaces} - {i.name for i in theirs.interfaces}  # type: ignore[union-attr]
            problems += [f"{name} implements {i}: Shopify's does not" for i in missing]
        if isinstance(kind, (GraphQLObjectType, GraphQLInterfaceType, GraphQLInputObjectType)):
            for field, definition in kind.fields.items():
                other = theirs.fields.get(field)  # type: ignore[union-attr]
                if other is None:
                    problems.append(f"{name}.{field}: no such field")
                    continue
                if str(other.type) != str(definition.type):
                    problems.append(f"{name}.{field}: {definition.type}, Shopify {other.type}")
                for arg, spec in getattr(definition, "args", {}).items():
                    given = other.args.get(arg)
                    if given is None or str(given.type) != str(spec.type):
                        problems.append(f"{name}.{field}({arg}: {spec.type}): Shopify differs")
    for directive in ours.directives:
        if vendor.get_directive(directive.name) is None:
            problems.append(f"@{directive.name}: no such directive")
    assert problems == []


def test_default_pages_stay_under_shopify_cost_limit() -> None:
    from ihost_shopify.plugin import ShopifySettings

    first = ShopifySettings(shop="x", access_token="y").page_size
    for name in (
        "ORDERS",
        "REFUNDS",
        "ORDER_FULFILMENT",
        "ORDER_LINES",
        "ORDER_SHIPPING_LINES",
        "REFUND_LINES",
        "ORDER_FULFILMENT_ORDERS",
        "FULFILMENT_ORDER_LINES",
    ):
        document = parse(OPERATIONS[name])
        operation = next(d for d in document.definitions if isinstance(d, OperationDefinitionNode))
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        cost = requested_cost(sandbox_schema(), operation, fragments, {"first": first})
        assert cost <= 1000, (name, cost)


def test_operations_cover_every_call_in_the_plugin() -> None:
    import inspect

    from ihost_shopify import bulk, plugin

    source = inspect.getsource(plugin) + inspect.getsource(bulk)
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
        assert unknown["errors"][0]["extensions"]["code"] == "undefinedField"
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
