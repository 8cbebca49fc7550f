"""The guarded path of one action that changes things: decide and record in one transaction, then outcome.

``decide_action`` reads the workflow's policy and switches, locks and debits the rate buckets, records
the action row, opens an approval when held, and appends the ``decision`` event — all in the caller's
transaction, so a decision exists in the ledger before the tool runs and limits never overshoot.
"""

from __future__ import annotations

import uuid
from dataclasses import asdict, dataclass, field
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.approvals import new_approval_id, request_approval
from andon.control.decide import Action, Decision, decide
from andon.control.journal import emit
from andon.control.limits import Bucket, breaker_verdict, level, limits_for
from andon.control.redaction import redactor_for
from andon.control.snapshot import current_revision, policies, workflow_state
from andon.control.state import WorkflowPolicy
from andon.control.switches import trip_breaker
from andon.errors import ControlError
from andon.store.tables import control_actions, control_buckets

STATUS_BY_OUTCOME = {"allow": "allowed", "deny": "denied", "hold": "held", "simulate": "simulated"}
DEFAULT_APPROVAL_TTL = timedelta(hours=24)


@dataclass(frozen=True, slots=True)
class ActionRequest:
    """What the SDK proposes: the call, who asks, and the context a person needs to judge it."""

    workflow: str
    tool: str
    actor: str
    args: dict[str, Any] = field(default_factory=dict)
    run_id: str | None = None
    confidence: float | None = None
    before: Any = None  # the record as the tool's state reader saw it before the call
    context: dict[str, Any] = field(default_factory=dict)  # input, sources, model output (for approvals)
    versions: dict[str, str] = field(default_factory=dict)  # "prompt:triage-system" -> version id
    approval_ttl_seconds: float | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionRequest:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class ActionDecision:
    """The recorded decision: the action id to report the outcome against, and the approval when held."""

    action_id: str
    outcome: str
    reason: str
    rule: str
    fallback: str | None = None
    approval_id: str | None = None
    ledger_index: int | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionDecision:
        return cls(**data)


@dataclass(frozen=True, slots=True)
class ActionOutcome:
    """What happened when the tool ran; ``undo`` names the compensating call registered for it."""

    action_id: str
    ok: bool
    actor: str
    result: Any = None
    error: str | None = None
    after: Any = None
    undo: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionOutcome:
        return cls(**data)


_b = control_buckets.c
_LOCK_BUCKETS = (
    sa.select(_b.key, _b.tokens, _b.updated)
    .where(_b.key.in_(sa.bindparam("keys", expanding=True)))
    .order_by(_b.key)
    .with_for_update()
)
_DEBIT = (
    control_buckets.update()
    .where(_b.key == sa.bindparam("k"))
    .values(tokens=sa.bindparam("t"), updated=sa.bindparam("u"))
)
_INSERT_ACTION = control_actions.insert()


def _take_buckets(conn: Connection, policy: WorkflowPolicy, tool: str, now: float) -> dict[str, float]:
    """Lock the action's bucket rows (creating missing ones) and return their levels at ``now``."""
    found = limits_for(policy, tool)
    if not found:
        return {}
    keys = sorted(limit.key for limit in found)  # one lock order for every writer: no deadlocks
    rows = {row.key: Bucket(row.tokens, row.updated) for row in conn.execute(_LOCK_BUCKETS, {"keys": keys})}
    missing = [key for key in keys if key not in rows]
    if missing:
        rates = {limit.key: limit.rate for limit in found}
        for key in missing:
            try:
                with conn.begin_nested():
                    conn.execute(
                        control_buckets.insert().values(key=key, tokens=float(rates[key].count), updated=now)
                    )
            except sa.exc.IntegrityError:
                pass  # another writer created it first; the locked read below sees theirs
        rows = {
            row.key: Bucket(row.tokens, row.updated) for row in conn.execute(_LOCK_BUCKETS, {"keys": keys})
        }
    return {limit.key: level(rows.get(limit.key), limit.rate, now) for limit in found}


def _debit(conn: Connection, decision: Decision, tokens: dict[str, float], now: float) -> None:
    if decision.debit:
        conn.execute(_DEBIT, [{"k": key, "t": tokens[key] - 1.0, "u": now} for key in decision.debit])


