"""A hostile merchant's developer against the Asperion connector, through the CLI: bad
configuration, bad credentials, a remote that refuses or hangs, malformed data on either
side, secrets and personal data in logs, and runs that overlap or are killed."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import time
import urllib.parse
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flow_data import customer, order, product
from helpers import (
    IHOST,
    actions,
    authorize,
    dead_letters,
    one_line,
    run_flow,
    run_ihost,
    secret_forms,
    write_config,
)
from ihost_asperion.samples import SETTINGS, article
from ihost_asperion.sandbox import AsperionSandbox
from ihost_testconnectors.sandbox import RecordSandbox

pytestmark = pytest.mark.usefixtures("secret_key")


@pytest.fixture
def testshop() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


def orders_flow(order_type: str = "sales_order", more: str = "") -> str:
    return (
        '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"\n'
        f'[flows.orders.settings]\norder_type = "{order_type}"\n{more}'
    )


def reading_flows(*kinds: str) -> str:
    return "".join(
        f'[flows.{kind}]\nkind = "{kind}"\nsource = "erp"\ntarget = "shop"\n' for kind in kinds
    )


def setup(
    tmp_path: Path,
    shop: RecordSandbox,
    erp: AsperionSandbox,
    flows: str,
    *,
    authorized: bool = True,
    **settings: Any,
) -> Path:
    connections = {
        "shop": ("testshop", shop),
        "erp": ("asperion", erp, {**SETTINGS, **settings}),
    }
    path = write_config(tmp_path, connections, flows)
    if authorized:
        authorize(path, "erp")
    return path


# --- bad configuration: one line per problem, exit 2 -------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"business_booking_group": None}, "business_booking_group"),
        ({"administration_id": "my-shop"}, "administration_id"),
        ({"page_size": 500}, "page_size"),
        ({"timeout": "fast"}, "timeout"),
        ({"attribute_fields": {"freeField9": "Colour"}}, "attribute_fields"),
        (
            {
                "attribute_fields": {"freeField1": "Colour"},
                "characteristic_fields": {"freeField1": "X"},
            },
            "freeField1",
        ),
        ({"pagesize": 50}, "pagesize"),
        ({"vat_codes": ["21"]}, "vat_codes"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path,
    testshop: RecordSandbox,
    asperion: AsperionSandbox,
    settings: dict[str, Any],
    named: str,
) -> None:
    given = {k: v for k, v in {**SETTINGS, **settings}.items() if v is not None}  # None: left out
    connections = {"shop": ("testshop", testshop), "erp": ("asperion", asperion, given)}
    config = write_config(tmp_path, connections, orders_flow())
    for command in (("run", "orders"), ("check", "erp")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 2, result.output
        line = one_line(result)
        assert named in line and "erp" in line, line


# --- bad credentials: one line, exit 3 ----------------------------------------------------


class Child:
    """`ihost ARGS` in a subprocess, its output collected when it ends."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "IHOST_CONFIG"}
        self.proc = subprocess.Popen(
            [IHOST, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )

    def url(self) -> str:
        """The authorize URL `ihost auth` printed."""
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            if line.startswith("  http"):
                return line.strip()
        raise AssertionError(f"no URL: {self.proc.communicate()}")


def test_ihost_auth_with_a_wrong_client_secret(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    import httpx

    config = setup(
        tmp_path, testshop, asperion, orders_flow(), authorized=False, client_secret="wrong-one"
    )
    child = Child("-c", str(config), "auth", "erp", "--timeout", "30")
    answer = httpx.get(child.url())
    assert answer.status_code == 302
    code = urllib.parse.parse_qs(urllib.parse.urlsplit(answer.headers["location"]).query)["code"][0]
    httpx.get(answer.headers["location"])
    out, err = child.proc.communicate(timeout=60)
    assert child.proc.returncode == 3, out + err
    assert "Traceback" not in err and len(err.strip().splitlines()) == 1, err
    assert "erp" in err and "client" in err.lower(), err
    assert code not in out + err and "wrong-one" not in out + err


def test_a_wrong_client_secret_at_refresh(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "7001")])
    config = setup(tmp_path, testshop, asperion, orders_flow())
    config.write_text(config.read_text().replace('"sandbox-secret"', '"wrong-secret"'))
    asperion.oauth.expire_access_tokens()
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output
    line = one_line(result)
    assert "erp" in line and "wrong-secret" not in line, line
    assert asperion.dump("salesorders") == []


