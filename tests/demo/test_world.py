"""The demo world end to end on a real store: agents act, the cord stops them, rollback repairs."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from andon.demo.world import DemoWorld
from andon.store import create_engine, migrate


def wait_for(check: Callable[[], bool], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        if time.monotonic() > deadline:
            raise AssertionError("condition not reached in time")
        time.sleep(0.05)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[DemoWorld]:
    url = f"sqlite:///{tmp_path / 'andon.db'}"
    engine = create_engine(url)
    migrate(engine)
    demo = DemoWorld(url)
    demo.prepare(engine)
    demo.start()
    try:
        yield demo
    finally:
        demo.stop()
        engine.dispose()


def test_agents_act_and_a_pause_stops_them_with_the_fallback(world: DemoWorld) -> None:
    triage = next(a for a in world.agents if a.name == "support-triage")
    wait_for(lambda: triage.stats.executed >= 3)
    world.client.service.set_switch(
        kind="pause_workflow", workflow="support-triage", actor="ops", reason="misrouting"
    )
    wait_for(lambda: triage.stats.denied >= 1)
    executed = triage.stats.executed
    routed = world.desk.snapshot()["routed"]
    time.sleep(1.0)
    assert triage.stats.executed == executed
    assert world.desk.snapshot()["routed"] == routed
    assert triage.stats.fallback is not None and "Unsorted" in triage.stats.fallback


def test_bad_prompt_misroutes_billing_and_restore_fixes_it(world: DemoWorld) -> None:
    world.trigger("bad-prompt", actor="ops")
    wait_for(lambda: any(t.group == "bug" and t.true_group == "billing" for t in world.desk.tickets.values()))
    world.client.service.restore_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        to="last-approved",
        actor="ops",
        reason="billing routed as bugs",
    )
    live = world.client.service.list_versions(workflow="support-triage", kind="prompt", name="triage-system")
    assert [v.version for v in live if v.live] == ["v12"]


def test_injected_tier_change_is_rolled_back(world: DemoWorld) -> None:
    world.trigger("injection", actor="ops")
    wait_for(lambda: world.desk.snapshot()["tiers"]["gold"] >= 1)
    world.client.service.set_switch(
        kind="pause_workflow", workflow="refund-agent", actor="ops", reason="prompt injection"
    )
    report = world.rollback(workflow="refund-agent", actor="ops")
    assert report.rolled_back and not report.conflicts and not report.failed
    assert world.desk.snapshot()["tiers"]["gold"] == 0
    # the twenty refund e-mails were held for approval, none was sent
    assert world.desk.snapshot()["emails_sent"] == 0
