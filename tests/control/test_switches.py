from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from andon.control.actions import ActionRequest
from andon.control.decide import Action, decide
from andon.control.service import StoreControl
from andon.errors import ControlError
from andon.ledger.log import read_events


def _write(control: StoreControl, **kw: object) -> str:
    request = ActionRequest(
        workflow="support-triage",
        tool="crm.update_tier",
        actor="svc-triage",
        args={"account_id": "a1", "tier": "gold"},
        confidence=0.9,
        **kw,
    )  # type: ignore[arg-type]
    return control.decide(request).outcome


def test_pause_and_resume_are_ledger_events_with_who_and_why(control: StoreControl) -> None:
    switch = control.set_switch(
        kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason="incident 42: wrong tiers"
    )
    assert _write(control) == "deny"
    cleared = control.clear_switches(
        workflow="support-triage", kinds=("pause_workflow",), actor="ops-lead", reason="cause fixed"
    )
    assert [s.id for s in cleared] == [switch.id]
    assert _write(control) == "allow"
    with control.engine.connect() as conn:
        changes = [e for e in read_events(conn) if e.kind == "control_change"]
    assert [(e.payload["change"], e.payload["who"], e.payload["why"]) for e in changes] == [
        ("switch_set", "ops-lead", "incident 42: wrong tiers"),
        ("switch_cleared", "ops-lead", "cause fixed"),
    ]


def test_switch_changes_bump_the_epoch_and_show_in_the_state(control: StoreControl) -> None:
    before, revision = control.epoch()
    control.set_switch(kind="freeze_writes", workflow="support-triage", actor="ops-lead", reason="audit")
    after, _ = control.epoch()
    assert after == before + 1 and revision is not None
    state = control.state()
    assert [s.kind for s in state.switches_for("support-triage")] == ["freeze_writes"]
    read = decide(state, Action("support-triage", "helpdesk.read_ticket"), now=datetime.now(UTC).timestamp())
    assert read.outcome == "allow"


def test_expired_switches_stop_applying(control: StoreControl) -> None:
    control.set_switch(
        kind="pause_workflow",
        workflow="support-triage",
        actor="ops-lead",
        reason="brief",
        expires_at=datetime.now(UTC) + timedelta(milliseconds=300),
    )
    assert _write(control) == "deny"
    import time

    time.sleep(0.35)
    assert _write(control) == "allow"
    assert control.list_switches() == []
    assert len(control.list_switches(include_cleared=True)) == 1


@pytest.mark.parametrize(
    ("kind", "workflow", "target", "message"),
    [
        ("block_tool", "support-triage", "crm.update_teir", "has no tool 'crm.update_teir'"),
        ("block_retrieval_source", "support-triage", "wiki", "has no retrieval_source 'wiki'"),
        ("cap_autonomy", "support-triage", "full", "is not a level"),
        ("pause_workflow", "no-such-workflow", None, "no workflow 'no-such-workflow'"),
        ("block_tool", "support-triage", None, "needs a target"),
        ("explode", "support-triage", None, "is unknown"),
    ],
)
def test_switch_typos_are_refused_with_a_plain_reason(
    control: StoreControl, kind: str, workflow: str, target: str | None, message: str
) -> None:
    with pytest.raises(ControlError, match=message):
        control.set_switch(kind=kind, workflow=workflow, target=target, actor="ops-lead", reason="x")


def test_a_switch_needs_a_reason(control: StoreControl) -> None:
    with pytest.raises(ControlError, match="needs a reason"):
        control.set_switch(kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason=" ")


def test_revoked_credential_everywhere_denies_tools_that_use_it(control: StoreControl) -> None:
    control.set_switch(
        kind="revoke_credential", workflow=None, target="svc-triage", actor="sec", reason="leak"
    )
    result = control.decide(
        ActionRequest(workflow="support-triage", tool="crm.update_tier", actor="svc-triage", confidence=0.9)
    )
    assert (result.outcome, result.rule) == ("deny", "credential_revoked")
    with control.engine.connect() as conn:
        row = conn.execute(sa.text("select status from control_actions")).one()
    assert row.status == "denied"
