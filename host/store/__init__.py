"""The host's state: bindings, cursors, runs, activity log and dead letters (DESIGN §7).

SQLite in WAL mode by default (created on first use), PostgreSQL by URL. One Store
may serve many threads (the daemon's web requests share one): each thread's transaction
is its own, on a connection of the store's pool (SQLAlchemy's QueuePool, on SQLite too).

Writers wait their turn, never fail: a write transaction is short (no remote call
runs inside one), takes SQLite's write lock at its start (BEGIN IMMEDIATE, so two
writers never deadlock on an upgrade), and the threads of one process queue for it
before SQLite's own busy timeout comes into play. A flow is run by one holder at a
time, across processes: `lock_flow` (a row checked against the holder's process on
SQLite, an advisory lock on PostgreSQL, both released when the process dies).
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import threading
import uuid
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any, overload

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection as DbConnection

from host.errors import ConfigError, FlowBusy
from host.store.schema import (
    SCHEMA_VERSION,
    bindings,
    cursors,
    dead_letters,
    events,
    flow_locks,
    meta,
    metadata,
    record_log,
    runs,
    webhook_events,
)

__all__ = ["Binding", "BindingItem", "DeadLetter", "FlowLock", "Store", "check_url"]

#: what put_bindings records: (source key, target id, content hash, snapshot), and
#: optionally a fingerprint (JSON text) at the end
BindingItem = tuple[str, str, str | None, Any] | tuple[str, str, str | None, Any, str | None]

BUSY_TIMEOUT_MS = 120_000  # another process's write: wait, do not fail
_WRITE_LOCKS: dict[str, threading.RLock] = {}
_WRITE_LOCKS_GUARD = threading.Lock()
_READY: set[str] = set()  # stores whose schema this process has checked
PURGED_RUN = "record_log_purged_run"  # meta: the last run whose record-log payloads are purged


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
    fingerprint: str | None = None  # what the flow keeps to tell what changed (JSON)

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
    detail: str | None = None
    kind: str | None = None  # host.errors.error_kind
    resolved_by: str | None = None


def _sqlite_stamp(moment: datetime) -> str:
    """A UTC timestamp as SQLAlchemy's SQLite DATETIME stores it (read back by Core too)."""
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")


KEY_LENGTH = 255  # the key columns' width


def store_key(value: str) -> str:
    """A record key or id as the store keeps it: NUL escaped (PostgreSQL's text refuses
    it), and a key longer than the key columns cut with a digest that keeps it unique."""
    if "\x00" in value:
        value = value.replace("\x00", "\\x00")
    if len(value) > KEY_LENGTH:
        digest = hashlib.sha256(value.encode()).hexdigest()[:16]
        value = f"{value[: KEY_LENGTH - 17]}~{digest}"
    return value


def _fits(value: str) -> bool:
    return len(value) <= KEY_LENGTH and "\x00" not in value


@overload
def _text(value: str) -> str: ...
@overload
def _text(value: None) -> None: ...
def _text(value: str | None) -> str | None:
    """Free text (messages, errors) with NUL escaped."""
    return value.replace("\x00", "\\x00") if value and "\x00" in value else value


def _new_id(result: sa.CursorResult[Any]) -> int:
    """The id the database gave the row `result` inserted."""
    key = result.inserted_primary_key
    if key is None:
        raise RuntimeError("the database returned no id for the inserted row")
    return int(key[0])


def _json_text(value: Any) -> str | None:
    if value is None or isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), default=str)


#: the record log's columns that hold JSON (as text)
_RECORD_JSON = ("source", "mapped", "calls", "changes")
#: the columns add_record_entries writes, in its order, `at` apart
_RECORD_COLUMNS = (
    "run_id",
    "flow",
    "entity",
    "record_key",
    "order_ref",
    "action",
    "target_id",
    "attempts",
    "reason",
    "detail",
    *_RECORD_JSON,
)


def _key_or_none(value: Any) -> str | None:
    return store_key(str(value)) if value is not None else None


def _record_entry(row: Any) -> dict[str, Any]:
    """A record-log row with its JSON columns read back as values."""
    entry = dict(row._mapping)
    for name in _RECORD_JSON:
        if entry[name] is not None:
            entry[name] = json.loads(entry[name])
    return entry


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
        values["fingerprint"],
    )


def _sqlite_connect(dbapi_connection: Any, _record: Any) -> None:
    dbapi_connection.isolation_level = None  # the "begin" listener says how to begin
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.close()


