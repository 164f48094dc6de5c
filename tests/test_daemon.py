"""`ihost daemon` in a real subprocess: schedules, SIGTERM, restarts and webhooks."""

from __future__ import annotations

import hashlib
import hmac
import itertools
import json
import os
import random
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from flow_data import order, product
from helpers import IHOST, healthy
from ihost_testconnectors.sandbox import RecordSandbox

SECRET = "hook-secret-0123456789"


#: ports for the daemons tests start, below the kernel's ephemeral range (32768 and up),
#: which the sandboxes' port 0 draws from: a port handed to a daemon that has not bound it
#: yet can then never be taken by another test's sandbox meanwhile. Each xdist worker has
#: a block of its own.
_WORKER = int(os.environ.get("PYTEST_XDIST_WORKER", "gw0").removeprefix("gw") or 0)
_PORTS = itertools.count(20000 + 1000 * (_WORKER % 12) + random.randrange(0, 1000, 50))


def free_port() -> int:
    """A port no one listens on, outside the ephemeral range (see _PORTS)."""
    for _ in range(1000):
        port = 20000 + (next(_PORTS) - 20000) % 12000
        with socket.socket() as sock:
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                continue
            return port
    raise RuntimeError("no free port below the ephemeral range")


def wait_for(check: Callable[[], bool], seconds: float = 20) -> bool:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def sandboxes() -> Iterator[tuple[RecordSandbox, RecordSandbox]]:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        erp.seed("products", [product("SKU-1")])
        yield shop, erp


def config(tmp_path: Path, shop: RecordSandbox, erp: RecordSandbox, schedule: str) -> Path:
    path = tmp_path / "ihost.toml"
    path.write_text(
        f'[store]\nurl = "sqlite:///{tmp_path / "ihost.db"}"\n'
        f'[connections.shop]\nplugin = "testshop"\nbase_url = "{shop.base_url}"\n'
        f'token = "{shop.token}"\nwebhook_secret = "{SECRET}"\n'
        f'[connections.erp]\nplugin = "testerp"\nbase_url = "{erp.base_url}"\n'
        f'token = "{erp.token}"\n'
        f'[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"\n'
        f'schedule = "{schedule}"\n'
    )
    return path


