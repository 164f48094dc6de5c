"""The contract kit fails connectors that break the contract (run through pytester)."""

from __future__ import annotations

import pytest

BROKEN = '''
from ihost_testconnectors.plugin import ErpPlugin, ShopPlugin
from ihost_testconnectors.sandbox import RecordSandbox
from host import hookimpl
from host.capabilities import Capabilities
from host.errors import RecordInvalid
from host.testing import ContractTests


class ListingErp(ErpPlugin):
    """fetch_products returns a list instead of streaming."""

    @hookimpl
    def fetch_products(self, since):
        return list(super().fetch_products(since))


class DuplicatingErp(ErpPlugin):
    """create_order ignores idempotency: a second call makes a second order."""

    @hookimpl
    def create_order(self, order, order_type, debtor_id):
        return self._create("orders", {**self._native(order), "source_key": order.key})


class OverclaimingErp(ErpPlugin):
    """declares it writes shipments but has no create_shipment."""

    capabilities = ErpPlugin.capabilities.model_copy(
        update={"writes": ErpPlugin.capabilities.writes | {"shipments"}}
    )


class LaxAuthErp(ErpPlugin):
    """check_connection never calls the remote, so bad credentials pass."""

    @hookimpl
    def check_connection(self):
        return None


class CarelessErp(ErpPlugin):
    """Three breaches, each failing its own test: invoices (its second order type) are
    neither found nor created once, while sales orders work; create_refund never looks
    the order up by number; it declares debtor_match key, but finds by the stored source
    key, not by the debtor's id."""

    capabilities = ErpPlugin.capabilities.model_copy(
        update={"debtor_match": ErpPlugin.capabilities.debtor_match | {"key"}}
    )

    @hookimpl
    def find_order(self, order, order_type):
        return None if order_type == "invoice" else super().find_order(order)

    @hookimpl
    def create_order(self, order, order_type, debtor_id):
        if order_type != "invoice":
            return super().create_order(order, order_type, debtor_id)
        return self._create("orders", {**self._native(order), "order_type": order_type})

    @hookimpl
    def create_refund(self, refund, order_id):
        if order_id is None:
            raise RecordInvalid("no order id", key=refund.key, field="order_id")
        return super().create_refund(refund, order_id)


class ErpKit(ContractTests):
    sandbox_class = RecordSandbox

    def exists(self, sandbox, connection, entity, target_id):
        return any(r["id"] == target_id for r in sandbox.dump(entity))


class TestListing(ErpKit):
    plugin_class = ListingErp


class TestDuplicating(ErpKit):
    plugin_class = DuplicatingErp


class TestOverclaiming(ErpKit):
    plugin_class = OverclaimingErp


class TestLaxAuth(ErpKit):
    plugin_class = LaxAuthErp


class TestCareless(ErpKit):
    plugin_class = CarelessErp
'''


@pytest.fixture
def outcome(pytester: pytest.Pytester) -> pytest.RunResult:
    pytester.makepyfile(test_broken=BROKEN)
    return pytester.runpytest_subprocess("-q", "-p", "no:cacheprovider", "-rf")


def failed(outcome: pytest.RunResult) -> set[str]:
    return {
        line.split("::", 1)[1].split(" ")[0]
        for line in outcome.outlines
        if line.startswith("FAILED ")
    }


def test_kit_names_each_breach(outcome: pytest.RunResult) -> None:
    assert failed(outcome) == {
        "TestListing::test_fetch_streams[products]",
        "TestDuplicating::test_create_twice_creates_one[orders-sales_order]",
        "TestDuplicating::test_create_twice_creates_one[orders-invoice]",
        "TestOverclaiming::test_declared_capabilities_match_hooks",
        "TestOverclaiming::test_write_round_trips[shipments]",
        "TestOverclaiming::test_create_twice_creates_one[shipments]",
        "TestOverclaiming::test_order_found_by_number_without_order_id[shipments]",
        "TestLaxAuth::test_bad_credentials_raise_auth_error",
        # each declared order type is run: its sales orders pass, its invoices fail
        "TestCareless::test_write_round_trips[orders-invoice]",
        "TestCareless::test_create_twice_creates_one[orders-invoice]",
        "TestCareless::test_order_found_by_number_without_order_id[refunds]",
        "TestCareless::test_debtor_found_by_each_declared_field[key]",
    }
    text = "\n".join(outcome.outlines)
    assert "fetch_products must stream (return a generator), got list" in text
    assert "declares writes shipments but does not implement create_shipment" in text
    assert "a second invoice was created" in text
    assert "the invoice created as r1002 is found as None" in text
    assert "find_debtor by key found None, not r1001" in text
