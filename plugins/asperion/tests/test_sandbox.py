"""The Asperion sandbox over real HTTP on 127.0.0.1, as the wire contract describes it
(asperion-wire.md): identity, tenants, the envelope, filters, writes and the test controls."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timezone
from typing import Any
from urllib.parse import parse_qs, parse_qsl, urlsplit

import httpx
import pytest
from ihost_asperion import sandbox as asp
from ihost_asperion.sandbox import AsperionSandbox

from host.auth import OAuth2AuthorizationCode
from host.authorize import authorize_at_sandbox

NOT_EMULATED = "not emulated by the ihost sandbox"
REDIRECT = "http://127.0.0.1:9/callback"
EN_TITLE = "One or more validation errors occurred."
NL_TITLE = "Er zijn een of meer validatiefouten opgetreden."


def token(box: AsperionSandbox) -> str:
    """An access token, by the authorization-code flow driven by hand."""
    answer = httpx.get(
        f"{box.base_url}/connect/authorize",
        params={
            "client_id": box.client_id,
            "redirect_uri": REDIRECT,
            "response_type": "code",
            "state": "s1",
        },
    )
    assert answer.status_code == 302, answer.text
    code = dict(parse_qsl(urlsplit(answer.headers["location"]).query))["code"]
    granted = httpx.post(
        f"{box.base_url}/connect/token",
        data={
            "grant_type": "authorization_code",
            "code": code,
            "redirect_uri": REDIRECT,
            "client_id": box.client_id,
            "client_secret": box.client_secret,
        },
    )
    assert granted.status_code == 200, granted.text
    return str(granted.json()["access_token"])


def client(box: AsperionSandbox, **headers: str) -> httpx.Client:
    return httpx.Client(
        base_url=box.base_url, headers={"Authorization": f"Bearer {token(box)}", **headers}
    )


@pytest.fixture
def box() -> Iterator[AsperionSandbox]:
    with AsperionSandbox() as running:
        yield running


@pytest.fixture
def api(box: AsperionSandbox) -> Iterator[httpx.Client]:
    with client(box) as session:
        yield session


def at(box: AsperionSandbox, utc: str) -> None:
    """Set the sandbox's clock to a UTC moment."""
    moment = datetime.fromisoformat(utc).replace(tzinfo=timezone.utc)
    box.clock = lambda: moment


def debtor(name: str = "Acme BV", **fields: Any) -> dict[str, Any]:
    return {"name": name, "debtorKindId": "BI", **fields}


def article(code: str, **fields: Any) -> dict[str, Any]:
    return {
        "articleCode": code,
        "description": f"Article {code}",
        "salesPrice": 10.0,
        "vatCodeId": "H21",
        "salesTypeId": 1,
        **fields,
    }


def order(debtor_id: int, *lines: dict[str, Any], **fields: Any) -> dict[str, Any]:
    return {"debtorId": debtor_id, "date": "2026-11-20", "lines": {"_data": list(lines)}, **fields}


def invoice(customer: str = "10001", **fields: Any) -> dict[str, Any]:
    line = {"description": "Advice", "amount": 100.0, "vatCode": "H21", "ledgerAccountId": 8000}
    return {
        "date": "2026-11-20",
        "debtorCustomerNumber": customer,
        "journalId": "VK",
        "lines": {"_data": [line]},
        **fields,
    }


def errors(response: httpx.Response) -> dict[str, list[str]]:
    assert response.status_code == 400, response.text
    body = response.json()
    assert body["status"] == 400 and body["title"] == EN_TITLE
    assert body["traceId"].startswith("00-")
    return dict(body["errors"])


def data(response: httpx.Response) -> list[dict[str, Any]]:
    assert response.status_code == 200, response.text
    return list(response.json()["_data"])


# --- identity and tenants --------------------------------------------------------------------


def test_connection_settings_and_the_authorization_code_flow(box: AsperionSandbox) -> None:
    settings = box.connection_settings()
    assert settings == {
        "base_url": box.base_url,
        "identity_url": box.base_url,
        "client_id": "ihost-sandbox",
        "client_secret": "sandbox-secret",
        "administration_id": 1001,
    }
    flow = OAuth2AuthorizationCode(
        settings["identity_url"] + "/connect/authorize",
        settings["identity_url"] + "/connect/token",
        settings["client_id"],
        settings["client_secret"],
    )
    authorize_at_sandbox(flow)
    with httpx.Client(base_url=settings["base_url"], auth=flow) as session:
        answer = session.get("/v1/administrations")
    assert [(a["id"], a["name"]) for a in data(answer)] == [
        (1001, "ihost Sandbox BV"),
        (1002, "ihost Sandbox Test BV"),
    ]
    assert answer.json()["_meta"]["administrationId"] == 1001


