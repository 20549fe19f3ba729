"""Fixtures shared by the whole suite. Every store-backed test runs on SQLite and on PostgreSQL.

PostgreSQL comes from HANDOFF_TEST_DATABASE_URL, else the loopback server CI provides. When it
cannot be reached the PostgreSQL half is skipped *loudly* on a developer's machine and fails the
run in CI (CI=true) or with HANDOFF_REQUIRE_POSTGRES=1: it never passes silently.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import make_url

from handoff.config import Settings, StoreConfig

PG_ADMIN_URL = os.environ.get(
    "HANDOFF_TEST_DATABASE_URL", "postgresql://postgres@127.0.0.1:5432/test"
)
REQUIRE_PG = os.environ.get("CI") == "true" or os.environ.get("HANDOFF_REQUIRE_POSTGRES") == "1"
_pg_problem: str | bool | None = False  # False: not probed yet


def postgres_problem() -> str | None:
    global _pg_problem
    if _pg_problem is False:
        import psycopg

        try:
            with psycopg.connect(PG_ADMIN_URL, connect_timeout=3) as connection:
                connection.execute("SELECT 1")
            _pg_problem = None
        except Exception as error:
            _pg_problem = f"{type(error).__name__}: {error}".strip()
    return _pg_problem  # type: ignore[return-value]


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    problem = postgres_problem()
    if problem:
        terminalreporter.write_sep(
            "!", "POSTGRESQL NOT REACHABLE: PostgreSQL tests did not run", red=True
        )
        terminalreporter.write_line(f"  {PG_ADMIN_URL}: {problem}", red=True)
        terminalreporter.write_line("  set HANDOFF_TEST_DATABASE_URL or start PostgreSQL", red=True)


def _fresh_pg_database() -> Iterator[str]:
    import psycopg

    problem = postgres_problem()
    if problem:
        message = f"PostgreSQL at {PG_ADMIN_URL} is not reachable: {problem}"
        if REQUIRE_PG:
            pytest.fail(message)
        pytest.skip(message)
    name = f"handoff_t_{uuid.uuid4().hex[:12]}"
    with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        yield make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    finally:
        with psycopg.connect(PG_ADMIN_URL, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')


@pytest.fixture(params=["sqlite", "postgresql"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A fresh, empty database for the hub's store, once per backend."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'handoff.db'}"
    else:
        yield from _fresh_pg_database()


@pytest.fixture
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database, for tests that are about PostgreSQL itself."""
    yield from _fresh_pg_database()


@pytest.fixture
def settings(store_url: str) -> Settings:
    return Settings(store=StoreConfig(url=store_url))
