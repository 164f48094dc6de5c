"""The store, on SQLite and on PostgreSQL (`store_url` runs each test on both)."""

from __future__ import annotations

import os
import signal
import sqlite3
import subprocess
import sys
import textwrap
import threading
import time
from collections.abc import Iterator
from contextlib import nullcontext
from datetime import timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import host.store
from host.errors import ConfigError, FlowBusy
from host.store import Store, utcnow
from host.store.schema import SCHEMA_VERSION, runs


@pytest.fixture
def store(store_url: str) -> Iterator[Store]:
    opened = Store(store_url)
    yield opened
    opened.close()


def test_created_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "ihost.db"
    store = Store(f"sqlite:///{db}")
    store.close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {
            row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"bindings", "cursors", "runs", "events", "dead_letters", "meta"} <= tables
    Store(f"sqlite:///{db}").close()  # opening again keeps what is there


def test_a_store_in_a_missing_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist: create it first"):
        Store(f"sqlite:///{tmp_path / 'nowhere' / 'ihost.db'}")
    assert not (tmp_path / "nowhere").exists()


def test_bindings(store: Store) -> None:
    assert store.get_binding("shop", "erp", "orders", "1") is None
    store.put_bindings(
        "shop", "erp", "orders", [("1", "SO-1", "h1", None), ("2", "SO-2", "h2", {"n": 2})]
    )
    store.put_binding("shop", "erp", "orders", "1", "SO-1", "h1b")
    found = store.get_bindings("shop", "erp", "orders", ["1", "2", "3"])
    assert {k: (b.target_id, b.content_hash) for k, b in found.items()} == {
        "1": ("SO-1", "h1b"),
        "2": ("SO-2", "h2"),
    }
    assert found["1"].updated_at.tzinfo is not None and found["2"].snapshot == {"n": 2}
    assert store.get_bindings("erp", "shop", "orders", ["1"]) == {}  # direction matters
    by_target = store.find_order_binding_by_target("shop", "erp", "SO-2")
    assert by_target is not None and by_target.source_key == "2"


def test_keys_too_long_or_holding_nul_are_kept_apart(store: Store) -> None:
    long_a, long_b = "A" * 300 + "1", "A" * 300 + "2"  # the same first 255 characters
    odd = "key\x00with-nul"
    store.put_bindings("s", "t", "orders", [(long_a, "T-a", "h", None), (long_b, "T-b", "h", None)])
    store.put_binding("s", "t", "orders", odd, "T\x00odd", "h")
    found = store.get_bindings("s", "t", "orders", [long_a, long_b, odd])
    assert {k: b.target_id for k, b in found.items()} == {
        long_a: "T-a",
        long_b: "T-b",
        odd: "T\\x00odd",
    }
    letter = store.add_dead_letter("f", "orders", odd, {"k": "v"}, "bad\x00 error", detail="x\x00")
    assert store.resolve_dead_letters(flow="f", record_key=odd) == 1
    assert store.get_dead_letter(letter).error == "bad\\x00 error"  # type: ignore[union-attr]
    store.add_events([{"flow": "f", "record_key": long_a, "message": "m\x00"}])
    assert store.list_events()[0]["message"] == "m\\x00"


def test_many_bindings_are_looked_up_in_chunks(store: Store) -> None:
    keys = [str(i) for i in range(1200)]
    store.put_bindings("a", "b", "stock", ((k, f"t{k}", None, None) for k in keys))
    assert len(store.get_bindings("a", "b", "stock", keys)) == 1200


def test_cursor(store: Store) -> None:
    assert store.get_cursor("flow") is None
    store.set_cursor("flow", "2026-01-01T00:00:00+00:00")
    store.set_cursor("flow", "2026-01-02T00:00:00+00:00")
    assert store.get_cursor("flow") == "2026-01-02T00:00:00+00:00"


def test_runs_and_events(store: Store) -> None:
    run = store.start_run("flow", "orders")
    store.add_events(
        [{"run_id": run, "flow": "flow", "record_key": "1", "action": "created", "target_id": "X"}]
    )
    store.finish_run(run, "ok", {"read": 1, "created": 1})
    stored = store.get_run(run)
    assert stored is not None and stored["status"] == "ok" and stored["counts"]["created"] == 1
    assert stored["finished_at"] >= stored["started_at"]
    (event,) = store.list_events(run_id=run)
    assert (event["record_key"], event["action"], event["level"]) == ("1", "created", "info")
    assert [r["id"] for r in store.list_runs("flow")] == [run]


