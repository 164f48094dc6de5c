"""The contract kit run against the test connectors and their sandboxes."""

from __future__ import annotations

from typing import Any

from ihost_testconnectors.plugin import ErpPlugin, OAuthErpPlugin, ShopPlugin
from ihost_testconnectors.sandbox import OAuthRecordSandbox, RecordSandbox

from host.plugins import Connection
from host.sandbox import Sandbox
from host.testing import ContractTests, samples


class TestShopContract(ContractTests):
    plugin_class = ShopPlugin
    sandbox_class = RecordSandbox
    expect_records = {"orders", "customers"}

    def prepare(self, sandbox: Sandbox, connection: Connection) -> None:
        super().prepare(sandbox, connection)
        order = self.samples()["orders"].model_dump(mode="json")
        sandbox.seed("orders", [{**order, "id": "5001"}])
        other = samples.customer("kit-customer-2").model_copy(update={"email": "other@example.com"})
        sandbox.seed("customers", [other.model_dump(mode="json")])

    def existing_order_id(self, sandbox: Sandbox, connection: Connection) -> str:
        return "5001"

    def stock_of(self, sandbox: Any, connection: Connection, sku: str) -> Any:
        rows = [r for r in sandbox.dump("stock") if r["sku"] == sku]
        return rows[0]["on_hand"] and type(self.samples()["stock"].quantity)(rows[0]["on_hand"])

    def exists(self, sandbox: Sandbox, connection: Connection, entity: str, target_id: str) -> bool:
        return any(r["id"] == target_id for r in sandbox.dump(entity))


class TestErpContract(ContractTests):
    plugin_class = ErpPlugin
    sandbox_class = RecordSandbox
    expect_records = {"products"}

    def exists(self, sandbox: Sandbox, connection: Connection, entity: str, target_id: str) -> bool:
        if entity in self.plugin_class.capabilities.reads:
            return super().exists(sandbox, connection, entity, target_id)
        return any(r["id"] == target_id for r in sandbox.dump(entity))


class TestOAuthErpContract(TestErpContract):
    """The kit authorizes a connector with an OAuth2 authorization-code flow at its sandbox."""

    plugin_class = OAuthErpPlugin
    sandbox_class = OAuthRecordSandbox
