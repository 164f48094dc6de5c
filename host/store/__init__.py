"""The host's state: bindings, cursors, runs, activity log and dead letters (DESIGN §7).

SQLite in WAL mode by default (created on first use), PostgreSQL by URL. One
Store serves one thread; the daemon gives each worker its own.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection as DbConnection

from host.store.schema import (
    SCHEMA_VERSION,
    bindings,
    cursors,
    dead_letters,
    events,
    meta,
    metadata,
    runs,
    webhook_events,
)

__all__ = ["Binding", "DeadLetter", "Store"]


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


@dataclass(frozen=True)
class Binding:
    """A source record known to exist in the target as `target_id`."""

    source: str
    target: str
    entity: str
    source_key: str
    target_id: str
    content_hash: str | None
    snapshot_json: str | None
    updated_at: datetime

    @property
    def snapshot(self) -> Any:
        """The mapped record last written (None once purged). A short snapshot is kept
        as the content hash itself."""
        text = self.snapshot_json or self.content_hash
        return json.loads(text) if text and text.startswith("{") else None


@dataclass(frozen=True)
class DeadLetter:
    """A record that failed, kept with its payload until retried, resolved or purged."""

    id: int
    flow: str
    run_id: int | None
    entity: str
    record_key: str
    payload: Any
    error: str
    attempts: int
    status: str
    created_at: datetime
    updated_at: datetime
    resolved_at: datetime | None


def _sqlite_stamp(moment: datetime) -> str:
    """A UTC timestamp as SQLAlchemy's SQLite DATETIME stores it (read back by Core too)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


