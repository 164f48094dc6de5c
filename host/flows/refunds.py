"""Refunds flow: a refund (or credit) for the order the target already has (DESIGN §4)."""

from __future__ import annotations

from host.flows import FlowSettings, Outcome, Unit
from host.flows.shipments import _OrderAttached


class RefundsSettings(FlowSettings):
    pass


class RefundsFlow(_OrderAttached):
    kind = "refunds"
    Settings = RefundsSettings

    def write(self, unit: Unit) -> Outcome:
        refund = unit.record
        order_id = self.target_order_id(refund)
        target_id = self.ctx.target.hook.create_refund(refund=refund, order_id=order_id)
        reason = None if order_id else f"order {refund.order_number} found by number"
        return Outcome("created", str(target_id), reason)
