"""Customers flow: every changed customer becomes a debtor in the target (DESIGN §4)."""

from __future__ import annotations

from pydantic import Field, field_validator

from host.errors import RecordInvalid
from host.flows import Flow, FlowContext, FlowSettings, Outcome, Step, Unit
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

    def write(self, ctx: FlowContext, record: Customer, existing_id: str | None) -> Outcome:
        target = ctx.target
        existing = existing_id or target.hook.find_debtor(customer=record, match_on=self.match_on)
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

    def write(self, unit: Unit) -> Outcome:
        bound = unit.binding.target_id if unit.binding is not None else None
        return self.debtor.write(self.ctx, unit.record, bound)
