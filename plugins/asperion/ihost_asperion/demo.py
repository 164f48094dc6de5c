"""`ihost demo shopify-asperion`: the demo shop on Shopify's sandbox and an inTrade
administration on Asperion's, with the flows a merchant with a webshop runs: articles,
stock and debtors from Asperion to Shopify; paid orders from Shopify to Asperion as sales
orders, each debtor found by e-mail or created (a company with its contact person).

The Asperion side is seeded in Asperion's own JSON; the Shopify side is ihost's demo shop
(host.demo), so this module imports no other connector.
"""

from __future__ import annotations

from host.demo import ARTICLES, RESERVED, STOCK, DemoFlow, DemoPair, Sandboxes, seed_shopify_shop

UPDATED = "2026-11-20T10:30:00"  # Amsterdam local time, as Asperion writes it


def seed(sandboxes: Sandboxes) -> None:
    seed_shopify_shop(sandboxes["shop"])
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
                "freeField1": "Stoneware" if code == "MUG-01" else None,
                "currentStock": stock,
                "reservedStock": reserved,
                "dateLastChange": UPDATED,
            }
            for (code, name, price), stock, reserved in zip(ARTICLES, STOCK, RESERVED, strict=True)
        ]
        + [
            {
                "articleCode": "VERZENDKOSTEN",
                "description": "Verzendkosten",
                "salesPrice": 5.74,
                "vatCodeId": "H21",
                "salesTypeId": 2,  # read by no flow: it is the connection's shipping_article
                "dateLastChange": UPDATED,
            }
        ],
    )
    erp.seed(
        "debtors",
        [
            {
                "customerNumber": "10500",
                "name": "Anna de Vries",
                "emailAddress": "anna@example.com",
                "phoneNumber": "+31201234567",
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


PAIR = DemoPair(
    name="shopify-asperion",
    title="Shopify webshop and Asperion inTrade: orders to Asperion as sales orders; "
    "articles, stock and debtors to Shopify",
    systems={"shop": ("shopify", {"restore_rate": 1000}), "erp": ("asperion", {})},
    flows=(
        DemoFlow("products", "products", "erp", "shop"),
        DemoFlow("stock", "stock", "erp", "shop"),
        DemoFlow("customers", "customers", "erp", "shop"),
        DemoFlow(
            "orders",
            "orders",
            "shop",
            "erp",
            (
                "[flows.orders.settings]",
                'order_type = "sales_order"',
                "[flows.orders.mapping]",
                'payment_method = { shopify_payments = "IDEAL", "*" = "BANK" }',
            ),
        ),
    ),
    seed=seed,
    settings={"erp": {"business_booking_group": "BI", "payment_condition_id": 1}},
)
