"""Connect mode over real HTTP, against the reference implementation of docs/api.md."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from andon.control.service import StoreControl
from andon.errors import ApprovalPending, ControlError, Denied
from andon.ledger.log import read_events
from andon.sdk.client import Andon

from .crm import Crm, guard_crm
from .reference_server import ReferenceServer

FALLBACK = "Tier-1 human triage (contact: support-lead)"


@pytest.fixture
def server(operator: StoreControl) -> Iterator[ReferenceServer]:
    srv = ReferenceServer(operator)
    yield srv
    srv.stop()


def connect(server: ReferenceServer, tmp_path: Path, **kw: object) -> Andon:
    return Andon.connect(
        server.url,
        token="test-key",
        actor="svc-triage",
        spool_dir=tmp_path / "spool",
        timeout=2,
        refresh_interval=0.1,
        **kw,
    )  # type: ignore[arg-type]


def test_connect_mode_decides_writes_on_the_server_and_reads_locally(
    server: ReferenceServer, operator: StoreControl, tmp_path: Path
) -> None:
    a = connect(server, tmp_path)
    try:
        crm = Crm()
        read_ticket, update_tier = guard_crm(a, crm)
        assert a.state.workflows["support-triage"].fallback == FALLBACK
        with a.run("support-triage", input="ticket 1") as run:
            run.model_call(output="gold", confidence=0.9)
            assert read_ticket("T-1")["id"] == "T-1"
            update_tier("acct-1", "gold")
            a.service.set_switch(
                kind="pause_workflow", workflow="support-triage", actor="ops-lead", reason="stop"
            )
            with pytest.raises(Denied) as denied:
                update_tier("acct-2", "gold")
        assert (denied.value.rule, denied.value.fallback) == ("paused", FALLBACK)
        assert [s.kind for s in a.service.list_switches()] == ["pause_workflow"]
        a.service.clear_switches(
            workflow="support-triage", kinds=("pause_workflow",), actor="ops-lead", reason="ok"
        )
        assert a.flush()
        with operator.engine.connect() as conn:
            kinds = [e.kind for e in read_events(conn)]
        assert {"model_call", "decision", "action_outcome", "control_change"} <= set(kinds)
        assert crm.tiers == {"acct-1": "gold"}
    finally:
        a.close()


def test_connect_mode_approvals_versions_and_rollback(
    server: ReferenceServer, operator: StoreControl, tmp_path: Path, reapply: Callable[..., int]
) -> None:
    reapply(autonomy="act_with_approval")
    a = connect(server, tmp_path)
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
        with pytest.raises(ControlError, match="cannot approve"):
            a.service.decide_approval(approval_id, actor="svc-triage", approve=True, reason="mine")
        a.service.decide_approval(approval_id, actor="support-lead", approve=True, reason="ok")
        assert a.resume(approval_id) == {"account_id": "acct-1", "tier": "gold"}
        assert [x.status for x in a.service.list_approvals(status=None)] == ["executed"]

        v1 = a.service.publish_version(
            workflow="support-triage", kind="prompt", name="triage-system", content="careful", actor="ml-eng"
        )
        a.service.approve_version(v1.id, actor="support-lead", live=True)
        a.service.publish_version(
            workflow="support-triage",
            kind="prompt",
            name="triage-system",
            content="reckless",
            actor="ml-eng",
            live=True,
        )
        assert a.refresh() and a.prompt("support-triage", "triage-system") == "reckless"
        a.service.restore_version(
            workflow="support-triage",
            kind="prompt",
            name="triage-system",
            to="last-approved",
            actor="ops-lead",
            reason="reckless",
        )
        assert a.refresh() and a.prompt("support-triage", "triage-system") == "careful"

        report = a.rollback(workflow="support-triage", actor="ops-lead", reason="undo", dry_run=False)
        assert len(report.rolled_back) == 1 and crm.tiers == {"acct-1": "standard"}
    finally:
        a.close()


def test_server_gone_mid_run_then_back(
    server: ReferenceServer, operator: StoreControl, tmp_path: Path
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
        back = ReferenceServer(operator, port=port)
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


def test_an_agent_restarted_while_the_server_is_down_keeps_reading(
    server: ReferenceServer, tmp_path: Path
) -> None:
    first = connect(server, tmp_path)
    first.close()  # it saw the control state once and kept a copy beside its spool
    server.stop()
    a = connect(server, tmp_path)
    try:
        crm = Crm()
        read_ticket, update_tier = guard_crm(a, crm)
        assert read_ticket("T-3")["id"] == "T-3"
        with pytest.raises(Denied) as denied:
            update_tier("acct-1", "gold")
        assert (denied.value.rule, denied.value.fallback) == ("fail_closed", FALLBACK)
    finally:
        a.close()
