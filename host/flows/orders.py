"""Orders flow: each order whose status is selected is created once in the target (DESIGN §4).

Order of checks, as users of such a service expect: the order already exists (bound, or
found by find_order) -> skipped; every SKU must exist in the target, else the order fails
naming the SKU; the debtor is the default debtor, or found by e-mail (or another field)
and updated, or created; then the order is created with the flow's order type.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, field_validator

from host.errors import RecordInvalid
from host.flows import Flow, FlowSettings, Outcome, Unit
from host.flows.customers import check_match_field, resolve_debtor
from host.models import OrderStatus, OrderType


class OrdersSettings(FlowSettings):
    @field_validator("match_debtor_on")
    @classmethod
    def _customer_field(cls, value: str) -> str:
        return check_match_field(value)

    statuses: list[OrderStatus] = Field(
        default_factory=lambda: ["paid"], description="statuses of the orders to send"
    )
    order_type: OrderType = Field("sales_order", description="what the order becomes in the target")
    match_debtor_on: str = Field("email", description="customer field that finds the debtor")
    default_debtor: str | None = Field(None, description="book every order on this debtor")
    update_debtors: bool = Field(True, description="update a debtor found in the target")

    @field_validator("statuses")
    @classmethod
    def _not_empty(cls, value: list[str]) -> list[str]:
        if not value:
            raise ValueError('give at least one status, e.g. ["paid"]')
        return value


class OrdersFlow(Flow):
    kind = "orders"
    Settings = OrdersSettings
    create_once = True

    def read(self, since: Any) -> Any:
        statuses = list(self.settings.statuses)
        return self.ctx.source.hook.fetch_orders(since=since, statuses=statuses)

    def select(self, record: Any) -> str | None:
        if record.status not in self.settings.statuses:
            return f"status {record.status} is not one of {', '.join(self.settings.statuses)}"
        return None

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
        target = self.ctx.target
        if target.implements("validate_record"):  # the debtor, as the customers flow checks it
            target.hook.validate_record(entity="customers", record=order.customer, order_type=None)
        debtor_id, action = resolve_debtor(
            self.ctx, order.customer, settings.match_debtor_on, settings.update_debtors
        )
        if action in ("created", "updated"):
            self.ctx.event(order.key, f"debtor {debtor_id} {action}", level="info")
        return debtor_id
