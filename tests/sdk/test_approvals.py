from __future__ import annotations

import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from andon.control.service import StoreControl
from andon.errors import ApprovalPending, ControlError, Denied
from andon.ledger.log import read_events
from andon.sdk.client import Andon

from .crm import Crm, guard_crm


@pytest.fixture
def held(reapply: Callable[..., int]) -> None:
    reapply(autonomy="act_with_approval")


def _pending(a: Andon, update_tier: Callable[..., object], account: str = "acct-1") -> str:
    with a.run("support-triage", input={"ticket": 12, "text": "please upgrade"}) as run:
        run.retrieval(
            source="kb", query="gold tier rules", documents=[{"id": "kb-9", "text": "gold needs 2y"}]
        )
        run.model_call(output="upgrade to gold", confidence=0.81)
        with pytest.raises(ApprovalPending) as pending:
            update_tier(account, "gold")
    return pending.value.approval_id


@pytest.mark.usefixtures("held")
def test_a_held_write_carries_the_full_context_and_the_requester_cannot_approve_it(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    approval_id = _pending(a, update_tier)
    assert crm.writes == 0
    approval = operator.get_approval(approval_id)
    assert approval.status == "pending" and approval.rule == "autonomy:act_with_approval"
    ctx = approval.context
    assert ctx["input"] == {"ticket": 12, "text": "please upgrade"}
    assert ctx["retrievals"][0]["documents"][0]["id"] == "kb-9"
    assert ctx["model_output"] == "upgrade to gold" and ctx["confidence"] == 0.81
    assert ctx["change"] == {
        "before": {"account_id": "acct-1", "tier": "standard"},
        "after": {"account_id": "acct-1", "tier": "gold"},
    }
    with pytest.raises(ControlError, match="cannot approve"):
        operator.decide_approval(approval_id, actor="svc-triage", approve=True, reason="looks fine to me")
    assert operator.get_approval(approval_id).status == "pending"


@pytest.mark.usefixtures("held")
def test_edit_and_approve_then_resume_runs_the_edited_call_once(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    approval_id = _pending(a, update_tier)
    with pytest.raises(ApprovalPending):
        a.resume(approval_id)
    operator.decide_approval(
        approval_id,
        actor="support-lead",
        approve=True,
        reason="silver, not gold",
        edited_args={"account_id": "acct-1", "tier": "silver"},
    )
    assert a.resume(approval_id) == {"account_id": "acct-1", "tier": "silver"}
    assert crm.tiers == {"acct-1": "silver"}
    with pytest.raises(ControlError, match="runs once"):
        a.resume(approval_id)
    with operator.engine.connect() as conn:
        decisions = [e.payload["decision"] for e in read_events(conn) if e.kind == "approval"]
    assert decisions == ["requested", "edited_and_approved"]


@pytest.mark.usefixtures("held")
def test_rejection_needs_a_reason_and_reaches_the_agent_as_denied(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    approval_id = _pending(a, update_tier)
    with pytest.raises(ControlError, match="needs a reason"):
        operator.decide_approval(approval_id, actor="support-lead", approve=False, reason="")
    operator.decide_approval(
        approval_id, actor="support-lead", approve=False, reason="customer is on a trial"
    )
    with pytest.raises(Denied) as denied:
        a.resume(approval_id)
    assert denied.value.rule == "approval_rejected" and "trial" in denied.value.reason
    assert crm.writes == 0


@pytest.mark.usefixtures("held")
def test_an_agent_can_wait_for_the_decision(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()

    @a.tool("support-triage", "crm.update_tier", wait=10)
    def update_tier(account_id: str, tier: str) -> str:
        crm.set(account_id, tier)
        return tier

    def approver() -> None:
        for _ in range(100):
            waiting = operator.list_approvals(workflow="support-triage")
            if waiting:
                operator.decide_approval(waiting[0].id, actor="support-lead", approve=True, reason="ok")
                return
            time.sleep(0.05)

    thread = threading.Thread(target=approver)
    thread.start()
    with a.run("support-triage") as run:
        run.model_call(output="gold", confidence=0.9)
        assert update_tier("acct-5", "gold") == "gold"
    thread.join()
    assert crm.tiers == {"acct-5": "gold"}


@pytest.mark.usefixtures("held")
def test_a_wait_that_times_out_raises_pending_and_expired_requests_deny(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()

    @a.tool("support-triage", "crm.update_tier", wait=0.3)
    def update_tier(account_id: str, tier: str) -> str:
        return tier

    with pytest.raises(ApprovalPending) as pending:
        update_tier("acct-1", "gold")
    approval_id = pending.value.approval_id
    with operator.engine.begin() as conn:  # time passes: the request's expiry is reached
        from andon.store.tables import control_approvals

        conn.execute(control_approvals.update().values(expires_at=datetime.now(UTC) - timedelta(seconds=1)))
    with pytest.raises(ControlError, match="expired"):
        operator.decide_approval(approval_id, actor="support-lead", approve=True, reason="late")
    with pytest.raises(Denied) as denied:
        a.resume(approval_id)
    assert denied.value.rule == "approval_expired"


@pytest.mark.usefixtures("held")
def test_similar_past_decisions_and_quality_signals(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    _, update_tier = guard_crm(a, Crm())
    first = _pending(a, update_tier, "acct-1")
    operator.decide_approval(first, actor="support-lead", approve=False, reason="no gold for trials")
    second = _pending(a, update_tier, "acct-2")
    similar = operator.get_approval(second).similar
    assert [(s["approval_id"], s["status"], s["reason"]) for s in similar] == [
        (first, "rejected", "no gold for trials")
    ]
    operator.decide_approval(second, actor="support-lead", approve=True, reason="ok")
    stats = operator.approval_stats(since=datetime.now(UTC) - timedelta(hours=1))
    assert [(s.approver, s.decisions, s.approved, s.rejected) for s in stats] == [("support-lead", 2, 1, 1)]
    assert stats[0].max_in_one_hour in (1, 2)  # the two decisions may straddle an hour boundary
    assert stats[0].median_seconds_to_decide >= 0


@pytest.mark.usefixtures("held")
def test_an_async_agent_waits_for_the_decision(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    import asyncio

    a = make_client()
    ran: list[str] = []

    @a.tool("support-triage", "crm.update_tier", wait=10)
    async def update_tier(account_id: str, tier: str) -> str:
        ran.append(tier)
        return tier

    def approver() -> None:
        for _ in range(200):
            waiting = operator.list_approvals(workflow="support-triage")
            if waiting:
                operator.decide_approval(
                    waiting[0].id,
                    actor="support-lead",
                    approve=True,
                    reason="ok",
                    edited_args={"account_id": "acct-3", "tier": "silver"},
                )
                return
            time.sleep(0.05)

    async def agent() -> str:
        async with a.run("support-triage") as run:
            run.model_call(output="gold", confidence=0.9)
            result: str = await update_tier("acct-3", "gold")
            return result

    thread = threading.Thread(target=approver)
    thread.start()
    assert asyncio.run(agent()) == "silver"
    thread.join()
    assert ran == ["silver"]


@pytest.mark.usefixtures("held")
def test_an_approval_does_not_run_through_a_pause_pulled_since(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    approval_id = _pending(a, update_tier)
    operator.decide_approval(approval_id, actor="support-lead", approve=True, reason="ok")
    operator.set_switch(kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason="incident")
    with pytest.raises(Denied) as denied:
        a.resume(approval_id)
    assert denied.value.rule == "paused" and crm.writes == 0
    operator.clear_switches(
        workflow="support-triage", kinds=("pause_workflow",), actor="ops-lead", reason="ok"
    )
    assert a.resume(approval_id) == {"account_id": "acct-1", "tier": "gold"}  # still usable, once
