"""Reading a backfill of orders with one bulk operation (api/shopify.md §10).

Paging 10,000 orders at 4 orders and ~900 points a query takes hours on a Standard
plan; a bulk query costs 10 points, runs on Shopify's side and hands back one JSONL
file. `export_orders` starts it, polls it, and streams the file: with `groupObjects`
(asked for from API 2025-10; the default before 2026-01) an order's lines follow it,
so each order is yielded whole as soon as the next one starts and the export is never
held in memory. The file's URL is a signed link: it is fetched without the access token.

When Shopify will not run it (another bulk query of this app in progress before
2026-01, an invalid query), or it fails, expires or is canceled, the caller pages
instead (`None`), and the log says why.
"""

from __future__ import annotations

import itertools
import json
import logging
import time
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import httpx

from host.errors import RemoteRejected, RemoteUnavailable
from ihost_shopify import queries
from ihost_shopify.client import ShopifyClient

if TYPE_CHECKING:
    from ihost_shopify.plugin import ShopifySettings

log = logging.getLogger(__name__)
#: the order field each kind of flattened child belongs to
CHILD_FIELDS = {"LineItem": "lineItems", "ShippingLine": "shippingLines"}
#: the first version with bulkOperationRunQuery(groupObjects:)
GROUP_OBJECTS_FROM = "2025-10"


def export_orders(
    client: ShopifyClient, search: str, settings: ShopifySettings
) -> Iterator[dict[str, Any]] | None:
    """The orders matching `search` from a bulk export, or None to page instead."""
    query = queries.BULK_ORDERS % json.dumps(search)
    if settings.api_version >= GROUP_OBJECTS_FROM:
        started = client.execute(queries.BULK_RUN, {"query": query, "group": True})
    else:
        started = client.execute(queries.BULK_RUN_UNGROUPED, {"query": query})
    payload = started["bulkOperationRunQuery"]
    if payload.get("userErrors"):
        words = "; ".join(e.get("message", "") for e in payload["userErrors"])
        log.warning("shopify would not run a bulk export (%s): reading orders page by page", words)
        return None
    url = _wait(client, payload["bulkOperation"]["id"], settings)
    if url is None:
        return None
    return _orders(url, settings.timeout) if url else iter(())


def _wait(client: ShopifyClient, gid: str, settings: ShopifySettings) -> str | None:
    """The result URL once the operation completed ("" when it found nothing), or None
    when it failed, expired, was canceled or ran past the timeout."""
    deadline = time.monotonic() + settings.bulk_timeout
    # a small export is done in a moment: look again soon, then every bulk_poll_seconds
    pauses = itertools.chain((0.1, 0.25, 0.5, 1.0), itertools.repeat(settings.bulk_poll_seconds))
    while True:
        operation = client.execute(queries.BULK_STATUS, {"id": gid})["node"] or {}
        status = operation.get("status")
        if status == "COMPLETED":
            return operation.get("url") or ""
        if status in ("FAILED", "CANCELED", "EXPIRED", None):
            log.warning(
                "shopify bulk export %s ended %s (%s): reading orders page by page",
                gid,
                status,
                operation.get("errorCode") or "no error code",
            )
            return None
        if time.monotonic() > deadline:
            log.warning("shopify bulk export %s still %s: reading orders page by page", gid, status)
            return None
        time.sleep(min(next(pauses), settings.bulk_poll_seconds))


def _orders(url: str, timeout: float) -> Iterator[dict[str, Any]]:
    """Stream the JSONL file and yield each order with its lines, as a page answers it."""
    current: dict[str, Any] | None = None
    try:
        with httpx.stream("GET", url, timeout=timeout) as response:
            if response.status_code != 200:
                raise RemoteUnavailable(
                    f"shopify: the bulk export file answered HTTP {response.status_code}"
                )
            for line in response.iter_lines():
                if not line.strip():
                    continue
                node = json.loads(line)
                parent = node.pop("__parentId", None)
                if parent is None:
                    if current is not None:
                        yield current
                    current = _order(node)
                    continue
                if current is None or parent != current["id"]:
                    raise RemoteRejected(
                        "shopify: the bulk export is not grouped by order (a line of "
                        f"{parent} after {current['id'] if current else 'no order'})"
                    )
                field = CHILD_FIELDS.get(node.pop("__typename", ""))
                if field is None:
                    raise RemoteRejected("shopify: the bulk export holds an unexpected child")
                current[field]["nodes"].append(node)
    except httpx.HTTPError as exc:
        raise RemoteUnavailable(f"shopify: reading the bulk export failed: {exc}") from None
    if current is not None:
        yield current


def _order(node: dict[str, Any]) -> dict[str, Any]:
    for field in CHILD_FIELDS.values():
        node[field] = {"nodes": [], "pageInfo": {"hasNextPage": False, "endCursor": None}}
    return node
