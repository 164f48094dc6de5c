"""The Feeddex sandbox over real HTTP on 127.0.0.1: the CONFIRMED auth and feedbackData
calls, the PROPOSED transaction, customer and unit endpoints, the non-authoritative
products and stock, the respondent simulation, the rate limit and the test controls."""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from ihost_feeddex.sandbox import FeeddexSandbox

NOT_EMULATED = "not emulated by the ihost sandbox"
STAMP_FORMAT = "%Y-%m-%dT%H:%M:%S.%fZ"
NOW = datetime(2026, 3, 10, 11, 0, 0, 123456, tzinfo=timezone.utc)
NOW_TEXT = "2026-03-10T11:00:00.123Z"


class Ticker:
    """A monotonic clock the test moves by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def box() -> Iterator[FeeddexSandbox]:
    with FeeddexSandbox() as running:
        running.clock = lambda: NOW
        yield running


def login(box: FeeddexSandbox, session: httpx.Client | None = None) -> str:
    settings = box.connection_settings()
    body = {
        "authCode": settings["auth_code"],
        "organization": settings["organization"],
        "password": settings["password"],
    }
    url = settings["base_url"] + "/authenticate"
    answer = session.post(url, json=body) if session else httpx.post(url, json=body)
    assert answer.status_code == 200, answer.text
    return str(answer.json()["token"])


@contextmanager
def client(box: FeeddexSandbox, token: str | None = None) -> Iterator[httpx.Client]:
    """A session on the sandbox with a bearer token (`token`, or a fresh login's)."""
    with httpx.Client(base_url=box.base_url) as session:
        session.headers["Authorization"] = f"Bearer {token or login(box, session)}"
        yield session


@pytest.fixture
def api(box: FeeddexSandbox) -> Iterator[httpx.Client]:
    with client(box) as session:
        yield session


def transaction(external_id: str, **fields: Any) -> dict[str, Any]:
    body: dict[str, Any] = {
        "externalId": external_id,
        "date": "2026-03-09",
        "unitId": 1,
        "customer": {"email": f"{external_id.lower()}@example.com"},
    }
    return {**body, **fields}


def ok(response: httpx.Response, status: int = 200) -> Any:
    assert response.status_code == status, response.text
    assert response.headers["content-type"].startswith("application/json")
    return response.json()


def refused(response: httpx.Response, status: int, *words: str) -> dict[str, Any]:
    """The error body, after checking its status, shape and words in its message."""
    assert response.status_code == status, response.text
    body = response.json()
    assert isinstance(body["message"], str)
    for word in words:
        assert word in body["message"], body["message"]
    return dict(body)


def invalid(response: httpx.Response, field: str, *words: str) -> dict[str, Any]:
    """A 400 naming `field` in its message and in its errors."""
    body = refused(response, 400, field)
    assert field in body["errors"], body
    for word in words:
        assert any(word in message for message in body["errors"][field]), body
    return body


def pick(box: FeeddexSandbox, prefix: str, responder: bool) -> str:
    """The first externalId `prefix-N` whose customer answers (or does not)."""
    for n in range(1000):
        candidate = f"{prefix}-{n}"
        if box.responds(candidate) is responder:
            return candidate
    raise AssertionError("no such externalId")


def parse(value: str) -> datetime:
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", value), value
    return datetime.strptime(value, STAMP_FORMAT).replace(tzinfo=timezone.utc)


# --- auth -------------------------------------------------------------------------------------


def test_connection_settings(box: FeeddexSandbox) -> None:
    assert box.connection_settings() == {
        "base_url": f"http://127.0.0.1:{box.port}",
        "auth_code": "ihost-demo",
        "organization": "ihost Demo BV",
        "password": "sandbox-password",
    }
    other = FeeddexSandbox(auth_code="a", organization="Org", password="p")
    with other:
        assert other.connection_settings() == {
            "base_url": other.base_url,
            "auth_code": "a",
            "organization": "Org",
            "password": "p",
        }


def test_authenticate_gives_an_opaque_token_and_expires_in(box: FeeddexSandbox) -> None:
    body = {
        "authCode": "ihost-demo",
        "organization": "ihost Demo BV",
        "password": "sandbox-password",
    }
    first = ok(httpx.post(box.base_url + "/authenticate", json=body))
    second = ok(httpx.post(box.base_url + "/authenticate", json=body))
    assert set(first) == {"token", "expiresIn"} and first["expiresIn"] == 3600
    assert isinstance(first["token"], str) and len(first["token"]) >= 32
    assert first["token"] != second["token"] and box.logins == 2
    with FeeddexSandbox(token_ttl=60) as short:
        answer = ok(httpx.post(short.base_url + "/authenticate", json=body))
        assert answer["expiresIn"] == 60


def test_wrong_or_missing_credentials_are_401(box: FeeddexSandbox) -> None:
    url = box.base_url + "/authenticate"
    good = {
        "authCode": "ihost-demo",
        "organization": "ihost Demo BV",
        "password": "sandbox-password",
    }
    for body in (
        {**good, "password": "wrong"},
        {**good, "organization": "Other BV"},
        {**good, "authCode": "IHOST-DEMO"},
        {"authCode": "ihost-demo", "password": "sandbox-password"},
        {**good, "password": None},
        {},
    ):
        answer = httpx.post(url, json=body)
        assert answer.status_code == 401, body
        assert answer.json() == {"message": "Invalid credentials"}
    refused(httpx.post(url, content=b"not json"), 400, "JSON")
    invalid(httpx.post(url, json={**good, "tenant": "x"}), "tenant", "not a known field")
    assert box.logins == 0


def test_v1_calls_need_a_known_bearer_token(box: FeeddexSandbox) -> None:
    url = box.base_url + "/v1/units"
    for headers, word in (
        ({}, "Bearer"),
        ({"Authorization": "Basic aWhvc3Q6cHc="}, "Bearer"),
        ({"Authorization": "Bearer"}, "Bearer"),
        ({"Authorization": "Bearer not-a-token"}, "Invalid token"),
    ):
        answer = httpx.get(url, headers=headers)
        refused(answer, 401, word)
        assert answer.headers["www-authenticate"] == "Bearer"
    token = login(box)
    ok(httpx.get(url, headers={"Authorization": f"bearer {token}"}))


def test_tokens_expire_after_their_ttl_and_on_expire_tokens() -> None:
    ticker = Ticker()
    with FeeddexSandbox(token_ttl=60) as box:
        box.monotonic = ticker
        token = login(box)
        with client(box, token) as api:
            ticker.now += 59
            ok(api.get("/v1/units"))
            box.advance(30)  # the simulated clock does not end a token
            ok(api.get("/v1/units"))
            ticker.now += 1
            refused(api.get("/v1/units"), 401, "Token expired")
        fresh = login(box)
        assert fresh != token
        with client(box, fresh) as api:
            ok(api.get("/v1/units"))
            box.expire_tokens()
            refused(api.get("/v1/units"), 401, "Token expired")
        with client(box) as api:  # logging in again is the way back
            ok(api.get("/v1/units"))


# --- feedbackData (CONFIRMED shape) -----------------------------------------------------------

TRANSACTION_KEYS = {"id", "date", "customerCode", "unitId", "enteredOn", "sentOn"}


def test_feedback_data_exact_shape_and_timestamps(box: FeeddexSandbox, api: httpx.Client) -> None:
    box.seed("units", [{"id": 7, "name": "Filiaal Haarlem"}, {"id": 8, "name": "Unused"}])
    yes, no = pick(box, "ORD", True), pick(box, "ORD", False)
    ok(api.post("/v1/transactions", json=transaction(yes, customerCode="10500")), 201)
    ok(api.post("/v1/transactions", json=transaction(no, unitId=7)), 201)
    box.advance(40)
    later = transaction("LATE", sendInvitationAfterDays=5)  # entered: not in feedbackData
    ok(api.post("/v1/transactions", json=later), 201)
    body = ok(api.get("/v1/feedbackData", params={"year": 2026, "month": 3}))
    assert set(body) == {"feedbackData", "unitData"}
    assert body["unitData"] == [{"id": 1, "name": "Webshop"}, {"id": 7, "name": "Filiaal Haarlem"}]
    done, gone = body["feedbackData"]
    assert set(done) == {"transaction", "f100Scores"} and set(gone) == set(done)
    assert set(done["transaction"]) == TRANSACTION_KEYS | {
        "feedbackStarted",
        "modelQuestionsCompleted",
        "feedbackCompleted",
    }
    assert set(gone["transaction"]) == TRANSACTION_KEYS | {"remindedOn", "expirationDate"}
    t = done["transaction"]
    assert (t["id"], t["date"], t["customerCode"], t["unitId"]) == (1, "2026-03-09", "10500", 1)
    assert gone["transaction"]["customerCode"] is None and gone["transaction"]["unitId"] == 7
    for record in (done, gone):
        for name, value in record["transaction"].items():
            if name.endswith("On") or name.startswith(("feedback", "model")):
                parse(value)
    assert t["enteredOn"] == NOW_TEXT
    assert parse(t["sentOn"]) == parse(NOW_TEXT) + timedelta(days=1)
    scores = done["f100Scores"]
    assert set(scores) == {"overallScore"} and set(scores["overallScore"]) == {
        "value",
        "valueAsGrade",
    }
    value, grade = scores["overallScore"]["value"], scores["overallScore"]["valueAsGrade"]
    assert isinstance(value, int) and 40 <= value <= 100
    assert isinstance(grade, float) and grade == round(value / 10, 1)
    assert gone["f100Scores"] is None
    assert re.fullmatch(r"\d{4}-\d\d-\d\d", gone["transaction"]["expirationDate"])


def test_feedback_data_month_is_the_transaction_date(
    box: FeeddexSandbox, api: httpx.Client
) -> None:
    ok(api.post("/v1/transactions", json=transaction("FEB", date="2026-02-28")), 201)
    ok(api.post("/v1/transactions", json=transaction("MAR", date="2026-03-01")), 201)
    box.advance(1)
    feb = ok(api.get("/v1/feedbackData?year=2026&month=02"))["feedbackData"]
    assert [r["transaction"]["date"] for r in feb] == ["2026-02-28"]
    mar = ok(api.get("/v1/feedbackData?year=2026&month=3"))["feedbackData"]
    assert [r["transaction"]["date"] for r in mar] == ["2026-03-01"]
    empty = ok(api.get("/v1/feedbackData?year=2025&month=3"))
    assert empty == {"feedbackData": [], "unitData": []}


def test_feedback_data_leaves_out_transactions_not_yet_sent(
    box: FeeddexSandbox, api: httpx.Client
) -> None:
    ok(api.post("/v1/transactions", json=transaction("WAIT", sendInvitationAfterDays=3)), 201)
    box.advance(2)
    assert ok(api.get("/v1/feedbackData?year=2026&month=3"))["feedbackData"] == []
    box.advance(1)
    sent = ok(api.get("/v1/feedbackData?year=2026&month=3"))["feedbackData"]
    assert set(sent[0]["transaction"]) == TRANSACTION_KEYS and sent[0]["f100Scores"] is None


@pytest.mark.parametrize(
    ("query", "field"),
    [
        ("month=3", "year"),
        ("year=2026", "month"),
        ("year=2026&month=13", "month"),
        ("year=2026&month=0", "month"),
        ("year=2026&month=march", "month"),
        ("year=26&month=3", "year"),
        ("year=2026&month=3&unitId=1", "unitId"),
        ("year=2026&year=2025&month=3", "year"),
    ],
)
def test_feedback_data_refuses_bad_parameters(api: httpx.Client, query: str, field: str) -> None:
    invalid(api.get(f"/v1/feedbackData?{query}"), field)


# --- transactions -----------------------------------------------------------------------------


def test_create_one_transaction_and_read_it_back(box: FeeddexSandbox, api: httpx.Client) -> None:
    body = transaction(
        "SO-1001",
        customerCode="C-7",
        customer={
            "email": "anna@example.com",
            "firstName": "Anna",
            "lastName": "de Vries",
            "language": "nl",
        },
        orderLines=[{"sku": "SKU-1", "name": "Mok", "quantity": 2}, {"quantity": 1.5}],
    )
    created = ok(api.post("/v1/transactions", json=body), 201)
    assert created == {"id": 1, "externalId": "SO-1001", "status": "entered"}
    item = ok(api.get("/v1/transactions/1"))
    assert item == {
        "id": 1,
        "externalId": "SO-1001",
        "date": "2026-03-09",
        "customerCode": "C-7",
        "unitId": 1,
        "status": "entered",
        "enteredOn": NOW_TEXT,
        "sendInvitationAfterDays": 1,
        "customer": {
            "email": "anna@example.com",
            "firstName": "Anna",
            "lastName": "de Vries",
            "companyName": None,
            "phone": None,
            "language": "nl",
        },
        "orderLines": [
            {"sku": "SKU-1", "name": "Mok", "quantity": 2},
            {"sku": None, "name": None, "quantity": 1.5},
        ],
        "f100Scores": None,
    }
    assert box.dump("transactions") == [item]


def test_create_an_array_of_transactions(api: httpx.Client) -> None:
    created = ok(
        api.post("/v1/transactions", json=[transaction("A"), transaction("B"), transaction("C")]),
        201,
    )
    assert created == [
        {"id": 1, "externalId": "A", "status": "entered"},
        {"id": 2, "externalId": "B", "status": "entered"},
        {"id": 3, "externalId": "C", "status": "entered"},
    ]
    assert ok(api.get("/v1/transactions"))["total"] == 3


def test_an_array_is_all_or_nothing(box: FeeddexSandbox, api: httpx.Client) -> None:
    bad = transaction("B", customer={"email": "not-an-address"})
    body = invalid(
        api.post("/v1/transactions", json=[transaction("A"), bad]),
        "[1].customer.email",
        "e-mail",
    )
    assert list(body["errors"]) == ["[1].customer.email"]
    refused(
        api.post("/v1/transactions", json=[transaction(f"X{n}") for n in range(101)]), 400, "100"
    )
    refused(api.post("/v1/transactions", json=[]), 400, "at least one")
    refused(api.post("/v1/transactions", json="SO-1"), 400, "body")
    assert box.dump("transactions") == []
    hundred = [transaction(f"X{n}") for n in range(100)]
    assert len(ok(api.post("/v1/transactions", json=hundred), 201)) == 100


def test_a_duplicate_external_id_is_409_with_the_id(box: FeeddexSandbox, api: httpx.Client) -> None:
    ok(api.post("/v1/transactions", json=transaction("A")), 201)
    ok(api.post("/v1/transactions", json=transaction("B")), 201)
    again = api.post("/v1/transactions", json=transaction("B", date="2026-03-01"))
    assert again.status_code == 409
    assert again.json() == {"message": "Transaction already exists", "id": 2, "externalId": "B"}
    batch = api.post("/v1/transactions", json=[transaction("C"), transaction("A")])
    assert batch.status_code == 409 and batch.json()["id"] == 1
    twice = api.post("/v1/transactions", json=[transaction("D"), transaction("D")])
    body = refused(twice, 409, "Transaction already exists")
    assert body["id"] is None and body["externalId"] == "D" and "[1].externalId" in body["errors"]
    assert [t["externalId"] for t in box.dump("transactions")] == ["A", "B"]
    assert box.dump("transactions")[1]["date"] == "2026-03-09"


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"colour": "red"}, "colour"),
        ({"customer": {"email": "a@example.com", "age": 3}}, "customer.age"),
        ({"orderLines": [{"sku": "S", "quantity": 1, "price": 2}]}, "orderLines[0].price"),
    ],
)
def test_unknown_fields_anywhere_are_named(
    box: FeeddexSandbox, api: httpx.Client, change: dict[str, Any], field: str
) -> None:
    invalid(
        api.post("/v1/transactions", json=transaction("A", **change)), field, "not a known field"
    )
    assert box.dump("transactions") == []


