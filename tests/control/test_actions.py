"""Deciding many actions at once (the server's group commit) records exactly what one by one would."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from andon.control.actions import ActionDecision, ActionRequest, decide_action, decide_actions
from andon.ledger.log import read_events
from andon.ledger.verify import verify_ledger
from andon.store.tables import control_actions, control_approvals

from .runbooks import apply, triage_document

LIMITS = {
    "rate": {"workflow": "100000/min", "tools": {"crm.update_tier": "3/min"}},
    "confidence_threshold": 0.7,
    "circuit_breaker": {"burst": "5/10s"},
}


def write(confidence: float | None = 0.9) -> ActionRequest:
    return ActionRequest(
        workflow="support-triage",
        tool="crm.update_tier",
        actor="svc-triage",
        args={"account_id": "a1", "tier": "gold", "contact": "jo@example.com"},
        confidence=confidence,
    )


def refund(confidence: float | None) -> ActionRequest:
    return ActionRequest(
        workflow="support-triage", tool="email.send_refund", actor="svc-triage", confidence=confidence
    )


# What happens, in order: the tool's 3/min runs out at the 5th, the burst of 5 at the 7th (which
# trips the breaker: a pause), so the 8th is refused as paused. The 2nd is held for approval.
REQUESTS = [write(), refund(None), write(), write(), write(), refund(0.9), refund(0.9), write()]
EXPECTED = [
    ("allow", "autonomy:autonomous"),
    ("hold", "approval:below_confidence"),
    ("allow", "autonomy:autonomous"),
    ("allow", "autonomy:autonomous"),
    ("deny", "rate_limit"),
    ("allow", "autonomy:autonomous"),
    ("deny", "circuit_breaker"),
    ("deny", "paused"),
]


@pytest.mark.parametrize("together", [True, False], ids=["one-batch", "one-by-one"])
def test_a_batch_decides_and_records_as_one_by_one_would(engine: Engine, together: bool) -> None:
    apply(engine, triage_document(limits=LIMITS))
    now = datetime.now(UTC)
    decided: list[ActionDecision] = []
    if together:
        with engine.begin() as conn:
            decided = decide_actions(conn, REQUESTS, now=now)
    else:
        for request in REQUESTS:
            with engine.begin() as conn:
                decided.append(decide_action(conn, request, now=now))

    assert [(d.outcome, d.rule) for d in decided] == EXPECTED
    first = min(d.ledger_index for d in decided if d.ledger_index is not None)
    with engine.connect() as conn:
        recorded = read_events(conn, after_index=first - 1)
        rows = {row.id: row for row in conn.execute(sa.select(control_actions))}
        approvals = conn.execute(sa.select(control_approvals.c.action_id)).scalars().all()
        report = verify_ledger(conn, verifier=None)
    # Gapless, in one-by-one order: the approval follows its held decision, the breaker's pause
    # precedes the decision it stops.
    assert [e.index for e in recorded] == list(range(first, first + len(recorded)))
    assert [e.kind for e in recorded] == [
        "decision", "decision", "approval", "decision", "decision", "decision", "decision",
        "control_change", "decision", "decision",
    ]  # fmt: skip
    assert recorded[7].actor == "andon:circuit-breaker"
    by_index = {e.index: e for e in recorded}
    for d in decided:
        assert d.ledger_index is not None
        event = by_index[d.ledger_index]
        assert event.kind == "decision" and event.payload["action_id"] == d.action_id
        assert event.payload["decision"] == d.outcome
        assert "jo@example.com" not in str(event.payload), "masked by the runbook's redaction rules"
        row = rows[d.action_id]
        assert (row.outcome, row.rule, row.ledger_index, row.decided_at) == (
            d.outcome,
            d.rule,
            d.ledger_index,
            now,
        )
    held = decided[1]
    assert approvals == [held.action_id] and rows[held.action_id].approval_id == held.approval_id
    assert rows[decided[0].action_id].args == {
        "account_id": "a1",
        "tier": "gold",
        "contact": "jo@example.com",
    }
    assert rows[decided[1].action_id].before is None
    assert report.ok, report.problems


def test_a_batch_sees_the_reservations_of_the_decisions_before_it(engine: Engine) -> None:
    apply(engine, triage_document(limits=LIMITS))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        first = decide_actions(conn, [write(), write()], now=now)
    with engine.begin() as conn:
        second = decide_actions(conn, [write(), write()], now=now)
    assert [d.outcome for d in first + second] == ["allow", "allow", "allow", "deny"], "3/min, across batches"


def test_requests_and_decisions_cross_a_process_boundary_whole() -> None:
    """The server pickles both on their way to and from its writer process: every field survives."""
    import pickle

    request = ActionRequest(
        workflow="triage",
        tool="crm.update",
        actor="svc",
        args={"account_id": "a-1", "tier": "gold"},
        run_id="run-1",
        confidence=0.4,
        before={"tier": "silver"},
        context={"input": "ticket 7"},
        versions={"prompt:triage": "v2"},
        approval_ttl_seconds=60.0,
    )
    decision = ActionDecision(
        action_id="act-1", outcome="hold", reason="low confidence", rule="approval", approval_id="apr-1"
    )
    assert pickle.loads(pickle.dumps(request)) == request
    assert pickle.loads(pickle.dumps(decision)) == decision
