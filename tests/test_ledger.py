"""A connection's ledger (host.ledger) in a real SQLite store and in memory, as the
connector receives it through ConnectorContext."""

from __future__ import annotations

import pytest

from host.auth import ConnectorContext
from host.ledger import Ledger


def test_a_ledger_in_the_store_outlives_its_process_and_is_per_connection(store_url: str) -> None:
    url = store_url
    first = Ledger(url, "sap")
    first.put({"docnum:1": "ORDERS_1.xml", "docnum:2": "ORDERS_1.xml"})
    first.put({"docnum:2": "ORDERS_2.xml"})  # a key written again keeps the last value
    first.close()
    again = Ledger(url, "sap")
    assert again.get(["docnum:1", "docnum:2", "docnum:3"]) == {
        "docnum:1": "ORDERS_1.xml",
        "docnum:2": "ORDERS_2.xml",
    }
    assert Ledger(url, "other").get(["docnum:1"]) == {}
    again.close()
    again.close()  # twice is safe


def test_many_keys_are_read_and_written_in_one_go(store_url: str) -> None:
    ledger = Ledger(store_url, "sap")
    keys = {f"hash:{i:05d}": str(i) for i in range(1200)}
    ledger.put(keys)
    assert ledger.get(keys) == keys
    ledger.close()


def test_without_a_store_the_context_gives_a_ledger_in_memory() -> None:
    context = ConnectorContext(connection="sap")
    context.ledger.put({"a": "1"})
    assert context.ledger.get(["a", "b"]) == {"a": "1"}


@pytest.mark.parametrize("key", ["", "x" * 256, "a\x00b"])
def test_a_key_the_store_cannot_keep_is_refused(key: str) -> None:
    with pytest.raises(ValueError, match="ledger key"):
        Ledger(None, "sap").put({key: "1"})
