"""Console: overview, workflow page (one-click switches, restore, chart, recent actions), approvals — and
their JSON twins, on both stores, through the in-process client with a real login and CSRF token."""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

import pytest

from andon.control.actions import ActionOutcome, ActionRequest
from andon.control.service import StoreControl
from control.runbooks import apply, triage_document

if TYPE_CHECKING:
    from tests.server.conftest import Server

pytestmark = pytest.mark.anyio
WF = "/console/workflows/support-triage"


def write(control: StoreControl, *, tier: str = "gold", actor: str = "svc-triage") -> Any:
    request = ActionRequest(
        workflow="support-triage",
        tool="crm.update_tier",
        actor=actor,
        args={"account_id": "acct-7", "tier": tier},
        run_id="run-1",
        confidence=0.91,
        before={"account_id": "acct-7", "tier": "standard"},
        context={"input": "Please upgrade ACME", "retrievals": [{"source": "kb", "doc": "tiers.md"}],
                 "model_output": "upgrade to gold"},
    )  # fmt: skip
    return control.decide(request)


def run_one(control: StoreControl) -> None:
    decision = write(control)
    assert decision.outcome == "allow"
    control.record_outcome(ActionOutcome(action_id=decision.action_id, ok=True, actor="svc-triage"))


async def declare_injection(server: Server, responder: dict[str, str]) -> dict[str, Any]:
    """A runbook with a prompt-injection class and no containment; one such incident declared on
    support-triage over the API. Returns the incident."""
    document = triage_document()
    document["incident_classes"] = [
        {"id": "prompt_injection", "default_severity": "sev1", "owner_role": "operations", "containment": []}
    ]
    apply(server.engine, document)
    declared = await server.client.post(
        "/v1/incidents",
        json={"incident_class": "prompt_injection", "workflow": "support-triage", "summary": "odd tickets"},
        headers=responder,
    )
    assert declared.status_code in (200, 201), declared.text
    incident: dict[str, Any] = declared.json().get("incident", declared.json())
    return incident


async def test_overview_and_its_json_twin_show_every_workflow(server: Server) -> None:
    apply(server.engine)
    control = StoreControl(server.engine)
    run_one(control)
    control.set_switch(
        kind="cap_autonomy", workflow="support-triage", target="advise", actor="ops", reason="drift"
    )
    await server.login("olive", "viewer")

    twin = (await server.client.get("/v1/overview")).json()
    (wf,) = twin["workflows"]
    assert (wf["id"], wf["autonomy"], wf["effective_autonomy"]) == ("support-triage", "autonomous", "advise")
    assert wf["actions_last_minutes"] == 1 and wf["approvals_waiting"] == 0
    assert [s["kind"] for s in wf["switches"]] == ["cap_autonomy"]

    page = await server.client.get("/console/")
    assert page.status_code == 200
    assert 'href="/console/workflows/support-triage"' in page.text
    assert "advise" in page.text and "cap_autonomy" in page.text and 'href="/v1/overview"' in page.text


async def test_open_incidents_show_on_the_overview(server: Server) -> None:
    responder = server.auth("responder")
    incident = await declare_injection(server, responder)
    (wf,) = (await server.client.get("/v1/overview", headers=responder)).json()["workflows"]
    assert [i["id"] for i in wf["open_incidents"]] == [incident["id"]]