def _binding(row: Any) -> Binding:
    values = row._mapping
    return Binding(
        values["source"],
        values["target"],
        values["entity"],
        values["source_key"],
        values["target_id"],
        values["content_hash"],
        values["snapshot"],
        values["updated_at"],
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=10000")
    cursor.close()


class Store:
    """Access to the store database; the schema is created on first use."""

    def __init__(self, url: str, retention_days: int = 14) -> None:
        self.url = url
        self.retention_days = retention_days
        if url.startswith("sqlite:///") and url != "sqlite:///:memory:":
            Path(url.removeprefix("sqlite:///")).parent.mkdir(parents=True, exist_ok=True)
        self.engine = sa.create_engine(url)
        if self.engine.dialect.name == "sqlite":
            sa.event.listen(self.engine, "connect", _sqlite_pragmas)
        self._sqlite = self.engine.dialect.name == "sqlite"
        self._tx: DbConnection | None = None
        self._upserts: dict[str, Any] = {}
        self._create()

    def _create(self) -> None:
        metadata.create_all(self.engine)
        with self.engine.begin() as db:
            found = db.execute(sa.select(meta.c.value).where(meta.c.name == "schema")).scalar()
            if found is None:
                db.execute(meta.insert().values(name="schema", value=str(SCHEMA_VERSION)))
            elif int(found) > SCHEMA_VERSION:
                raise RuntimeError(
                    f"the store {self.url} has schema {found}, newer than this ihost "
                    f"({SCHEMA_VERSION}): upgrade ihost"
                )

    def close(self) -> None:
        self.engine.dispose()

    @contextmanager
    def transaction(self) -> Iterator[DbConnection]:
        """Group the writes inside into one commit (nested calls join the outer one)."""
        if self._tx is not None:
            yield self._tx
            return
        with self.engine.begin() as db:
            self._tx = db
            try:
                yield db
            finally:
                self._tx = None

    def _upsert(self, db: DbConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        statement = self._upserts.get(table.name)
        if statement is None:
            keys = [c.name for c in table.primary_key.columns]
            if self.engine.dialect.name == "postgresql":
                from sqlalchemy.dialects.postgresql import insert
            else:
                from sqlalchemy.dialects.sqlite import insert
            stmt = insert(table)
            updates = {c.name: stmt.excluded[c.name] for c in table.columns if c.name not in keys}
            statement = stmt.on_conflict_do_update(index_elements=keys, set_=updates)
            self._upserts[table.name] = statement
        db.execute(statement, rows)

    # --- bindings -------------------------------------------------------------------------

    def get_bindings(
        self, source: str, target: str, entity: str, keys: Iterable[str], snapshots: bool = True
    ) -> dict[str, Binding]:
        """The bindings of the given source keys, by source key (unbound keys absent);
        `snapshots=False` leaves the (large) snapshots unread."""
        wanted = list(dict.fromkeys(keys))
        found: dict[str, Binding] = {}
        with self.transaction() as db:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                if self._sqlite:  # the hot path of every run: skip per-row type processing
                    marks = ",".join("?" * len(chunk))
                    snapshot = "snapshot" if snapshots else "NULL"
                    rows = db.exec_driver_sql(
                        f"SELECT source_key, target_id, content_hash, {snapshot}, updated_at "
                        "FROM bindings WHERE source = ? AND target = ? AND entity = ? "
                        f"AND source_key IN ({marks})",
                        (source, target, entity, *chunk),
                    )
                    for key, target_id, digest, snapshot, stamp in rows:
                        when = datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc)
                        found[key] = Binding(
                            source, target, entity, key, target_id, digest, snapshot, when
                        )
                    continue
                query = sa.select(bindings).where(
                    bindings.c.source == source,
                    bindings.c.target == target,
                    bindings.c.entity == entity,
                    bindings.c.source_key.in_(chunk),
                )
                for row in db.execute(query):
                    found[row.source_key] = _binding(row)
        return found

    def get_binding(self, source: str, target: str, entity: str, key: str) -> Binding | None:
        return self.get_bindings(source, target, entity, [key]).get(key)

    def find_order_binding_by_target(
        self, source: str, target: str, target_id: str
    ) -> Binding | None:
        """The orders binding whose order is `target_id` in the target, if any."""
        query = sa.select(bindings).where(
            bindings.c.entity == "orders",
            bindings.c.source == source,
            bindings.c.target == target,
            bindings.c.target_id == target_id,
        )
        with self.transaction() as db:
            row = db.execute(query).first()
        return _binding(row) if row else None

    def put_bindings(
        self,
        source: str,
        target: str,
        entity: str,
        items: Iterable[tuple[str, str, str | None, Any]],
    ) -> None:
        """Record (source key, target id, content hash, snapshot) items, replacing older
        ones; a snapshot is JSON text or a value to serialise."""
        now = utcnow()
        rows = [
            (source, target, entity, key, target_id, digest, _json_text(snapshot))
            for key, target_id, digest, snapshot in items
        ]
        if not rows:
            return
        with self.transaction() as db:
            if self._sqlite:
                stamp = _sqlite_stamp(now)
                db.exec_driver_sql(
                    "INSERT INTO bindings (source, target, entity, source_key, target_id, "
                    "content_hash, snapshot, updated_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (source, target, entity, source_key) DO UPDATE SET "
                    "target_id = excluded.target_id, content_hash = excluded.content_hash, "
                    "snapshot = excluded.snapshot, updated_at = excluded.updated_at",
                    [(*row, stamp) for row in rows],
                )
                return
            names = (
                "source",
                "target",
                "entity",
                "source_key",
                "target_id",
                "content_hash",
                "snapshot",
            )
            self._upsert(
                db,
                bindings,
                [{**dict(zip(names, row, strict=True)), "updated_at": now} for row in rows],
            )

    def put_binding(
        self,
        source: str,
        target: str,
        entity: str,
        key: str,
        target_id: str,
        content_hash: str | None,
        snapshot: Any = None,
    ) -> None:
        self.put_bindings(source, target, entity, [(key, target_id, content_hash, snapshot)])

    # --- cursors --------------------------------------------------------------------------

    def get_cursor(self, flow: str) -> str | None:
        with self.transaction() as db:
            return db.execute(sa.select(cursors.c.value).where(cursors.c.flow == flow)).scalar()

    def set_cursor(self, flow: str, value: str) -> None:
        with self.transaction() as db:
            self._upsert(db, cursors, [{"flow": flow, "value": value, "updated_at": utcnow()}])

    # --- runs and activity log ------------------------------------------------------------

    def start_run(self, flow: str, kind: str, dry_run: bool = False) -> int:
        with self.transaction() as db:
            result = db.execute(
                runs.insert().values(
                    flow=flow, kind=kind, dry_run=dry_run, status="running", started_at=utcnow()
                )
            )
            return int(result.inserted_primary_key[0])

    def finish_run(
        self, run_id: int, status: str, counts: dict[str, int], error: str | None = None
    ) -> None:
        with self.transaction() as db:
            db.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(status=status, counts=counts, error=error, finished_at=utcnow())
            )

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        with self.transaction() as db:
            row = db.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        return dict(row._mapping) if row else None

    def list_runs(self, flow: str | None = None, limit: int = 20) -> list[dict[str, Any]]:
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit)
        if flow:
            query = query.where(runs.c.flow == flow)
        with self.transaction() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    def add_events(self, rows: list[dict[str, Any]]) -> None:
        """Append activity-log events (keys: run_id, flow, level, record_key, action,
        target_id, message, payload); `at` defaults to now."""
        if not rows:
            return
        now = utcnow()
        full = [
            {
                "run_id": None,
                "level": "info",
                "record_key": None,
                "action": None,
                "target_id": None,
                "message": None,
                "payload": None,
                "at": now,
                **row,
            }
            for row in rows
        ]
        with self.transaction() as db:
            if self._sqlite:
                stamp = _sqlite_stamp(now)
                db.exec_driver_sql(
                    "INSERT INTO events (run_id, flow, at, level, record_key, action, target_id, "
                    "message, payload) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    [
                        (
                            e["run_id"],
                            e["flow"],
                            stamp if e["at"] is now else _sqlite_stamp(e["at"]),
                            e["level"],
                            e["record_key"],
                            e["action"],
                            e["target_id"],
                            e["message"],
                            _json_text(e["payload"]),
                        )
                        for e in full
                    ],
                )
                return
            db.execute(events.insert(), full)

    def list_events(
        self, flow: str | None = None, run_id: int | None = None, limit: int = 200
    ) -> list[dict[str, Any]]:
        query = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if flow:
            query = query.where(events.c.flow == flow)
        if run_id is not None:
            query = query.where(events.c.run_id == run_id)
        with self.transaction() as db:
            return [dict(row._mapping) for row in db.execute(query)]

    # --- dead letters ---------------------------------------------------------------------

    def add_dead_letter(
        self,
        flow: str,
        entity: str,
        record_key: str,
        payload: Any,
        error: str,
        run_id: int | None = None,
    ) -> int:
        """Dead-letter a record; a record already open in this flow gets one more attempt."""
        now = utcnow()
        with self.transaction() as db:
            existing = db.execute(
                sa.select(dead_letters.c.id).where(
                    dead_letters.c.flow == flow,
                    dead_letters.c.record_key == record_key,
                    dead_letters.c.status == "open",
                )
            ).scalar()
            if existing is not None:
                db.execute(
                    dead_letters.update()
                    .where(dead_letters.c.id == existing)
                    .values(
                        attempts=dead_letters.c.attempts + 1,
                        error=error,
                        payload=payload,
                        run_id=run_id,
                        updated_at=now,
                    )
                )
                return int(existing)
            result = db.execute(
                dead_letters.insert().values(
                    flow=flow,
                    run_id=run_id,
                    entity=entity,
                    record_key=record_key,
                    payload=payload,
                    error=error,
                    attempts=1,
                    status="open",
                    created_at=now,
                    updated_at=now,
                )
            )
            return int(result.inserted_primary_key[0])

    def list_dead_letters(
        self, status: str | None = "open", flow: str | None = None
    ) -> list[DeadLetter]:
        query = sa.select(dead_letters).order_by(dead_letters.c.id)
        if status:
            query = query.where(dead_letters.c.status == status)
        if flow:
            query = query.where(dead_letters.c.flow == flow)
        with self.transaction() as db:
            return [DeadLetter(**row._mapping) for row in db.execute(query)]

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        with self.transaction() as db:
            row = db.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).first()
        return DeadLetter(**row._mapping) if row else None

    def resolve_dead_letters(
        self,
        *,
        letter_id: int | None = None,
        flow: str | None = None,
        record_key: str | None = None,
    ) -> int:
        """Mark open dead letters resolved, by id or by flow and record key; returns how many."""
        query = dead_letters.update().where(dead_letters.c.status == "open")
        if letter_id is not None:
            query = query.where(dead_letters.c.id == letter_id)
        elif flow is not None and record_key is not None:
            query = query.where(
                dead_letters.c.flow == flow, dead_letters.c.record_key == record_key
            )
        else:
            raise ValueError("give letter_id, or flow and record_key")
        now = utcnow()
        with self.transaction() as db:
            return db.execute(
                query.values(status="resolved", resolved_at=now, updated_at=now)
            ).rowcount

    # --- webhooks -------------------------------------------------------------------------

    def first_delivery(self, connection: str, event_id: str) -> bool:
        """Record a webhook event; False when it was seen before (a duplicate delivery)."""
        with self.transaction() as db:
            seen = db.execute(
                sa.select(webhook_events.c.event_id).where(
                    webhook_events.c.connection == connection,
                    webhook_events.c.event_id == event_id,
                )
            ).first()
            if seen:
                return False
            db.execute(
                webhook_events.insert().values(
                    connection=connection, event_id=event_id, received_at=utcnow()
                )
            )
            return True

    # --- retention ------------------------------------------------------------------------

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Drop payloads of events and dead letters, and binding snapshots, older than
        retention_days (they may hold personal data)."""
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        with self.transaction() as db:
            purged_events = db.execute(
                events.update()
                .where(events.c.at < cutoff, events.c.payload.is_not(None))
                .values(payload=None)
            ).rowcount
            purged_letters = db.execute(
                dead_letters.update()
                .where(dead_letters.c.updated_at < cutoff, dead_letters.c.payload.is_not(None))
                .values(payload=None)
            ).rowcount
            purged_snapshots = db.execute(
                bindings.update()
                .where(bindings.c.updated_at < cutoff, bindings.c.snapshot.is_not(None))
                .values(snapshot=None)
            ).rowcount
        return {
            "events": purged_events,
            "dead_letters": purged_letters,
            "snapshots": purged_snapshots,
        }