def test_a_revoked_refresh_token_says_to_authorize_again(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "7002")])
    config = setup(tmp_path, testshop, asperion, orders_flow())
    with asperion.oauth._lock:
        for token in list(asperion.oauth._refresh):
            asperion.oauth._revoke(token)
    for command in (("run", "orders"), ("check", "erp")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        assert "ihost auth erp" in one_line(result)
    assert asperion.dump("salesorders") == []


def test_an_administration_the_user_may_not_open_stops_the_run(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "7003")])
    config = setup(tmp_path, testshop, asperion, orders_flow(), administration_id=4242)
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output
    assert "4242" in one_line(result)


def test_a_business_booking_group_the_administration_lacks(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "7004")])
    config = setup(tmp_path, testshop, asperion, orders_flow(), business_booking_group="XX")
    result = run_ihost("-c", str(config), "check", "erp")
    assert result.code == 3, result.output
    assert "business_booking_group XX" in one_line(result)
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output
    assert "business_booking_group XX" in one_line(result)
    assert asperion.dump("salesorders") == []


# --- a remote that refuses or hangs: one line, exit 3 ------------------------------------


def test_a_remote_that_refuses_connections(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "7101")])
    config = setup(tmp_path, testshop, asperion, orders_flow(), timeout=2)
    asperion.stop()
    for command in (("run", "orders"), ("check", "erp")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        assert "asperion" in one_line(result).lower()


FAST = "retry_backoff = 0\nunavailable_after = 1\n"


@pytest.mark.parametrize("path", ["/v1/", "/connect/token"])
def test_a_remote_that_hangs(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox, path: str
) -> None:
    testshop.seed("orders", [order(f"o{n}", f"710{n}") for n in range(3)])
    config = setup(tmp_path, testshop, asperion, orders_flow(more=FAST), timeout=0.5)
    if path == "/connect/token":
        asperion.oauth.expire_access_tokens()
    method = "POST" if path == "/connect/token" else "GET"
    asperion.inject(method, path, "stall", times=1000, seconds=2)
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output
    assert "timed out" in one_line(result)
    assert asperion.dump("salesorders") == []


def test_a_remote_that_hangs_on_a_single_order_stops_the_run(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    testshop.seed("orders", [order("o1", "7110")])
    flows = orders_flow(more="retry_backoff = 0\n")
    config = setup(tmp_path, testshop, asperion, flows, timeout=0.5)
    asperion.inject("GET", "/v1/", "stall", times=1000, seconds=2)
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output


# --- malformed remote data: dead-lettered alone, named by record and field ---------------


def corrupt(sandbox: AsperionSandbox, kind: str, field: str, code: str, value: Any) -> None:
    """What a misbehaving Asperion would send: `field` of the record `code` (its article
    code or customer number) set to `value`, past the sandbox's own checks."""
    key = "articleCode" if kind == "articles" else "customerNumber"
    with sandbox.lock:
        table = sandbox.administrations[sandbox.administration_id].tables[kind]
        (row,) = [r for r in table.values() if r.get(key) == code]
        row[field] = value


@pytest.mark.parametrize(
    ("kind", "field", "value", "flow"),
    [
        ("articles", "salesPrice", "twelve", "products"),
        ("articles", "salesPrice", {"amount": 12}, "products"),
        ("articles", "currentStock", "lots", "stock"),
        ("articles", "reservedStock", [1], "stock"),
        ("articles", "dateLastChange", "31-31-2026 25:61", "stock"),
        ("articles", "dateLastChange", "0001-01-01T00:00:00", "products"),
        ("articles", "dateLastChange", "9999-12-31T23:59:59", "stock"),
        ("debtors", "emailAddress", "not an address", "customers"),
        ("debtors", "name", "N" * 10_000, "customers"),
        ("debtors", "dateLastChange", "0001-01-01T00:00:00", "customers"),
    ],
)
def test_a_malformed_remote_record_is_dead_lettered_alone(
    tmp_path: Path,
    testshop: RecordSandbox,
    asperion: AsperionSandbox,
    kind: str,
    field: str,
    value: Any,
    flow: str,
) -> None:
    asperion.seed("articles", [article("SKU-3")])
    asperion.seed(
        "debtors",
        [
            {
                "customerNumber": "10600",
                "name": "Piet Bakker",
                "emailAddress": "piet@example.com",
                "debtorKindId": "BI",
            }
        ],
    )
    testshop.seed("products", [product(f"SKU-{n}") for n in (1, 2, 3)])
    code = "SKU-2" if kind == "articles" else "10500"
    corrupt(asperion, "debtors", "emailAddress", "10000", "webshop@example.com")
    corrupt(asperion, kind, field, code, value)
    config = setup(tmp_path, testshop, asperion, reading_flows(flow))
    result, report = run_flow(config, flow)
    assert "Traceback" not in result.output
    assert result.code == 1, result.output
    done = actions(report)
    assert done.pop(code)[0] == "failed", report
    assert len(done) == 2 and all(a in ("created", "updated") for a, _ in done.values()), report
    (letter,) = dead_letters(config)
    assert letter["record_key"] == code, letter
    assert code in letter["error"] and field in letter["error"], letter


def test_an_article_stamped_far_in_the_future_does_not_carry_the_cursor_away(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    corrupt(asperion, "articles", "dateLastChange", "SKU-2", "9999-12-31T23:59:59")
    config = setup(tmp_path, testshop, asperion, reading_flows("products"))
    _, first = run_flow(config, "products")
    assert actions(first)["SKU-2"][0] == "failed"
    (row,) = [r for r in asperion.dump("articles") if r["articleCode"] == "SKU-1"]
    del row["dateLastChange"]  # changed in Asperion now
    asperion.seed("articles", [{**row, "salesPrice": 11.0}])
    _, second = run_flow(config, "products")
    assert actions(second)["SKU-1"][0] == "updated", second


# --- malformed and huge records from the shop ---------------------------------------------


def line(sku: str = "SKU-1", **changes: Any) -> dict[str, Any]:
    return {"sku": sku, "name": sku, "quantity": "1", "unit_price": "10.00", "tax_rate": "21"} | (
        changes
    )


def test_malformed_and_huge_shop_orders_fail_alone(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    long_name = customer("c-long", "long@example.com", first_name="A" * 5000)
    testshop.seed(
        "orders",
        [
            order("big", "8001", lines=[line() for _ in range(500)]),
            order("long-number", "8" * 300),
            order("long-name", "8003", customer_data=long_name),
            order(
                "long-last",
                "8009",
                customer_data=customer("c-l", "l@example.com", last_name="B" * 200),
            ),
            order("zero", "8004", lines=[line(quantity="0"), line("SKU-2")]),
            order("negative", "8005", lines=[line(unit_price="-10.00")]),
            order("unicode", "8006", customer_data=customer("c-u", "jürgen@exämple.de")),
            order("seven", "8007", lines=[line(tax_rate="7")]),
            order("fine", "8008"),
        ],
    )
    config = setup(tmp_path, testshop, asperion, orders_flow())
    result, report = run_flow(config, "orders")
    assert "Traceback" not in result.output
    done = {a["key"]: a for a in report["actions"]}
    assert done["fine"]["action"] == "created"
    assert done["big"]["action"] == "created"
    (big,) = [s for s in asperion.dump("salesorders") if s["orderNumber"] == "8001"]
    assert len(big["lines"]["_data"]) == 501
    for key, field in (
        ("long-number", "number"),
        ("long-name", "first_name"),
        ("long-last", "last_name"),
        ("negative", "unit_price"),
        ("zero", "quantity"),
        ("seven", "tax_rate"),
    ):
        assert done[key]["action"] == "failed" and field in done[key]["reason"], done[key]
    assert done["unicode"]["action"] in ("created", "failed"), done["unicode"]


# --- secrets and personal data --------------------------------------------------------------


def store_text(config: Path) -> str:
    """Everything the store holds but the sealed tokens, as text."""
    with sqlite3.connect(config.parent / "ihost.db") as db:
        tables = [r[0] for r in db.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return "\n".join(
            repr(row)
            for table in tables
            if "token" not in table
            for row in db.execute(f"SELECT * FROM {table}")
        )


def test_no_secret_or_personal_data_leaks_at_any_verbosity(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    private = customer(
        "c-p",
        "geheim.persoon@example.com",
        first_name="Gerrit",
        last_name="Geheimschrijver",
        billing_address={
            "name": "Gerrit Geheimschrijver",
            "street": "Verborgenlaan",
            "house_number": "7",
            "postcode": "9999 ZZ",
            "city": "Schuilplaats",
            "country": "NL",
        },
    )
    testshop.seed(
        "orders",
        [
            order("o1", "9001", customer_data=private),
            order("o2", "9002", customer_data=private, skus=("SKU-404",)),
            order("o3", "9003", customer_data=private, payment_method="bitcoin"),
        ],
    )
    config = setup(tmp_path, testshop, asperion, orders_flow())
    codes = list(asperion.oauth._codes)
    asperion.oauth.expire_access_tokens()  # a refresh in the run
    outputs = []
    for verbosity in ("-v", "-vv", "-vvv"):
        result = run_ihost("-c", str(config), verbosity, "run", "orders", process=True)
        assert result.code == 1, result.output
        outputs.append(result.output)
    outputs += [
        run_ihost("-c", str(config), "-vv", *command).output
        for command in (("logs",), ("logs", "--run", "1"), ("deadletters", "--json"))
    ]
    secrets = [asperion.client_secret, *codes]
    secrets += list(asperion.oauth._access) + list(asperion.oauth._refresh)
    assert len(secrets) >= 5
    seen = "\n".join(outputs) + store_text(config)
    for secret in secrets:
        for form in secret_forms(secret, "ihost-sandbox"):
            assert form not in seen, f"a secret leaked as {form!r}"
    logs = "\n".join(outputs[3:5]) + "\n".join(outputs[:3])
    for personal in ("geheim.persoon", "Gerrit", "Geheimschrijver", "Verborgenlaan", "9999 ZZ"):
        assert personal not in logs, personal


# --- runs that overlap, and a run killed mid-way ----------------------------------------------


def many_orders(testshop: RecordSandbox, count: int) -> None:
    testshop.seed(
        "orders",
        [
            order(f"o{n}", f"95{n:02d}", customer_data=customer(f"c{n}", f"buyer{n}@example.com"))
            for n in range(count)
        ],
    )


def booked(asperion: AsperionSandbox) -> list[str]:
    return sorted(s["orderNumber"] for s in asperion.dump("salesorders"))


def test_two_runs_at_once_write_each_order_once(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    many_orders(testshop, 12)
    config = setup(tmp_path, testshop, asperion, orders_flow(), requests_per_second=40)
    children = [Child("-c", str(config), "run", "orders") for _ in range(2)]
    ended = [child.proc.communicate(timeout=120) for child in children]
    codes = sorted(child.proc.returncode for child in children)
    assert codes in ([0, 0], [0, 2]), ended
    for out, err in ended:
        assert "Traceback" not in out + err
    assert booked(asperion) == [f"95{n:02d}" for n in range(12)]


def test_a_run_killed_mid_way_then_run_again_writes_each_order_once(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    many_orders(testshop, 20)
    config = setup(tmp_path, testshop, asperion, orders_flow(), requests_per_second=20)
    child = Child("-c", str(config), "run", "orders")
    deadline = time.monotonic() + 60
    while len(asperion.dump("salesorders")) < 3:
        assert child.proc.poll() is None and time.monotonic() < deadline, "ended too soon"
        time.sleep(0.01)
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait()
    assert len(booked(asperion)) < 20
    result, _ = run_flow(config, "orders", process=True)
    assert result.code == 0, result.output
    assert booked(asperion) == [f"95{n:02d}" for n in range(20)]
    debtors = [d["emailAddress"] for d in asperion.dump("debtors") if d.get("emailAddress")]
    assert len(debtors) == len(set(debtors))  # no debtor made twice either


def test_an_existing_debtor_keeps_its_own_business_booking_group(
    tmp_path: Path, testshop: RecordSandbox, asperion: AsperionSandbox
) -> None:
    corrupt(asperion, "debtors", "debtorKindId", "10500", "EU")  # set in Asperion by hand
    testshop.seed(
        "orders", [order("o1", "9101", customer_data=customer("c-a", "anna@example.com"))]
    )
    config = setup(tmp_path, testshop, asperion, orders_flow())
    result, _ = run_flow(config, "orders")
    assert result.code == 0, result.output
    (anna,) = [d for d in asperion.dump("debtors") if d["customerNumber"] == "10500"]
    assert anna["debtorKindId"] == "EU"
