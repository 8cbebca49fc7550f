from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from andon.control.service import StoreControl
from andon.sdk.client import Andon
from andon.store import create_engine, migrate
from control.runbooks import apply, triage_document

Store = tuple[str, str | None]


@pytest.fixture
def store(db: Store) -> Iterator[Store]:
    """(url, schema) of a migrated store on each database with the test runbook applied."""
    url, schema = db
    engine = create_engine(url, schema=schema)
    migrate(engine)
    apply(engine)
    engine.dispose()
    yield url, schema


@pytest.fixture
def operator(store: Store) -> Iterator[StoreControl]:
    """The control service as the CLI or console would use it: a separate engine on the same store."""
    url, schema = store
    engine = create_engine(url, schema=schema)
    yield StoreControl(engine)
    engine.dispose()


@pytest.fixture
def operator_engine(operator: StoreControl) -> Engine:
    return operator.engine


@pytest.fixture
def make_client(store: Store, tmp_path: Path) -> Iterator[Callable[..., Andon]]:
    """Build Andon.local clients on the store; closed at the end of the test."""
    made: list[Andon] = []
    url, schema = store

    def make(**kwargs: Any) -> Andon:
        kwargs.setdefault("spool_dir", tmp_path / f"spool{len(made)}")
        kwargs.setdefault("actor", "svc-triage")
        client = Andon.local(url, schema=schema, **kwargs)
        made.append(client)
        return client

    yield make
    for client in made:
        client.close()


@pytest.fixture
def reapply(operator_engine: Engine) -> Callable[..., int]:
    """Apply the test runbook again with workflow fields replaced (autonomy, limits...)."""

    def run(**overrides: Any) -> int:
        return apply(operator_engine, triage_document(**overrides))

    return run
