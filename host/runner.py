"""Runs one flow: read -> select -> map -> adapt -> diff -> write -> record (DESIGN §4).

Records stream from the source in chunks; for each chunk the bindings are looked up at
once. A unit whose content hash equals its binding's is unchanged and not written; the
others go to the flow's write strategy (host.flows.writes), which says when each is
written and committed: a non-idempotent write (order, debtor, shipment, refund) is bound
and committed before the next record; products and stock levels per chunk. No store
transaction is open while a remote is called: bindings, events and dead letters wait in
memory for the next commit, which is short. A failing record is dead-lettered and the
others go on; transient errors are retried within the record's budget (host.retry).
AuthError and RemoteUnavailable stop the run with the cursor untouched. The cursor
advances, at the end of a run that read everything, past the newest record read. One run
of a flow at a time, across processes (Store.lock_flow).

Each record the run does something with (all but the unchanged) gets an entry in the
store's record log, committed with its binding: the record as read, as mapped, the calls
that wrote it with the target's answers (host.http.keeping_calls), the fields an update
changed. The activity log keeps only keys, actions and scrubbed lines.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from contextlib import AbstractContextManager, nullcontext
from datetime import datetime
from itertools import islice
from typing import Any

from pydantic import ValidationError
from tenacity import Retrying, retry_if_exception, stop_never

from host.config import Config
from host.dryrun import DryRun
from host.errors import (
    FATAL,
    IntegrationError,
    RecordInvalid,
    RemoteUnavailable,
    TransientError,
    error_kind,
)
from host.flows import Action, Flow, FlowContext, Outcome, Step, Unit, content_hash
from host.flows.writes import WriteStrategy
from host.http import keeping_calls
from host.models import validation_problems
from host.plugins import Connection, Registry
from host.report import Report
from host.retry import Breaker, RetryBudget, spending
from host.secrets import redact, scrub
from host.store import BindingItem, Store

log = logging.getLogger(__name__)

CHUNK = 500


class SourceFailed(IntegrationError):
    """The source's stream broke off for a reason other than auth or availability."""


class Stopped(IntegrationError):
    """The run was asked to stop (SIGTERM, a daemon shutting down)."""


def _changes(old: Any, new: Any, prefix: str = "") -> dict[str, list[Any]]:
    """Fields that differ between two snapshots, as {"a.b": [old, new]}."""
    if isinstance(old, dict) and isinstance(new, dict):
        found: dict[str, list[Any]] = {}
        for key in sorted(old.keys() | new.keys()):
            before, after = old.get(key), new.get(key)
            if before != after:  # the same subtree is not walked
                found.update(_changes(before, after, f"{prefix}{key}."))
        return found
    return {} if old == new else {prefix.rstrip("."): [old, new]}


