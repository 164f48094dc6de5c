"""The contract kit against the Asperion sandbox: every entity and order type declared."""

from __future__ import annotations

from typing import Any

from ihost_asperion.convert import feedback_rank
from ihost_asperion.plugin import AsperionPlugin
from ihost_asperion.samples import SETTINGS, STAMP, article, shipping_article
from ihost_asperion.sandbox import AsperionSandbox

from host.models import Record
from host.plugins import Connection
from host.testing import ContractTests, samples

FEEDBACK_FIELD = "characteristic4"


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
        return {**sandbox.connection_settings(), **SETTINGS, "feedback_field": FEEDBACK_FIELD}

    def samples(self) -> dict[str, Record]:
        """The kit's feedback names the debtor `prepare` seeds (9999) as its customer; its
        order number is the kit's order (KIT-1001), which is found first."""
        found = super().samples()
        found["feedback"] = samples.feedback().model_copy(update={"customer_key": "9999"})
        return found

    def exists(self, sandbox: Any, connection: Connection, entity: str, target_id: str) -> bool:
        """Feedback is a line in the debtor's feedback field: the debtor `target_id` names
        holds one of the connector's lines there."""
        if entity != "feedback":
            return super().exists(sandbox, connection, entity, target_id)
        debtors = [d for d in sandbox.dump("debtors") if d["customerNumber"] == target_id]
        return len(debtors) == 1 and feedback_rank(debtors[0].get(FEEDBACK_FIELD)) is not None
