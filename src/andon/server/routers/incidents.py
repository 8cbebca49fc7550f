"""``/v1/incidents``: declare, read, move, contain, freeze, restore, roll back, clocks, affected, review.

Every change is one transaction owned here (the desk's multi-step operations own theirs); reading is
open to viewers, changing to responders. A key scoped to workflows reaches only their incidents.
The router's lifespan starts the incident watch: detectors → incidents → containment, in a child process.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, FastAPI, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from sqlalchemy.engine import Connection, Engine
from starlette.concurrency import run_in_threadpool

from andon.incidents import containment, lifecycle
from andon.incidents.checklist import mark_item
from andon.incidents.records import Incident, IncidentNotFound, get_incident, list_incidents
from andon.incidents.service import IncidentDesk
from andon.incidents.views import incident_view
from andon.server import audit
from andon.server.auth import EngineDep, ensure_workflow, require
from andon.server.errors import ApiError
from andon.server.params import Position
from andon.server.principals import Principal
from andon.store import reading

log = logging.getLogger("andon.server")


@asynccontextmanager
async def watch_incidents(app: FastAPI) -> AsyncIterator[None]:
    """Run the incident watch beside the server, in a child process: every replica follows; the store
    dedups incidents. The desk here serves the routes (declare, contain, page on a declared one)."""
    from andon.server.watch_process import WatchProcess, server_desk

    engine: Engine = app.state.engine
    app.state.incident_desk = server_desk(engine)
    url = engine.url.render_as_string(hide_password=False)
    schema = app.state.settings.database_schema
    watch = await run_in_threadpool(WatchProcess, url, schema=schema)
    app.state.incident_watch = watch
    try:
        yield
    finally:
        await run_in_threadpool(watch.stop)


router = APIRouter(prefix="/v1/incidents", tags=["incidents"], lifespan=watch_incidents)
Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]
Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


def utcnow() -> datetime:
    return datetime.now(UTC)


def desk_of(engine: Engine, app_desk: IncidentDesk | None = None) -> IncidentDesk:
    return app_desk or IncidentDesk(engine, signer=audit.signer)


@contextmanager
def found(conn: Connection, ident: str, who: Principal) -> Iterator[Incident]:
    """The incident (404 if none), checked against the caller's workflow scope."""
    try:
        incident = get_incident(conn, ident)
    except IncidentNotFound as exc:
        raise ApiError(404, str(exc), code="not_found") from None
    if incident.workflow is not None:
        ensure_workflow(who, incident.workflow)
    elif who.workflows is not None:
        raise ApiError(
            403, f"{incident.id} names no workflow; a scoped key cannot reach it", code="forbidden"
        )
    yield incident


class DeclareIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    incident_class: Name
    workflow: Name | None = None
    summary: Reason
    severity: Name | None = None
    title: Name | None = None
    since: AwareDatetime | None = None
    contain: bool = True


class StateIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    to: Literal["contained", "mitigated", "resolved", "closed"]
    reason: Reason


class ReasonIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason


class NoteIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Annotated[str, Field(min_length=1, max_length=10_000)]


class CheckIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    done: bool = True


class ContainIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    action: Name
    target: Name | None = None
    reason: Reason


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Literal["prompt", "model", "ruleset"] = "prompt"
    name: Name
    to: Name = "last-approved"
    reason: Reason


class RollbackIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    reason: Reason
    version: Name | None = None


class RollbackResultIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    report: dict[str, Any]


@router.get("")
def list_route(
    who: Viewer,
    engine: EngineDep,
    state: Annotated[str | None, Query(max_length=20)] = None,
    all: bool = False,
) -> dict[str, Any]:
    """Incidents, newest first: the open ones, or every one with ``all=true``, or those in ``state``."""
    with reading(engine) as conn:
        rows = list_incidents(conn, state=state, open_only=not all and state is None)
    visible = [
        i for i in rows if (i.workflow is None and who.workflows is None) or who.may_touch(i.workflow or "")
    ]
    return {"incidents": [i.as_dict() for i in visible]}


