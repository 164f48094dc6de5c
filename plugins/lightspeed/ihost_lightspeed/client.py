"""Lightspeed Retail (R-Series) API V3 (api/lightspeed.md §1-§3, §7), over the host's toolkit.

Every call carries the OAuth2 bearer token (rotating refresh tokens, kept by the toolkit)
and costs drips from a leaky bucket per account and client. The client estimates a call's
cost before it sends it (1, plus what `load_relations` adds), waits until the bucket has
room, and after each answer takes Lightspeed's own account of the bucket
(`X-LS-Api-Bucket-Level: level/size`, `X-LS-Api-Drip-Rate`); a 429 is waited out by its
Retry-After. One bucket is shared by every flow of the connection in this process. Lists
page by the full-URL `@attributes.next` cursor, followed as given.
"""

from __future__ import annotations

import json
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from typing import Any

import httpx

from host.errors import AuthError
from host.http import CostBucket, HttpClient
from host.paging import NextLink, PagingError

#: the documented bucket of an account with one register: 90 drips, 1 a second
BUCKET_SIZE, DRIP_RATE = 90.0, 1.0
PAGE_MAX = 100
_buckets: dict[tuple[str, str], Limits] = {}
_buckets_lock = threading.Lock()


class Limits:
    """Lightspeed's two limits on one account and client: the leaky bucket (drips, by the
    cost of each call) and the burst limiter (requests in each one-second window, its size
    learnt from `X-LS-API-Burst-Level: used/size`)."""

    def __init__(self) -> None:
        self.bucket = CostBucket(BUCKET_SIZE, DRIP_RATE)
        self.burst: int | None = None  # requests a second, once the remote has said
        self._sent: deque[float] = deque()  # when the requests of the last second went
        self._lock = threading.Lock()
        self.waited = 0.0

    def acquire(self, cost: float = 1) -> float:
        """Wait until the bucket has `cost` drips and no more than `burst` requests went in
        the last second (a sliding second: no fixed window of the remote's can then hold
        more, wherever its windows begin)."""
        waited = self.bucket.acquire(cost)
        with self._lock:
            pause = 0.0
            now = time.monotonic()
            while self._sent and now - self._sent[0] >= 1.0:
                self._sent.popleft()
            if self.burst is not None and len(self._sent) >= self.burst:
                pause = self._sent[0] + 1.0 - now
                self._sent.popleft()
            self._sent.append(now + max(pause, 0.0))
        if pause > 0:
            time.sleep(pause)
            waited += pause
        self.waited += waited
        return waited

    def observe(self, headers: Mapping[str, str]) -> None:
        try:
            level = headers.get("X-LS-Api-Bucket-Level")
            if level:
                used, size = (float(part) for part in level.split("/", 1))
                drip = float(headers.get("X-LS-Api-Drip-Rate") or 0) or None
                self.bucket.update(size - used, size, drip)
            burst = headers.get("X-LS-API-Burst-Level")
            if burst:
                self.burst = max(1, int(float(burst.split("/", 1)[1])))
        except (ValueError, IndexError):
            return


def shared_bucket(account: str, client_id: str) -> Limits:
    """The limits of one account and client, shared by the connections of this process."""
    with _buckets_lock:
        key = (account, client_id)
        if key not in _buckets:
            _buckets[key] = Limits()
        return _buckets[key]


def relations_cost(relations: list[str], listing: bool) -> float:
    """What `load_relations` adds to a call (§3): 0.1 a to-one and 0.2 a to-many relation
    (plural names), doubled on a list."""
    extra = sum(0.2 if name.split(".")[-1].endswith("s") else 0.1 for name in relations)
    return extra * (2 if listing else 1)


def next_link(body: Any) -> Any:
    """`@attributes.next`, which must lead to a `.json` page: without the suffix Lightspeed
    answers XML (§3), which would read as a page of nothing."""
    attributes = body.get("@attributes") if isinstance(body, dict) else None
    link = attributes.get("next") if isinstance(attributes, dict) else None
    if isinstance(link, str) and link.strip():
        path = httpx.URL(link.strip()).path
        if not path.endswith(".json"):
            raise PagingError(
                f"lightspeed: the next page's link leads to {path}, not a .json page "
                "(Lightspeed answers that in XML): refused"
            )
    return link


