"""The two GraphQL schemas of the Shopify sandbox and Shopify's query cost rules.

`sandbox_schema()` is the project's own description of what the sandbox emulates
(admin.graphql, shipped in the package): requests execute against it, so the sandbox
works in a clone with nothing beside it. `vendor_schema()` is Shopify's published Admin
schema (API 2025-01, read in place from the specs directory, DESIGN §9) plus the later
changes the connector relies on; when it is there, every request is validated against
it first, and a test proves the sandbox schema is a faithful subset of it.
"""

from __future__ import annotations

import functools
import gzip
import json
from importlib import resources
from typing import Any

from graphql import (
    FieldNode,
    GraphQLArgument,
    GraphQLBoolean,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_client_schema,
    build_schema,
    extend_schema,
    get_named_type,
    is_leaf_type,
    parse,
)
from graphql.language import FragmentSpreadNode, InlineFragmentNode, IntValueNode, VariableNode

from host.sandbox import specs_dir

SCHEMA_FILE = "shopify/admin_schema_2025-01.json.gz"

#: Later API changes the connector uses (api/shopify.md §1, §5, §10, §12a).
LATER_CHANGES = """
directive @idempotent(key: String!) on FIELD
extend input InventoryQuantityInput { changeFromQuantity: Int }
extend enum InventorySetQuantitiesUserErrorCode {
  CHANGE_FROM_QUANTITY_STALE
  IDEMPOTENCY_CONCURRENT_REQUEST
  IDEMPOTENCY_KEY_PARAMETER_MISMATCH
  IDEMPOTENCY_PREVIOUS_ATTEMPT_FAILED
}
"""
#: Arguments added after 2025-01, which SDL cannot add to an existing field (§10).
LATER_ARGUMENTS = {("Mutation", "bulkOperationRunQuery", "groupObjects"): GraphQLBoolean}


@functools.cache
def sandbox_schema() -> GraphQLSchema:
    """What the sandbox emulates, from the package's own SDL."""
    text = resources.files("ihost_shopify").joinpath("admin.graphql").read_text("utf-8")
    return build_schema(text)


@functools.cache
def vendor_schema() -> GraphQLSchema | None:
    """Shopify's 2025-01 schema with the later changes; None when the specs are absent."""
    directory = specs_dir()
    if directory is None or not (directory / SCHEMA_FILE).is_file():
        return None
    with gzip.open(directory / SCHEMA_FILE) as handle:
        introspection = json.load(handle)
    schema = build_client_schema(introspection["data"])
    # graphql-core refuses two of Shopify's own deprecations (an interface field that is
    # not deprecated where the object field is); queries are still well defined
    schema._validation_errors = []  # type: ignore[attr-defined]
    extended = extend_schema(schema, parse(LATER_CHANGES), assume_valid=True)
    extended._validation_errors = []  # type: ignore[attr-defined]
    for (type_name, field, argument), kind in LATER_ARGUMENTS.items():
        extended.get_type(type_name).fields[field].args[argument] = GraphQLArgument(kind)  # type: ignore[union-attr]
    return extended


MUTATION_COST = 10


def requested_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, Any],
    variables: dict[str, Any],
) -> int:
    """Shopify's published cost rules: a mutation costs 10; an object 1; a scalar 0; a
    connection 2 plus, for each node requested with `first`/`last`, that node's cost."""
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * len(operation.selection_set.selections)
    return _selection_cost(schema.query_type, operation, fragments, variables, None)


def actual_cost(
    schema: GraphQLSchema,
    operation: OperationDefinitionNode,
    fragments: dict[str, Any],
    variables: dict[str, Any],
    data: dict[str, Any] | None,
) -> int:
    """The same rules over the nodes the answer really holds (Shopify refunds the
    difference to the bucket)."""
    if operation.operation == OperationType.MUTATION:
        return MUTATION_COST * len(operation.selection_set.selections)
    return _selection_cost(schema.query_type, operation, fragments, variables, data or {})


def fields_of(node: Any, fragments: dict[str, Any]) -> list[FieldNode]:
    """The fields selected under `node`, fragments spread."""
    found: list[FieldNode] = []
    for selection in node.selection_set.selections if node.selection_set else []:
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += fields_of(selection, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            found += fields_of(fragments[selection.name.value], fragments)
    return found


def argument(field: FieldNode, name: str, variables: dict[str, Any]) -> Any:
    """An argument's value as given (literal or variable), None when absent."""
    for given in field.arguments or ():
        if given.name.value == name:
            value = given.value
            if isinstance(value, VariableNode):
                return variables.get(value.name.value)
            if isinstance(value, IntValueNode):
                return int(value.value)
            return getattr(value, "value", None)
    return None


def _selection_cost(
    parent: Any,
    node: Any,
    fragments: dict[str, Any],
    variables: dict[str, Any],
    data: dict[str, Any] | None,
) -> int:
    total = 0
    for field in fields_of(node, fragments):
        key = field.alias.value if field.alias else field.name.value
        value = data.get(key) if isinstance(data, dict) else None
        total += _field_cost(parent, field, fragments, variables, value, data is not None)
    return total


def _field_cost(
    parent: Any,
    field: FieldNode,
    fragments: dict[str, Any],
    variables: dict[str, Any],
    value: Any,
    actual: bool,
) -> int:
    definition = getattr(parent, "fields", {}).get(field.name.value)
    if definition is None:
        return 0
    named = get_named_type(definition.type)
    if is_leaf_type(named):
        return 0
    if named.name.endswith("Connection"):
        node_type = get_named_type(named.fields["nodes"].type)  # type: ignore[attr-defined]
        return 2 + _nodes_cost(node_type, field, fragments, variables, value, actual)
    if actual:
        items = value if isinstance(value, list) else [value]
        return sum(
            1 + _selection_cost(named, field, fragments, variables, item or {}) for item in items
        )
    return 1 + _selection_cost(named, field, fragments, variables, None)


def _nodes_cost(
    node_type: Any,
    field: FieldNode,
    fragments: dict[str, Any],
    variables: dict[str, Any],
    value: Any,
    actual: bool,
) -> int:
    """The cost of a connection's nodes: requested, `first` times one node; actual, the
    nodes answered (under `nodes` or `edges`)."""
    total = 0
    for child in fields_of(field, fragments):
        if child.name.value == "nodes":
            selections = [(child, "nodes")]
        elif child.name.value == "edges":
            selections = [
                (e, "edges") for e in fields_of(child, fragments) if e.name.value == "node"
            ]
        else:
            continue
        for selection, where in selections:
            if not actual:
                count = argument(field, "first", variables) or argument(field, "last", variables)
                total += int(count or 0) * (
                    1 + _selection_cost(node_type, selection, fragments, variables, None)
                )
                continue
            key = child.alias.value if child.alias else child.name.value
            items = (value or {}).get(key) or []
            for item in items:
                item = (item or {}).get("node") if where == "edges" else item
                total += 1 + _selection_cost(node_type, selection, fragments, variables, item or {})
    return total
