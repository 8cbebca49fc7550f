"""Connect mode over real HTTP, against the real server (``create_app``) on a real port.

The agent holds an ``agent`` key scoped to its workflow; people act through their own keys (a
responder pauses, an approver approves), so every control change is recorded in a person's name.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from andon.control.service import StoreControl
from andon.errors import ApprovalPending, ControlError, Denied
from andon.ledger.log import read_events
from andon.sdk.client import Andon
from andon.sdk.http import HttpControl
from andon.server.settings import Settings
from live_server import LiveServer

from .crm import Crm, guard_crm

FALLBACK = "Tier-1 human triage (contact: support-lead)"


@pytest.fixture
def settings(store: tuple[str, str | None], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Settings:
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))
    url, schema = store
    return Settings(database_url=url, database_schema=schema)


@pytest.fixture
def server(settings: Settings) -> Iterator[LiveServer]:
    srv = LiveServer(settings)
    yield srv
    srv.stop()


def connect(server: LiveServer, tmp_path: Path) -> Andon:
    token = server.key("agent", owner="svc-triage", workflows=["support-triage"])
    return Andon.connect(
        server.url,
        token=token,
        actor="svc-triage",
        spool_dir=tmp_path / "spool",
        timeout=2,
        refresh_interval=0.1,
    )


def person(server: LiveServer, role: str, owner: str) -> HttpControl:
    """What the CLI or a script holding a person's key talks to."""
    return HttpControl(server.url, token=server.key(role, owner=owner), timeout=5)


def test_connect_mode_decides_writes_on_the_server_and_reads_locally(
    server: LiveServer, operator: StoreControl, tmp_path: Path
) -> None:
    a = connect(server, tmp_path)
    ops = person(server, "responder", "ops-lead")
    try:
        crm = Crm()
        read_ticket, update_tier = guard_crm(a, crm)
        assert a.state.workflows["support-triage"].fallback == FALLBACK
        with a.run("support-triage", input="ticket 1") as run:
            run.model_call(output="gold", confidence=0.9)
            assert read_ticket("T-1")["id"] == "T-1"
            update_tier("acct-1", "gold")
            with pytest.raises(ControlError, match="refused the key"):
                a.service.set_switch(kind="pause_workflow", workflow="support-triage", actor="x", reason="no")
            ops.set_switch(kind="pause_workflow", workflow="support-triage", actor="ignored", reason="stop")
            with pytest.raises(Denied) as denied:
                update_tier("acct-2", "gold")
        assert (denied.value.rule, denied.value.fallback) == ("paused", FALLBACK)
        switches = a.service.list_switches()
        assert [(s.kind, s.actor) for s in switches] == [("pause_workflow", "ops-lead")]
        ops.clear_switches(workflow="support-triage", kinds=("pause_workflow",), actor="ignored", reason="ok")
        assert a.flush()
        with operator.engine.connect() as conn:
            events = list(read_events(conn))
        assert {"model_call", "decision", "action_outcome", "control_change"} <= {e.kind for e in events}
        assert {e.actor for e in events if e.kind == "control_change"} == {"ops-lead"}
        assert crm.tiers == {"acct-1": "gold"}
    finally:
        a.close()


def test_connect_mode_approvals_versions_and_rollback(
    server: LiveServer, operator: StoreControl, tmp_path: Path, reapply: Callable[..., int]
) -> None:
    reapply(autonomy="act_with_approval")
    a = connect(server, tmp_path)
    lead = person(server, "approver", "support-lead")
    try:
        crm = Crm()
        _, update_tier = guard_crm(a, crm)
        with a.run("support-triage") as run:
            run.model_call(output="gold", confidence=0.9)
            with pytest.raises(ApprovalPending) as pending:
                update_tier("acct-1", "gold")
        approval_id = pending.value.approval_id
        with pytest.raises(ApprovalPending):
            a.resume(approval_id)
        with pytest.raises(ControlError, match="refused the key"):
            a.service.decide_approval(approval_id, actor="svc-triage", approve=True, reason="mine")
        itself = person(server, "approver", "svc-triage")  # a person key owned by the requester itself
        with pytest.raises(ControlError, match="cannot approve"):
            itself.decide_approval(approval_id, actor="someone-else", approve=True, reason="mine")
        decided = lead.decide_approval(approval_id, actor="ignored", approve=True, reason="ok")
        assert decided.decided_by == "support-lead"
        assert a.resume(approval_id) == {"account_id": "acct-1", "tier": "gold"}
        assert [x.status for x in a.service.list_approvals(status=None)] == ["executed"]

        ml = person(server, "responder", "ml-eng")
        v1 = ml.publish_version(
            workflow="support-triage", kind="prompt", name="triage-system", content="careful", actor="x"
        )
        lead.approve_version(v1.id, actor="x", live=True)
        with pytest.raises(ControlError, match="needs role 'approver'"):
            ml.publish_version(
                workflow="support-triage",
                kind="prompt",
                name="triage-system",
                content="x",
                actor="x",
                live=True,
            )
        lead.publish_version(
            workflow="support-triage",
            kind="prompt",
            name="triage-system",
            content="reckless",
            actor="x",
            live=True,
        )
        assert a.refresh() and a.prompt("support-triage", "triage-system") == "reckless"
        person(server, "responder", "ops-lead").restore_version(
            workflow="support-triage",
            kind="prompt",
            name="triage-system",
            to="last-approved",
            actor="x",
            reason="reckless",
        )
        assert a.refresh() and a.prompt("support-triage", "triage-system") == "careful"

        report = a.rollback(workflow="support-triage", actor="ops-lead", reason="undo", dry_run=False)
        assert len(report.rolled_back) == 1 and crm.tiers == {"acct-1": "standard"}
    finally:
        a.close()


def test_server_gone_mid_run_then_back(
    server: LiveServer, settings: Settings, operator: StoreControl, tmp_path: Path
) -> None:
    a = connect(server, tmp_path)
    try:
        crm = Crm()
        read_ticket, update_tier = guard_crm(a, crm)
        port = server.port
        server.stop()
        with a.run("support-triage") as run:
            run.model_call(output="while the server is down", confidence=0.9)
            assert read_ticket("T-2")["id"] == "T-2"
            with pytest.raises(Denied) as denied:
                update_tier("acct-1", "gold")
        assert (denied.value.rule, denied.value.fallback) == ("fail_closed", FALLBACK)
        a.flush()
        assert len(a.spool) >= 2
        back = LiveServer(settings, port=port)
        try:
            assert a.deliver_spool() >= 2 and len(a.spool) == 0
        finally:
            back.stop()
        with operator.engine.connect() as conn:
            outputs = [e.payload.get("output") for e in read_events(conn) if e.kind == "model_call"]
        assert outputs == ["while the server is down"]
        assert crm.writes == 0
    finally:
        a.close()
