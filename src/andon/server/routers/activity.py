"""``/v1/overview`` and ``/v1/workflows/{id}/activity``: the JSON twins of the console's overview and
workflow page (each read uses an index; see ``andon.server.activity``)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Depends
from sqlalchemy.engine import Engine

from andon.control import snapshot
from andon.control.versions import list_versions
from andon.runbook.revisions import latest_revision
from andon.server import activity
from andon.server.auth import EngineDep, require
from andon.server.errors import ApiError
from andon.server.principals import Principal
from andon.store import reading

router = APIRouter(prefix="/v1", tags=["console"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
WorkflowViewer = Annotated[Principal, Depends(require("viewer", workflow="workflow_id"))]


@router.get("/overview")
def overview(who: Viewer, engine: EngineDep) -> dict[str, Any]:
    """Every workflow: autonomy (declared and in effect), switches, actions in the last minutes,
    approvals waiting, open incidents."""
    with reading(engine) as conn:
        return activity.overview(conn, now=datetime.now(UTC), may_touch=who.may_touch)


def workflow_activity(engine: Engine, workflow_id: str, *, now: datetime) -> dict[str, Any]:
    """What the workflow page shows, as JSON (404 for a workflow the runbook does not declare)."""
    with reading(engine) as conn:
        revision = latest_revision(conn)
        declared = next(
            (
                w
                for w in (revision.document.get("workflows", []) if revision else [])
                if w["id"] == workflow_id
            ),
            None,
        )
        if declared is None:
            raise ApiError(404, f"no workflow {workflow_id!r} in the applied runbook", code="not_found")
        switches = snapshot.active_switches(conn, now=now, workflow=workflow_id)
        minutes = activity.per_minute(conn, workflow_id, now=now)
        marks = activity.chart_marks(conn, workflow_id, since=minutes[0].start)
        incidents = activity.open_incidents_of(conn, workflow_id)
        recent = activity.recent_actions(conn, workflow_id)
        waiting = activity.approvals_waiting(conn, now=now).get(workflow_id, 0)
        executed = activity.executed_since(
            conn, workflow_id, now - timedelta(minutes=activity.RECENT_MINUTES)
        )
        live = [v.as_dict() for v in list_versions(conn, workflow=workflow_id) if v.live]
    summary = activity.workflow_summary(
        declared, switches, executed_recently=executed, waiting=waiting, incidents=incidents
    )
    return {
        **summary,
        "revision": revision.revision if revision else None,
        "declared": declared,
        "live_versions": live,
        "per_minute": [{"start": m.start.isoformat(), "actions": m.actions} for m in minutes],
        "marks": [{**m, "time": m["time"].isoformat()} for m in marks],
        "recent_actions": recent,
    }


@router.get("/workflows/{workflow_id}/activity")
def activity_route(workflow_id: str, who: WorkflowViewer, engine: EngineDep) -> dict[str, Any]:
    """A workflow now: switches, effective autonomy, open incidents, live versions, executed actions per
    minute (last 30) with switch changes and incident steps, the newest decisions and what became of
    them."""
    return workflow_activity(engine, workflow_id, now=datetime.now(UTC))
