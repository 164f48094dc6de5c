"""The Lightspeed Retail (R-Series) sandbox over real HTTP: OAuth2, the §7 quirks, paging,
sorting, filters, relations and their cost, the leaky bucket and the burst limiter, the
legacy errors, the stock PUT, and seeding. Clocks are moved by the tests; nothing sleeps."""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import httpx
import pytest
from ihost_lightspeed.sandbox import LightspeedSandbox

from host.auth import OAuth2AuthorizationCode
from host.authorize import authorize_at_sandbox

REDIRECT = "http://127.0.0.1:9/callback"
START = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)


class Clocks:
    """The sandbox's monotonic seconds and wall clock, moved together by the test."""

    def __init__(self) -> None:
        self.seconds = 1000.0

    def monotonic(self) -> float:
        return self.seconds

    def now(self) -> datetime:
        return START + timedelta(seconds=self.seconds - 1000.0)

    def advance(self, seconds: float) -> None:
        self.seconds += seconds


@pytest.fixture
def clocks() -> Clocks:
    return Clocks()


def _started(clocks: Clocks, **options: Any) -> LightspeedSandbox:
    sandbox = LightspeedSandbox(**options)
    sandbox.monotonic = clocks.monotonic
    sandbox.clock = clocks.now
    sandbox.start()
    return sandbox


@pytest.fixture
def sandbox(clocks: Clocks) -> Iterator[LightspeedSandbox]:
    running = _started(clocks, rate_limit=False, burst_fraction=None)
    yield running
    running.stop()


def flow(sandbox: LightspeedSandbox) -> OAuth2AuthorizationCode:
    settings = sandbox.connection_settings()
    return OAuth2AuthorizationCode(
        settings["authorize_url"],
        settings["token_url"],
        settings["client_id"],
        settings["client_secret"],
        scope="employee:inventory employee:register_read",
    )


@pytest.fixture
def client(sandbox: LightspeedSandbox) -> Iterator[httpx.Client]:
    auth = flow(sandbox)
    authorize_at_sandbox(auth)
    with httpx.Client(base_url=account_url(sandbox), auth=auth) as http:
        yield http


def account_url(sandbox: LightspeedSandbox) -> str:
    return f"{sandbox.base_url}/API/V3/Account/{sandbox.account_id}/"


# --- OAuth2 helpers over plain HTTP ---------------------------------------------------------


def code(sandbox: LightspeedSandbox) -> str:
    answer = httpx.get(
        sandbox.base_url + "/auth/oauth/authorize",
        params={
            "response_type": "code",
            "client_id": sandbox.client_id,
            "redirect_uri": REDIRECT,
            "state": "s",
        },
    )
    assert answer.status_code == 302
    return dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]


def token(sandbox: LightspeedSandbox, **fields: str) -> httpx.Response:
    body = {"client_id": sandbox.client_id, "client_secret": sandbox.client_secret, **fields}
    return httpx.post(sandbox.base_url + "/auth/oauth/token", data=body)


def get(sandbox: LightspeedSandbox, access: str, path: str, **params: str) -> httpx.Response:
    return httpx.get(
        account_url(sandbox) + path, params=params, headers={"Authorization": f"Bearer {access}"}
    )


def claims_of(access: str) -> dict[str, Any]:
    payload = access.split(".")[1]
    decoded: dict[str, Any] = json.loads(
        base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4))
    )
    return decoded


# --- auth -----------------------------------------------------------------------------------


def test_the_access_token_is_a_jwt_with_the_account(sandbox: LightspeedSandbox) -> None:
    tokens = token(sandbox, grant_type="authorization_code", code=code(sandbox)).json()
    assert tokens["token_type"] == "Bearer" and tokens["expires_in"] == 3600
    header = json.loads(base64.urlsafe_b64decode(tokens["access_token"].split(".")[0] + "=="))
    assert header["alg"] == "HS256"
    claims = claims_of(tokens["access_token"])
    assert claims["acct"] == "12345" and claims["aud"] == sandbox.client_id
    assert claims["exp"] - claims["iat"] == 3600
    assert sandbox.claims(tokens["access_token"]) == claims
    assert sandbox.claims(tokens["access_token"][:-2] + "xx") is None
    account = httpx.get(
        sandbox.base_url + "/API/V3/Account.json",
        headers={"Authorization": f"Bearer {tokens['access_token']}"},
    )
    assert account.status_code == 200
    assert account.json() == {
        "@attributes": {"count": "1"},
        "Account": {
            "accountID": "12345",
            "name": sandbox.account_name,
            "link": {"@attributes": {"href": "/API/V3/Account/12345"}},
        },
    }