def one_or_many(value: Any) -> list[Any]:
    """A container as a list: Lightspeed gives one element as a bare object, none as ""."""
    if value is None or value == "":
        return []
    return value if isinstance(value, list) else [value]


class _LightspeedHttp(HttpClient):
    limits: Limits | None = None

    def error_message(self, response: httpx.Response) -> str:
        try:
            body = response.json()
        except ValueError:
            return super().error_message(response)
        if isinstance(body, dict) and body.get("message") and body.get("httpCode"):
            return f"{body['message']} ({body.get('httpCode')} {body.get('httpMessage', '')})"
        if isinstance(body, dict) and body.get("error"):
            hint = f" ({body['hint']})" if body.get("hint") else ""
            return f"{body.get('error_description') or body['error']}{hint}"
        return super().error_message(response)

    def observe(self, response: httpx.Response) -> None:
        if isinstance(self.limits, Limits):
            self.limits.observe(response.headers)


class LightspeedClient:
    """One Lightspeed account's API V3."""

    def __init__(
        self,
        base_url: str,
        auth: httpx.Auth,
        *,
        client_id: str,
        account_id: int | None = None,
        timeout: float = 60.0,
        retries: int = 5,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.client_id = client_id
        self.http = _LightspeedHttp(
            self.base_url,
            headers={"Accept": "application/json"},
            auth=auth,
            timeout=timeout,
            retries=retries,
            name="lightspeed",
        )
        self._account = str(account_id) if account_id else None
        self._use(shared_bucket(self._account or "?", client_id))

    def close(self) -> None:
        self.http.close()

    @property
    def waited(self) -> float:
        return self.http.waited

    @property
    def account(self) -> str:
        """The account id: the setting, else the one Account.json names (one call)."""
        if self._account is None:
            answer = self.http.get("/API/V3/Account.json", cost=1).json()
            accounts = one_or_many(answer.get("Account"))
            if not accounts:
                raise AuthError("lightspeed: the token opens no account")
            self._account = str(accounts[0]["accountID"])
        self._use(shared_bucket(self._account, self.client_id))
        return self._account

    def _use(self, limits: Limits) -> None:
        self.http.limits = limits
        self.http.limiter = limits  # type: ignore[assignment]

    def path(self, entity: str, item_id: str | None = None) -> str:
        suffix = f"/{item_id}" if item_id else ""
        return f"/API/V3/Account/{self.account}/{entity}{suffix}.json"

    def rows(
        self,
        entity: str,
        params: Mapping[str, Any] | None = None,
        relations: list[str] | None = None,
        page_size: int = PAGE_MAX,
    ) -> Iterator[dict[str, Any]]:
        """Every `entity` the query finds, page by page along `@attributes.next`."""
        query = dict(params or {})
        if relations:
            query["load_relations"] = json.dumps(relations)
        # a page costs 1 and what its relations add; the bucket's level in each answer
        # corrects the estimate of 1 the pager waits for
        path = self.path(entity)
        paging = NextLink(
            lambda body: one_or_many(body.get(entity)) if isinstance(body, dict) else [],
            next_link=next_link,
            page_size=min(page_size, PAGE_MAX),
        )
        return self.http.paginate("GET", path, paging, params=query)

    def get(self, entity: str, item_id: str, relations: list[str] | None = None) -> dict:
        query = {"load_relations": json.dumps(relations)} if relations else None
        cost = 1 + relations_cost(relations or [], listing=False)
        answer = self.http.get(self.path(entity, item_id), params=query, cost=cost).json()
        found = one_or_many(answer.get(entity))
        return found[0] if found else {}

    def put(self, entity: str, item_id: str, body: dict[str, Any], nested: int = 0) -> dict:
        cost = 1 + 0.5 * nested
        answer = self.http.put(self.path(entity, item_id), json=body, cost=cost).json()
        found = one_or_many(answer.get(entity))
        return found[0] if found else {}
