"""Paginators: a connector names the shape its remote pages in and gets a generator.

    rows = client.paginate("GET", "/connectors/Orders", SkipTake("rows"), params=filters)
    for row in rows:  # the next page is asked for when this one's records are consumed
        ...

`HttpClient.paginate` (host.http) sends every page through `HttpClient.request`, so the
retry budget of the record being read, the rate limiter and the error mapping apply to each
page; the records stream page by page and no more than one page is held. A client that
sends its pages another way (a GraphQL client that reads throttling and errors from the
body) calls `paginate(send, paging, request)` here with its own `send`.

One class per shape:

- `OffsetLimit`: `offset`/`limit`, in the query or in a JSON body (`in_body=True`). The end
  is a short page, or the remote's own count of the page's records (`count`), or a declared
  total (`total`). BuchhaltungsButler: a POST with `limit` and `offset` in the body that
  answers `rows`, the count of this page, and no total:
  `OffsetLimit("data", in_body=True, count="rows")`.
- `SkipTake`: the same with `skip`/`take`. AFAS GetConnectors: `SkipTake("rows")`, skip
  and take in the query, the end at a short page.
- `PageNumber`: `page`/`pageSize`, 1-based, the end read from the remote's page count,
  total or next page. Asperion: `PageNumber("_data", pages="_meta.pageCount",
  next_page="_meta.nextPage")`.
- `NextLink`: follow the link the remote gives to the next page, from the body or from a
  `Link: <...>; rel="next"` header (`next_link=None`); an empty link ends. Lightspeed Retail
  (R-Series): `NextLink(items, next_link="@attributes.next")`, a full URL with an opaque
  cursor, requested as given (`items`, a callable, makes a list of the one `Item` that
  Lightspeed answers as an object). Only a link to the origin (scheme, host and port) of
  the page it came from is followed; one to another host is refused with PagingError, so
  credentials are never sent there.
- `GraphQLConnection`: a Relay connection, `first`/`after` variables and the records and
  `pageInfo { hasNextPage endCursor }` at a path. Shopify Admin GraphQL:
  `GraphQLConnection("orders", page_size=4)` (its client's `send` answers `data`).

Records and the values that say where paging ends are found with a `Locator`: a dotted
path into the page's JSON body (`"data"`, `"_meta.totalCount"`, `"@attributes.next"`), or
a callable that takes the body (for a remote that answers one record as an object rather
than a list of one, say). A path that is absent or null reads as no records; a page that
is not a JSON object, records that are not a list, and a count, total or page count that is
not a whole number of at least 0 raise PagingError, as does a `count` below the records its
page holds (the offset would move back over them).

`page_size` must not exceed what the remote serves in one page: a shorter page ends the
paging where the end is a short page. A remote that would be paged forever raises
PagingError: a cursor or link that leads back to a page already read, a page announced past
the page count the remote declared, more than `max_pages` pages (optional on every
paginator). PagingError is a RemoteUnavailable: a run stops (exit 3) and keeps its cursor.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import KW_ONLY, dataclass, field, replace
from typing import Any, Protocol

import httpx

from host.errors import RemoteUnavailable

#: Where a value is in a page's JSON body: a dotted path, or a callable taking the body.
Locator = str | Callable[[Any], Any]


class PagingError(RemoteUnavailable):
    """The remote's pages cannot be followed: it loops, points to another host, or
    answers in a shape the paginator was not told of."""


@dataclass(frozen=True)
class PageRequest:
    """One page's request: `url` is a path under the client's base URL, or a full URL."""

    method: str
    url: str
    params: Mapping[str, Any] | None = None
    json: Any = None
    headers: Mapping[str, str] | None = None

    def with_values(self, values: Mapping[str, Any], *, in_body: bool = False) -> PageRequest:
        """This request with `values` added to its query, or to its JSON object body."""
        if not in_body:
            return replace(self, params={**(self.params or {}), **values})
        if self.json is not None and not isinstance(self.json, Mapping):
            raise PagingError("paging in the body needs a JSON object as the body")
        return replace(self, json={**(self.json or {}), **values})

    def value(self, name: str, *, in_body: bool = False) -> Any:
        """The value of query parameter (or body field) `name`."""
        values = self.json if in_body else self.params
        if not isinstance(values, Mapping) or name not in values:
            raise PagingError(f"the page request has no {name!r}")
        return values[name]


@dataclass(frozen=True)
class Page:
    """One page as it was answered: the decoded JSON body, the URL that answered it (for
    resolving a next link) and the response headers."""

    body: Any
    url: httpx.URL | None = None
    headers: httpx.Headers = field(default_factory=httpx.Headers)


class Paginator(Protocol):
    """A paging shape: how to ask for the first page, and how to read a page's records
    and the request for the page after it."""

    @property
    def max_pages(self) -> int | None:
        """At most this many pages (PagingError when the remote has more); None: no limit."""
        ...

    def first(self, request: PageRequest) -> PageRequest:
        """The request for the first page, made from the caller's request."""
        ...

    def read(self, request: PageRequest, page: Page) -> tuple[Sequence[Any], PageRequest | None]:
        """The records of `page` (the answer to `request`) and the request for the next
        page, None at the end; PagingError when the remote answers what cannot be paged."""
        ...


