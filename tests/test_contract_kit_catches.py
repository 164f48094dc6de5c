"""The contract kit fails connectors that break the contract (run through pytester)."""

from __future__ import annotations

import pytest

BROKEN = '''
from ihost_testconnectors.plugin import ErpPlugin, ShopPlugin
from ihost_testconnectors.sandbox import RecordSandbox
from host import hookimpl
from host.capabilities import Capabilities
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
        "TestDuplicating::test_create_twice_creates_one[orders]",
        "TestOverclaiming::test_declared_capabilities_match_hooks",
        "TestOverclaiming::test_write_round_trips[shipments]",
        "TestOverclaiming::test_create_twice_creates_one[shipments]",
        "TestLaxAuth::test_bad_credentials_raise_auth_error",
    }
    text = "\n".join(outcome.outlines)
    assert "fetch_products must stream (return a generator), got list" in text
    assert "declares writes shipments but does not implement create_shipment" in text
