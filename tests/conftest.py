"""Shared fixtures: every store test runs on SQLite and on PostgreSQL.

PostgreSQL is at $ANDON_TEST_POSTGRES_URL (default the local trust-auth database ``test``). When it
cannot be reached the PostgreSQL half is skipped with the reason, unless ANDON_REQUIRE_POSTGRES=1
(set by CI), which turns the skip into a failure.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from andon.store import create_engine, migrate

POSTGRES_URL = os.environ.get("ANDON_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test")
REQUIRE_POSTGRES = os.environ.get("ANDON_REQUIRE_POSTGRES") == "1"

_postgres_problem: str | bool | None = False  # False = not probed yet


def postgres_unavailable() -> str | None:
    """None when PostgreSQL answers, else why not (probed once per session)."""
    global _postgres_problem
    if _postgres_problem is False:
        try:
            probe = sa.create_engine(POSTGRES_URL, connect_args={"connect_timeout": 3})
            with probe.connect() as conn:
                conn.execute(sa.text("select 1"))
            probe.dispose()
            _postgres_problem = None
        except Exception as exc:  # any failure means "not here"; the reason is shown
            _postgres_problem = f"PostgreSQL not reachable at {POSTGRES_URL}: {type(exc).__name__}: {exc}"
    return _postgres_problem  # type: ignore[return-value]


def require_postgres() -> None:
    problem = postgres_unavailable()
    if problem:
        if REQUIRE_POSTGRES:
            pytest.fail(f"ANDON_REQUIRE_POSTGRES=1 but {problem}")
        pytest.skip(problem)


@pytest.fixture(autouse=True)
def isolated_data_dir(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Every test gets its own data directory (keys, evidence), never the checkout's ./.andon.

    Tests that care about where it is set ANDON_DATA_DIR again themselves; processes a test starts
    inherit it.
    """
    folder = tmp_path_factory.mktemp("andon-data")
    monkeypatch.setenv("ANDON_DATA_DIR", str(folder))
    return folder


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'andon.db'}"


@pytest.fixture
def postgres_schema() -> Iterator[tuple[str, str]]:
    """A fresh PostgreSQL schema for one test: yields (url, schema) and drops it afterwards."""
    require_postgres()
    schema = f"t_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(POSTGRES_URL)
    with admin.begin() as conn:
        conn.execute(sa.text(f'CREATE SCHEMA "{schema}"'))
    try:
        yield POSTGRES_URL, schema
    finally:
        with admin.begin() as conn:
            conn.execute(sa.text(f'DROP SCHEMA "{schema}" CASCADE'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
def db(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[tuple[str, str | None]]:
    """(url, schema) of an empty store on each database; schema is None for SQLite."""
    if request.param == "sqlite":
        yield f"sqlite:///{tmp_path / 'andon.db'}", None
    else:
        url, schema = request.getfixturevalue("postgres_schema")
        yield url, schema


@pytest.fixture
def engine(db: tuple[str, str | None]) -> Iterator[Engine]:
    """A migrated engine on each database."""
    url, schema = db
    eng = create_engine(url, schema=schema)
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()
