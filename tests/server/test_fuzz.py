"""Schema-driven fuzzing: every operation of the published OpenAPI document, with generated valid and
invalid inputs, against the real server on a real port — no answer may be a 5xx.

Runs on SQLite only (the dialect layer is exercised by every other server test on both databases);
examples per operation are bounded so the run stays well under a minute or two.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, settings

from andon.demo.world import RUNBOOK_DIR
from andon.runbook.load import load_runbook
from andon.runbook.revisions import apply_runbook
from andon.server.app import create_app
from andon.server.settings import Settings
from live_server import LiveServer

schema = schemathesis.openapi.from_dict(create_app(Settings(database_url="sqlite://")).openapi())


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[LiveServer, str]]:
    store = Path(tmp_path_factory.mktemp("fuzz")) / "andon.db"
    live = LiveServer(Settings(database_url=f"sqlite:///{store}"))
    with live.engine.begin() as conn:
        apply_runbook(conn, load_runbook(RUNBOOK_DIR), source="fuzz", actor="tests")
    try:
        yield live, live.key("admin", owner="fuzzer")
    finally:
        live.stop()


@schema.parametrize()
@settings(max_examples=5, deadline=None, suppress_health_check=list(HealthCheck))
def test_no_operation_answers_with_a_server_error(case: Any, server: tuple[LiveServer, str]) -> None:
    live, key = server
    response = case.call(base_url=live.url, headers={"Authorization": f"Bearer {key}"}, timeout=10)
    assert response.status_code < 500, (
        f"{case.method} {case.formatted_path} answered {response.status_code}: {response.text[:500]}"
    )