def _sqlite_begin(db: DbConnection) -> None:
    # a writer takes the write lock at once; a reader reads without a transaction of its own
    if db.info.get("ihost_write"):
        db.exec_driver_sql("BEGIN IMMEDIATE")


def check_url(url: str) -> str | None:
    """Why the store cannot live at `url` (an unsupported database, a driver that is not
    installed, a directory that does not exist), or None when it can."""
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError:
        return "must be a database URL such as sqlite:///ihost.db"
    backend = parsed.get_backend_name()
    if backend not in ("sqlite", "postgresql"):
        return f"{backend} is not supported: use sqlite:///FILE or postgresql+psycopg://..."
    if backend == "postgresql":
        try:
            parsed.get_dialect().import_dbapi()
        except ImportError:
            driver = parsed.get_driver_name()
            package = '"ihost[postgres]"' if driver == "psycopg" else f"the {driver} driver"
            return f"PostgreSQL needs its driver: pip install {package}"
        return None
    database = parsed.database
    if database and database != ":memory:" and not Path(database).parent.is_dir():
        return f"directory {Path(database).parent} does not exist: create it first"
    return None


def normalise_url(url: str) -> str:
    """`postgresql://` means psycopg 3 (the `ihost[postgres]` extra), not psycopg2."""
    if url.startswith(("postgresql://", "postgres://")):
        return "postgresql+psycopg://" + url.split("://", 1)[1]
    return url


def _write_lock(url: str) -> threading.RLock:
    with _WRITE_LOCKS_GUARD:
        return _WRITE_LOCKS.setdefault(url, threading.RLock())


