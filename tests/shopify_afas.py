"""Fixtures for flows between the Shopify and AFAS sandboxes, shared by
tests/test_flow_fixes.py and plugins/afas/tests/test_flows.py.

A test module takes them under their names by assigning them (pytest finds a fixture by
the module attribute; an import of the same name would be redefined by every test's
argument)::

    import shopify_afas

    shop = shopify_afas.shop
    erp = shopify_afas.erp
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ihost_afas import sandbox as afas
from ihost_afas.sandbox import AfasSandbox
from ihost_shopify.sandbox import ShopifySandbox

#: When the seeded articles and debtor were last changed in AFAS.
STAMP = "2026-05-01T10:00:00Z"


@pytest.fixture
def shop() -> Iterator[ShopifySandbox]:
    """A Shopify store with nothing in it, whose query cost bucket refills fast enough
    that no test waits for it."""
    with ShopifySandbox(restore_rate=2000) as running:
        yield running


@pytest.fixture
def erp() -> Iterator[AfasSandbox]:
    """An AFAS environment with the articles SKU-1 and SKU-2 (10.00 each) and the debtor
    10500, Anna de Vries (ANNA@example.com)."""
    with AfasSandbox() as running:
        running.seed(
            afas.ARTICLES,
            [
                {
                    "ItemCode": sku,
                    "Description": f"Article {sku}",
                    "BasicSalesPrice": 10.0,
                    "UnitId": "stk",
                    "Blocked": False,
                    "DateModified": STAMP,
                }
                for sku in ("SKU-1", "SKU-2")
            ],
        )
        running.seed(
            afas.DEBTORS,
            [
                {
                    "DebtorId": "10500",
                    "DebtorName": "Anna de Vries",
                    "Email": "ANNA@example.com",
                    "ModifiedDate": STAMP,
                }
            ],
        )
        yield running