def test_dead_letters(store: Store) -> None:
    first = store.add_dead_letter("flow", "orders", "1", {"key": "1"}, "SKU X missing")
    again = store.add_dead_letter("flow", "orders", "1", {"key": "1"}, "SKU X still missing")
    other = store.add_dead_letter("flow", "orders", "2", {"key": "2"}, "boom", detail="words")
    assert first == again != other
    letter = store.get_dead_letter(first)
    assert letter is not None
    assert (letter.attempts, letter.error, letter.status) == (2, "SKU X still missing", "open")
    assert store.get_dead_letter(other).detail == "words"  # type: ignore[union-attr]
    assert store.resolve_dead_letters(flow="flow", record_key="1", by="run 7") == 1
    assert [d.record_key for d in store.list_dead_letters()] == ["2"]
    assert store.get_dead_letter(first).resolved_by == "run 7"  # type: ignore[union-attr]
    assert store.resolve_dead_letters(letter_id=other) == 1
    assert store.list_dead_letters() == []
    assert len(store.list_dead_letters(status="resolved")) == 2
    # a new failure of a resolved record opens a new letter
    assert store.add_dead_letter("flow", "orders", "1", {}, "again") not in (first, other)


def test_purge_drops_old_payloads_and_remote_words_only(store: Store) -> None:
    old = utcnow() - timedelta(days=20)
    store.add_events([{"flow": "f", "payload": {"email": "a@b.nl"}, "at": old}])
    store.add_events([{"flow": "f", "payload": {"kept": True}}])
    letter = store.add_dead_letter(
        "f", "orders", "1", {"email": "a@b.nl"}, "boom", detail="street 'Dam 1' refused"
    )
    store.put_binding("s", "t", "customers", "c1", "D1", "h", {"email": "a@b.nl"})
    story = {
        "flow": "f",
        "entity": "customers",
        "record_key": "c1",
        "action": "updated",
        "target_id": "D1",
        "reason": "street refused",
        "detail": "street 'Dam 1' refused",
        "source": {"email": "a@b.nl"},
        "mapped": {"mail": "a@b.nl"},
        "calls": [{"method": "PUT", "sent": {"mail": "a@b.nl"}}],
        "changes": {"mail": ["x@b.nl", "a@b.nl"]},
    }
    earlier, latest = store.start_run("f", "customers"), store.start_run("f", "customers")
    with store.transaction() as db:  # the earlier run started 20 days ago
        db.execute(runs.update().where(runs.c.id == earlier).values(started_at=old))
    store.add_record_entries([{**story, "run_id": earlier}, {**story, "run_id": latest}])
    # a run still going may keep entries yet: the purge waits for it
    assert store.purge() == {"events": 1, "dead_letters": 0, "snapshots": 0, "records": 0}
    store.finish_run(earlier, "ok", {})
    store.finish_run(latest, "ok", {})
    assert store.purge()["records"] == 1
    assert [e["payload"] for e in store.list_events()] == [{"kept": True}, None]
    newer, older = store.list_record_entries(search="D1")
    assert newer["source"] == {"email": "a@b.nl"} and newer["calls"] is not None
    assert [older[name] for name in ("source", "mapped", "calls", "changes", "detail")] == [
        None
    ] * 5
    assert (older["record_key"], older["action"], older["reason"]) == (
        "c1",
        "updated",
        "street refused",
    )  # the history stays
    later = utcnow() + timedelta(days=15)
    assert store.purge(now=later) == {
        "events": 1,
        "dead_letters": 1,
        "snapshots": 1,
        "records": 1,
    }
    binding = store.get_binding("s", "t", "customers", "c1")
    assert binding is not None and binding.snapshot is None and binding.content_hash == "h"
    purged = store.get_dead_letter(letter)
    assert purged is not None and purged.payload is None and purged.detail is None
    assert purged.error == "boom"


def test_webhook_deliveries_are_acted_on_once(store: Store) -> None:
    assert store.first_delivery("shop", "event-1") is True
    assert store.first_delivery("shop", "event-1") is False
    assert store.first_delivery("other", "event-1") is True


@pytest.mark.parametrize("shared", [False, True], ids=["own-stores", "one-store"])
def test_writers_in_many_threads_wait_their_turn(store_url: str, shared: bool) -> None:
    """Eight threads write at once, each with its own store or all through one (as the
    daemon's web requests do): none fails."""
    errors: list[BaseException] = []
    common = Store(store_url) if shared else None

    def work(number: int) -> None:
        try:
            with nullcontext(common) if common else Store(store_url) as own:
                for i in range(40):
                    run = own.start_run(f"flow-{number}", "orders")
                    own.put_binding("s", "t", "orders", f"{number}-{i}", "T", "h")
                    own.add_dead_letter(f"flow-{number}", "orders", f"{i}", {}, "boom")
                    own.add_events([{"flow": f"flow-{number}", "run_id": run, "message": "m"}])
                    own.finish_run(run, "ok", {})
        except BaseException as exc:  # reported below
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if common is not None:
        common.close()
    assert errors == []
    with Store(store_url) as check:
        assert len(check.list_runs(limit=1000)) == 320


