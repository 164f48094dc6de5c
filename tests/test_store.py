from __future__ import annotations

import sqlite3
from datetime import timedelta
from pathlib import Path

from host.store import Store, utcnow


def test_created_on_first_use_in_wal_mode(tmp_path: Path) -> None:
    db = tmp_path / "deep" / "ihost.db"
    store = Store(f"sqlite:///{db}")
    store.close()
    with sqlite3.connect(db) as raw:
        assert raw.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        tables = {
            row[0] for row in raw.execute("SELECT name FROM sqlite_master WHERE type='table'")
        }
    assert {"bindings", "cursors", "runs", "events", "dead_letters", "meta"} <= tables
    Store(f"sqlite:///{db}").close()  # opening again keeps what is there


def test_bindings(ihost_store: Store) -> None:
    store = ihost_store
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


def test_many_bindings_are_looked_up_in_chunks(ihost_store: Store) -> None:
    keys = [str(i) for i in range(1200)]
    ihost_store.put_bindings("a", "b", "stock", ((k, f"t{k}", None, None) for k in keys))
    assert len(ihost_store.get_bindings("a", "b", "stock", keys)) == 1200


def test_cursor(ihost_store: Store) -> None:
    assert ihost_store.get_cursor("flow") is None
    ihost_store.set_cursor("flow", "2026-01-01T00:00:00+00:00")
    ihost_store.set_cursor("flow", "2026-01-02T00:00:00+00:00")
    assert ihost_store.get_cursor("flow") == "2026-01-02T00:00:00+00:00"


def test_runs_and_events(ihost_store: Store) -> None:
    run = ihost_store.start_run("flow", "orders")
    ihost_store.add_events(
        [{"run_id": run, "flow": "flow", "record_key": "1", "action": "created", "target_id": "X"}]
    )
    ihost_store.finish_run(run, "ok", {"read": 1, "created": 1})
    stored = ihost_store.get_run(run)
    assert stored is not None and stored["status"] == "ok" and stored["counts"]["created"] == 1
    assert stored["finished_at"] >= stored["started_at"]
    (event,) = ihost_store.list_events(run_id=run)
    assert (event["record_key"], event["action"], event["level"]) == ("1", "created", "info")
    assert [r["id"] for r in ihost_store.list_runs("flow")] == [run]


def test_dead_letters(ihost_store: Store) -> None:
    first = ihost_store.add_dead_letter("flow", "orders", "1", {"key": "1"}, "SKU X missing")
    again = ihost_store.add_dead_letter("flow", "orders", "1", {"key": "1"}, "SKU X still missing")
    other = ihost_store.add_dead_letter("flow", "orders", "2", {"key": "2"}, "boom")
    assert first == again != other
    letter = ihost_store.get_dead_letter(first)
    assert letter is not None
    assert (letter.attempts, letter.error, letter.status) == (2, "SKU X still missing", "open")
    assert ihost_store.resolve_dead_letters(flow="flow", record_key="1") == 1
    assert [d.record_key for d in ihost_store.list_dead_letters()] == ["2"]
    assert ihost_store.resolve_dead_letters(letter_id=other) == 1
    assert ihost_store.list_dead_letters() == []
    assert len(ihost_store.list_dead_letters(status="resolved")) == 2
    # a new failure of a resolved record opens a new letter
    assert ihost_store.add_dead_letter("flow", "orders", "1", {}, "again") not in (first, other)


def test_purge_drops_old_payloads_only(ihost_store: Store) -> None:
    old = utcnow() - timedelta(days=20)
    ihost_store.add_events([{"flow": "f", "payload": {"email": "a@b.nl"}, "at": old}])
    ihost_store.add_events([{"flow": "f", "payload": {"kept": True}}])
    letter = ihost_store.add_dead_letter("f", "orders", "1", {"email": "a@b.nl"}, "boom")
    ihost_store.put_binding("s", "t", "customers", "c1", "D1", "h", {"email": "a@b.nl"})
    assert ihost_store.purge() == {"events": 1, "dead_letters": 0, "snapshots": 0}
    assert [e["payload"] for e in ihost_store.list_events()] == [{"kept": True}, None]
    later = utcnow() + timedelta(days=15)
    assert ihost_store.purge(now=later) == {"events": 1, "dead_letters": 1, "snapshots": 1}
    binding = ihost_store.get_binding("s", "t", "customers", "c1")
    assert binding is not None and binding.snapshot is None and binding.content_hash == "h"
    purged = ihost_store.get_dead_letter(letter)
    assert purged is not None and purged.payload is None and purged.error == "boom"
