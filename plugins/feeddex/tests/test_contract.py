"""The contract kit against the Feeddex sandbox: orders (as transactions), customers,
feedback, and products and stock on the endpoints a setting switches on."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ihost_feeddex.plugin import FeeddexPlugin
from ihost_feeddex.sandbox import FeeddexSandbox

from host.plugins import Connection
from host.sandbox import Sandbox
from host.testing import ContractTests


class TestFeeddexContract(ContractTests):
    plugin_class = FeeddexPlugin
    sandbox_class = FeeddexSandbox
    sandbox_kwargs = {"response_rate": 100}
    expect_records = {"feedback"}

    def settings(self, sandbox: Sandbox) -> dict[str, Any]:
        return {
            **sandbox.connection_settings(),
            "products_path": "/v1/products",
            "stock_path": "/v1/stock",
        }

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        super().prepare(sandbox, connection)
        today = sandbox.now().date().isoformat()
        sandbox.seed(
            "transactions",
            [
                {
                    "externalId": "SEED-1",
                    "date": today,
                    "unitId": 1,
                    "customer": {"email": "seeded@example.com"},
                    "sendInvitationAfterDays": 0,
                }
            ],
        )
        sandbox.advance(3)

    def stock_of(self, sandbox: Any, connection: Connection, sku: str) -> Decimal | None:
        rows = [r for r in sandbox.dump("stock") if r.get("sku") == sku]
        return Decimal(str(rows[-1]["quantity"])) if rows else None
