"""A hostile merchant's developer against the BuchhaltungsButler connector, through the CLI:
bad configuration, bad credentials, a remote that refuses or hangs, malformed data on either
side, the debtor index under duplicates, changes and failed batches, the rate limit,
secrets and personal data in logs, and runs that overlap or are killed."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from flow_data import customer, order
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
from ihost_buchhaltungsbutler.demo import outbound_receipt
from ihost_buchhaltungsbutler.sandbox import BuchhaltungsButlerSandbox
from ihost_testconnectors.sandbox import RecordSandbox


@pytest.fixture
def books() -> Iterator[BuchhaltungsButlerSandbox]:
    with BuchhaltungsButlerSandbox() as running:
        yield running


@pytest.fixture
def testshop() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


@pytest.fixture
def testerp() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


def orders_flow(order_type: str = "invoice", more: str = "") -> str:
    return (
        '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "books"\n'
        f'[flows.orders.settings]\norder_type = "{order_type}"\n{more}'
    )


CUSTOMERS_FLOW = '[flows.customers]\nkind = "customers"\nsource = "shop"\ntarget = "books"\n'


def setup(
    tmp_path: Path,
    shop: RecordSandbox,
    books: BuchhaltungsButlerSandbox,
    flows: str,
    **settings: Any,
) -> Path:
    given = {**books.connection_settings(), **settings}
    given = {k: v for k, v in given.items() if v is not None}  # None: left out
    connections = {"shop": ("testshop", shop), "books": ("buchhaltungsbutler", _Fixed(given))}
    return write_config(tmp_path, connections, flows)


class _Fixed:
    """Connection settings as given (write_config asks a sandbox for them)."""

    def __init__(self, settings: dict[str, Any]) -> None:
        self.settings = settings

    def connection_settings(self) -> dict[str, Any]:
        return self.settings


def invoice_numbers(books: BuchhaltungsButlerSandbox) -> list[str]:
    return sorted(i["invoicenumber"] for i in books.dump("invoices"))


# --- bad configuration: one line per problem, exit 2 -------------------------------------


@pytest.mark.parametrize(
    ("settings", "named"),
    [
        ({"api_key": None}, "api_key"),
        ({"requests_per_minute": 500}, "requests_per_minute"),
        ({"vat_rate": 150}, "vat_rate"),
        ({"apikey": "sandbox-key"}, "apikey"),
        ({"timeout": "fast"}, "timeout"),
        ({"language": "fr_FR"}, "language"),
    ],
)
def test_bad_settings_are_one_line_and_exit_2(
    tmp_path: Path,
    testshop: RecordSandbox,
    books: BuchhaltungsButlerSandbox,
    settings: dict[str, Any],
    named: str,
) -> None:
    config = setup(tmp_path, testshop, books, orders_flow(), **settings)
    for command in (("run", "orders"), ("check", "books")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 2, result.output
        line = one_line(result)
        assert named in line and "books" in line, line
    assert books.dump("invoices") == []


# --- bad credentials: one line, exit 3 ----------------------------------------------------


@pytest.mark.parametrize("field", ["api_client", "api_secret", "api_key", "inactive"])
def test_refused_credentials_stop_the_run_in_one_line(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox, field: str
) -> None:
    testshop.seed("orders", [order("o1", "5001")])
    wrong = "Wr0ng-Cr3d3ntial/+="
    if field == "inactive":
        books.inactive = True
        config = setup(tmp_path, testshop, books, orders_flow())
    else:
        config = setup(tmp_path, testshop, books, orders_flow(), **{field: wrong})
    for command in (("run", "orders"), ("check", "books")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        line = one_line(result)
        assert "buchhaltungsbutler" in line, line
        for form in secret_forms(wrong, "ihost-client"):
            assert form not in result.output
    assert books.dump("invoices") == []


# --- a remote that refuses or hangs: one line, exit 3 ------------------------------------


def test_a_remote_that_refuses_connections(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    testshop.seed("orders", [order("o1", "5101")])
    config = setup(tmp_path, testshop, books, orders_flow(), timeout=2)
    books.stop()
    for command in (("run", "orders"), ("check", "books")):
        result = run_ihost("-c", str(config), *command)
        assert result.code == 3, result.output
        assert "buchhaltungsbutler" in one_line(result).lower()


FAST = "retry_backoff = 0\nunavailable_after = 1\n"


@pytest.mark.parametrize("path", ["/api/v1/", "/api/v1/invoices/create"])
def test_a_remote_that_hangs(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox, path: str
) -> None:
    testshop.seed("orders", [order(f"o{n}", f"510{n}") for n in range(6)])
    config = setup(tmp_path, testshop, books, orders_flow(more=FAST), timeout=0.5)
    books.inject("POST", path, "stall", times=1000, seconds=2)
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output
    assert "Traceback" not in result.output
    assert "timed out" in result.err.strip().splitlines()[-1], result.output
    assert books.dump("invoices") == []
    if path == "/api/v1/":
        result = run_ihost("-c", str(config), "check", "books")
        assert result.code == 3, result.output


def test_a_remote_that_hangs_on_a_single_order_stops_the_run(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    testshop.seed("orders", [order("o1", "5110")])
    config = setup(tmp_path, testshop, books, orders_flow(more="retry_backoff = 0\n"), timeout=0.5)
    books.inject("POST", "/api/v1/invoices/create", "stall", times=1000, seconds=2)
    result = run_ihost("-c", str(config), "run", "orders")
    assert result.code == 3, result.output


# --- secrets and personal data --------------------------------------------------------------


def test_no_secret_or_personal_data_leaks_at_any_verbosity(
    tmp_path: Path, testshop: RecordSandbox
) -> None:
    secret, key = "S3cr3t/Butler+Pass=", "K3y/Of+The=Mandant"
    private = customer(
        "c-p",
        "geheim.person@example.com",
        first_name="Gertrud",
        last_name="Geheimschreiber",
        billing_address={
            "name": "Gertrud Geheimschreiber",
            "street": "Verborgenweg",
            "house_number": "7",
            "postcode": "99999",
            "city": "Versteckhausen",
            "country": "DE",
        },
    )
    testshop.seed(
        "orders",
        [
            order("o1", "9001", customer_data=private),
            order("o2", "9" * 70, customer_data=private),  # refused: too long a number
            order("o3", "9003", customer_data=private, lines=[_line(quantity="0")]),
        ],
    )
    with BuchhaltungsButlerSandbox(api_secret=secret, api_key=key) as books:
        config = setup(tmp_path, testshop, books, orders_flow())
        books.inject("POST", "/api/v1/invoices/create", "lost")
        outputs = []
        for verbosity in ("-v", "-vv", "-vvv"):
            result = run_ihost("-c", str(config), verbosity, "run", "orders", process=True)
            assert result.code in (0, 1), result.output
            outputs.append(result.output)
        outputs += [
            run_ihost("-c", str(config), "-vv", *command).output
            for command in (("logs",), ("logs", "--run", "1"), ("deadletters", "--json"))
        ]
    seen = "\n".join(outputs)
    for value in (secret, key):
        for form in secret_forms(value, "ihost-client"):
            assert form not in seen, f"a secret leaked as {form!r}"
    logs = "\n".join(outputs[:5])
    for personal in ("geheim.person", "Gertrud", "Geheimschreiber", "Verborgenweg", "Versteck"):
        assert personal not in logs, personal


# --- malformed and huge records from the shop ---------------------------------------------


def _line(sku: str = "SKU-1", **changes: Any) -> dict[str, Any]:
    return {"sku": sku, "name": sku, "quantity": "1", "unit_price": "10.00", "tax_rate": "19"} | (
        changes
    )


def test_malformed_and_huge_shop_orders_fail_alone(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    unicode_customer = customer(
        "c-u", "jürgen@exämple.de", first_name="Jürgen", last_name="Öztürk-Łukasiewicz 山田"
    )
    testshop.seed(
        "orders",
        [
            order("big", "6001", lines=[_line(f"SKU-{n}") for n in range(300)]),
            order("long-number", "6" * 61),
            order("unicode", "6003", customer_data=unicode_customer),
            order("decimals", "6004", lines=[_line(quantity="1.5"), _line(quantity="0.333")]),
            order("zero-vat", "6005", lines=[_line(tax_rate="0"), _line("SKU-2")]),
            order("discount", "6006", lines=[_line(discount="25.00"), _line("SKU-2")]),
            order("zero", "6007", lines=[_line(quantity="0")]),
            order("fine", "6008"),
        ],
    )
    config = setup(tmp_path, testshop, books, orders_flow())
    result, report = run_flow(config, "orders")
    assert "Traceback" not in result.output
    done = {a["key"]: a for a in report["actions"]}
    for key in ("big", "unicode", "decimals", "zero-vat", "fine"):
        assert done[key]["action"] == "created", done[key]
    for key, field in (("long-number", "number"), ("discount", "discount"), ("zero", "quantity")):
        assert done[key]["action"] == "failed" and field in done[key]["reason"], done[key]
    invoices = {i["invoicenumber"]: i for i in books.dump("invoices")}
    assert sorted(invoices) == ["6001", "6003", "6004", "6005", "6008"]
    assert len(invoices["6001"]["item_name"]) == 301  # 300 lines and shipping
    assert invoices["6004"]["item_amount"][:2] == [1.5, 0.333]
    assert invoices["6005"]["item_vat"][:2] == [0.0, 19.0]
    assert invoices["6003"]["company_name"] == "Jürgen Öztürk-Łukasiewicz 山田"
    _, again = run_flow(config, "orders", "--full")
    assert again["counts"].get("created", 0) == 0
    assert len(books.dump("invoices")) == 5


# --- malformed remote data: dead-lettered alone, named by record and field ---------------


class Garbled(BuchhaltungsButlerSandbox):
    """A BuchhaltungsButler that sends, for some receipts, what its own checks would never
    let in: `garble[id]` replaces fields of the list item and of the detail."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.garble: dict[str, dict[str, Any]] = {}

    def _receipt_list(self, r: dict[str, Any]) -> dict[str, Any]:
        row = super()._receipt_list(r)
        return {**row, **{k: v for k, v in self.garble.get(row["id_by_customer"], {}).items()}}

    def _receipt_detail(self, r: dict[str, Any]) -> dict[str, Any]:
        row = super()._receipt_detail(r)
        return {**row, **self.garble.get(row["id_by_customer"], {})}


