"""The contract kit against the BuchhaltungsButler sandbox: every entity and order type declared."""

from __future__ import annotations

from typing import Any

from ihost_buchhaltungsbutler.plugin import BuchhaltungsButlerPlugin
from ihost_buchhaltungsbutler.sandbox import BuchhaltungsButlerSandbox

from host.plugins import Connection
from host.testing import ContractTests


class TestBuchhaltungsButlerContract(ContractTests):
    plugin_class = BuchhaltungsButlerPlugin
    sandbox_class = BuchhaltungsButlerSandbox
    expect_records = {"orders"}

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        sandbox.seed(
            "receipts",
            [
                {
                    "type": "invoice outbound",
                    "date": "2026-05-01",
                    "date_uploaded": "2026-05-01 12:00:00",
                    "counterparty": "Kit Kunde GmbH",
                    "invoicenumber": "RE-KIT-1",
                    "amount": "119.00",
                    "amount_paid": "119.00",
                    "currency": "EUR",
                    "vat": [{"rate": "19.00", "net": "100.00", "vat": "19.00"}],
                }
            ],
        )

    def exists(self, sandbox: Any, connection: Connection, entity: str, target_id: str) -> bool:
        return any(str(r["id_by_customer"]) == target_id for r in sandbox.dump("receipts"))
