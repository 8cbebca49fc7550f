"""``/v1/versions`` and ``/v1/rollback``: prompt/model/ruleset versions, restore, and the rollback plan.

Who may do what (every change is recorded in the caller's name):

- publish a version: ``responder``; publishing it *live* straight away needs ``approver``, because it
  puts an unreviewed version in front of the agents;
- approve a version: ``approver``, never its publisher (the service refuses that);
- restore (``to: last-approved`` or a named version): ``responder`` — it is containment;
- rollback plan: ``viewer`` and agents; recording an undo's result: ``responder`` and agents, since the
  compensating calls run in the agent process that registered them (docs/api.md).
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from andon.control.rollback import Selection
from andon.control.versions import get_version
from andon.server.auth import EngineDep, ensure_workflow, require
from andon.server.control_api import ControlDep, action_workflow, changed, refused_as_errors
from andon.server.errors import ApiError
from andon.server.principals import Principal, role_allows
from andon.store import reading

router = APIRouter(prefix="/v1", tags=["versions", "rollback"])
Reader = Annotated[Principal, Depends(require("viewer", agents=True))]
Responder = Annotated[Principal, Depends(require("responder"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Undoer = Annotated[Principal, Depends(require("responder", agents=True))]

Name = Annotated[str, Field(min_length=1, max_length=200)]
Kind = Annotated[str, Field(min_length=1, max_length=20)]
Ignored = Field(None, description="ignored: the change is recorded in the caller's name")


class PublishIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: Name
    kind: Kind
    name: Name
    content: Any
    actor: str | None = Ignored
    version: Annotated[str, Field(min_length=1, max_length=100)] | None = None
    live: bool = False


class ApproveIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Ignored
    live: bool = False


class RestoreIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: Name
    kind: Kind
    name: Name
    to: Annotated[str, Field(min_length=1, max_length=100)] = "last-approved"
    actor: str | None = Ignored
    reason: Annotated[str, Field(min_length=1, max_length=2000)]


class SelectionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    workflow: Name | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None
    version: Name | None = None
    run_id: Name | None = None
    action_ids: list[Name] = Field(default_factory=list, max_length=10_000)
    include_conflicts: bool = False


class UndoIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    outcome: Annotated[str, Field(min_length=1, max_length=20)]
    actor: str | None = Ignored
    reason: Annotated[str, Field(min_length=1, max_length=2000)]
    detail: Any = None


@router.get("/versions")
def list_versions(
    who: Reader,
    control: ControlDep,
    workflow: Annotated[str, Query(min_length=1, max_length=200)],
    kind: Annotated[str | None, Query(max_length=20)] = None,
    name: Annotated[str | None, Query(max_length=200)] = None,
) -> dict[str, Any]:
    """Every version of a workflow, oldest first, the live one marked."""
    ensure_workflow(who, workflow)
    return {"versions": [v.as_dict() for v in control.list_versions(workflow=workflow, kind=kind, name=name)]}


@router.post("/versions")
def publish(body: PublishIn, who: Responder, control: ControlDep, request: Request) -> dict[str, Any]:
    """Publish an immutable version (v1, v2… unless named); ``live`` needs the approver role."""
    ensure_workflow(who, body.workflow)
    if body.live and not role_allows(who.role, "approver"):
        raise ApiError(
            403,
            f"publishing live puts an unreviewed version in front of the agents and needs role "
            f"'approver'; {who.kind} {who.id} has '{who.role}'. Publish it, then ask an approver",
            code="forbidden",
        )
    with refused_as_errors():
        found = control.publish_version(
            workflow=body.workflow,
            kind=body.kind,
            name=body.name,
            content=body.content,
            actor=who.actor,
            version=body.version,
            live=body.live,
        )
    changed(request)
    return found.as_dict()


@router.post("/versions/restore")
def restore(body: RestoreIn, who: Responder, control: ControlDep, request: Request) -> dict[str, Any]:
    """Move ``live`` back to the last approved version (or ``to`` a named one), in one step."""
    ensure_workflow(who, body.workflow)
    with refused_as_errors():
        found = control.restore_version(
            workflow=body.workflow,
            kind=body.kind,
            name=body.name,
            to=body.to,
            actor=who.actor,
            reason=body.reason,
        )
    changed(request)
    return found.as_dict()


@router.post("/versions/{version_id}/approve")
def approve(
    version_id: str, body: ApproveIn, who: Approver, engine: EngineDep, control: ControlDep, request: Request
) -> dict[str, Any]:
    """Approve a version someone else published; ``live`` also makes it live."""
    with reading(engine) as conn, refused_as_errors():
        workflow = get_version(conn, version_id).workflow
    if not who.may_touch(workflow):
        raise ApiError(404, f"no version '{version_id}'", code="not_found")
    with refused_as_errors():
        found = control.approve_version(version_id, actor=who.actor, live=body.live)
    changed(request)
    return found.as_dict()


@router.post("/rollback/plan")
def plan(body: SelectionIn, who: Reader, control: ControlDep) -> dict[str, Any]:
    """Executed actions a rollback would undo, newest first (never "everything": name a workflow or run)."""
    if body.workflow is not None:
        ensure_workflow(who, body.workflow)
    selection = Selection(**{**body.model_dump(), "action_ids": tuple(body.action_ids)})
    with refused_as_errors():
        items = control.rollback_plan(selection)
    return {"items": [i.as_dict() for i in items if who.may_touch(i.workflow)]}


@router.post("/actions/{action_id}/undo")
def record_undo(
    action_id: str, body: UndoIn, who: Undoer, engine: EngineDep, control: ControlDep
) -> dict[str, Any]:
    """Record one undo's result (``rolled_back``, ``conflict``, ``failed``); false if already rolled back."""
    if who.workflows is not None:
        ensure_workflow(who, action_workflow(engine, action_id))
    with refused_as_errors():
        recorded = control.record_undo(
            action_id=action_id, outcome=body.outcome, actor=who.actor, reason=body.reason, detail=body.detail
        )
    return {"recorded": recorded}