def receipt(number: int, counterparty: str = "Kaffeehaus Schmidt") -> dict[str, Any]:
    found = outbound_receipt(f"RE-{number}", counterparty, "100.00", "19", True, "2026-05-01")
    return {"id_by_customer": number, **found}


SCHMIDT = {
    "name": "Kaffeehaus Schmidt",
    "contact_person_name": "Lena Schmidt",
    "street": "Marktplatz 1",
    "zip": "10115",
    "city": "Berlin",
    "country": "DE",
    "email": "lena@kaffeehaus-schmidt.de",
    "customer_number": "K-2001",
}


def reading_setup(tmp_path: Path, books: BuchhaltungsButlerSandbox, erp: RecordSandbox) -> Path:
    connections = {"books": ("buchhaltungsbutler", books), "erp": ("testerp", erp)}
    flows = (
        '[flows.orders]\nkind = "orders"\nsource = "books"\ntarget = "erp"\n'
        '[flows.orders.settings]\norder_type = "invoice"\n'
    )
    return write_config(tmp_path, connections, flows)


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("amount", "zwölf"),
        ("amount", "NaN"),
        ("amount_paid", [1]),
        ("date", "2026-13-45"),
        ("date", 20260501),
        ("date_uploaded", "gestern"),
        ("vat", ["garbage"]),
        ("vat", [{"rate": "neunzehn", "net": "100.00", "vat": "19.00"}]),
        ("vat", [{"rate": "19", "net": {"a": 1}, "vat": "19.00"}]),
        ("vat", "19%"),
        ("currency", "Euro"),
    ],
)
def test_a_malformed_receipt_is_dead_lettered_alone(
    tmp_path: Path, testerp: RecordSandbox, field: str, value: Any
) -> None:
    with Garbled() as books:
        books.seed("debtors", [SCHMIDT])
        books.seed("receipts", [receipt(n) for n in (1, 2, 3)])
        books.garble["2"] = {field: value}
        config = reading_setup(tmp_path, books, testerp)
        result, report = run_flow(config, "orders")
    assert "Traceback" not in result.output
    assert result.code == 1, result.output
    done = actions(report)
    assert done.pop("2")[0] == "failed", report
    assert sorted(a for a, _ in done.values()) == ["created", "created"], report
    (letter,) = dead_letters(config)
    assert letter["record_key"] == "2", letter
    assert " 2: " in letter["error"] and field in letter["error"], letter