#: Sends a page's request and returns the page (HttpClient.fetch_page, or a client's own)
Send = Callable[[PageRequest], Page]


def paginate(
    send: Send, paging: Paginator, request: PageRequest, *, name: str = "remote"
) -> Iterator[Any]:
    """The records of every page, in order. Lazy: nothing is sent before the first record
    is asked for, and each further page only when the records before it are consumed."""
    seen: set[bytes] = set()
    number = 0
    try:
        wanted: PageRequest | None = paging.first(request)
    except PagingError as exc:
        raise PagingError(f"{name}: {exc}") from None
    while wanted is not None:
        number += 1
        if paging.max_pages is not None and number > paging.max_pages:
            raise PagingError(
                f"{name}: the remote has more than max_pages = {paging.max_pages} pages"
            )
        key = _fingerprint(wanted.method, wanted.url, wanted.params, wanted.json)
        if key in seen:
            raise PagingError(
                f"{name}: page {number} would ask again for a page already read (the remote "
                "repeated a cursor or next link): stopped rather than page forever"
            )
        seen.add(key)
        try:
            page = send(wanted)
        except PagingError as exc:
            raise PagingError(f"{name}: page {number}: {exc}") from None
        if page.url is not None:  # a link may name a page by its full URL
            seen.add(_fingerprint(wanted.method, str(page.url), None, wanted.json))
        try:
            records, wanted = paging.read(wanted, page)
        except PagingError as exc:
            raise PagingError(f"{name}: page {number}: {exc}") from None
        del page
        yield from records


def _fingerprint(method: str, url: str, params: Any, body: Any) -> bytes:
    """The same for the same page, whatever the order of its query or a #fragment."""
    target = httpx.URL(url)
    query = sorted(target.params.multi_items() + httpx.QueryParams(params or {}).multi_items())
    place = str(target.copy_with(query=None, fragment=None))
    text = json.dumps([method, place, query, body], sort_keys=True, default=str)
    return hashlib.blake2b(text.encode(), digest_size=16).digest()


# --- locating values in a page ----------------------------------------------------------


def locate(body: Any, where: Locator) -> Any:
    """The value at `where` in `body`; None when a key on a dotted path is absent."""
    if callable(where):
        return where(body)
    value = body
    for key in where.split("."):
        if not isinstance(value, Mapping):
            return None
        value = value.get(key)
    return value


def _named(where: Locator) -> str:
    return where if isinstance(where, str) else getattr(where, "__name__", repr(where))


def _kind(value: Any) -> str:
    """What a JSON value is, in JSON's words."""
    if isinstance(value, bool):
        return "true or false"
    if isinstance(value, (int, float)):
        return "a number"
    if isinstance(value, (str, bytes)):
        return "text"
    return "an object" if isinstance(value, Mapping) else "a list"


def _records(body: Any, where: Locator) -> Sequence[Any]:
    if isinstance(where, str) and body is not None and not isinstance(body, Mapping):
        raise PagingError(f"the page is {_kind(body)}, not an object holding {where}")
    value = locate(body, where)
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        raise PagingError(f"the records at {_named(where)} are {_kind(value)}, not a list")
    return value


def _number(body: Any, where: Locator | None) -> int | None:
    """The count at `where` (a whole number of at least 0, or its digits), None if absent."""
    if where is None:
        return None
    value = locate(body, where)
    if value is None or value == "":
        return None
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str) and value.strip().isdecimal():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        shown = json.dumps(value) if isinstance(value, (int, float)) else _kind(value)
        raise PagingError(f"{_named(where)} is {shown}, not a count")
    return value


def _positive(name: str, value: int | None) -> None:
    if value is not None and value < 1:
        raise ValueError(f"{name} must be at least 1, not {value}")


# --- the shapes -------------------------------------------------------------------------