class Runner:
    """Runs one configured flow once.

    The runner is the `Writer` (host.flows.writes) its flow's write strategy writes
    through: `write`, `write_batch`, `judge`, `commit` and `check_stop` are for strategies."""

    def __init__(
        self,
        config: Config,
        flow: str,
        registry: Registry,
        *,
        dry_run: bool = False,
        full: bool = False,
        store: Store | None = None,
    ) -> None:
        self.config = config
        self.flow_config = config.flows[flow]
        self.registry = registry
        self.dry_run = dry_run
        self.full = full
        self._own_store = store is None
        self.store = store or Store(config.store_url, config.retention_days)
        self.report = Report(flow, self.flow_config.kind, dry_run)
        self.current: str | None = None  # the key of the record being written
        settings = self.flow_config.flow_settings
        self.breaker = Breaker(settings.unavailable_after)
        self._events: list[dict[str, Any]] = []
        self._letters: list[dict[str, Any]] = []  # dead letters for the next commit
        self._entries: list[dict[str, Any]] = []  # record-log entries for the next commit
        # what the record log keeps (a dry run keeps nothing: its report tells instead)
        kept = "off" if dry_run else settings.record_log
        self._keep = kept != "off"  # failed records' stories, with their calls
        self._keep_all = kept == "all"  # every record's written, skipped or failed
        self._retrying = False  # the run writes dead letters again
        self._resolved: list[str] = []  # source keys whose dead letters the next commit closes
        self._unbound: list[BindingItem] = []  # the flow's bindings for the next commit
        self._step_unbound: dict[str, list[BindingItem]] = {}  # steps' ones, by entity
        #: (entity, key) -> (target id, content hash) of each step record written this run
        self._step_bound: dict[tuple[str, str], tuple[str, str]] = {}
        self._step: tuple[Step, str] | None = None  # the step being written, and its key
        self._steps: dict[tuple[str, str], dict[str, Any]] = {}  # the unit's, for a dry run
        self._validate: Callable[..., Any] | None = None
        self._sources: dict[str, Any] = {}
        self._failed_sources: set[str] = set()
        self._open_letters: set[str] = set()
        self._newest: datetime | None = None
        self._stop = threading.Event()

    def stop(self) -> None:
        """Ask the run to stop after the record (or chunk) it is writing; safe from any thread."""
        self._stop.set()

    def check_stop(self) -> None:
        """Raise Stopped when the run was asked to stop."""
        if self._stop.is_set():
            raise Stopped("stopped on request; the cursor stays where it was")

    # --- the run --------------------------------------------------------------------------

    def run(self, records: Iterable[Any] | None = None) -> Report:
        """Run the flow over its source (or over `records`, to retry dead letters).
        Raises FlowBusy when the flow is running already, here or in another process."""
        try:
            self.store.purge()
            with self.store.lock_flow(self.flow_config.name) as lock:
                if lock.aborted:
                    log.warning(
                        "%s: %d run(s) left running by a process that ended were marked aborted",
                        self.flow_config.name,
                        lock.aborted,
                    )
                return self._run(records)
        finally:
            if self._own_store:
                self.store.close()

    def _run(self, records: Iterable[Any] | None) -> Report:
        cfg = self.flow_config
        report = self.report
        self._retrying = records is not None
        source = self.config.connect(cfg.source, self.registry)
        target = self.config.connect(cfg.target, self.registry)
        if self.dry_run:
            target.register(DryRun(target), "dry-run")
        report.run_id = self.store.start_run(cfg.name, cfg.kind, self.dry_run)
        self.flow = self._build_flow(source, target)
        self.writes: WriteStrategy = self.flow.writes()
        self._validate = self._validator()
        self._open_letters = {d.record_key for d in self.store.list_dead_letters(flow=cfg.name)}
        cursor = self.store.get_cursor(cfg.name)
        replay = self.full or records is not None
        since = datetime.fromisoformat(cursor) if cursor and not replay else None
        reads = self._budget()  # the source's; each write spends from a budget of its own
        try:
            stream = records if records is not None else self.flow.read(since)
            with spending(reads):
                for chunk in _chunks(self._guarded(stream, source, reads), CHUNK):
                    self.check_stop()
                    self._process(chunk)
                    self.commit()
            self.writes.finish(self)
            self.commit()
            self.breaker.finish()
            if not self.dry_run and records is None and source.implements("acknowledge_read"):
                self._acknowledge(source)
            report.status = "failed" if report.counts["failed"] else "ok"
            report.exit_code = 1 if report.counts["failed"] else 0
            if not self.dry_run and records is None and self._newest is not None:
                newest = self._newest.isoformat()
                if cursor is None or newest > cursor:
                    self.store.set_cursor(cfg.name, newest)
            report.cursor = self.store.get_cursor(cfg.name)
        except FATAL as exc:
            report.status, report.exit_code = "aborted", 3
            report.error = _summary(exc)
        except SourceFailed as exc:
            report.status, report.exit_code = "failed", 1
            report.error = _summary(exc)
        except Stopped as exc:
            report.status, report.exit_code = "stopped", 3
            report.error = str(exc)
        finally:
            self.current = None
            self.commit()
            report.rate_limit_wait = _waited(source.plugin) + _waited(target.plugin)
            self.store.finish_run(
                report.run_id,
                report.status,
                report.counts,
                report.error,
                round(report.rate_limit_wait, 3),
            )
            source.close()
            target.close()
        return report

    def _acknowledge(self, source: Connection) -> None:
        """Tell the source that everything it yielded is done (host.hookspecs)."""
        try:
            source.hook.acknowledge_read()
        except FATAL:
            raise
        except Exception as exc:  # the records are committed: the next run reads them again
            raise SourceFailed(
                f"acknowledging what was read from {source.name} failed: {_summary(exc)}"
            ) from None

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
            write_step=self._write_step,
        )
        return cfg.flow_class(ctx)

    def _budget(self) -> RetryBudget:
        settings = self.flow_config.flow_settings
        return RetryBudget(settings.retries, settings.retry_backoff, breaker=self.breaker)

    def _guarded(
        self, stream: Iterable[Any], source: Connection, budget: RetryBudget
    ) -> Iterator[Any]:
        """The source's records; a stream that breaks off ends the run with one clear line.
        Reading spends from `budget` (the current one while it reads), renewed each record."""
        iterator = iter(stream)
        while True:
            try:
                record = next(iterator)
            except StopIteration:
                return
            except FATAL:
                raise
            except TransientError as exc:
                raise RemoteUnavailable(
                    f"reading from {source.name} failed: {exc}",
                    summary=f"reading from {source.name} failed: {exc.summary}",
                ) from None
            except Exception as exc:
                raise SourceFailed(
                    f"reading from {source.name} failed: {type(exc).__name__}: {exc}"
                ) from None
            budget.renew()
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
        if len(units) > 1:
            units = self._latest_copies(units)
        bound = self.store.get_bindings(
            flow.ctx.source.name,
            flow.ctx.target.name,
            flow.kind,
            [u.key for u in units],
            snapshots=self.dry_run,
        )
        fresh, stale = [], []
        for unit in units:
            binding = unit.binding = bound.get(unit.key)
            if binding is None:
                fresh.append(unit)
            elif binding.content_hash != unit.content_hash:
                stale.append(unit)
        if stale and self._keep_all:  # what an update changes, for the record log
            previous = self.store.get_bindings(
                flow.ctx.source.name,
                flow.ctx.target.name,
                flow.kind,
                [u.key for u in stale],
                snapshots=True,
            )
            for unit in stale:
                unit.binding = previous.get(unit.key, unit.binding)
        if fresh:
            try:
                self._attempt(lambda: flow.prepare(fresh), lookup=True)
            except FATAL:
                raise
            except Exception as exc:  # each record looks itself up when it is written
                log.info("%s: batched look-up failed (%s)", self.flow_config.name, _summary(exc))
        failed, add, validate = self._failed_sources, report.add, self._validate
        writes = self.writes
        put = writes.put
        changed = writes.changed if type(writes).changed is not WriteStrategy.changed else None
        for unit in units:
            if unit.source_key in failed:
                continue
            binding = unit.binding
            if binding is not None:
                if binding.content_hash == unit.content_hash:
                    add(unit.key, "unchanged", binding.target_id)
                    continue
                if changed is not None and changed(self, unit):  # created once: judged
                    continue
            if validate is not None and not self._valid(unit, validate):
                continue
            put(self, unit)
        waiting = writes.waiting()
        self._resolve_letters(k for k in sources if k not in waiting)

    def _latest_copies(self, units: list[Unit]) -> list[Unit]:
        """The units of a chunk, each key once: a record the source yielded twice (a
        feedback read as sent, then as completed) is written as its last copy; the earlier
        ones are skipped, so that a stale copy never goes over the latest."""
        latest = {unit.key: unit for unit in units}
        if len(latest) == len(units):
            return units
        for unit in units:
            if latest[unit.key] is not unit:
                self.report.add(unit.key, "skipped", reason="read again later in this run")
        return list(latest.values())

    def _validator(self) -> Callable[..., Any] | None:
        """The target's validate_record hook, when its connector implements one."""
        target = self.flow.ctx.target
        return target.hook.validate_record if target.implements("validate_record") else None

    def _valid(self, unit: Unit, validate: Callable[..., Any]) -> bool:
        """Whether the target's own checks pass the record (dry and real runs alike)."""
        try:
            validate(
                entity=self.flow.kind,
                record=unit.record,
                order_type=getattr(self.flow.settings, "order_type", None),
            )
        except FATAL:
            raise
        except Exception as exc:
            self._fail(unit.source_key, unit, exc)
            return False
        return True

    # --- the writer a strategy writes through (host.flows.writes) -------------------------

    def judge(self, unit: Unit) -> None:
        """A record created once whose content changed since: the flow says what it makes
        of that (reported, or unchanged); nothing is written."""
        try:
            outcome = self.flow.changed(unit)
        except FATAL:
            raise
        except Exception as exc:
            self._fail(unit.source_key, unit, exc)
            return
        level = "warning" if outcome.action == "skipped" else None
        self._done(
            unit.key, outcome.action, outcome.target_id, outcome.reason, level=level, unit=unit
        )
        if self._keep_all and outcome.action != "unchanged":
            # what changed since it was written, in the record log (the line keeps the reason)
            self._entries[-1]["changes"] = self._diff(unit) or None

    def write(self, unit: Unit) -> None:
        """Write one unit with Flow.write (its steps first, as the flow calls them) and
        record the outcome; a failure dead-letters its record. The binding waits for the
        next commit."""
        self.current = unit.key
        if self._steps:  # the last unit's (a dry run's); most units have none
            self._steps = {}
        with self._keeping_calls() as calls:
            try:
                outcome = self._attempt(lambda: self.flow.write(unit), unit)
            except FATAL:
                raise
            except Exception as exc:
                self._fail(unit.source_key, unit, exc, within=self._step, calls=calls)
                return
        if not self.dry_run and outcome.target_id and outcome.action != "unchanged":
            self._unbound.append(
                (
                    unit.key,
                    outcome.target_id,
                    unit.content_hash,
                    unit.stored_snapshot,
                    self.flow.fingerprint(unit),
                )
            )
        changes = self._changes_of(outcome.action, unit)
        steps = list(self._steps.values()) if self._steps else None
        self._done(
            unit.key,
            outcome.action,
            outcome.target_id,
            outcome.reason,
            changes,
            steps,
            unit=unit,
            calls=calls,
        )

    def _keeping_calls(self) -> AbstractContextManager[list[dict[str, Any]] | None]:
        """host.http.keeping_calls while the run keeps records' stories."""
        return keeping_calls() if self._keep else nullcontext(None)

    def _write_step(self, step: Step, record: Any) -> str:
        """FlowContext.write_step: the record a unit needs first, written as every unit is
        (host.flows.Step); returns its target id."""
        key = record.key
        self._step = (step, key)
        text = step.snapshot(record)
        digest = content_hash(text)
        known = self._step_binding(step, key)
        if known is not None and known[1] == digest:
            outcome = Outcome("unchanged", known[0])
        else:
            if self._validate is not None:
                self._validate(entity=step.entity, record=record, order_type=None)
            outcome = step.write(self.flow.ctx, record, known[0] if known else None)
            noun = f"{_noun(step.entity)} {key}"
            target_id = outcome.target_id
            if not target_id:
                target = self.flow.ctx.target.name
                raise RecordInvalid(f"{target} returned no {step.name} id for {noun}")
            if outcome.action in ("created", "updated"):
                self._step_bound[(step.entity, key)] = (target_id, digest)
                if not self.dry_run:
                    stored = None if digest == text else text
                    item = (key, target_id, digest, stored)
                    self._step_unbound.setdefault(step.entity, []).append(item)
            note = f": {outcome.reason}" if outcome.reason else ""
            message = f"{step.name} {target_id} {outcome.action} for {noun}{note}"
            self._event(self.current, message, level="info")
        self._step = None
        if self.dry_run:
            self._note_step(step, key, outcome)
        return str(outcome.target_id)

    def _step_binding(self, step: Step, key: str) -> tuple[str, str] | None:
        """(target id, content hash) of a step's record: as this run wrote it (a dry run
        too), else as bound in the store."""
        known = self._step_bound.get((step.entity, key))
        if known is None:
            ctx = self.flow.ctx
            found = self.store.get_binding(ctx.source.name, ctx.target.name, step.entity, key)
            if found is not None and found.content_hash is not None:
                known = (found.target_id, found.content_hash)
        return known

    def _note_step(self, step: Step, key: str, outcome: Outcome) -> None:
        """Keep what a step did for the unit's line in a dry run's report (a retry's
        "unchanged" does not hide what the try before did)."""
        mark = (step.name, key)
        if outcome.action != "unchanged" or mark not in self._steps:
            self._steps[mark] = {
                "step": step.name,
                "key": key,
                "action": outcome.action,
                "target_id": outcome.target_id,
                "reason": outcome.reason,
            }

    def commit(self) -> None:
        """Write what the run has done since the last commit, in one short transaction:
        bindings, resolved and new dead letters, events."""
        if not (
            self._unbound
            or self._step_unbound
            or self._letters
            or self._resolved
            or self._events
            or self._entries
        ):
            return
        ctx, store = self.flow.ctx, self.store
        rows = [
            {"run_id": self.report.run_id, "flow": self.flow_config.name, **e} for e in self._events
        ]
        with store.transaction():
            if self._unbound:
                store.put_bindings(ctx.source.name, ctx.target.name, self.flow.kind, self._unbound)
            for entity, items in self._step_unbound.items():
                store.put_bindings(ctx.source.name, ctx.target.name, entity, items)
            by = f"run {self.report.run_id}: the record went through"
            if self._retrying:
                by += " when it was retried"
            for key in self._resolved:
                store.resolve_dead_letters(flow=self.flow_config.name, record_key=key, by=by)
            for letter in self._letters:
                store.add_dead_letter(**letter)
            store.add_events(rows)
            store.add_record_entries(self._entries)
        self._unbound, self._letters, self._resolved, self._events = [], [], [], []
        self._entries = []
        self._step_unbound = {}

    def write_batch(self, units: list[Unit], action: Action) -> None:
        """Write units with Flow.write_batch, all or nothing, each counted as `action`; a
        batch that fails is written again one unit at a time."""
        if not units:
            return
        self.current = units[0].key
        with self._keeping_calls() as calls:
            try:
                target_ids = self._attempt(lambda: self.flow.write_batch(units))
            except FATAL:
                raise
            except Exception as exc:
                if len(units) == 1:
                    self._fail(units[0].source_key, units[0], exc, calls=calls)
                    return
                log.info("batch of %d failed (%s); writing one by one", len(units), _summary(exc))
                for unit in units:  # each keeps its own calls
                    self.write_batch([unit], action)
                return
        if not self.dry_run:
            self._unbound += [
                (u.key, target_id, u.content_hash, u.stored_snapshot)
                for u, target_id in zip(units, target_ids, strict=True)
            ]
        add = self.report.add
        for unit, target_id in zip(units, target_ids, strict=True):
            changes = self._changes_of(action, unit)
            add(unit.key, action, target_id, None, changes if self.dry_run else None)
            if self._keep_all:
                self._entry(unit.key, action, unit=unit, target_id=target_id, changes=changes)
        if calls and self._keep_all:  # the batch's calls, kept with its first record
            first = self._entries[-len(units)]
            first["calls"] = calls
            if len(units) > 1:
                first["reason"] = f"written in one batch of {len(units)}"
        # one activity-log line per batch: a stock sync writes thousands of levels
        self._events.append(
            {
                "record_key": None,
                "action": action,
                "message": f"{len(units)} {action}: " + ", ".join(u.key for u in units),
            }
        )
        self._resolve_letters({u.source_key for u in units})

    def _attempt(
        self, work: Callable[[], Any], unit: Unit | None = None, *, lookup: bool = False
    ) -> Any:
        """Run `work` within a fresh retry budget (host.retry): what the HTTP layer may not
        repeat, because the remote may have acted on it, is tried again here, the whole
        write with its existence check. The breaker counts records failing in a row. The
        first try runs bare: most succeed, and a Retrying for each would cost more than a
        record's whole write to a fast target. A `lookup` (the flow's look-up ahead of the
        writes) is not counted by the breaker: the records' writes are."""
        budget = self._budget()
        attempts = 0

        def once() -> Any:
            nonlocal attempts
            attempts += 1
            if unit is not None:
                unit.attempt = attempts
            self._step = None  # a step that failed on an earlier try is not this try's
            return work()

        try:
            with spending(budget):
                try:
                    result = once()
                except TransientError as exc:
                    if not budget.allows(exc):
                        raise
                    time.sleep(budget.delay)
                    retrying = Retrying(
                        retry=retry_if_exception(budget.allows),
                        stop=stop_never,  # the budget decides
                        wait=lambda _state: budget.delay,
                        reraise=True,
                    )
                    result = retrying(once)
        except TransientError as exc:
            if not lookup:  # a look-up ahead of the writes is not a record of its own
                self.breaker.record_done(exc)
            raise
        if not lookup:
            self.breaker.record_done(None)
        return result

    # --- outcomes -------------------------------------------------------------------------

    def _changes_of(self, action: str, unit: Unit) -> dict[str, list[Any]] | None:
        """Old -> new of each field an update changes (would change, in a dry run)."""
        if action != "updated" or not (self.dry_run or self._keep_all):
            return None
        return self._diff(unit)

    @staticmethod
    def _diff(unit: Unit) -> dict[str, list[Any]] | None:
        """Old -> new of each field that differs from the record as last written (None:
        that record is not kept)."""
        previous = unit.binding.snapshot if unit.binding is not None else None
        return None if previous is None else _changes(previous, unit.snapshot)

    def _done(
        self,
        key: str,
        action: str,
        target_id: str | None = None,
        reason: str | None = None,
        changes: dict[str, list[Any]] | None = None,
        steps: list[dict[str, Any]] | None = None,
        level: str | None = None,
        unit: Unit | None = None,
        calls: list[dict[str, Any]] | None = None,
    ) -> None:
        # the values changed go to a dry run's report and the record log, never the events
        self.report.add(key, action, target_id, reason, changes if self.dry_run else None, steps)
        if action != "unchanged":
            if self._keep_all:
                self._entry(
                    key,
                    action,
                    unit=unit,
                    target_id=target_id,
                    reason=reason,
                    changes=changes,
                    calls=calls,
                )
            message = "changed: " + ", ".join(changes) if changes else reason
            event = {
                "record_key": key,
                "action": action,
                "target_id": target_id,
                "message": scrub(message) if message else None,
            }
            if level is not None:
                event["level"] = level
            self._events.append(event)

    def _entry(
        self,
        key: str,
        action: str,
        *,
        unit: Unit | None = None,
        target_id: str | None = None,
        reason: str | None = None,
        changes: dict[str, list[Any]] | None = None,
        payload: Any = None,
        calls: list[dict[str, Any]] | None = None,
    ) -> None:
        """Keep what the run did with one record for the record log (next commit). The
        record as read goes as the JSON text pydantic makes (its fast path); as written, the
        flow's snapshot of it (computed already), only when the flow adapted it."""
        source = self._sources.get(unit.source_key if unit is not None else key)
        if payload is not None:  # a failed record's, as its dead letter keeps it
            read: Any = _kept(json.dumps(payload, default=str))
        elif source is not None:
            read = _kept(source.model_dump_json())
        else:
            read = None
        written = None  # the flow's snapshot of the record: what decides a change
        if unit is not None and (unit.record is not source or read is None):
            written = _kept(unit.snapshot_json)
        summary = scrub(reason) if reason else None
        self._entries.append(
            {
                "run_id": self.report.run_id,
                "flow": self.flow_config.name,
                "entity": self.flow.kind,
                "record_key": key,
                "order_ref": _order_ref(
                    unit.record if unit is not None else source, _ORDER_FIELD.get(self.flow.kind)
                ),
                "action": action,
                "target_id": target_id,
                "attempts": unit.attempt if unit is not None else 1,
                "reason": summary,
                "detail": reason if reason != summary else None,
                "source": read,
                "mapped": written,
                "calls": calls or None,
                "changes": changes,
            }
        )

    def _resolve_letters(self, source_keys: Iterable[str]) -> None:
        """Resolve (at the next commit) the open dead letters of records that went through."""
        if self.dry_run:
            return
        for key in source_keys:
            if key in self._open_letters and key not in self._failed_sources:
                self._resolved.append(key)
                self._open_letters.discard(key)
                self._event(key, "dead letter resolved: the record went through", level="info")

    def _fail(
        self,
        source_key: str,
        unit: Unit | None,
        exc: BaseException,
        payload: Any = None,
        within: tuple[Step, str] | None = None,
        calls: list[dict[str, Any]] | None = None,
    ) -> None:
        """Record a failed record: its report line, an event, a dead letter and a record-log
        entry (not in a dry run). `within`: the step (and its record's key) that failed,
        which the line names; `calls`: the calls that tried to write it."""
        key = unit.key if unit is not None else source_key
        if within is not None:
            step, step_key = within
            detail = f"{_noun(self.flow.kind)} {key}: {describe(exc, step.entity, step_key)}"
        else:
            detail = describe(exc, self.flow.kind, key)
        summary = scrub(detail)
        self._failed_sources.add(source_key)
        self.report.add(key, "failed", None, detail)  # the operator's own answer, in full
        self._events.append(
            {"record_key": key, "action": "failed", "level": "error", "message": summary}
        )
        if self.dry_run:
            return
        record = self._sources.get(source_key) or (unit.record if unit is not None else None)
        if payload is None and record is not None:
            payload = record.model_dump(mode="json")
        self._letters.append(
            {
                "flow": self.flow_config.name,
                "entity": self.flow.kind,
                "record_key": source_key,
                "payload": payload,
                "error": summary,
                "detail": detail if detail != summary else None,
                "run_id": self.report.run_id,
                "kind": error_kind(exc),
            }
        )
        if self._keep:
            self._entry(key, "failed", unit=unit, reason=detail, payload=payload, calls=calls)

    def _event(self, record_key: str | None, message: str, level: str = "warning") -> None:
        self._events.append({"record_key": record_key, "level": level, "message": scrub(message)})