class Store:
    """Access to the store database; the schema is created on first use."""

    def __init__(self, url: str, retention_days: int = 14) -> None:
        url = normalise_url(url)
        if problem := check_url(url):
            raise ConfigError(f"store {url}: {problem}")
        self.url = url
        self.retention_days = retention_days
        self.engine = sa.create_engine(url, hide_parameters=True, pool_pre_ping=True)
        self._sqlite = self.engine.dialect.name == "sqlite"
        if self._sqlite:
            sa.event.listen(self.engine, "connect", _sqlite_connect)
            sa.event.listen(self.engine, "begin", _sqlite_begin)
            self._writers: threading.RLock | None = _write_lock(url)
        else:
            self._writers = None
        self._local = threading.local()  # this thread's open transaction, if any
        self._upserts: dict[str, Any] = {}
        if url not in _READY:
            self._create()
            _READY.add(url)

    def _create(self) -> None:
        with self.transaction() as db:
            if not self._sqlite:  # two processes creating the schema at once take turns
                db.execute(sa.text("SELECT pg_advisory_xact_lock(:key)"), {"key": _lock_key("")})
            metadata.create_all(db)
            found = db.execute(sa.select(meta.c.value).where(meta.c.name == "schema")).scalar()
            if found is None:
                db.execute(meta.insert().values(name="schema", value=str(SCHEMA_VERSION)))
            elif int(found) > SCHEMA_VERSION:
                raise ConfigError(
                    f"the store {self.url} has schema {found}, newer than this ihost "
                    f"({SCHEMA_VERSION}): upgrade ihost"
                )
            elif int(found) < SCHEMA_VERSION:
                self._migrate(db, int(found))

    def _migrate(self, db: DbConnection, found: int) -> None:
        if found < 2:
            _add_column(db, "dead_letters", "detail")
        if found < 3:
            _add_column(db, "bindings", "fingerprint")
        if found < 6:
            _add_column(db, "runs", "rate_limit_wait", "FLOAT")
            _add_column(db, "dead_letters", "kind")
            _add_column(db, "dead_letters", "resolved_by")
            db.execute(
                sa.text("CREATE INDEX IF NOT EXISTS ix_events_record_key ON events (record_key)")
            )
        # 4 added the table oauth_tokens, 5 ledger, 6 record_log: create_all has just made them
        db.execute(meta.update().where(meta.c.name == "schema").values(value=str(SCHEMA_VERSION)))

    def close(self) -> None:
        self.engine.dispose()

    def __enter__(self) -> Store:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def transaction(self, write: bool = True) -> Iterator[DbConnection]:
        """Group the statements inside into one commit (nested calls in the same thread join
        the outer one; another thread's are apart).

        A write transaction waits for the store's write lock and holds it to the end:
        keep remote calls out of it. `write=False` reads without taking it."""
        outer: DbConnection | None = getattr(self._local, "tx", None)
        if outer is not None:
            yield outer
            return
        lock = self._writers if write else None
        if lock is not None:
            lock.acquire()
        try:
            with self.engine.connect() as db:
                db.info["ihost_write"] = write
                with db.begin():
                    self._local.tx = db
                    try:
                        yield db
                    finally:
                        self._local.tx = None
        finally:
            if lock is not None:
                lock.release()

    def _insert(self, table: sa.Table) -> sqlite.Insert | postgresql.Insert:
        """An INSERT in this database's dialect (which knows ON CONFLICT)."""
        return sqlite.insert(table) if self._sqlite else postgresql.insert(table)

    def _upsert(self, db: DbConnection, table: sa.Table, rows: list[dict[str, Any]]) -> None:
        statement = self._upserts.get(table.name)
        if statement is None:
            keys = [c.name for c in table.primary_key.columns]
            stmt = self._insert(table)
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
        original: dict[str, str] = {}  # stored key -> key asked, when some key is odd
        if any(len(k) > KEY_LENGTH or "\x00" in k for k in wanted):  # inline: a hot path
            original = {store_key(k): k for k in wanted}
            wanted = list(original)
        found: dict[str, Binding] = {}
        with self.transaction(write=False) as db:
            for start in range(0, len(wanted), 500):
                chunk = wanted[start : start + 500]
                if self._sqlite:  # the hot path of every run: skip per-row type processing
                    marks = ",".join("?" * len(chunk))
                    snapshot = "snapshot" if snapshots else "NULL"
                    rows = db.exec_driver_sql(
                        f"SELECT source_key, target_id, content_hash, {snapshot}, updated_at, "
                        "fingerprint FROM bindings WHERE source = ? AND target = ? "
                        f"AND entity = ? AND source_key IN ({marks})",
                        (source, target, entity, *chunk),
                    )
                    for key, target_id, digest, snapshot, stamp, fingerprint in rows:
                        when = datetime.fromisoformat(stamp).replace(tzinfo=timezone.utc)
                        found[key] = Binding(
                            source,
                            target,
                            entity,
                            key,
                            target_id,
                            digest,
                            snapshot,
                            when,
                            fingerprint,
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
        if original:
            found = {original.get(k, k): b for k, b in found.items()}
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
            bindings.c.target_id == store_key(target_id),
        )
        with self.transaction(write=False) as db:
            row = db.execute(query).first()
        return _binding(row) if row else None

    def list_feedback(
        self, pairs: Iterable[tuple[str, str]], limit: int = 200
    ) -> list[dict[str, Any]]:
        """The feedback kept per order by the feedback flows between `pairs` of (source,
        target) connections, latest first: each binding's connections, source key, target id,
        when it was written, and what its fingerprint keeps (host.flows.feedback.KEPT)."""
        found: list[dict[str, Any]] = []
        with self.transaction(write=False) as db:
            for source, target in dict.fromkeys(pairs):
                query = (
                    sa.select(
                        bindings.c.source_key,
                        bindings.c.target_id,
                        bindings.c.updated_at,
                        bindings.c.fingerprint,
                    )
                    .where(
                        bindings.c.source == source,
                        bindings.c.target == target,
                        bindings.c.entity == "feedback",
                    )
                    .order_by(bindings.c.updated_at.desc())
                    .limit(limit)
                )
                for key, target_id, stamp, fingerprint in db.execute(query):
                    kept = json.loads(fingerprint) if fingerprint else {}
                    found.append(
                        {
                            "source": source,
                            "target": target,
                            "key": key,
                            "target_id": target_id,
                            "written_at": stamp,
                            **kept,
                        }
                    )
        found.sort(key=lambda row: row["written_at"], reverse=True)
        return found[:limit]

    def put_bindings(
        self,
        source: str,
        target: str,
        entity: str,
        items: Iterable[BindingItem],
    ) -> None:
        """Record (source key, target id, content hash, snapshot[, fingerprint]) items,
        replacing older ones; a snapshot is JSON text or a value to serialise, a
        fingerprint JSON text."""
        now = utcnow()
        rows = [
            (
                source,
                target,
                entity,
                key if len(key) <= KEY_LENGTH and "\x00" not in key else store_key(key),
                target_id
                if len(target_id) <= KEY_LENGTH and "\x00" not in target_id
                else store_key(target_id),
                digest,
                _json_text(snapshot),
                fingerprint[0] if fingerprint else None,
            )
            for key, target_id, digest, snapshot, *fingerprint in items
        ]
        if not rows:
            return
        if len({row[3] for row in rows}) < len(rows):  # a key twice: the last one counts
            rows = list({row[3]: row for row in rows}.values())
        with self.transaction() as db:
            if self._sqlite:
                stamp = _sqlite_stamp(now)
                db.exec_driver_sql(
                    "INSERT INTO bindings (source, target, entity, source_key, target_id, "
                    "content_hash, snapshot, fingerprint, updated_at) "
                    "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) "
                    "ON CONFLICT (source, target, entity, source_key) DO UPDATE SET "
                    "target_id = excluded.target_id, content_hash = excluded.content_hash, "
                    "snapshot = excluded.snapshot, fingerprint = excluded.fingerprint, "
                    "updated_at = excluded.updated_at",
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
                "fingerprint",
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
        with self.transaction(write=False) as db:
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
            return _new_id(result)

    def finish_run(
        self,
        run_id: int,
        status: str,
        counts: dict[str, int],
        error: str | None = None,
        rate_limit_wait: float | None = None,
    ) -> None:
        with self.transaction() as db:
            db.execute(
                runs.update()
                .where(runs.c.id == run_id)
                .values(
                    status=status,
                    counts=counts,
                    error=_text(error),
                    finished_at=utcnow(),
                    rate_limit_wait=rate_limit_wait,
                )
            )

    def get_run(self, run_id: int) -> dict[str, Any] | None:
        with self.transaction(write=False) as db:
            row = db.execute(sa.select(runs).where(runs.c.id == run_id)).first()
        return dict(row._mapping) if row else None

    def list_runs(
        self,
        flow: str | None = None,
        limit: int = 20,
        *,
        offset: int = 0,
        status: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
    ) -> list[dict[str, Any]]:
        """Runs, newest first: of `flow`, with `status`, started from `since` and before
        `until` (each when given), `limit` of them after the first `offset`."""
        query = sa.select(runs).order_by(runs.c.id.desc()).limit(limit).offset(offset)
        if flow:
            query = query.where(runs.c.flow == flow)
        if status:
            query = query.where(runs.c.status == status)
        if since is not None:
            query = query.where(runs.c.started_at >= since)
        if until is not None:
            query = query.where(runs.c.started_at < until)
        with self.transaction(write=False) as db:
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
        for event in full:
            for name in ("record_key", "target_id"):
                if event[name] is not None and not _fits(event[name]):
                    event[name] = store_key(event[name])
            event["message"] = _text(event["message"])
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
        self,
        flow: str | None = None,
        run_id: int | None = None,
        limit: int = 200,
        *,
        record_key: str | None = None,
    ) -> list[dict[str, Any]]:
        """Activity-log events, newest first: of `flow`, of one run, of one record."""
        query = sa.select(events).order_by(events.c.id.desc()).limit(limit)
        if flow:
            query = query.where(events.c.flow == flow)
        if run_id is not None:
            query = query.where(events.c.run_id == run_id)
        if record_key is not None:
            query = query.where(events.c.record_key == store_key(record_key))
        with self.transaction(write=False) as db:
            return [dict(row._mapping) for row in db.execute(query)]

    # --- what each record was: read, mapped, sent, answered ------------------------------

    def add_record_entries(self, rows: list[dict[str, Any]]) -> None:
        """Keep what runs did with records (keys: run_id, flow, entity, record_key, order_ref,
        action, target_id, attempts, reason, detail, and source, mapped, calls, changes as
        JSON text or as values to serialise); `at` defaults to now."""
        if not rows:
            return
        now = utcnow()
        values = [
            (
                row.get("run_id"),
                row["flow"],
                row["entity"],
                store_key(row["record_key"]),
                _key_or_none(row.get("order_ref")),
                row["action"],
                _key_or_none(row.get("target_id")),
                row.get("attempts", 1),
                _text(row.get("reason")),
                _text(row.get("detail")),
                *(_json_text(row.get(name)) for name in _RECORD_JSON),
            )
            for row in rows
        ]
        with self.transaction() as db:
            if self._sqlite:
                stamp = _sqlite_stamp(now)
                db.exec_driver_sql(
                    f"INSERT INTO record_log (at, {', '.join(_RECORD_COLUMNS)}) "
                    f"VALUES ({', '.join('?' * (len(_RECORD_COLUMNS) + 1))})",
                    [
                        (stamp if row.get("at") is None else _sqlite_stamp(row["at"]), *v)
                        for row, v in zip(rows, values, strict=True)
                    ],
                )
                return
            full = [
                {"at": row.get("at") or now, **dict(zip(_RECORD_COLUMNS, v, strict=True))}
                for row, v in zip(rows, values, strict=True)
            ]
            db.execute(record_log.insert(), full)

    def list_record_entries(
        self,
        *,
        search: str | None = None,
        run_id: int | None = None,
        flow: str | None = None,
        limit: int = 200,
        offset: int = 0,
        oldest_first: bool = False,
    ) -> list[dict[str, Any]]:
        """Entries, newest first (or oldest): of the record whose key, order number or
        target id is `search`, of one run, of one flow (each when given)."""
        order = record_log.c.id if oldest_first else record_log.c.id.desc()
        query = sa.select(record_log).order_by(order).limit(limit).offset(offset)
        if search is not None:
            wanted = store_key(search.strip())
            query = query.where(
                sa.or_(
                    record_log.c.record_key == wanted,
                    record_log.c.order_ref == wanted,
                    record_log.c.target_id == wanted,
                )
            )
        if run_id is not None:
            query = query.where(record_log.c.run_id == run_id)
        if flow:
            query = query.where(record_log.c.flow == flow)
        with self.transaction(write=False) as db:
            return [_record_entry(row) for row in db.execute(query)]

    # --- dead letters ---------------------------------------------------------------------

    def add_dead_letter(
        self,
        flow: str,
        entity: str,
        record_key: str,
        payload: Any,
        error: str,
        run_id: int | None = None,
        detail: str | None = None,
        kind: str | None = None,
    ) -> int:
        """Dead-letter a record; a record already open in this flow gets one more attempt.
        `error` is fit for the activity log; `detail` holds the remote's own words and is
        purged with the payload; `kind` is host.errors.error_kind's."""
        now = utcnow()
        record_key, error, detail = store_key(record_key), _text(error), _text(detail)
        with self.transaction() as db:
            existing = db.execute(
                sa.select(dead_letters.c.id).where(
                    dead_letters.c.flow == flow,
                    dead_letters.c.record_key == record_key,
                    dead_letters.c.status == "open",
                )
            ).scalar()
            values = {
                "error": error,
                "detail": detail,
                "payload": payload,
                "run_id": run_id,
                "kind": kind,
                "updated_at": now,
            }
            if existing is not None:
                db.execute(
                    dead_letters.update()
                    .where(dead_letters.c.id == existing)
                    .values(attempts=dead_letters.c.attempts + 1, **values)
                )
                return int(existing)
            result = db.execute(
                dead_letters.insert().values(
                    flow=flow,
                    entity=entity,
                    record_key=record_key,
                    attempts=1,
                    status="open",
                    created_at=now,
                    **values,
                )
            )
            return _new_id(result)

    def list_dead_letters(
        self,
        status: str | None = "open",
        flow: str | None = None,
        *,
        kind: str | None = None,
        record_key: str | None = None,
    ) -> list[DeadLetter]:
        """Dead letters, oldest first: with `status` (None: any), of `flow`, of error `kind`,
        of one record (each when given)."""
        query = sa.select(dead_letters).order_by(dead_letters.c.id)
        if status:
            query = query.where(dead_letters.c.status == status)
        if flow:
            query = query.where(dead_letters.c.flow == flow)
        if kind:
            query = query.where(dead_letters.c.kind == kind)
        if record_key is not None:
            query = query.where(dead_letters.c.record_key == store_key(record_key))
        with self.transaction(write=False) as db:
            return [DeadLetter(**row._mapping) for row in db.execute(query)]

    def get_dead_letter(self, letter_id: int) -> DeadLetter | None:
        with self.transaction(write=False) as db:
            row = db.execute(sa.select(dead_letters).where(dead_letters.c.id == letter_id)).first()
        return DeadLetter(**row._mapping) if row else None

    def resolve_dead_letters(
        self,
        *,
        letter_id: int | None = None,
        flow: str | None = None,
        record_key: str | None = None,
        by: str | None = None,
    ) -> int:
        """Mark open dead letters resolved, by id or by flow and record key; returns how
        many. `by` says who or what resolved them."""
        query = dead_letters.update().where(dead_letters.c.status == "open")
        if letter_id is not None:
            query = query.where(dead_letters.c.id == letter_id)
        elif flow is not None and record_key is not None:
            query = query.where(
                dead_letters.c.flow == flow, dead_letters.c.record_key == store_key(record_key)
            )
        else:
            raise ValueError("give letter_id, or flow and record_key")
        now = utcnow()
        with self.transaction() as db:
            return db.execute(
                query.values(
                    status="resolved", resolved_at=now, updated_at=now, resolved_by=_text(by)
                )
            ).rowcount

    # --- webhooks -------------------------------------------------------------------------

    def first_delivery(self, connection: str, event_id: str) -> bool:
        """Record a webhook event; False when it was seen before (a duplicate delivery)."""
        statement = (
            self._insert(webhook_events)
            .values(connection=connection, event_id=store_key(event_id), received_at=utcnow())
            .on_conflict_do_nothing()
            .execution_options(preserve_rowcount=True)  # psycopg reports -1 otherwise
        )
        with self.transaction() as db:
            return db.execute(statement).rowcount == 1

    # --- one holder per flow --------------------------------------------------------------

    def lock_flow(self, flow: str) -> FlowLock:
        """Take flow `flow` for this run; raise FlowBusy naming the holder when another run
        (in this process or another) has it. Runs of the flow that a dead holder left
        `running` are marked aborted."""
        lock = FlowLock(self, flow)
        lock.acquire()
        return lock

    def abort_abandoned_runs(self, flow: str) -> int:
        """Mark aborted the runs of `flow` left `running` (call while holding its lock)."""
        with self.transaction() as db:
            return db.execute(
                runs.update()
                .where(runs.c.flow == flow, runs.c.status == "running")
                .values(
                    status="aborted",
                    finished_at=utcnow(),
                    error="the process running it ended without finishing (killed or crashed); "
                    "the next run picks up from the cursor",
                )
            ).rowcount

    def recover(self, flows: Iterable[str]) -> int:
        """Abort the abandoned runs of every flow nobody is running; returns how many."""
        aborted = 0
        for flow in flows:
            try:
                with self.lock_flow(flow) as lock:
                    aborted += lock.aborted
            except FlowBusy:
                continue
        return aborted

    # --- retention ------------------------------------------------------------------------

    def _purge_record_log(self, db: DbConnection, cutoff: datetime) -> int:
        """Drop what the record log kept of the records of runs started before `cutoff`,
        from the first run not purged yet: each purge reads only what it purges (the log
        grows by thousands of rows a run)."""
        upto = db.execute(sa.select(sa.func.max(runs.c.id)).where(runs.c.started_at < cutoff))
        last = upto.scalar()
        running = db.execute(sa.select(sa.func.min(runs.c.id)).where(runs.c.status == "running"))
        first_running = running.scalar()
        if last is not None and first_running is not None:  # it may keep entries yet
            last = min(last, first_running - 1)
        done = db.execute(sa.select(meta.c.value).where(meta.c.name == PURGED_RUN)).scalar()
        start = int(done) if done is not None else 0
        if last is None or last <= start:
            return 0
        purged = db.execute(
            record_log.update()
            .where(record_log.c.run_id > start, record_log.c.run_id <= last)
            .values(source=None, mapped=None, calls=None, changes=None, detail=None)
        ).rowcount
        self._upsert(db, meta, [{"name": PURGED_RUN, "value": str(last)}])
        return int(purged)

    def purge(self, now: datetime | None = None) -> dict[str, int]:
        """Drop payloads of events and dead letters (with the remote's words), binding
        snapshots, and what the record log kept of each record (as read, mapped, sent and
        answered), older than retention_days: they may hold personal data."""
        cutoff = (now or utcnow()) - timedelta(days=self.retention_days)
        with self.transaction() as db:
            purged_events = db.execute(
                events.update()
                .where(events.c.at < cutoff, events.c.payload.is_not(None))
                .values(payload=None)
            ).rowcount
            purged_letters = db.execute(
                dead_letters.update()
                .where(
                    dead_letters.c.updated_at < cutoff,
                    sa.or_(dead_letters.c.payload.is_not(None), dead_letters.c.detail.is_not(None)),
                )
                .values(payload=None, detail=None)
            ).rowcount
            purged_snapshots = db.execute(
                bindings.update()
                .where(bindings.c.updated_at < cutoff, bindings.c.snapshot.is_not(None))
                .values(snapshot=None)
            ).rowcount
            purged_records = self._purge_record_log(db, cutoff)
        return {
            "events": purged_events,
            "dead_letters": purged_letters,
            "snapshots": purged_snapshots,
            "records": purged_records,
        }