@dataclass(frozen=True)
class OffsetLimit:
    """`offset`/`limit` paging: the offset moves on by the records each page held, by the
    remote's `count` of them where it gives one (the records located may be fewer).

    The end: a declared `total` reached, else a page that held fewer than `page_size`;
    an empty page always ends.
    """

    records: Locator
    _: KW_ONLY
    page_size: int = 100
    offset_param: str = "offset"
    limit_param: str = "limit"
    in_body: bool = False  # limit and offset in the JSON body instead of the query
    count: Locator | None = None
    total: Locator | None = None
    start: int = 0
    max_pages: int | None = None

    def __post_init__(self) -> None:
        _positive("page_size", self.page_size)
        _positive("max_pages", self.max_pages)

    def first(self, request: PageRequest) -> PageRequest:
        values = {self.limit_param: self.page_size, self.offset_param: self.start}
        return request.with_values(values, in_body=self.in_body)

    def read(self, request: PageRequest, page: Page) -> tuple[Sequence[Any], PageRequest | None]:
        offset = int(request.value(self.offset_param, in_body=self.in_body))
        found = _records(page.body, self.records)
        count = _number(page.body, self.count)
        if self.count is not None and count is not None and count < len(found):
            raise PagingError(
                f"{_named(self.count)} counts {count} records on a page that holds {len(found)}"
            )
        served = len(found) if count is None else count
        if not served:
            return found, None
        total = _number(page.body, self.total)
        last = offset + served >= total if total is not None else served < self.page_size
        if last:
            return found, None
        after = {self.offset_param: offset + served}
        return found, request.with_values(after, in_body=self.in_body)


@dataclass(frozen=True)
class SkipTake(OffsetLimit):
    """`skip`/`take` paging (AFAS GetConnectors): OffsetLimit under these names."""

    _: KW_ONLY
    offset_param: str = "skip"
    limit_param: str = "take"


@dataclass(frozen=True)
class PageNumber:
    """`page`/`pageSize` paging, pages numbered from `first_page`.

    The end, by the first the remote gives of: `next_page` (a next page's URL or number,
    empty or null on the last page), `pages` (the page count), `total` (the record count);
    else a short page. An empty page always ends. A next page announced past the page
    count the remote declared, or a short page that a total says is not the last (the
    remote serves fewer than `page_size`), raises PagingError.
    """

    records: Locator
    _: KW_ONLY
    page_size: int = 100
    page_param: str = "page"
    size_param: str = "pageSize"
    first_page: int = 1
    in_body: bool = False
    next_page: Locator | None = None
    pages: Locator | None = None
    total: Locator | None = None
    max_pages: int | None = None

    def __post_init__(self) -> None:
        _positive("page_size", self.page_size)
        _positive("max_pages", self.max_pages)

    def first(self, request: PageRequest) -> PageRequest:
        values = {self.page_param: self.first_page, self.size_param: self.page_size}
        return request.with_values(values, in_body=self.in_body)

    def read(self, request: PageRequest, page: Page) -> tuple[Sequence[Any], PageRequest | None]:
        number = int(request.value(self.page_param, in_body=self.in_body))
        done = number - self.first_page + 1  # pages read, this one included
        found = _records(page.body, self.records)
        if not found:
            return found, None
        pages = _number(page.body, self.pages)
        total = _number(page.body, self.total)
        if self.next_page is not None:
            more = bool(locate(page.body, self.next_page))
            if more and pages is not None and done >= pages:
                raise PagingError(
                    f"page {number} is the last of the {pages} the remote declared, yet it "
                    "announces a next page"
                )
        elif pages is not None:
            more = done < pages
        elif total is not None:
            more = (done - 1) * self.page_size + len(found) < total
            if more and len(found) < self.page_size:
                raise PagingError(
                    f"page {number} holds {len(found)} records, fewer than page_size "
                    f"{self.page_size}, yet the total {total} says more follow: lower "
                    "page_size to what the remote serves"
                )
        else:
            more = len(found) >= self.page_size
        if not more:
            return found, None
        return found, request.with_values({self.page_param: number + 1}, in_body=self.in_body)


