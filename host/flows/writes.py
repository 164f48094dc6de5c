"""Write strategies: how the runner writes a flow's units and when it commits them (DESIGN §7).

The runner reads, selects, maps and diffs; each unit whose content differs from its
binding goes to the flow's strategy (`Flow.writes`), which writes it through the runner
(a `Writer`) now or later, and commits. The runner also commits after every chunk of
records, so a strategy only adds commits.

- `CommitEach`: each unit written, bound and committed before the next; a write that is
  not idempotent (a debtor) loses at most its own binding in a crash, which its
  existence check then finds. The default (customers).
- `CreateOnce`: as `CommitEach`; a bound unit whose content changed is not written again,
  the flow judges it (`Flow.changed`: reported or unchanged). Orders, shipments, refunds.
- `CommitPerChunk`: each unit written, bound per chunk, for a flow whose existence check
  finds what a crash left unbound (products: `find_products`).
- `Batches(size, action)`: units written `size` at a time by `Flow.write_batch`, all or
  nothing, bound per chunk; idempotent writes (stock levels).
- `EachOrBatch(size, batched, marks, action)`: as `CommitEach`, but the units the flow
  picks (`batched`) wait and are written `size` at a time by `Flow.write_batch`, each
  batch committed as soon as it is written; a unit sharing a mark with one waiting (the
  same e-mail) is put again once the batch is written. New debtors of a target with a
  batch endpoint (customers).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from host.flows import Action, Unit


class Writer(Protocol):
    """The runner, as a write strategy writes through it."""

    def write(self, unit: Unit) -> None:
        """Write one unit with `Flow.write` and record its outcome (a failure dead-letters
        its record); the binding waits for the next commit."""

    def write_batch(self, units: list[Unit], action: Action) -> None:
        """Write units with `Flow.write_batch`, each counted as `action`; a batch that
        fails is written again one unit at a time."""

    def judge(self, unit: Unit) -> None:
        """Record what `Flow.changed` makes of a bound unit whose content changed; nothing
        is written."""

    def commit(self) -> None:
        """Commit the bindings, dead letters and events that wait, in one short transaction."""

    def check_stop(self) -> None:
        """Raise `Stopped` when the run was asked to stop."""


class WriteStrategy(ABC):
    """How a flow's units are written. A flow makes one a run (`Flow.writes`).

    The runner calls `changed` for each bound unit whose content changed, `put` for each
    unit to write (once the target's `validate_record` passed it), `waiting` after each
    chunk and `finish` once the source is read to its end."""

    def changed(self, writer: Writer, unit: Unit) -> bool:
        """Whether a bound unit whose content changed is dealt with here; by default it is
        not, and is written like any other."""
        return False

    @abstractmethod
    def put(self, writer: Writer, unit: Unit) -> None:
        """Write `unit`, now or with others later."""

    def waiting(self) -> set[str]:
        """The source keys of the units put and not written yet (their dead letters stay open)."""
        return set()

    def finish(self, writer: Writer) -> None:  # noqa: B027 (most strategies keep none)
        """Write the units that wait."""


class CommitEach(WriteStrategy):
    """Each unit written, bound and committed before the next."""

    def put(self, writer: Writer, unit: Unit) -> None:
        writer.check_stop()  # every write is committed: stopping between two is clean
        writer.write(unit)
        writer.commit()


class CreateOnce(CommitEach):
    """Each unit created and committed before the next, once: a bound unit whose content
    changed is the flow's to judge (`Flow.changed`), never written again."""

    def changed(self, writer: Writer, unit: Unit) -> bool:
        writer.judge(unit)
        return True


class CommitPerChunk(WriteStrategy):
    """Each unit written when it comes, bound with its chunk."""

    def put(self, writer: Writer, unit: Unit) -> None:
        writer.write(unit)


class Batches(WriteStrategy):
    """Units written `size` at a time by `Flow.write_batch`, each counted as `action`."""

    def __init__(self, size: int, action: Action = "updated") -> None:
        if size < 1:
            raise ValueError(f"a batch holds at least one unit, not {size}")
        self.size = size
        self.action: Action = action
        self._pending: list[Unit] = []

    def __repr__(self) -> str:
        return f"Batches({self.size}, {self.action!r})"

    def put(self, writer: Writer, unit: Unit) -> None:
        pending = self._pending
        pending.append(unit)
        if len(pending) >= self.size:
            self.finish(writer)

    def waiting(self) -> set[str]:
        return {unit.source_key for unit in self._pending}

    def finish(self, writer: Writer) -> None:
        units, self._pending = self._pending, []
        if units:
            writer.write_batch(units, self.action)


class EachOrBatch(WriteStrategy):
    """Each unit written and committed at once, as by `CommitEach`, unless `batched(unit)`
    picks it: then it waits, and the units waiting are written `size` at a time by
    `Flow.write_batch` (all or nothing, each counted as `action`; a batch that fails is
    written again one unit at a time), once `size` wait and when the source is read to its
    end; each batch is committed as soon as it is written.

    `batched` is asked once a unit (it may look the unit up in the target). `marks(unit)`
    names what two units of one batch must not share (a key, a debtor's e-mail): a unit
    sharing a mark with one waiting is neither asked nor written until that batch is
    written, and is put again then (it may find what the batch wrote)."""

    def __init__(
        self,
        size: int,
        batched: Callable[[Unit], bool],
        marks: Callable[[Unit], Iterable[str]],
        action: Action = "created",
    ) -> None:
        if size < 1:
            raise ValueError(f"a batch holds at least one unit, not {size}")
        self.size = size
        self.batched = batched
        self.marks = marks
        self.action: Action = action
        self._pending: list[Unit] = []
        self._marked: set[str] = set()  # the marks of the units pending
        self._after: list[Unit] = []  # units put again once the pending batch is written

    def __repr__(self) -> str:
        return f"EachOrBatch({self.size}, {self.action!r})"

    def put(self, writer: Writer, unit: Unit) -> None:
        marks = set(self.marks(unit))
        if not marks.isdisjoint(self._marked):
            self._after.append(unit)
        elif self.batched(unit):
            self._pending.append(unit)
            self._marked |= marks
            if len(self._pending) >= self.size:
                self._flush(writer)
        else:
            writer.check_stop()
            writer.write(unit)
            writer.commit()

    def waiting(self) -> set[str]:
        return {unit.source_key for unit in (*self._pending, *self._after)}

    def finish(self, writer: Writer) -> None:
        while self._pending:
            self._flush(writer)

    def _flush(self, writer: Writer) -> None:
        """Write the pending batch and commit it; then put the units that waited for it."""
        units, self._pending, self._marked = self._pending, [], set()
        writer.check_stop()
        writer.write_batch(units, self.action)
        writer.commit()
        after, self._after = self._after, []
        for unit in after:
            self.put(writer, unit)
