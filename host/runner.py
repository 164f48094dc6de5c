"""Runs one flow: read -> select -> map -> adapt -> diff -> write -> record (DESIGN §4).

Records stream from the source in chunks; for each chunk the bindings are looked up at
once. A unit whose content hash equals its binding's is unchanged and not written. A
non-idempotent write (order, debtor, product, shipment, refund) is bound and committed
before the next record; stock levels are pushed and bound per batch. A failing record
is dead-lettered and the others go on; transient errors are retried with backoff first.
AuthError and RemoteUnavailable stop the run with the cursor untouched. The cursor
advances, at the end of a run that read everything, past the newest record read.
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from pydantic import ValidationError
from tenacity import Retrying, retry_if_exception_type, stop_after_attempt, wait_random_exponential

from host.config import Config
from host.errors import FATAL, IntegrationError, RecordInvalid, RemoteUnavailable, TransientError
from host.flows import Flow, FlowContext, Unit
from host.hookspecs import hookimpl
from host.models import validation_problems
from host.plugins import Connection, Registry
from host.secrets import redact
from host.store import Store

log = logging.getLogger(__name__)

CHUNK = 500
MAX_ACTIONS = 10_000
TRANSIENT_BREAKER = 5  # consecutive records failing on transient errors: the remote is down
COUNT_KEYS = ("read", "created", "updated", "unchanged", "skipped", "failed")

_EMAIL = re.compile(r"[\w.+-]+@[\w-]+(\.[\w-]+)+")


def scrub(text: str) -> str:
    """`text` fit for the activity log: secrets and e-mail addresses blanked out."""
    return _EMAIL.sub("<e-mail>", redact(text))


class SourceFailed(IntegrationError):
    """The source's stream broke off for a reason other than auth or availability."""


class Stopped(IntegrationError):
    """The run was asked to stop (SIGTERM, a daemon shutting down)."""


@dataclass
class Report:
    """What a run did; `as_dict` is the `ihost run --json` shape (DESIGN §6)."""

    flow: str
    kind: str
    dry_run: bool
    run_id: int | None = None
    status: str = "running"
    counts: dict[str, int] = field(default_factory=lambda: dict.fromkeys(COUNT_KEYS, 0))
    actions: list[dict[str, Any]] = field(default_factory=list)
    actions_omitted: int = 0
    error: str | None = None
    exit_code: int = 0
    cursor: str | None = None
    rate_limit_wait: float = 0.0  # seconds the connectors waited on remote rate limits

    def add(
        self,
        key: str,
        action: str,
        target_id: str | None = None,
        reason: str | None = None,
        changes: dict[str, list[Any]] | None = None,
    ) -> None:
        self.counts[action] += 1
        if len(self.actions) >= MAX_ACTIONS:
            self.actions_omitted += 1
            return
        entry: dict[str, Any] = {
            "key": key,
            "action": action,
            "target_id": target_id,
            "reason": reason,
        }
        if changes is not None:
            entry["changes"] = changes
        self.actions.append(entry)

    def as_dict(self) -> dict[str, Any]:
        return {
            "flow": self.flow,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "run_id": self.run_id,
            "status": self.status,
            "counts": self.counts,
            "actions": self.actions,
            "actions_omitted": self.actions_omitted,
            "error": self.error,
            "cursor": self.cursor,
            "rate_limit_wait": round(self.rate_limit_wait, 3),
        }


class DryRun:
    """Host middleware for --dry-run: answers every write hook first, writing nothing."""

    @hookimpl(tryfirst=True)
    def create_order(self, order: Any) -> str:
        return "(new order)"

    @hookimpl(tryfirst=True)
    def upsert_debtor(self, existing_id: str | None) -> str:
        return existing_id or "(new debtor)"

    @hookimpl(tryfirst=True)
    def upsert_product(self, existing_id: str | None) -> str:
        return existing_id or "(new product)"

    @hookimpl(tryfirst=True)
    def push_stock(self, levels: list[Any]) -> bool:
        return True  # an answer other than None keeps the connector from being called

    @hookimpl(tryfirst=True)
    def create_shipment(self, shipment: Any) -> str:
        return "(new shipment)"

    @hookimpl(tryfirst=True)
    def create_refund(self, refund: Any) -> str:
        return "(new refund)"


