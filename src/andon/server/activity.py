"""What a workflow is doing now, for the console and its JSON twins: reads only, each on an index.

- executed actions per minute: ``control_actions (workflow, finished_at)``, read from the index alone;
- the newest decisions: the ledger's ``(workflow, idx)`` index walked newest first (as the audit
  explorer does), then their actions by primary key;
- approvals waiting: ``control_approvals.status``; switches, versions and open incidents are small tables.

Nothing here scans the ledger or the actions table, so pages stay fast with millions of events.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from andon.control import snapshot
from andon.control.state import AUTONOMY_ORDER, Switch
from andon.server import audit
from andon.store import reading
from andon.store.tables import control_actions, control_approvals, control_switches, incidents

RECENT_MINUTES = 5
CHART_MINUTES = 30

_a = control_actions.c
_EXECUTED_BETWEEN = sa.select(sa.func.count()).where(
    _a.workflow == sa.bindparam("workflow"),
    _a.finished_at >= sa.bindparam("start", type_=_a.finished_at.type),
    _a.finished_at < sa.bindparam("end", type_=_a.finished_at.type),
)
_COUNT_SINCE = sa.select(sa.func.count()).where(
    _a.workflow == sa.bindparam("workflow"),
    _a.finished_at >= sa.bindparam("since", type_=_a.finished_at.type),
)


def effective_autonomy(declared: str, switches: list[Switch]) -> str:
    """The lowest of the runbook's level and every ``cap_autonomy`` in force."""
    levels = [declared] + [s.target for s in switches if s.kind == "cap_autonomy" and s.target]
    return min(levels, key=lambda level: AUTONOMY_ORDER.index(level) if level in AUTONOMY_ORDER else 0)


def approvals_waiting(conn: Connection, *, now: datetime) -> dict[str, int]:
    """Pending, unexpired approvals per workflow (also the ``andon_approvals_waiting`` gauge)."""
    t = control_approvals.c
    rows = conn.execute(
        sa.select(t.workflow, sa.func.count())
        .where(t.status == "pending", t.expires_at > now)
        .group_by(t.workflow)
    ).all()
    return {workflow: int(count) for workflow, count in rows}


def approvals_waiting_now(engine: Engine) -> dict[str, int]:
    """``approvals_waiting`` in a read of its own: the metrics scrape's source."""
    with reading(engine) as conn:
        return approvals_waiting(conn, now=datetime.now(UTC))


def executed_since(conn: Connection, workflow: str, since: datetime) -> int:
    return int(conn.execute(_COUNT_SINCE, {"workflow": workflow, "since": since}).scalar_one())


@dataclass(frozen=True, slots=True)
class Minute:
    start: datetime
    actions: int


def per_minute(
    conn: Connection, workflow: str, *, now: datetime, minutes: int = CHART_MINUTES
) -> list[Minute]:
    """Executed actions in each of the last ``minutes`` whole minutes (and the current one), oldest first."""
    # One counted index range per minute: the database counts, Python never sees the rows.
    first = now.replace(second=0, microsecond=0) - timedelta(minutes=minutes)
    out = []
    for i in range(minutes + 1):
        start = first + timedelta(minutes=i)
        params = {"workflow": workflow, "start": start, "end": start + timedelta(minutes=1)}
        out.append(Minute(start, int(conn.execute(_EXECUTED_BETWEEN, params).scalar_one())))
    return out


def switch_marks(conn: Connection, workflow: str, *, since: datetime) -> list[dict[str, Any]]:
    """Switches set or cleared since ``since`` (this workflow's and every-workflow ones), in no order;
    ``chart_marks`` puts them with the incident steps in time order."""
    t = control_switches.c
    rows = conn.execute(
        sa.select(control_switches).where(
            sa.or_(t.workflow == workflow, t.workflow.is_(None)),
            sa.or_(t.created_at >= since, t.cleared_at >= since),
        )
    ).all()
    marks = []
    for row in rows:
        what = row.kind if row.target is None else f"{row.kind} {row.target}"
        if row.created_at >= since:
            marks.append({"time": row.created_at, "label": f"{what} by {row.actor}", "change": "set"})
        if row.cleared_at is not None and row.cleared_at >= since:
            marks.append(
                {"time": row.cleared_at, "label": f"{what} cleared by {row.cleared_by}", "change": "clear"}
            )
    return marks


_INCIDENT_STEPS = ("opened", "contained", "resolved")  # each has its <step>_at and <step>_by columns