def decide_action(conn: Connection, request: ActionRequest, *, now: datetime) -> ActionDecision:
    """Decide one proposed action and record it (action row, approval if held, ledger event)."""
    state = workflow_state(conn, request.workflow, now=now)
    ts = now.timestamp()
    policy = state.workflows.get(request.workflow)
    tool_policy = policy.tools.get(request.tool) if policy else None
    tokens: dict[str, float] | None = None
    if policy is not None and tool_policy is not None and tool_policy.changes_things:
        # Only a decision that could allow or hold needs the buckets; a stop needs no lock.
        preview = decide(state, Action(request.workflow, request.tool, confidence=request.confidence), now=ts)
        if preview.outcome in ("allow", "hold"):
            tokens = _take_buckets(conn, policy, request.tool, ts)
    action = Action(request.workflow, request.tool, confidence=request.confidence)
    decision = decide(state, action, now=ts, tokens=tokens)
    if tokens is not None:
        _debit(conn, decision, tokens, ts)
    if decision.trip:
        trip_breaker(conn, workflow=request.workflow, why=decision.trip, now=now)

    action_id = f"act-{uuid.uuid4().hex}"
    approval_id = new_approval_id() if decision.outcome == "hold" else None
    effect = tool_policy.effect if tool_policy else "unknown"
    index = emit(
        conn,
        kind="decision",
        actor=request.actor,
        workflow=request.workflow,
        run_id=request.run_id,
        now=now,
        redactor=redactor_for(conn, state.revision),  # the revision workflow_state just read
        payload={
            "action_id": action_id,
            "tool": request.tool,
            "effect": effect,
            "decision": decision.outcome,
            "reason": decision.reason,
            "rule": decision.rule,
            "autonomy": decision.autonomy,
            "confidence": request.confidence,
            "args": request.args,
            "approval_id": approval_id,
            "fallback": decision.fallback,
            "versions": request.versions,
        },
    )
    conn.execute(
        _INSERT_ACTION,
        {
            "id": action_id,
            "workflow": request.workflow,
            "tool": request.tool,
            "effect": effect,
            "run_id": request.run_id,
            "actor": request.actor,
            "outcome": decision.outcome,
            "rule": decision.rule,
            "reason": decision.reason,
            "approval_id": approval_id,
            "args": request.args,
            "versions": request.versions,
            "confidence": request.confidence,
            "before": request.before,
            "decided_at": now,
            "status": STATUS_BY_OUTCOME[decision.outcome],
            "ledger_index": index,
        },
    )
    if approval_id is not None:
        ttl = (
            timedelta(seconds=request.approval_ttl_seconds)
            if request.approval_ttl_seconds
            else DEFAULT_APPROVAL_TTL
        )
        request_approval(
            conn,
            approval_id=approval_id,
            action_id=action_id,
            request=request,
            decision=decision,
            expires_at=now + ttl,
            now=now,
        )
    return ActionDecision(
        action_id=action_id,
        outcome=decision.outcome,
        reason=decision.reason,
        rule=decision.rule,
        fallback=decision.fallback,
        approval_id=approval_id,
        ledger_index=index,
    )


_a = control_actions.c
_FINISH = (
    control_actions.update()
    .where(_a.id == sa.bindparam("action_id"), _a.status.not_in(("succeeded", "failed")))
    .values(
        status=sa.bindparam("status"),
        finished_at=sa.bindparam("finished_at"),
        result=sa.bindparam("result", type_=_a.result.type),
        error=sa.bindparam("error"),
        after=sa.bindparam("after", type_=_a.after.type),
        undo=sa.bindparam("undo"),
    )
    .returning(_a.workflow, _a.tool, _a.run_id)
)


def record_outcome(conn: Connection, outcome: ActionOutcome, *, now: datetime) -> str | None:
    """Record what the tool did and its undo; returns why the circuit breaker tripped, if it did."""
    row = conn.execute(
        _FINISH,
        {
            "action_id": outcome.action_id,
            "status": "succeeded" if outcome.ok else "failed",
            "finished_at": now,
            "result": outcome.result,
            "error": outcome.error,
            "after": outcome.after,
            "undo": outcome.undo,
        },
    ).first()
    if row is None:
        known = conn.execute(sa.select(_a.id).where(_a.id == outcome.action_id)).first()
        if known is None:
            raise ControlError(
                f"no action '{outcome.action_id}'; outcomes are recorded against a decided action"
            )
        return None  # a retried delivery of an outcome already recorded
    emit(
        conn,
        kind="action_outcome",
        actor=outcome.actor,
        workflow=row.workflow,
        run_id=row.run_id,
        now=now,
        payload={
            "action_id": outcome.action_id,
            "tool": row.tool,
            "ok": outcome.ok,
            "result": outcome.result,
            "error": outcome.error,
            "undo": outcome.undo,
        },
    )
    if outcome.ok:
        return None  # only failures can trip the breaker
    policy = policies(conn, current_revision(conn)).get(row.workflow)
    if policy is None or policy.breaker is None:
        return None
    why = _breaker_check(conn, policy, now=now)
    if why is not None:
        trip_breaker(conn, workflow=row.workflow, why=why, now=now)
    return why


def _breaker_check(conn: Connection, policy: WorkflowPolicy, *, now: datetime) -> str | None:
    breaker = policy.breaker
    assert breaker is not None
    t = control_actions.c
    done = sa.and_(t.workflow == policy.id, t.status.in_(("succeeded", "failed")))
    recent_ok: list[bool] = []
    if breaker.consecutive_failures:
        recent = conn.execute(
            sa.select(t.status).where(done).order_by(t.finished_at.desc()).limit(breaker.consecutive_failures)
        ).scalars()
        recent_ok = [status == "succeeded" for status in recent]
    calls = errors = 0
    if breaker.error_rate is not None and breaker.window_seconds:
        since = now - timedelta(seconds=breaker.window_seconds)
        counts = conn.execute(
            sa.select(t.status, sa.func.count()).where(done, t.finished_at >= since).group_by(t.status)
        ).all()
        for status, count in counts:
            calls += count
            errors += count if status == "failed" else 0
    return breaker_verdict(policy, recent_ok=recent_ok, window_calls=calls, window_errors=errors)
