"""Fixtures shared by the host's tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flow_data import product
from ihost_testconnectors.sandbox import RecordSandbox
from pgserver import (
    REQUIRE_VARIABLE,
    SKIP_REASON,
    fresh_database,
    postgres_url,
    require_postgres,
    server_problem,
)

pytest_plugins = ["pytester"]


@pytest.fixture
def sandbox() -> Iterator[RecordSandbox]:
    with RecordSandbox() as running:
        yield running


@pytest.fixture
def shop() -> Iterator[RecordSandbox]:
    """A webshop (testshop) with nothing in it."""
    with RecordSandbox() as running:
        yield running


@pytest.fixture
def erp() -> Iterator[RecordSandbox]:
    """An ERP (testerp) that knows article SKU-1."""
    with RecordSandbox() as running:
        running.seed("products", [product("SKU-1")])
        yield running


@pytest.fixture(scope="session")
def postgres_server() -> str:
    """The URL of the PostgreSQL server that tests make their databases on: skipped without
    one, an error when IHOST_REQUIRE_POSTGRES=1 (CI) or when the one named is unusable."""
    url = postgres_url()
    if url is None:
        if require_postgres():
            pytest.fail(f"{REQUIRE_VARIABLE}=1, but: {SKIP_REASON}", pytrace=False)
        pytest.skip(SKIP_REASON)
    problem = server_problem(url)
    if problem is not None:
        pytest.fail(problem, pytrace=False)
    return url


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A store URL for an empty database: SQLite in tmp_path, or a fresh PostgreSQL database
    (dropped after the test) on postgres_server."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'ihost.db'}"
        return
    with fresh_database(request.getfixturevalue("postgres_server")) as url:
        yield url
