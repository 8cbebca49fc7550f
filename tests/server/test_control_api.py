"""The /v1 control API of docs/api.md in-process, on both stores: answers, scopes, names, error bodies."""

from __future__ import annotations

import asyncio
from typing import TYPE_CHECKING, Any

import pytest

from andon.ledger.log import read_events
from control.runbooks import apply, triage_document

if TYPE_CHECKING:
    from tests.server.conftest import ErrorBody, Server

pytestmark = pytest.mark.anyio
WRITE = {
    "workflow": "support-triage",
    "tool": "crm.update_tier",
    "actor": "svc-triage",
    "args": {"account_id": "acct-1", "tier": "gold"},
    "confidence": 0.9,
    "before": {"account_id": "acct-1", "tier": "standard"},
}


def agent(server: Server, workflows: list[str] | None = None) -> dict[str, str]:
    return {"Authorization": f"Bearer {server.new_key('agent', workflows=workflows or ['support-triage'])}"}


async def test_decisions_are_answers_and_are_in_the_ledger(server: Server) -> None:
    apply(server.engine)
    headers = agent(server)
    allowed = await server.client.post("/v1/decisions", json=WRITE, headers=headers)
    assert allowed.status_code == 200 and allowed.json()["outcome"] == "allow"
    decision = allowed.json()
    assert set(decision) == {
        "action_id",
        "outcome",
        "reason",
        "rule",
        "fallback",
        "approval_id",
        "ledger_index",
    }

    outcome = {"ok": True, "actor": "svc-triage", "after": {"tier": "gold"}, "undo": "crm.restore_tier"}
    path = f"/v1/actions/{decision['action_id']}/outcome"
    assert (await server.client.post(path, json=outcome, headers=headers)).json() == {"tripped": None}
    assert (await server.client.post(path, json=outcome, headers=headers)).json() == {"tripped": None}

    ops = server.auth("responder")
    paused = await server.client.post(
        "/v1/switches",
        json={"kind": "pause_workflow", "workflow": "support-triage", "reason": "x"},
        headers=ops,
    )
    assert paused.status_code == 200
    denied = await server.client.post("/v1/decisions", json=WRITE, headers=headers)
    assert denied.status_code == 200 and (denied.json()["outcome"], denied.json()["rule"]) == (
        "deny",
        "paused",
    )
    with server.engine.connect() as conn:
        kinds = [e.kind for e in read_events(conn)]
    assert kinds.count("decision") == 2 and kinds.count("action_outcome") == 1

    metrics = (await server.client.get("/metrics", headers=ops)).text
    assert 'andon_decisions_total{outcome="allow",workflow="support-triage"} 1.0' in metrics
    assert 'andon_decisions_total{outcome="deny",workflow="support-triage"} 1.0' in metrics


async def test_agents_act_only_for_their_workflows(server: Server, error_body: ErrorBody) -> None:
    apply(server.engine)
    other = agent(server, ["quote-drafting"])
    refused = await server.client.post("/v1/decisions", json=WRITE, headers=other)
    assert "not scoped to workflow 'support-triage'" in error_body(refused, 403)["error"]
    made = (await server.client.post("/v1/decisions", json=WRITE, headers=agent(server))).json()
    outcome = {"ok": True, "actor": "svc"}
    refused = await server.client.post(
        f"/v1/actions/{made['action_id']}/outcome", json=outcome, headers=other
    )
    error_body(refused, 403)
    missing = await server.client.post("/v1/actions/act-nope/outcome", json=outcome, headers=agent(server))
    error_body(missing, 404)


async def test_bad_bodies_get_the_one_error_body(server: Server, error_body: ErrorBody) -> None:
    apply(server.engine)
    headers = agent(server)
    body = error_body(
        await server.client.post("/v1/decisions", json={**WRITE, "confidence": 2}, headers=headers), 422
    )
    assert body["errors"][0]["location"] == "body.confidence"
    body = error_body(
        await server.client.post("/v1/decisions", json={**WRITE, "extra": 1}, headers=headers), 422
    )
    ops = server.auth("responder")
    typo = {"kind": "block_tool", "workflow": "support-triage", "target": "nope", "reason": "x"}
    unknown = await server.client.post("/v1/switches", json=typo, headers=ops)
    assert "has no tool 'nope'" in error_body(unknown, 409)["error"]