@dataclass(frozen=True)
class NextLink:
    """Paging by the link the remote gives to the next page: `next_link` locates it in
    the body; None reads the `Link` header's rel="next". An empty or absent link ends.

    The link is requested as given (its query replaces the first request's params) with
    the first request's method, headers and body. A relative link is resolved against the
    page it came from; a link to another origin, one with a user name or password, or one
    that is no URL (too long, say) is refused (PagingError). The same link with its query in
    another order is the same page: a repeat.
    `page_size` (optional) goes out as `size_param` on the first request only.
    """

    records: Locator
    _: KW_ONLY
    next_link: Locator | None = None
    page_size: int | None = None
    size_param: str = "limit"
    max_pages: int | None = None

    def __post_init__(self) -> None:
        _positive("page_size", self.page_size)
        _positive("max_pages", self.max_pages)

    def first(self, request: PageRequest) -> PageRequest:
        if self.page_size is None:
            return request
        return request.with_values({self.size_param: self.page_size})

    def read(self, request: PageRequest, page: Page) -> tuple[Sequence[Any], PageRequest | None]:
        found = _records(page.body, self.records)
        if self.next_link is None:
            link = next_link_header(page.headers)
        else:
            link = locate(page.body, self.next_link)
        if isinstance(link, str):
            link = link.strip()
        if not link:
            return found, None
        where = _named(self.next_link) if self.next_link is not None else "Link"
        if not isinstance(link, str):
            raise PagingError(f"the next link at {where} is {_kind(link)}, not a URL")
        if page.url is None:
            raise PagingError("a next link needs the URL of the page it came from")
        try:
            target = page.url.join(link)
        except httpx.InvalidURL as exc:
            raise PagingError(f"the next link at {where} is not a URL to follow: {exc}") from None
        if target.userinfo:
            raise PagingError(
                f"the next link at {where} holds a user name or password: refused (credentials "
                "go as the connection is configured only)"
            )
        if _origin(target) != _origin(page.url):
            raise PagingError(
                f"the next link leads to {_origin(target)}, not {_origin(page.url)}: refused "
                "(credentials go to the remote's own host only)"
            )
        return found, PageRequest(request.method, str(target), None, request.json, request.headers)


def _origin(url: httpx.URL) -> str:
    port = f":{url.port}" if url.port is not None else ""
    return f"{url.scheme}://{url.host}{port}"


_LINK = re.compile(r"<([^>]*)>([^<]*)")
_REL = re.compile(r"""\brel\s*=\s*(?:"([^"]*)"|([^\s;,]+))""", re.I)


def next_link_header(headers: httpx.Headers) -> str | None:
    """The target of the `rel="next"` link in the Link headers (RFC 8288), or None."""
    for value in headers.get_list("link"):
        for target, parameters in _LINK.findall(value):
            rel = _REL.search(parameters)
            if rel and "next" in (rel.group(1) or rel.group(2)).lower().split():
                return target.strip()
    return None


@dataclass(frozen=True)
class GraphQLConnection:
    """A GraphQL (Relay) connection: `connection` locates it in the page's body, its
    `records` (a locator inside the connection, `nodes` by default) and its
    `pageInfo { hasNextPage endCursor }`. The request's JSON body is `{"query", "variables"}`:
    the end cursor goes out as the `after_var` variable, `page_size` (optional) as
    `first_var`. An `after` among the caller's variables starts from that cursor (the rest
    of a connection whose first page came with its parent). A connection that is absent or
    null raises PagingError.
    """

    connection: Locator
    _: KW_ONLY
    records: Locator = "nodes"
    page_size: int | None = None
    first_var: str = "first"
    after_var: str = "after"
    max_pages: int | None = None

    def __post_init__(self) -> None:
        _positive("page_size", self.page_size)
        _positive("max_pages", self.max_pages)

    def first(self, request: PageRequest) -> PageRequest:
        if self.page_size is None:
            return request
        return _with_variables(request, {self.first_var: self.page_size})

    def read(self, request: PageRequest, page: Page) -> tuple[Sequence[Any], PageRequest | None]:
        connection = locate(page.body, self.connection)
        if not isinstance(connection, Mapping):
            raise PagingError(f"no connection at {_named(self.connection)}")
        found = _records(connection, self.records)
        info = connection.get("pageInfo")
        if not isinstance(info, Mapping):
            raise PagingError(f"the connection at {_named(self.connection)} has no pageInfo")
        if not info.get("hasNextPage"):
            return found, None
        cursor = info.get("endCursor")
        if not cursor:
            raise PagingError("hasNextPage is true, but there is no endCursor")
        return found, _with_variables(request, {self.after_var: cursor})


def _with_variables(request: PageRequest, values: Mapping[str, Any]) -> PageRequest:
    body = request.json
    if not isinstance(body, Mapping) or "query" not in body:
        raise PagingError('a GraphQL page request needs a JSON body {"query", "variables"}')
    variables = {**(body.get("variables") or {}), **values}
    return replace(request, json={**body, "variables": variables})


__all__ = [
    "GraphQLConnection",
    "Locator",
    "NextLink",
    "OffsetLimit",
    "Page",
    "PageNumber",
    "PageRequest",
    "Paginator",
    "PagingError",
    "Send",
    "SkipTake",
    "locate",
    "next_link_header",
    "paginate",
]
