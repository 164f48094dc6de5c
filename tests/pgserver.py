"""PostgreSQL for the tests: the server named by IHOST_TEST_POSTGRES_URL, and a fresh
database on it for each test.

`bash .ci/postgres start` starts a throwaway local server and prints its URL; CI exports it
as IHOST_TEST_POSTGRES_URL together with IHOST_REQUIRE_POSTGRES=1, which turns a missing
server into an error instead of a skip. psycopg is imported only when a database is made,
so a clone without it (or without a server) still runs every SQLite test.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy.engine import URL, make_url

URL_VARIABLE = "IHOST_TEST_POSTGRES_URL"
REQUIRE_VARIABLE = "IHOST_REQUIRE_POSTGRES"
SKIP_REASON = "PostgreSQL tests need IHOST_TEST_POSTGRES_URL (bash .ci/postgres start prints one)"
DATABASE_PREFIX = "ihost_t_"

__all__ = [
    "DATABASE_PREFIX",
    "REQUIRE_VARIABLE",
    "SKIP_REASON",
    "URL_VARIABLE",
    "fresh_database",
    "postgres_url",
    "require_postgres",
    "server_problem",
]


def postgres_url() -> str | None:
    """The server's URL from $IHOST_TEST_POSTGRES_URL, or None when unset or empty."""
    return os.environ.get(URL_VARIABLE, "").strip() or None


def require_postgres() -> bool:
    """True when $IHOST_REQUIRE_POSTGRES is "1" (CI): a missing server is then an error."""
    return os.environ.get(REQUIRE_VARIABLE, "").strip() == "1"


def _parse(base_url: str) -> URL:
    url = make_url(base_url)
    if url.get_backend_name() != "postgresql":
        raise ValueError(f"{URL_VARIABLE} must be a postgresql:// URL, not {base_url!r}")
    return url


def _connect_args(url: URL) -> dict[str, Any]:
    """psycopg.connect() keywords for a SQLAlchemy URL (query options such as sslmode kept)."""
    args: dict[str, Any] = {
        "host": url.host,
        "port": url.port,
        "user": url.username,
        "password": url.password,
        "dbname": url.database or "postgres",
    }
    for key, value in url.query.items():
        args[key] = value if isinstance(value, str) else value[-1]
    return {key: value for key, value in args.items() if value is not None}


def _admin(base_url: str) -> Any:
    """An autocommit psycopg connection to the base URL's database (CREATE/DROP DATABASE
    cannot run inside a transaction)."""
    import psycopg

    return psycopg.connect(**_connect_args(_parse(base_url)), autocommit=True, connect_timeout=10)


def server_problem(base_url: str) -> str | None:
    """Why the tests cannot use the server at `base_url` (psycopg missing, server
    unreachable, ...), or None when they can."""
    try:
        _parse(base_url)
    except Exception as error:  # an unparsable URL
        return str(error)
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return "PostgreSQL tests need psycopg: pip install -e '.[postgres]'"
    try:
        with _admin(base_url) as admin:
            admin.execute("SELECT 1")
    except Exception as error:
        first = str(error).strip().splitlines()[0] if str(error).strip() else type(error).__name__
        return f"cannot connect to the PostgreSQL server of {URL_VARIABLE}: {first}"
    return None


@contextmanager
def fresh_database(base_url: str) -> Iterator[str]:
    """Create a uniquely named database on the server of `base_url`, yield its URL
    (driver postgresql+psycopg) and drop it afterwards, connections and all."""
    from psycopg import sql

    name = f"{DATABASE_PREFIX}{uuid.uuid4().hex}"
    url = _parse(base_url).set(drivername="postgresql+psycopg", database=name)
    with _admin(base_url) as admin:
        admin.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    try:
        yield url.render_as_string(hide_password=False)
    finally:
        with _admin(base_url) as admin:
            admin.execute(
                sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name))
            )
