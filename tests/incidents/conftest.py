from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from andon.incidents.service import IncidentDesk
from andon.ledger.keys import Signer
from incidents.helpers import apply


@pytest.fixture
def store(engine: Engine) -> Engine:
    """A migrated store (SQLite and PostgreSQL) with the incident test runbook applied."""
    apply(engine)
    return engine


@pytest.fixture
def desk(store: Engine, tmp_path: Path) -> Iterator[IncidentDesk]:
    yield IncidentDesk(store, signer=Signer.generate(), directory=tmp_path / "evidence")