@pytest.mark.parametrize(
    ("change", "field", "word"),
    [
        ({"externalId": None}, "externalId", "required"),
        ({"externalId": ""}, "externalId", "empty"),
        ({"externalId": 12}, "externalId", "string"),
        ({"date": "09-03-2026"}, "date", "YYYY-MM-DD"),
        ({"date": "2026-02-30"}, "date", "YYYY-MM-DD"),
        ({"unitId": "1"}, "unitId", "whole number"),
        ({"unitId": True}, "unitId", "whole number"),
        ({"customerCode": 10500}, "customerCode", "string"),
        ({"customer": None}, "customer", "required"),
        ({"customer": {"firstName": "Anna"}}, "customer.email", "required"),
        ({"customer": {"email": "a@example.com", "language": "nld"}}, "customer.language", "2"),
        ({"orderLines": {"sku": "S"}}, "orderLines", "array"),
        ({"orderLines": [{"sku": "S"}]}, "orderLines[0].quantity", "required"),
        ({"orderLines": [{"quantity": "2"}]}, "orderLines[0].quantity", "number"),
        ({"sendInvitationAfterDays": 61}, "sendInvitationAfterDays", "from 0 to 60"),
        ({"sendInvitationAfterDays": -1}, "sendInvitationAfterDays", "from 0 to 60"),
    ],
)
def test_transaction_fields_are_checked(
    api: httpx.Client, change: dict[str, Any], field: str, word: str
) -> None:
    invalid(api.post("/v1/transactions", json=transaction("A", **change)), field, word)


