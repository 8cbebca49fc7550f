"""The server's child processes, on both stores: the decision writer's answers, its settings, a death,
a stop; an incident watch that cannot start."""

from __future__ import annotations

import asyncio
import os
import signal
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy.engine import Engine

from andon.control.actions import ActionDecision, ActionRequest
from andon.control.redaction import redactor_for
from andon.control.snapshot import current_revision
from andon.errors import StoreError
from andon.ledger.log import read_events
from andon.server.decisions import DecisionWriter, _portable
from andon.server.watch_process import WatchProcess
from control.runbooks import apply

pytestmark = pytest.mark.anyio


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def request(n: int, **changes: object) -> ActionRequest:
    fields: dict[str, object] = {
        "workflow": "support-triage",
        "tool": "crm.update_tier",
        "actor": "svc-triage",
        "args": {"account_id": f"acct-{n}", "tier": "gold"},
        "confidence": 0.9,
        **changes,
    }
    return ActionRequest(**fields)  # type: ignore[arg-type]


@pytest.fixture
def new_writer(db: tuple[str, str | None]) -> object:
    """Makes a writer deciding in the store of ``engine`` (the same ``db``)."""
    url, schema = db
    return lambda: DecisionWriter(url, schema=schema)


def wait_until(condition: object, seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():  # type: ignore[operator]
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.01)


async def test_concurrent_decisions_come_back_committed(engine: Engine, new_writer: Any) -> None:
    apply(engine)
    writer = new_writer()
    try:
        decisions = await asyncio.gather(*(writer.decide(request(n)) for n in range(60)))
    finally:
        writer.close()
    assert {d.outcome for d in decisions} == {"allow"}
    with engine.connect() as conn:
        recorded = {e.index: e.payload["action_id"] for e in read_events(conn) if e.kind == "decision"}
    assert {d.ledger_index: d.action_id for d in decisions} == recorded


async def test_the_child_masks_with_the_servers_data_directory_key(engine: Engine, new_writer: Any) -> None:
    """The child takes the parent's ANDON_ settings: its keyed tokens are the parent's."""
    apply(engine)
    writer = new_writer()
    try:
        args = {"account_id": "acct-1", "tier": "gold", "note": "mail jane.doe@example.com"}
        decision = await writer.decide(request(1, args=args))
    finally:
        writer.close()
    with engine.connect() as conn:
        stored = next(e for e in read_events(conn) if e.index == decision.ledger_index)
        expected = redactor_for(conn, current_revision(conn)).redact(args)
    assert stored.payload["args"] == expected
    assert "jane.doe@example.com" not in str(stored.payload)


async def test_an_error_in_the_child_is_raised_here(engine: Engine, new_writer: Any) -> None:
    apply(engine)
    writer = new_writer()
    try:
        with pytest.raises(TypeError, match="not JSON serializable"):
            await writer.decide(request(1, args={"tags": {"a", "b"}}))  # a set: pickles, is no JSON
        good = await writer.decide(request(2))  # one bad request decides nobody else's fate
    finally:
        writer.close()
    assert isinstance(good, ActionDecision) and good.outcome == "allow"


async def test_a_dead_child_fails_those_waiting_and_a_new_one_starts(engine: Engine, new_writer: Any) -> None:
    apply(engine)
    writer = new_writer()
    try:
        await writer.decide(request(0))
        first = writer._child.process
        assert first.pid is not None
        os.kill(first.pid, signal.SIGSTOP)  # the next request waits in its socket
        waiting = asyncio.ensure_future(writer.decide(request(1)))
        await asyncio.sleep(0.1)
        assert not waiting.done()
        os.kill(first.pid, signal.SIGKILL)
        with pytest.raises(StoreError, match="stopped before answering"):
            await asyncio.wait_for(waiting, 10)
        again = await writer.decide(request(2))
        assert again.outcome == "allow"
        assert writer._child.process.pid != first.pid
    finally:
        writer.close()


async def test_closing_answers_every_decision_already_handed_over(engine: Engine, new_writer: Any) -> None:
    apply(engine)
    writer = new_writer()
    await writer.decide(request(0))
    handed = [asyncio.ensure_future(writer.decide(request(n))) for n in range(1, 41)]
    await asyncio.sleep(0)  # each has been sent to the child
    await asyncio.get_running_loop().run_in_executor(None, writer.close)
    decisions = await asyncio.wait_for(asyncio.gather(*handed), 10)
    assert len({d.action_id for d in decisions}) == 40
    assert not writer._child.process.is_alive()
    with pytest.raises(StoreError, match="stopping"):
        await writer.decide(request(99))


def test_an_error_that_cannot_cross_the_process_boundary_is_described_instead() -> None:
    class Local(Exception):  # a local class does not pickle
        pass

    portable = _portable(Local("the store said no"))
    assert isinstance(portable, RuntimeError) and str(portable) == "Local: the store said no"
    kept = _portable(StoreError("gone"))
    assert isinstance(kept, StoreError)


async def test_a_watch_that_cannot_start_stops_the_server_from_starting_with_a_clear_error(
    tmp_path: Path,
) -> None:
    missing = f"sqlite:///{tmp_path / 'no-such-dir' / 'andon.db'}"
    started = time.monotonic()
    with pytest.raises(StoreError, match="incident watch did not start"):
        WatchProcess(missing)
    assert time.monotonic() - started < 30
