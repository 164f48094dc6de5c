"""Fixtures shared by the host's tests."""

from __future__ import annotations

import os
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


@pytest.hookimpl(optionalhook=True)
def pytest_xdist_auto_num_workers(config: pytest.Config) -> int | None:
    """`pytest -n auto` (make test): two workers for each CPU this process may use. Most
    tests spend their time waiting (on sandboxes, subprocesses, a daemon's schedule), so
    one worker a CPU leaves the CPUs idle half the time. PYTEST_XDIST_AUTO_NUM_WORKERS
    still decides when set."""
    if os.environ.get("PYTEST_XDIST_AUTO_NUM_WORKERS"):
        return None  # pytest-xdist reads it
    usable = os.sched_getaffinity(0) if hasattr(os, "sched_getaffinity") else None
    return 2 * (len(usable) if usable else os.cpu_count() or 1)


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
