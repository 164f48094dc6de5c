"""The contract kit against the Lightspeed sandbox: every entity declared."""

from __future__ import annotations

from typing import Any

from ihost_lightspeed.plugin import LightspeedPlugin
from ihost_lightspeed.sandbox import LightspeedSandbox

from host.plugins import Connection
from host.testing import ContractTests, samples


class TestLightspeedContract(ContractTests):
    plugin_class = LightspeedPlugin
    sandbox_class = LightspeedSandbox
    sandbox_kwargs = {"burst_fraction": None}
    expect_records = {"products", "stock", "orders", "customers"}

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        sandbox.seed(
            "customers",
            [
                {
                    "firstName": "Kit",
                    "lastName": "Tester",
                    "Contact": {
                        "Emails": {
                            "ContactEmail": {"address": "kit@example.com", "useType": "Primary"}
                        }
                    },
                }
            ],
        )
        sandbox.seed(
            "items",
            [
                {
                    "description": "Kit product",
                    "customSku": samples.SKU,
                    "Prices": {"ItemPrice": {"amount": 12.5}},
                    "ItemShops": {"ItemShop": {"shopID": 1, "qoh": 7}},
                }
            ],
        )
        sandbox.seed(
            "sales",
            [
                {
                    "completed": True,
                    "customerID": 1,
                    "SaleLines": {"SaleLine": {"itemID": 1, "unitQuantity": 2, "unitPrice": 12.5}},
                }
            ],
        )
