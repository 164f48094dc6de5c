"""Fixtures shared by the host's tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from ihost_testconnectors.sandbox import RecordSandbox

pytest_plugins = ["pytester"]


@pytest.fixture
def sandbox() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running
