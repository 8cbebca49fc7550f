from __future__ import annotations

import asyncio
from collections.abc import Callable

import pytest
import sqlalchemy as sa

from andon.control.service import StoreControl
from andon.errors import Denied
from andon.ledger.log import read_events
from andon.sdk.client import Andon
from andon.store.tables import control_actions

from .crm import Crm, guard_crm

FALLBACK = "Tier-1 human triage (contact: support-lead)"


def _kinds(operator: StoreControl) -> list[str]:
    with operator.engine.connect() as conn:
        return [e.kind for e in read_events(conn)]


def test_a_write_is_decided_in_the_ledger_before_it_runs_and_its_undo_recorded(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    read_ticket, update_tier = guard_crm(a, crm)
    with a.run("support-triage", input={"ticket": 7}) as run:
        run.retrieval(source="kb", query="tiers", documents=["doc-1"])
        run.model_call(model="m", output="upgrade to gold", confidence=0.9)
        assert read_ticket("T-7")["id"] == "T-7"
        assert update_tier("acct-1", "gold") == {"account_id": "acct-1", "tier": "gold"}
    assert a.flush()
    with operator.engine.connect() as conn:
        row = conn.execute(sa.select(control_actions)).one()
        events = read_events(conn)
    assert (row.status, row.before, row.after) == (
        "succeeded",
        {"account_id": "acct-1", "tier": "standard"},
        {"account_id": "acct-1", "tier": "gold"},
    )
    assert row.undo and row.undo.endswith("restore_tier")
    assert row.args == {"account_id": "acct-1", "tier": "gold"} and row.confidence == 0.9
    decision = next(e for e in events if e.kind == "decision" and e.payload.get("action_id") == row.id)
    outcome = next(e for e in events if e.kind == "action_outcome")
    assert decision.index < outcome.index and decision.payload["decision"] == "allow"
    assert {"note", "retrieval", "model_call", "decision", "action_outcome"} <= {e.kind for e in events}
    assert all(e.run_id == run.id for e in events if e.kind != "decision" or e.payload.get("tool"))


def test_pause_mid_run_denies_the_next_write_and_hands_back_the_fallback(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    with a.run("support-triage", input="ticket 1") as run:
        run.model_call(output="gold", confidence=0.95)
        update_tier("acct-1", "gold")
        operator.set_switch(
            kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason="wrong tiers reported"
        )
        with pytest.raises(Denied) as denied:
            update_tier("acct-2", "gold")
    assert denied.value.rule == "paused"
    assert denied.value.fallback == FALLBACK
    assert "ops-lead" in denied.value.reason
    assert crm.tiers == {"acct-1": "gold"}  # the denied write never ran


def test_freeze_writes_while_reads_go_on(make_client: Callable[..., Andon], operator: StoreControl) -> None:
    a = make_client()
    crm = Crm()
    read_ticket, update_tier = guard_crm(a, crm)
    operator.set_switch(kind="freeze_writes", workflow="support-triage", actor="ops-lead", reason="audit")
    assert a.refresh()
    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.99)
        with pytest.raises(Denied, match="writes are frozen"):
            update_tier("acct-1", "gold")
        for _ in range(3):
            assert read_ticket("T-1")["subject"] == "Upgrade me"
    assert crm.writes == 0


def test_the_cached_state_follows_switches_set_elsewhere(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client(refresh_interval=0.05)
    read_ticket, _ = guard_crm(a, Crm())
    read_ticket("T-1")
    operator.set_switch(kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason="stop")
    import time

    end = time.monotonic() + 5
    while time.monotonic() < end:
        try:
            read_ticket("T-1")
        except Denied as exc:
            assert exc.rule == "paused"
            break
        time.sleep(0.02)
    else:
        pytest.fail("a pause never reached the read path")


def test_undeclared_tool_is_denied_durably(make_client: Callable[..., Andon], operator: StoreControl) -> None:
    a = make_client()

    @a.tool("support-triage", "shell.exec")
    def shell(cmd: str) -> str:
        raise AssertionError("must never run")

    with pytest.raises(Denied) as denied:
        shell("rm -rf /")
    assert denied.value.rule == "unauthorised_tool"
    with operator.engine.connect() as conn:
        assert conn.execute(sa.select(control_actions.c.status)).scalar_one() == "denied"


def test_observe_mode_simulates_writes(
    make_client: Callable[..., Andon], reapply: Callable[..., int]
) -> None:
    reapply(autonomy="observe")
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    assert update_tier("acct-1", "gold") is None
    assert crm.writes == 0


def test_the_tool_s_own_exception_reaches_the_caller_and_counts_as_a_failure(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()

    @a.tool("support-triage", "crm.update_tier")
    def update_tier(account_id: str, tier: str) -> None:
        raise ValueError("CRM said no")

    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.9)
        with pytest.raises(ValueError, match="CRM said no"):
            update_tier("acct-1", "gold")
    with operator.engine.connect() as conn:
        row = conn.execute(sa.select(control_actions.c.status, control_actions.c.error)).one()
    assert row.status == "failed" and "CRM said no" in row.error


def test_async_tools_and_runs(make_client: Callable[..., Andon], operator: StoreControl) -> None:
    a = make_client()
    crm = Crm()

    @a.tool("support-triage", "crm.update_tier")
    async def update_tier(account_id: str, tier: str) -> dict[str, str]:
        await asyncio.sleep(0)
        crm.set(account_id, tier)
        return {"tier": tier}

    @a.tool("support-triage", "helpdesk.read_ticket")
    async def read_ticket(ticket_id: str) -> str:
        return ticket_id

    async def agent() -> None:
        async with a.run("support-triage", input="t") as run:
            run.model_call(output="gold", confidence=0.9)
            assert await read_ticket("T-1") == "T-1"
            assert await update_tier("acct-9", "gold") == {"tier": "gold"}
            operator.set_switch(
                kind="block_tool",
                workflow="support-triage",
                target="crm.update_tier",
                actor="ops-lead",
                reason="stop tier changes",
            )
            with pytest.raises(Denied, match="blocked"):
                await update_tier("acct-10", "gold")

    asyncio.run(agent())
    assert crm.tiers == {"acct-9": "gold"}