def incident_marks(conn: Connection, workflow: str, *, since: datetime) -> list[dict[str, Any]]:
    """This workflow's incidents opened, contained or resolved since ``since``, in no order."""
    from andon.incidents.records import incident_id

    t = incidents.c
    rows = conn.execute(
        sa.select(incidents).where(
            t.workflow == workflow,
            sa.or_(t.opened_at >= since, t.contained_at >= since, t.resolved_at >= since),
        )
    ).all()
    marks = []
    for row in rows:
        for step in _INCIDENT_STEPS:
            at, by = getattr(row, f"{step}_at"), getattr(row, f"{step}_by")
            if at is not None and at >= since:
                label = f"{incident_id(row.number)} {step} by {by}: {row.title} ({row.severity})"
                marks.append({"time": at, "label": label, "change": "incident", "incident": row.number})
    return marks


def chart_marks(conn: Connection, workflow: str, *, since: datetime) -> list[dict[str, Any]]:
    """Switch changes and incident steps since ``since``, oldest first: the chart's markers."""
    marks = switch_marks(conn, workflow, since=since) + incident_marks(conn, workflow, since=since)
    return sorted(marks, key=lambda m: m["time"])


def open_incidents_of(conn: Connection, workflow: str) -> list[dict[str, Any]]:
    """This workflow's open incidents, newest first, as the overview lists them."""
    from andon.incidents.records import list_incidents

    return [_incident_summary(i) for i in list_incidents(conn, open_only=True, workflow=workflow)]


def _incident_summary(incident: Any) -> dict[str, Any]:
    """An incident as the overview and the workflow page list it."""
    return {
        "id": incident.id,
        "title": incident.title,
        "severity": incident.severity,
        "state": incident.state,
    }


def recent_actions(conn: Connection, workflow: str, *, limit: int = 20) -> list[dict[str, Any]]:
    """The newest decisions of a workflow (from the ledger) with what became of each action."""
    page = audit.page_events(conn, audit.EventQuery(workflow=workflow, kinds=("decision",)), limit=limit)
    ids = [e.payload.get("action_id") for e in page.events if e.payload.get("action_id")]
    status: dict[str, Any] = {}
    if ids:
        rows = conn.execute(sa.select(_a.id, _a.status, _a.error).where(_a.id.in_(ids))).all()
        status = {row.id: row for row in rows}
    out = []
    for event in page.events:
        p = event.payload
        row = status.get(p.get("action_id", ""))
        out.append(
            {
                "index": event.index,
                "time": event.time.isoformat(),
                "actor": event.actor,
                "action_id": p.get("action_id"),
                "tool": p.get("tool"),
                "decision": p.get("decision"),
                "rule": p.get("rule"),
                "reason": p.get("reason"),
                "args": p.get("args"),
                "approval_id": p.get("approval_id"),
                "status": row.status if row is not None else None,
                "error": row.error if row is not None else None,
            }
        )
    return out


def workflow_summary(
    document: Mapping[str, Any],
    switches: list[Switch],
    *,
    executed_recently: int,
    waiting: int,
    incidents: list[dict[str, Any]],
) -> dict[str, Any]:
    """One workflow as the overview shows it."""
    declared = str(document.get("autonomy", "observe"))
    return {
        "id": document["id"],
        "purpose": document.get("purpose"),
        "autonomy": declared,
        "effective_autonomy": effective_autonomy(declared, switches),
        "paused": any(s.kind == "pause_workflow" for s in switches),
        "switches": [s.as_dict() for s in switches],
        "actions_last_minutes": executed_recently,
        "recent_minutes": RECENT_MINUTES,
        "approvals_waiting": waiting,
        "open_incidents": incidents,
    }


def overview(conn: Connection, *, now: datetime, may_touch: Any) -> dict[str, Any]:
    """Every workflow the caller may see: autonomy, switches, recent actions, approvals, open incidents."""
    from andon.incidents.records import list_incidents
    from andon.runbook.revisions import latest_revision

    revision = latest_revision(conn)
    documents = [
        w for w in (revision.document.get("workflows", []) if revision else []) if may_touch(w["id"])
    ]
    in_force = snapshot.active_switches(conn, now=now)
    waiting = approvals_waiting(conn, now=now)
    open_incidents = list_incidents(conn, open_only=True)
    since = now - timedelta(minutes=RECENT_MINUTES)
    workflows = []
    for document in documents:
        wf = document["id"]
        workflows.append(
            workflow_summary(
                document,
                [s for s in in_force if s.workflow in (wf, None)],
                executed_recently=executed_since(conn, wf, since),
                waiting=waiting.get(wf, 0),
                incidents=[_incident_summary(i) for i in open_incidents if i.workflow == wf],
            )
        )
    return {
        "revision": revision.revision if revision else None,
        "epoch": snapshot.read_epoch(conn),
        "workflows": workflows,
        "switches_everywhere": [s.as_dict() for s in in_force if s.workflow is None],
        "open_incidents_elsewhere": [_incident_summary(i) for i in open_incidents if i.workflow is None],
    }
