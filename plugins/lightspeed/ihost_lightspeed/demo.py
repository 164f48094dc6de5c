"""`ihost demo lightspeedpos-buchhaltungsbutler`: the LightspeedPos -> BuchhaltungsButler seed
page on the two sandboxes. Completed sales become outgoing invoices with their debtor;
the page's products and stock flows are shown as unsupported, with the reason
(BuchhaltungsButler's API has neither).

Lightspeed is seeded in its own JSON; this module imports no other connector.
"""

from __future__ import annotations

from host.demo import DemoFlow, DemoPair, Sandboxes
from host.sandbox import Sandbox


def seed_pos(sandbox: Sandbox) -> None:
    """A shop's till: a mug, a tee in two sizes (a matrix), stock at shop 1 (two mugs on
    layaway), a company customer and a completed sale to her, and a sale still open."""
    sandbox.seed("categories", [{"categoryID": 1, "name": "Kleding"}])
    sandbox.seed(
        "itemmatrices",
        [{"itemMatrixID": 7, "description": "Tee", "itemAttributeSetID": 2, "categoryID": 1}],
    )
    sandbox.seed(
        "items",
        [
            {
                "description": "Mok",
                "customSku": "MUG-01",
                "Prices": {"ItemPrice": {"amount": 12.1}},
                "ItemShops": {"ItemShop": {"shopID": 1, "qoh": 40, "onLayaway": 2}},
            },
            *(
                {
                    "itemMatrixID": 7,
                    "customSku": f"TEE-{size}",
                    "categoryID": 1,
                    "Prices": {"ItemPrice": {"amount": 19.95}},
                    "ItemAttributes": {"attribute1": size},
                    "ItemShops": {"ItemShop": {"shopID": 1, "qoh": qoh}},
                }
                for size, qoh in (("S", 3), ("M", 5))
            ),
        ],
    )
    sandbox.seed(
        "customers",
        [
            {
                "firstName": "Lena",
                "lastName": "Schmidt",
                "company": "Kaffeehaus Schmidt",
                "Contact": {
                    "Emails": {
                        "ContactEmail": {"address": "lena@kaffeehaus.de", "useType": "Primary"}
                    },
                    "Addresses": {
                        "ContactAddress": {
                            "address1": "Marktplatz 1",
                            "city": "Berlin",
                            "zip": "10115",
                            "countryCode": "DE",
                        }
                    },
                },
            }
        ],
    )
    sandbox.seed(
        "sales",
        [
            {
                "completed": True,
                "customerID": 1,
                "isTaxInclusive": True,
                "SaleLines": {
                    "SaleLine": [
                        {"itemID": 1, "unitQuantity": 2, "unitPrice": 12.1, "tax1Rate": 0.19},
                        {"itemID": 2, "unitQuantity": 1, "unitPrice": 19.95, "tax1Rate": 0.19},
                    ]
                },
            },
            {"completed": False, "customerID": 1},  # still open: not an order yet
        ],
    )


def seed(sandboxes: Sandboxes) -> None:
    seed_pos(sandboxes["lightspeedpos"])


PAIR = DemoPair(
    name="lightspeedpos-buchhaltungsbutler",
    title="LightspeedPos and BuchhaltungsButler: completed sales to BuchhaltungsButler as "
    "outgoing invoices (products and stock: not in BuchhaltungsButler's API)",
    systems={
        "lightspeedpos": ("lightspeed", {}),
        "buchhaltungsbutler": ("buchhaltungsbutler", {}),
    },
    flows=(
        DemoFlow(
            "orders",
            "orders",
            "lightspeedpos",
            "buchhaltungsbutler",
            ("[flows.orders.settings]", 'order_type = "invoice"'),
        ),
    ),
    unsupported=(
        ("products", "lightspeedpos", "buchhaltungsbutler"),
        ("stock", "lightspeedpos", "buchhaltungsbutler"),
    ),
    seed=seed,
)
