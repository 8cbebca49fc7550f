"""Rollback, store side: choose the executed actions to undo, and record each undo's result.

The undos themselves run where the compensating calls are registered (the SDK, or ``andon rollback
run --tools module:andon``): this module plans (newest first, dry run by default) and records, once per
action, whether it was rolled back, was a conflict (the record changed since the agent wrote it), or failed.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.journal import emit
from andon.errors import ControlError
from andon.store.tables import control_actions

ROLLBACK_OUTCOMES = {
    "rolled_back": "rolled_back",
    "conflict": "rollback_conflict",
    "failed": "rollback_failed",
}
UNDONE = frozenset({"rolled_back"})


@dataclass(frozen=True, slots=True)
class Selection:
    """Which executed actions a rollback covers; every given field narrows the choice."""

    workflow: str | None = None
    since: datetime | None = None
    until: datetime | None = None
    version: str | None = None  # a version id or ref (prompt:triage-system@v4) the action was made under
    run_id: str | None = None
    action_ids: tuple[str, ...] = ()
    include_conflicts: bool = False  # retry actions an earlier run reported as conflicts or failures

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["since"] = self.since.isoformat() if self.since else None
        data["until"] = self.until.isoformat() if self.until else None
        data["action_ids"] = list(self.action_ids)
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Selection:
        values = dict(data)
        for name in ("since", "until"):
            if values.get(name):
                values[name] = datetime.fromisoformat(values[name])
        values["action_ids"] = tuple(values.get("action_ids") or ())
        return cls(**values)


@dataclass(frozen=True, slots=True)
class PlanItem:
    """One action a rollback would undo, with what it needs to undo it and to spot a conflict."""

    action_id: str
    workflow: str
    tool: str
    effect: str
    args: dict[str, Any]
    before: Any
    after: Any
    result: Any
    undo: str | None
    finished_at: datetime
    versions: dict[str, str] = field(default_factory=dict)
    status: str = "succeeded"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["finished_at"] = self.finished_at.isoformat()
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> PlanItem:
        values = dict(data)
        values["finished_at"] = datetime.fromisoformat(values["finished_at"])
        return cls(**values)


def plan(conn: Connection, selection: Selection) -> list[PlanItem]:
    """Executed actions that change things and match ``selection``, newest first (the undo order)."""
    t = control_actions.c
    statuses = ["succeeded"]
    if selection.include_conflicts:
        statuses += ["rollback_conflict", "rollback_failed"]
    query = sa.select(control_actions).where(t.status.in_(statuses), t.effect != "read")
    if selection.workflow is None and selection.run_id is None and not selection.action_ids:
        raise ControlError("a rollback needs a workflow, a run or action ids; it never covers everything")
    if selection.workflow is not None:
        query = query.where(t.workflow == selection.workflow)
    if selection.run_id is not None:
        query = query.where(t.run_id == selection.run_id)
    if selection.action_ids:
        query = query.where(t.id.in_(selection.action_ids))
    if selection.since is not None:
        query = query.where(t.finished_at >= selection.since)
    if selection.until is not None:
        query = query.where(t.finished_at < selection.until)
    rows = conn.execute(query.order_by(t.finished_at.desc(), t.id.desc())).all()
    items = [
        PlanItem(
            action_id=row.id,
            workflow=row.workflow,
            tool=row.tool,
            effect=row.effect,
            args=row.args,
            before=row.before,
            after=row.after,
            result=row.result,
            undo=row.undo,
            finished_at=row.finished_at,
            versions=row.versions or {},
            status=row.status,
        )
        for row in rows
    ]
    if selection.version is not None:
        # Versions are a small JSON map per action; filtering here keeps the query the same on both stores.
        items = [item for item in items if selection.version in item.versions.values()]
    return items


def record_undo(
    conn: Connection,
    *,
    action_id: str,
    outcome: str,
    actor: str,
    reason: str,
    now: datetime,
    detail: Any = None,
) -> bool:
    """Record one undo's result; False (and nothing written) if the action was already rolled back."""
    if outcome not in ROLLBACK_OUTCOMES:
        raise ControlError(
            f"rollback outcome '{outcome}' is unknown; use one of: {', '.join(ROLLBACK_OUTCOMES)}"
        )
    t = control_actions.c
    row = conn.execute(sa.select(t.workflow, t.tool, t.run_id, t.status).where(t.id == action_id)).first()
    if row is None:
        raise ControlError(f"no action '{action_id}'")
    values: dict[str, Any] = {"status": ROLLBACK_OUTCOMES[outcome]}
    if outcome == "rolled_back":
        values.update(rolled_back_at=now, rolled_back_by=actor)
    done = conn.execute(
        control_actions.update().where(t.id == action_id, t.status != "rolled_back").values(**values)
    )
    if done.rowcount != 1:
        return False
    emit(
        conn,
        kind="control_change",
        actor=actor,
        workflow=row.workflow,
        run_id=row.run_id,
        now=now,
        payload={
            "change": "rollback",
            "action_id": action_id,
            "tool": row.tool,
            "outcome": outcome,
            "who": actor,
            "why": reason,
            "detail": detail,
        },
    )
    return True
