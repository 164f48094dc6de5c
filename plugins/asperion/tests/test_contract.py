"""The contract kit against the Asperion sandbox: every entity and order type declared."""

from __future__ import annotations

from typing import Any

from ihost_asperion.plugin import AsperionPlugin
from ihost_asperion.samples import SETTINGS, STAMP, article, shipping_article
from ihost_asperion.sandbox import AsperionSandbox

from host.plugins import Connection
from host.testing import ContractTests, samples


class TestAsperionContract(ContractTests):
    plugin_class = AsperionPlugin
    sandbox_class = AsperionSandbox
    expect_records = {"orders", "products", "stock", "customers"}

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        sandbox.seed("articles", [article(samples.SKU), shipping_article()])
        sandbox.seed(
            "debtors",
            [
                {
                    "customerNumber": "9999",
                    "name": "Existing BV",
                    "attentionTo": "Jan Bestaand",
                    "emailAddress": "other@example.com",
                    "debtorKindId": "BI",
                    "dateLastChange": STAMP,
                }
            ],
        )
        sandbox.seed(  # a paid invoice of that debtor: what fetch_orders reads
            "salesinvoices",
            [
                {
                    "invoiceNumber": "KIT-READ-1",
                    "date": "2026-05-01",
                    "debtorCustomerNumber": "9999",
                    "journalId": "VK",
                    "status": 7,
                    "lines": {
                        "_data": [
                            {
                                "description": f"2 x Kit ({samples.SKU})",
                                "amount": 25.0,
                                "vatCode": "H21",
                                "ledgerAccountId": 8000,
                            }
                        ]
                    },
                }
            ],
        )

    def settings(self, sandbox: Any) -> dict[str, Any]:
        return {**sandbox.connection_settings(), **SETTINGS}
