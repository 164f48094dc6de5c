"""The toolkit's paginators against a real HTTP server on 127.0.0.1 that pages the way
BuchhaltungsButler, AFAS, Asperion, Lightspeed, a Link header and GraphQL do."""

from __future__ import annotations

import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import httpx
import pytest
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.routing import BaseRoute, Route

from host.errors import RemoteRejected, RemoteUnavailable, TransientError
from host.http import HttpClient
from host.paging import (
    GraphQLConnection,
    NextLink,
    OffsetLimit,
    Page,
    PageNumber,
    PageRequest,
    Paginator,
    PagingError,
    SkipTake,
    next_link_header,
    paginate,
)
from host.retry import RetryBudget, spending
from host.sandbox import Sandbox


def _cursor(index: int) -> str:
    return base64.b64encode(json.dumps([index]).encode()).decode()


def _index(cursor: str | None) -> int:
    return json.loads(base64.b64decode(cursor))[0] if cursor else 0


def _bad(message: str) -> JSONResponse:
    return JSONResponse({"message": message}, status_code=400)


class PagesSandbox(Sandbox):
    """One list of items, served in every paging shape; attributes make it misbehave."""

    name = "pages"

    def __init__(self, count: int = 7) -> None:
        super().__init__()
        self.items = [{"id": i} for i in range(1, count + 1)]
        self.cap: int | None = None  # serve at most this many items a page
        self.page_count: int | None = None  # declare this page count, whatever is true
        self.next_override: str | None = None  # answer this next link
        self.stuck_cursor = False  # answer the same endCursor on every page
        self.extra: dict[str, Any] = {}  # add these to every offset and page-number answer

    def routes(self) -> list[BaseRoute]:
        return [
            Route("/offset", self._offset),
            Route("/receipts/get", self._receipts, methods=["POST"]),
            Route("/connectors/Items", self._afas),
            Route("/v1/items", self._asperion),
            Route("/API/V3/Item.json", self._lightspeed),
            Route("/linked/{number:int}", self._linked),
            Route("/graphql", self._graphql, methods=["POST"]),
            Route("/moved", lambda request: RedirectResponse("/login", status_code=302)),
        ]

    def _window(self, start: int, size: int) -> list[dict[str, Any]]:
        return self.items[start : start + min(size, self.cap or size)]

    async def _offset(self, request: Request) -> Response:
        query = request.query_params
        if query.get("status") != "open":
            return _bad("the caller's own params must go out with every page")
        data = self._window(int(query["offset"]), int(query["limit"]))
        return JSONResponse({"data": data, "total": len(self.items), **self.extra})

    async def _receipts(self, request: Request) -> Response:
        """BuchhaltungsButler: limit and offset in the JSON body, `rows` = this page's count."""
        body = await request.json()
        if request.query_params or body.get("api_key") != "key-1":
            return _bad("paging goes in the body, beside the caller's fields")
        data = self._window(int(body["offset"]), int(body["limit"]))
        body = {"success": True, "message": "", "rows": len(data), "data": data, **self.extra}
        return JSONResponse(body)

    async def _afas(self, request: Request) -> Response:
        query = request.query_params
        if "skip" not in query or "take" not in query or query.get("filterfieldids") != "Id":
            return _bad("skip, take and the filter travel in the query")
        skip, take = int(query["skip"]), int(query["take"])
        return JSONResponse({"skip": skip, "take": take, "rows": self._window(skip, take)})

    async def _asperion(self, request: Request) -> Response:
        page, size = int(request.query_params["page"]), int(request.query_params["pageSize"])
        data = self._window((page - 1) * size, size)
        pages = self.page_count or -(-len(self.items) // size)
        more = self.page_count is not None or page < pages
        meta = {
            "totalCount": len(self.items),
            "pageCount": pages,
            "nextPage": f"{self.base_url}/v1/items?page={page + 1}&pageSize={size}" if more else "",
        }
        return JSONResponse({"_data": data, "_meta": meta, **self.extra})

    async def _lightspeed(self, request: Request) -> Response:
        """An opaque `after` cursor in a full `@attributes.next` URL; one item is an object."""
        query = request.query_params
        if any(len(query.getlist(name)) > 1 for name in query):
            return _bad("a next link is requested as given, without the params again")
        start, limit = _index(query.get("after")), int(query.get("limit", "100"))
        data = self._window(start, limit)
        end = start + len(data)
        params = {"limit": limit, "sort": query.get("sort", "itemID"), "after": _cursor(end)}
        following = f"{self.base_url}{request.url.path}?{httpx.QueryParams(params)}"
        attributes = {"next": following if end < len(self.items) else "", "previous": ""}
        if self.next_override is not None:
            attributes["next"] = self.next_override
        body: dict[str, Any] = {"@attributes": attributes}
        if data:
            body["Item"] = data[0] if len(data) == 1 else data
        return JSONResponse(body)

    async def _linked(self, request: Request) -> Response:
        """Pages by number in the path, a relative `Link: <...>; rel="next"`."""
        number, limit = request.path_params["number"], int(request.query_params["limit"])
        data = self._window((number - 1) * limit, limit)
        links = [f'</linked/{number - 1}?limit={limit}>; rel="prev"'] if number > 1 else []
        if number * limit < len(self.items):
            links.append(f'</linked/{number + 1}?limit={limit}>; rel="next"')
        return JSONResponse(data, headers={"Link": ", ".join(links)} if links else {})

    async def _graphql(self, request: Request) -> Response:
        body = await request.json()
        variables = body["variables"]
        if "items" not in body["query"] or not isinstance(variables.get("first"), int):
            return _bad("first is required")
        start = _index(variables.get("after"))
        data = self._window(start, variables["first"])
        end = start + len(data)
        info = {
            "hasNextPage": end < len(self.items) or self.stuck_cursor,
            "endCursor": _cursor(2 if self.stuck_cursor else end),
        }
        return JSONResponse({"data": {"items": {"nodes": data, "pageInfo": info}}})


@pytest.fixture
def remote() -> Iterator[PagesSandbox]:
    with PagesSandbox() as running:
        yield running


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def client(remote: PagesSandbox) -> Iterator[HttpClient]:
    with HttpClient(remote.base_url, headers={"X-Api-Key": "key-1"}, name="pages") as http:
        yield http


def ids(records: Any) -> list[int]:
    return [r["id"] for r in records]


def one_or_many(body: Any) -> list[Any]:
    """Lightspeed answers one record as an object and none by leaving the key out."""
    found = body.get("Item")
    return [] if found is None else found if isinstance(found, list) else [found]


LIGHTSPEED = NextLink(one_or_many, next_link="@attributes.next", page_size=3)
GRAPHQL = {"query": "query Items($first: Int!, $after: String) { items { nodes { id } } }"}

#: (paginator, method, path, params, json): one way to read every item in each shape
SHAPES: dict[str, tuple[Paginator, str, str, dict[str, Any] | None, Any]] = {
    "offset": (OffsetLimit("data", page_size=3), "GET", "/offset", {"status": "open"}, None),
    "body": (
        OffsetLimit("data", page_size=3, in_body=True, count="rows"),
        "POST",
        "/receipts/get",
        None,
        {"api_key": "key-1"},
    ),
    "skip_take": (
        SkipTake("rows", page_size=3),
        "GET",
        "/connectors/Items",
        {"filterfieldids": "Id"},
        None,
    ),
    "page_count": (
        PageNumber("_data", page_size=3, pages="_meta.pageCount"),
        "GET",
        "/v1/items",
        None,
        None,
    ),
    "next_page": (
        PageNumber("_data", page_size=3, next_page="_meta.nextPage", pages="_meta.pageCount"),
        "GET",
        "/v1/items",
        None,
        None,
    ),
    "total": (
        PageNumber("_data", page_size=3, total="_meta.totalCount"),
        "GET",
        "/v1/items",
        None,
        None,
    ),
    "next_link": (LIGHTSPEED, "GET", "/API/V3/Item.json", None, None),
    "link_header": (NextLink(lambda body: body, page_size=3), "GET", "/linked/1", None, None),
    "graphql": (
        GraphQLConnection("data.items", page_size=3),
        "POST",
        "/graphql",
        None,
        GRAPHQL,
    ),
}


def read(client: HttpClient, shape: str) -> Iterator[Any]:
    paging, method, path, params, body = SHAPES[shape]
    return client.paginate(method, path, paging, params=params, json=body)


def paths(remote: PagesSandbox) -> list[str]:
    return [c.path for c in remote.calls]


@pytest.mark.parametrize("shape", list(SHAPES))
def test_every_record_once_in_order_and_the_end_found(
    remote: PagesSandbox, client: HttpClient, shape: str
) -> None:
    assert ids(read(client, shape)) == [1, 2, 3, 4, 5, 6, 7]
    # 7 items, 3 a page: the short third page, or the remote's own word, ends it
    assert len(remote.calls) == 3 and all(c.status == 200 for c in remote.calls)


@pytest.mark.parametrize("shape", list(SHAPES))
def test_an_empty_list_is_one_request(remote: PagesSandbox, client: HttpClient, shape: str) -> None:
    remote.items = []
    assert list(read(client, shape)) == []
    assert len(remote.calls) == 1


@pytest.mark.parametrize(
    ("shape", "calls"),
    # a short-page end must ask once more to learn that 6 were all; a total, a page count,
    # a next page or a cursor say so on the second page
    [
        ("offset", 3),
        ("body", 3),
        ("skip_take", 3),
        ("page_count", 2),
        ("next_page", 2),
        ("total", 2),
        ("next_link", 2),
        ("link_header", 2),
        ("graphql", 2),
    ],
)
def test_a_full_last_page(remote: PagesSandbox, client: HttpClient, shape: str, calls: int) -> None:
    remote.items = remote.items[:6]
    assert ids(read(client, shape)) == [1, 2, 3, 4, 5, 6]
    assert len(remote.calls) == calls


def test_a_declared_total_ends_offset_paging_without_an_empty_page(
    remote: PagesSandbox, client: HttpClient
) -> None:
    remote.items = remote.items[:6]
    paging = OffsetLimit("data", page_size=3, total="total")
    assert ids(client.paginate("GET", "/offset", paging, params={"status": "open"})) == [
        1,
        2,
        3,
        4,
        5,
        6,
    ]
    assert len(remote.calls) == 2


def test_body_paging_moves_by_the_remotes_rows_count(
    remote: PagesSandbox, client: HttpClient
) -> None:
    """BuchhaltungsButler's `rows`: the page's count, though the records located are fewer."""
    paging = OffsetLimit(
        lambda body: [r for r in body["data"] if r["id"] % 2],
        page_size=3,
        in_body=True,
        count="rows",
    )
    records = client.paginate("POST", "/receipts/get", paging, json={"api_key": "key-1"})
    assert ids(records) == [1, 3, 5, 7]
    assert len(remote.calls) == 3


def test_pages_are_fetched_lazily(remote: PagesSandbox, client: HttpClient) -> None:
    records = read(client, "next_link")
    assert remote.calls == []  # nothing is sent before a record is asked for
    assert [next(records)["id"] for _ in range(3)] == [1, 2, 3]
    assert paths(remote) == ["/API/V3/Item.json"]  # page 1 only
    assert next(records)["id"] == 4
    assert len(remote.calls) == 2
    records.close()
    assert len(remote.calls) == 2


def test_a_transient_503_on_page_3_is_retried_from_the_record_budget(
    remote: PagesSandbox,
) -> None:
    remote.inject("GET", "/linked/3", "503")
    sleeps = Sleeps()
    budget = RetryBudget(3, 0.01)
    with HttpClient(remote.base_url, sleep=sleeps, name="pages") as http, spending(budget):
        assert ids(read(http, "link_header")) == [1, 2, 3, 4, 5, 6, 7]
    assert [(c.path, c.status) for c in remote.calls] == [
        ("/linked/1", 200),
        ("/linked/2", 200),
        ("/linked/3", 503),
        ("/linked/3", 200),
    ]
    assert budget.failures == 1 and sleeps == [1.0]  # the sandbox's Retry-After


def test_a_page_that_keeps_failing_spends_the_budget_and_raises(remote: PagesSandbox) -> None:
    remote.inject("GET", "/linked/2", "503", times=5)
    with HttpClient(remote.base_url, sleep=Sleeps(), name="pages") as http:
        records = read(http, "link_header")
        with spending(RetryBudget(2, 0.01)), pytest.raises(TransientError, match="503"):
            for _ in records:
                pass
    assert [c.status for c in remote.calls_to("/linked/2")] == [503, 503]


def test_a_next_link_to_another_host_is_refused(remote: PagesSandbox, client: HttpClient) -> None:
    remote.next_override = "https://elsewhere.example/API/V3/Item.json?after=WzNd"
    with pytest.raises(PagingError, match=r"leads to https://elsewhere\.example, not http://127"):
        list(read(client, "next_link"))
    assert len(remote.calls) == 1


def test_a_next_link_to_another_port_is_refused(remote: PagesSandbox, client: HttpClient) -> None:
    remote.next_override = f"http://127.0.0.1:{remote.port + 1}/API/V3/Item.json?after=WzNd"
    with pytest.raises(PagingError, match="refused") as caught:
        list(read(client, "next_link"))
    assert "key-1" not in str(caught.value)
    assert isinstance(caught.value, RemoteUnavailable)  # a run stops with its cursor kept


def test_a_next_link_with_a_password_is_refused_unsaid(
    remote: PagesSandbox, client: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    """Followed, it would go out as a Basic Authorization the connection never configured."""
    caplog.set_level(logging.DEBUG, logger="host.http")
    remote.next_override = f"http://me:pw-123@127.0.0.1:{remote.port}/API/V3/Item.json?after=WzNd"
    with pytest.raises(PagingError, match=r"page 1: the next link at @attributes\.next holds a"):
        list(read(client, "next_link"))
    assert len(remote.calls) == 1
    assert "pw-123" not in caplog.text


def test_a_next_link_keeps_its_secrets_and_personal_data_out_of_logs_and_errors(
    remote: PagesSandbox, client: HttpClient, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="host.http")
    remote.next_override = (
        f"{remote.base_url}/API/V3/Gone.json?api_token=tok-789&email=ann%40x.example"
        "#access_token=frag-456"
    )
    with pytest.raises(RemoteRejected, match="pages rejected GET") as caught:
        list(read(client, "next_link"))
    for text in (str(caught.value), caplog.text):
        assert "tok-789" not in text and "ann" not in text and "frag-456" not in text


def test_a_next_link_that_is_too_long_is_refused(remote: PagesSandbox, client: HttpClient) -> None:
    remote.next_override = f"{remote.base_url}/API/V3/Item.json?after=" + "W" * 70_000
    with pytest.raises(
        PagingError, match=r"page 1: the next link .* not a URL to follow: URL too long"
    ):
        list(read(client, "next_link"))
    assert len(remote.calls) == 1


def test_a_blank_next_link_ends(remote: PagesSandbox, client: HttpClient) -> None:
    remote.next_override = "  "
    assert ids(read(client, "next_link")) == [1, 2, 3]
    assert len(remote.calls) == 1


def test_a_next_link_to_the_same_page_with_its_query_reordered_is_a_repeat(
    remote: PagesSandbox, client: HttpClient
) -> None:
    """Page 1 is asked for as ?sort=itemID&limit=3; its link to ?limit=3&sort=itemID would
    serve its records again."""
    remote.next_override = f"{remote.base_url}/API/V3/Item.json?limit=3&sort=itemID"
    records = client.paginate("GET", "/API/V3/Item.json", LIGHTSPEED, params={"sort": "itemID"})
    with pytest.raises(PagingError, match="page 2 would ask again for a page already read"):
        list(records)
    assert len(remote.calls) == 1


def test_a_remote_that_repeats_a_cursor_is_stopped(
    remote: PagesSandbox, client: HttpClient
) -> None:
    remote.stuck_cursor = True
    records = read(client, "graphql")
    with pytest.raises(PagingError, match="page 3 would ask again for a page already read"):
        for _ in records:
            pass
    assert len(remote.calls) == 2


def test_a_next_link_back_to_the_first_page_is_stopped(
    remote: PagesSandbox, client: HttpClient
) -> None:
    remote.next_override = f"{remote.base_url}/API/V3/Item.json?limit=3"
    with pytest.raises(PagingError, match="already read"):
        list(read(client, "next_link"))
    assert len(remote.calls) == 1


def test_a_next_page_past_the_declared_page_count_is_refused(
    remote: PagesSandbox, client: HttpClient
) -> None:
    remote.page_count = 2  # and a nextPage on every page
    with pytest.raises(PagingError, match="page 2 is the last of the 2 the remote declared"):
        list(read(client, "next_page"))
    assert len(remote.calls) == 2


def test_a_short_page_that_a_total_contradicts_is_refused(
    remote: PagesSandbox, client: HttpClient
) -> None:
    """A remote that serves fewer than page_size would otherwise end paging early."""
    remote.cap = 2
    with pytest.raises(PagingError, match="lower page_size"):
        list(read(client, "total"))


def test_max_pages_stops_a_remote_that_has_more(remote: PagesSandbox, client: HttpClient) -> None:
    paging = SkipTake("rows", page_size=3, max_pages=2)
    records = client.paginate("GET", "/connectors/Items", paging, params={"filterfieldids": "Id"})
    assert [next(records)["id"] for _ in range(6)] == [1, 2, 3, 4, 5, 6]
    with pytest.raises(PagingError, match="more than max_pages = 2 pages"):
        next(records)
    assert len(remote.calls) == 2


def test_records_that_are_not_a_list_are_refused(remote: PagesSandbox, client: HttpClient) -> None:
    remote.items = remote.items[:1]  # Lightspeed's one item is an object, not a list
    paging = NextLink("Item", next_link="@attributes.next")
    with pytest.raises(PagingError, match="page 1: the records at Item are an object, not a list"):
        list(client.paginate("GET", "/API/V3/Item.json", paging))


def test_a_page_that_is_not_an_object_is_refused(client: HttpClient) -> None:
    """A list where an object holding the records was expected is not an empty page."""
    with pytest.raises(PagingError, match="pages: page 1: the page is a list, not an object"):
        list(client.paginate("GET", "/linked/1", SkipTake("rows"), params={"limit": 3}))


@pytest.mark.parametrize(
    ("declared", "said"), [(-1, "-1"), (2.5, "2.5"), (True, "true"), ("many", "text")]
)
@pytest.mark.parametrize("shape", ["offset", "page_count"])
def test_a_total_or_page_count_that_is_not_a_count_is_refused(
    remote: PagesSandbox, client: HttpClient, shape: str, declared: Any, said: str
) -> None:
    """Read as a count, it would end the paging early or late (-1 ends it after page 1)."""
    _, method, path, params, _ = SHAPES[shape]
    paging: Paginator
    if shape == "offset":
        paging, key = OffsetLimit("data", page_size=3, total="total"), "total"
    else:
        paging, key = PageNumber("_data", page_size=3, pages="pageCount"), "pageCount"
    remote.extra = {key: declared}
    with pytest.raises(PagingError, match=f"pages: page 1: {key} is {said}, not a count"):
        list(client.paginate(method, path, paging, params=params))
    assert len(remote.calls) == 1


@pytest.mark.parametrize("rows", [0, 2])
def test_a_count_below_the_records_of_its_page_is_refused(
    remote: PagesSandbox, client: HttpClient, rows: int
) -> None:
    """Moving the offset by it would read records again (2) or end early (0)."""
    remote.extra = {"rows": rows}
    with pytest.raises(PagingError, match=f"page 1: rows counts {rows} records on a page that"):
        list(read(client, "body"))


def test_a_redirect_instead_of_a_page_is_refused(remote: PagesSandbox, client: HttpClient) -> None:
    """Not followed (it may lead to another host), nor read as an empty last page."""
    remote.next_override = f"{remote.base_url}/moved"
    with pytest.raises(PagingError, match=r"^pages: page 2: GET http://\S+/moved answered 302, a"):
        list(read(client, "next_link"))
    assert paths(remote) == ["/API/V3/Item.json", "/moved"]


def test_a_page_that_is_not_json(remote: PagesSandbox) -> None:
    class Text(Sandbox):
        def routes(self) -> list[BaseRoute]:
            return [Route("/t", lambda request: Response("<html>", media_type="text/html"))]

    with (
        Text() as text,
        HttpClient(text.base_url, name="text") as http,
        pytest.raises(
            PagingError, match=r"^text: page 1: GET http://.* answered a page that is not"
        ),
    ):
        list(http.paginate("GET", "/t", SkipTake("rows")))


def test_paging_with_a_clients_own_send() -> None:
    """A client that sends its pages its own way (Shopify's GraphQL `execute`)."""
    sent: list[Any] = []

    def send(request: PageRequest) -> Page:
        sent.append(request.json["variables"])
        after = request.json["variables"].get("after")
        last = after == "b"
        return Page(
            {
                "orders": {
                    "nodes": [after or "-"],
                    "pageInfo": {"hasNextPage": not last, "endCursor": "b" if after else "a"},
                }
            }
        )

    request = PageRequest("POST", "/graphql.json", json={"query": "q", "variables": {"x": 1}})
    paging = GraphQLConnection("orders", page_size=4)
    assert list(paginate(send, paging, request, name="shop")) == ["-", "a", "b"]
    assert sent == [
        {"x": 1, "first": 4},
        {"x": 1, "first": 4, "after": "a"},
        {"x": 1, "first": 4, "after": "b"},
    ]


def test_link_header_parsing() -> None:
    headers = httpx.Headers(
        [
            ("Link", '<https://h/x?a=1,2>; rel="prev", <https://h/x?p=3>; rel="last next"'),
            ("Link", "<https://h/other>; rel=next"),
        ]
    )
    assert next_link_header(headers) == "https://h/x?p=3"
    assert next_link_header(httpx.Headers({"Link": '<https://h/x>; rel="prev"'})) is None
    assert next_link_header(httpx.Headers()) is None


def test_settings_are_checked() -> None:
    with pytest.raises(ValueError, match="page_size must be at least 1"):
        SkipTake("rows", page_size=0)
    with pytest.raises(ValueError, match="max_pages must be at least 1"):
        GraphQLConnection("orders", max_pages=0)
