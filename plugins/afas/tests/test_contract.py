"""The contract kit against the AFAS sandbox."""

from __future__ import annotations

from typing import Any

from ihost_afas import sandbox as afas
from ihost_afas.plugin import AfasPlugin
from ihost_afas.sandbox import AfasSandbox

from host.plugins import Connection
from host.testing import ContractTests, samples


class TestAfasContract(ContractTests):
    plugin_class = AfasPlugin
    sandbox_class = AfasSandbox
    expect_records = {"products", "stock", "customers", "shipments"}

    def prepare(self, sandbox: Any, connection: Connection) -> None:
        sandbox.seed(
            afas.ARTICLES,
            [
                {
                    "ItemCode": samples.SKU,
                    "Description": "Kit product",
                    "BasicSalesPrice": 12.5,
                    "UnitId": "stk",
                    "Blocked": False,
                    "DateModified": "2026-05-01T10:00:00Z",
                }
            ],
        )
        sandbox.seed(
            afas.STOCK,
            [
                {
                    "ItemCode": samples.SKU,
                    "Warehouse": "*****",
                    "StockActual": 7,
                    "ModifiedDate": "2026-05-01T10:00:00Z",
                }
            ],
        )
        sandbox.seed(
            afas.DEBTORS,
            [
                {
                    "DebtorId": "9999",
                    "DebtorName": "Existing BV",
                    "Email": "other@example.com",
                    "ModifiedDate": "2026-05-01T10:00:00Z",
                }
            ],
        )
        sandbox.seed(
            afas.DELIVERIES,
            [
                {
                    "DeliveryNote": "P1",
                    "OrderNumber": "60000001",
                    "Carrier": "PostNL",
                    "TrackTrace": "3SABC",
                    "ModifiedDate": "2026-05-01T10:00:00Z",
                }
            ],
        )

    def exists(self, sandbox: Any, connection: Connection, entity: str, target_id: str) -> bool:
        return any(r["OrderNumber"] == target_id for r in sandbox.dump(afas.ORDERS))
