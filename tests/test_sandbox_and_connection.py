"""The sandbox base, Connection (one PluginManager per connection) and specs lookup."""

from __future__ import annotations

import logging
from pathlib import Path

import httpx
import pytest
from ihost_testconnectors.plugin import ErpPlugin, ShopPlugin
from ihost_testconnectors.sandbox import RecordSandbox

from host import hookimpl
from host.plugins import Connection, discover
from host.sandbox import specs_dir


def test_sandbox_serves_on_an_ephemeral_loopback_port() -> None:
    first, second = RecordSandbox(), RecordSandbox()
    with first, second:
        assert first.base_url.startswith("http://127.0.0.1:")
        assert first.port != second.port
        answer = httpx.get(first.base_url + "/api/ping")
        assert answer.status_code == 401
        assert first.calls_to("/api/ping")[0].status == 401
        assert second.calls == []
    with pytest.raises(RuntimeError, match="not started"):
        _ = first.base_url
    first.stop()  # a second stop is harmless


def test_seed_and_dump_in_native_shape(sandbox: RecordSandbox) -> None:
    sandbox.seed("customers", [{"id": "7", "email": "a@b.nl", "updated_at": "2026-01-01"}])
    assert sandbox.dump("customers") == [{"id": "7", "email": "a@b.nl", "updated_at": "2026-01-01"}]


def test_connection_routes_hooks_through_its_own_plugin_manager(sandbox: RecordSandbox) -> None:
    registry = discover()
    shop = registry.get("testshop")
    settings = ShopPlugin.Settings.model_validate(sandbox.connection_settings())
    with Connection("webshop", shop, settings) as conn:
        assert conn.implements("fetch_orders") and not conn.implements("create_order")
        assert conn.hook.check_connection() is None
        orders = conn.hook.fetch_orders(since=None, statuses=["paid"])
        assert list(orders) == []
        assert conn.stats.calls["check_connection"] == 1
        assert conn.stats.calls["fetch_orders"] == 1
        assert conn.hook.create_order(order=None, order_type="sales_order", debtor_id=None) is None


def test_middleware_wraps_and_tryfirst_answers_first(sandbox: RecordSandbox) -> None:
    erp = discover().get("testerp")
    settings = ErpPlugin.Settings.model_validate(sandbox.connection_settings())
    seen: list[str] = []

    class Planner:
        @hookimpl(tryfirst=True)
        def find_order(self, order: object) -> str:
            seen.append("planned")
            return "planned-id"

    with Connection("erp", erp, settings) as conn:
        conn.register(Planner(), "planner")
        assert conn.hook.find_order(order=object(), order_type="sales_order") == "planned-id"
        assert seen == ["planned"] and sandbox.calls_to("/api/orders") == []
        assert conn.implements("find_order")  # the connector's own implementation


def test_specs_dir_from_env_or_beside_the_repository(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("IHOST_SPECS_DIR", str(tmp_path))
    assert specs_dir() == tmp_path
    monkeypatch.setenv("IHOST_SPECS_DIR", str(tmp_path / "missing"))
    with caplog.at_level(logging.WARNING):
        assert specs_dir() is None
        assert specs_dir() is None
    assert caplog.text.count("sandboxes run without validation") == 1
    monkeypatch.delenv("IHOST_SPECS_DIR")
    beside = Path(__file__).resolve().parents[1].parent / "shared" / "specs"
    assert specs_dir() == (beside if beside.is_dir() else None)
