"""pytest plugin (entry point `pytest11`): fixtures for testing connectors against sandboxes.

- `ihost_sandbox`: start sandboxes by class (`ihost_sandbox(ShopifySandbox)`); all are
  stopped after the test.
- `ihost_store`: a fresh SQLite store in the test's temporary directory.

Subclass `host.testing.ContractTests` to run the contract kit.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from host.sandbox import Sandbox
from host.store import Store


@pytest.fixture
def ihost_sandbox() -> Iterator[Callable[..., Sandbox]]:
    started: list[Sandbox] = []

    def start(sandbox_class: type[Sandbox], **kwargs: Any) -> Sandbox:
        sandbox = sandbox_class(**kwargs)
        sandbox.start()
        started.append(sandbox)
        return sandbox

    yield start
    for sandbox in reversed(started):
        sandbox.stop()


@pytest.fixture
def ihost_store(tmp_path: Path) -> Iterator[Store]:
    store = Store(f"sqlite:///{tmp_path / 'ihost.db'}")
    yield store
    store.close()
