"""A hostile merchant's developer against the Feeddex connector, through the CLI: refused
credentials, a token that expires mid-run, a remote that refuses connections, hangs,
throttles or loses an answer, a run killed mid-way, malformed feedback, a huge order,
a bad setting, a transaction Feeddex refuses, and secrets and personal data in logs."""

from __future__ import annotations

import asyncio
import copy
import os
import signal
import sqlite3
import subprocess
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from flow_data import customer, order, product
from helpers import (
    IHOST,
    actions,
    dead_letters,
    one_line,
    run_flow,
    run_ihost,
    secret_forms,
    write_config,
)
from ihost_feeddex.sandbox import FeeddexSandbox
from ihost_testconnectors.sandbox import RecordSandbox
from starlette.requests import Request
from starlette.responses import Response

ORDERS = '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "fx"\n'
FEEDBACK = '[flows.feedback]\nkind = "feedback"\nsource = "fx"\ntarget = "erp"\n'
#: retries without waiting, and a remote given up on at once: a hanging one fails fast
FAST = "[flows.orders.settings]\nretry_backoff = 0\nunavailable_after = 1\n"


def setup(
    tmp_path: Path,
    shop: RecordSandbox,
    feeddex: FeeddexSandbox,
    flows: str = ORDERS,
    **settings: Any,
) -> Path:
    connections = {"shop": ("testshop", shop), "fx": ("feeddex", feeddex, settings)}
    return write_config(tmp_path, connections, flows)


