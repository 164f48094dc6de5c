"""The sandboxes the Feeddex flow and hostile tests run against, each fresh per test."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from flow_data import product
from ihost_feeddex.sandbox import FeeddexSandbox
from ihost_shopify.sandbox import ShopifySandbox
from ihost_testconnectors.sandbox import RecordSandbox


@pytest.fixture
def feeddex() -> Iterator[FeeddexSandbox]:
    with FeeddexSandbox() as running:
        yield running


@pytest.fixture
def shopify() -> Iterator[ShopifySandbox]:
    with ShopifySandbox(restore_rate=2000) as running:
        yield running


@pytest.fixture
def testshop() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


@pytest.fixture
def testerp() -> Iterator[RecordSandbox]:
    """An ERP (testerp) that knows article SKU-1."""
    with RecordSandbox() as running:
        running.seed("products", [product("SKU-1")])
        yield running