async def test_the_workflow_page_lists_its_open_incidents_and_marks_them_on_the_chart(
    server: Server, tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("ANDON_DATA_DIR", str(tmp_path / "data"))  # the freeze's evidence bundle
    responder = server.auth("responder")
    incident = await declare_injection(server, responder)

    twin = (await server.client.get("/v1/workflows/support-triage/activity", headers=responder)).json()
    assert [i["id"] for i in twin["open_incidents"]] == [incident["id"]]
    marks = [m for m in twin["marks"] if m["change"] == "incident"]
    assert marks and marks[0]["incident"] == incident["number"]
    assert f"{incident['id']} opened by" in marks[0]["label"] and "(sev1)" in marks[0]["label"]

    await server.login("olive", "viewer")
    page = await server.client.get(WF)
    assert f'<a href="/console/incidents/{incident["id"]}">{incident["id"]}</a>' in page.text  # in "Now"
    assert 'class="mark-incident"' in page.text  # a diamond on the chart
    assert f"{incident['id']} opened by" in page.text  # its tooltip


async def test_one_click_switches_from_the_workflow_page(server: Server) -> None:
    apply(server.engine)
    control = StoreControl(server.engine)
    csrf = await server.login("rita", "responder")
    page = await server.client.get(WF)
    assert page.status_code == 200
    for label in ("Pause", "Freeze writes", "Block tool", "Block external sends", "Block source",
                  "Revoke credential", "Cap autonomy"):  # fmt: skip
        assert f">{label}</button>" in page.text

    refused = await server.client.post(f"{WF}/switches", data={"op": "pause_workflow", "reason": "x"})
    assert refused.status_code == 403  # no CSRF token
    no_reason = await server.client.post(
        f"{WF}/switches", data={"op": "pause_workflow", "reason": " ", "csrf_token": csrf}
    )
    assert no_reason.status_code == 303 and "error=" in no_reason.headers["location"]

    paused = await server.client.post(
        f"{WF}/switches", data={"op": "pause_workflow", "reason": "bad prompt", "csrf_token": csrf}
    )
    assert paused.status_code == 303 and "msg=" in paused.headers["location"]
    assert write(control).rule == "paused"
    (switch,) = control.list_switches(workflow="support-triage")
    assert (switch.kind, switch.actor, switch.reason) == ("pause_workflow", "rita", "bad prompt")

    blocked = await server.client.post(
        f"{WF}/switches",
        data={"op": "block_tool", "target": "crm.update_tier", "reason": "loop", "expires_in_minutes": "30",
              "csrf_token": csrf},
    )  # fmt: skip
    assert "msg=" in blocked.headers["location"]
    page = await server.client.get(WF)
    assert "block_tool crm.update_tier" in page.text and ">Resume</button>" in page.text
    assert 'class="mark-set"' in page.text  # the chart marks the pause

    resumed = await server.client.post(
        f"{WF}/switches", data={"op": "resume", "reason": "fixed", "csrf_token": csrf}
    )
    assert "resumed" in resumed.headers["location"]
    blocked_id = next(s.id for s in control.list_switches(workflow="support-triage"))
    await server.client.post(
        f"{WF}/switches", data={"op": "clear", "switch_id": blocked_id, "reason": "ok", "csrf_token": csrf}
    )
    assert control.list_switches(workflow="support-triage") == []
    assert write(control).outcome == "allow"


async def test_a_viewer_sees_the_page_but_no_cords(server: Server) -> None:
    apply(server.engine)
    csrf = await server.login("vic", "viewer")
    page = await server.client.get(WF)
    assert page.status_code == 200 and ">Pause</button>" not in page.text
    refused = await server.client.post(
        f"{WF}/switches", data={"op": "pause_workflow", "reason": "x", "csrf_token": csrf}
    )
    assert refused.status_code == 403


async def test_chart_and_recent_actions_and_their_twin(server: Server) -> None:
    apply(server.engine)
    control = StoreControl(server.engine)
    for _ in range(3):
        run_one(control)
    await server.login("olive", "viewer")
    twin = (await server.client.get("/v1/workflows/support-triage/activity")).json()
    assert sum(m["actions"] for m in twin["per_minute"]) == 3 and len(twin["per_minute"]) == 31
    assert [(r["tool"], r["decision"], r["status"]) for r in twin["recent_actions"]] == [
        ("crm.update_tier", "allow", "succeeded")
    ] * 3
    page = await server.client.get(WF)
    assert page.text.count('<rect class="bar"') == 31
    assert ": 3 actions</title>" in page.text or ": 2 actions</title>" in page.text  # a minute may turn over


async def test_restore_to_last_approved_from_the_page(server: Server) -> None:
    apply(server.engine)
    control = StoreControl(server.engine)
    v1 = control.publish_version(
        workflow="support-triage", kind="prompt", name="triage-system", content="a", actor="ml"
    )
    control.approve_version(v1.id, actor="lead", live=True)
    control.publish_version(
        workflow="support-triage", kind="prompt", name="triage-system", content="b", actor="ml", live=True
    )
    csrf = await server.login("rita", "responder")
    done = await server.client.post(
        f"{WF}/restore",
        data={"kind": "prompt", "name": "triage-system", "reason": "b is bad", "csrf_token": csrf},
    )
    assert "msg=" in done.headers["location"]
    live = [v for v in control.list_versions(workflow="support-triage") if v.live]
    assert [v.version for v in live] == ["v1"]


async def test_approval_queue_page_and_decisions(server: Server) -> None:
    apply(server.engine, triage_document(autonomy="act_with_approval"))
    control = StoreControl(server.engine)
    held = write(control, actor="sam")
    assert held.outcome == "hold"
    csrf = await server.login("ann", "approver")
    queue = await server.client.get("/console/approvals")
    assert f'href="/console/approvals/{held.approval_id}"' in queue.text
    page = await server.client.get(f"/console/approvals/{held.approval_id}")
    assert page.status_code == 200
    for shown in ("Please upgrade ACME", "tiers.md", "upgrade to gold", "0.91", "autonomy:act_with_approval"):
        assert shown in page.text
    changed = re.search(
        r'<tr class="changed"><td>tier</td><td><pre>(.*?)</pre></td><td><pre>(.*?)</pre>', page.text
    )
    assert changed and changed.groups() == ("&#34;standard&#34;", "&#34;gold&#34;")

    metrics = await server.client.get("/metrics")
    assert 'andon_approvals_waiting{workflow="support-triage"} 1.0' in metrics.text

    no_reason = await server.client.post(
        f"/console/approvals/{held.approval_id}", data={"op": "reject", "reason": "", "csrf_token": csrf}
    )
    assert "error=" in no_reason.headers["location"]
    edited = await server.client.post(
        f"/console/approvals/{held.approval_id}",
        data={
            "op": "edit",
            "edited_args": '{"account_id": "acct-7", "tier": "silver"}',
            "reason": "silver at most",
            "csrf_token": csrf,
        },
    )
    assert "approved" in edited.headers["location"]
    approval = control.get_approval(held.approval_id)
    assert (approval.decided_by, approval.edited_args) == ("ann", {"account_id": "acct-7", "tier": "silver"})

    second = write(control, actor="sam", tier="platinum")
    page = await server.client.get(f"/console/approvals/{second.approval_id}")
    assert "silver at most" in page.text  # similar past decisions


async def test_the_requester_cannot_decide_its_own_request(server: Server) -> None:
    apply(server.engine, triage_document(autonomy="act_with_approval"))
    held = write(StoreControl(server.engine), actor="sam")
    csrf = await server.login("sam", "approver")
    page = await server.client.get(f"/console/approvals/{held.approval_id}")
    assert "another person must decide" in page.text and ">Approve</button>" not in page.text
    tried = await server.client.post(
        f"/console/approvals/{held.approval_id}", data={"op": "approve", "reason": "", "csrf_token": csrf}
    )
    assert "cannot%20approve" in tried.headers["location"]
