"""Reading the control state out of the store: the applied runbook, switches in force, the epoch.

Compiling a runbook revision costs a pydantic validation, so compiled policies are cached per revision
(revisions are immutable). Everything else is read fresh inside the caller's transaction.
"""

from __future__ import annotations

import threading
import weakref
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from andon.control.state import ControlState, Switch, WorkflowPolicy, compile_document
from andon.store.dialect import CONTROL_CHANNEL, notify
from andon.store.tables import control_epoch, control_switches, runbook_revisions

# Caches are per engine: two stores in one process (tests, a server with schemas) never share entries.
_compiled: weakref.WeakKeyDictionary[Engine, dict[int, Mapping[str, WorkflowPolicy]]] = (
    weakref.WeakKeyDictionary()
)
_compiled_lock = threading.Lock()


# Built once: the decision path runs these on every write, and building a statement costs more than
# running it on SQLite.
_REVISION = sa.select(sa.func.max(runbook_revisions.c.revision))
_sw = control_switches.c
_ACTIVE = sa.or_(_sw.expires_at.is_(None), _sw.expires_at > sa.bindparam("now", type_=_sw.expires_at.type))
_SWITCHES_FOR = (
    sa.select(control_switches)
    .where(
        _sw.cleared_at.is_(None),
        _ACTIVE,
        sa.or_(_sw.workflow == sa.bindparam("workflow"), _sw.workflow.is_(None)),
    )
    .order_by(_sw.created_at)
)


def current_revision(conn: Connection) -> int | None:
    """The newest applied runbook revision, or None before the first ``andon apply``."""
    value = conn.execute(_REVISION).scalar()
    return int(value) if value is not None else None


def policies(conn: Connection, revision: int | None) -> Mapping[str, WorkflowPolicy]:
    """Compiled workflow policies of ``revision`` (cached; revisions never change)."""
    if revision is None:
        return {}
    per_engine = _compiled.get(conn.engine)
    cached = per_engine.get(revision) if per_engine is not None else None
    if cached is not None:
        return cached
    document = conn.execute(
        sa.select(runbook_revisions.c.document).where(runbook_revisions.c.revision == revision)
    ).scalar_one()
    compiled = compile_document(document)
    with _compiled_lock:
        per_engine = _compiled.setdefault(conn.engine, {})
        if len(per_engine) > 64:  # one process rarely sees many revisions; keep the newest few
            per_engine.pop(min(per_engine))
        per_engine[revision] = compiled
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
    if workflow is not None:
        rows = conn.execute(_SWITCHES_FOR, {"now": now, "workflow": workflow}).all()
    else:
        query = sa.select(control_switches).where(_sw.cleared_at.is_(None), _ACTIVE).order_by(_sw.created_at)
        rows = conn.execute(query, {"now": now}).all()
    return [switch_from_row(row) for row in rows]


def read_epoch(conn: Connection) -> int:
    return int(conn.execute(sa.select(control_epoch.c.epoch).where(control_epoch.c.id == 1)).scalar_one())


def bump_epoch(conn: Connection) -> int:
    """Mark a control change so clients holding a copy of the state reload it."""
    conn.execute(
        control_epoch.update().where(control_epoch.c.id == 1).values(epoch=control_epoch.c.epoch + 1)
    )
    epoch = read_epoch(conn)
    # Servers on PostgreSQL LISTEN on this channel to push the change to their SSE clients at once;
    # the notification is delivered when (and only if) this transaction commits.
    notify(conn, CONTROL_CHANNEL, str(epoch))
    return epoch


def load_state(conn: Connection, *, now: datetime | None = None) -> ControlState:
    """The whole control state as of now: every workflow, every switch in force."""
    revision = current_revision(conn)
    document = None
    if revision is not None:
        document = conn.execute(
            sa.select(runbook_revisions.c.document).where(runbook_revisions.c.revision == revision)
        ).scalar_one()
    return ControlState(
        workflows=policies(conn, revision),
        switches=tuple(active_switches(conn, now=now or datetime.now(UTC))),
        revision=revision,
        epoch=read_epoch(conn),
        document=document,
    )


_EPOCH_AND_REVISION = sa.select(control_epoch.c.epoch, _REVISION.scalar_subquery()).where(
    control_epoch.c.id == 1
)
# (url, workflow) -> (epoch, revision, state): switches change only with the epoch, and expiry is checked
# by decide() itself, so one small read tells whether the last copy still holds.
_workflow_states: weakref.WeakKeyDictionary[Engine, dict[str, tuple[int, int | None, ControlState]]] = (
    weakref.WeakKeyDictionary()
)


def workflow_state(conn: Connection, workflow: str, *, now: datetime) -> ControlState:
    """The control state restricted to one workflow: what a write decision needs, read in its transaction."""
    epoch, revision = conn.execute(_EPOCH_AND_REVISION).one()
    per_engine = _workflow_states.get(conn.engine)
    if per_engine is None:
        per_engine = _workflow_states.setdefault(conn.engine, {})
    cached = per_engine.get(workflow)
    if cached is not None and cached[0] == epoch and cached[1] == revision:
        return cached[2]
    compiled = policies(conn, revision)
    policy = compiled.get(workflow)
    state = ControlState(
        workflows={workflow: policy} if policy is not None else {},
        switches=tuple(active_switches(conn, now=now, workflow=workflow)),
        revision=revision,
        epoch=epoch,
    )
    per_engine[workflow] = (epoch, revision, state)
    return state
