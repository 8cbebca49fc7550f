"""The guarded path of one action that changes things: decide and record in one transaction, then outcome.

``decide_action`` reads the workflow's policy and switches, locks and debits the rate buckets, records
the action row, opens an approval when held, and appends the ``decision`` event — all in the caller's
transaction, so a decision exists in the ledger before the tool runs and limits never overshoot.
``decide_actions`` does the same for many actions in order (the server's group commit), with one
bucket lock and one ledger append for all of them.
"""

from __future__ import annotations

import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field, fields, replace
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.approvals import new_approval_id, request_approval
from andon.control.decide import Action, decide
from andon.control.journal import emit
from andon.control.limits import Bucket, Limit, breaker_verdict, level, limits_for
from andon.control.redaction import redactor_for
from andon.control.snapshot import current_revision, policies, workflow_state
from andon.control.state import ControlState, WorkflowPolicy
from andon.control.switches import trip_breaker
from andon.errors import ControlError
from andon.ledger.canonical import format_time
from andon.ledger.events import Event
from andon.ledger.log import append
from andon.store.dialect import bulk_insert
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

    def __reduce__(self) -> tuple[type[ActionRequest], tuple[Any, ...]]:
        # Pickled as its fields in order (the server hands every decision to its writer process):
        # a third of the time of the default for a frozen dataclass with slots.
        return ActionRequest, tuple(getattr(self, name) for name in _REQUEST_FIELDS)


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
        # Every field is a plain value, so no deep copy (asdict) is needed; this is on the hot path.
        return {name: getattr(self, name) for name in _DECISION_FIELDS}

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> ActionDecision:
        return cls(**data)

    def __reduce__(self) -> tuple[type[ActionDecision], tuple[Any, ...]]:
        return ActionDecision, tuple(getattr(self, name) for name in _DECISION_FIELDS)  # as ActionRequest


_REQUEST_FIELDS = tuple(f.name for f in fields(ActionRequest))
_DECISION_FIELDS = tuple(f.name for f in fields(ActionDecision))


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


def new_action_id() -> str:
    """``act-`` and 32 hex digits: the time in milliseconds (12), then 80 random bits.

    Time-ordered, as UUIDv7 is: a new action row's id lands at the end of the id index, where a
    random id dirtied a different index page per row (on SQLite, a page written to the WAL per row
    of every batch)."""
    return f"act-{time.time_ns() // 1_000_000:012x}{secrets.token_hex(10)}"


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
# Action rows go to the driver as they are (dialect.bulk_insert): per-row SQLAlchemy processing of
# the JSON and time columns cost more than the rest of a decision's recording.
_ACTION_COLUMNS = (
    "id", "workflow", "tool", "effect", "run_id", "actor", "outcome", "rule", "reason", "approval_id",
    "args", "versions", "confidence", "before", "decided_at", "status", "ledger_index",
)  # fmt: skip


def decide_action(conn: Connection, request: ActionRequest, *, now: datetime) -> ActionDecision:
    """Decide one proposed action and record it (action row, approval if held, ledger event)."""
    return decide_actions(conn, [request], now=now)[0]


def decide_actions(
    conn: Connection, requests: Sequence[ActionRequest], *, now: datetime
) -> list[ActionDecision]:
    """Decide proposed actions in order and record them, as ``decide_action`` one after another would.

    Each decision sees the reservations of those before it. What does not depend on a single decision
    is done once for all of them: the bucket rows are locked in one read (in key order, so two
    writers never deadlock), and the ``decision`` events go to the ledger in one append, after which
    the action rows are inserted with their leaf indexes. A hold or a tripped breaker first writes
    what is pending, so the ledger holds the events in the order one-by-one decisions would give.
    """
    batch = _Batch(conn, now)
    wanted = [batch.limits_wanted(request) for request in requests]
    batch.lock_buckets([limit for limits in wanted for limit in limits])
    for request, limits in zip(requests, wanted, strict=True):
        batch.decide(request, limits)
    batch.flush()
    return batch.done


@dataclass(slots=True)
class _Pending:
    decision: ActionDecision  # its ledger_index is filled in by the append
    event: Event
    row: tuple[Any, ...]  # _ACTION_COLUMNS but the last