def test_an_unknown_unit_is_refused(box: FeeddexSandbox, api: httpx.Client) -> None:
    invalid(api.post("/v1/transactions", json=transaction("A", unitId=2)), "unitId", "no unit 2")
    box.seed("units", [{"id": 2, "name": "Winkel"}])
    ok(api.post("/v1/transactions", json=transaction("A", unitId=2)), 201)


def test_bodies_must_be_json(api: httpx.Client) -> None:
    refused(api.post("/v1/transactions", content=b"{oops"), 400, "JSON")
    refused(api.post("/v1/transactions"), 400, "JSON body is required")


def test_list_transactions_pages_and_filters(api: httpx.Client) -> None:
    batch = [transaction(f"T{n:02d}", date=f"2026-03-{n % 28 + 1:02d}") for n in range(30)]
    ok(api.post("/v1/transactions", json=batch), 201)
    first = ok(api.get("/v1/transactions"))
    assert first["total"] == 30 and [t["id"] for t in first["items"]] == list(range(1, 26))
    second = ok(api.get("/v1/transactions", params={"page": 2}))
    assert [t["externalId"] for t in second["items"]] == [f"T{n}" for n in range(25, 30)]
    small = ok(api.get("/v1/transactions", params={"page": 3, "pageSize": 10}))
    assert [t["id"] for t in small["items"]] == list(range(21, 31)) and small["total"] == 30
    assert ok(api.get("/v1/transactions?page=9"))["items"] == []
    one = ok(api.get("/v1/transactions", params={"externalId": "T07"}))
    assert one["total"] == 1 and one["items"][0]["date"] == "2026-03-08"
    window = ok(api.get("/v1/transactions", params={"from": "2026-03-05", "to": "2026-03-06"}))
    assert sorted(t["date"] for t in window["items"]) == ["2026-03-05", "2026-03-06"]
    assert window["total"] == 2
    everything = ok(api.get("/v1/transactions", params={"pageSize": 100}))
    assert len(everything["items"]) == 30
    invalid(api.get("/v1/transactions?pageSize=101"), "pageSize", "from 1 to 100")
    invalid(api.get("/v1/transactions?page=0"), "page")
    invalid(api.get("/v1/transactions?from=5-3-2026"), "from", "YYYY-MM-DD")
    invalid(api.get("/v1/transactions?status=sent"), "status", "not a known parameter")


