"""Two server replicas' incident watches handling the same signal at the same moment (PostgreSQL)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from andon.incidents.signals import open_from_signal
from andon.store import create_engine, migrate
from andon.store.tables import incident_signals
from incidents.helpers import apply, signal


@pytest.fixture
def pg_store(postgres_schema: tuple[str, str]) -> Iterator[Engine]:
    url, schema = postgres_schema
    engine = create_engine(url, schema=schema)
    migrate(engine)
    apply(engine)
    try:
        yield engine
    finally:
        engine.dispose()


@pytest.mark.postgres
def test_a_signal_recorded_by_two_replicas_at_once_counts_once_and_neither_fails(pg_store: Engine) -> None:
    with pg_store.begin() as conn:  # the incident is already open; a second signal arrives at both
        opened = open_from_signal(conn, signal(key="first"), now=datetime.now(UTC))
    assert opened is not None and opened[1]
    number = opened[0].number
    again = signal(key="second", evidence=(5,))
    first_inserted, second_done = threading.Event(), threading.Event()
    results: dict[str, Any] = {}

    def second_replica() -> None:
        try:
            with pg_store.begin() as conn:
                first_inserted.wait(10)
                # Blocks on the unique key until the first replica commits, then finds it taken.
                results["second"] = open_from_signal(conn, again, now=datetime.now(UTC))
        except Exception as exc:  # the failure this test exists to rule out
            results["second"] = exc
        finally:
            second_done.set()

    thread = threading.Thread(target=second_replica)
    thread.start()
    with pg_store.begin() as conn:
        results["first"] = open_from_signal(conn, again, now=datetime.now(UTC))
        first_inserted.set()
        assert not second_done.wait(0.5)  # the second replica is waiting for this commit
    thread.join(10)
    assert not isinstance(results["second"], Exception), results["second"]
    assert results["first"][0].number == number and results["second"][0].number == number
    with pg_store.connect() as conn:
        keys = conn.execute(sa.select(incident_signals.c.dedup_key).order_by(incident_signals.c.id)).scalars()
        assert list(keys) == ["test:support-triage:first", "test:support-triage:second"]