def _add_column(db: DbConnection, table: str, column: str, kind: str = "TEXT") -> None:
    """Add a column to an existing table, unless it is there already."""
    present = {c["name"] for c in sa.inspect(db).get_columns(table)}
    if column not in present:
        db.execute(sa.text(f"ALTER TABLE {table} ADD COLUMN {column} {kind}"))


def _lock_key(flow: str) -> int:
    """A PostgreSQL advisory lock key (64-bit) for a flow; "" keys the schema creation."""
    digest = hashlib.sha256(f"ihost:flow:{flow}".encode()).digest()
    return int.from_bytes(digest[:8], "big", signed=True)


def _start_time(pid: int) -> str:
    """When process `pid` started (Linux /proc), to tell it from a later one with its pid."""
    try:
        with open(f"/proc/{pid}/stat", encoding="ascii", errors="replace") as stat:
            return stat.read().rsplit(")", 1)[1].split()[19]
    except (OSError, IndexError):
        return "?"


def _alive(owner: str, host: str, pid: int) -> bool:
    """Whether the holder of a lock row still runs (a holder on another host is assumed to)."""
    if host != socket.gethostname():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    started = owner.split(":")[1] if owner.count(":") >= 2 else "?"
    return started == "?" or _start_time(pid) in ("?", started)