async def test_switches_are_recorded_in_the_callers_name(server: Server) -> None:
    apply(server.engine)
    ops = {"Authorization": f"Bearer {server.new_key('responder')}"}
    body = {"kind": "freeze_writes", "workflow": "support-triage", "actor": "someone-else", "reason": "audit"}
    switch = (await server.client.post("/v1/switches", json=body, headers=ops)).json()
    whoami = (await server.client.get("/v1/whoami", headers=ops)).json()
    assert switch["actor"] == whoami["actor"] != "someone-else"
    listed = (await server.client.get("/v1/switches?workflow=support-triage", headers=agent(server))).json()
    assert [s["id"] for s in listed["switches"]] == [switch["id"]]
    scoped = {"Authorization": f"Bearer {server.new_key('responder', workflows=['support-triage'])}"}
    everywhere = {"kind": "pause_workflow", "reason": "all of them"}
    assert (await server.client.post("/v1/switches", json=everywhere, headers=scoped)).status_code == 403
    cleared = await server.client.post(
        "/v1/switches/clear", json={"switch_id": switch["id"], "reason": "done"}, headers=scoped
    )
    assert [s["id"] for s in cleared.json()["cleared"]] == [switch["id"]]


async def test_approvals_over_the_api(server: Server, error_body: ErrorBody) -> None:
    apply(server.engine, triage_document(autonomy="act_with_approval"))
    headers = agent(server)
    held = (await server.client.post("/v1/decisions", json=WRITE, headers=headers)).json()
    assert held["outcome"] == "hold"
    path = f"/v1/approvals/{held['approval_id']}"
    waiting = await server.client.post(f"{path}/claim", json={"actor": "svc-triage"}, headers=headers)
    assert waiting.status_code == 409 and waiting.json()["errors"][0] == {
        "code": "approval_pending",
        "message": waiting.json()["error"],
        "location": None,
        "approval_id": held["approval_id"],
        "rule": "autonomy:act_with_approval",
    }

    shown: dict[str, Any] = (await server.client.get(path, headers=server.auth("viewer"))).json()
    assert shown["context"]["change"] == {"before": WRITE["before"], "after": WRITE["args"]}
    responder = server.auth("responder")
    assert (
        await server.client.post(f"{path}/decision", json={"approve": True}, headers=responder)
    ).status_code == 403
    no_reason = await server.client.post(
        f"{path}/decision", json={"approve": False}, headers=server.auth("approver")
    )
    assert "needs a reason" in error_body(no_reason, 409)["error"]
    rejected = await server.client.post(
        f"{path}/decision", json={"approve": False, "reason": "not gold"}, headers=server.auth("approver")
    )
    assert rejected.json()["status"] == "rejected"
    claimed = await server.client.post(f"{path}/claim", json={"actor": "svc-triage"}, headers=headers)
    assert claimed.status_code == 409 and claimed.json()["ok"] is False
    denied = claimed.json()["errors"][0]
    assert (denied["code"], denied["rule"], denied["reason"]) == (
        "denied",
        "approval_rejected",
        "rejected by " + rejected.json()["decided_by"] + ": not gold",
    )
    error_body(await server.client.get("/v1/approvals/apr-nope", headers=responder), 404)
    stats = (await server.client.get("/v1/approvals/stats", headers=responder)).json()
    assert [(s["decisions"], s["rejected"]) for s in stats["approvers"]] == [(1, 1)]


async def test_group_committed_decisions_keep_limits_exact(server: Server) -> None:
    """40 concurrent requests share batches of the decision writer; a 10/min tool limit allows 10."""
    apply(
        server.engine,
        triage_document(limits={"rate": {"workflow": "100000/min", "tools": {"crm.update_tier": "10/min"}}}),
    )
    headers = agent(server)
    answers = await asyncio.gather(
        *(server.client.post("/v1/decisions", json=WRITE, headers=headers) for _ in range(40))
    )
    outcomes = [a.json()["outcome"] for a in answers]
    assert outcomes.count("allow") == 10 and outcomes.count("deny") == 30
    assert {a.json()["rule"] for a in answers if a.json()["outcome"] == "deny"} == {"rate_limit"}
    with server.engine.connect() as conn:
        assert [e.kind for e in read_events(conn)].count("decision") == 40
