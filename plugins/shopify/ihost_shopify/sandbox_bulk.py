"""Bulk query operations as Shopify runs them (api/shopify.md §10).

`bulkOperationRunQuery` checks the query (at least one connection, at most 5, nested at
most 2 levels, a parent of a nested connection selects `id`), then runs it in the
background: the root connection is read in slices, every node becomes one JSONL line,
and the nodes of nested connections become lines of their own with `__parentId`.
With `groupObjects` (the default before 2026-01) a node's children follow it; without,
each slice's parents come first. The file is served at a local URL that needs no token,
as Shopify's signed download URLs do. Before 2026-01 one bulk query runs at a time per
shop, from 2026-01 five. A test can make the next operation fail after N objects
(`fail_after`): it ends FAILED with a `partialDataUrl`; or keep operations running
(`held`).
"""

from __future__ import annotations

import itertools
import json
import tempfile
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from graphql import (
    FieldNode,
    GraphQLError,
    OperationDefinitionNode,
    execute_sync,
    get_named_type,
    parse,
)
from graphql.language import FragmentDefinitionNode

from ihost_shopify.schema import fields_of
from ihost_shopify.store import now_iso

if TYPE_CHECKING:
    from ihost_shopify.sandbox import ShopifySandbox

SLICE = 200
MAX_CONNECTIONS = 5
MAX_DEPTH = 2
DOWNLOAD_PATH = "/_sandbox/bulk"


class BulkOperations:
    """The shop's bulk operations and their result files."""

    def __init__(self, box: ShopifySandbox) -> None:
        self.box = box
        self.operations: dict[str, dict[str, Any]] = {}
        self.files: dict[str, Path] = {}
        self.fail_after: int | None = None  # tests: the next operation fails after N objects
        self.held = threading.Event()  # tests: while set, operations stay RUNNING
        self._directory = tempfile.TemporaryDirectory(prefix="ihost-shopify-bulk-")
        self._numbers = itertools.count(1)
        self._cancelled: set[str] = set()

    def close(self) -> None:
        self._directory.cleanup()

    def get(self, gid: str) -> dict[str, Any] | None:
        return self.operations.get(gid)

    def current(self, kind: str = "QUERY") -> dict[str, Any] | None:
        """The latest operation of `kind` (currentBulkOperation)."""
        mine = [op for op in self.operations.values() if op["type"] == kind]
        return mine[-1] if mine else None

    def path(self, number: str) -> Path | None:
        return self.files.get(number)

    # --- mutations ------------------------------------------------------------------------

    def start(self, query: str, group: bool | None, version: str) -> dict[str, Any]:
        with self.box.lock:
            running = [o for o in self.operations.values() if o["status"] in ("CREATED", "RUNNING")]
            limit = 1 if version < "2026-01" else 5
            if len(running) >= limit:
                return _refused(
                    "A bulk query operation for this app and shop is already in progress: "
                    f"{running[0]['id']}.",
                    "OPERATION_IN_PROGRESS",
                )
            try:
                document, operation = self._checked(query)
            except GraphQLError as exc:
                return _refused(exc.message, "INVALID")
            number = str(next(self._numbers))
            gid = f"gid://shopify/BulkOperation/{number}"
            op: dict[str, Any] = {
                "id": gid,
                "status": "CREATED",
                "type": "QUERY",
                "query": query,
                "errorCode": None,
                "objectCount": "0",
                "rootObjectCount": "0",
                "fileSize": None,
                "url": None,
                "partialDataUrl": None,
                "createdAt": now_iso(),
                "completedAt": None,
            }
            self.operations[gid] = op
            grouped = group if group is not None else version < "2026-01"
            fail_after, self.fail_after = self.fail_after, None
        threading.Thread(
            target=self._run_quietly,
            args=(op, number, document, operation, grouped, version, fail_after),
            name=f"shopify-bulk-{number}",
            daemon=True,
        ).start()
        return {"bulkOperation": op, "userErrors": []}

    def cancel(self, gid: str) -> dict[str, Any]:
        with self.box.lock:
            op = self.operations.get(gid)
            if op is None:
                return {
                    "bulkOperation": None,
                    "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}],
                }
            if op["status"] not in ("CREATED", "RUNNING"):
                return {
                    "bulkOperation": op,
                    "userErrors": [
                        {
                            "field": None,
                            "message": "A bulk operation cannot be canceled when it is "
                            + op["status"].lower(),
                        }
                    ],
                }
            op["status"] = "CANCELING"
            self._cancelled.add(gid)
        return {"bulkOperation": op, "userErrors": []}

    # --- the query ------------------------------------------------------------------------

    def _checked(self, query: str) -> tuple[Any, OperationDefinitionNode]:
        """The parsed query, or GraphQLError with Shopify's reason."""
        try:
            document = parse(query)
        except GraphQLError as exc:
            raise GraphQLError(f"Invalid bulk query: {exc.message}") from None
        schema = self.box.schema
        if problems := self.box.validation_errors(document):
            raise GraphQLError(f"Invalid bulk query: {problems[0]['message']}")
        operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
        if len(operations) != 1 or operations[0].operation.value != "query":
            raise GraphQLError("Invalid bulk query: it must hold exactly one query")
        fragments = {
            d.name.value: d for d in document.definitions if isinstance(d, FragmentDefinitionNode)
        }
        roots = fields_of(operations[0], fragments)
        found = _connections(schema.query_type, operations[0], fragments, 0)
        if not found or not roots or not _is_connection(schema.query_type, roots[0]):
            raise GraphQLError("Bulk queries must contain at least one connection.")
        if len(roots) != 1:
            raise GraphQLError("Bulk queries must have exactly one top-level field.")
        if len(found) > MAX_CONNECTIONS:
            raise GraphQLError(
                f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
            )
        if max(depth for depth, _ in found) > MAX_DEPTH:
            raise GraphQLError(
                "Bulk queries cannot contain connections with a nesting depth greater "
                f"than {MAX_DEPTH}."
            )
        for depth, node_field in found:
            if depth > 1 and not node_field:
                raise GraphQLError(
                    "The parent 'node' field for a nested connection must select the 'id' field "
                    "without an alias and must be of 'ID' return type."
                )
        return document, operations[0]

    def _run_quietly(self, op: dict[str, Any], *args: Any) -> None:
        """Run an operation; one the sandbox cannot finish (stopped under it) ends FAILED."""
        try:
            self._run(op, *args)
        except (OSError, ValueError):
            with self.box.lock:
                op.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR", completedAt=now_iso())

    def _run(
        self,
        op: dict[str, Any],
        number: str,
        document: Any,
        operation: OperationDefinitionNode,
        grouped: bool,
        version: str,
        fail_after: int | None,
    ) -> None:
        target = Path(self._directory.name) / f"{number}.jsonl"
        url = f"{self.box.base_url}{DOWNLOAD_PATH}/{number}.jsonl"
        with self.box.lock:
            op["status"] = "RUNNING"
        while self.held.is_set() and op["id"] not in self._cancelled:
            time.sleep(0.01)
        objects = roots = 0
        failed = False
        with target.open("w", encoding="utf-8") as out:
            start = 0
            while True:
                with self.box.lock:
                    if op["id"] in self._cancelled:
                        op.update(status="CANCELED", completedAt=now_iso())
                        return
                    result = execute_sync(
                        self.box.schema,
                        document,
                        context_value={
                            "sandbox": self.box,
                            "version": version,
                            "bulk": (start, start + SLICE),
                        },
                        field_resolver=self.box.field_resolver,
                        type_resolver=self.box.type_resolver,
                    )
                if result.errors or not result.data:
                    failed = True
                    break
                (value,) = result.data.values()
                nodes = _nodes(value)
                lines = _flatten(nodes, grouped)
                for line in lines:
                    if fail_after is not None and objects >= fail_after:
                        failed = True
                        break
                    out.write(json.dumps(line, separators=(",", ":")) + "\n")
                    objects += 1
                    roots += "__parentId" not in line
                if failed or len(nodes) < SLICE:
                    break
                start += SLICE
        with self.box.lock:
            self.files[f"{number}.jsonl"] = target
            op.update(
                objectCount=str(objects),
                rootObjectCount=str(roots),
                fileSize=str(target.stat().st_size),
                completedAt=now_iso(),
            )
            if failed:
                op.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR", partialDataUrl=url)
            else:
                op.update(status="COMPLETED", url=url if objects else None)