def start(path: Path, port: int) -> subprocess.Popen[str]:
    process = subprocess.Popen(
        [IHOST, "-c", str(path), "daemon", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env={k: v for k, v in os.environ.items() if k != "IHOST_CONFIG"},
    )
    assert wait_for(lambda: healthy(f"http://127.0.0.1:{port}")), (
        process.stderr.read() if process.poll() else "no answer"
    )
    return process


def stop(process: subprocess.Popen[str]) -> str:
    process.send_signal(signal.SIGTERM)
    _, err = process.communicate(timeout=30)
    assert process.returncode == 0, err
    return err


def test_flows_run_on_their_schedule_and_sigterm_stops_cleanly(
    tmp_path: Path, sandboxes: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = sandboxes
    shop.seed("orders", [order(str(i), f"10{i:02d}") for i in range(5)])
    port = free_port()
    process = start(config(tmp_path, shop, erp, "every 1s"), port)
    try:
        assert wait_for(lambda: len(erp.dump("orders")) == 5)
        shop.seed("orders", [order("50", "1050", updated_at="2026-06-01T10:00:00+00:00")])
        assert wait_for(lambda: len(erp.dump("orders")) == 6)  # picked up by a later run
    finally:
        err = stop(process)
    assert "ihost daemon: stopped" in err and "Traceback" not in err
    import sqlite3

    runs = (
        sqlite3.connect(tmp_path / "ihost.db")
        .execute("SELECT started_at, finished_at, status FROM runs ORDER BY id")
        .fetchall()
    )
    assert len(runs) >= 2
    for (_, finished, _), (started, _, _) in itertools.pairwise(runs):
        assert finished <= started  # never two runs of one flow at once


def test_sigterm_mid_run_then_restart_loses_and_duplicates_nothing(
    tmp_path: Path, sandboxes: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = sandboxes
    shop.seed("orders", [order(str(i), f"2{i:04d}") for i in range(1000)])
    path = config(tmp_path, shop, erp, "every 1h")
    port = free_port()
    process = start(path, port)
    assert wait_for(lambda: len(erp.dump("orders")) >= 20)
    stop(process)
    written = len(erp.dump("orders"))
    assert 20 <= written < 1000, "the run was not stopped in the middle"
    process = start(path, port)
    try:
        assert wait_for(lambda: len(erp.dump("orders")) >= 1000, seconds=90)
    finally:
        stop(process)
    keys = [o["source_key"] for o in erp.dump("orders")]
    assert len(keys) == len(set(keys)) == 1000


def test_stop_and_reload_wait_for_no_lock_the_main_thread_may_hold(
    tmp_path: Path, sandboxes: tuple[RecordSandbox, RecordSandbox]
) -> None:
    """Their signal handlers run in the main thread wherever it is, e.g. in the serving
    loop's tick holding the daemon's lock: a daemon hung there for good at SIGTERM when
    stop() took that lock."""
    from host.daemon.service import Daemon
    from host.plugins import discover

    shop, erp = sandboxes
    daemon = Daemon(str(config(tmp_path, shop, erp, "every 1h")), discover())
    done = threading.Event()

    def signalled_in_a_tick() -> None:
        with daemon._lock:  # as _tick holds it
            daemon.reload()  # SIGHUP
            daemon.stop()  # SIGTERM
        done.set()

    threading.Thread(target=signalled_in_a_tick, daemon=True).start()
    assert done.wait(30), "stop() or reload() waited for a lock its own thread held"
    assert daemon.stopping


def test_a_burst_of_sighups_then_sigterm_still_stops(
    tmp_path: Path, sandboxes: tuple[RecordSandbox, RecordSandbox]
) -> None:
    """A signal lands in the main thread wherever it is, also in the handler of the one
    before: reloads asked in a burst leave the daemon answering, and SIGTERM stops it."""
    shop, erp = sandboxes
    port = free_port()
    process = start(config(tmp_path, shop, erp, "every 1h"), port)
    try:
        for _ in range(3):
            for _ in range(300):
                process.send_signal(signal.SIGHUP)
                time.sleep(0.001)
            flows = httpx.get(f"http://127.0.0.1:{port}/api/flows").json()
            assert [f["name"] for f in flows] == ["orders"]
    finally:
        err = stop(process)
    assert "Traceback" not in err and "internal error" not in err


def signed(body: bytes) -> str:
    return hmac.new(SECRET.encode(), body, hashlib.sha256).hexdigest()


def test_webhook_starts_the_flow_at_once(
    tmp_path: Path, sandboxes: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = sandboxes
    port = free_port()
    process = start(config(tmp_path, shop, erp, "every 1h"), port)
    url = f"http://127.0.0.1:{port}/webhooks/shop"
    try:
        assert wait_for(lambda: bool(_runs(tmp_path)))  # the run at start, on an empty shop
        shop.seed("orders", [order("77", "1077", updated_at="2027-01-01T00:00:00+00:00")])
        body = json.dumps({"entity": "orders", "keys": ["77"]}).encode()
        bad = httpx.post(url, content=body, headers={"X-Test-Signature": "0" * 64})
        assert bad.status_code == 401 and erp.dump("orders") == []
        headers = {"X-Test-Signature": signed(body), "X-Test-Event-Id": "evt-1"}
        started = time.monotonic()
        first = httpx.post(url, content=body, headers=headers)
        assert first.status_code == 202 and first.json()["flows"] == ["orders"]
        assert wait_for(lambda: len(erp.dump("orders")) == 1, seconds=2)
        assert time.monotonic() - started < 2
        again = httpx.post(url, content=body, headers=headers)
        assert again.status_code == 200 and again.json()["status"] == "duplicate"
        time.sleep(0.5)
        assert len(erp.dump("orders")) == 1
    finally:
        stop(process)


def _runs(tmp_path: Path) -> list[tuple[str]]:
    import sqlite3

    db = tmp_path / "ihost.db"
    if not db.exists():
        return []
    try:
        return (
            sqlite3.connect(db)
            .execute("SELECT status FROM runs WHERE status != 'running'")
            .fetchall()
        )
    except sqlite3.OperationalError:
        return []


def test_shopify_webhook_brings_the_order_to_afas_within_two_seconds(tmp_path: Path) -> None:
    from ihost_afas.sandbox import AfasSandbox
    from ihost_shopify import samples
    from ihost_shopify.sandbox import ShopifySandbox

    with ShopifySandbox(restore_rate=2000) as shop, AfasSandbox() as erp:
        erp.seed(
            "Profit_Article_Basic",
            [{"ItemCode": "SKU-1", "Description": "Mug", "DateModified": "2026-05-01T10:00:00Z"}],
        )
        lines = ["[store]", f'url = "sqlite:///{tmp_path / "ihost.db"}"']
        for name, plugin, box in (("shop", "shopify", shop), ("erp", "afas", erp)):
            lines += [f"[connections.{name}]", f'plugin = "{plugin}"']
            lines += [f"{k} = {json.dumps(v)}" for k, v in box.connection_settings().items()]
        lines += [
            "[flows.orders]",
            'kind = "orders"',
            'source = "shop"',
            'target = "erp"',
            'schedule = "every 1h"',
        ]
        path = tmp_path / "ihost.toml"
        path.write_text("\n".join(lines) + "\n")
        port = free_port()
        process = start(path, port)
        url = f"http://127.0.0.1:{port}/webhooks/shop"
        try:
            assert wait_for(lambda: bool(_runs(tmp_path)))
            shop.seed("orders", [samples.order(4242, updated_at="2027-01-01T00:00:00Z")])
            payload = {"id": 4242, "name": "#4242", "financial_status": "paid"}
            assert shop.send_webhook(url, "orders/paid", payload, secret="wrong").status_code == 401
            started = time.monotonic()
            answer = shop.send_webhook(url, "orders/paid", payload, event_id="evt-4242")
            assert answer.status_code == 202
            assert wait_for(lambda: len(erp.dump("FbSales")) == 1, seconds=2)
            assert time.monotonic() - started < 2
            again = shop.send_webhook(url, "orders/paid", payload, event_id="evt-4242")
            assert again.json()["status"] == "duplicate"
            time.sleep(0.5)
            assert len(erp.dump("FbSales")) == 1
        finally:
            stop(process)


def test_sighup_reloads_the_config(
    tmp_path: Path, sandboxes: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = sandboxes
    path = config(tmp_path, shop, erp, "every 1h")
    port = free_port()
    process = start(path, port)
    flows = f"http://127.0.0.1:{port}/api/flows"
    try:
        assert [f["name"] for f in httpx.get(flows).json()] == ["orders"]
        path.write_text(
            path.read_text() + '[flows.refunds]\nkind = "refunds"\nsource = "shop"\n'
            'target = "erp"\nschedule = "every 1h"\n'
        )
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: len(httpx.get(flows).json()) == 2, seconds=5)
        path.write_text(path.read_text() + "[flows.broken]\nkind = 1\n")  # refused: kept as is
        process.send_signal(signal.SIGHUP)
        time.sleep(0.5)
        assert [f["name"] for f in httpx.get(flows).json()] == ["orders", "refunds"]
    finally:
        err = stop(process)
    assert "reload refused, keeping the running config" in err


def test_a_reload_naming_another_store_moves_the_dashboard_to_it(
    tmp_path: Path, sandboxes: tuple[RecordSandbox, RecordSandbox]
) -> None:
    shop, erp = sandboxes
    path = config(tmp_path, shop, erp, "every 1h")
    port = free_port()
    process = start(path, port)
    runs = f"http://127.0.0.1:{port}/api/runs"

    def statuses() -> list[str]:
        return [r["status"] for r in httpx.get(runs).json()]

    try:
        assert wait_for(lambda: statuses() == ["ok"])  # the run at start
        assert httpx.post(f"http://127.0.0.1:{port}/api/flows/orders/run").json()["started"]
        assert wait_for(lambda: statuses() == ["ok", "ok"])
        moved = tmp_path / "moved.db"
        path.write_text(path.read_text().replace(str(tmp_path / "ihost.db"), str(moved)))
        process.send_signal(signal.SIGHUP)
        assert wait_for(lambda: len(statuses()) < 2, seconds=5)  # none, or the reload's run
    finally:
        stop(process)
    assert moved.is_file()