@router.post("", status_code=201)
def declare_route(body: DeclareIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """Declare an incident; the class's automatic containment runs (unless ``contain: false``) and the
    evidence is frozen."""
    if body.workflow is not None:
        ensure_workflow(who, body.workflow)
    opened = desk_of(engine).declare(
        incident_class=body.incident_class,
        workflow=body.workflow,
        summary=body.summary,
        actor=who.actor,
        severity=body.severity,
        title=body.title,
        since=body.since,
        contain=body.contain,
    )
    return {
        "incident": opened.incident.as_dict(),
        "containment": [a.as_dict() for a in opened.containment],
        "freeze": opened.freeze.as_dict() if opened.freeze else None,
        "freeze_error": opened.freeze_error,
    }


@router.get("/{incident_id}")
def show_route(incident_id: str, who: Viewer, engine: EngineDep) -> dict[str, Any]:
    """Everything about one incident: owners, signals, checklist, containment, freezes, clocks, review,
    restart gate and the timeline from the ledger."""
    with reading(engine) as conn, found(conn, incident_id, who):
        return incident_view(conn, incident_id, now=utcnow())


def change_incident(engine: Engine, incident_id: str, who: Principal, fn: Any, **kwargs: Any) -> Any:
    with engine.begin() as conn, found(conn, incident_id, who) as incident:
        return fn(conn, incident, **kwargs)


@router.post("/{incident_id}/ack")
def ack_route(incident_id: str, who: Responder, engine: EngineDep) -> dict[str, Any]:
    result = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: lifecycle.acknowledge(c, i.number, actor=who.actor, now=utcnow()),
    )
    return {"incident": result.as_dict()}


@router.post("/{incident_id}/state")
def state_route(incident_id: str, body: StateIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """Move forward: contained, mitigated, resolved, closed (closing needs a signed-off review)."""
    result = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: lifecycle.transition(
            c, i.number, to=body.to, actor=who.actor, reason=body.reason, now=utcnow()
        ),
    )
    return {"incident": result.as_dict()}


@router.post("/{incident_id}/reopen")
def reopen_route(incident_id: str, body: ReasonIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    result = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: lifecycle.reopen(c, i.number, actor=who.actor, reason=body.reason, now=utcnow()),
    )
    return {"incident": result.as_dict()}


@router.post("/{incident_id}/notes", status_code=201)
def note_route(incident_id: str, body: NoteIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    index = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: lifecycle.add_note(c, i.number, text=body.text, actor=who.actor, now=utcnow()),
    )
    return {"index": index}


@router.post("/{incident_id}/checklist/{position}")
def check_route(
    incident_id: str, position: Position, body: CheckIn, who: Responder, engine: EngineDep
) -> dict[str, Any]:
    item = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: mark_item(c, i, position, done=body.done, actor=who.actor, now=utcnow()),
    )
    return {"position": item.position, "done": item.done, "done_by": item.done_by}


@router.post("/{incident_id}/containment", status_code=201)
def contain_route(incident_id: str, body: ContainIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """One-click containment: one switch for the incident's workflow, in the caller's name."""
    taken = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: containment.contain(
            c,
            i.number,
            action=body.action,
            target=body.target,
            actor=who.actor,
            reason=body.reason,
            now=utcnow(),
        ),
    )
    return {"action": taken.as_dict()}


@router.post("/{incident_id}/freeze", status_code=201)
def freeze_route(incident_id: str, who: Responder, engine: EngineDep) -> dict[str, Any]:
    with reading(engine) as conn, found(conn, incident_id, who):
        pass
    return {"freeze": desk_of(engine).freeze(incident_id, actor=who.actor).as_dict()}


@router.post("/{incident_id}/restore")
def restore_route(incident_id: str, body: RestoreIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """Freeze the evidence and restore a version in one transaction; no freeze, no restore."""
    with reading(engine) as conn, found(conn, incident_id, who):
        pass
    step, frozen = desk_of(engine).restore(
        incident_id, kind=body.kind, name=body.name, to=body.to, actor=who.actor, reason=body.reason
    )
    return {"action": step.as_dict(), "freeze": frozen.as_dict()}


@router.post("/{incident_id}/rollback", status_code=201)
def rollback_route(incident_id: str, body: RollbackIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """Freeze the evidence and start a rollback: the plan of actions to undo, newest first. The undos run
    in the agent (``andon incidents rollback --tools``), which reports back to ``…/rollback/{step}``."""
    from andon.control.rollback import plan

    with engine.begin() as conn, found(conn, incident_id, who) as incident:
        step, selection = containment.begin_rollback(
            conn,
            incident.number,
            actor=who.actor,
            reason=body.reason,
            signer=audit.signer(),
            directory=desk_of(engine).directory,
            now=utcnow(),
            version=body.version,
        )
        items = plan(conn, selection)
    return {"action": step.as_dict(), "selection": selection.as_dict(), "plan": [i.as_dict() for i in items]}


@router.post("/{incident_id}/rollback/{step_id}")
def rollback_result_route(
    incident_id: str, step_id: str, body: RollbackResultIn, who: Responder, engine: EngineDep
) -> dict[str, Any]:
    done = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: containment.finish_rollback(
            c, i.number, step_id, report=body.report, actor=who.actor, now=utcnow()
        ),
    )
    return {"action": done.as_dict()}
