"""Fixtures of the Asperion tests: an administration on the sandbox, and IHOST_SECRET_KEY
for the tokens `ihost auth` keeps."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from cryptography.fernet import Fernet
from ihost_asperion.samples import STAMP, article, shipping_article
from ihost_asperion.sandbox import AsperionSandbox

from host.tokens import KEY_VARIABLE


@pytest.fixture
def asperion() -> Iterator[AsperionSandbox]:
    """An administration with SKU-1 and SKU-2 (10.00 excluding VAT, 7 in stock), the
    shipping-costs article, the collective debtor 10000 and Anna de Vries (10500,
    ANNA@example.com)."""
    with AsperionSandbox() as running:
        running.seed("articles", [article("SKU-1"), article("SKU-2"), shipping_article()])
        running.seed(
            "debtors",
            [
                {"customerNumber": "10000", "name": "Webshop", "debtorKindId": "BI"},
                {
                    "customerNumber": "10500",
                    "name": "Anna de Vries",
                    "emailAddress": "ANNA@example.com",
                    "address": "Keizersgracht 123 A",
                    "postCode": "1015 CJ",
                    "city": "Amsterdam",
                    "countryCode": "NL",
                    "iban": "NL91ABNA0417164300",
                    "debtorKindId": "BI",
                    "dateLastChange": STAMP,
                },
            ],
        )
        yield running


@pytest.fixture
def secret_key(monkeypatch: pytest.MonkeyPatch) -> str:
    """IHOST_SECRET_KEY for this test (the tokens of `ihost auth` are sealed with it)."""
    key = Fernet.generate_key().decode()
    monkeypatch.setenv(KEY_VARIABLE, key)
    return key