def test_threads_sharing_a_store_each_have_their_own_transaction(store: Store) -> None:
    """A thread's open transaction is neither joined nor seen by another thread of the same
    store, and its rollback takes back only its own writes."""
    written, decided = threading.Event(), threading.Event()
    errors: list[BaseException] = []

    def writer() -> None:
        try:
            with store.transaction():
                store.set_cursor("orders", "the writer's")
                written.set()
                decided.wait(60)
                raise LookupError("rolled back")
        except LookupError:
            pass
        except BaseException as exc:  # reported below
            errors.append(exc)

    thread = threading.Thread(target=writer)
    thread.start()
    assert written.wait(60)
    try:
        assert store.get_cursor("orders") is None  # uncommitted, in another transaction
    finally:
        decided.set()
        thread.join()
    assert errors == []
    assert store.get_cursor("orders") is None
    store.set_cursor("orders", "mine")
    assert store.get_cursor("orders") == "mine"


def test_one_holder_per_flow_and_its_abandoned_runs_are_aborted(store: Store) -> None:
    with store.lock_flow("orders"):
        with pytest.raises(FlowBusy, match=r"flow 'orders' is running already \(pid \d+ on "):
            store.lock_flow("orders")
        with store.lock_flow("other-flow"):  # another flow is free
            pass
        left = store.start_run("orders", "orders")  # as a run killed mid-way leaves it
    with store.lock_flow("orders") as lock:
        assert lock.aborted == 1
    run = store.get_run(left)
    assert run is not None and run["status"] == "aborted"
    assert "ended without finishing" in run["error"]


HOLDER = """
import sys, time
from host.store import Store
store = Store(sys.argv[1])
lock = store.lock_flow("orders")
store.start_run("orders", "orders")
print("holding", flush=True)
time.sleep(60)
"""


def test_the_lock_holds_across_processes_and_dies_with_its_holder(store_url: str) -> None:
    with Store(store_url) as store:
        holder = subprocess.Popen(
            [sys.executable, "-c", textwrap.dedent(HOLDER), store_url],
            stdout=subprocess.PIPE,
            text=True,
        )
        try:
            assert holder.stdout is not None and holder.stdout.readline().strip() == "holding"
            with pytest.raises(FlowBusy, match=f"pid {holder.pid} "):
                store.lock_flow("orders")
        finally:
            os.kill(holder.pid, signal.SIGKILL)
            holder.wait()
        deadline = time.monotonic() + 10  # PostgreSQL notices the closed session at once
        while True:
            try:
                lock = store.lock_flow("orders")
                break
            except FlowBusy:
                assert time.monotonic() < deadline, "the lock outlived its process"
                time.sleep(0.1)
        assert lock.aborted == 1  # the run the killed process left `running`
        lock.release()


def test_a_store_of_schema_1_is_brought_up_to_date(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'old.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "old.db") as raw:  # as ihost 0.1 left it
        raw.execute("ALTER TABLE dead_letters DROP COLUMN detail")
        raw.execute("DROP TABLE flow_locks")
        raw.execute("UPDATE meta SET value = '1' WHERE name = 'schema'")
    host.store._READY.discard(url)
    with Store(url) as store:
        letter = store.add_dead_letter("f", "orders", "1", {}, "boom", detail="words")
        assert store.get_dead_letter(letter).detail == "words"  # type: ignore[union-attr]
        with store.lock_flow("f"):
            pass
        with store.engine.connect() as db:
            version = db.execute(sa.text("SELECT value FROM meta WHERE name = 'schema'"))
            assert version.scalar() == str(SCHEMA_VERSION)


def test_a_store_of_schema_5_gets_the_record_log_and_its_new_columns(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'five.db'}"
    Store(url).close()
    with sqlite3.connect(tmp_path / "five.db") as raw:  # as issue 17's ihost left it
        for table, column in (
            ("runs", "rate_limit_wait"),
            ("dead_letters", "kind"),
            ("dead_letters", "resolved_by"),
        ):
            raw.execute(f"ALTER TABLE {table} DROP COLUMN {column}")
        raw.execute("DROP TABLE record_log")
        raw.execute("UPDATE meta SET value = '5' WHERE name = 'schema'")
    host.store._READY.discard(url)
    with Store(url) as store:
        run = store.start_run("f", "orders")
        store.finish_run(run, "ok", {}, rate_limit_wait=1.5)
        assert store.get_run(run)["rate_limit_wait"] == 1.5  # type: ignore[index]
        letter = store.add_dead_letter("f", "orders", "1", {}, "boom", kind="refused")
        store.resolve_dead_letters(letter_id=letter, by="by hand")
        found = store.get_dead_letter(letter)
        assert found is not None and (found.kind, found.resolved_by) == ("refused", "by hand")
        store.add_record_entries(
            [{"flow": "f", "entity": "orders", "record_key": "1", "action": "created"}]
        )
        assert [e["action"] for e in store.list_record_entries(search="1")] == ["created"]