def test_get_an_unknown_transaction_is_404(api: httpx.Client) -> None:
    refused(api.get("/v1/transactions/9"), 404, "Transaction 9 not found")
    refused(api.get("/v1/transactions/SO-1"), 404, "not found")


def test_units_list_the_seeded_units(box: FeeddexSandbox, api: httpx.Client) -> None:
    assert ok(api.get("/v1/units")) == {"items": [{"id": 1, "name": "Webshop"}], "total": 1}
    box.seed("units", [{"name": "Winkel"}, {"id": 1, "name": "Webwinkel"}])
    assert ok(api.get("/v1/units?pageSize=1&page=2")) == {
        "items": [{"id": 2, "name": "Winkel"}],
        "total": 2,
    }
    assert box.dump("units") == [{"id": 1, "name": "Webwinkel"}, {"id": 2, "name": "Winkel"}]


# --- the respondent simulation ----------------------------------------------------------------


def test_a_responder_goes_sent_started_completed(box: FeeddexSandbox, api: httpx.Client) -> None:
    yes = pick(box, "SO", True)
    ok(api.post("/v1/transactions", json=transaction(yes)), 201)
    statuses = []
    for _ in range(3):
        counts = box.advance(1)
        statuses.append(ok(api.get("/v1/transactions/1"))["status"])
        assert sum(counts.values()) == 1 and counts[statuses[-1]] == 1
    assert statuses == ["sent", "started", "completed"]
    item = ok(api.get("/v1/transactions/1"))
    entered = parse(item["enteredOn"])
    assert parse(item["sentOn"]) == entered + timedelta(days=1)
    assert parse(item["feedbackStarted"]) == entered + timedelta(days=2)
    assert parse(item["modelQuestionsCompleted"]) == entered + timedelta(days=3)
    assert parse(item["feedbackCompleted"]) == entered + timedelta(days=3)
    assert "remindedOn" not in item and "expirationDate" not in item
    value = 40 + int.from_bytes(hashlib.sha256(yes.encode()).digest()[:8], "big") % 61
    assert item["f100Scores"] == {
        "overallScore": {"value": value, "valueAsGrade": round(value / 10, 1)}
    }
    assert box.advance(100) == dict.fromkeys(
        ("sent", "reminded", "started", "completed", "expired"), 0
    )