def numbered(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [
        order(f"o{n}", f"{5000 + n}", customer_data=customer(f"c{n}", f"buyer{n}@example.com"))
        for n in range(start, start + count)
    ]


def external_ids(feeddex: FeeddexSandbox) -> list[str]:
    return sorted(t["externalId"] for t in feeddex.dump("transactions"))


def store_text(config: Path) -> str:
    """Everything the activity log keeps: events, runs' errors (not dead letters, which
    keep the record to retry it)."""
    with sqlite3.connect(config.parent / "ihost.db") as db:
        tables = {name for (name,) in db.execute("SELECT name FROM sqlite_master")}
        if "events" not in tables:  # nothing run yet
            return ""
        rows = db.execute("SELECT record_key, action, message FROM events").fetchall()
        rows += db.execute("SELECT flow, status, error FROM runs").fetchall()
    return "\n".join(" ".join(str(v) for v in row) for row in rows)


# --- refused credentials: one line, exit 3 ----------------------------------------------------


@pytest.mark.parametrize("field", ["password", "auth_code", "organization"])
def test_refused_credentials_stop_check_and_run_in_one_line(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox, field: str
) -> None:
    testshop.seed("orders", numbered(1))
    wrong = "Wr0ng-P@ss/w+rd=="
    config = setup(tmp_path, testshop, feeddex, **{field: wrong})
    for command in (("check", "fx"), ("run", "orders")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        line = one_line(result)
        assert "feeddex refused the credentials" in line, line
        seen = result.output + store_text(config)
        for form in secret_forms(wrong, "ihost-demo"):
            assert form not in seen, f"the wrong {field} leaked as {form!r}"
    assert feeddex.dump("transactions") == [] and feeddex.logins == 0


# --- a token that expires mid-run ----------------------------------------------------------------


class Expiring(FeeddexSandbox):
    """A Feeddex that logs everyone out after the `after`-th transaction entered."""

    after = 2

    def _create_transactions(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        answer = super()._create_transactions(query, body)
        if len(self._transactions) == self.after:
            self.expire_tokens()
        return answer


def test_a_token_expired_mid_run_logs_in_again_once_and_goes_on(
    tmp_path: Path, testshop: RecordSandbox
) -> None:
    testshop.seed("orders", numbered(5))
    with Expiring() as feeddex:
        config = setup(tmp_path, testshop, feeddex)
        result, report = run_flow(config, "orders")
        logins, refused = feeddex.logins, [c for c in feeddex.calls if c.status == 401]
        ids = external_ids(feeddex)
        # between runs too: a run logs in afresh whatever the tokens before
        feeddex.expire_tokens()
        testshop.seed("orders", numbered(1, start=5))
        again, _ = run_flow(config, "orders")
        ids_after, logins_after = external_ids(feeddex), feeddex.logins
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 5
    assert ids == [f"{5000 + n}" for n in range(5)]
    assert logins == 2 and len(refused) == 1, (logins, refused)
    assert again.code == 0 and ids_after == [f"{5000 + n}" for n in range(6)]
    assert logins_after == 3


# --- a remote that refuses connections or hangs: one line, exit 3 ------------------------------


def test_a_remote_that_refuses_connections(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    testshop.seed("orders", numbered(1))
    config = setup(tmp_path, testshop, feeddex, ORDERS + FAST, timeout=2)
    feeddex.stop()
    for command in (("check", "fx"), ("run", "orders")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        assert "feeddex" in one_line(result).lower()


@pytest.mark.parametrize(
    ("method", "path"), [("POST", "/authenticate"), ("GET", "/v1/"), ("POST", "/v1/transactions")]
)
def test_a_remote_that_hangs_stops_the_run_in_one_line(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox, method: str, path: str
) -> None:
    testshop.seed("orders", numbered(3))
    config = setup(tmp_path, testshop, feeddex, ORDERS + FAST, timeout=0.5)
    feeddex.inject(method, path, "stall", times=1000, seconds=2)
    started = time.monotonic()
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output
    assert "Traceback" not in result.output
    assert "timed out" in result.err.strip().splitlines()[-1], result.output
    assert time.monotonic() - started < 60
    if path != "/v1/transactions":
        result = run_ihost("-c", str(config), "check", "fx")
        assert result.code == 3, result.output
        assert "timed out" in one_line(result)
    assert feeddex.dump("transactions") == []


# --- the rate limit: waited out, never shown ---------------------------------------------------


def test_past_the_rate_limit_429_is_waited_out(tmp_path: Path, testshop: RecordSandbox) -> None:
    testshop.seed("orders", numbered(12))
    with FeeddexSandbox(rate_limit=True) as feeddex:
        config = setup(tmp_path, testshop, feeddex)  # no requests_per_second: it bursts
        result, report = run_flow(config, "orders")
        throttled, ids = feeddex.throttled, external_ids(feeddex)
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 12
    assert ids == [f"{5000 + n}" for n in range(12)]
    assert throttled >= 1 and report["rate_limit_wait"] > 0
    assert "429" not in result.output and "Too many" not in result.output


def test_kept_to_requests_per_second_feeddex_refuses_nothing(
    tmp_path: Path, testshop: RecordSandbox
) -> None:
    """requests_per_second set to the limit: the connector keeps to it, no 429 at all (a
    429 costs a second of Retry-After)."""
    testshop.seed("orders", numbered(30))
    limit = {"rate_limit_per_second": 20, "rate_limit_burst": 20}
    with FeeddexSandbox(rate_limit=True, **limit) as feeddex:
        config = setup(tmp_path, testshop, feeddex, requests_per_second=20)
        result, report = run_flow(config, "orders")
        throttled = feeddex.throttled
        calls = len([c for c in feeddex.calls_to("/v1/") if c.status != 429])
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 30
    assert calls == 4 * 30 + 1  # look-up, customer look-up, customer, transaction; units
    assert throttled == 0


# --- a lost answer and a killed run: nothing twice --------------------------------------------


def test_a_transaction_whose_answer_was_lost_is_found_not_entered_twice(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    testshop.seed("orders", numbered(3))
    config = setup(tmp_path, testshop, feeddex)
    lost = feeddex.inject("POST", "/v1/transactions", "lost", body_contains="5001")
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert lost.hits == 1
    done = {a["key"]: a for a in report["actions"]}
    assert done["o1"]["action"] == "created"
    assert done["o1"]["reason"] == "found in the target after a lost answer"
    assert external_ids(feeddex) == ["5000", "5001", "5002"]
    held = {t["externalId"]: str(t["id"]) for t in feeddex.dump("transactions")}
    assert done["o1"]["target_id"] == held["5001"]
    _, again = run_flow(config, "orders", "--full")
    assert again["counts"]["created"] == 0 and len(feeddex.dump("transactions")) == 3


class GoneAfterEntering(FeeddexSandbox):
    """A Feeddex that, once it has entered a transaction (whose answer a fault loses),
    hangs on every transaction look-up: the run that lost the answer cannot find it."""

    def _create_transactions(self, query: dict[str, str], body: Any) -> tuple[int, Any]:
        answer = super()._create_transactions(query, body)
        self.inject("GET", "/v1/transactions", "stall", times=1000, seconds=2)
        return answer


def test_a_lost_answer_in_a_run_that_stops_is_found_by_the_next(
    tmp_path: Path, testshop: RecordSandbox
) -> None:
    testshop.seed("orders", numbered(1))
    with GoneAfterEntering() as feeddex:
        config = setup(tmp_path, testshop, feeddex, ORDERS + FAST, timeout=0.5)
        lost = feeddex.inject("POST", "/v1/transactions", "lost")
        stopped = run_ihost("-c", str(config), "run", "orders")
        assert lost.hits == 1 and len(feeddex.faults) == 2
        feeddex.faults[1].times = 0  # Feeddex answers again
        result, report = run_flow(config, "orders")
        entered = external_ids(feeddex)
        posts = len(feeddex.calls_to("/v1/transactions", "POST"))
    assert stopped.code == 3, stopped.output
    assert "timed out" in one_line(stopped)
    assert result.code == 0, result.output
    (done,) = report["actions"]
    assert (done["action"], done["reason"]) == ("skipped", "already in the target")
    assert entered == ["5000"] and posts == 1  # one POST: the lost one (recorded as its 502)


class SlowAnswer(FeeddexSandbox):
    """A Feeddex that takes its time to answer a transaction it has entered: a run killed
    then leaves the transaction made in Feeddex and not recorded by ihost."""

    slow = True

    async def _handle(self, request: Request) -> Response:
        response = await super()._handle(request)
        if self.slow and request.method == "POST" and request.url.path == "/v1/transactions":
            await asyncio.sleep(0.3)
        return response


def test_a_run_killed_mid_way_then_run_again_enters_each_order_once(
    tmp_path: Path, testshop: RecordSandbox
) -> None:
    testshop.seed("orders", numbered(20))
    with SlowAnswer() as feeddex:
        config = setup(tmp_path, testshop, feeddex)
        env = {k: v for k, v in os.environ.items() if k != "IHOST_CONFIG"}
        child = subprocess.Popen(
            [IHOST, "-c", str(config), "run", "orders"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )
        deadline = time.monotonic() + 60
        while len(feeddex.dump("transactions")) < 4:  # the 4th made, its answer on the way
            assert child.poll() is None and time.monotonic() < deadline, "ended too soon"
            time.sleep(0.005)
        os.kill(child.pid, signal.SIGKILL)
        child.communicate()
        made = feeddex.dump("transactions")
        killed_at, unanswered = len(made), made[-1]["externalId"]
        feeddex.slow = False
        result, report = run_flow(config, "orders", process=True)
        ids = external_ids(feeddex)
        customers = [c["email"] for c in feeddex.dump("customers")]
    assert killed_at == 4
    assert result.code == 0, result.output
    assert ids == [f"{5000 + n}" for n in range(20)]  # each once
    assert sorted(customers) == sorted(set(customers)) and len(customers) == 20
    counts = report["counts"]
    assert counts["created"] == 16 and counts["unchanged"] == 3, counts
    found = [a for a in report["actions"] if a["action"] == "skipped"]
    unanswered_key = f"o{int(unanswered) - 5000}"  # made as the run was killed: found
    assert [(a["key"], a["reason"]) for a in found] == [(unanswered_key, "already in the target")]


# --- malformed feedback: each fails alone, naming the field -------------------------------------


class Garbled(FeeddexSandbox):
    """A Feeddex whose feedbackData answers, for some transactions (by externalId), what
    its own checks would never let through: `garble[externalId]` changes the item."""

    garble: dict[str, Any] = {}

    def _feedback_data(self, query: dict[str, str]) -> tuple[int, Any]:
        status, answer = super()._feedback_data(query)
        answer = copy.deepcopy(answer)
        external = {t.id: t.external_id for t in self._transactions.values()}
        for item in answer["feedbackData"]:
            change = self.garble.get(external[item["transaction"]["id"]])
            if change is not None:
                change(item)
        return status, answer


def _bad_stamp(item: dict[str, Any]) -> None:
    item["transaction"]["sentOn"] = "gisteren om drie uur"


def _no_id(item: dict[str, Any]) -> None:
    del item["transaction"]["id"]


def _score_150(item: dict[str, Any]) -> None:
    item["f100Scores"] = {"overallScore": {"value": 150, "valueAsGrade": 15.0}}


def test_malformed_feedback_fails_alone_naming_the_field(
    tmp_path: Path, testerp: RecordSandbox
) -> None:
    now = datetime.now(timezone.utc) - timedelta(days=3)
    sent = f"{now:%Y-%m-%dT%H:%M:%S}.000Z"
    completed = f"{now + timedelta(days=2):%Y-%m-%dT%H:%M:%S}.000Z"
    numbers = ["F-1", "F-2", "F-3", "F-4", "F-5"]
    with Garbled() as feeddex:
        feeddex.garble = {"F-2": _bad_stamp, "F-3": _no_id, "F-4": _score_150}
        feeddex.seed(
            "transactions",
            [
                {
                    "externalId": number,
                    "date": now.date().isoformat(),
                    "unitId": 1,
                    "customer": {"email": "anna@example.com"},
                    "sentOn": sent,
                    "feedbackCompleted": completed,
                }
                for number in numbers
            ],
        )
        ids = {t["externalId"]: str(t["id"]) for t in feeddex.dump("transactions")}
        testerp.seed("orders", [order(f"k{n}", number) for n, number in enumerate(numbers)])
        connections = {"fx": ("feeddex", feeddex), "erp": ("testerp", testerp)}
        config = write_config(tmp_path, connections, FEEDBACK)
        result, report = run_flow(config, "feedback")
    assert "Traceback" not in result.output
    assert result.code == 1, result.output
    done = actions(report)
    assert done[ids["F-1"]][0] == "created" and done[ids["F-5"]][0] == "created", report
    letters = {d["record_key"]: d["error"] for d in dead_letters(config)}
    assert len(letters) == 3, letters
    assert "transaction.sentOn" in letters[ids["F-2"]]
    assert "transaction.id" in letters["?"]
    assert "score" in letters[ids["F-4"]] and "100" in letters[ids["F-4"]]
    assert sorted(f["order_number"] for f in testerp.dump("feedback")) == ["F-1", "F-5"]


# --- a huge order, a bad setting, a transaction Feeddex refuses ----------------------------------


def _line(n: int) -> dict[str, Any]:
    return {"sku": f"SKU-{n}", "name": f"Artikel {n}", "quantity": "2", "unit_price": "1.00"}


def test_a_huge_order_goes_through(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    testshop.seed("orders", [order("big", "7001", lines=[_line(n) for n in range(500)])])
    config = setup(tmp_path, testshop, feeddex)
    result, report = run_flow(config, "orders")
    assert result.code == 0, result.output
    assert actions(report)["big"][0] == "created"
    (entered,) = feeddex.dump("transactions")
    assert len(entered["orderLines"]) == 500
    assert entered["orderLines"][499] == {"sku": "SKU-499", "name": "Artikel 499", "quantity": 2}


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"field_names": {"orderNumber": "externalId"}}, "orderNumber"),
        ({"timezone": "Europe/Haarlem"}, "timezone"),
        ({"invite_after_days": 90}, "invite_after_days"),
        ({"feedback_months_back": -1}, "feedback_months_back"),
        ({"wachtwoord": "x"}, "wachtwoord"),
    ],
)
def test_a_bad_setting_is_one_line_and_exit_2(
    tmp_path: Path,
    testshop: RecordSandbox,
    feeddex: FeeddexSandbox,
    settings: dict[str, Any],
    named: str,
) -> None:
    testshop.seed("orders", numbered(1))
    config = setup(tmp_path, testshop, feeddex, **settings)
    for command in (("config", "validate"), ("check", "fx"), ("run", "orders")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 2, result.output
        line = one_line(result)
        assert named in line and "fx" in line, line
    assert feeddex.dump("transactions") == [] and feeddex.logins == 0


def test_two_units_and_no_unit_id_stop_the_run_naming_the_setting(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    feeddex.seed("units", [{"id": 2, "name": "Winkel Haarlem"}])
    testshop.seed("orders", numbered(2))
    config = setup(tmp_path, testshop, feeddex)
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output
    line = one_line(result)
    assert "set unit_id" in line and "1 (Webshop), 2 (Winkel Haarlem)" in line, line
    assert feeddex.dump("transactions") == []


@pytest.mark.parametrize(
    ("debtor", "words"),
    [
        # the transaction itself refused: its customer goes with it (default debtor)
        ('default_debtor = "WEBSHOP"\n', "customer.email: must be an e-mail address"),
        # the customer refused before the transaction is posted
        ("", "email: must be an e-mail address"),
    ],
)
def test_a_transaction_feeddex_refuses_fails_alone_in_its_own_words(
    tmp_path: Path, testshop: RecordSandbox, feeddex: FeeddexSandbox, debtor: str, words: str
) -> None:
    testshop.seed(
        "orders",
        [
            order("o1", "8001"),
            # an address ihost takes (a name, an @, a host) and Feeddex does not
            order("o2", "8002", customer_data=customer("c-o2", "anna@intranet")),
            order("o3", "8003"),
        ],
    )
    flows = ORDERS + ("[flows.orders.settings]\n" + debtor if debtor else "")
    config = setup(tmp_path, testshop, feeddex, flows)
    result, report = run_flow(config, "orders")
    assert "Traceback" not in result.output
    assert result.code == 1, result.output
    done = actions(report)
    assert done["o1"][0] == "created" and done["o3"][0] == "created"
    assert done["o2"][0] == "failed"
    (letter,) = dead_letters(config)
    assert letter["record_key"] == "o2"
    assert "8002" in letter["error"] or "o2" in letter["error"], letter
    assert words in letter["error"], letter
    assert external_ids(feeddex) == ["8001", "8003"]


def test_skus_and_customer_keys_with_url_characters_reach_their_own_records(
    tmp_path: Path, testshop: RecordSandbox, testerp: RecordSandbox, feeddex: FeeddexSandbox
) -> None:
    """A SKU or a customer key is one path segment: "#", "?" and spaces in it are sent
    encoded, not read as a fragment, a query or the end of the path."""
    skus = ["TEE #3", "MUG?SIZE=XL", "CAP 2%"]
    testshop.seed("products", [product(sku) for sku in skus])
    testshop.seed("customers", [customer("k#2", "hash@example.com")])
    testerp.seed("stock", [{"sku": sku, "on_hand": "4"} for sku in skus])
    flows = (
        '[flows.products]\nkind = "products"\nsource = "shop"\ntarget = "fx"\n'
        '[flows.stock]\nkind = "stock"\nsource = "erp"\ntarget = "fx"\n'
        '[flows.customers]\nkind = "customers"\nsource = "shop"\ntarget = "fx"\n'
    )
    paths = {"products_path": "/v1/products", "stock_path": "/v1/stock"}
    connections = {
        "shop": ("testshop", testshop),
        "erp": ("testerp", testerp),
        "fx": ("feeddex", feeddex, paths),
    }
    config = write_config(tmp_path, connections, flows)
    for name in ("products", "stock", "customers"):
        result, _ = run_flow(config, name)
        assert result.code == 0, result.output
    assert sorted(p["sku"] for p in feeddex.dump("products")) == sorted(skus)
    assert feeddex.dump("stock") == [{"sku": sku, "quantity": 4} for sku in sorted(skus)]
    # the customer changed: updated where it is, not somewhere the key's "#" cuts it off
    (row,) = testshop.dump("customers")
    testshop.seed("customers", [{**row, "last_name": "Hekje", "updated_at": _later()}])
    result, report = run_flow(config, "customers")
    assert result.code == 0, result.output
    assert actions(report)["k#2"] == ("updated", "k#2")
    (held,) = feeddex.dump("customers")
    assert (held["customerCode"], held["lastName"]) == ("k#2", "Hekje")


def _later() -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=1)).isoformat()


# --- secrets and personal data -------------------------------------------------------------------


def test_no_secret_or_personal_data_in_the_logs(tmp_path: Path, testshop: RecordSandbox) -> None:
    password = "Gehe1m/Feeddex+Pass="
    private = customer(
        "c-p",
        "geheim.persoon@example.com",
        first_name="Gertrude",
        last_name="Verborgenhuis",
        phone="+31699887766",
    )
    testshop.seed(
        "orders",
        [
            order("o1", "9001", customer_data=private),
            order("o2", "9002", customer_data={**private, "email": "geheim.persoon@intranet"}),
        ],
    )
    with FeeddexSandbox(password=password) as feeddex:
        config = setup(tmp_path, testshop, feeddex)
        feeddex.inject("POST", "/v1/transactions", "lost")
        outputs = []
        for verbosity in ("-v", "-vv", "-vvv"):
            result = run_ihost("-c", str(config), verbosity, "run", "orders", process=True)
            assert result.code in (0, 1), result.output
            outputs.append(result.output)
        outputs += [
            run_ihost("-c", str(config), "-vv", *command).output
            for command in (("logs",), ("logs", "--run", "1"), ("deadletters", "--json"))
        ]
        entered = external_ids(feeddex)
    assert entered == ["9001"]
    seen = "\n".join(outputs) + store_text(config)
    for form in secret_forms(password, "ihost-demo"):
        assert form not in seen, f"the password leaked as {form!r}"
    logs = "\n".join(outputs[:5]) + store_text(config)
    for personal in ("geheim.persoon", "Gertrude", "Verborgenhuis", "699887766"):
        assert personal not in logs, personal
