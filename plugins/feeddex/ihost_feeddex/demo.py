"""The Feeddex demo pairs, on sandboxes.

`ihost demo asperion-feeddex`: the Asperion <-> Feeddex seed page. Debtors go from Asperion
to Feeddex as customers; paid sales invoices become Feeddex transactions (Feeddex invites
each customer), once each; the Feeddex sandbox then lets four days pass, its customers
answer (or do not), and the feedback flow writes each order's status and F100 score into
the debtor's free field in Asperion. Products and stock are on the page too, but nothing
public shows Feeddex has them: the demo shows those flows with the reason.

`ihost demo shopify-feeddex`: what a webshop runs: paid Shopify orders become Feeddex
invitations, each customer found by e-mail or created.

Each side is seeded in its own JSON; this module imports no other connector.
"""

from __future__ import annotations

from datetime import date, timedelta
from typing import Any

from host.demo import DemoFlow, DemoPair, Sandboxes, seed_shopify_shop
from ihost_feeddex.sandbox import FeeddexSandbox

#: the Asperion debtor free field the feedback is written into
FEEDBACK_FIELD = "comments"
ASPERION_SETTINGS = {
    "business_booking_group": "BI",
    "sales_journal_id": "VK",
    "revenue_ledger_account_id": 8000,
    "feedback_field": FEEDBACK_FIELD,
}
PAID, PAYABLE = 7, 6


def _debtor(number: str, name: str, email: str | None, **more: Any) -> dict[str, Any]:
    return {
        "customerNumber": number,
        "name": name,
        "emailAddress": email,
        "address": "Keizersgracht 123 A",
        "postCode": "1015 CJ",
        "city": "Amsterdam",
        "countryCode": "NL",
        "debtorKindId": "BI",
        "dateLastChange": f"{date.today().isoformat()}T08:00:00",
        **more,
    }


def _invoice(number: str, debtor: str, days_ago: int, status: int = PAID) -> dict[str, Any]:
    """A sales invoice in Asperion's JSON, dated `days_ago` days before today."""
    day = (date.today() - timedelta(days=days_ago)).isoformat()
    lines = [
        {"description": "2 x Mok (MUG-01)", "amount": 19.9, "vatCode": "H21"}
        | {"ledgerAccountId": 8000},
        {"description": "1 x Groene thee (TEA-GRN)", "amount": 6.5, "vatCode": "L9"}
        | {"ledgerAccountId": 8000},
    ]
    return {
        "invoiceNumber": number,
        "date": day,
        "debtorCustomerNumber": debtor,
        "journalId": "VK",
        "status": status,
        "lines": {"_data": lines},
    }


def seed_asperion(sandboxes: Sandboxes) -> None:
    erp = sandboxes["asperion"]
    erp.seed(
        "debtors",
        [
            _debtor("10500", "Anna de Vries", "anna@example.com"),
            _debtor("10501", "Bakkerij de Molen BV", "inkoop@demolen.nl", attentionTo="Piet"),
            _debtor("10502", "Jan Jansen", "jan@example.com"),
            _debtor("10503", "Toonbankverkoop", None),  # no e-mail: Feeddex cannot invite it
        ],
    )
    erp.seed(
        "salesinvoices",
        [
            _invoice("2026-00101", "10500", days_ago=3),
            _invoice("2026-00102", "10501", days_ago=2),
            _invoice("2026-00103", "10502", days_ago=2),
            _invoice("2026-00104", "10500", days_ago=1, status=PAYABLE),  # not paid: waits
        ],
    )


def _customers_answer(sandboxes: Sandboxes) -> None:
    """Four days pass at Feeddex: invitations go out, most customers answer."""
    feeddex = sandboxes["feeddex"]
    assert isinstance(feeddex, FeeddexSandbox)
    feeddex.advance(4)


def _feedback_in_asperion(sandboxes: Sandboxes) -> list[str]:
    """What the feedback flow left in Asperion: each debtor's feedback free field."""
    lines = []
    for debtor in sandboxes["asperion"].dump("debtors"):
        text = debtor.get(FEEDBACK_FIELD)
        if text:
            lines.append(f"Asperion debtor {debtor['customerNumber']} {FEEDBACK_FIELD}: {text}")
    return lines or ["no feedback was written to Asperion"]


PAIR = DemoPair(
    name="asperion-feeddex",
    title="Asperion and Feeddex: debtors and paid invoices to Feeddex as customers and "
    "feedback invitations; the customers' feedback and F100 scores back into Asperion "
    "(products and stock: Feeddex shows no such endpoints)",
    systems={"asperion": ("asperion", {}), "feeddex": ("feeddex", {})},
    flows=(
        DemoFlow("customers", "customers", "asperion", "feeddex"),
        DemoFlow("orders", "orders", "asperion", "feeddex"),
        DemoFlow("feedback", "feedback", "feeddex", "asperion"),
    ),
    unsupported=(
        ("products", "asperion", "feeddex"),
        ("stock", "asperion", "feeddex"),
    ),
    seed=seed_asperion,
    settings={"asperion": ASPERION_SETTINGS},
    before={"feedback": _customers_answer},
    epilogue=_feedback_in_asperion,
)


def seed_shop(sandboxes: Sandboxes) -> None:
    seed_shopify_shop(sandboxes["shop"])


SHOPIFY_PAIR = DemoPair(
    name="shopify-feeddex",
    title="Shopify webshop and Feeddex: each paid order a feedback invitation, its customer "
    "found by e-mail or created",
    systems={"shop": ("shopify", {"restore_rate": 1000}), "feeddex": ("feeddex", {})},
    flows=(DemoFlow("orders", "orders", "shop", "feeddex"),),
    unsupported=(("feedback", "feeddex", "shop"),),
    seed=seed_shop,
)
