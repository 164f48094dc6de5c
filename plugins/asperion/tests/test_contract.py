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
    expect_records = {"products", "stock", "customers"}

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

    def settings(self, sandbox: Any) -> dict[str, Any]:
        return {**sandbox.connection_settings(), **SETTINGS}
