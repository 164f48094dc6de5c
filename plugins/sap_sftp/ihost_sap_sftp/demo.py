"""`ihost demo asperion-sap-sftp`: an Asperion administration and a SAP system that
exchanges IDoc files over SFTP (the sandbox's emulated SAP side takes the inbound folder as
SAP's file port does). Articles, stock and debtors go from Asperion to SAP as MATMAS, a CSV
stock snapshot and DEBMAS; SAP's orders (ORDERS05, two in one file) become Asperion sales
orders, each debtor found by e-mail or created (a company with its contact person).

Asperion is seeded in its own JSON, SAP in IDoc JSON; this module imports no other
connector.
"""

from __future__ import annotations

import time
from typing import Any

from host.demo import ARTICLES, RESERVED, STOCK, DemoFlow, DemoPair, Sandboxes

UPDATED = "2026-11-20T10:30:00"  # Amsterdam local time, as Asperion writes it
#: the Asperion connection's settings beyond its sandbox's own
ERP_SETTINGS = {"business_booking_group": "BI", "payment_condition_id": 1}


def _partner(role: str, **fields: Any) -> dict[str, Any]:
    return {"PARVW": role, **fields}


def sap_orders() -> list[dict[str, Any]]:
    """Two ORDERS05 IDocs as SAP sends them: a company's order and a person's."""
    bakery = {
        "PARTN": "0000020001",
        "ANRED": "Firma",
        "NAME1": "Bakkerij Jansen BV",
        "NAME2": "Piet Jansen",
        "STRAS": "Dorpsstraat 7",
        "PSTLZ": "3512 AB",
        "ORT01": "Utrecht",
        "LAND1": "NL",
        "SMTP_ADDR": "piet@bakkerij-jansen.example",
        "SPRAS_ISO": "NL",
    }
    anna = {
        "PARTN": "0000010500",
        "NAME1": "Anna de Vries",
        "STRAS": "Keizersgracht 123 A",
        "PSTLZ": "1015 CJ",
        "ORT01": "Amsterdam",
        "LAND1": "NL",
        "SMTP_ADDR": "anna@example.com",
    }
    return [
        {
            "E1EDK01": {"CURCY": "EUR", "BELNR": "0000012001", "ZTERM": "0001"},
            "E1EDK03": {"IDDAT": "012", "DATUM": "20261120", "UZEIT": "101500"},
            "E1EDKA1": [_partner("AG", **bakery), _partner("WE", **bakery)],
            "E1EDK02": {"QUALF": "001", "BELNR": "PO-7781", "DATUM": "20261120"},
            "E1EDP01": [
                {
                    "POSEX": "000010",
                    "MENGE": "6",
                    "MENEE": "PCE",
                    "VPREI": "10.33",
                    "PEINH": "1",
                    "E1EDP19": {"QUALF": "002", "IDTNR": "MUG-01", "KTEXT": "Stoneware mug"},
                    "E1EDP04": {"MWSKZ": "H21", "MSATZ": "21"},
                },
                {
                    "POSEX": "000020",
                    "MENGE": "10",
                    "MENEE": "PCE",
                    "VPREI": "6.57",
                    "PEINH": "1",
                    "E1EDP19": {"QUALF": "002", "IDTNR": "TEA-GRN", "KTEXT": "Green tea, 100 g"},
                    "E1EDP04": {"MWSKZ": "H21", "MSATZ": "21"},
                },
            ],
        },
        {
            "E1EDK01": {"CURCY": "EUR", "BELNR": "0000012002", "ZTERM": "0002"},
            "E1EDK03": {"IDDAT": "012", "DATUM": "20261120", "UZEIT": "113000"},
            "E1EDKA1": [_partner("AG", **anna)],
            "E1EDK02": {"QUALF": "001", "BELNR": "PO-7782"},
            "E1EDP01": [
                {
                    "POSEX": "000010",
                    "MENGE": "1",
                    "VPREI": "24.75",
                    "E1EDP19": {"QUALF": "002", "IDTNR": "SHIRT-M"},
                    "E1EDP04": {"MSATZ": "21"},
                }
            ],
        },
    ]


def seed(sandboxes: Sandboxes) -> None:
    erp = sandboxes["erp"]
    erp.seed(
        "articles",
        [
            {
                "articleCode": code,
                "description": name,
                "salesPrice": round(price / 1.21, 2),  # Asperion keeps prices excluding VAT
                "vatCodeId": "H21",
                "salesTypeId": 1,
                "unit": "stuk",
                "currentStock": stock,
                "reservedStock": reserved,
                "dateLastChange": UPDATED,
            }
            for (code, name, price), stock, reserved in zip(ARTICLES, STOCK, RESERVED, strict=True)
        ],
    )
    erp.seed(
        "debtors",
        [
            {
                "customerNumber": "10500",
                "name": "Anna de Vries",
                "emailAddress": "anna@example.com",
                "address": "Keizersgracht 123 A",
                "postCode": "1015 CJ",
                "city": "Amsterdam",
                "countryCode": "NL",
                "debtorKindId": "BI",
                "paymentConditionId": 1,
                "dateLastChange": UPDATED,
            },
        ],
    )
    sandboxes["sap"].seed("orders", sap_orders())


def epilogue(sandboxes: Sandboxes) -> list[str]:
    """What SAP's file port made of the files ihost wrote (waiting for its poll)."""
    sap = sandboxes["sap"]
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        log = sap.process_inbound() + sap.dump("inbound")
        if not [f for f in sap.dump("files") if f["folder"] == "in"]:
            break
        time.sleep(0.2)
    log = sap.dump("inbound")
    accepted = [e for e in log if e["status"] == "accepted"]
    refused = [e for e in log if e["status"] != "accepted"]
    lines = [
        f"SAP's file port took {len(accepted)} file(s) from the inbound folder: "
        f"{len(sap.dump('materials'))} materials, {len(sap.dump('customers'))} customers, "
        f"stock for {len(sap.dump('stock'))} material(s)"
    ]
    lines += [f"SAP refused {e['file']}: {'; '.join(e['errors'])}" for e in refused]
    return lines


PAIR = DemoPair(
    name="asperion-sap-sftp",
    title="Asperion inTrade and SAP over SFTP: SAP's orders to Asperion as sales orders; "
    "articles, stock and debtors to SAP as IDoc and CSV files",
    systems={"erp": ("asperion", {}), "sap": ("sap_sftp", {})},
    flows=(
        DemoFlow("products", "products", "erp", "sap"),
        DemoFlow("stock", "stock", "erp", "sap"),
        DemoFlow("customers", "customers", "erp", "sap"),
        DemoFlow(
            "orders",
            "orders",
            "sap",
            "erp",
            (
                "[flows.orders.settings]",
                'order_type = "sales_order"',
                "[flows.orders.mapping]",
                'payment_terms = { "0001" = "1", "0002" = "2" }  # SAP\'s terms: Asperion\'s',
            ),
        ),
    ),
    seed=seed,
    settings={"erp": ERP_SETTINGS},
    epilogue=epilogue,
)
