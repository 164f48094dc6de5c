"""The seven flow kinds (DESIGN §4): pure logic over hook calls.

A flow reads records from its source connection, selects, adapts them to the target's
capabilities and writes them through the target's hooks. The runner (host/runner.py)
does the rest: mapping, content hashes and bindings, dry-run, dead letters, events
and the cursor.
"""

from __future__ import annotations

import hashlib
import json
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field

from host.flows.writes import CommitEach, WriteStrategy
from host.models import Record
from host.plugins import Connection
from host.store import Binding, Store

Action = Literal["created", "updated", "unchanged", "skipped", "failed"]


class FlowSettings(BaseModel):
    """Settings every flow takes in `[flows.NAME.settings]`."""

    model_config = ConfigDict(extra="forbid")

    retries: int = Field(
        3,
        ge=1,
        le=10,
        description="attempts a record gets when its calls fail transiently (5xx, timeouts, "
        "dropped connections), all layers together",
    )
    retry_backoff: float = Field(
        1.0, ge=0, le=60, description="seconds before the first retry; doubles each time"
    )
    dead_letter_retries: int = Field(
        5,
        ge=0,
        le=50,
        description="times the daemon retries a dead letter by itself (0: only by hand)",
    )
    dead_letter_wait_minutes: float = Field(
        5.0,
        gt=0,
        le=10_080,
        description="minutes before the daemon's first retry of a dead letter; doubles each time",
    )
    unavailable_after: float = Field(
        120.0,
        ge=1,
        le=3600,
        description="stop the run when the remote has given no good answer for this many seconds",
    )
    record_log: Literal["all", "failed", "off"] = Field(
        "all",
        description="what the record log keeps of each record (as read, mapped, sent and "
        "answered): of every record written, skipped or failed; of failed ones only; none",
    )


@dataclass
class Outcome:
    """What happened to one record (a unit: a flattened variant is a unit of its own)."""

    action: Action
    target_id: str | None = None
    reason: str | None = None


@dataclass(slots=True)
class Unit:
    """One record to write, with its binding key and content snapshot (JSON text)."""

    source_key: str  # the key of the source record it came from
    key: str  # the binding key
    record: Any
    snapshot_json: str
    content_hash: str
    binding: Binding | None = None
    attempt: int = 1  # which try of the write this is (a retry re-runs its existence check)

    @property
    def snapshot(self) -> Any:
        return json.loads(self.snapshot_json)

    @property
    def stored_snapshot(self) -> str | None:
        """The snapshot to keep in the binding; None when the hash is the snapshot."""
        return None if self.content_hash == self.snapshot_json else self.snapshot_json


@dataclass
class FlowContext:
    """What a flow needs from the run."""

    flow: str
    kind: str
    source: Connection
    target: Connection
    store: Store
    settings: Any
    dry_run: bool
    event: Callable[..., None]  # event(record_key, message, level="warning")
    #: write_step(step, record) -> target id: the record a step needs, written (or its
    #: binding reused) by the runner; call it from Flow.write (see Step)
    write_step: Callable[[Step, Any], str]


def content_hash(text: str) -> str:
    """What bindings compare: a snapshot's text itself when it is short (a stock level's
    is), else its SHA-256."""
    if len(text) <= HASH_LENGTH:
        return text
    return hashlib.sha256(text.encode()).hexdigest()


HASH_LENGTH = 64
FIELD_HASH_LENGTH = 8


def field_hashes(snapshot: dict[str, Any], ignore: frozenset[str]) -> dict[str, str]:
    """A short hash of each field of a snapshot, nested objects one level deep
    ({"billing_address.city": "1f2e3d4c", "lines": ...}): what changed can be named later
    without keeping the values. Fields named in `ignore` (at either level) and empty ones
    are left out."""
    found: dict[str, str] = {}
    for name, value in snapshot.items():
        if name in ignore or value is None:
            continue
        if isinstance(value, dict):
            for inner, item in value.items():
                if inner not in ignore and item is not None:
                    found[f"{name}.{inner}"] = _short_hash(item)
        else:
            found[name] = _short_hash(value)
    return found


def _short_hash(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), default=str)
    return hashlib.sha256(text.encode()).hexdigest()[:FIELD_HASH_LENGTH]


