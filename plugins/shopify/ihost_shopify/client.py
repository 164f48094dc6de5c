"""The Admin GraphQL API over httpx (api/shopify.md §1, §2, §11).

Every response carries `extensions.cost.throttleStatus`; the client keeps a CostBucket in
step with it and waits, before each call, until the bucket should hold what that
operation last cost, so a sync paces itself instead of running into THROTTLED. A
THROTTLED answer (HTTP 200) or a 429 is waited out and retried; `userErrors` become
RemoteRejected with Shopify's own words. Connections are paged with the toolkit's
GraphQLConnection, one `execute` a page.
"""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterator
from typing import Any

from host.auth import ApiKeyHeader
from host.errors import AuthError, RateLimited, RemoteRejected
from host.http import CostBucket, HttpClient
from host.paging import GraphQLConnection, Page, PageRequest, paginate

_OPERATION = re.compile(r"\b(query|mutation)\s+(\w+)")
DEFAULT_COST = 50  # the guess for an operation not seen yet
THROTTLE_RETRIES = 8


class ShopifyClient:
    """One shop's Admin GraphQL endpoint."""

    def __init__(
        self,
        shop: str,
        access_token: str,
        api_version: str,
        *,
        timeout: float = 30.0,
        bucket_size: float = 2000,
        restore_rate: float = 100,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        base = shop if shop.startswith(("http://", "https://")) else f"https://{shop}"
        self.http = HttpClient(
            base.rstrip("/"),
            auth=ApiKeyHeader("X-Shopify-Access-Token", access_token),
            timeout=timeout,
            name="shopify",
        )
        self.path = f"/admin/api/{api_version}/graphql.json"
        self.bucket = CostBucket(bucket_size, restore_rate)
        self.costs: dict[str, float] = {}
        self.throttled = 0  # THROTTLED answers waited out
        self._sleep = sleep

    def close(self) -> None:
        self.http.close()

    @property
    def waited(self) -> float:
        """Seconds spent waiting on Shopify's rate limits."""
        return self.bucket.waited + self.http.waited

    def execute(
        self,
        query: str,
        variables: dict[str, Any] | None = None,
        *,
        idempotent: bool | None = None,
    ) -> dict[str, Any]:
        """Run one operation; returns its `data`. A query, or a mutation with an
        `@idempotent` key, is repeated when its answer is lost; any other mutation only
        when `idempotent` says it sets values (an update), else the caller decides."""
        match = _OPERATION.search(query)
        name = match.group(2) if match else "anonymous"
        if idempotent is None:
            idempotent = (match is None or match.group(1) == "query") or "@idempotent" in query
        for _ in range(THROTTLE_RETRIES):
            self.bucket.acquire(self.costs.get(name, DEFAULT_COST))
            response = self.http.post(
                self.path,
                json={"query": query, "variables": variables or {}},
                idempotent=idempotent,
            )
            body = response.json()
            cost = (body.get("extensions") or {}).get("cost")
            if cost:
                status = cost["throttleStatus"]
                self.bucket.update(
                    status["currentlyAvailable"], status["maximumAvailable"], status["restoreRate"]
                )
                self.costs[name] = cost["requestedQueryCost"]
            errors = body.get("errors")
            if not errors:
                return body.get("data") or {}
            codes = {(e.get("extensions") or {}).get("code") for e in errors if isinstance(e, dict)}
            if "THROTTLED" in codes and cost:
                self.throttled += 1
                status = cost["throttleStatus"]
                if cost["requestedQueryCost"] > status["maximumAvailable"]:
                    raise RemoteRejected(
                        f"shopify: {name} costs {cost['requestedQueryCost']} points, more than "
                        f"the bucket's {status['maximumAvailable']:.0f}: ask for fewer records"
                    )
                wait = (cost["requestedQueryCost"] - status["currentlyAvailable"]) / status[
                    "restoreRate"
                ]
                self._sleep(max(wait, 0.05))
                self.bucket.waited += max(wait, 0.05)
                continue
            messages = "; ".join(
                e.get("message", str(e)) if isinstance(e, dict) else str(e) for e in errors
            )
            if "ACCESS_DENIED" in codes:
                raise AuthError(f"shopify refused {name}: {messages} (check the app's scopes)")
            raise RemoteRejected(f"shopify rejected {name}: {messages}", details=errors)
        raise RateLimited(f"shopify: {name} still throttled after {THROTTLE_RETRIES} tries", 1.0)

    def paginate(
        self, query: str, variables: dict[str, Any], connection: GraphQLConnection
    ) -> Iterator[Any]:
        """The nodes of a connection, page by page, each page one `execute` of `query`;
        `connection` locates it in the answer's `data`. An `after` among `variables`
        starts from that cursor."""
        request = PageRequest("POST", self.path, json={"query": query, "variables": variables})
        return paginate(self._page, connection, request, name="shopify")

    def _page(self, request: PageRequest) -> Page:
        return Page(self.execute(request.json["query"], request.json["variables"]))


def user_errors(payload: dict[str, Any] | None, what: str) -> None:
    """Raise RemoteRejected with Shopify's own words when a mutation reports userErrors."""
    errors = (payload or {}).get("userErrors") or []
    if errors:
        parts = []
        for error in errors:
            field = ".".join(error.get("field") or [])
            code = f" ({error['code']})" if error.get("code") else ""
            parts.append(f"{field + ': ' if field else ''}{error['message']}{code}")
        raise RemoteRejected(f"shopify refused {what}: " + "; ".join(parts), details=errors)
