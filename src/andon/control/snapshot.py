"""Reading the control state out of the store: the applied runbook, switches in force, the epoch.

Compiling a runbook revision costs a pydantic validation, so compiled policies are cached per revision
(revisions are immutable). Everything else is read fresh inside the caller's transaction.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.state import ControlState, Switch, WorkflowPolicy, compile_document
from andon.store.tables import control_epoch, control_switches, runbook_revisions

_compiled: dict[int, Mapping[str, WorkflowPolicy]] = {}
_compiled_lock = threading.Lock()


def current_revision(conn: Connection) -> int | None:
    """The newest applied runbook revision, or None before the first ``andon apply``."""
    value = conn.execute(sa.select(sa.func.max(runbook_revisions.c.revision))).scalar()
    return int(value) if value is not None else None


def policies(conn: Connection, revision: int | None) -> Mapping[str, WorkflowPolicy]:
    """Compiled workflow policies of ``revision`` (cached; revisions never change)."""
    if revision is None:
        return {}
    cached = _compiled.get(revision)
    if cached is not None:
        return cached
    document = conn.execute(
        sa.select(runbook_revisions.c.document).where(runbook_revisions.c.revision == revision)
    ).scalar_one()
    compiled = compile_document(document)
    with _compiled_lock:
        if len(_compiled) > 64:  # one process rarely sees many revisions; keep the newest few
            _compiled.pop(min(_compiled))
        _compiled[revision] = compiled
    return compiled


def switch_from_row(row: Any) -> Switch:
    return Switch(
        id=row.id,
        kind=row.kind,
        workflow=row.workflow,
        target=row.target,
        actor=row.actor,
        reason=row.reason,
        created_at=row.created_at,
        expires_at=row.expires_at,
        expires_ts=row.expires_at.timestamp() if row.expires_at else None,
    )


def active_switches(conn: Connection, *, now: datetime, workflow: str | None = None) -> list[Switch]:
    """Switches not cleared and not expired; with ``workflow``, those that apply to it."""
    t = control_switches.c
    query = sa.select(control_switches).where(
        t.cleared_at.is_(None), sa.or_(t.expires_at.is_(None), t.expires_at > now)
    )
    if workflow is not None:
        query = query.where(sa.or_(t.workflow == workflow, t.workflow.is_(None)))
    rows = conn.execute(query.order_by(t.created_at)).all()
    return [switch_from_row(row) for row in rows]


def read_epoch(conn: Connection) -> int:
    return int(conn.execute(sa.select(control_epoch.c.epoch).where(control_epoch.c.id == 1)).scalar_one())


def bump_epoch(conn: Connection) -> int:
    """Mark a control change so clients holding a copy of the state reload it."""
    conn.execute(
        control_epoch.update().where(control_epoch.c.id == 1).values(epoch=control_epoch.c.epoch + 1)
    )
    return read_epoch(conn)


def load_state(conn: Connection, *, now: datetime | None = None) -> ControlState:
    """The whole control state as of now: every workflow, every switch in force."""
    revision = current_revision(conn)
    return ControlState(
        workflows=policies(conn, revision),
        switches=tuple(active_switches(conn, now=now or datetime.now(UTC))),
        revision=revision,
        epoch=read_epoch(conn),
    )


def workflow_state(conn: Connection, workflow: str, *, now: datetime) -> ControlState:
    """The control state restricted to one workflow: what a write decision needs, read in its transaction."""
    revision = current_revision(conn)
    compiled = policies(conn, revision)
    policy = compiled.get(workflow)
    return ControlState(
        workflows={workflow: policy} if policy is not None else {},
        switches=tuple(active_switches(conn, now=now, workflow=workflow)),
        revision=revision,
    )
