"""The contract kit against the Shopify sandbox."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

from ihost_shopify import samples as shopify
from ihost_shopify.plugin import ShopifyPlugin
from ihost_shopify.sandbox import ShopifySandbox

from host.models import Record
from host.plugins import Connection
from host.testing import ContractTests, samples


class TestShopifyContract(ContractTests):
    plugin_class = ShopifyPlugin
    sandbox_class = ShopifySandbox
    expect_records = {"orders"}

    def samples(self) -> dict[str, Record]:
        kit = super().samples()
        kit["shipments"] = kit["shipments"].model_copy(update={"order_number": "#7001"})
        return kit

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        super().prepare(sandbox, connection)
        sandbox.seed("orders", [shopify.order(7001, skus=(samples.SKU,))])

    def existing_order_id(self, sandbox: Any, connection: Connection) -> str:
        return "7001"

    def stock_of(self, sandbox: Any, connection: Connection, sku: str) -> Decimal | None:
        items = {
            v["inventoryItem"]["id"]
            for p in sandbox.dump("products")
            for v in p["variants"]["nodes"]
            if v["sku"] == sku
        }
        levels = [
            row["available"] for row in sandbox.dump("inventory") if row["inventoryItemId"] in items
        ]
        return Decimal(levels[0]) if levels else None

    def exists(self, sandbox: Any, connection: Connection, entity: str, target_id: str) -> bool:
        (order,) = [o for o in sandbox.dump("orders") if o["id"].endswith("/7001")]
        return any(f["id"].endswith(f"/{target_id}") for f in order["fulfillments"])
