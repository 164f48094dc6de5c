"""The host as a hostile first week treats it: secrets and personal data, cross-site
requests, a hanging or refusing remote, a killed process, two runs at once, ports in use,
and the errors a user meets. Everything through the `ihost` command or the daemon."""

from __future__ import annotations

import base64
import html
import json
import signal
import socket
import sqlite3
import subprocess
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import quote

import httpx
import pytest
from flow_data import customer, order, product
from helpers import IHOST, actions, fail, run_flow, run_ihost, write_config
from ihost_testconnectors.sandbox import RecordSandbox
from test_daemon import free_port, signed, start, stop, wait_for

from host.secrets import redact, redactor
from host.store import Store

ORDERS = """
[flows.orders]
kind = "orders"
source = "shop"
target = "erp"
schedule = "every 1h"
[flows.orders.settings]
retry_backoff = 0.05
"""


def config(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, flows: str = ORDERS, **erp_extra: str
) -> Path:
    path = write_config(tmp_path, {"shop": ("testshop", shop), "erp": ("testerp", erp)}, flows)
    if erp_extra:  # more settings of the erp connection
        text = path.read_text()
        extra = "".join(f"{k} = {v}\n" for k, v in erp_extra.items())
        path.write_text(text.replace("[connections.erp]\n", "[connections.erp]\n" + extra))
    return path


def runs(tmp_path: Path) -> list[tuple[int, str, str | None]]:
    """The runs in the store (none when there is no store yet)."""
    if not (tmp_path / "ihost.db").exists():
        return []
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        return db.execute("SELECT id, status, error FROM runs ORDER BY id").fetchall()


# --- secrets ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "problem"),
    [
        ("shpat_0123456789abcdef\r", "contains a control character (CR)"),
        ("shpat_0123456789abcdef\n", "contains a control character (LF)"),
        ("", "is empty"),
    ],
)
def test_a_secret_with_a_control_character_or_empty_is_refused_at_load(
    tmp_path: Path, shop: RecordSandbox, value: str, problem: str
) -> None:
    path = tmp_path / "ihost.toml"
    path.write_text(
        f'[connections.shop]\nplugin = "testshop"\nbase_url = "{shop.base_url}"\n'
        'token = "${SHOP_TOKEN}"\n'
    )
    result = run_ihost("-c", str(path), "check", "shop", env={"SHOP_TOKEN": value})
    assert result.code == 2
    assert result.err.strip() == (
        f"ihost.toml: [connections.shop] token: environment variable SHOP_TOKEN {problem}"
    )
    assert shop.calls == []  # refused before anything was sent
    written = tmp_path / "literal.toml"  # a secret written in the file itself
    written.write_text(
        f'[connections.shop]\nplugin = "testshop"\nbase_url = "{shop.base_url}"\n'
        'token = "shpat_0123456789abcdef\\t"\n'
    )
    result = run_ihost("-c", str(written), "config", "validate")
    assert result.code == 2
    assert result.err.strip() == (
        "literal.toml: [connections.shop] token: the secret contains a control character (TAB)"
    )
    assert "0123456789abcdef" not in result.output


def test_redaction_covers_every_form_a_secret_takes_in_a_message() -> None:
    secret = "shpat_9f8e7d6c5b4a3210"
    redactor.add(secret)
    token_xml = f"<token><version>1</version><data>{secret}</data></token>"
    forms = [
        repr((secret + "\r").encode()),  # httpx: Illegal header value b'shpat_...\r'
        json.dumps(secret + "\n"),
        quote(secret, safe=""),
        "AfasToken " + base64.b64encode(token_xml.encode()).decode(),
        base64.urlsafe_b64encode(f"user:{secret}".encode()).decode(),
    ]
    for form in forms:
        assert "9f8e7d6c5b4a" not in redact(form), form
        encoded = base64.b64encode(secret.encode()).decode()[4:16]
        assert encoded not in redact(form)


# --- personal data ------------------------------------------------------------------------