def test_a_non_responder_is_reminded_then_expires(box: FeeddexSandbox, api: httpx.Client) -> None:
    no = pick(box, "SO", False)
    ok(api.post("/v1/transactions", json=transaction(no, sendInvitationAfterDays=2)), 201)
    assert box.advance(2)["sent"] == 1
    assert box.advance(6) == {"sent": 0, "reminded": 0, "started": 0, "completed": 0, "expired": 0}
    assert box.advance(1)["reminded"] == 1
    item = ok(api.get("/v1/transactions/1"))
    sent = parse(item["sentOn"])
    assert item["status"] == "reminded" and parse(item["remindedOn"]) == sent + timedelta(days=7)
    assert "expirationDate" not in item
    box.advance(22)
    assert ok(api.get("/v1/transactions/1"))["status"] == "reminded"
    assert box.advance(1)["expired"] == 1
    item = ok(api.get("/v1/transactions/1"))
    assert item["status"] == "expired" and item["f100Scores"] is None
    assert item["expirationDate"] == (sent + timedelta(days=30)).date().isoformat()
    assert "feedbackStarted" not in item and "feedbackCompleted" not in item


def test_moments_are_scheduled_not_when_the_clock_passed_them(box: FeeddexSandbox) -> None:
    yes, no = pick(box, "SO", True), pick(box, "SO", False)
    box.seed("transactions", [transaction(yes), transaction(no)])
    assert box.advance(45) == {"sent": 2, "reminded": 1, "started": 1, "completed": 1, "expired": 1}
    done, gone = box.dump("transactions")
    assert done["feedbackCompleted"] == "2026-03-13T11:00:00.123Z"
    assert gone["remindedOn"] == "2026-03-18T11:00:00.123Z"
    assert gone["expirationDate"] == "2026-04-10"
    assert box.now() == NOW.replace(microsecond=123000) + timedelta(days=45)


def test_invitations_after_zero_days_go_out_at_once(box: FeeddexSandbox, api: httpx.Client) -> None:
    created = ok(
        api.post("/v1/transactions", json=transaction("NOW", sendInvitationAfterDays=0)), 201
    )
    assert created["status"] == "entered"
    item = ok(api.get("/v1/transactions/1"))
    assert item["status"] == "sent" and item["sentOn"] == item["enteredOn"] == NOW_TEXT


def test_responders_and_scores_are_deterministic() -> None:
    ids = [f"ORDER-{n}" for n in range(200)]
    first, second = FeeddexSandbox(), FeeddexSandbox()
    assert [first.responds(i) for i in ids] == [second.responds(i) for i in ids]
    assert [first.score(i) for i in ids] == [second.score(i) for i in ids]
    share = sum(first.responds(i) for i in ids) / len(ids)
    assert 0.65 < share < 0.95  # response_rate 80
    values = {first.score(i)["overallScore"]["value"] for i in ids}
    assert min(values) >= 40 and max(values) <= 100 and len(values) > 30
    for i in ids:
        h = int.from_bytes(hashlib.sha256(i.encode()).digest()[:8], "big")
        assert first.responds(i) is (h % 100 < 80)
    assert not any(FeeddexSandbox(response_rate=0).responds(i) for i in ids)
    assert all(FeeddexSandbox(response_rate=100).responds(i) for i in ids)
    with pytest.raises(ValueError, match="response_rate"):
        FeeddexSandbox(response_rate=101)


def test_two_sandboxes_give_the_same_feedback() -> None:
    answers = []
    for _ in range(2):
        with FeeddexSandbox() as box:
            box.clock = lambda: NOW
            box.seed("transactions", [transaction(f"SO-{n}") for n in range(20)])
            box.advance(40)
            with client(box) as api:
                answers.append(ok(api.get("/v1/feedbackData?year=2026&month=3")))
    assert answers[0] == answers[1]
    statuses = {r["f100Scores"] is None for r in answers[0]["feedbackData"]}
    assert statuses == {True, False}  # both kinds among 20


