"""Customers flow: every changed customer becomes a debtor in the target (DESIGN §4).

A target with a batch endpoint (`create_debtors`, `capabilities.debtor_batch` above 1)
gets its new debtors in batches: a customer with no binding that `find_debtor` does not
find waits, and the waiting ones are created `debtor_batch` at a time (`EachOrBatch`);
the others are written one at a time. A batch that fails is written again one customer
at a time, each looked up first (the failed call may have created it, and is then found
and updated), and counted as created.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import Field, field_validator

from host.errors import FATAL, IntegrationError, RecordInvalid, TransientError
from host.flows import Flow, FlowContext, FlowSettings, Outcome, Step, Unit
from host.flows.writes import CommitEach, EachOrBatch, WriteStrategy
from host.models import Customer


class CustomersSettings(FlowSettings):
    @field_validator("match_debtor_on")
    @classmethod
    def _customer_field(cls, value: str) -> str:
        return check_match_field(value)

    match_debtor_on: str = Field(
        "email", description="customer field that finds an existing debtor (email, vat_number, ...)"
    )
    update_existing: bool = Field(True, description="update a debtor the target already has")


def check_match_field(value: str) -> str:
    """`value` if it names a customer field a debtor can be matched on."""
    allowed = sorted(set(Customer.model_fields) - {"extra", "billing_address", "shipping_address"})
    if value not in allowed:
        raise ValueError(f"{value!r} is not a customer field; use one of {', '.join(allowed)}")
    return value


class BatchUnanswered(IntegrationError):
    """A batch of debtors whose answer was lost: the remote may have made any of them, so
    it is not sent again as it is; the runner writes its customers one at a time."""


class DebtorStep(Step):
    """The target's debtor for a customer: the bound one or the one `find_debtor` finds
    (by `match_on`), updated unless `update_existing` is false; else a new one. `setting`
    names the flow's setting behind `update_existing`, for the reason a debtor is kept."""

    name = "debtor"
    entity = "customers"

    def __init__(
        self, match_on: str, update_existing: bool = True, setting: str = "update_existing"
    ) -> None:
        self.match_on = match_on
        self.update_existing = update_existing
        self.setting = setting

    def find(self, ctx: FlowContext, record: Customer) -> str | None:
        """The id of the target's debtor `find_debtor` finds for `record`, else None."""
        found = ctx.target.hook.find_debtor(customer=record, match_on=self.match_on)
        return str(found) if found else None

    def write(self, ctx: FlowContext, record: Customer, existing_id: str | None) -> Outcome:
        target = ctx.target
        existing = existing_id or self.find(ctx, record)
        if existing and not self.update_existing:
            return Outcome("skipped", existing, f"debtor exists and {self.setting} is false")
        debtor_id = target.hook.upsert_debtor(customer=record, existing_id=existing)
        if not debtor_id:
            raise RecordInvalid(f"{target.name} returned no debtor id for customer {record.key}")
        return Outcome("updated" if existing else "created", str(debtor_id))


class CustomersFlow(Flow):
    kind = "customers"
    Settings = CustomersSettings

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        self.debtor = DebtorStep(self.settings.match_debtor_on, self.settings.update_existing)
        self._found: dict[str, str] = {}  # key -> the debtor find_debtor found, until written
        self._unsure: set[str] = set()  # keys of customers in a batch that failed
        self._created: dict[str, str] = {}  # key -> debtor created by a batch (real runs)

    def writes(self) -> WriteStrategy:
        """New debtors in batches where the target creates them so; else one at a time."""
        target = self.ctx.target
        size = target.capabilities.debtor_batch
        if size > 1 and target.implements("create_debtors"):
            return EachOrBatch(size, self._batched, self._marks, "created")
        return CommitEach()

    def write(self, unit: Unit) -> Outcome:
        bound = unit.binding.target_id if unit.binding is not None else None
        known = bound or self._created.get(unit.key) or self._found.pop(unit.key, None)
        return self.debtor.write(self.ctx, unit.record, known)

    # --- batches (EachOrBatch) ---------------------------------------------------------------

    def _batched(self, unit: Unit) -> bool:
        """Whether the customer waits for a batch: it has no debtor yet (no binding, none
        created earlier in this run, none `find_debtor` finds). A debtor found is kept
        for `write`, which then does not look it up again."""
        if unit.binding is not None or unit.key in self._created:
            return False
        try:
            found = self.debtor.find(self.ctx, unit.record)
        except FATAL:
            raise
        except Exception:  # written now: its write looks it up again, and fails on its own
            return False
        if found is None:
            self._unsure.discard(unit.key)  # none there: a new one may be created
            return True
        self._found[unit.key] = found
        return False

    def _marks(self, unit: Unit) -> Iterator[str]:
        """What two customers of one batch must not share: their key, and the value their
        debtor is found by (two customers with one e-mail would become two debtors)."""
        yield f"key {unit.key}"
        match_on = self.debtor.match_on
        value = getattr(unit.record, match_on, None)
        if value:
            yield f"{match_on} {str(value).lower() if match_on == 'email' else value}"

    def write_batch(self, units: list[Unit]) -> list[str]:
        """Create the customers as new debtors with one `create_debtors` call; or, for a
        customer of a batch that failed (which the runner writes again on its own), look
        its debtor up and write it as `write` does."""
        if len(units) == 1 and units[0].key in self._unsure:
            target_ids = [self._write_again(units[0])]
        else:
            target_ids = self._create(units)
        if not self.ctx.dry_run:
            self._created.update((u.key, t) for u, t in zip(units, target_ids, strict=True))
        return target_ids

    def _create(self, units: list[Unit]) -> list[str]:
        target = self.ctx.target
        keys = [unit.key for unit in units]
        self._unsure.update(keys)  # until the remote's answer is read
        try:
            answer = target.hook.create_debtors(customers=[unit.record for unit in units])
        except TransientError as exc:
            if not exc.applied:  # certainly not acted on: the batch may be sent again
                self._unsure.difference_update(keys)
            elif len(units) > 1:  # not sent again as it is: one at a time, looked up first
                raise BatchUnanswered(str(exc), summary=exc.summary) from exc
            raise
        target_ids = [str(i) for i in answer or () if i]
        if len(target_ids) != len(units):
            raise RecordInvalid(
                f"{target.name} returned {len(target_ids)} debtor ids for {len(units)} customers"
            )
        self._unsure.difference_update(keys)
        return target_ids

    def _write_again(self, unit: Unit) -> str:
        outcome = self.debtor.write(self.ctx, unit.record, None)
        self._unsure.discard(unit.key)
        return str(outcome.target_id)
