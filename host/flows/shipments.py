"""Shipments and refunds flows: attach to the order the target already has (DESIGN §4).

The target's order is found through the bindings of an orders flow between the same two
connections, in either direction: a webshop order written to the ERP comes back as an
ERP shipment. Without a binding the connector gets order_id None and looks the order up
by the record's order number.
"""

from __future__ import annotations

from typing import Any

from host.flows import Flow, FlowSettings, Outcome, Unit
from host.flows.writes import CreateOnce, WriteStrategy


class ShipmentsSettings(FlowSettings):
    pass


class _OrderAttached(Flow):
    def writes(self) -> WriteStrategy:
        return CreateOnce()

    def target_order_id(self, record: Any) -> str | None:
        """The target's id of the record's order, from orders bindings either way: the
        orders this source sent the target are bound by their key (an order number is never
        taken for a key: it may be another order's); those the target sent this source by
        the id they got here, which may be the record's order key or number."""
        store, source, target = self.ctx.store, self.ctx.source.name, self.ctx.target.name
        if record.order_key:
            forward = store.get_binding(source, target, "orders", record.order_key)
            if forward is not None:
                return forward.target_id
        for ref in dict.fromkeys(r for r in (record.order_key, record.order_number) if r):
            backward = store.find_order_binding_by_target(target, source, ref)
            if backward is not None:
                return backward.source_key
        return None


class ShipmentsFlow(_OrderAttached):
    kind = "shipments"
    Settings = ShipmentsSettings

    def write(self, unit: Unit) -> Outcome:
        shipment = unit.record
        order_id = self.target_order_id(shipment)
        if not shipment.complete and not self.ctx.target.capabilities.split_shipments:
            self.ctx.event(
                shipment.key, "partial shipment written whole: target has no split shipments"
            )
        target_id = self.ctx.target.hook.create_shipment(shipment=shipment, order_id=order_id)
        reason = None if order_id else f"order {shipment.order_number} found by number"
        return Outcome("created", str(target_id), reason)