def test_advance_refuses_going_back(box: FeeddexSandbox) -> None:
    with pytest.raises(ValueError, match="days"):
        box.advance(-1)


# --- customers --------------------------------------------------------------------------------


def test_customers_create_409_replace_and_look_up(box: FeeddexSandbox, api: httpx.Client) -> None:
    anna = {"customerCode": "C-1", "email": "Anna@Example.com", "firstName": "Anna"}
    created = ok(api.post("/v1/customers", json=anna), 201)
    assert created == {
        "id": 1,
        "customerCode": "C-1",
        "email": "Anna@Example.com",
        "firstName": "Anna",
        "lastName": None,
        "companyName": None,
        "phone": None,
        "language": None,
    }
    again = api.post("/v1/customers", json={**anna, "email": "other@example.com"})
    assert again.status_code == 409
    assert again.json() == {"message": "Customer already exists", "id": 1, "customerCode": "C-1"}
    ok(api.post("/v1/customers", json={"customerCode": "C-2", "email": "bob@example.com"}), 201)
    found = ok(api.get("/v1/customers", params={"email": "anna@EXAMPLE.com"}))
    assert found["total"] == 1 and found["items"][0]["customerCode"] == "C-1"
    by_code = ok(api.get("/v1/customers", params={"customerCode": "C-2"}))
    assert [c["email"] for c in by_code["items"]] == ["bob@example.com"]
    assert ok(api.get("/v1/customers?email=nobody@example.com")) == {"items": [], "total": 0}
    replaced = ok(api.put("/v1/customers/C-1", json={"email": "anna@example.nl", "lastName": "V"}))
    assert replaced["id"] == 1 and replaced["firstName"] is None  # a full replace
    assert replaced["email"] == "anna@example.nl" and replaced["lastName"] == "V"
    assert ok(api.get("/v1/customers/C-1")) == replaced
    assert ok(api.get("/v1/customers?pageSize=1&page=2"))["items"][0]["customerCode"] == "C-2"
    assert box.dump("customers")[0] == replaced


def test_customer_refusals(api: httpx.Client) -> None:
    invalid(api.post("/v1/customers", json={"email": "a@example.com"}), "customerCode", "required")
    invalid(api.post("/v1/customers", json={"customerCode": "C"}), "email", "required")
    invalid(
        api.post("/v1/customers", json={"customerCode": "C", "email": "a@example.com", "vat": 1}),
        "vat",
    )
    refused(api.put("/v1/customers/C-9", json={"email": "a@example.com"}), 404, "C-9")
    refused(api.get("/v1/customers/C-9"), 404, "Customer C-9 not found")
    ok(api.post("/v1/customers", json={"customerCode": "C", "email": "a@example.com"}), 201)
    invalid(
        api.put("/v1/customers/C", json={"customerCode": "D", "email": "a@example.com"}),
        "customerCode",
    )
    invalid(api.put("/v1/customers/C", json={"firstName": "A"}), "email", "required")


# --- products and stock (emulator-only) -------------------------------------------------------


def test_products_and_stock_are_stored_verbatim(box: FeeddexSandbox, api: httpx.Client) -> None:
    mug = {"sku": "SKU-1", "name": "Mok", "price": "12.50", "ean": "08712345678906"}
    assert ok(api.put("/v1/products/SKU-1", json=mug)) == mug
    assert ok(api.put("/v1/products/SKU-2", json={"price": 7.5})) == {"sku": "SKU-2", "price": 7.5}
    assert ok(api.get("/v1/products", params={"sku": "SKU-1"})) == {"items": [mug], "total": 1}
    assert ok(api.get("/v1/products"))["total"] == 2
    assert ok(api.get("/v1/products/SKU-2")) == {"sku": "SKU-2", "price": 7.5}
    assert ok(api.put("/v1/stock/SKU-1", json={"quantity": 4})) == {"sku": "SKU-1", "quantity": 4}
    assert ok(api.put("/v1/stock/SKU-1", json={"quantity": 3})) == {"sku": "SKU-1", "quantity": 3}
    assert ok(api.get("/v1/stock/SKU-1")) == {"sku": "SKU-1", "quantity": 3}
    assert ok(api.get("/v1/stock?sku=SKU-1"))["items"] == [{"sku": "SKU-1", "quantity": 3}]
    assert box.dump("products") == [mug, {"sku": "SKU-2", "price": 7.5}]
    assert box.dump("stock") == [{"sku": "SKU-1", "quantity": 3}]
    invalid(api.put("/v1/products/SKU-3", json={"sku": "SKU-4"}), "sku", "path")
    invalid(api.put("/v1/products/SKU-3", json={"colour": "red"}), "colour")
    invalid(api.put("/v1/products/SKU-3", json={"price": True}), "price")
    invalid(api.put("/v1/stock/SKU-3", json={}), "quantity", "required")
    invalid(api.put("/v1/stock/SKU-3", json={"quantity": "3"}), "quantity", "number")
    refused(api.get("/v1/products/SKU-3"), 404, "SKU-3")
    refused(api.get("/v1/stock/SKU-3"), 404, "SKU-3")


