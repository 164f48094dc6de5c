"""Stock flow: the quantity each SKU should show in the target, pushed in batches (DESIGN §4)."""

from __future__ import annotations

from decimal import Decimal
from typing import Any, Literal

from pydantic import Field

from host.flows import Flow, FlowSettings, Unit
from host.models import StockLevel

ZERO = Decimal(0)


class StockSettings(FlowSettings):
    stock_rule: Literal["available_minus_reserved", "on_hand", "available"] = Field(
        "available_minus_reserved",
        description="available (or on hand when the source gives no available) minus "
        "sales reservations; or on hand; or available",
    )
    manage_stock: bool = Field(True, description="whether the target tracks stock for these SKUs")
    locations: list[str] | None = Field(None, description="only levels of these source locations")
    batch_size: int | None = Field(
        None, ge=1, description="levels per push; at most (and by default) the target's stock_batch"
    )


def quantity(level: StockLevel, rule: str) -> Decimal:
    """What the target should show for `level` under `rule`, never below zero."""
    available = level.available if level.available is not None else level.on_hand
    if rule == "on_hand":
        value = level.on_hand
    elif rule == "available":
        value = available
    else:
        value = available - level.reserved
    return max(value, ZERO)


class StockFlow(Flow):
    kind = "stock"
    Settings = StockSettings
    batched = True
    commit_each = False

    def select(self, record: Any) -> str | None:
        locations = self.settings.locations
        if locations is not None and record.location not in locations:
            return f"location {record.location} is not one of {', '.join(locations)}"
        return None

    @property
    def batch_size(self) -> int:
        limit = self.ctx.target.capabilities.stock_batch
        return min(self.settings.batch_size or limit, limit)

    def units(self, record: Any) -> list[Unit]:
        amount = quantity(record, self.settings.stock_rule)
        managed = self.settings.manage_stock
        # the level is the run's own: set its fields in place (a model copy or a validated
        # assignment per level would cost more than the rest of the flow)
        record.__dict__.update(quantity=amount, managed=managed)
        key = record.sku if record.location is None else f"{record.sku}@{record.location}"
        text = f'{{"managed":{"true" if managed else "false"},"quantity":"{amount}"}}'
        return [Unit(record.key, key, record, text, text)]

    def write_batch(self, units: list[Unit]) -> list[str]:
        levels = [unit.record for unit in units]
        self.ctx.target.hook.push_stock(levels=levels)
        return [level.sku for level in levels]