def _refused(message: str, code: str) -> dict[str, Any]:
    return {
        "bulkOperation": None,
        "userErrors": [{"field": ["query"], "message": message, "code": code}],
    }


def _is_connection(parent: Any, field: FieldNode) -> bool:
    definition = getattr(parent, "fields", {}).get(field.name.value)
    return definition is not None and get_named_type(definition.type).name.endswith("Connection")


def _connections(
    parent: Any, node: Any, fragments: dict[str, Any], depth: int
) -> list[tuple[int, bool]]:
    """(nesting depth, whether the node's parent selects `id`) of each connection."""
    found: list[tuple[int, bool]] = []
    for field in fields_of(node, fragments):
        definition = getattr(parent, "fields", {}).get(field.name.value)
        if definition is None:
            continue
        named = get_named_type(definition.type)
        if named.name.endswith("Connection"):
            selects_id = any(
                f.name.value == "id" and f.alias is None for f in fields_of(node, fragments)
            )
            found.append((depth + 1, selects_id or depth == 0))
            node_type = get_named_type(named.fields["nodes"].type)  # type: ignore[attr-defined]
            for child in fields_of(field, fragments):
                inner = (
                    [child]
                    if child.name.value == "nodes"
                    else [f for f in fields_of(child, fragments) if f.name.value == "node"]
                )
                for selection in inner:
                    found += _connections(node_type, selection, fragments, depth + 1)
        elif hasattr(named, "fields"):
            found += _connections(named, field, fragments, depth)
    return found


def _nodes(connection: Any) -> list[dict[str, Any]]:
    if not isinstance(connection, dict):
        return []
    if isinstance(connection.get("nodes"), list):
        return connection["nodes"]
    return [e["node"] for e in connection.get("edges") or [] if isinstance(e, dict)]


def _is_connection_value(value: Any) -> bool:
    return isinstance(value, dict) and (
        isinstance(value.get("edges"), list) or isinstance(value.get("nodes"), list)
    )


def _flatten(nodes: list[dict[str, Any]], grouped: bool) -> list[dict[str, Any]]:
    """JSONL lines for a slice of root nodes: each node without its nested connections,
    then (grouped) right after it, or (not grouped) after the slice's parents, the
    nodes of those connections with `__parentId`."""
    parents: list[dict[str, Any]] = []
    children: list[dict[str, Any]] = []
    for node in nodes:
        own, kids = _split(node, None)
        if grouped:
            parents += [own, *kids]
        else:
            parents.append(own)
            children += kids
    return parents + children


def _split(node: dict[str, Any], parent: str | None) -> tuple[dict[str, Any], list[dict[str, Any]]]:
    own: dict[str, Any] = {}
    kids: list[dict[str, Any]] = []
    for key, value in node.items():
        if _is_connection_value(value):
            for child in _nodes(value):
                child_own, grand = _split(child, node.get("id"))
                kids += [child_own, *grand]
        else:
            own[key] = value
    if parent is not None:
        own["__parentId"] = parent
    return own, kids
