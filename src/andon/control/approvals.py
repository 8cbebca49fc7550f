"""Approvals: a held action becomes a request with the context a person needs to say no.

Approve, reject (with a reason) or edit-and-approve; the requester can never approve its own action;
requests expire. The agent resumes with ``claim_approval``, which hands back the (possibly edited)
arguments exactly once. Quality signals (time to decide, decisions per person per hour) come from
``approval_stats``.
"""

from __future__ import annotations

import statistics
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.decide import Action, decide
from andon.control.journal import emit
from andon.control.snapshot import workflow_state
from andon.errors import ApprovalPending, ControlError, Denied
from andon.store.tables import control_actions, control_approvals

if TYPE_CHECKING:  # pragma: no cover
    from andon.control.actions import ActionRequest
    from andon.control.decide import Decision

SIMILAR_LIMIT = 5


@dataclass(frozen=True, slots=True)
class Approval:
    id: str
    action_id: str
    workflow: str
    tool: str
    requester: str
    rule: str
    reason: str
    context: dict[str, Any]
    status: str  # pending | approved | rejected | expired | executed
    created_at: datetime
    expires_at: datetime
    args: dict[str, Any]
    decided_at: datetime | None = None
    decided_by: str | None = None
    decision_reason: str | None = None
    edited_args: dict[str, Any] | None = None
    executed_at: datetime | None = None
    similar: tuple[dict[str, Any], ...] = ()

    @property
    def effective_args(self) -> dict[str, Any]:
        """The arguments the tool runs with: the approver's edit when there is one."""
        return self.edited_args if self.edited_args is not None else self.args

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        for name in ("created_at", "expires_at", "decided_at", "executed_at"):
            value = data[name]
            data[name] = value.isoformat() if value is not None else None
        data["similar"] = list(self.similar)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Approval:
        values = dict(data)
        for name in ("created_at", "expires_at", "decided_at", "executed_at"):
            if values.get(name) is not None:
                values[name] = datetime.fromisoformat(values[name])
        values["similar"] = tuple(values.get("similar") or ())
        return cls(**values)


def _from_row(row: Any, args: dict[str, Any], *, now: datetime | None) -> Approval:
    status = row.status
    if status == "pending" and now is not None and row.expires_at <= now:
        status = "expired"
    return Approval(
        id=row.id,
        action_id=row.action_id,
        workflow=row.workflow,
        tool=row.tool,
        requester=row.requester,
        rule=row.rule,
        reason=row.reason,
        context=row.context,
        status=status,
        created_at=row.created_at,
        expires_at=row.expires_at,
        args=args,
        decided_at=row.decided_at,
        decided_by=row.decided_by,
        decision_reason=row.decision_reason,
        edited_args=row.edited_args,
        executed_at=row.executed_at,
    )


def _select() -> sa.Select[Any]:
    return sa.select(control_approvals, control_actions.c.args.label("action_args")).join(
        control_actions, control_actions.c.id == control_approvals.c.action_id
    )


def new_approval_id() -> str:
    return f"apr-{uuid.uuid4().hex[:20]}"


def request_approval(
    conn: Connection,
    *,
    approval_id: str,
    action_id: str,
    request: ActionRequest,
    decision: Decision,
    expires_at: datetime,
    now: datetime,
) -> Approval:
    """Open an approval request for a held action (called inside decide_action's transaction)."""
    context = {
        **request.context,
        "args": request.args,
        "confidence": request.confidence,
        "change": {"before": request.before, "after": request.args},
        "versions": request.versions,
        "autonomy": decision.autonomy,
    }
    conn.execute(
        control_approvals.insert().values(
            id=approval_id,
            action_id=action_id,
            workflow=request.workflow,
            tool=request.tool,
            requester=request.actor,
            rule=decision.rule,
            reason=decision.reason,
            context=context,
            status="pending",
            created_at=now,
            expires_at=expires_at,
        )
    )
    emit(
        conn,
        kind="approval",
        actor=request.actor,
        workflow=request.workflow,
        run_id=request.run_id,
        now=now,
        payload={
            "approval_id": approval_id,
            "action_id": action_id,
            "approver": None,
            "decision": "requested",
            "reason": decision.reason,
            "rule": decision.rule,
            "expires_at": expires_at.isoformat(),
        },
    )
    return get_approval(conn, approval_id, now=now, similar=False)