def _changes(old: Any, new: Any, prefix: str = "") -> dict[str, list[Any]]:
    """Fields that differ between two snapshots, as {"a.b": [old, new]}."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: dict[str, list[Any]] = {}
        for key in sorted(set(old) | set(new)):
            found.update(_changes(old.get(key), new.get(key), f"{prefix}{key}."))
        return found
    return {} if old == new else {prefix.rstrip("."): [old, new]}


class Runner:
    """Runs one configured flow once."""

    def __init__(
        self,
        config: Config,
        flow: str,
        registry: Registry,
        *,
        dry_run: bool = False,
        full: bool = False,
        store: Store | None = None,
        progress: Callable[[Report], None] | None = None,
    ) -> None:
        self.config = config
        self.flow_config = config.flows[flow]
        self.registry = registry
        self.dry_run = dry_run
        self.full = full
        self._own_store = store is None
        self.store = store or Store(config.store_url, config.retention_days)
        self.progress = progress
        self.report = Report(flow, self.flow_config.kind, dry_run)
        self._events: list[dict[str, Any]] = []
        self._pending: list[Unit] = []
        self._unbound: list[tuple[str, str, str, str | None]] = []  # per-chunk bindings
        self._sources: dict[str, Any] = {}
        self._failed_sources: set[str] = set()
        self._open_letters: set[str] = set()
        self._transient_streak = 0
        self._newest: datetime | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the run to stop after the record (or chunk) it is writing; safe from any thread."""
        self._stop.set()

    def _check_stop(self) -> None:
        if self._stop.is_set():
            raise Stopped("stopped on request; the cursor stays where it was")

    # --- the run --------------------------------------------------------------------------

    def run(self, records: Iterable[Any] | None = None) -> Report:
        """Run the flow over its source (or over `records`, to retry dead letters)."""
        cfg = self.flow_config
        report = self.report
        self.store.purge()
        source = self.config.connect(cfg.source, self.registry)
        target = self.config.connect(cfg.target, self.registry)
        if self.dry_run:
            target.register(DryRun(), "dry-run")
        report.run_id = self.store.start_run(cfg.name, cfg.kind, self.dry_run)
        self.flow = self._build_flow(source, target)
        self._batch_size = getattr(self.flow, "batch_size", CHUNK)
        self._open_letters = {d.record_key for d in self.store.list_dead_letters(flow=cfg.name)}
        cursor = self.store.get_cursor(cfg.name)
        replay = self.full or records is not None or not cursor
        since = None if replay else datetime.fromisoformat(cursor)
        try:
            stream = records if records is not None else self.flow.read(since)
            for chunk in _chunks(self._guarded(stream, source), CHUNK):
                self._check_stop()
                if self.flow.commit_each:
                    self._process(chunk)
                    self._flush_events()
                else:  # one commit for the chunk's bindings and events
                    with self.store.transaction():
                        self._process(chunk)
                        self._bind(self._unbound)
                        self._unbound = []
                        self._flush_events()
                if self.progress:
                    self.progress(report)
            with self.store.transaction():
                self._flush_batch()
            report.status = "failed" if report.counts["failed"] else "ok"
            report.exit_code = 1 if report.counts["failed"] else 0
            if not self.dry_run and records is None and self._newest is not None:
                newest = self._newest.isoformat()
                if cursor is None or newest > cursor:
                    self.store.set_cursor(cfg.name, newest)
            report.cursor = self.store.get_cursor(cfg.name)
        except FATAL as exc:
            report.status, report.exit_code = "aborted", 3
            report.error = redact(str(exc))
        except SourceFailed as exc:
            report.status, report.exit_code = "failed", 1
            report.error = redact(str(exc))
        except Stopped as exc:
            report.status, report.exit_code = "stopped", 3
            report.error = str(exc)
        finally:
            self._flush_events()
            self.store.finish_run(report.run_id, report.status, report.counts, report.error)
            report.rate_limit_wait = _waited(source.plugin) + _waited(target.plugin)
            source.close()
            target.close()
            if self._own_store:
                self.store.close()
        return report

    def _build_flow(self, source: Connection, target: Connection) -> Flow:
        cfg = self.flow_config
        ctx = FlowContext(
            flow=cfg.name,
            kind=cfg.kind,
            source=source,
            target=target,
            store=self.store,
            settings=cfg.flow_settings,
            dry_run=self.dry_run,
            event=self._event,
        )
        return cfg.flow_class(ctx)

    def _guarded(self, stream: Iterable[Any], source: Connection) -> Iterator[Any]:
        """The source's records; a stream that breaks off ends the run with one clear line."""
        iterator = iter(stream)
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except FATAL:
                raise
            except TransientError as exc:
                raise RemoteUnavailable(f"reading from {source.name} failed: {exc}") from None
            except Exception as exc:
                raise SourceFailed(
                    f"reading from {source.name} failed: {type(exc).__name__}: {exc}"
                ) from None
            yield record

    # --- one chunk ------------------------------------------------------------------------

    def _process(self, chunk: list[Any]) -> None:
        """Select, map and adapt a chunk of source records, then write what changed.

        The hot loop of every run: lookups are hoisted into locals on purpose.
        """
        flow, report = self.flow, self.report
        select = flow.select if type(flow).select is not Flow.select else None
        mapper = None if self.flow_config.mapper.empty else self.flow_config.mapper
        units: list[Unit] = []
        sources: dict[str, Any] = {}
        self._sources = sources
        newest = self._newest
        report.counts["read"] += len(chunk)
        for record in chunk:
            if isinstance(record, RecordInvalid):  # a record the source could not convert
                self._fail(record.key or "?", None, record, payload=record.payload)
                continue
            key = record.key
            sources[key] = record
            stamp = record.updated_at
            if stamp is not None and (newest is None or stamp > newest):
                newest = stamp
            if select is not None:
                reason = select(record)
                if reason is not None:
                    self._done(key, "skipped", reason=reason)
                    continue
            try:
                units += flow.units(record if mapper is None else mapper.apply(record))
            except FATAL:
                raise
            except Exception as exc:
                self._fail(key, None, exc)
        self._newest = newest
        if not units:
            return
        bound = self.store.get_bindings(
            flow.ctx.source.name,
            flow.ctx.target.name,
            flow.kind,
            [u.key for u in units],
            snapshots=self.dry_run,
        )
        fresh = []
        for unit in units:
            binding = unit.binding = bound.get(unit.key)
            if binding is None:
                fresh.append(unit)
        if fresh:
            self._attempt(lambda: flow.prepare(fresh), fallback=None)
        failed, pending, batch_size = self._failed_sources, self._pending, self._batch_size
        create_once, batched, add = flow.create_once, flow.batched, report.add
        for unit in units:
            if unit.source_key in failed:
                continue
            binding = unit.binding
            if binding is not None and (create_once or binding.content_hash == unit.content_hash):
                add(unit.key, "unchanged", binding.target_id)
            elif batched:
                pending.append(unit)
                if len(pending) >= batch_size:
                    self._flush_batch()
                    pending = self._pending
            else:
                if flow.commit_each:  # each write is committed: stopping between is clean
                    self._check_stop()
                self._write(unit)
        waiting = {u.source_key for u in self._pending}
        self._resolve_letters(k for k in sources if k not in waiting)

    def _write(self, unit: Unit) -> None:
        try:
            outcome = self._attempt(lambda: self.flow.write(unit))
        except FATAL:
            raise
        except Exception as exc:
            self._fail(unit.source_key, unit, exc)
            return
        if not self.dry_run and outcome.target_id and outcome.action != "unchanged":
            row = (unit.key, outcome.target_id, unit.content_hash, unit.stored_snapshot)
            if self.flow.commit_each:
                self._bind([row])
            else:  # bound with the rest of the chunk, in its transaction
                self._unbound.append(row)
        changes = self._changes_of(outcome.action, unit)
        self._done(unit.key, outcome.action, outcome.target_id, outcome.reason, changes)

    def _bind(self, rows: list[tuple[str, str, str, str | None]]) -> None:
        ctx = self.flow.ctx
        self.store.put_bindings(ctx.source.name, ctx.target.name, self.flow.kind, rows)

    def _flush_batch(self) -> None:
        units, self._pending = self._pending, []
        if not units:
            return
        try:
            target_ids = self._attempt(lambda: self.flow.write_batch(units))
        except FATAL:
            raise
        except Exception as exc:
            if len(units) == 1:
                self._fail(units[0].source_key, units[0], exc)
                return
            log.info("batch of %d failed (%s); writing one by one", len(units), exc)
            for unit in units:
                self._pending = [unit]
                self._flush_batch()
            return
        if not self.dry_run:
            self._bind(
                [
                    (u.key, target_id, u.content_hash, u.stored_snapshot)
                    for u, target_id in zip(units, target_ids, strict=True)
                ]
            )
        action = self.flow.batch_action
        add = self.report.add
        for unit, target_id in zip(units, target_ids, strict=True):
            add(unit.key, action, target_id, None, self._changes_of(action, unit))
        # one activity-log line per batch: a stock sync writes thousands of levels
        self._events.append(
            {
                "record_key": None,
                "action": action,
                "message": f"{len(units)} {action}: " + ", ".join(u.key for u in units),
            }
        )
        self._resolve_letters({u.source_key for u in units})

    def _attempt(self, work: Callable[[], Any], fallback: Any = ...) -> Any:
        """Run `work`, retrying transient errors with backoff (tenacity); trips the breaker
        when the remote keeps failing. The first try runs bare: most calls succeed, and a
        Retrying per call would cost more than a stock level's whole write."""
        try:
            try:
                result = work()
            except TransientError:
                settings = self.flow_config.flow_settings
                if settings.retries <= 1:
                    raise
                retrying = Retrying(
                    retry=retry_if_exception_type(TransientError),
                    stop=stop_after_attempt(settings.retries - 1),
                    wait=wait_random_exponential(multiplier=settings.retry_backoff, max=60),
                    reraise=True,
                )
                result = retrying(work)
        except TransientError as exc:
            self._transient_streak += 1
            if self._transient_streak >= TRANSIENT_BREAKER:
                raise RemoteUnavailable(
                    f"{self._transient_streak} records in a row failed on transient errors; "
                    f"last: {exc}"
                ) from None
            if fallback is not ...:
                return fallback
            raise
        except FATAL:
            raise
        except Exception:
            if fallback is not ...:
                return fallback
            raise
        self._transient_streak = 0
        return result

    # --- outcomes -------------------------------------------------------------------------

    def _changes_of(self, action: str, unit: Unit) -> dict[str, list[Any]] | None:
        """Old -> new of each field an update would change (dry runs only: it costs a
        snapshot read and a diff per record)."""
        if not self.dry_run or action != "updated" or unit.binding is None:
            return None
        previous = unit.binding.snapshot
        return None if previous is None else _changes(previous, unit.snapshot)

    def _done(
        self,
        key: str,
        action: str,
        target_id: str | None = None,
        reason: str | None = None,
        changes: dict[str, list[Any]] | None = None,
    ) -> None:
        self.report.add(key, action, target_id, reason, changes)
        if action != "unchanged":
            message = "changed: " + ", ".join(changes) if changes else reason
            self._events.append(
                {
                    "record_key": key,
                    "action": action,
                    "target_id": target_id,
                    "message": scrub(message) if message else None,
                }
            )

    def _resolve_letters(self, source_keys: Iterable[str]) -> None:
        """Resolve the open dead letters of records that have now gone through."""
        if self.dry_run:
            return
        for key in source_keys:
            if key in self._open_letters and key not in self._failed_sources:
                self.store.resolve_dead_letters(flow=self.flow_config.name, record_key=key)
                self._open_letters.discard(key)
                self._event(key, "dead letter resolved: the record went through", level="info")

    def _fail(
        self, source_key: str, unit: Unit | None, exc: BaseException, payload: Any = None
    ) -> None:
        key = unit.key if unit is not None else source_key
        message = describe(exc, self.flow.kind, key)
        self._failed_sources.add(source_key)
        self.report.add(key, "failed", None, message)
        self._events.append(
            {"record_key": key, "action": "failed", "level": "error", "message": scrub(message)}
        )
        if self.dry_run:
            return
        record = self._sources.get(source_key) or (unit.record if unit is not None else None)
        if payload is None and record is not None:
            payload = record.model_dump(mode="json")
        self.store.add_dead_letter(
            self.flow_config.name,
            self.flow.kind,
            source_key,
            payload,
            scrub(message),
            run_id=self.report.run_id,
        )

    def _event(self, record_key: str | None, message: str, level: str = "warning") -> None:
        self._events.append({"record_key": record_key, "level": level, "message": scrub(message)})

    def _flush_events(self) -> None:
        if self._events:
            rows = [
                {"run_id": self.report.run_id, "flow": self.flow_config.name, **e}
                for e in self._events
            ]
            self._events = []
            self.store.add_events(rows)


def describe(exc: BaseException, kind: str, key: str) -> str:
    """One line for a failed record: the record, the field and the remote's own words."""
    noun = kind[:-1] if kind != "stock" else "stock level"
    if isinstance(exc, ValidationError):
        return "; ".join(validation_problems(exc, f"{noun} {key}"))
    text = redact(str(exc))
    if isinstance(exc, RecordInvalid) and key in text:
        return text
    if isinstance(exc, IntegrationError):
        field_name = getattr(exc, "field", None)
        where = f" ({field_name})" if field_name and field_name not in text else ""
        return f"{noun} {key}{where}: {text}"
    return f"{noun} {key}: {type(exc).__name__}: {text}"


def _waited(plugin: Any) -> float:
    """Seconds a plugin's clients waited on rate limits (their `waited` figures)."""
    total = 0.0
    for value in vars(plugin).values():
        waited = getattr(value, "waited", None)
        if isinstance(waited, (int, float)) and not isinstance(waited, bool):
            total += waited
    return total


def _chunks(items: Iterable[Any], size: int) -> Iterator[list[Any]]:
    iterator = iter(items)
    while chunk := list(islice(iterator, size)):
        yield chunk
