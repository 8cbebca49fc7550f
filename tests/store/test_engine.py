from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy.engine import Engine

from andon.errors import ConfigError
from andon.store import create_engine, database_url, migrate
from andon.store.tables import metadata, runbook_revisions


def test_migrations_create_exactly_the_declared_tables(engine: Engine) -> None:
    with engine.connect() as conn:
        diff = compare_metadata(MigrationContext.configure(conn), metadata)
    assert diff == [], f"migrations and store/tables.py disagree: {diff}"


def test_migrate_is_idempotent(engine: Engine) -> None:
    migrate(engine)
    migrate(engine)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select version_num from alembic_version")).scalar()


def test_timestamps_round_trip_as_aware_utc(engine: Engine) -> None:
    when = datetime(2026, 3, 1, 12, 30, 15, 123456, tzinfo=timezone(timedelta(hours=2)))
    with engine.begin() as conn:
        conn.execute(
            runbook_revisions.insert().values(
                created_at=when, actor="ops@example.com", source="x.yaml", digest="0" * 64, document={"a": 1}
            )
        )
    with engine.connect() as conn:
        row = conn.execute(sa.select(runbook_revisions)).one()
    assert row.created_at == when
    assert row.created_at.tzinfo is not None and row.created_at.utcoffset() == timedelta(0)
    assert row.document == {"a": 1}


def test_naive_timestamps_are_refused(engine: Engine) -> None:
    with pytest.raises(sa.exc.StatementError, match="naive datetime"), engine.begin() as conn:
        conn.execute(
            runbook_revisions.insert().values(
                created_at=datetime(2026, 1, 1), actor="a", source="s", digest="0" * 64, document={}
            )
        )


def test_sqlite_store_uses_wal(sqlite_url: str) -> None:
    eng = create_engine(sqlite_url)
    with eng.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
    eng.dispose()


def test_default_url_lives_in_the_data_dir(monkeypatch: pytest.MonkeyPatch, tmp_path) -> None:
    monkeypatch.delenv("ANDON_DATABASE_URL", raising=False)
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))
    assert database_url() == f"sqlite:///{tmp_path / 'data' / 'andon.db'}"
    eng = create_engine()
    migrate(eng)
    assert (tmp_path / "data" / "andon.db").exists()
    eng.dispose()


@pytest.mark.parametrize("url", ["mysql://root@localhost/test", "not a url at all"])
def test_unsupported_urls_get_a_plain_error(url: str) -> None:
    with pytest.raises(ConfigError):
        create_engine(url)


def test_a_reader_does_not_wait_for_a_writer(sqlite_url: str) -> None:
    from andon.store import reading

    eng = create_engine(sqlite_url)
    migrate(eng)
    with eng.begin() as writer:
        writer.execute(
            runbook_revisions.insert().values(
                created_at=datetime(2026, 1, 1, tzinfo=UTC),
                actor="a",
                source="s",
                digest="0" * 64,
                document={},
            )
        )
        # The writer holds the write lock; a reader still sees the last committed state at once.
        with reading(eng) as reader:
            assert reader.execute(sa.select(sa.func.count()).select_from(runbook_revisions)).scalar() == 0
    eng.dispose()