def changed_fields(before: dict[str, str], after: dict[str, str]) -> list[str]:
    """The names of the fields whose hashes differ (set, changed or emptied), sorted."""
    return sorted(name for name in set(before) | set(after) if before.get(name) != after.get(name))


class Flow:
    """Base of a flow kind; subclasses implement `write` (or `write_batch`)."""

    kind: ClassVar[str]
    Settings: ClassVar[type[FlowSettings]] = FlowSettings

    def __init__(self, ctx: FlowContext) -> None:
        self.ctx = ctx
        self.settings = ctx.settings

    def writes(self) -> WriteStrategy:
        """How the runner writes this flow's units (host.flows.writes); asked once a run.
        By default each unit is written, bound and committed before the next."""
        return CommitEach()

    def read(self, since: datetime | None) -> Iterable[Record]:
        """Stream the source's records changed since `since`."""
        return getattr(self.ctx.source.hook, f"fetch_{self.kind}")(since=since)

    def select(self, record: Any) -> str | None:
        """Why this record is not for this flow (skipped), or None to go on."""
        return None

    def units(self, record: Any) -> list[Unit]:
        """The records to write for one source record, adapted to the target."""
        return [self.unit(record.key, record.key, record)]

    def unit(self, source_key: str, key: str, record: Any) -> Unit:
        text = self.snapshot(record)
        return Unit(source_key, key, record, text, content_hash(text))

    def snapshot(self, record: Any) -> str:
        """The content that decides whether a record changed (updated_at left out), as
        JSON text in field order (pydantic's serializer: fast, and stable for a record)."""
        return record.model_dump_json(exclude={"updated_at"})

    def prepare(self, units: list[Unit]) -> None:
        """Called with the unbound units of a chunk before they are written (to batch look-ups)."""

    def write(self, unit: Unit) -> Outcome:
        raise NotImplementedError

    def fingerprint(self, unit: Unit) -> str | None:
        """What the binding keeps of a record `write` wrote, to tell later which fields
        changed (JSON {field: short hash}, no values), or None for nothing."""
        return None

    def changed(self, unit: Unit) -> Outcome:
        """What becomes of a bound record whose content changed, in a flow that creates
        once (`CreateOnce`): by default nothing ("unchanged")."""
        target_id = unit.binding.target_id if unit.binding is not None else None
        return Outcome("unchanged", target_id)

    def write_batch(self, units: list[Unit]) -> list[str]:
        """Write a batch (all or nothing) for the `Batches` strategy; returns the target id
        of each unit."""
        raise NotImplementedError


class Step(ABC):
    """A record that a unit needs written before itself, such as an order's debtor.

    A flow declares a step (as `OrdersFlow.debtor`) and writes it from `Flow.write` with
    `ctx.write_step(step, record)`, which returns the record's target id. The runner
    writes it as it writes every unit: bound under `entity` by the record's key and
    content hash (a record bound with the same content is not written again, in this run
    or a later one), its binding committed with the unit's, the target's
    `validate_record` asked first, an event for what it did; a dry run's report lists it
    under the unit's `steps`. When it fails, the unit fails (one dead letter) naming this
    record and the field."""

    #: what the activity log and the report call what a step writes ("debtor")
    name: ClassVar[str]
    #: the bindings' entity of the records written ("customers": the customers flow's)
    entity: ClassVar[str]

    def snapshot(self, record: Any) -> str:
        """The content that decides whether the record changed (as `Flow.snapshot`)."""
        return record.model_dump_json(exclude={"updated_at"})

    @abstractmethod
    def write(self, ctx: FlowContext, record: Any, existing_id: str | None) -> Outcome:
        """Write `record` to the target (to `existing_id` when it is bound) and say what
        was done: created, updated or skipped, with the target id."""


def flow_classes() -> dict[str, type[Flow]]:
    """The flow class of each kind."""
    from host.flows.customers import CustomersFlow
    from host.flows.feedback import FeedbackFlow
    from host.flows.orders import OrdersFlow
    from host.flows.products import ProductsFlow
    from host.flows.refunds import RefundsFlow
    from host.flows.shipments import ShipmentsFlow
    from host.flows.stock import StockFlow

    return {
        cls.kind: cls
        for cls in (
            OrdersFlow,
            ProductsFlow,
            StockFlow,
            CustomersFlow,
            ShipmentsFlow,
            RefundsFlow,
            FeedbackFlow,
        )
    }