def describe(exc: BaseException, kind: str, key: str) -> str:
    """One line for a failed record: the record, the field and the remote's own words
    (secrets redacted). `scrub` it for the activity log."""
    noun = _noun(kind)
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


def _noun(kind: str) -> str:
    """What one record of an entity is called: "order", "customer", "stock level"."""
    return {"stock": "stock level", "feedback": "feedback"}.get(kind) or kind.removesuffix("s")


def _summary(exc: BaseException) -> str:
    """An error's line for the activity log, the logs, the dashboard and alerts."""
    if isinstance(exc, IntegrationError):
        return exc.summary
    return scrub(f"{type(exc).__name__}: {exc}")


#: characters of a record the record log keeps (as read, as written)
KEPT_RECORD = 100_000


def _kept(text: str) -> str:
    """A record's JSON as the record log keeps it: whole, or, past KEPT_RECORD characters,
    its beginning as a JSON string (a huge record must not fill the run's memory)."""
    if len(text) <= KEPT_RECORD:
        return text
    return json.dumps(f"{text[:KEPT_RECORD]}… ({len(text)} characters, cut)")


#: the field that names the order a record of each kind belongs to (to find it by)
_ORDER_FIELD = {
    "orders": "number",
    "shipments": "order_number",
    "refunds": "order_number",
    "feedback": "order_number",
}


def _order_ref(record: Any, field: str | None) -> str | None:
    """The order number a record belongs to (an order's own), else its order key."""
    if field is None or record is None:
        return None
    number = getattr(record, field, None)
    if number is None and field == "order_number":
        number = getattr(record, "order_key", None)
    return str(number) if number is not None else None


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