def get_approval(conn: Connection, approval_id: str, *, now: datetime, similar: bool = True) -> Approval:
    """One approval with its full context and, by default, similar past decisions."""
    row = conn.execute(_select().where(control_approvals.c.id == approval_id)).first()
    if row is None:
        raise ControlError(f"no approval '{approval_id}'; `andon approvals list` shows the waiting ones")
    approval = _from_row(row, row.action_args, now=now)
    if not similar:
        return approval
    return Approval(**{**_fields(approval), "similar": tuple(similar_decisions(conn, approval))})


def _fields(approval: Approval) -> dict[str, Any]:
    return {name: getattr(approval, name) for name in Approval.__dataclass_fields__}


def similar_decisions(
    conn: Connection, approval: Approval, *, limit: int = SIMILAR_LIMIT
) -> list[dict[str, Any]]:
    """Recent decided requests for the same workflow and tool: what people said last time."""
    t = control_approvals.c
    rows = conn.execute(
        _select()
        .where(
            t.workflow == approval.workflow,
            t.tool == approval.tool,
            t.id != approval.id,
            t.decided_at.is_not(None),
        )
        .order_by(t.decided_at.desc())
        .limit(limit)
    ).all()
    return [
        {
            "approval_id": row.id,
            "status": row.status,
            "decided_by": row.decided_by,
            "decided_at": row.decided_at.isoformat(),
            "reason": row.decision_reason,
            "args": row.action_args,
            "confidence": (row.context or {}).get("confidence"),
        }
        for row in rows
    ]


def list_approvals(
    conn: Connection, *, now: datetime, workflow: str | None = None, status: str | None = "pending"
) -> list[Approval]:
    """Approvals, oldest first; ``status`` None lists every one. Expired requests show as expired."""
    t = control_approvals.c
    query = _select()
    if workflow is not None:
        query = query.where(t.workflow == workflow)
    if status == "pending":
        query = query.where(t.status == "pending", t.expires_at > now)
    elif status == "expired":
        query = query.where(
            sa.or_(t.status == "expired", sa.and_(t.status == "pending", t.expires_at <= now))
        )
    elif status is not None:
        query = query.where(t.status == status)
    rows = conn.execute(query.order_by(t.created_at)).all()
    return [_from_row(row, row.action_args, now=now) for row in rows]


def decide_approval(
    conn: Connection,
    approval_id: str,
    *,
    actor: str,
    approve: bool,
    reason: str,
    now: datetime,
    edited_args: dict[str, Any] | None = None,
) -> Approval:
    """Approve or reject a waiting request. The requester may not decide its own; rejections need a reason."""
    approval = get_approval(conn, approval_id, now=now, similar=False)
    if approval.status == "expired":
        _expire(conn, approval, now=now)
        raise ControlError(
            f"approval '{approval_id}' expired at {approval.expires_at.isoformat()}; nothing was run"
        )
    if approval.status != "pending":
        raise ControlError(
            f"approval '{approval_id}' is already {approval.status} by {approval.decided_by} "
            f"at {approval.decided_at.isoformat() if approval.decided_at else '?'}"
        )
    if actor == approval.requester:
        raise ControlError(
            f"'{actor}' requested this action and cannot approve or reject it; another person must decide"
        )
    if not approve and not reason.strip():
        raise ControlError("a rejection needs a reason (the agent and the audit trail both see it)")
    if edited_args is not None and not approve:
        raise ControlError("edited arguments only make sense when approving")
    status = "approved" if approve else "rejected"
    t = control_approvals.c
    updated = conn.execute(
        control_approvals.update()
        .where(t.id == approval_id, t.status == "pending")
        .values(
            status=status, decided_at=now, decided_by=actor, decision_reason=reason, edited_args=edited_args
        )
    )
    if updated.rowcount != 1:  # decided by someone else between our read and our write
        raise ControlError(f"approval '{approval_id}' was decided by someone else just now; reload it")
    conn.execute(
        control_actions.update().where(control_actions.c.id == approval.action_id).values(status=status)
    )
    emit(
        conn,
        kind="approval",
        actor=actor,
        workflow=approval.workflow,
        now=now,
        payload={
            "approval_id": approval_id,
            "action_id": approval.action_id,
            "approver": actor,
            "decision": "edited_and_approved" if edited_args is not None else status,
            "reason": reason,
            "edited_args": edited_args,
            "seconds_to_decide": round((now - approval.created_at).total_seconds(), 3),
        },
    )
    return get_approval(conn, approval_id, now=now, similar=False)