# --- rate limit -------------------------------------------------------------------------------


def test_rate_limit_is_429_with_retry_after() -> None:
    ticker = Ticker()
    with FeeddexSandbox(rate_limit=True) as box:
        box.monotonic = ticker
        with client(box) as api:
            for _ in range(10):
                ok(api.get("/v1/units"))
            answer = api.get("/v1/units")
            assert answer.status_code == 429
            assert answer.json() == {"message": "Too many requests"}
            assert answer.headers["retry-after"] == "1"
            ticker.now += 0.1  # one request's worth
            ok(api.get("/v1/units"))
            refused(api.get("/v1/units"), 429)
            with client(box) as other:  # a bucket per token
                ok(other.get("/v1/units"))
            ticker.now += 5  # full again, but no more than the burst
            for _ in range(10):
                ok(api.get("/v1/units"))
            refused(api.get("/v1/units"), 429)
        assert box.throttled == 3


def test_no_rate_limit_unless_asked(box: FeeddexSandbox, api: httpx.Client) -> None:
    for _ in range(25):
        ok(api.get("/v1/units"))
    assert box.throttled == 0


# --- not emulated -----------------------------------------------------------------------------


def test_what_is_not_emulated_is_refused_loudly(box: FeeddexSandbox, api: httpx.Client) -> None:
    ok(api.post("/v1/transactions", json=transaction("A")), 201)
    refused(api.delete("/v1/transactions/1"), 501, f"DELETE /v1/transactions/1: {NOT_EMULATED}")
    refused(api.get("/v1/reviews"), 501, NOT_EMULATED)
    refused(api.patch("/v1/customers/C-1", json={}), 501, NOT_EMULATED)
    refused(api.post("/v1/units", json={"name": "X"}), 501, NOT_EMULATED)
    refused(api.get("/v2/feedbackData"), 404, NOT_EMULATED)
    refused(api.get("/authenticate"), 501, NOT_EMULATED)
    refused(httpx.get(box.base_url + "/v1/reviews"), 401)  # the token is checked first
    assert box.dump("units") == [{"id": 1, "name": "Webshop"}]
    assert [c.status for c in box.calls_to("/v1/reviews")] == [501, 401]


# --- seed and dump ----------------------------------------------------------------------------


def test_seed_completes_transactions(box: FeeddexSandbox) -> None:
    box.seed(
        "transactions",
        [
            transaction("NEW"),
            transaction(
                "DONE",
                id=50,
                sentOn="2026-03-01T08:00:00Z",
                feedbackCompleted="2026-03-02T09:30:00.5+01:00",
            ),
            transaction(
                "SENT", status="sent", sentOn="2026-03-10T08:00:00.000Z", sendInvitationAfterDays=3
            ),
        ],
    )
    new, sent, done = box.dump("transactions")
    assert (new["id"], new["status"], new["enteredOn"]) == (1, "entered", NOW_TEXT)
    assert (sent["id"], sent["status"], sent["enteredOn"]) == (
        2,
        "sent",
        "2026-03-07T08:00:00.000Z",
    )
    assert done["id"] == 50 and done["status"] == "completed"
    assert done["feedbackCompleted"] == "2026-03-02T08:30:00.500Z"
    assert done["modelQuestionsCompleted"] == done["feedbackStarted"] == done["feedbackCompleted"]
    assert done["f100Scores"] == box.score("DONE")
    box.seed("transactions", [transaction("NEXT")])
    assert box.dump("transactions")[-1]["id"] == 51


def test_seed_refuses_naming_kind_and_field(box: FeeddexSandbox) -> None:
    with pytest.raises(
        ValueError, match=r"orders.*units, transactions, customers, products, stock"
    ):
        box.seed("orders", [])
    with pytest.raises(ValueError, match="unknown kind"):
        box.dump("orders")
    cases = [
        ([transaction("A", colour="red")], r"transactions\[0\]\.colour: is not a known field"),
        ([transaction("A"), {"externalId": "B"}], r"transactions\[1\]\.date: is required"),
        ([transaction("A", unitId=9)], r"transactions\[0\]\.unitId: names no unit 9"),
        ([transaction("A"), transaction("A")], r"transactions\[1\]\.externalId"),
        ([transaction("A", status="completed")], r"transactions\[0\]\.sentOn: required"),
        ([transaction("A", status="sent", sentOn="2026-03-01")], r"transactions\[0\]\.sentOn"),
        (
            [transaction("A", status="sent", sentOn="2026-03-01T08:00:00")],
            r"transactions\[0\]\.sentOn: must be a UTC timestamp",
        ),
        (
            [
                transaction(
                    "A",
                    status="sent",
                    sentOn="2026-03-01T08:00:00Z",
                    remindedOn="2026-03-08T08:00:00Z",
                )
            ],
            r"transactions\[0\]\.remindedOn: not with status sent",
        ),
        (
            [
                transaction(
                    "A", sentOn="2026-03-01T08:00:00Z", f100Scores={"overallScore": {"value": 80}}
                )
            ],
            r"transactions\[0\]\.f100Scores: only with status completed",
        ),
        (
            [
                transaction(
                    "A",
                    sentOn="2026-03-01T08:00:00Z",
                    feedbackCompleted="2026-03-03T08:00:00Z",
                    f100Scores={"overallScore": {"value": 80, "valueAsGrade": 7.5}},
                )
            ],
            r"valueAsGrade: must be 8.0",
        ),
    ]
    for records, message in cases:
        with pytest.raises(ValueError, match=message):
            box.seed("transactions", records)
    assert box.dump("transactions") == []
    with pytest.raises(ValueError, match=r"units\[0\]\.name: is required"):
        box.seed("units", [{"id": 3}])
    with pytest.raises(ValueError, match=r"customers\[0\]\.email: must be an e-mail"):
        box.seed("customers", [{"customerCode": "C", "email": "x"}])
    with pytest.raises(ValueError, match=r"products\[0\]\.sku: is required"):
        box.seed("products", [{"name": "Mok"}])
    with pytest.raises(ValueError, match=r"stock\[0\]\.quantity: is required"):
        box.seed("stock", [{"sku": "S"}])
    with pytest.raises(TypeError):
        not_a_list: Any = {"name": "x"}
        box.seed("units", not_a_list)


