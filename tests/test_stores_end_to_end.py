"""Flows end to end on each store the host supports: SQLite, and PostgreSQL (a real server,
started by `.ci/postgres` in CI). `store_url` runs each test on both."""

from __future__ import annotations

import json
import subprocess
import time
from pathlib import Path

import httpx
from flow_data import customer, order
from helpers import IHOST, fail, run_ihost
from ihost_testconnectors.sandbox import RecordSandbox
from test_daemon import SECRET, free_port, signed, start, stop, wait_for

from host.store import Store


def config(tmp_path: Path, store_url: str, shop: RecordSandbox, erp: RecordSandbox) -> Path:
    path = tmp_path / "ihost.toml"
    path.write_text(
        f'[store]\nurl = "{store_url}"\n'
        f'[connections.shop]\nplugin = "testshop"\nbase_url = "{shop.base_url}"\n'
        f'token = "{shop.token}"\nwebhook_secret = "{SECRET}"\n'
        f'[connections.erp]\nplugin = "testerp"\nbase_url = "{erp.base_url}"\n'
        f'token = "{erp.token}"\n'
        '[flows.orders]\nkind = "orders"\nsource = "shop"\ntarget = "erp"\n'
        'schedule = "every 1h"\n'
        '[flows.customers]\nkind = "customers"\nsource = "shop"\ntarget = "erp"\n'
        'schedule = "every 1h"\n'
    )
    return path


def once_each(erp: RecordSandbox) -> list[str]:
    """The order numbers in the ERP, checking that none is there twice."""
    numbers = [o["number"] for o in erp.dump("orders")]
    assert len(numbers) == len(set(numbers)), sorted(numbers)
    emails = [c["email"] for c in erp.dump("customers")]
    assert len(emails) == len(set(emails)), sorted(emails)
    return sorted(numbers)


def test_the_daemon_with_two_flows_and_a_webhook(
    tmp_path: Path, store_url: str, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    shop.seed("orders", [order(str(i), f"1{i:03d}") for i in range(20)])
    shop.seed("customers", [customer(f"k{i}", f"person{i}@example.com") for i in range(10)])
    port = free_port()
    process = start(config(tmp_path, store_url, shop, erp), port)
    base = f"http://127.0.0.1:{port}"
    try:
        assert wait_for(lambda: len(erp.dump("orders")) == 20, seconds=30)

        def settled() -> bool:
            flows = httpx.get(f"{base}/api/flows").json()
            return all(f["status"] == "ok" for f in flows)

        assert wait_for(settled, seconds=30)  # both workers ran, side by side
        shop.seed("orders", [order("77", "1077", updated_at="2027-01-01T00:00:00+00:00")])
        body = json.dumps({"entity": "orders", "keys": ["77"]}).encode()
        headers = {"X-Test-Signature": signed(body), "X-Test-Event-Id": "evt-77"}
        assert httpx.post(f"{base}/webhooks/shop", content=body, headers=headers).status_code == 202
        assert wait_for(lambda: "1077" in once_each(erp), seconds=5)
        again = httpx.post(f"{base}/webhooks/shop", content=body, headers=headers)
        assert again.json()["status"] == "duplicate"
    finally:
        err = stop(process)
    assert "Traceback" not in err
    assert len(once_each(erp)) == 21
    with Store(store_url) as store:
        assert {r["status"] for r in store.list_runs(limit=100)} == {"ok"}
        assert len(store.list_events(limit=1000)) >= 21


def test_two_runs_of_one_flow_never_overlap(
    tmp_path: Path, store_url: str, shop: RecordSandbox, erp: RecordSandbox
) -> None:
    """One flow run from two processes sharing the store: the second waits for nothing and
    writes nothing while the first holds the flow (a lock in the database)."""
    shop.seed("orders", [order(str(i), f"2{i:03d}") for i in range(30)])
    path = config(tmp_path, store_url, shop, erp)
    both = [
        subprocess.Popen(
            [IHOST, "-c", str(path), "run", "orders"],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for _ in range(2)
    ]
    codes = sorted(p.wait(timeout=60) for p in both)
    assert set(codes) <= {0, 2}, [p.communicate() for p in both]
    assert len(once_each(erp)) == 30

    # and with certain overlap: the first run waits 3 s on its remote
    shop.seed("orders", [order("99", "2099", updated_at="2027-01-01T00:00:00+00:00")])
    fail(erp, "orders", "99", 0, delay=3)
    erp.calls.clear()
    first = subprocess.Popen([IHOST, "-c", str(path), "run", "orders"], text=True)
    assert wait_for(lambda: erp.calls_to("/api/orders/search"), seconds=10)
    time.sleep(0.2)
    second = run_ihost("-c", str(path), "run", "orders")
    assert second.code == 2
    assert second.err.strip().startswith(
        f"ihost: flow 'orders' is running already (pid {first.pid} on "
    )
    assert second.err.strip().endswith("nothing was done")
    assert first.wait(timeout=30) == 0
    assert len(once_each(erp)) == 31
