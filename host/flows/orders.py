"""Orders flow: each order whose status is selected is created once in the target (DESIGN §4).

Order of checks, as users of such a service expect: the order already exists (bound, or
found by find_order) -> skipped; every SKU must exist in a target that keeps products (one
whose products are switched off by its settings keeps none), else the order fails naming
the SKU; the debtor is the default debtor, or the order's customer written as a
debtor (a step, `DebtorStep`: bound as the customers flow binds it, found by e-mail or
another field and updated, or created); then the order is created with the flow's order
type.

An order is created once. When its content changes in the source afterwards (lines,
quantities, amounts, addresses, ...), or it is cancelled, the run says so (`on_change =
"report"`): skipped, naming the fields that changed, never their values. The binding
keeps a fingerprint of what was written (a short hash per field) for that comparison.
"""

from __future__ import annotations

import json
from typing import Any

from pydantic import Field, field_validator

from host.errors import RecordInvalid
from host.flows import (
    Flow,
    FlowContext,
    FlowSettings,
    Outcome,
    Unit,
    changed_fields,
    field_hashes,
)
from host.flows.customers import DebtorStep, check_match_field
from host.flows.writes import CreateOnce, WriteStrategy
from host.models import OrderStatus, OrderType
from host.store import Binding

#: statuses of an order called off after it was created: followed once it is bound
CANCELLED = ("cancelled", "voided")
#: what the source changes as an order goes on (paid, fulfilled, refunded, tagged, a
#: customer's profile touched): no edit of what was created
LIFECYCLE = frozenset({"updated_at", "status", "fulfillment_status", "tags"})


class OrdersSettings(FlowSettings):
    @field_validator("match_debtor_on")
    @classmethod
    def _customer_field(cls, value: str) -> str:
        return check_match_field(value)

    statuses: list[OrderStatus] = Field(
        default_factory=lambda: list[OrderStatus](["paid"]),
        description="statuses of the orders to send",
    )
    order_type: OrderType = Field("sales_order", description="what the order becomes in the target")
    match_debtor_on: str = Field("email", description="customer field that finds the debtor")
    default_debtor: str | None = Field(None, description="book every order on this debtor")
    update_debtors: bool = Field(True, description="update a debtor found in the target")

    on_change: str = Field(
        "report",
        description="what an order edited or cancelled after it was created becomes: "
        '"report" (skipped, naming the fields that changed)',
    )

    @field_validator("statuses")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('give at least one status, e.g. ["paid"]')
        return value

    @field_validator("on_change")
    @classmethod
    def _report_only(cls, value: str) -> str:
        if value in ("update", "cancel"):
            raise ValueError(
                f'"{value}" is not possible: no connector can change or cancel an order it '
                'has created (ihost has no hook for it yet); use "report"'
            )
        if value != "report":
            raise ValueError('must be "report"')
        return value


class OrdersFlow(Flow):
    kind = "orders"
    Settings = OrdersSettings

    def __init__(self, ctx: FlowContext) -> None:
        super().__init__(ctx)
        settings = self.settings
        #: the step before an order: its customer's debtor (bound as the customers flow binds)
        self.debtor = DebtorStep(
            settings.match_debtor_on, settings.update_debtors, setting="update_debtors"
        )

    def writes(self) -> WriteStrategy:
        return CreateOnce()

    def read(self, since: Any) -> Any:
        """The orders of the selected statuses, and cancelled ones (to report those that
        were created before)."""
        statuses = list(dict.fromkeys([*self.settings.statuses, *CANCELLED]))
        return self.ctx.source.hook.fetch_orders(since=since, statuses=statuses)

    def select(self, record: Any) -> str | None:
        status = record.status
        if status in self.settings.statuses:
            return None
        if status in CANCELLED and self._bound(record.key):
            return None  # created before it was cancelled: changed() reports it
        return f"status {status} is not one of {', '.join(self.settings.statuses)}"

    def _bound(self, key: str) -> bool:
        ctx = self.ctx
        found = ctx.store.get_bindings(
            ctx.source.name, ctx.target.name, self.kind, [key], snapshots=False
        )
        return key in found

    def fingerprint(self, unit: Unit) -> str:
        return _as_json(field_hashes(unit.snapshot, LIFECYCLE))

    def changed(self, unit: Unit) -> Outcome:
        """An order edited or cancelled since it was created: reported, not written."""
        binding = unit.binding
        if binding is None:  # the runner asks only for bound units
            return Outcome("unchanged")
        order = unit.record
        notes = []
        if order.status in CANCELLED and order.status not in self.settings.statuses:
            notes.append(f"{order.status} after creation")
        before = self._written(unit, binding)
        if before is not None:
            fields = changed_fields(before, field_hashes(unit.snapshot, LIFECYCLE))
            if fields:
                notes.append("changed after creation: " + ", ".join(fields))
        if not notes:
            return Outcome("unchanged", binding.target_id)
        target = self.ctx.target.name
        notes.append(f"on_change = report: {target} keeps the order as it was created")
        return Outcome("skipped", binding.target_id, "; ".join(notes))

    def _written(self, unit: Unit, binding: Binding) -> dict[str, str] | None:
        """The field hashes of the order as it was written: from the binding's fingerprint,
        else (bound before fingerprints were kept) from its snapshot while it is kept."""
        if binding.fingerprint:
            found: dict[str, str] = json.loads(binding.fingerprint)
            return found
        ctx = self.ctx
        full = ctx.store.get_binding(ctx.source.name, ctx.target.name, self.kind, unit.key)
        snapshot = full.snapshot if full is not None else None
        return field_hashes(snapshot, LIFECYCLE) if isinstance(snapshot, dict) else None

    def write(self, unit: Unit) -> Outcome:
        order = unit.record
        target = self.ctx.target
        order_type = self.settings.order_type
        found = target.hook.find_order(order=order, order_type=order_type)
        if found and unit.attempt > 1:  # the try before wrote it; its answer was lost
            return Outcome("created", str(found), "found in the target after a lost answer")
        if found:
            return Outcome("skipped", str(found), "already in the target")
        self._check_skus(order)
        debtor_id = self._debtor(order)
        order_id = target.hook.create_order(order=order, order_type=order_type, debtor_id=debtor_id)
        if not order_id:
            raise RecordInvalid(f"{target.name} returned no id for order {order.number}")
        return Outcome("created", str(order_id))

    def _check_skus(self, order: Any) -> None:
        target = self.ctx.target
        skus = sorted({line.sku for line in order.lines if line.sku})
        if not skus or not target.implements("find_products"):
            return
        if target.capabilities.switched_off("products", target.settings):
            return  # products are switched off in this target: there is nothing to find
        known = target.hook.find_products(skus=skus) or {}
        missing = [sku for sku in skus if sku not in known]
        if missing:
            listed = ", ".join(missing)
            raise RecordInvalid(
                f"order {order.number}: SKU {listed} not found in {target.name}",
                key=order.key,
                field="lines.sku",
            )

    def _debtor(self, order: Any) -> str | None:
        settings = self.settings
        if settings.default_debtor:
            return settings.default_debtor
        if not self.ctx.target.implements("upsert_debtor"):
            return None
        if order.customer is None:
            raise RecordInvalid(
                f"order {order.number} has no customer; set default_debtor to book it anyway",
                key=order.key,
                field="customer",
            )
        return self.ctx.write_step(self.debtor, order.customer)


def _as_json(value: dict[str, str]) -> str:
    return json.dumps(value, sort_keys=True, separators=(",", ":"))