def test_seeded_transactions_move_on_with_the_clock(box: FeeddexSandbox, api: httpx.Client) -> None:
    no = pick(box, "OLD", False)
    box.seed("transactions", [transaction(no, sentOn="2026-03-02T11:00:00Z")])
    item = ok(api.get("/v1/transactions/1"))
    assert item["status"] == "reminded" and item["remindedOn"] == "2026-03-09T11:00:00.000Z"


def test_dump_seeds_another_sandbox_the_same(box: FeeddexSandbox, api: httpx.Client) -> None:
    box.seed("units", [{"id": 4, "name": "Winkel"}])
    box.seed("customers", [{"customerCode": "C-1", "email": "a@example.com", "phone": "06"}])
    body = [
        transaction(f"R-{n}", unitId=4 if n % 2 else 1, orderLines=[{"sku": "S", "quantity": n}])
        for n in range(6)
    ]
    ok(api.post("/v1/transactions", json=body), 201)
    box.advance(10)
    ok(api.post("/v1/transactions", json=transaction("FRESH", customerCode="C-1")), 201)
    with FeeddexSandbox() as other:
        other.clock = lambda: NOW + timedelta(days=10)
        for kind in ("units", "customers", "transactions"):
            other.seed(kind, box.dump(kind))
        for kind in ("units", "customers", "transactions"):
            assert other.dump(kind) == box.dump(kind), kind
        assert {t["status"] for t in other.dump("transactions")} >= {"entered", "completed"}


def test_seed_replaces_by_key(box: FeeddexSandbox) -> None:
    box.seed("customers", [{"customerCode": "C-1", "email": "a@example.com"}])
    box.seed("customers", [{"customerCode": "C-1", "email": "b@example.com"}])
    assert [(c["id"], c["email"]) for c in box.dump("customers")] == [(1, "b@example.com")]
    with pytest.raises(ValueError, match=r"customers\[0\]\.id: 1 is another customer's id"):
        box.seed("customers", [{"id": 1, "customerCode": "C-2", "email": "c@example.com"}])
    box.seed("transactions", [transaction("A")])
    box.seed("transactions", [transaction("A", date="2026-01-01")])
    assert [(t["id"], t["date"]) for t in box.dump("transactions")] == [(1, "2026-01-01")]
    with pytest.raises(ValueError, match=r"transactions\[0\]\.externalId: 'A' is transaction 1's"):
        box.seed("transactions", [transaction("A", id=2)])
    box.seed("products", [{"sku": "S", "price": 1}, {"sku": "S", "price": "2.00"}])
    assert box.dump("products") == [{"sku": "S", "price": "2.00"}]


def test_seed_and_advance_over_http(box: FeeddexSandbox, api: httpx.Client) -> None:
    yes = pick(box, "WEB", True)
    answer = httpx.post(f"{box.base_url}/_sandbox/seed/transactions", json=[transaction(yes)])
    assert answer.status_code == 200 and answer.json() == {"seeded": 1}
    bad = httpx.post(f"{box.base_url}/_sandbox/seed/transactions", json=[{"externalId": "X"}])
    assert bad.status_code == 400 and "transactions[0].date" in bad.json()["error"]
    unknown = httpx.post(f"{box.base_url}/_sandbox/seed/orders", json=[])
    assert unknown.status_code == 400 and "units, transactions" in unknown.json()["error"]
    moved = httpx.post(f"{box.base_url}/_sandbox/advance", params={"days": 3})
    assert moved.status_code == 200
    assert moved.json() == {"sent": 1, "reminded": 0, "started": 1, "completed": 1, "expired": 0}
    assert ok(api.get("/v1/transactions/1"))["status"] == "completed"
    for days in ("", "-1", "two"):
        refusal = httpx.post(f"{box.base_url}/_sandbox/advance", params={"days": days})
        assert refusal.status_code == 400 and "days" in refusal.json()["error"]
    assert httpx.post(f"{box.base_url}/_sandbox/advance").status_code == 400
    refused(httpx.get(f"{box.base_url}/_sandbox/advance?days=1"), 404, NOT_EMULATED)
    assert box.now() == NOW.replace(microsecond=123000) + timedelta(days=3)