class _Batch:
    """One ``decide_actions`` call: the control state read, the buckets locked, records not yet written."""

    def __init__(self, conn: Connection, now: datetime) -> None:
        self.conn = conn
        self.now = now
        self.ts = now.timestamp()
        self.time = format_time(now)  # how the store keeps a time (UTCDateTime on SQLite, COPY on PostgreSQL)
        self.states: dict[str, ControlState] = {}
        self.buckets: dict[str, Bucket | None] = {}  # locked in this transaction
        self.debited: dict[str, Bucket] = {}  # written back at the next flush
        self.pending: list[_Pending] = []
        self.revision: int | None = None  # the runbook revision whose redaction rules mask ``pending``
        self.tripped = False  # a breaker tripped: the state (and so each action's limits) is read anew
        self.done: list[ActionDecision] = []

    def state(self, workflow: str) -> ControlState:
        found = self.states.get(workflow)
        if found is None:
            found = self.states[workflow] = workflow_state(self.conn, workflow, now=self.now)
        return found

    def limits_wanted(self, request: ActionRequest) -> tuple[Limit, ...]:
        """The buckets ``request`` draws from if it could be allowed or held (a stop needs no lock)."""
        state = self.state(request.workflow)
        policy = state.workflows.get(request.workflow)
        tool_policy = policy.tools.get(request.tool) if policy else None
        if policy is None or tool_policy is None or not tool_policy.changes_things:
            return ()
        preview = decide(
            state, Action(request.workflow, request.tool, confidence=request.confidence), now=self.ts
        )
        return limits_for(policy, request.tool) if preview.outcome in ("allow", "hold") else ()

    def lock_buckets(self, limits: Sequence[Limit]) -> None:
        """Lock the bucket rows of ``limits`` not locked yet, creating missing ones full."""
        rates = {limit.key: limit.rate for limit in limits if limit.key not in self.buckets}
        if not rates:
            return
        keys = sorted(rates)  # one lock order for every writer: no deadlocks
        rows = {
            row.key: Bucket(row.tokens, row.updated)
            for row in self.conn.execute(_LOCK_BUCKETS, {"keys": keys})
        }
        missing = [key for key in keys if key not in rows]
        for key in missing:
            try:
                with self.conn.begin_nested():
                    self.conn.execute(
                        control_buckets.insert().values(
                            key=key, tokens=float(rates[key].count), updated=self.ts
                        )
                    )
            except sa.exc.IntegrityError:
                pass  # another writer created it first; the locked read below sees theirs
        if missing:
            rows = {
                row.key: Bucket(row.tokens, row.updated)
                for row in self.conn.execute(_LOCK_BUCKETS, {"keys": keys})
            }
        for key in keys:
            self.buckets[key] = rows.get(key)

    def decide(self, request: ActionRequest, wanted: tuple[Limit, ...]) -> None:
        """Decide ``request``; ``wanted`` is its ``limits_wanted`` from before the batch's bucket lock."""
        state = self.state(request.workflow)
        policy = state.workflows.get(request.workflow)
        tool_policy = policy.tools.get(request.tool) if policy else None
        if self.tripped:
            wanted = self.limits_wanted(request)  # the pause a breaker pulled may stop it now
        tokens: dict[str, float] | None = None
        if wanted:
            self.lock_buckets(wanted)  # nothing new unless a breaker tripped since the batch began
            tokens = {limit.key: level(self.buckets[limit.key], limit.rate, self.ts) for limit in wanted}
        action = Action(request.workflow, request.tool, confidence=request.confidence)
        decision = decide(state, action, now=self.ts, tokens=tokens)
        if tokens is not None:
            for key in decision.debit:
                self.buckets[key] = self.debited[key] = Bucket(tokens[key] - 1.0, self.ts)
        if decision.trip:
            self.flush()  # the breaker's events follow the decisions before this one
            trip_breaker(self.conn, workflow=request.workflow, why=decision.trip, now=self.now)
            self.states.clear()  # the pause it pulled is in force from the next decision on
            self.tripped = True
        if self.pending and self.revision != state.revision:
            self.flush()  # one append masks with one revision's rules
        self.revision = state.revision

        action_id = new_action_id()
        approval_id = new_approval_id() if decision.outcome == "hold" else None
        effect = tool_policy.effect if tool_policy else "unknown"
        event = Event(
            kind="decision",
            actor=request.actor,
            workflow=request.workflow,
            run_id=request.run_id,
            time=self.now,
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
        # In the columns' stored form (see _ACTION_COLUMNS); the ledger index is added by flush.
        row = (
            action_id,
            request.workflow,
            request.tool,
            effect,
            request.run_id,
            request.actor,
            decision.outcome,
            decision.rule,
            decision.reason,
            approval_id,
            json.dumps(request.args),
            json.dumps(request.versions),
            request.confidence,
            json.dumps(request.before),  # as SQLAlchemy's JSON type stores None: the JSON null
            self.time,
            STATUS_BY_OUTCOME[decision.outcome],
        )
        answer = ActionDecision(
            action_id=action_id,
            outcome=decision.outcome,
            reason=decision.reason,
            rule=decision.rule,
            fallback=decision.fallback,
            approval_id=approval_id,
        )
        self.pending.append(_Pending(answer, event, row))
        if approval_id is not None:
            self.flush()  # the approval refers to the action row and its event follows the decision
            ttl = (
                timedelta(seconds=request.approval_ttl_seconds)
                if request.approval_ttl_seconds
                else DEFAULT_APPROVAL_TTL
            )
            request_approval(
                self.conn,
                approval_id=approval_id,
                action_id=action_id,
                request=request,
                decision=decision,
                expires_at=self.now + ttl,
                now=self.now,
            )

    def flush(self) -> None:
        """Write the debited buckets, append the pending decision events, insert their action rows."""
        if self.debited:
            rows = [{"k": key, "t": b.tokens, "u": b.updated} for key, b in sorted(self.debited.items())]
            self.conn.execute(_DEBIT, rows)
            self.debited.clear()
        if not self.pending:
            return
        redactor = redactor_for(self.conn, self.revision)
        indexes = append(self.conn, [p.event for p in self.pending], redactor=redactor)
        actions = []
        for pending, index in zip(self.pending, indexes, strict=True):
            actions.append((*pending.row, index))
            self.done.append(replace(pending.decision, ledger_index=index))
        bulk_insert(self.conn, "control_actions", _ACTION_COLUMNS, actions)
        self.pending.clear()


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