def test_a_code_is_valid_for_60_seconds(sandbox: LightspeedSandbox, clocks: Clocks) -> None:
    fresh, stale = code(sandbox), code(sandbox)
    clocks.advance(59)
    assert token(sandbox, grant_type="authorization_code", code=fresh).status_code == 200
    clocks.advance(2)
    refused = token(sandbox, grant_type="authorization_code", code=stale)
    assert refused.status_code == 400
    assert refused.json()["error"] == "invalid_grant"
    assert set(refused.json()) == {"error", "error_description", "hint"}


def test_refresh_rotates_and_a_replay_after_the_grace_is_invalid_grant(
    sandbox: LightspeedSandbox,
) -> None:
    first = token(sandbox, grant_type="authorization_code", code=code(sandbox)).json()
    second = token(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert second.status_code == 200
    rotated = second.json()
    assert rotated["refresh_token"] != first["refresh_token"]
    old = get(sandbox, first["access_token"], "Item.json")
    assert old.status_code == 401
    assert old.json()["hint"] == "Access token has been revoked"
    assert old.headers["X-LS-Acct-Id"] == "12345"
    # within the grace, before the new access token is used: the old one may be retried
    assert sandbox.oauth.refresh_token_valid(first["refresh_token"])
    assert get(sandbox, rotated["access_token"], "Item.json").status_code == 200
    replay = token(sandbox, grant_type="refresh_token", refresh_token=first["refresh_token"])
    assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"


def test_an_expired_token_gets_the_oauth_401_and_the_flow_refreshes(
    sandbox: LightspeedSandbox, client: httpx.Client, clocks: Clocks
) -> None:
    assert client.get("Item.json").status_code == 200
    clocks.advance(3600)
    assert sandbox.oauth.refreshes == 0
    assert client.get("Item.json").status_code == 200  # refreshed on the 401 or before
    assert sandbox.oauth.refreshes == 1
    tokens = token(sandbox, grant_type="authorization_code", code=code(sandbox)).json()
    clocks.advance(3600)
    expired = get(sandbox, tokens["access_token"], "Item.json")
    assert expired.status_code == 401
    assert expired.json() == {
        "error": "access_denied",
        "error_description": "The resource owner or authorization server denied the request.",
        "hint": "Access token could not be verified",
    }


def test_revoke_ends_the_pair(sandbox: LightspeedSandbox) -> None:
    tokens = token(sandbox, grant_type="authorization_code", code=code(sandbox)).json()
    revoked = httpx.post(
        sandbox.base_url + "/auth/oauth/revoke",
        data={
            "client_id": sandbox.client_id,
            "client_secret": sandbox.client_secret,
            "token": tokens["refresh_token"],
        },
    )
    assert revoked.status_code == 200
    assert get(sandbox, tokens["access_token"], "Item.json").status_code == 401


def test_another_account_is_forbidden(sandbox: LightspeedSandbox, client: httpx.Client) -> None:
    answer = client.get(f"{sandbox.base_url}/API/V3/Account/999/Item.json")
    assert answer.status_code == 403
    assert answer.json()["httpCode"] == "403"


# --- data -----------------------------------------------------------------------------------


def seed_catalogue(sandbox: LightspeedSandbox) -> None:
    sandbox.seed("shops", [{"shopID": 2, "name": "Second"}])
    sandbox.seed(
        "categories",
        [{"categoryID": 1, "name": "Shoes"}, {"categoryID": 2, "name": "Boots", "parentID": 1}],
    )
    sandbox.seed(
        "itemmatrices",
        [{"itemMatrixID": 7, "description": "Tee", "itemAttributeSetID": 1, "categoryID": 2}],
    )
    sandbox.seed(
        "items",
        [
            {
                "itemID": 1,
                "description": "Plain",
                "customSku": "P-1",
                "ItemShops": {"ItemShop": [{"shopID": 1, "qoh": 5}, {"shopID": 2, "qoh": -2}]},
            },
            {
                "itemMatrixID": 7,
                "customSku": "T-R-S",
                "ItemAttributes": {"attribute1": "Red", "attribute2": "S"},
                "categoryID": 2,
            },
            {
                "itemMatrixID": 7,
                "customSku": "T-R-M",
                "ItemAttributes": {"attribute1": "Red", "attribute2": "M"},
            },
        ],
    )


def test_quirks_one_element_lists_empties_and_zero_keys(
    sandbox: LightspeedSandbox, client: httpx.Client
) -> None:
    sandbox.seed("items", [{"description": "Only", "Prices": {"ItemPrice": {"amount": 9.5}}}])
    listed = client.get("Item.json", params={"load_relations": '["ItemShops"]'}).json()
    assert listed["@attributes"] == {"next": "", "previous": ""}
    item = listed["Item"]
    assert isinstance(item, dict)  # one hit: a bare object, not a list
    assert item["itemID"] == "1" and item["categoryID"] == "0" and item["itemMatrixID"] == "0"
    assert item["archived"] == "false" and item["tax"] == "true"
    assert item["systemSku"] == "210000000001"
    assert item["timeStamp"] == "2026-03-01T12:00:00+00:00"
    assert item["Prices"] == {
        "ItemPrice": {"amount": "9.5", "useTypeID": "1", "useType": "Default"}
    }
    rows = item["ItemShops"]["ItemShop"]
    assert isinstance(rows, list) and [r["shopID"] for r in rows] == ["1", "0"]
    assert all(isinstance(v, str) for r in rows for v in r.values())
    assert "onWorkorder" in rows[0] and "onWorkOrder" not in rows[0]
    assert "Category" not in item  # categoryID 0: nothing to load
    sandbox.seed(
        "customers",
        [
            {
                "firstName": "Ann",
                "Contact": {
                    "Emails": {
                        "ContactEmail": [{"address": "ann@example.com", "useType": "Primary"}]
                    }
                },
            }
        ],
    )
    customer = client.get("Customer/1.json", params={"load_relations": '["Contact"]'}).json()
    contact = customer["Customer"]["Contact"]
    assert contact["Emails"] == {
        "ContactEmail": {"address": "ann@example.com", "useType": "Primary"}
    }
    assert contact["Phones"] == "" and contact["Addresses"] == "" and contact["Websites"] == ""
    assert customer["@attributes"] == {"count": "1"}
    empty = client.get("Sale.json").json()
    assert empty == {"@attributes": {"next": "", "previous": ""}}


def test_nested_lists_and_attribute_values(
    sandbox: LightspeedSandbox, client: httpx.Client
) -> None:
    seed_catalogue(sandbox)
    matrix = client.get("ItemMatrix/7.json", params={"load_relations": '["Items"]'}).json()
    found = matrix["ItemMatrix"]
    assert found["attribute1Values"] == "Red"  # one value: a string
    assert found["attribute2Values"] == ["S", "M"]  # several: a list
    assert found["attribute3Values"] == ""
    assert isinstance(found["Items"]["Item"], list) and len(found["Items"]["Item"]) == 2
    assert found["Items"]["Item"][0]["description"] == "Tee Red S"
    sandbox.seed("items", [{"itemMatrixID": 7, "ItemAttributes": {"attribute1": "Blue"}}])
    assert client.get("ItemMatrix/7.json").json()["ItemMatrix"]["attribute1Values"] == [
        "Red",
        "Blue",
    ]
    one = client.get("Item.json", params={"itemMatrixID": "0", "load_relations": '["ItemShops"]'})
    body = one.json()["Item"]
    assert body["ItemShops"]["ItemShop"][0]["qoh"] == "5"
    summary = next(r for r in body["ItemShops"]["ItemShop"] if r["shopID"] == "0")
    assert summary["qoh"] == "3" and summary["sellable"] == "5"
    category = client.get("Category/2.json").json()["Category"]
    assert category["fullPathName"] == "Shoes/Boots" and category["nodeDepth"] == "1"
    assert (category["leftNode"], category["rightNode"]) == ("2", "3")


def test_paging_follows_next_and_previous_urls(
    sandbox: LightspeedSandbox, client: httpx.Client
) -> None:
    sandbox.seed("items", [{"description": f"Item {n}", "archived": n == 3} for n in range(1, 8)])
    url = "Item.json?limit=2&description=~,Item%25"
    seen: list[str] = []
    pages = []
    while url:
        page = client.get(url).json()
        pages.append(page)
        items = page["Item"]
        seen += [i["itemID"] for i in (items if isinstance(items, list) else [items])]
        url = page["@attributes"]["next"]
        if url:
            assert url.startswith(account_url(sandbox) + "Item.json?")
            query = dict(parse_qsl(urlsplit(url).query))
            assert query["limit"] == "2" and query["sort"] == "itemID"
            assert query["description"] == "~,Item%" and "after" in query
    assert seen == ["1", "2", "4", "5", "6", "7"]
    assert pages[0]["@attributes"]["previous"] == ""
    assert json.loads(
        base64.b64decode(dict(parse_qsl(urlsplit(pages[0]["@attributes"]["next"]).query))["after"])
    ) == [2]
    back = client.get(pages[-1]["@attributes"]["previous"]).json()
    assert [i["itemID"] for i in back["Item"]] == ["4", "5"]
    for bad in ("101", "-1", "x"):
        refused = client.get("Item.json", params={"limit": bad})
        assert refused.status_code == 400 and refused.json()["httpCode"] == "400"
    assert client.get("Item.json", params={"limit": "100"}).status_code == 200
    assert client.get("Item.json", params={"after": "not-a-cursor"}).status_code == 400


def test_sort_whitelist_and_descending(sandbox: LightspeedSandbox, client: httpx.Client) -> None:
    sandbox.seed("items", [{"description": d} for d in ("b", "c", "a")])
    ordered = client.get("Item.json", params={"sort": "-description"}).json()["Item"]
    assert [i["description"] for i in ordered] == ["c", "b", "a"]
    refused = client.get("Item.json", params={"sort": "customSku"})
    assert refused.status_code == 400
    body = refused.json()
    assert set(body) == {"httpCode", "httpMessage", "message", "errorClass"}
    assert "itemID, timeStamp, description" in body["message"]
    assert client.get("Sale.json", params={"sort": "completeTime"}).status_code == 200
    assert client.get("ItemShop.json", params={"sort": "qoh"}).status_code == 400


def test_operators(sandbox: LightspeedSandbox, client: httpx.Client, clocks: Clocks) -> None:
    sandbox.seed(
        "items",
        [
            {"description": "alpha", "timeStamp": "2024-01-01T00:00:00+00:00"},
            {"description": "beta", "timeStamp": "2024-01-02T00:00:00-04:00"},
            {"description": "gamma", "timeStamp": "2024-01-03T00:00:00+00:00"},
            {"description": "delta"},
        ],
    )

    def ids(**params: str) -> list[str]:
        answer = client.get("Item.json", params=params)
        assert answer.status_code == 200, answer.text
        items = answer.json().get("Item", [])
        return [i["itemID"] for i in (items if isinstance(items, list) else [items])]

    assert ids(itemID="2") == ["2"] and ids(itemID="=,2") == ["2"]
    assert ids(itemID=">,2") == ["3", "4"] and ids(itemID=">=,2") == ["2", "3", "4"]
    assert ids(itemID="<,2") == ["1"] and ids(itemID="<=,2") == ["1", "2"]
    assert ids(itemID="!=,2") == ["1", "3", "4"] and ids(itemID="><,2,3") == ["2", "3"]
    assert ids(description="~,%ta") == ["2", "4"] and ids(description="!~,%a") == []
    assert ids(itemID="IN,[1,4]") == ["1", "4"]
    assert ids(timeStamp=">,2024-01-02T00:00:00+00:00") == ["2", "3", "4"]
    assert ids(timeStamp=">,2024-01-02T04:00:00+0000") == ["3", "4"]
    assert ids(timeStamp="><,2024-01-01,2024-01-02T04:00:00") == ["1", "2"]
    assert ids(**{"or": "description=alpha|description=gamma"}) == ["1", "3"]
    unencoded_plus = client.get("Item.json?timeStamp=%3E%2C2024-01-01T00:00:00+00:00")
    assert unencoded_plus.status_code == 400 and "timeStamp" in unencoded_plus.json()["message"]
    unknown = client.get("Item.json", params={"colour": "red"})
    assert unknown.status_code == 400 and "colour" in unknown.json()["message"]


def test_archived(sandbox: LightspeedSandbox, client: httpx.Client) -> None:
    sandbox.seed("items", [{"description": "live"}, {"description": "gone", "archived": True}])

    def count(**params: str) -> str:
        answer: str = client.get("Item.json", params={"count": "1", **params}).json()[
            "@attributes"
        ]["count"]
        return answer

    assert count() == "1" and count(archived="true") == "2" and count(archived="only") == "1"
    assert client.get("Item.json", params={"archived": "maybe"}).status_code == 400


def test_load_relations_and_their_cost(sandbox: LightspeedSandbox, client: httpx.Client) -> None:
    seed_catalogue(sandbox)
    sandbox.seed(
        "customers",
        [
            {
                "firstName": "Bo",
                "Contact": {
                    "Emails": [
                        {"address": "a@x.nl", "useType": "Primary"},
                        {"address": "b@x.nl", "useType": "Secondary"},
                    ]
                },
            }
        ],
    )
    sandbox.seed(
        "sales",
        [
            {
                "completed": True,
                "customerID": 1,
                "SaleLines": {
                    "SaleLine": [
                        {"itemID": 1, "unitQuantity": 2, "unitPrice": "10", "tax1Rate": "0.21"}
                    ]
                },
                "SalePayments": {"SalePayment": {"paymentTypeID": 1, "amount": "24.2"}},
            }
        ],
    )
    plain = client.get("Sale.json")
    assert plain.headers["X-LS-Api-Request-Cost"] == "1"
    relations = (
        '["SaleLines","SalePayments","SalePayments.PaymentType","Customer","Customer.Contact"]'
    )
    loaded = client.get("Sale.json", params={"load_relations": relations})
    # list: SaleLines .4 + SalePayments .4 + PaymentType .1*2*2 + Customer .2 + Contact .2
    assert loaded.headers["X-LS-Api-Request-Cost"] == "2.6"
    sale = loaded.json()["Sale"]
    assert (
        sale["calcSubtotal"] == "20" and sale["calcTax1"] == "4.2" and sale["calcTotal"] == "24.2"
    )
    assert sale["balance"] == "0" and sale["completeTime"] == sale["timeStamp"]
    line = sale["SaleLines"]["SaleLine"]
    assert isinstance(line, dict) and line["itemID"] == "1" and line["calcTotal"] == "24.2"
    payment = sale["SalePayments"]["SalePayment"]
    assert payment["PaymentType"]["type"] == "cash"
    assert sale["Customer"]["Contact"]["Emails"]["ContactEmail"][1]["address"] == "b@x.nl"
    single = client.get("Sale/1.json", params={"load_relations": '["SaleLines"]'})
    assert single.headers["X-LS-Api-Request-Cost"] == "1.2"
    item = client.get("Item/2.json", params={"load_relations": '["Category","ItemAttributes"]'})
    assert item.headers["X-LS-Api-Request-Cost"] == "1.2"
    assert item.json()["Item"]["Category"]["name"] == "Boots"
    assert item.json()["Item"]["ItemAttributes"]["attribute2"] == "S"
    bad = client.get("Item.json", params={"load_relations": '["Vendor"]'})
    assert bad.status_code == 400 and "Vendor" in bad.json()["message"]
    dotted = client.get(
        "Item.json", params={"load_relations": '["ItemShops"]', "ItemShops.qoh": ">,4"}
    ).json()["Item"]
    assert dotted["itemID"] == "1"
    assert client.get("Item.json", params={"ItemShops.qoh": ">,4"}).status_code == 400
    counted = client.get("Sale.json", params={"count": "1"})
    assert counted.json() == {"@attributes": {"count": "1"}}
    assert counted.headers["X-LS-Api-Request-Cost"] == "10"
    assert client.get("Sale.json", params={"count": "1", "limit": "5"}).status_code == 400


# --- the bucket -----------------------------------------------------------------------------


def test_the_leaky_bucket(clocks: Clocks) -> None:
    sandbox = _started(clocks, burst_fraction=None, registers=3)
    try:
        auth = flow(sandbox)
        authorize_at_sandbox(auth)
        with httpx.Client(base_url=account_url(sandbox), auth=auth) as http:
            first = http.get("Item.json")
            assert first.headers["X-LS-Api-Bucket-Level"] == "1/110"
            assert first.headers["X-LS-Api-Drip-Rate"] == "2"
            assert first.headers["X-LS-Api-Request-Cost"] == "1"
            assert first.headers["X-LS-Acct-Id"] == "12345"
            assert "X-LS-API-Burst-Level" not in first.headers
            for _ in range(109):
                assert http.get("Item.json").status_code == 200
            over = http.get("Item.json", params={"count": "1"})  # 110 -> 120: let through
            assert over.status_code == 200
            assert over.headers["X-LS-Api-Bucket-Level"] == "120/110"
            refused = http.get("Item.json")
            assert refused.status_code == 429
            assert refused.headers["X-LS-API-RateLimit-Type"] == "api-leaky-bucket"
            assert refused.headers["Retry-After"] == "5"
            assert refused.json()["httpCode"] == "429"
            assert sandbox.throttled == 1 and sandbox.charged == 120
            clocks.advance(4.5)  # 120 - 9 = 111: still over
            assert http.get("Item.json").status_code == 429
            clocks.advance(0.5)
            passed = http.get("Item.json")
            assert passed.status_code == 200
            assert passed.headers["X-LS-Api-Bucket-Level"] == "111/110"
            assert sandbox.throttled == 2
    finally:
        sandbox.stop()


def test_the_burst_limiter(clocks: Clocks) -> None:
    sandbox = _started(clocks)  # 90 at 1/20: 5 requests a second
    try:
        auth = flow(sandbox)
        authorize_at_sandbox(auth)
        with httpx.Client(base_url=account_url(sandbox), auth=auth) as http:
            levels = [http.get("Item.json").headers["X-LS-API-Burst-Level"] for _ in range(5)]
            assert levels == ["1/5", "2/5", "3/5", "4/5", "5/5"]
            refused = http.get("Item.json")
            assert refused.status_code == 429
            assert refused.headers["X-LS-API-RateLimit-Type"] == "api-burst-limiter"
            assert refused.headers["Retry-After"] == "1"
            assert "burst rate limit exceeded" in refused.json()["message"]
            clocks.advance(1)
            assert http.get("Item.json").status_code == 200
    finally:
        sandbox.stop()


def test_rate_limit_off_keeps_the_headers(sandbox: LightspeedSandbox, client: httpx.Client) -> None:
    for _ in range(95):
        answer = client.get("Item.json")
        assert answer.status_code == 200
    assert answer.headers["X-LS-Api-Bucket-Level"] == "95/90"
    assert sandbox.throttled == 0


# --- errors and the stock PUT ---------------------------------------------------------------


def test_legacy_errors_for_what_is_not_emulated(
    sandbox: LightspeedSandbox, client: httpx.Client
) -> None:
    missing = client.get("Item/42.json")
    assert missing.status_code == 404
    assert missing.json() == {
        "httpCode": "404",
        "httpMessage": "Not Found",
        "message": "Item 42 not found",
        "errorClass": "Exception",
    }
    for method, path, status in (
        ("POST", "Item.json", 405),
        ("DELETE", "Sale/1.json", 405),
        ("GET", "Vendor.json", 404),
        ("GET", "Item", 404),
    ):
        answer = client.request(method, path)
        assert answer.status_code == status, (method, path)
        assert "not emulated by the ihost sandbox" in answer.json()["message"]
        assert "X-LS-Api-Bucket-Level" in answer.headers


def test_put_item_sets_stock_but_not_the_item_timestamp(
    sandbox: LightspeedSandbox, client: httpx.Client, clocks: Clocks
) -> None:
    seed_catalogue(sandbox)
    rows = client.get("ItemShop.json", params={"itemID": "1"}).json()["ItemShop"]
    by_shop = {r["shopID"]: r for r in rows}
    before = client.get("Item/1.json").json()["Item"]["timeStamp"]
    clocks.advance(60)
    body = {
        "ItemShops": {
            "ItemShop": [
                {"itemShopID": by_shop["1"]["itemShopID"], "qoh": 12},
                {"itemShopID": by_shop["2"]["itemShopID"], "qoh": 3},
            ]
        }
    }
    answer = client.put("Item/1.json", json=body)
    assert answer.status_code == 200, answer.text
    assert answer.headers["X-LS-Api-Request-Cost"] == "2"
    assert answer.json()["Item"]["timeStamp"] == before
    after = {
        r["shopID"]: r
        for r in client.get("ItemShop.json", params={"itemID": "1"}).json()["ItemShop"]
    }
    assert after["1"]["qoh"] == "12" and after["2"]["qoh"] == "3" and after["0"]["qoh"] == "15"
    assert after["0"]["timeStamp"] == "2026-03-01T12:01:00+00:00"
    assert after["1"]["timeStamp"] > by_shop["1"]["timeStamp"]
    changed = client.get(
        "ItemShop.json", params={"timeStamp": ">,2026-03-01T12:00:30+00:00", "sort": "timeStamp"}
    ).json()["ItemShop"]
    assert sorted(r["shopID"] for r in changed) == ["0", "1", "2"]
    assert client.get("Item/1.json").json()["Item"]["timeStamp"] == before
    summary = {"ItemShops": {"ItemShop": {"itemShopID": by_shop["0"]["itemShopID"], "qoh": 1}}}
    assert client.put("Item/1.json", json=summary).status_code == 400
    other = client.put("Item/1.json", json={"description": "x"})
    assert other.status_code == 400 and "not emulated" in other.json()["message"]


# --- seeding --------------------------------------------------------------------------------


def test_seed_refuses_unknown_kinds_and_fields(sandbox: LightspeedSandbox) -> None:
    with pytest.raises(ValueError, match=r"unknown kind 'products'.*items"):
        sandbox.seed("products", [{}])
    with pytest.raises(ValueError, match=r"items\[1\]: unknown field 'colour'"):
        sandbox.seed("items", [{"description": "ok"}, {"description": "x", "colour": "red"}])
    assert sandbox.dump("items") == []  # all or none
    with pytest.raises(ValueError, match="categoryID: there is no Category 9"):
        sandbox.seed("items", [{"categoryID": 9}])
    with pytest.raises(ValueError, match=r"SaleLine\[0\]: unknown field 'sku'"):
        sandbox.seed("sales", [{"SaleLines": [{"sku": "x"}]}])
    answer = httpx.post(sandbox.base_url + "/_sandbox/seed/items", json=[{"weight": 1}])
    assert answer.status_code == 400 and "weight" in answer.json()["error"]


def test_dump_round_trips_and_itemshops_seed(sandbox: LightspeedSandbox) -> None:
    seed_catalogue(sandbox)
    sandbox.seed("itemshops", [{"itemID": 1, "shopID": 2, "qoh": 4}])
    items = sandbox.dump("items")
    plain = items[0]
    stock = {r["shopID"]: r["qoh"] for r in plain["ItemShops"]["ItemShop"]}
    assert stock == {"1": "5", "2": "4", "0": "9"}
    assert items[1]["ItemAttributes"]["attribute1"] == "Red"
    with pytest.raises(ValueError, match="summary"):
        sandbox.seed(
            "itemshops", [{"itemShopID": plain["ItemShops"]["ItemShop"][-1]["itemShopID"]}]
        )
    again = LightspeedSandbox()
    again.clock = sandbox.clock
    again.seed("shops", sandbox.dump("shops"))
    again.seed("categories", sandbox.dump("categories"))
    again.seed("itemmatrices", sandbox.dump("itemmatrices"))
    again.seed("items", items)
    assert again.dump("items") == items
