"""A connection's ledger: what it has read or written before, kept in the store.

A connector that consumes what it reads (files it archives, messages it acknowledges) or
that writes where it cannot look up what it wrote (a file SAP has already taken away)
keeps its own memory here: ``context.ledger.get(keys)`` and ``context.ledger.put({key:
value})``. Keys are the connector's own (``docnum:0000000000123456``, ``wrote:MATMAS:SKU``),
values short text. Nothing personal goes in: ids, content hashes, file names.

Built by the host for every configured connection (host.auth.ConnectorContext); without a
store (the contract kit, tests) the ledger lives in memory.
"""

from __future__ import annotations

import functools
from collections.abc import Iterable, Mapping
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from host.store.schema import ledger as ledger_table

if TYPE_CHECKING:
    from host.store import Store

__all__ = ["Ledger"]

_KEY_LENGTH = 255


class Ledger:
    """The ledger of connection `connection` in the store at `store_url` (None: in memory).

    The store is opened on first use and kept until `close()`."""

    def __init__(self, store_url: str | None, connection: str) -> None:
        self.store_url = store_url
        self.connection = connection
        self._memory: dict[str, str] = {}
        self._store: Store | None = None

    def __repr__(self) -> str:
        return f"Ledger({self.connection!r})"

    def _opened(self) -> Store:
        if self._store is None:
            from host.store import Store  # the store imports much; a memory ledger needs none

            assert self.store_url is not None
            self._store = Store(self.store_url)
        return self._store

    def get(self, keys: Iterable[str]) -> dict[str, str]:
        """The values of those `keys` the ledger holds."""
        wanted = list(dict.fromkeys(_checked(k) for k in keys))
        if self.store_url is None:
            return {k: self._memory[k] for k in wanted if k in self._memory}
        found: dict[str, str] = {}
        store = self._opened()
        with store.transaction(write=False) as db:
            for start in range(0, len(wanted), 500):
                rows = db.execute(
                    sa.select(ledger_table.c.key, ledger_table.c.value).where(
                        ledger_table.c.connection == self.connection,
                        ledger_table.c.key.in_(wanted[start : start + 500]),
                    )
                )
                found.update({row.key: row.value for row in rows})
        return found

    def put(self, items: Mapping[str, str]) -> None:
        """Record `items` (replacing what a key held) in one transaction."""
        if not items:
            return
        checked = {_checked(k): v for k, v in items.items()}
        if self.store_url is None:
            self._memory.update(checked)
            return
        now = datetime.now(timezone.utc)
        store = self._opened()
        rows = [
            {"connection": self.connection, "key": k, "value": v, "updated_at": now}
            for k, v in checked.items()
        ]
        with store.transaction() as db:
            insert = _upsert(db.dialect.name)
            for start in range(0, len(rows), 500):
                db.execute(insert, rows[start : start + 500])

    def close(self) -> None:
        """Close the store, if it was opened; safe to call twice."""
        if self._store is not None:
            self._store.close()
            self._store = None


@functools.cache
def _upsert(dialect: str) -> Any:
    """INSERT ... ON CONFLICT DO UPDATE for the store's dialect (SQLite and PostgreSQL both
    have it): one statement writes a key or replaces what it held."""
    module = postgresql if dialect == "postgresql" else sqlite
    insert = module.insert(ledger_table)
    return insert.on_conflict_do_update(
        index_elements=[ledger_table.c.connection, ledger_table.c.key],
        set_={"value": insert.excluded.value, "updated_at": insert.excluded.updated_at},
    )


def _checked(key: str) -> str:
    if not key or len(key) > _KEY_LENGTH or "\x00" in key:
        raise ValueError(f"a ledger key is 1 to {_KEY_LENGTH} characters without NUL")
    return key
