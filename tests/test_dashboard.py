"""The daemon's dashboard, JSON API, metrics and access token, over real HTTP."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from flow_data import order, product
from helpers import healthy, run_ihost
from ihost_testconnectors.sandbox import RecordSandbox
from prometheus_client.parser import text_string_to_metric_families
from test_daemon import config, free_port, start, stop, wait_for


@pytest.fixture
def daemon(tmp_path: Path) -> Iterator[tuple[str, RecordSandbox, RecordSandbox]]:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        erp.seed("products", [product("SKU-1")])
        shop.seed("orders", [order("1", "1001"), order("2", "1002", skus=("SKU-9",))])
        port = free_port()
        process = start(config(tmp_path, shop, erp, "every 1h"), port)
        try:
            yield f"http://127.0.0.1:{port}", shop, erp
        finally:
            stop(process)


def test_flows_runs_dead_letters_and_matrix(
    daemon: tuple[str, RecordSandbox, RecordSandbox],
) -> None:
    base, _, erp = daemon
    assert wait_for(lambda: httpx.get(f"{base}/api/flows").json()[0]["status"] == "failed")
    page = httpx.get(base).text
    assert 'data-flow="orders"' in page and "shop → erp" in page and "every 1h" in page
    run_id = int(re.search(r'href="/runs/(\d+)"', page)[1])
    run = httpx.get(f"{base}/runs/{run_id}").text
    assert ">1<" in run and "created" in run and "SKU SKU-9 not found in erp" in run

    (orders,) = httpx.get(f"{base}/api/flows").json()
    assert orders["open_letters"] == 1 and orders["next_run"] is not None
    assert len(orders["attention"]) == 2 and orders["attention"][1] == "its last run failed"
    assert re.fullmatch(r"1 open dead letter, the oldest \d+ s old", orders["attention"][0])
    assert 'class="attention failed"' in httpx.get(base).text  # red while a person is needed
    letters = httpx.get(f"{base}/api/deadletters").json()
    (letter,) = letters
    assert letter["record_key"] == "2" and "payload" not in letter
    assert f'data-letter="{letter["id"]}"' in httpx.get(f"{base}/deadletters").text
    erp.seed("products", [product("SKU-9")])  # fixed in the ERP: retry from the dashboard
    answer = httpx.post(f"{base}/deadletters/{letter['id']}/retry", follow_redirects=True)
    assert f"dead letter {letter['id']}: resolved" in answer.text
    assert httpx.get(f"{base}/api/deadletters").json() == []
    assert {o["number"] for o in erp.dump("orders")} == {"1001", "1002"}
    # retried and resolved: the retry is the flow's last run; nothing needs a person
    (orders,) = httpx.get(f"{base}/api/flows").json()
    assert orders["open_letters"] == 0 and orders["attention"] == []
    assert 'class="attention ok"' in httpx.get(base).text

    matrix = httpx.get(f"{base}/matrix").text
    assert "testshop" in matrix and 'href="/deadletters"' in matrix  # in the dashboard
    # the reasons are on the page, not only in tooltips
    assert "<li>testshop → testerp: partial: variants flattened: target has no variants" in matrix
    assert httpx.get(f"{base}/api/matrix").json()["pairs"]
    docs = httpx.get(f"{base}/docs").text  # Swagger UI from the daemon itself: no network
    assert "cdn" not in docs.lower() and "/static-offline-docs/swagger-ui-bundle.js" in docs
    bundle = httpx.get(f"{base}/static-offline-docs/swagger-ui-bundle.js")
    assert bundle.status_code == 200 and "SwaggerUIBundle" in bundle.text
    paths = httpx.get(f"{base}/openapi.json").json()["paths"]
    assert {"/api/flows", "/api/runs", "/api/deadletters"} <= set(paths)
    assert httpx.post(f"{base}/api/flows/orders/run").json()["flow"] == "orders"


def test_metrics_parse_as_prometheus_text(daemon: tuple[str, RecordSandbox, RecordSandbox]) -> None:
    base, _, _ = daemon
    assert wait_for(lambda: httpx.get(f"{base}/api/flows").json()[0]["status"] == "failed")
    text = httpx.get(f"{base}/metrics").text
    families = {f.name: f for f in text_string_to_metric_families(text)}
    records = {
        (s.labels["flow"], s.labels["action"]): s.value
        for s in families["ihost_records"].samples
        if s.name == "ihost_records_total"
    }
    assert records[("orders", "created")] == 1 and records[("orders", "failed")] == 1
    assert families["ihost_dead_letters_open"].samples[0].value == 1
    assert "ihost_run_duration_seconds" in families
    assert "ihost_rate_limit_wait_seconds" in families


def test_beyond_loopback_needs_a_token(tmp_path: Path) -> None:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        path = config(tmp_path, shop, erp, "every 1h")
        refused = run_ihost("-c", str(path), "daemon", "--host", "0.0.0.0")
        assert refused.code == 2
        assert refused.err.strip() == (
            "listening on 0.0.0.0 needs an access token: set IHOST_DAEMON_TOKEN or --token"
        )


def test_token_guards_everything_but_health_and_webhooks(tmp_path: Path) -> None:
    import os
    import subprocess

    from helpers import IHOST

    with RecordSandbox() as shop, RecordSandbox() as erp:
        path = config(tmp_path, shop, erp, "every 1h")
        port = free_port()
        process = subprocess.Popen(
            [IHOST, "-c", str(path), "daemon", "--port", str(port)],
            text=True,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            env={**os.environ, "IHOST_DAEMON_TOKEN": "dash-token-42"},
        )
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_for(lambda: healthy(base))
            assert httpx.get(f"{base}/api/flows").status_code == 401
            assert httpx.get(f"{base}/metrics").status_code == 401
            assert httpx.get(base).headers.get("location") == "/login"
            assert (
                httpx.get(
                    f"{base}/api/flows", headers={"X-Ihost-Token": "dash-token-42"}
                ).status_code
                == 200
            )
            assert (
                httpx.get(
                    f"{base}/api/flows", headers={"Authorization": "Bearer dash-token-42"}
                ).status_code
                == 200
            )
            wrong = httpx.post(
                f"{base}/login",
                content="token=nope",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert wrong.status_code == 401
            signed_in = httpx.post(
                f"{base}/login",
                content="token=dash-token-42",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            assert signed_in.status_code == 303
            cookie = signed_in.cookies.get("ihost_token")
            page = httpx.get(base, cookies={"ihost_token": cookie})
            assert page.status_code == 200 and "dash-token-42" not in page.text
            assert 'action="/logout"' in page.text  # sign-out on every page
            out = httpx.post(f"{base}/logout", cookies={"ihost_token": cookie})
            assert out.status_code == 303 and out.headers["location"] == "/login"
            gone = out.headers["set-cookie"]  # the browser is told to forget the token
            assert gone.startswith('ihost_token=""') and "Max-Age=0" in gone
            assert (
                httpx.post(f"{base}/webhooks/shop", content=b"{}").status_code == 401
            )  # signature
        finally:
            stop(process)


def test_feedback_page_shows_each_orders_latest_feedback(tmp_path: Path) -> None:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        erp.seed("products", [product("SKU-1")])
        shop.seed("orders", [order("1", "1001")])
        shop.seed(
            "feedback",
            [
                {"id": "F1", "key": "F1", "order_key": "1", "order_number": "1001"}
                | {"status": "completed", "score": "85", "grade": "8.5", "unit": "Webshop"}
                | {"customer_key": "c-secret-1"}
            ],
        )
        path = config(tmp_path, shop, erp, "every 1h")
        with path.open("a") as toml:
            toml.write('[flows.feedback]\nkind = "feedback"\nsource = "shop"\ntarget = "erp"\n')
        port = free_port()
        process = start(path, port)
        try:
            base = f"http://127.0.0.1:{port}"

            def orders_done() -> bool:
                flows = {f["name"]: f for f in httpx.get(f"{base}/api/flows").json()}
                return bool(flows["orders"]["status"] == "ok")

            assert wait_for(orders_done)
            assert httpx.post(f"{base}/api/flows/feedback/run").status_code == 200
            assert wait_for(lambda: httpx.get(f"{base}/api/feedback").json() != [])
            (kept,) = httpx.get(f"{base}/api/feedback").json()
            assert (kept["order_number"], kept["status"], kept["score"]) == (
                "1001",
                "completed",
                "85",
            )
            assert kept["source"] == "shop" and kept["target"] == "erp" and kept["key"] == "F1"
            page = httpx.get(f"{base}/feedback").text
            assert 'data-feedback="F1"' in page and "1001" in page and "8.5" in page
            assert "Webshop" in page and "c-secret-1" not in page  # no customer keys shown
        finally:
            stop(process)


def test_a_scheduled_flow_that_did_not_run_needs_a_person() -> None:
    from datetime import datetime, timedelta, timezone
    from types import SimpleNamespace

    from host.daemon.web import _needs_a_person

    now = datetime(2026, 12, 2, 12, 0, tzinfo=timezone.utc)
    flow = SimpleNamespace(enabled=True, schedule="every 5m")
    recent = {"status": "ok", "started_at": now - timedelta(minutes=4)}
    assert _needs_a_person(flow, recent, [], False, now) == []
    stale = {"status": "ok", "started_at": now - timedelta(hours=3)}
    assert _needs_a_person(flow, stale, [], False, now) == [
        "has not run when it should have: due 2 h ago"
    ]
    assert _needs_a_person(flow, stale, [], True, now) == []  # running now
    off = SimpleNamespace(enabled=False, schedule="every 5m")
    assert _needs_a_person(off, stale, [], False, now) == []


def test_runs_history_pages_and_filters(daemon: tuple[str, RecordSandbox, RecordSandbox]) -> None:
    base, _, erp = daemon
    assert wait_for(lambda: httpx.get(f"{base}/api/flows").json()[0]["status"] == "failed")
    erp.seed("products", [product("SKU-9")])  # the next run writes the waiting order
    httpx.post(f"{base}/api/flows/orders/run")
    assert wait_for(lambda: len(httpx.get(f"{base}/api/runs").json()) == 2)
    assert wait_for(lambda: httpx.get(f"{base}/api/runs").json()[0]["status"] == "ok")
    newest, first = httpx.get(f"{base}/api/runs").json()
    assert [r["id"] for r in httpx.get(f"{base}/api/runs?limit=1&offset=1").json()] == [first["id"]]
    failed = httpx.get(f"{base}/api/runs?status=failed").json()
    assert [r["id"] for r in failed] == [first["id"]]
    assert httpx.get(f"{base}/api/runs?since=2999-01-01T00:00:00").json() == []
    assert httpx.get(f"{base}/api/runs?limit=0").status_code == 422
    page = httpx.get(f"{base}/runs?status=ok").text
    assert f'data-run="{newest["id"]}"' in page and f'data-run="{first["id"]}"' not in page
    assert "<option selected>ok</option>" in page
    older = httpx.get(f"{base}/runs?offset=1").text
    assert f'data-run="{first["id"]}"' in older and 'id="newer"' in older
    assert httpx.get(f"{base}/runs?since=yesterday").status_code == 400


def test_dead_letters_filter_and_act_in_bulk(tmp_path: Path) -> None:
    with RecordSandbox() as shop, RecordSandbox() as erp:
        erp.seed("products", [product("SKU-1")])
        shop.seed(
            "orders",
            [
                order("1", "1001"),
                order("2", "1002", skus=("SKU-9",)),
                order("3", "1003", skus=("SKU-8",)),
                order("4", "1004", skus=("SKU-7",)),
            ],
        )
        port = free_port()
        process = start(config(tmp_path, shop, erp, "every 1h"), port)
        base = f"http://127.0.0.1:{port}"
        try:
            assert wait_for(lambda: len(httpx.get(f"{base}/api/deadletters").json()) == 3)
            ids = {d["record_key"]: d["id"] for d in httpx.get(f"{base}/api/deadletters").json()}
            assert httpx.get(f"{base}/api/deadletters?flow=orders").json() != []
            assert httpx.get(f"{base}/api/deadletters?flow=other").json() == []
            assert httpx.get(f"{base}/api/deadletters?older_than=1").json() == []  # minutes old
            page = httpx.get(f"{base}/deadletters?flow=orders").text
            assert all(f'data-letter="{i}"' in page for i in ids.values())
            assert 'name="id"' in page and "first failed (UTC)" in page

            erp.seed("products", [product("SKU-9"), product("SKU-8")])  # two can go now
            form = f"action=retry&id={ids['2']}&id={ids['3']}"
            done = httpx.post(
                f"{base}/deadletters/bulk",
                content=form,
                headers={"Content-Type": "application/x-www-form-urlencoded"},
                follow_redirects=True,
            )
            assert f"dead letter {ids['2']}: resolved" in done.text
            assert f"dead letter {ids['3']}: resolved" in done.text
            (left,) = httpx.get(f"{base}/api/deadletters").json()
            assert left["record_key"] == "4"
            httpx.post(
                f"{base}/deadletters/bulk",
                content=f"action=resolve&id={ids['4']}",
                headers={"Content-Type": "application/x-www-form-urlencoded"},
            )
            resolved = httpx.get(f"{base}/api/deadletters?status=resolved").json()
            assert sorted(d["record_key"] for d in resolved) == ["2", "3", "4"]
            assert all(d["resolved_at"] for d in resolved)
            listed = httpx.get(f"{base}/deadletters?status=resolved").text
            assert listed.count('class="resolved"') == 3 and "resolved 20" in listed
            assert httpx.get(f"{base}/api/deadletters?status=gone").status_code == 400
        finally:
            stop(process)