def _expire(conn: Connection, approval: Approval, *, now: datetime) -> None:
    t = control_approvals.c
    done = conn.execute(
        control_approvals.update().where(t.id == approval.id, t.status == "pending").values(status="expired")
    )
    if done.rowcount == 1:
        conn.execute(
            control_actions.update()
            .where(control_actions.c.id == approval.action_id)
            .values(status="expired")
        )
        emit(
            conn,
            kind="approval",
            actor="andon",
            workflow=approval.workflow,
            now=now,
            payload={"approval_id": approval.id, "action_id": approval.action_id, "decision": "expired"},
        )


def claim_approval(conn: Connection, approval_id: str, *, actor: str, now: datetime) -> Approval:
    """Hand an approved action to the agent to run, exactly once.

    Raises ApprovalPending while it waits, Denied when rejected or expired, ControlError when already run.
    """
    approval = get_approval(conn, approval_id, now=now, similar=False)
    if approval.status == "pending":
        raise ApprovalPending(approval_id, rule=approval.rule, reason=approval.reason)
    if approval.status == "expired":
        _expire(conn, approval, now=now)
        raise Denied(f"approval {approval_id} expired before anyone decided", rule="approval_expired")
    if approval.status == "rejected":
        raise Denied(
            f"rejected by {approval.decided_by}: {approval.decision_reason}", rule="approval_rejected"
        )
    if approval.status == "executed":
        raise ControlError(
            f"approval '{approval_id}' was already used at {approval.executed_at}; it runs once"
        )
    # An approval is not a way around a stop pulled since: switches and autonomy caps apply at run time
    # too. The approval stays usable once the stop is lifted.
    state = workflow_state(conn, approval.workflow, now=now)
    now_says = decide(state, Action(approval.workflow, approval.tool, confidence=1.0), now=now.timestamp())
    if now_says.outcome in ("deny", "simulate"):
        raise Denied(
            f"approved, but not now: {now_says.reason}", rule=now_says.rule, fallback=now_says.fallback
        )
    t = control_approvals.c
    claimed = conn.execute(
        control_approvals.update()
        .where(t.id == approval_id, t.status == "approved")
        .values(status="executed", executed_at=now)
    )
    if claimed.rowcount != 1:
        raise ControlError(f"approval '{approval_id}' was used by another process just now; it runs once")
    conn.execute(
        control_actions.update()
        .where(control_actions.c.id == approval.action_id)
        .values(status="allowed", args=approval.effective_args)
    )
    return get_approval(conn, approval_id, now=now, similar=False)


@dataclass(frozen=True, slots=True)
class ApproverStats:
    """How one person decides: volume, speed, and the busiest hour (rubber-stamping shows here)."""

    approver: str
    decisions: int
    approved: int
    rejected: int
    median_seconds_to_decide: float
    per_hour: float  # decisions per hour in which they decided anything
    max_in_one_hour: int

    def as_dict(self) -> dict[str, Any]:
        return asdict(self)


def approval_stats(conn: Connection, *, since: datetime) -> list[ApproverStats]:
    """Approval quality signals per approver for decisions made since ``since``."""
    t = control_approvals.c
    rows = conn.execute(
        sa.select(t.decided_by, t.status, t.created_at, t.decided_at).where(
            t.decided_at.is_not(None), t.decided_at >= since
        )
    ).all()
    by_person: dict[str, list[Any]] = {}
    for row in rows:
        by_person.setdefault(row.decided_by, []).append(row)
    stats = []
    for person, decided in sorted(by_person.items()):
        hours: dict[str, int] = {}
        for row in decided:
            bucket = row.decided_at.strftime("%Y-%m-%dT%H")
            hours[bucket] = hours.get(bucket, 0) + 1
        approved = sum(1 for row in decided if row.status in ("approved", "executed"))
        stats.append(
            ApproverStats(
                approver=person,
                decisions=len(decided),
                approved=approved,
                rejected=sum(1 for row in decided if row.status == "rejected"),
                median_seconds_to_decide=statistics.median(
                    (row.decided_at - row.created_at).total_seconds() for row in decided
                ),
                per_hour=len(decided) / len(hours),
                max_in_one_hour=max(hours.values()),
            )
        )
    return stats