def test_a_refusal_quoting_personal_data_stays_out_of_the_activity_log(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001"), order("2", "1002")])
    words = "street 'Keizersgracht 123' of anna@example.com cannot be delivered"
    fail(erp, "orders", "2", 422, message=words)
    path = config(tmp_path, shop, erp)
    result, report = run_flow(path, "orders")
    assert result.code == 1 and actions(report)["2"][0] == "failed"

    log = json.loads(run_ihost("-c", str(path), "logs", "--json").out)
    shown = json.dumps(log) + run_ihost("-c", str(path), "logs").out
    assert "Keizersgracht" not in shown and "anna@example.com" not in shown
    (failed,) = [e for e in log["events"] if e["action"] == "failed"]
    assert failed["message"] == (
        "order 2: testerp rejected POST http://127.0.0.1:"
        f"{erp.port}/api/orders (422): street '…' of <e-mail> cannot be delivered"
    )
    letters = json.loads(run_ihost("-c", str(path), "deadletters", "--json").out)
    (letter,) = letters["dead_letters"]
    assert "Keizersgracht" not in letter["error"]
    shown = run_ihost("-c", str(path), "deadletters", "show", str(letter["id"])).out
    assert words in shown  # the remote's own words, kept in the dead letter


def test_verbose_logs_show_no_searched_values(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("customers", [customer("c1", "Name@Example.nl")])
    flows = '[flows.customers]\nkind = "customers"\nsource = "shop"\ntarget = "erp"\n'
    result = run_ihost("-vv", "-c", str(config(tmp_path, shop, erp, flows)), "run", "customers")
    assert result.code == 0, result.output
    assert "/api/customers/search?email=…" in result.err  # the call is logged, not the value
    lowered = result.err.lower()
    assert "example.nl" not in lowered and "%40" not in lowered and "name@" not in lowered


# --- the dashboard ------------------------------------------------------------------------


@pytest.fixture
def daemon(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> Iterator[tuple[str, subprocess.Popen[str]]]:
    path = config(tmp_path, shop, erp)
    path.write_text(
        path.read_text().replace(
            "[connections.shop]\n",
            '[connections.shop]\nwebhook_secret = "hook-secret-0123456789"\n',
        )
    )
    port = free_port()
    process = start(path, port)
    try:
        yield f"http://127.0.0.1:{port}", process
    finally:
        if process.poll() is None:
            stop(process)


def test_the_dashboard_answers_only_its_own_site(
    tmp_path: Path, daemon: tuple[str, subprocess.Popen[str]]
) -> None:
    base, _ = daemon
    assert wait_for(lambda: len(runs(tmp_path)) == 1 and runs(tmp_path)[0][1] != "running")
    port = base.rsplit(":", 1)[1]
    for headers in (
        {"Origin": "http://evil.example"},
        {"Referer": "http://evil.example/page.html"},
        {"Origin": "null"},
        {"Origin": f"http://127.0.0.1.evil.example:{port}"},
    ):
        answer = httpx.post(f"{base}/flows/orders/run", headers=headers)
        assert answer.status_code == 403, headers
        assert httpx.post(f"{base}/api/flows/orders/run", headers=headers).status_code == 403
    rebound = httpx.get(base, headers={"Host": f"attacker.example:{port}"})
    assert rebound.status_code == 400
    assert httpx.get(f"{base}/api/flows", headers={"Host": "attacker.example"}).status_code == 400
    time.sleep(0.5)
    assert len(runs(tmp_path)) == 1  # nothing was started
    own = httpx.post(f"{base}/flows/orders/run", headers={"Origin": base})
    assert own.status_code == 303
    same_host = httpx.get(base, headers={"Host": f"localhost:{port}"})
    assert same_host.status_code == 200
    assert wait_for(lambda: len(runs(tmp_path)) == 2)
    # webhooks are signed, and reach the daemon through proxies under other names
    hook = httpx.post(f"{base}/webhooks/shop", content=b"{}", headers={"Host": "shop.example.com"})
    assert hook.status_code == 401


def test_a_signed_webhook_whose_body_is_not_an_object_is_refused(
    daemon: tuple[str, subprocess.Popen[str]],
) -> None:
    base, process = daemon
    for body in (b"[1, 2]", b"not json", b'"text"', b"{}"):
        answer = httpx.post(
            f"{base}/webhooks/shop",
            content=body,
            headers={"X-Test-Signature": signed(body), "X-Test-Event-Id": "e-" + body.hex()},
        )
        assert answer.status_code == 400, body
    err = stop(process)
    assert "Traceback" not in err
    assert err.count("webhook to shop refused") == 4


# --- a hanging remote ---------------------------------------------------------------------


class Silent:
    """A TCP server that accepts connections and never answers (a hung remote)."""

    def __init__(self) -> None:
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen(64)
        self.accepted = 0
        self.url = f"http://127.0.0.1:{self.sock.getsockname()[1]}"
        self._open: list[socket.socket] = []
        threading.Thread(target=self._accept, daemon=True).start()

    def _accept(self) -> None:
        while True:
            try:
                connection, _ = self.sock.accept()
            except OSError:
                return
            self.accepted += 1
            self._open.append(connection)

    def close(self) -> None:
        self.sock.close()
        for connection in self._open:
            connection.close()


def test_a_hanging_remote_costs_one_budget_per_record_and_the_breaker_stops_the_run(
    tmp_path: Path, shop: RecordSandbox
) -> None:
    shop.seed("orders", [order(str(i), f"100{i}") for i in range(1, 6)])
    silent = Silent()
    try:
        path = tmp_path / "ihost.toml"
        path.write_text(
            f'[store]\nurl = "sqlite:///{tmp_path / "ihost.db"}"\n'
            f'[connections.shop]\nplugin = "testshop"\nbase_url = "{shop.base_url}"\n'
            f'token = "{shop.token}"\n'
            f'[connections.erp]\nplugin = "testerp"\nbase_url = "{silent.url}"\n'
            f'token = "{shop.token}"\ntimeout = 1.0\n' + ORDERS + "unavailable_after = 6\n"
        )
        started = time.monotonic()
        result, report = run_flow(path, "orders")
        took = time.monotonic() - started
    finally:
        silent.close()
    assert result.code == 3, result.output
    assert report["status"] == "aborted"
    assert report["error"].startswith("no good answer for ")
    # record 1: three tries of its look-up (retries = 3); record 2: tries until 6 s passed
    assert silent.accepted <= 8, silent.accepted
    assert took < 15
    progress = [line for line in result.err.splitlines() if line.startswith("orders: read")]
    assert progress, result.err  # a line every 5 s while stderr is not a terminal
    assert "writing 1" in progress[0] or "writing 2" in progress[0]


def test_a_remote_that_hangs_on_every_write_of_a_short_run_stops_it(
    tmp_path: Path, shop: RecordSandbox
) -> None:
    """Two orders, each failing on a remote that answers nothing, well before
    unavailable_after and the breaker's records in a row: the run stops (exit 3, cursor
    untouched), it does not end as two failed records (exit 1)."""
    shop.seed("orders", [order(str(i), f"200{i}") for i in range(1, 3)])
    silent = Silent()
    try:
        path = tmp_path / "ihost.toml"
        path.write_text(
            f'[store]\nurl = "sqlite:///{tmp_path / "ihost.db"}"\n'
            f'[connections.shop]\nplugin = "testshop"\nbase_url = "{shop.base_url}"\n'
            f'token = "{shop.token}"\n'
            f'[connections.erp]\nplugin = "testerp"\nbase_url = "{silent.url}"\n'
            f'token = "{shop.token}"\ntimeout = 0.3\n' + ORDERS + "retries = 1\n"
        )
        result, report = run_flow(path, "orders")
    finally:
        silent.close()
    assert result.code == 3, result.output
    assert report["status"] == "aborted" and report["cursor"] is None
    assert report["error"].startswith("no record went through and 2 failed on transient")


def test_a_hanging_remote_keeps_no_other_flow_out_of_the_store(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    """A products run waits 12 s on its remote after writing a dead letter; meanwhile the
    orders flow of the same daemon writes and finishes. (Before, the products chunk held
    SQLite's write lock across the remote call: `database is locked`, a run left running.)"""
    erp.seed("products", [product("A", updated_at="2026-05-01T00:00:00+00:00")])
    erp.seed("products", [product("B", updated_at="2026-05-02T00:00:00+00:00")])
    shop.seed("orders", [order("1", "1001")])
    fail(shop, "products", "p-A", 422)
    fail(shop, "products", "p-B", 0, delay=12)
    fail(erp, "customers", "c-1", 0, delay=1.5)  # the orders flow writes after the letter
    flows = ORDERS + (
        '[flows.products]\nkind = "products"\nsource = "erp"\ntarget = "shop"\n'
        'schedule = "every 1h"\n'
    )
    port = free_port()
    process = start(config(tmp_path, shop, erp, flows), port)
    try:
        assert wait_for(lambda: len(erp.dump("orders")) == 1, seconds=5)
        assert wait_for(lambda: "ok" in [s for _, s, _ in runs(tmp_path)], seconds=5)
        assert wait_for(lambda: all(s != "running" for _, s, _ in runs(tmp_path)), seconds=30)
    finally:
        err = stop(process)
    assert sorted(s for _, s, _ in runs(tmp_path)) == ["failed", "ok"]
    assert "locked" not in err and "Traceback" not in err


def test_a_run_left_running_by_a_kill_is_aborted_at_the_next_start(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    path = config(tmp_path, shop, erp)

    def killed_mid_run(key: str) -> None:
        """An order whose create hangs; the run writing it is SIGKILLed."""
        shop.seed("orders", [order(key, f"100{key}")])
        fail(erp, "orders", key, 0, delay=30)
        erp.calls.clear()
        process = subprocess.Popen([IHOST, "-c", str(path), "run", "orders"])
        assert wait_for(lambda: erp.calls_to("/api/orders/search"), seconds=10)
        time.sleep(0.3)  # the create is on its way
        process.send_signal(signal.SIGKILL)
        process.wait()
        assert runs(tmp_path)[-1][1] == "running"

    killed_mid_run("1")
    result, _ = run_flow(path, "orders")
    assert result.code == 0, result.output
    first, second = runs(tmp_path)
    assert first[1] == "aborted" and "ended without finishing (killed or crashed)" in first[2]
    assert second[1] == "ok"
    assert "aborted" in run_ihost("-c", str(path), "logs").out

    killed_mid_run("2")  # and the daemon, at its start
    port = free_port()
    process = start(path, port)
    try:
        assert wait_for(lambda: runs(tmp_path)[2][1] == "aborted", seconds=5)
        assert wait_for(lambda: len(erp.dump("orders")) == 2, seconds=10)
    finally:
        stop(process)
    assert len({o["source_key"] for o in erp.dump("orders")}) == len(erp.dump("orders")) == 2


# --- start-up -----------------------------------------------------------------------------


def test_the_demo_refuses_a_directory_holding_other_files(tmp_path: Path) -> None:
    mine = tmp_path / "mine"
    mine.mkdir()
    (mine / "ihost.toml").write_text("# my own config\n")
    result = run_ihost("demo", "--once", "--dir", str(mine))
    assert result.code == 2
    assert result.err.strip() == (
        f"{mine} holds files the demo did not make (ihost.toml); the demo would "
        "overwrite its ihost.toml and store: choose a new or empty --dir"
    )
    assert (mine / "ihost.toml").read_text() == "# my own config\n"
    assert sorted(p.name for p in mine.iterdir()) == ["ihost.toml"]


def test_a_port_in_use_fails_at_start(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001")])
    taken = socket.socket()
    taken.bind(("127.0.0.1", 0))
    taken.listen(1)
    port = taken.getsockname()[1]
    try:
        path = config(tmp_path, shop, erp)
        daemon = run_ihost("-c", str(path), "daemon", "--port", str(port))
        assert daemon.code == 2
        assert daemon.err.strip() == (
            f"cannot listen on 127.0.0.1:{port}: address already in use "
            "(another ihost, or choose --port)"
        )
        assert erp.dump("orders") == [] and not runs(tmp_path)  # no flow ran
        demo = run_ihost("demo", "--dir", str(tmp_path / "demo"), "--port", str(port))
        assert demo.code == 2 and demo.err.count("\n") == 1
        assert "address already in use" in demo.err
        assert not (tmp_path / "demo" / "ihost.toml").exists()
        sandbox = run_ihost("sandbox", "testshop", "--port", str(port))
        assert sandbox.code == 2
        assert sandbox.err.strip() == (
            f"cannot start the testshop sandbox on 127.0.0.1:{port}: address already in use"
        )
    finally:
        taken.close()


# --- dry runs -----------------------------------------------------------------------------


def test_a_dry_run_fails_what_the_real_run_fails(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("products", [product("SKU-1")])
    erp.seed("stock", [{"sku": "SKU-1", "on_hand": "5"}, {"sku": "SKU-404", "on_hand": "3"}])
    erp.seed(
        "products",
        [product("DUP", key="p-dup-1", name="First"), product("DUP", key="p-dup-2", name="Twin")],
    )
    flows = (
        '[flows.stock]\nkind = "stock"\nsource = "erp"\ntarget = "shop"\n'
        "[flows.stock.settings]\nretries = 1\n"
        '[flows.products]\nkind = "products"\nsource = "erp"\ntarget = "shop"\n'
    )
    path = config(tmp_path, shop, erp, flows)
    for flow in ("stock", "products"):
        _, dry = run_flow(path, flow, "--dry-run")
        _, real = run_flow(path, flow)
        planned = {k: a for k, (a, _) in actions(dry).items()}
        done = {k: a for k, (a, _) in actions(real).items()}
        assert planned == done, flow
    assert done["p-dup-2"] == "failed" and done["p-dup-1"] == "created"
    (twin,) = [a for a in real["actions"] if a["key"] == "p-dup-2"]
    assert twin["reason"] == "product p-dup-2 (sku): SKU DUP is also product p-dup-1 in this run"
    assert planned == done


# --- exactly once -------------------------------------------------------------------------


def test_a_create_whose_answer_was_lost_is_made_once(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    """The debtor create carries no idempotency key: its lost answer is not sent again as
    it is; the order is written again from its existence checks, which find the debtor."""
    shop.seed("orders", [order("1", "1001"), order("2", "1002")])
    fail(erp, "customers", "c-2", 502, applied=True)
    result, report = run_flow(config(tmp_path, shop, erp), "orders")
    assert result.code == 0, result.output
    assert {k: a for k, (a, _) in actions(report).items()} == {"1": "created", "2": "created"}
    emails = sorted(c["email"] for c in erp.dump("customers"))
    assert emails == ["buyer1@example.com", "buyer2@example.com"]
    assert len(erp.dump("orders")) == 2


# --- errors a user meets ------------------------------------------------------------------


def test_store_urls_are_checked_when_the_config_loads(tmp_path: Path) -> None:
    no_driver = tmp_path / "shim" / "psycopg"
    no_driver.mkdir(parents=True)
    (no_driver / "__init__.py").write_text("raise ImportError('no psycopg here')\n")
    cases = [
        (
            "postgresql://ihost@db.example/ihost",
            'PostgreSQL needs its driver: pip install "ihost[postgres]"',
        ),
        (
            f"sqlite:///{tmp_path / 'missing' / 'ihost.db'}",
            f"directory {tmp_path / 'missing'} does not exist: create it first",
        ),
        ("mysql://ihost@db.example/ihost", "mysql is not supported"),
    ]
    for url, problem in cases:
        path = tmp_path / "ihost.toml"
        path.write_text(f'[store]\nurl = "{url}"\n')
        result = run_ihost(
            "-c", str(path), "config", "validate", env={"PYTHONPATH": str(no_driver.parent)}
        )
        assert result.code == 2, url
        assert result.err.strip().startswith(f"ihost.toml: [store] url: {problem}"), result.err
    assert not (tmp_path / "missing").exists()


def test_logs_and_dead_letters_say_what_exists(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    long_sku = "SKU-" + "X" * 120
    shop.seed("orders", [order("1", "1001", skus=(long_sku,))])
    path = config(tmp_path, shop, erp)
    assert run_flow(path, "orders")[0].code == 1
    nosuch = run_ihost("-c", str(path), "logs", "NOSUCH")
    assert nosuch.code == 2
    assert nosuch.err.strip() == "ihost.toml: no flow 'NOSUCH' (configured: orders)"
    missing = run_ihost("-c", str(path), "logs", "--run", "999")
    assert missing.code == 2
    assert missing.err.strip() == "no run 999 (the newest is run 1; `ihost logs` lists them)"
    assert "created" not in run_ihost("-c", str(path), "logs", "orders").err
    listed = run_ihost("-c", str(path), "deadletters", "--flow", "orders")
    assert listed.code == 0
    # not a terminal: one plain line per letter, however long, never wrapped at 80 columns
    (line,) = [line for line in listed.out.splitlines() if line.strip().startswith("1 ")]
    assert f"order 1001: SKU {long_sku} not found in erp" in line
    assert "│" not in listed.out
    wrong = run_ihost("-c", str(path), "deadletters", "--flow", "orders", "retry", "1")
    assert wrong.code == 2


# --- dead letters -------------------------------------------------------------------------


def letters(tmp_path: Path) -> dict[str, tuple[int, str]]:
    """{record key: (attempts, status)} of the dead letters in the store."""
    if not (tmp_path / "ihost.db").exists():
        return {}
    with sqlite3.connect(tmp_path / "ihost.db") as db:
        rows = db.execute("SELECT record_key, attempts, status FROM dead_letters").fetchall()
    return {key: (attempts, status) for key, attempts, status in rows}


def test_the_daemon_retries_dead_letters_with_backoff_up_to_a_maximum(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed(
        "orders",
        [
            order("1", "1001"),
            order("2", "1002", skus=("SKU-9",)),  # never fixed
            order("3", "1003", skus=("SKU-8",)),  # fixed after it failed
        ],
    )
    flows = ORDERS + "dead_letter_retries = 2\ndead_letter_wait_minutes = 0.02\n"
    port = free_port()
    process = start(config(tmp_path, shop, erp, flows), port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: set(letters(tmp_path)) == {"2", "3"}, seconds=10)
        erp.seed("products", [product("SKU-8")])
        assert wait_for(lambda: letters(tmp_path)["3"][1] == "resolved", seconds=15)
        assert "1003" in {o["number"] for o in erp.dump("orders")}
        assert wait_for(lambda: letters(tmp_path)["2"] == (3, "open"), seconds=20)
        page = httpx.get(base).text
        assert "1 open" in page
        assert "retried by the daemon 2 times, first after 0.02 min" in page
        assert "none: retry by hand" in httpx.get(f"{base}/deadletters").text
        time.sleep(3)  # 2.4 s and more after the last try: no third retry comes
        assert letters(tmp_path)["2"] == (3, "open")
        with Store(f"sqlite:///{tmp_path / 'ihost.db'}") as store, store.lock_flow("orders"):
            (letter,) = store.list_dead_letters()  # a run elsewhere holds the flow
            page = httpx.post(f"{base}/deadletters/{letter.id}/retry", follow_redirects=True)
        shown = html.unescape(page.text)
        assert f"dead letter {letter.id}: not retried: flow 'orders' is running already" in shown
    finally:
        stop(process)


def test_the_daemon_runs_a_flow_after_another_process_lets_go_of_it(
    tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order("1", "1001")])
    fail(erp, "orders", "1", 0, delay=10)  # held while the daemon starts, on a busy machine too
    path = config(tmp_path, shop, erp)
    by_hand = subprocess.Popen([IHOST, "-c", str(path), "run", "orders"])
    assert wait_for(lambda: erp.calls_to("/api/orders/search"), seconds=10)
    shop.seed("orders", [order("2", "1002", updated_at="2026-06-01T00:00:00+00:00")])
    process = start(path, free_port())  # its run at start finds the flow taken
    try:
        assert by_hand.wait(timeout=30) == 0
        assert wait_for(lambda: len(erp.dump("orders")) == 2, seconds=15)
    finally:
        err = stop(process)
    assert "flow 'orders' is running already" in err and "runs here again in 5 s" in err
    assert sorted(o["number"] for o in erp.dump("orders")) == ["1001", "1002"]
