"""``/v1/control``, ``/v1/decisions``, ``/v1/actions/{id}/outcome``, ``/v1/switches`` (docs/api.md).

The write decision path is the hot one: the route validates the body, checks the agent's workflow
scope and hands the request to ``StoreControl.decide`` (one transaction: decision, reservation, action
row, ledger event). A ``deny`` or ``hold`` is a 200 — a decision, not an error.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query, Request
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from andon.control import snapshot
from andon.control.actions import ActionOutcome, ActionRequest
from andon.server.auth import EngineDep, ensure_workflow, require
from andon.server.control_api import (
    ControlDep,
    action_workflow,
    changed,
    ensure_every_workflow,
    refused_as_errors,
)
from andon.server.decisions import DecisionWriter
from andon.server.metrics import ServerMetrics
from andon.server.principals import Principal
from andon.store import reading
from andon.store.tables import runbook_revisions

router = APIRouter(prefix="/v1", tags=["control"])
Reader = Annotated[Principal, Depends(require("viewer", agents=True))]
Agent = Annotated[Principal, Depends(require("agent"))]
Responder = Annotated[Principal, Depends(require("responder"))]

Name = Annotated[str, Field(min_length=1, max_length=200)]
Reason = Annotated[str, Field(min_length=1, max_length=2000)]


class DecisionIn(BaseModel):
    """``ActionRequest``: one proposed call and the context a person needs to judge it."""

    model_config = ConfigDict(extra="forbid")

    workflow: Name
    tool: Name
    actor: Name
    args: dict[str, Any] = Field(default_factory=dict)
    run_id: Name | None = None
    confidence: float | None = Field(None, ge=0.0, le=1.0)
    before: Any = None
    context: dict[str, Any] = Field(default_factory=dict)
    versions: dict[str, str] = Field(default_factory=dict)
    approval_ttl_seconds: float | None = Field(None, gt=0, le=30 * 24 * 3600)


class OutcomeIn(BaseModel):
    """``ActionOutcome`` without ``action_id`` (it is in the path)."""

    model_config = ConfigDict(extra="forbid")

    ok: bool
    actor: Name
    result: Any = None
    error: str | None = None
    after: Any = None
    undo: Name | None = None


class SwitchIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    kind: Name
    workflow: Name | None = None
    target: Name | None = None
    actor: str | None = Field(None, description="ignored: the change is recorded in the caller's name")
    reason: Reason
    expires_at: AwareDatetime | None = None


class ClearIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(None, description="ignored: the change is recorded in the caller's name")
    reason: Reason
    switch_id: Name | None = None
    workflow: Name | None = None
    kinds: list[Name] = Field(default_factory=list)
    target: Name | None = None


@router.get("/control/epoch")
def epoch(who: Reader, engine: EngineDep) -> dict[str, Any]:
    """The control epoch and runbook revision: cheap, for clients that poll."""
    with reading(engine) as conn:
        return {"epoch": snapshot.read_epoch(conn), "revision": snapshot.current_revision(conn)}


@router.get("/control/state")
def state(who: Reader, engine: EngineDep) -> dict[str, Any]:
    """What an SDK decides reads with: the runbook document of the revision and the switches in force."""
    with reading(engine) as conn:
        loaded = snapshot.load_state(conn, now=datetime.now(UTC))
        document = None
        if loaded.revision is not None:
            document = conn.execute(
                sa.select(runbook_revisions.c.document).where(runbook_revisions.c.revision == loaded.revision)
            ).scalar_one()
    return {
        "epoch": loaded.epoch,
        "revision": loaded.revision,
        "runbook": document,
        "switches": [s.as_dict() for s in loaded.switches if s.workflow is None or who.may_touch(s.workflow)],
    }


@router.post("/decisions")
async def decide(body: DecisionIn, who: Agent, request: Request) -> dict[str, Any]:
    """Decide one proposed action and record it before it runs; ``deny`` and ``hold`` are answers too.

    Decisions are committed in groups by the app's ``DecisionWriter``; each answer leaves only after
    the commit that holds it.
    """
    ensure_workflow(who, body.workflow)
    writer: DecisionWriter = request.app.state.decisions
    # Read from app state, not a MetricsDep: on this, the hottest route, every dependency FastAPI
    # resolves costs tens of microseconds.
    metrics: ServerMetrics = request.app.state.metrics
    started = time.perf_counter()
    with refused_as_errors():
        decision = await writer.decide(ActionRequest(**body.model_dump()))
    metrics.decision(workflow=body.workflow, outcome=decision.outcome, seconds=time.perf_counter() - started)
    return decision.as_dict()


@router.post("/actions/{action_id}/outcome")
def outcome(
    action_id: str, body: OutcomeIn, who: Agent, engine: EngineDep, control: ControlDep
) -> dict[str, Any]:
    """Record what the tool did; a repeated outcome is a no-op. Answers whether the breaker tripped."""
    if who.workflows is not None:
        ensure_workflow(who, action_workflow(engine, action_id))
    with refused_as_errors():
        tripped = control.record_outcome(ActionOutcome(action_id=action_id, **body.model_dump()))
    return {"tripped": tripped}


@router.get("/switches")
def list_switches(
    who: Reader,
    control: ControlDep,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    include_cleared: bool = False,
) -> dict[str, Any]:
    """Switches in force (or every one ever set), oldest first; ``workflow`` adds those for every workflow."""
    if workflow is not None:
        ensure_workflow(who, workflow)
    found = control.list_switches(workflow=workflow, include_cleared=include_cleared)
    return {"switches": [s.as_dict() for s in found if s.workflow is None or who.may_touch(s.workflow)]}


@router.post("/switches")
def set_switch(body: SwitchIn, who: Responder, control: ControlDep, request: Request) -> dict[str, Any]:
    """Pull a switch in the caller's name; without ``workflow`` it applies to every workflow."""
    if body.workflow is None:
        ensure_every_workflow(who, f"switch {body.kind}")
    else:
        ensure_workflow(who, body.workflow)
    with refused_as_errors():
        switch = control.set_switch(
            kind=body.kind,
            workflow=body.workflow,
            target=body.target,
            actor=who.actor,
            reason=body.reason,
            expires_at=body.expires_at,
        )
    changed(request)
    return switch.as_dict()


@router.post("/switches/clear")
def clear_switches(body: ClearIn, who: Responder, control: ControlDep, request: Request) -> dict[str, Any]:
    """Clear switches by id or by workflow (and kinds, target); resume is ``kinds: ["pause_workflow"]``."""
    if body.workflow is not None:
        ensure_workflow(who, body.workflow)
    elif body.switch_id is not None and who.workflows is not None:
        owner = next((s.workflow for s in control.list_switches() if s.id == body.switch_id), None)
        if owner is None:
            ensure_every_workflow(who, "clearing a switch")
        else:
            ensure_workflow(who, owner)
    with refused_as_errors():
        cleared = control.clear_switches(
            actor=who.actor,
            reason=body.reason,
            switch_id=body.switch_id,
            workflow=body.workflow,
            kinds=tuple(body.kinds),
            target=body.target,
        )
    changed(request)
    return {"cleared": [s.as_dict() for s in cleared]}
