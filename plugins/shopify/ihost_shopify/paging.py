"""Relay connections as Shopify pages them: `first`/`after` forwards, `last`/`before`
backwards, `reverse`, opaque cursors that hold the node's sort position (so a cursor
stays valid when other nodes change), and the errors Shopify gives for a connection
asked without a size or past 250 nodes."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Sequence
from typing import Any

from graphql import GraphQLError

MAX_PAGE = 250

Key = Callable[[dict[str, Any]], list[Any]]


def encode_cursor(position: list[Any]) -> str:
    return base64.b64encode(json.dumps({"p": position}).encode()).decode()


def decode_cursor(cursor: str) -> list[Any]:
    try:
        value = json.loads(base64.b64decode(cursor, validate=True))
        position = value["p"]
    except (binascii.Error, ValueError, TypeError, KeyError):
        raise GraphQLError(
            f"Invalid cursor {cursor[:40]!r}: use a cursor from this connection's pageInfo "
            "or edges",
            extensions={"code": "BAD_CURSOR"},
        ) from None
    if not isinstance(position, list):
        raise GraphQLError(f"Invalid cursor {cursor[:40]!r}", extensions={"code": "BAD_CURSOR"})
    return position


def check_size(first: int | None, last: int | None) -> None:
    """Shopify's rules for a connection's size arguments (bulk queries need none)."""
    if first is None and last is None:
        raise GraphQLError("you must provide one of first or last")
    if first is not None and last is not None:
        raise GraphQLError("providing both first and last is not supported")
    for name, value in (("first", first), ("last", last)):
        if value is not None and not 0 <= value <= MAX_PAGE:
            raise GraphQLError(
                f"The value of '{name}' must be between 0 and {MAX_PAGE}",
                extensions={"code": "BAD_REQUEST"},
            )


def page(
    items: Sequence[dict[str, Any]],
    key: Key,
    *,
    first: int | None = None,
    after: str | None = None,
    last: int | None = None,
    before: str | None = None,
    reverse: bool = False,
) -> dict[str, Any]:
    """One page of `items` (already in the connection's order; `reverse` flips it), with
    `nodes`, `edges` and `pageInfo`. `first`/`last` both None answers every node (bulk)."""
    ordered = list(reversed(items)) if reverse else list(items)
    positions = [comparable(key(item)) for item in ordered]
    start, end = 0, len(ordered)
    if after is not None:
        mark = comparable(decode_cursor(after))
        start = next((i for i, p in enumerate(positions) if _beyond(p, mark, reverse)), end)
    if before is not None:
        mark = comparable(decode_cursor(before))
        end = next((i for i, p in enumerate(positions) if not _before(p, mark, reverse)), end)
        end = max(end, start)
    window = range(start, end)
    if first is not None:
        window = window[:first]
    elif last is not None:
        window = window[max(len(window) - last, 0) :]
    chosen = [ordered[i] for i in window]
    cursors = [encode_cursor(key(item)) for item in chosen]
    return {
        "nodes": chosen,
        "edges": [{"node": n, "cursor": c} for n, c in zip(chosen, cursors, strict=True)],
        "pageInfo": {
            "hasNextPage": (window.stop < len(ordered)) if window else end < len(ordered),
            "hasPreviousPage": window.start > 0 if window else start > 0,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def comparable(position: list[Any]) -> tuple[Any, ...]:
    """A sort position made safe to compare (None sorts first, numbers before text): the
    order a connection's nodes are sorted in, so a cursor compares the same way."""
    return tuple(
        (0, 0) if v is None else (1, v) if isinstance(v, (int, float)) else (2, str(v))
        for v in position
    )


def _beyond(position: tuple[Any, ...], mark: tuple[Any, ...], reverse: bool) -> bool:
    return position < mark if reverse else position > mark


def _before(position: tuple[Any, ...], mark: tuple[Any, ...], reverse: bool) -> bool:
    return position > mark if reverse else position < mark
