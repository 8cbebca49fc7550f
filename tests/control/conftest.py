from __future__ import annotations

import pytest
from sqlalchemy.engine import Engine

from andon.control.service import StoreControl

from .runbooks import apply


@pytest.fixture
def control(engine: Engine) -> StoreControl:
    """The control service over a migrated store (both databases) with the test runbook applied."""
    apply(engine)
    return StoreControl(engine)