@pytest.mark.parametrize(
    ("field", "value"),
    [
        ("email", "not an address"),
        ("country", "Germany"),
        ("name", "N" * 10_000),
        ("customer_number", 4711),
        ("zip", ["10115"]),
        ("email", 12345),
        ("contact_person_name", {"first": "Lena"}),
    ],
)
def test_a_debtor_with_weird_fields_fails_its_receipts_alone(
    tmp_path: Path, testerp: RecordSandbox, field: str, value: Any
) -> None:
    with BuchhaltungsButlerSandbox() as books:
        weird = {**SCHMIDT, "name": "Weird KG", "email": "weird@example.com"}
        books.seed("debtors", [SCHMIDT, weird])
        books.seed("receipts", [receipt(1), receipt(2, "Weird KG"), receipt(3)])
        with books.lock:
            (row,) = [d for d in books._debtors.values() if d["name"] == "Weird KG"]
            row[field] = value
            if field == "name":
                books._receipts[2]["counterparty"] = value
        config = reading_setup(tmp_path, books, testerp)
        result, report = run_flow(config, "orders")
    assert "Traceback" not in result.output
    done = actions(report)
    assert sorted(a for k, (a, _) in done.items() if k != "2") == ["created", "created"], report
    if done["2"][0] == "failed":
        (letter,) = dead_letters(config)
        assert letter["record_key"] == "2" and "2" in letter["error"], letter


