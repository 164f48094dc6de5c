"""The contract kit against the {{ cookiecutter.system }} sandbox."""

from __future__ import annotations

from typing import Any

from host.plugins import Connection
from host.testing import ContractTests
from {{ cookiecutter.package }}.plugin import Plugin
from {{ cookiecutter.package }}.sandbox import SystemSandbox


class TestContract(ContractTests):
    plugin_class = Plugin
    sandbox_class = SystemSandbox

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        super().prepare(sandbox, connection)
        for entity, record in self.samples().items():  # something for every fetch to read
            row = {**record.model_dump(mode="json"), "key": f"seed-{entity}"}
            if entity == "customers":
                row["email"] = "seeded@example.com"  # not the sample the kit writes
            if entity == "orders":
                row["id"] = "order-1"  # shipments and refunds are written against it
            sandbox.seed(entity, [row])

    def existing_order_id(self, sandbox: Any, connection: Connection) -> str:
        if "orders" in self.plugin_class.capabilities.writes:
            return super().existing_order_id(sandbox, connection)
        return "order-1"

    def stock_of(self, sandbox: Any, connection: Connection, sku: str) -> Any:
        from decimal import Decimal

        rows = [r for r in sandbox.dump("stock") if r["sku"] == sku and "on_hand" in r]
        return Decimal(rows[-1]["on_hand"]) if rows else None

    def exists(self, sandbox: Any, connection: Connection, entity: str, target_id: str) -> bool:
        return any(r["id"] == target_id for r in sandbox.dump(entity))