def test_every_v1_route_needs_a_bearer_token(box: AsperionSandbox) -> None:
    for path in ("/v1/debtors", "/v1/nothing/here"):
        answer = httpx.get(box.base_url + path)
        assert answer.status_code == 401
        assert answer.json()["title"] == "Unauthorized"
    wrong = httpx.get(box.base_url + "/v1/debtors", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["status"] == 401


def test_tenant_headers_select_the_administration_and_its_data(box: AsperionSandbox) -> None:
    box.seed(asp.DEBTORS, [debtor("Primary BV")])
    with client(box, **{"X-TenantId": "1002"}) as second:
        created = second.post("/v1/debtors", json=debtor("Test BV"))
        assert created.status_code == 201, created.text
        listed = second.get("/v1/debtors")
        assert [d["name"] for d in data(listed)] == ["Test BV"]
        assert listed.json()["_meta"]["administrationName"] == "ihost Sandbox Test BV"
    with client(box, **{"X-Tenant-Id": "1002"}) as dashed:
        assert [d["name"] for d in data(dashed.get("/v1/debtors"))] == ["Test BV"]
        assert [v["id"] for v in data(dashed.get("/v1/journals"))] == ["MEM", "VK"]
    with client(box, **{"X-Tenant-Id": "1001"}) as primary:
        assert [d["name"] for d in data(primary.get("/v1/debtors"))] == ["Primary BV"]
    assert [d["name"] for d in box.dump(asp.DEBTORS)] == ["Primary BV"]
    assert [d["name"] for d in box.dump(asp.DEBTORS, administration_id=1002)] == ["Test BV"]
    box.seed(asp.ADMINISTRATIONS, [{"name": "Third BV"}])
    with client(box, **{"X-Tenant-Id": "1003"}) as third:
        assert data(third.get("/v1/debtors")) == []
        assert len(data(third.get("/v1/vatcodes"))) == 4
        assert third.get("/v1/debtors").json()["_meta"]["administrationName"] == "Third BV"
    for value in ("9999", "abc"):
        with client(box, **{"X-Tenant-Id": value}) as stranger:
            refused = stranger.get("/v1/debtors")
        assert refused.status_code == 403
        assert refused.json()["detail"] == f"no access to administration {value}"


# --- envelope, paging, projection, order -----------------------------------------------------


def test_envelope_and_paging_follow_next_page(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(asp.DEBTORS, [debtor(f"Debtor {n}", city="Utrecht") for n in range(1, 8)])
    first = api.get("/v1/debtors", params={"City": "utrecht", "PAGESIZE": 3})
    meta = first.json()["_meta"]
    assert meta["totalCount"] == 7 and meta["pageCount"] == 3
    assert meta["profileName"] == "ihost sandbox" and meta["previousPage"] is None
    assert meta["self"].startswith(box.base_url + "/v1/debtors?")
    seen, url, pages = [], first.request.url, 0
    while url is not None:
        page = api.get(str(url))
        seen += [d["id"] for d in data(page)]
        url, pages = page.json()["_meta"]["nextPage"], pages + 1
        if url is not None:
            query = parse_qs(urlsplit(url).query)
            assert url.startswith(box.base_url) and query["City"] == ["utrecht"]
            assert query["page"] == [str(pages + 1)]
    assert seen == list(range(1, 8)) and pages == 3
    second = api.get("/v1/debtors", params={"pageSize": 3, "page": 2}).json()["_meta"]
    assert parse_qs(urlsplit(second["previousPage"]).query)["page"] == ["1"]
    item = data(first)[0]
    assert item["_meta"]["self"] == f"{box.base_url}/v1/debtors/{item['id']}"
    assert api.get(item["_meta"]["self"]).json()["name"] == item["name"]
    past = api.get("/v1/debtors", params={"pageSize": 3, "page": 4})
    assert data(past) == [] and past.json()["_meta"]["nextPage"] is None
    empty = api.get("/v1/debtors", params={"Name": "nobody"}).json()["_meta"]
    assert (empty["totalCount"], empty["pageCount"]) == (0, 0)


def test_page_size_bounds(box: AsperionSandbox, api: httpx.Client) -> None:
    assert api.get("/v1/debtors", params={"pageSize": 100}).status_code == 200
    for size in (0, 101, "x"):
        assert "pageSize" in errors(api.get("/v1/debtors", params={"pageSize": size}))
    assert "page" in errors(api.get("/v1/debtors", params={"page": 0}))
    with AsperionSandbox(max_page_size=5) as small, client(small) as session:
        assert session.get("/v1/debtors", params={"pageSize": 5}).status_code == 200
        assert "pageSize" in errors(session.get("/v1/debtors", params={"pageSize": 6}))


def test_meta_only_fields_and_order_by(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(
        asp.DEBTORS,
        [debtor("Bravo", city="Delft"), debtor("alpha", city="Breda"), debtor("Charlie")],
    )
    counted = api.get("/v1/debtors", params={"metaOnly": "true"}).json()
    assert counted["_data"] == [] and counted["_meta"]["totalCount"] == 3
    assert "metaOnly" in errors(api.get("/v1/debtors", params={"metaOnly": "maybe"}))
    slim = data(api.get("/v1/debtors", params={"fields": "Name,city"}))
    assert set(slim[0]) == {"id", "name", "city", "_meta"}
    assert "fields" in errors(api.get("/v1/debtors", params={"fields": "name,shoeSize"}))
    names = [d["name"] for d in data(api.get("/v1/debtors", params={"orderBy": "Name"}))]
    assert names == ["alpha", "Bravo", "Charlie"]
    down = [d["name"] for d in data(api.get("/v1/debtors", params={"orderBy": "name desc"}))]
    assert down == ["Charlie", "Bravo", "alpha"]
    by_id = [d["name"] for d in data(api.get("/v1/debtors"))]
    assert by_id == ["Bravo", "alpha", "Charlie"]
    assert "orderBy" in errors(api.get("/v1/debtors", params={"orderBy": "shoeSize"}))


# --- filters ---------------------------------------------------------------------------------


def test_string_filters_and_comparisons(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(
        asp.DEBTORS,
        [
            debtor("Anna", emailAddress="anna@example.nl"),
            debtor("Bert", emailAddress="bert@example.nl"),
            debtor("Anneke", emailAddress="anna@example.nl.invalid"),
        ],
    )

    def names(**params: str) -> list[str]:
        return [d["name"] for d in data(api.get("/v1/debtors", params=params))]

    assert names(EmailAddress="ANNA@example") == ["Anna", "Anneke"]  # Contains, any case
    equal = names(EmailAddress="Anna@Example.nl", EmailAddress_comparison="Equals")
    assert equal == ["Anna"]
    assert names(emailaddress="anna@example.nl", EMAILADDRESS_COMPARISON="equals") == ["Anna"]
    assert names(Name="ann", Name_comparison="StartsWith") == ["Anna", "Anneke"]
    assert names(Name="KE", Name_comparison="EndsWith") == ["Anneke"]
    assert names(Name="anna", Name_comparison="NotEquals") == ["Bert", "Anneke"]
    bad = errors(api.get("/v1/debtors", params={"Name": "a", "Name_comparison": "Like"}))
    assert "Name_comparison" in bad


def test_number_and_boolean_filters(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(asp.DEBTORS, [debtor("A"), debtor("B", blocked=True), debtor("C")])

    def ids(**params: str) -> list[int]:
        return [d["id"] for d in data(api.get("/v1/debtors", params=params))]

    assert ids(Id_from="2", Id_to="3") == [2, 3]
    assert ids(Id="1") == [1]
    assert ids(Blocked="true") == [2]
    assert ids(blocked="FALSE") == [1, 3]
    assert "Blocked" in errors(api.get("/v1/debtors", params={"Blocked": "maybe"}))
    assert "Id" in errors(api.get("/v1/debtors", params={"Id": "one"}))


def test_date_filters_use_amsterdam_local_time_across_dst(
    box: AsperionSandbox, api: httpx.Client
) -> None:
    moments = {
        "winter": "2026-01-15T10:00:00",
        "before the spring change": "2026-03-29T00:30:00",
        "after the spring change": "2026-03-29T01:30:00",
        "summer": "2026-07-01T10:00:00",
    }
    for name, utc in moments.items():
        at(box, utc)
        assert api.post("/v1/debtors", json=debtor(name)).status_code == 201
    added = {d["name"]: d["dateAdded"] for d in box.dump(asp.DEBTORS)}
    assert added == {
        "winter": "2026-01-15T11:00:00",
        "before the spring change": "2026-03-29T01:30:00",
        "after the spring change": "2026-03-29T03:30:00",
        "summer": "2026-07-01T12:00:00",
    }

    def names(**params: str) -> list[str]:
        return [d["name"] for d in data(api.get("/v1/debtors", params=params))]

    assert names(DateAdded="2026-03-29") == ["before the spring change", "after the spring change"]
    assert names(DateAdded_from="2026-03-29T02:00:00") == ["after the spring change", "summer"]
    assert names(DateAdded_to="2026-03-29") == [
        "winter",
        "before the spring change",
        "after the spring change",
    ]
    assert names(DateLastChange_from="2026-07-01T12:00:00") == ["summer"]
    zoned = api.get("/v1/debtors", params={"DateAdded_from": "2026-03-29T02:00:00Z"})
    assert "DateAdded_from" in errors(zoned)


def test_unknown_parameters_are_refused(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(asp.DEBTORS, [debtor()])
    refused = errors(api.get("/v1/debtors", params={"ShoeSize": "42"}))
    assert refused == {"ShoeSize": [f"unknown parameter: {NOT_EMULATED}"]}
    assert "Name_from" in errors(api.get("/v1/debtors", params={"Name_from": "a"}))
    assert "Lines" in errors(api.get("/v1/SalesOrderWithLines", params={"Lines": "x"}))
    assert "ActiveState" in errors(api.get("/v1/debtors", params={"ActiveState": "All"}))
    assert "Sort" in errors(api.get("/v1/debtors/1", params={"Sort": "x"}))


def test_without_changed_since_filters_date_last_change_is_ignored() -> None:
    since = {"DateLastChange_from": "2999-01-01"}
    with AsperionSandbox() as strict, client(strict) as session:
        strict.seed(asp.DEBTORS, [debtor()])
        assert data(session.get("/v1/debtors", params=since)) == []
    with AsperionSandbox(changed_since_filters=False) as plain, client(plain) as session:
        plain.seed(asp.DEBTORS, [debtor()])
        assert len(data(session.get("/v1/debtors", params=since))) == 1
        to = {"DateLastChange_to": "2000-01-01"}
        assert len(data(session.get("/v1/debtors", params=to))) == 1
        assert "Nope" in errors(session.get("/v1/debtors", params={"Nope": "1"}))


def test_accept_language_chooses_dutch_or_english(box: AsperionSandbox) -> None:
    with client(box, **{"Accept-Language": "nl-NL"}) as dutch:
        answer = dutch.post("/v1/debtors", json={"debtorKindId": "BI"})
        missing = dutch.get("/v1/debtors/42")
    assert answer.status_code == 400
    assert answer.json()["title"] == NL_TITLE
    assert answer.json()["errors"]["name"] == ["Het veld name is verplicht."]
    assert missing.json()["title"] == "Niet gevonden"
    assert missing.json()["detail"] == "debiteur 42 bestaat niet"
    for language in ({"Accept-Language": "en-US"}, {}):
        with client(box, **language) as english:
            answer = english.post("/v1/debtors", json={"debtorKindId": "BI"})
        assert answer.json()["title"] == EN_TITLE
        assert answer.json()["errors"]["name"] == ["The name field is required."]


# --- debtors and contact persons -------------------------------------------------------------


def test_debtor_create_and_put_replace(box: AsperionSandbox, api: httpx.Client) -> None:
    at(box, "2026-05-01T08:00:00")
    first = api.post("/v1/debtors", json=debtor(city="Gouda", emailAddress="info@acme.nl"))
    assert first.status_code == 201, first.text
    created = first.json()
    assert created["customerNumber"] == "10001"
    assert created["dateAdded"] == created["dateLastChange"] == "2026-05-01T10:00:00"
    assert created["_meta"]["self"] == f"{box.base_url}/v1/debtors/{created['id']}"
    assert api.post("/v1/debtors", json=debtor("Two")).json()["customerNumber"] == "10002"
    own = api.post("/v1/debtors", json=debtor("Own", customerNumber="C-7"))
    assert own.json()["customerNumber"] == "C-7"
    taken = api.post("/v1/debtors", json=debtor("Again", customerNumber="C-7"))
    assert "customerNumber" in errors(taken)
    at(box, "2026-05-02T08:00:00")
    body = {**debtor("Acme Holding"), "dateAdded": "2000-01-01T00:00:00", "id": 77}
    replaced = api.put(f"/v1/debtors/{created['id']}", json=body)
    assert replaced.status_code == 200, replaced.text
    after = replaced.json()
    assert after["name"] == "Acme Holding" and after["id"] == created["id"]
    assert after["city"] is None and after["emailAddress"] is None  # absent: replaced by null
    assert after["customerNumber"] == "10001"
    assert after["dateAdded"] == "2026-05-01T10:00:00"
    assert after["dateLastChange"] == "2026-05-02T10:00:00"
    assert api.get(f"/v1/debtors/{created['id']}").json()["name"] == "Acme Holding"
    missing = api.put("/v1/debtors/999", json=debtor())
    assert missing.status_code == 404
    assert missing.json()["detail"] == "debtor 999 does not exist"


def test_debtor_validation_names_camel_case_paths(api: httpx.Client) -> None:
    body = {
        "Name": "x" * 101,
        "emailAddress": "not-an-address",
        "countryCode": "nl",
        "debtorKindId": "XX",
        "paymentConditionId": 9,
        "paymentMethodId": "BARTER",
        "postCode": "12345678901",
        "blocked": "yes",
        "shoeSize": 42,
    }
    found = errors(api.post("/v1/debtors", json=body))
    assert set(found) == {
        "name",
        "emailAddress",
        "countryCode",
        "debtorKindId",
        "paymentConditionId",
        "paymentMethodId",
        "postCode",
        "blocked",
        "shoeSize",
    }
    assert found["shoeSize"] == ["unknown field"]
    assert found["debtorKindId"] == ["debtor kind XX does not exist"]
    assert "debtorKindId" in errors(api.post("/v1/debtors", json={"name": "No kind"}))
    not_json = api.post("/v1/debtors", content=b"{name", headers={"Content-Type": "text/plain"})
    assert "$" in errors(not_json)
    assert "$" in errors(api.post("/v1/debtors", json=["a list"]))
    fine = api.post("/v1/debtors", json=debtor(countryCode="NL", emailAddress="a@b.nl"))
    assert fine.status_code == 201


def test_contact_persons(box: AsperionSandbox, api: httpx.Client) -> None:
    at(box, "2026-02-01T09:00:00")
    box.seed(asp.DEBTORS, [debtor("Acme"), debtor("Other")])
    at(box, "2026-02-03T09:00:00")
    path = "/v1/debtors/1/contactpersons"
    made = api.post(path, json={"firstName": "Jan", "lastName": "Jansen"})
    assert made.status_code == 201, made.text
    person = made.json()
    assert "debtorId" not in person
    assert person["_meta"]["self"] == f"{box.base_url}{path}/{person['id']}"
    assert api.get("/v1/debtors/1").json()["dateLastChange"] == "2026-02-03T10:00:00"
    assert api.get("/v1/debtors/2").json()["dateLastChange"] == "2026-02-01T10:00:00"
    assert [p["lastName"] for p in data(api.get(path))] == ["Jansen"]
    assert data(api.get("/v1/debtors/2/contactpersons")) == []
    put = api.put(f"{path}/{person['id']}", json={"lastName": "Jansen-Smit"})
    assert put.json()["lastName"] == "Jansen-Smit" and put.json()["firstName"] is None
    assert api.get(f"{path}/{person['id']}").json()["lastName"] == "Jansen-Smit"
    assert api.get(f"/v1/debtors/2/contactpersons/{person['id']}").status_code == 404
    assert api.get("/v1/debtors/9/contactpersons").status_code == 404
    assert "lastName" in errors(api.post(path, json={"firstName": "Piet"}))
    box.seed(
        asp.DEBTORS,
        [debtor("Seeded", contactPersons=[{"lastName": "de Vries", "emailAddress": "a@b.nl"}])],
    )
    assert "contactPersons" not in api.get("/v1/debtors/3").json()
    dumped = [p for p in box.dump(asp.CONTACT_PERSONS) if p["debtorId"] == 3]
    assert [p["lastName"] for p in dumped] == ["de Vries"]


# --- articles ---------------------------------------------------------------------------------


def test_articles_hide_inactive_unless_active_state(
    box: AsperionSandbox, api: httpx.Client
) -> None:
    box.seed(asp.ARTICLES, [article("A1"), article("A2", active=False)])

    def codes(**params: str) -> list[str]:
        return [a["articleCode"] for a in data(api.get("/v1/articles", params=params))]

    assert codes() == ["A1"]
    assert codes(ActiveState="Inactive") == ["A2"]
    assert codes(activestate="all") == ["A1", "A2"]
    assert codes(ActiveState="Active") == ["A1"]
    assert "ActiveState" in errors(api.get("/v1/articles", params={"ActiveState": "Some"}))
    assert api.get("/v1/articles/2").json()["active"] is False


def test_article_current_stock_is_read_only(box: AsperionSandbox, api: httpx.Client) -> None:
    refused = errors(api.post("/v1/articles", json=article("S1", currentStock=5)))
    assert refused["currentStock"] == [
        "currentStock is read-only: stock changes through the Asperion application or sales orders"
    ]
    made = api.post("/v1/articles", json=article("S1", currentStock=0, reservedStock=9))
    assert made.status_code == 201, made.text
    assert (made.json()["currentStock"], made.json()["reservedStock"]) == (0, 0)
    box.seed(asp.ARTICLES, [article("S2", currentStock=12)])
    stored = api.get("/v1/articles/2").json()
    assert stored["currentStock"] == 12
    changed = api.put("/v1/articles/2", json={**stored, "currentStock": 13})
    assert "currentStock" in errors(changed)
    same = api.put("/v1/articles/2", json={**stored, "currentStock": 12, "description": "New"})
    assert same.status_code == 200, same.text
    assert same.json()["description"] == "New" and same.json()["currentStock"] == 12
    without = api.put("/v1/articles/2", json=article("S2"))
    assert without.json()["currentStock"] == 12 and without.json()["freeField1"] is None


def test_article_validation(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(asp.ARTICLES, [article("DUP")])
    found = errors(
        api.post(
            "/v1/articles",
            json={"articleCode": "DUP", "description": "d", "ean": "123", "vatCodeId": "X"},
        )
    )
    assert set(found) == {"articleCode", "ean", "vatCodeId", "salesTypeId"}
    assert api.post("/v1/articles", json=article("E1", ean="8712345678906")).status_code == 201


# --- sales orders ------------------------------------------------------------------------------


@pytest.fixture
def shop(box: AsperionSandbox) -> AsperionSandbox:
    box.seed(asp.DEBTORS, [debtor("Buyer"), debtor("Blocked", blocked=True)])
    box.seed(
        asp.ARTICLES,
        [
            article("MUG", salesPrice=9.95, currentStock=10, dateLastChange="2026-01-01T00:00:00"),
            article("TEA", salesPrice=4.5, vatCodeId="L9", currentStock=3),
            article("OLD", active=False),
        ],
    )
    return box


def test_sales_order_reserves_stock_and_leaves_the_rest(
    shop: AsperionSandbox, api: httpx.Client
) -> None:
    body = order(
        1,
        {"articleCode": "MUG", "quantity": 2},
        {"articleId": 2, "quantity": 3, "unitPrice": 5, "discountPercentage": 10},
        orderNumber="WEB-1001",
    )
    made = api.post("/v1/SalesOrderWithLines", json=body)
    assert made.status_code == 201, made.text
    got = made.json()
    assert got["salesOrderNumber"] == "VO000001" and got["status"] == "Open"
    assert got["date"] == "2026-11-20"
    lines = got["lines"]["_data"]
    assert [(li["articleId"], li["articleCode"]) for li in lines] == [(1, "MUG"), (2, "TEA")]
    assert lines[0]["unitPrice"] == 9.95 and lines[0]["vatCodeId"] == "H21"
    assert lines[1]["vatCodeId"] == "L9" and lines[0]["description"] == "Article MUG"
    # 2 x 9.95 = 19.90 (+4.18 VAT); 3 x 5 - 10% = 13.50 (+1.22 VAT)
    assert (got["amountExclVat"], got["vatAmount"], got["amountInclVat"]) == (33.4, 5.4, 38.8)
    stock = {a["articleCode"]: a for a in shop.dump(asp.ARTICLES)}
    assert (stock["MUG"]["currentStock"], stock["MUG"]["reservedStock"]) == (10, 2)
    assert (stock["TEA"]["currentStock"], stock["TEA"]["reservedStock"]) == (3, 3)
    assert stock["MUG"]["dateLastChange"] == "2026-01-01T00:00:00"
    assert api.get(f"/v1/SalesOrderWithLines/{got['id']}").json()["orderNumber"] == "WEB-1001"
    found = data(api.get("/v1/SalesOrderWithLines", params={"OrderNumber": "WEB-1001"}))
    assert [o["id"] for o in found] == [got["id"]]
    again = api.post("/v1/SalesOrderWithLines", json=body)
    assert "orderNumber" in errors(again)
    assert shop.dump(asp.ARTICLES)[0]["reservedStock"] == 2


def test_sales_order_prices_including_vat(shop: AsperionSandbox, api: httpx.Client) -> None:
    body = order(1, {"articleCode": "MUG", "quantity": 1, "unitPrice": 12.1})
    made = api.post("/v1/salesorderwithlines", json={**body, "pricesIncludeVat": True})
    got = made.json()
    assert (got["amountExclVat"], got["vatAmount"], got["amountInclVat"]) == (10.0, 2.1, 12.1)


def test_sales_order_refusals_name_the_line(shop: AsperionSandbox, api: httpx.Client) -> None:
    lines = ({"articleCode": "MUG", "quantity": 1}, {"articleCode": "NOPE", "quantity": 1})
    unknown = errors(api.post("/v1/SalesOrderWithLines", json=order(1, *lines)))
    assert unknown == {"lines._data[1].articleCode": ["article NOPE does not exist"]}
    by_id = errors(
        api.post("/v1/SalesOrderWithLines", json=order(1, {"articleId": 99, "quantity": 1}))
    )
    assert "lines._data[0].articleCode" in by_id
    inactive = errors(
        api.post("/v1/SalesOrderWithLines", json=order(1, {"articleCode": "OLD", "quantity": 1}))
    )
    assert inactive == {"lines._data[0].articleCode": ["article OLD is not active"]}
    zero = errors(
        api.post("/v1/SalesOrderWithLines", json=order(1, {"articleCode": "MUG", "quantity": 0}))
    )
    assert "lines._data[0].quantity" in zero
    blocked = errors(api.post("/v1/SalesOrderWithLines", json=order(2, lines[0])))
    assert blocked == {"debtorId": ["debtor 2 is blocked"]}
    assert "debtorId" in errors(api.post("/v1/SalesOrderWithLines", json=order(9, lines[0])))
    assert "lines" in errors(api.post("/v1/SalesOrderWithLines", json=order(1)))
    address = {"city": "Gouda", "countryCode": "nl", "floor": 2}
    bad = errors(
        api.post("/v1/SalesOrderWithLines", json=order(1, lines[0], deliveryAddress=address))
    )
    assert set(bad) == {"deliveryAddress.countryCode", "deliveryAddress.floor"}
    assert api.put("/v1/SalesOrderWithLines/1", json={}).status_code == 405
    assert all(a["reservedStock"] == 0 for a in shop.dump(asp.ARTICLES))
    assert shop.dump(asp.SALES_ORDERS) == []


# --- sales invoices ----------------------------------------------------------------------------


def test_sales_invoices(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(asp.DEBTORS, [debtor("Buyer")])
    box.seed(asp.LEDGER_ACCOUNTS, [{"id": 8099, "description": "Old", "disabled": True}])
    made = api.post(
        "/v1/salesinvoiceswithlines", json=invoice(paymentDueDate="2026-12-04T00:00:00")
    )
    assert made.status_code == 201, made.text
    got = made.json()
    assert got["invoiceNumber"] == "2026-00001" and got["status"] == 1
    assert (got["bookyear"], got["bookperiod"], got["paymentDueDate"]) == (2026, 11, "2026-12-04")
    assert (got["amountExclVat"], got["vatAmount"], got["amountInclVat"]) == (100.0, 21.0, 121.0)
    assert got["lines"]["_meta"]["totalCount"] == 1
    assert got["lines"]["_data"][0]["vatAmount"] == 21.0
    second = api.post("/v1/salesinvoiceswithlines", json=invoice())
    assert second.json()["invoiceNumber"] == "2026-00002"
    next_year = api.post("/v1/salesinvoiceswithlines", json=invoice(date="2027-01-02"))
    assert next_year.json()["invoiceNumber"] == "2027-00001"
    duplicate = api.post("/v1/salesinvoiceswithlines", json=invoice(invoiceNumber="2026-00001"))
    assert "invoiceNumber" in errors(duplicate)
    assert "debtorCustomerNumber" in errors(
        api.post("/v1/salesinvoiceswithlines", json=invoice("99999"))
    )
    memorial = errors(api.post("/v1/salesinvoiceswithlines", json=invoice(journalId="MEM")))
    assert memorial == {"journalId": ["journal MEM is not a sales journal"]}
    for change, path in (
        ({"ledgerAccountId": 1234}, "ledgerAccountId"),
        ({"ledgerAccountId": 8099}, "ledgerAccountId"),
        ({"vatCode": "X99"}, "vatCode"),
    ):
        body = invoice()
        body["lines"]["_data"][0].update(change)
        assert f"lines._data[0].{path}" in errors(api.post("/v1/salesinvoiceswithlines", json=body))

    def numbers(**params: str) -> list[str]:
        found = data(api.get("/v1/salesinvoiceswithlines", params=params))
        return [i["invoiceNumber"] for i in found]

    assert numbers(InvoiceNumber="2026-00001", InvoiceNumber_comparison="Equals") == ["2026-00001"]
    assert numbers(Bookyear="2027") == ["2027-00001"]
    assert numbers(DebtorCustomerNumber="10001", Bookperiod="11") == ["2026-00001", "2026-00002"]


def test_invoice_file_upload(box: AsperionSandbox, api: httpx.Client) -> None:
    box.seed(asp.DEBTORS, [debtor("Buyer")])
    number = api.post("/v1/salesinvoiceswithlines", json=invoice()).json()["id"]
    pdf = b"%PDF-1.4 invoice"
    sent = api.post(
        f"/v1/salesinvoiceswithlines/{number}/file",
        files={"File": ("2026-00001.pdf", pdf, "application/pdf")},
    )
    assert sent.status_code == 201, sent.text
    assert (sent.json()["name"], sent.json()["size"]) == ("2026-00001.pdf", len(pdf))
    assert [content for _, content in box.files(number)] == [pdf]
    wrong_part = api.post(
        f"/v1/salesinvoiceswithlines/{number}/file", files={"Attachment": ("a.pdf", pdf)}
    )
    assert "File" in errors(wrong_part)
    assert "File" in errors(api.post(f"/v1/salesinvoiceswithlines/{number}/file", json={}))
    assert (
        api.post("/v1/salesinvoiceswithlines/99/file", files={"File": ("a", pdf)}).status_code
        == 404
    )
    assert len(box.files(number)) == 1


# --- validateOnly, rate limit -------------------------------------------------------------------


def test_validate_only_persists_nothing(shop: AsperionSandbox, api: httpx.Client) -> None:
    check = {"validateOnly": "true"}
    would = api.post("/v1/debtors", params=check, json=debtor("Maybe"))
    assert would.status_code == 200, would.text
    assert (would.json()["id"], would.json()["customerNumber"]) == (0, None)
    assert "name" in errors(api.post("/v1/debtors", params=check, json={"debtorKindId": "BI"}))
    sale = order(1, {"articleCode": "MUG", "quantity": 4})
    planned = api.post("/v1/SalesOrderWithLines", params=check, json=sale)
    assert planned.status_code == 200, planned.text
    assert (planned.json()["id"], planned.json()["salesOrderNumber"]) == (0, None)
    assert planned.json()["amountExclVat"] == 39.8
    billed = api.post("/v1/salesinvoiceswithlines", params=check, json=invoice())
    assert (billed.json()["id"], billed.json()["invoiceNumber"]) == (0, None)
    renamed = api.put("/v1/debtors/1", params=check, json=debtor("Renamed"))
    assert renamed.status_code == 200 and renamed.json()["name"] == "Renamed"
    assert [d["name"] for d in shop.dump(asp.DEBTORS)] == ["Buyer", "Blocked"]
    assert shop.dump(asp.ARTICLES)[0]["reservedStock"] == 0
    assert shop.dump(asp.SALES_ORDERS) == shop.dump(asp.SALES_INVOICES) == []
    assert api.post("/v1/debtors", json=debtor("Real")).json()["customerNumber"] == "10003"
    made = api.post("/v1/SalesOrderWithLines", json=sale).json()
    assert (made["salesOrderNumber"], made["lines"]["_data"][0]["id"]) == ("VO000001", 1)
    assert api.post("/v1/salesinvoiceswithlines", json=invoice()).json()["invoiceNumber"] == (
        "2026-00001"
    )
    assert "validateOnly" in errors(api.post("/v1/debtors", params={"validateOnly": "x"}, json={}))


def test_refused_writes_assign_no_numbers(shop: AsperionSandbox, api: httpx.Client) -> None:
    lines = ({"articleCode": "MUG", "quantity": 1}, {"articleCode": "NOPE", "quantity": 1})
    assert api.post("/v1/SalesOrderWithLines", json=order(1, *lines)).status_code == 400
    assert api.post("/v1/debtors", json=debtor(emailAddress="nope")).status_code == 400
    assert api.post("/v1/salesinvoiceswithlines", json=invoice("X")).status_code == 400
    assert shop.dump(asp.ARTICLES)[0]["reservedStock"] == 0
    made = api.post("/v1/SalesOrderWithLines", json=order(1, lines[0])).json()
    assert (made["id"], made["salesOrderNumber"], made["lines"]["_data"][0]["id"]) == (
        1,
        "VO000001",
        1,
    )
    assert api.post("/v1/debtors", json=debtor()).json()["customerNumber"] == "10003"
    billed = api.post("/v1/salesinvoiceswithlines", json=invoice()).json()
    assert billed["invoiceNumber"] == "2026-00001"


def test_rate_limit_answers_429_with_retry_after() -> None:
    with AsperionSandbox(rate_limit=(2, 60.0)) as limited:
        with client(limited) as session:
            assert [session.get("/v1/journals").status_code for _ in range(2)] == [200, 200]
            refused = session.get("/v1/journals")
        assert refused.status_code == 429
        assert refused.json()["title"] == "Too Many Requests"
        assert 1 <= int(refused.headers["Retry-After"]) <= 60
        with client(limited) as other:  # the limit is per access token
            assert other.get("/v1/journals").status_code == 200
    with AsperionSandbox() as unlimited, client(unlimited) as session:
        assert {session.get("/v1/journals").status_code for _ in range(5)} == {200}


# --- seeding, paths, reference data -------------------------------------------------------------


def test_seed_refuses_what_asperion_could_not_hold(box: AsperionSandbox) -> None:
    with pytest.raises(ValueError, match=r"'creditors'.*debtors"):
        box.seed("creditors", [{}])
    with pytest.raises(ValueError, match=r"debtors\[0\]: nickname: unknown field"):
        box.seed(asp.DEBTORS, [debtor(nickname="Ace")])
    with pytest.raises(ValueError, match=r"debtors\[1\]: name: .*required"):
        box.seed(asp.DEBTORS, [debtor("Fine"), {"debtorKindId": "BI"}])
    assert box.dump(asp.DEBTORS) == []  # all or none: "Fine" went with the refused record
    with pytest.raises(ValueError, match=r"articles\[0\]: salesTypeId"):
        box.seed(asp.ARTICLES, [{"articleCode": "X", "description": "x"}])
    with pytest.raises(ValueError, match=r"contactpersons\[0\]: debtorId"):
        box.seed(asp.CONTACT_PERSONS, [{"lastName": "Orphan"}])
    box.seed(asp.DEBTORS, [debtor("Fine")])
    with pytest.raises(ValueError, match=r"debtors\[0\]: emailAddress"):
        box.seed(asp.DEBTORS, [debtor("Twin", id=1, emailAddress="twin")])
    assert [d["name"] for d in box.dump(asp.DEBTORS)] == ["Fine"]
    with pytest.raises(ValueError, match="creditors"):
        box.dump("creditors")


def test_seed_with_a_known_id_replaces_the_record(box: AsperionSandbox) -> None:
    at(box, "2026-04-01T10:00:00")
    box.seed(asp.ARTICLES, [article("MUG", currentStock=40, reservedStock=2)])
    at(box, "2026-04-02T10:00:00")
    box.seed(asp.ARTICLES, [article("MUG", id=1, salesPrice=11.0, description="Renamed")])
    (mug,) = box.dump(asp.ARTICLES)
    assert (mug["id"], mug["salesPrice"], mug["description"]) == (1, 11.0, "Renamed")
    assert (mug["currentStock"], mug["reservedStock"]) == (40, 2)  # not given: kept
    assert mug["dateLastChange"] == "2026-04-02T12:00:00"
    box.seed(asp.ARTICLES, [article("MUG", id=1, currentStock=5, dateLastChange="2026-01-01")])
    (mug,) = box.dump(asp.ARTICLES)
    assert (mug["currentStock"], mug["dateLastChange"]) == (5, "2026-01-01T00:00:00")
    with pytest.raises(ValueError, match=r"articles\[1\]: articleCode"):
        box.seed(asp.ARTICLES, [article("TEA"), article("MUG", id=2)])
    assert [a["articleCode"] for a in box.dump(asp.ARTICLES)] == ["MUG"]  # all or none


def test_seed_over_http_and_completion(box: AsperionSandbox, api: httpx.Client) -> None:
    seeded = httpx.post(f"{box.base_url}/_sandbox/seed/articles", json=[article("H1")])
    assert seeded.status_code == 200 and seeded.json() == {"seeded": 1}
    got = data(api.get("/v1/articles"))[0]
    assert (got["currentStock"], got["reservedStock"], got["active"]) == (0, 0, True)
    assert got["freeField5"] is None and got["dateLastChange"]
    refused = httpx.post(f"{box.base_url}/_sandbox/seed/creditors", json=[{}])
    assert refused.status_code == 400 and "creditors" in refused.json()["error"]
    bad = httpx.post(f"{box.base_url}/_sandbox/seed/articles", json=[{"articleCode": "Z"}])
    assert bad.status_code == 400 and "description" in bad.json()["error"]


def test_paths_match_without_case_and_unknown_ones_are_refused(
    shop: AsperionSandbox, api: httpx.Client
) -> None:
    api.post("/v1/SalesOrderWithLines", json=order(1, {"articleCode": "MUG", "quantity": 1}))
    for path in ("/v1/SalesOrderWithLines", "/v1/salesorderwithlines", "/V1/SALESORDERWITHLINES"):
        assert len(data(api.get(path))) == 1
    assert api.get("/v1/Debtors/1").json()["name"] == "Buyer"
    unknown = api.get("/v1/purchaseinvoices")
    assert unknown.status_code == 404
    assert unknown.json()["detail"] == f"/v1/purchaseinvoices: {NOT_EMULATED}"
    assert api.get("/v1/debtors/1/addresses").status_code == 404
    assert api.delete("/v1/debtors/1").status_code == 405
    assert api.post("/v1/vatcodes", json={}).json()["title"] == "Method Not Allowed"


def test_reference_data_in_both_administrations(box: AsperionSandbox) -> None:
    box.seed(asp.PAYMENT_METHODS, [{"id": "GIFT", "description": "Cadeaubon"}])
    with client(box) as primary:
        methods = [m["id"] for m in data(primary.get("/v1/paymentmethods"))]
        assert methods == ["BANK", "CASH", "GIFT", "IDEAL", "PIN"]
        vat = primary.get("/v1/vatcodes/H21").json()
        assert (vat["percentage"], vat["isDefault"], vat["countryCode"]) == (21.0, True, "NL")
        assert primary.get("/v1/ledgeraccounts/8030").json()["vatCode"] == "EU0"
        assert primary.get("/v1/paymentmethods/GIFT").status_code == 200
        conditions = data(primary.get("/v1/paymentconditions"))
        assert [(c["id"], c["description"]) for c in conditions] == [
            (1, "14 dagen"),
            (2, "30 dagen"),
            (3, "Direct"),
        ]
        kinds = [k["id"] for k in data(primary.get("/v1/debtorkinds", params={"orderBy": "id"}))]
        assert kinds == ["BI", "BU", "EU"]
        assert [t["description"] for t in data(primary.get("/v1/salestypes"))] == [
            "Handelsgoederen",
            "Diensten",
        ]
    with client(box, **{"X-Tenant-Id": "1002"}) as second:
        assert "GIFT" not in [m["id"] for m in data(second.get("/v1/paymentmethods"))]
        assert second.get("/v1/paymentmethods/GIFT").status_code == 404
        assert second.get("/v1/journals/VK").json()["type"] == "Sales"