# --- the debtor index: never a debtor twice ------------------------------------------------


def shop_customers(count: int, start: int = 0) -> list[dict[str, Any]]:
    return [customer(f"c{n:03d}", f"kunde{n}@example.de") for n in range(start, start + count)]


def debtor_keys(books: BuchhaltungsButlerSandbox) -> list[str]:
    return sorted(str(d["customer_number"]) for d in books.dump("debtors"))


def test_two_customers_with_one_email_become_one_debtor_in_the_customers_flow(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    testshop.seed(
        "customers",
        [
            customer("c-a", "same@example.de", last_name="Erster"),
            customer("c-b", "SAME@example.de", last_name="Zweiter"),
        ],
    )
    config = setup(tmp_path, testshop, books, CUSTOMERS_FLOW)
    result, report = run_flow(config, "customers")
    assert result.code == 0, result.output
    assert len(books.dump("debtors")) == 1, books.dump("debtors")
    done = actions(report)
    assert done["c-a"][1] == done["c-b"][1]
    again, _ = run_flow(config, "customers", "--full")
    assert again.code == 0 and len(books.dump("debtors")) == 1


def test_two_orders_of_one_email_in_one_run_book_one_debtor(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    testshop.seed(
        "orders",
        [
            order("o1", "7001", customer_data=customer("c-a", "same@example.de")),
            order("o2", "7002", customer_data=customer("c-b", "Same@Example.de")),
        ],
    )
    config = setup(tmp_path, testshop, books, orders_flow())
    result, _ = run_flow(config, "orders")
    assert result.code == 0, result.output
    (debtor,) = books.dump("debtors")
    numbers = {i["customer_number"] for i in books.dump("invoices")}
    assert numbers == {debtor["customer_number"]}


class Bystander(BuchhaltungsButlerSandbox):
    """A BuchhaltungsButler where someone else adds `added` (debtors, the read shape) in
    the web app right after the first invoice of a run is made."""

    def __init__(self, added: list[dict[str, Any]], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.added = added

    def _create_invoice(self, p: dict[str, Any]) -> dict[str, Any]:
        answer = super()._create_invoice(p)
        if self.added:
            self.seed("debtors", self.added)
            self.added = []
        return answer


def test_a_debtor_added_by_someone_else_during_a_run_is_not_made_again(
    tmp_path: Path, testshop: RecordSandbox
) -> None:
    testshop.seed(
        "orders",
        [
            order("o1", "7101", customer_data=customer("c-a", "anna@example.de")),
            order("o2", "7102", customer_data=customer("c-b", "bert@example.de")),
        ],
    )
    added = [{"name": "Bert Bauer", "email": "bert@example.de", "customer_number": "K-9"}]
    with Bystander(added) as books:
        config = setup(tmp_path, testshop, books, orders_flow())
        result, _ = run_flow(config, "orders")
        debtors = books.dump("debtors")
        invoices = {i["invoicenumber"]: i for i in books.dump("invoices")}
    assert result.code == 0, result.output
    assert sorted(d["email"] for d in debtors) == ["anna@example.de", "bert@example.de"]
    assert invoices["7102"]["customer_number"] == "K-9"


@pytest.mark.parametrize("fault", ["lost", "503"])
def test_a_batch_refused_or_unanswered_makes_no_debtor_twice(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox, fault: str
) -> None:
    testshop.seed("customers", shop_customers(60))
    config = setup(tmp_path, testshop, books, CUSTOMERS_FLOW + "[flows.customers.settings]\n")
    # the second batch: the first went through
    hit = books.inject("POST", "/api/v1/settings/add-batch/debtors", fault, body_contains="c050")
    result, report = run_flow(config, "customers")
    # seen once under a full parallel suite: no batch held c050 (kept to tell why next time)
    calls = [(c.path.rsplit("/", 2)[-2:], c.status) for c in books.calls]
    assert hit.hits == 1, f"{report['counts']} {calls} {result.output[-1500:]}"
    assert "Traceback" not in result.output
    assert result.code == 0, result.output
    assert report["counts"]["created"] == 60, report["counts"]
    assert debtor_keys(books) == [f"c{n:03d}" for n in range(60)]
    _, again = run_flow(config, "customers", "--full")
    assert again["counts"]["created"] == 0 and len(books.dump("debtors")) == 60


# --- the rate limit: waited out, never shown, nothing twice ---------------------------------


def spend_the_minute(books: BuchhaltungsButlerSandbox) -> None:
    """Another program of the customer's spends the minute; the sandbox's clock stands still
    until it refuses a request, then runs twenty times as fast (the test need not wait)."""
    import httpx

    frozen, started = time.monotonic(), []

    def clock() -> float:
        if not books.refused:
            return frozen
        if not started:
            started.append(time.monotonic())
        return frozen + 20 * (time.monotonic() - started[0])

    books.monotonic = clock
    settings = books.connection_settings()
    auth = (settings["api_client"], settings["api_secret"])
    for _ in range(100):
        httpx.post(
            f"{settings['base_url']}/settings/get/debtors",
            json={"api_key": settings["api_key"]},
            auth=auth,
        )


def test_past_the_rate_limit_customers_and_orders_are_written_once(
    tmp_path: Path, testshop: RecordSandbox
) -> None:
    testshop.seed("customers", shop_customers(60))
    # the orders' customers are those of the customers flow (by key): found, not made again
    testshop.seed(
        "orders",
        [
            order(f"o{n}", f"720{n}", customer_data=customer(f"c{n:03d}", f"kunde{n}@example.de"))
            for n in range(3)
        ],
    )
    with BuchhaltungsButlerSandbox(rate_limit=True) as books:
        config = setup(tmp_path, testshop, books, CUSTOMERS_FLOW + orders_flow())
        spend_the_minute(books)
        result, report = run_flow(config, "customers")
        assert result.code == 0, result.output
        assert report["counts"]["created"] == 60
        first_refused = books.refused
        books.refused = 0
        spend_the_minute(books)
        ordered, _ = run_flow(config, "orders")
        assert ordered.code == 0, ordered.output
        refused = books.refused
        keys, numbers = debtor_keys(books), invoice_numbers(books)
    assert first_refused >= 1 and refused >= 1
    for output in (result.output, ordered.output):
        assert "error_code 15" not in output and "restricted" not in output
    assert keys == [f"c{n:03d}" for n in range(60)]
    assert numbers == ["7200", "7201", "7202"]


# --- runs that overlap, and a run killed mid-way ----------------------------------------------


class Child:
    """`ihost ARGS` in a subprocess."""

    def __init__(self, *args: str) -> None:
        env = {k: v for k, v in os.environ.items() if k != "IHOST_CONFIG"}
        self.proc = subprocess.Popen(
            [IHOST, *args], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env
        )


def many_orders(testshop: RecordSandbox, count: int) -> None:
    testshop.seed(
        "orders",
        [
            order(f"o{n}", f"95{n:02d}", customer_data=customer(f"c{n}", f"buyer{n}@example.com"))
            for n in range(count)
        ],
    )


@pytest.mark.parametrize("flow", ["orders", "customers"])
def test_two_runs_at_once_write_each_record_once(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox, flow: str
) -> None:
    many_orders(testshop, 12)
    testshop.seed("customers", shop_customers(12))
    config = setup(tmp_path, testshop, books, orders_flow() + CUSTOMERS_FLOW)
    children = [Child("-c", str(config), "run", flow) for _ in range(2)]
    ended = [child.proc.communicate(timeout=120) for child in children]
    codes = sorted(child.proc.returncode for child in children)
    assert codes in ([0, 0], [0, 2]), ended
    for out, err in ended:
        assert "Traceback" not in out + err
    if flow == "orders":
        assert invoice_numbers(books) == [f"95{n:02d}" for n in range(12)]
    emails = [d["email"] for d in books.dump("debtors") if d.get("email")]
    assert len(emails) == len(set(emails))
    keys = debtor_keys(books)
    assert len(keys) == len(set(keys))


def test_a_run_killed_mid_way_then_run_again_writes_each_order_once(
    tmp_path: Path, testshop: RecordSandbox, books: BuchhaltungsButlerSandbox
) -> None:
    many_orders(testshop, 20)
    config = setup(tmp_path, testshop, books, orders_flow())
    child = Child("-c", str(config), "run", "orders")
    deadline = time.monotonic() + 60
    while len(books.dump("invoices")) < 3:
        assert child.proc.poll() is None and time.monotonic() < deadline, "ended too soon"
        time.sleep(0.01)
    os.kill(child.proc.pid, signal.SIGKILL)
    child.proc.wait()
    assert len(invoice_numbers(books)) < 20
    result, _ = run_flow(config, "orders", process=True)
    assert result.code == 0, result.output
    assert invoice_numbers(books) == [f"95{n:02d}" for n in range(20)]
    emails = [d["email"] for d in books.dump("debtors")]
    assert sorted(emails) == sorted(set(emails)) and len(emails) == 20
