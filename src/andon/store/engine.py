"""One engine factory for SQLite (the default) and PostgreSQL, and the migration runner."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import sqlalchemy
from sqlalchemy.engine import URL, Connection, Engine

from andon.errors import StoreError
from andon.store.dialect import (
    READ_ONLY_OPTION,
    engine_options,
    install_sqlite_hooks,
    is_sqlite,
    normalise_url,
)

DATA_DIR_ENV = "ANDON_DATA_DIR"
DATABASE_URL_ENV = "ANDON_DATABASE_URL"


def data_dir() -> Path:
    """Where Andon keeps its SQLite file and signing key: ``$ANDON_DATA_DIR`` or ``./.andon``."""
    return Path(os.environ.get(DATA_DIR_ENV) or ".andon")


def database_url() -> str:
    """``$ANDON_DATABASE_URL``, or the SQLite file ``andon.db`` in the data directory."""
    return os.environ.get(DATABASE_URL_ENV) or f"sqlite:///{data_dir() / 'andon.db'}"


def create_engine(url: str | URL | None = None, *, schema: str | None = None) -> Engine:
    """Make an engine for SQLite (WAL, immediate transactions) or PostgreSQL (psycopg 3).

    ``schema`` puts every table of a PostgreSQL store in that schema (used to isolate tests).
    """
    parsed = normalise_url(url if url is not None else database_url())
    if is_sqlite(parsed) and parsed.database not in (None, "", ":memory:"):
        Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
    engine = sqlalchemy.create_engine(parsed, **engine_options(parsed, schema=schema))
    if is_sqlite(parsed):
        install_sqlite_hooks(engine)
    return engine


@contextmanager
def reading(engine: Engine) -> Iterator[Connection]:
    """A connection for reads only: on SQLite its transaction is deferred and never takes the write lock."""
    with engine.connect() as conn:
        conn.execution_options(**{READ_ONLY_OPTION: True})
        yield conn


def migrate(engine: Engine) -> None:
    """Bring the schema to the newest migration (idempotent)."""
    from alembic import command
    from alembic.config import Config

    config = Config()
    config.set_main_option("script_location", "andon.store:migrations")
    try:
        with engine.begin() as conn:
            config.attributes["connection"] = conn
            command.upgrade(config, "head")
    except sqlalchemy.exc.OperationalError as exc:
        raise StoreError(f"cannot migrate the store at {engine.url!r}: {exc.orig}") from exc


def open_store(url: str | URL | None = None) -> Engine:
    """Engine for ``url`` (or the default), migrated to the newest schema."""
    engine = create_engine(url)
    migrate(engine)
    return engine
