"""Customers flow: every changed customer becomes a debtor in the target (DESIGN §4)."""

from __future__ import annotations

from pydantic import Field, field_validator

from host.errors import RecordInvalid
from host.flows import (
    Flow,
    FlowContext,
    FlowSettings,
    Outcome,
    Unit,
    content_hash,
)
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


def resolve_debtor(
    ctx: FlowContext, customer: Customer, match_on: str, update_existing: bool = True
) -> tuple[str, str]:
    """Find or create the target's debtor for `customer`; returns (debtor id, action).

    A debtor bound with the same content is used as it is; a bound or found one is
    updated, a missing one created. The binding is recorded (entity "customers")
    unless this is a dry run.
    """
    target = ctx.target
    snapshot = customer.model_dump_json(exclude={"updated_at"})
    digest = content_hash(snapshot)
    binding = ctx.store.get_binding(ctx.source.name, target.name, "customers", customer.key)
    if binding is not None and binding.content_hash == digest:
        return binding.target_id, "unchanged"
    bound = binding.target_id if binding is not None else None
    debtor_id, action = write_debtor(ctx, customer, bound, match_on, update_existing)
    if not debtor_id:
        raise RecordInvalid(f"{target.name} returned no debtor id for customer {customer.key}")
    if action != "skipped" and not ctx.dry_run:
        ctx.store.put_binding(
            ctx.source.name, target.name, "customers", customer.key, debtor_id, digest, snapshot
        )
    return debtor_id, action


def write_debtor(
    ctx: FlowContext, customer: Customer, bound_id: str | None, match_on: str, update_existing: bool
) -> tuple[str, str]:
    """The bound debtor, or the one find_debtor finds, updated; else a new one.
    Returns (debtor id, "created" | "updated" | "skipped")."""
    target = ctx.target
    existing = bound_id or target.hook.find_debtor(customer=customer, match_on=match_on)
    if existing and not update_existing:
        return existing, "skipped"
    debtor_id = target.hook.upsert_debtor(customer=customer, existing_id=existing)
    return debtor_id, "updated" if existing else "created"


class CustomersFlow(Flow):
    kind = "customers"
    Settings = CustomersSettings

    def write(self, unit: Unit) -> Outcome:
        bound = unit.binding.target_id if unit.binding is not None else None
        debtor_id, action = write_debtor(
            self.ctx,
            unit.record,
            bound,
            self.settings.match_debtor_on,
            self.settings.update_existing,
        )
        reason = "debtor exists and update_existing is false" if action == "skipped" else None
        return Outcome(action, debtor_id, reason)  # type: ignore[arg-type]
