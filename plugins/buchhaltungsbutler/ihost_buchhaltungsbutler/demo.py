"""`ihost demo asperion-buchhaltungsbutler`: the Asperion <-> BuchhaltungsButler seed page on
the two sandboxes. Debtors go from Asperion to BuchhaltungsButler; paid outbound invoices
(receipts) come back from BuchhaltungsButler to Asperion as sales invoices, each debtor found
by e-mail or created. Products and stock are on the page too, but BuchhaltungsButler's API
has neither: the demo shows those flows as unsupported, with the reason.

Both sides are seeded in their own JSON; this module imports no other connector.
"""

from __future__ import annotations

from typing import Any

from host.demo import DemoFlow, DemoPair, Sandboxes

ASPERION_STAMP = "2026-11-20T10:30:00"  # Amsterdam local time, as Asperion writes it


def outbound_receipt(
    invoicenumber: str, counterparty: str, net: str, rate: str, paid: bool, day: str
) -> dict[str, Any]:
    """An outbound invoice's receipt in BuchhaltungsButler's JSON: one VAT rate, paid in
    full on its day or not at all (the demo's and the tests' receipts)."""
    vat = f"{float(net) * float(rate) / 100:.2f}"
    gross = f"{float(net) + float(vat):.2f}"
    return {
        "type": "invoice outbound",
        "date": day,
        "date_uploaded": f"{day} 16:00:00",
        "counterparty": counterparty,
        "invoicenumber": invoicenumber,
        "amount": gross,
        "amount_paid": gross if paid else "0.00",
        "payment_date": day if paid else None,
        "currency": "EUR",
        "vat": [{"rate": rate, "net": net, "vat": vat}],
    }


def _receipt(number: int, counterparty: str, net: str, rate: str, paid: bool) -> dict[str, Any]:
    return outbound_receipt(f"RE-2026-{number:05d}", counterparty, net, rate, paid, "2026-11-18")


def seed(sandboxes: Sandboxes) -> None:
    books, erp = sandboxes["buchhaltungsbutler"], sandboxes["asperion"]
    # sales to Germany (OSS): the administration has the German rates as VAT codes
    erp.seed(
        "vatcodes",
        [
            {"id": "DE19", "description": "OSS Duitsland 19%", "percentage": 19.0}
            | {"salesCode": True, "countryCode": "DE"},
            {"id": "DE7", "description": "OSS Duitsland 7%", "percentage": 7.0}
            | {"salesCode": True, "countryCode": "DE"},
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
                "dateLastChange": ASPERION_STAMP,
            },
            {
                "customerNumber": "10501",
                "name": "Bäckerei Müller GmbH",
                "attentionTo": "Jonas Müller",
                "emailAddress": "einkauf@baeckerei-mueller.de",
                "address": "Hauptstraße 5",
                "postCode": "50667",
                "city": "Köln",
                "countryCode": "DE",
                "vatNumber": "DE123456789",
                "debtorKindId": "EU",
                "dateLastChange": ASPERION_STAMP,
            },
        ],
    )
    books.seed(
        "debtors",
        [
            {
                "name": "Kaffeehaus Schmidt",
                "contact_person_name": "Lena Schmidt",
                "street": "Marktplatz 1",
                "zip": "10115",
                "city": "Berlin",
                "country": "DE",
                "email": "lena@kaffeehaus-schmidt.de",
                "customer_number": "K-2001",
            }
        ],
    )
    books.seed(
        "receipts",
        [
            _receipt(1, "Kaffeehaus Schmidt", "250.00", "19", paid=True),
            _receipt(2, "Kaffeehaus Schmidt", "80.00", "7", paid=True),
            _receipt(3, "Kaffeehaus Schmidt", "40.00", "19", paid=False),  # not paid: not read
            # a counterparty BuchhaltungsButler keeps no debtor for: no e-mail to find it by
            _receipt(4, "Laufkundschaft", "12.00", "19", paid=True),
        ],
    )


PAIR = DemoPair(
    name="asperion-buchhaltungsbutler",
    title="Asperion and BuchhaltungsButler: debtors to BuchhaltungsButler; paid outbound "
    "invoices back to Asperion as sales invoices (products and stock: not in "
    "BuchhaltungsButler's API)",
    systems={"asperion": ("asperion", {}), "buchhaltungsbutler": ("buchhaltungsbutler", {})},
    flows=(
        DemoFlow("customers", "customers", "asperion", "buchhaltungsbutler"),
        DemoFlow(
            "orders",
            "orders",
            "buchhaltungsbutler",
            "asperion",
            ("[flows.orders.settings]", 'order_type = "invoice"'),
        ),
    ),
    unsupported=(
        ("products", "asperion", "buchhaltungsbutler"),
        ("stock", "asperion", "buchhaltungsbutler"),
    ),
    seed=seed,
    settings={
        "asperion": {
            "business_booking_group": "BI",
            "sales_journal_id": "VK",
            "revenue_ledger_account_id": 8000,
        }
    },
)
