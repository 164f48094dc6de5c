"""Shopify's Admin GraphQL schema, read in place from the specs directory (DESIGN §9).

The introspection file is API 2025-01; the changes Shopify made since, which the
connector relies on (api/shopify.md), are added here as SDL.
"""

from __future__ import annotations

import functools
import gzip
import json
from typing import Any

from graphql import (
    FieldNode,
    GraphQLSchema,
    OperationDefinitionNode,
    OperationType,
    build_client_schema,
    extend_schema,
    get_named_type,
    is_leaf_type,
    parse,
)
from graphql.language import FragmentSpreadNode, InlineFragmentNode, IntValueNode, VariableNode

from host.sandbox import specs_dir

SCHEMA_FILE = "shopify/admin_schema_2025-01.json.gz"

#: Later API changes the connector uses (api/shopify.md §1, §5, §12a).
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


@functools.cache
def admin_schema() -> GraphQLSchema | None:
    """The 2025-01 schema extended with later changes; None when the specs are absent."""
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
    root = schema.query_type
    return sum(_field_cost(root, f, fragments, variables) for f in _fields(operation, fragments))


def _fields(node: Any, fragments: dict[str, Any]) -> list[FieldNode]:
    found: list[FieldNode] = []
    for selection in node.selection_set.selections if node.selection_set else []:
        if isinstance(selection, FieldNode):
            found.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            found += _fields(selection, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            found += _fields(fragments[selection.name.value], fragments)
    return found


def _argument(field: FieldNode, name: str, variables: dict[str, Any]) -> int:
    for argument in field.arguments or ():
        if argument.name.value == name:
            value = argument.value
            if isinstance(value, IntValueNode):
                return int(value.value)
            if isinstance(value, VariableNode):
                return int(variables.get(value.name.value) or 0)
    return 0


def _field_cost(
    parent: Any, field: FieldNode, fragments: dict[str, Any], variables: dict[str, Any]
) -> int:
    name = field.name.value
    definition = getattr(parent, "fields", {}).get(name)
    if definition is None:
        return 0
    named = get_named_type(definition.type)
    if is_leaf_type(named):
        return 0
    children = _fields(field, fragments)
    if named.name.endswith("Connection"):
        count = _argument(field, "first", variables) or _argument(field, "last", variables)
        node_type = get_named_type(named.fields["nodes"].type)  # type: ignore[attr-defined]
        per_node = 0
        for child in children:
            if child.name.value == "nodes":
                per_node += _object_cost(node_type, child, fragments, variables)
            elif child.name.value == "edges":
                for edge_field in _fields(child, fragments):
                    if edge_field.name.value == "node":
                        per_node += _object_cost(node_type, edge_field, fragments, variables)
        return 2 + count * per_node
    return _object_cost(named, field, fragments, variables)


def _object_cost(
    named: Any, field: FieldNode, fragments: dict[str, Any], variables: dict[str, Any]
) -> int:
    children = _fields(field, fragments)
    return 1 + sum(_field_cost(named, child, fragments, variables) for child in children)