class FlowLock:
    """One run's hold on a flow (see Store.lock_flow); `release` is safe to call twice."""

    def __init__(self, store: Store, flow: str) -> None:
        self.store = store
        self.flow = flow
        pid = os.getpid()
        self.owner = f"{pid}:{_start_time(pid)}:{uuid.uuid4().hex[:12]}"
        self.aborted = 0
        self._held = False
        self._connection: DbConnection | None = None

    def acquire(self) -> None:
        store = self.store
        row = {
            "flow": self.flow,
            "owner": self.owner,
            "host": socket.gethostname(),
            "pid": os.getpid(),
            "acquired_at": utcnow(),
        }
        if store._sqlite:
            with store.transaction() as db:
                holder = db.execute(
                    sa.select(flow_locks).where(flow_locks.c.flow == self.flow)
                ).first()
                if holder is not None and _alive(holder.owner, holder.host, holder.pid):
                    raise FlowBusy(_busy(self.flow, holder))
                store._upsert(db, flow_locks, [row])
        else:  # an advisory lock lives as long as the session holding it
            connection = store.engine.connect()
            key = _lock_key(self.flow)
            taken = connection.execute(
                sa.text("SELECT pg_try_advisory_lock(:key)"), {"key": key}
            ).scalar()
            connection.commit()
            if not taken:
                connection.close()
                with store.transaction(write=False) as db:
                    holder = db.execute(
                        sa.select(flow_locks).where(flow_locks.c.flow == self.flow)
                    ).first()
                raise FlowBusy(_busy(self.flow, holder))
            self._connection = connection
            with store.transaction() as db:
                store._upsert(db, flow_locks, [row])
        self._held = True
        self.aborted = store.abort_abandoned_runs(self.flow)

    def release(self) -> None:
        if not self._held:
            return
        self._held = False
        with self.store.transaction() as db:
            db.execute(
                flow_locks.delete().where(
                    flow_locks.c.flow == self.flow, flow_locks.c.owner == self.owner
                )
            )
        if self._connection is not None:
            self._connection.execute(
                sa.text("SELECT pg_advisory_unlock(:key)"), {"key": _lock_key(self.flow)}
            )
            self._connection.commit()
            self._connection.close()
            self._connection = None

    def __enter__(self) -> FlowLock:
        return self

    def __exit__(self, *exc: object) -> None:
        self.release()


def _busy(flow: str, holder: Any) -> str:
    if holder is None:
        return f"flow {flow!r} is running in another process; nothing was done"
    since = holder.acquired_at.strftime("%Y-%m-%d %H:%M:%S UTC")
    return (
        f"flow {flow!r} is running already (pid {holder.pid} on {holder.host}, since {since}); "
        "nothing was done"
    )
