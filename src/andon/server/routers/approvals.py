"""``/v1/approvals``: held actions waiting for a person, their decisions, claims and quality stats.

Approving or rejecting needs the ``approver`` role; the decision is recorded in the caller's name and
the requester can never decide its own request. Agents read the approvals of their own workflows and
claim approved ones (exactly once) to run them.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from andon.control.approvals import Approval
from andon.server.auth import ensure_workflow, require
from andon.server.control_api import ControlDep, refused_as_errors
from andon.server.errors import ApiError
from andon.server.principals import Principal

router = APIRouter(prefix="/v1/approvals", tags=["approvals"])
Reader = Annotated[Principal, Depends(require("viewer", agents=True))]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Agent = Annotated[Principal, Depends(require("agent"))]
Status = Literal["pending", "approved", "rejected", "expired", "executed", "all"]


class DecisionIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str | None = Field(None, description="ignored: the decision is recorded in the caller's name")
    approve: bool
    reason: str = Field("", max_length=2000, description="required when rejecting")
    edited_args: dict[str, Any] | None = Field(None, description="approve with these arguments instead")


class ClaimIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    actor: str = Field(min_length=1, max_length=200)


def load(control: Any, who: Principal, approval_id: str) -> Approval:
    """One approval with similar past decisions, or 404 (also when it is outside the caller's scope)."""
    with refused_as_errors():
        found: Approval = control.get_approval(approval_id)
    if not who.may_touch(found.workflow):
        raise ApiError(404, f"no approval '{approval_id}'", code="not_found")
    return found


@router.get("")
def list_approvals(
    who: Reader,
    control: ControlDep,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    status: Status = "pending",
) -> dict[str, Any]:
    """Approvals oldest first: waiting ones by default, ``status=all`` for every one."""
    if workflow is not None:
        ensure_workflow(who, workflow)
    found = control.list_approvals(workflow=workflow, status=None if status == "all" else status)
    return {"approvals": [a.as_dict() for a in found if who.may_touch(a.workflow)]}


@router.get("/stats")
def stats(
    who: Viewer, control: ControlDep, since: Annotated[AwareDatetime | None, Query()] = None
) -> dict[str, Any]:
    """Per approver: decisions, approved/rejected, median time to decide, per hour, busiest hour."""
    start = since if since is not None else datetime.now(UTC) - timedelta(days=30)
    return {
        "since": start.isoformat(),
        "approvers": [s.as_dict() for s in control.approval_stats(since=start)],
    }


@router.get("/{approval_id}")
def show(approval_id: str, who: Reader, control: ControlDep) -> dict[str, Any]:
    """One approval: its full context, the before/after change and the most recent similar decisions."""
    return load(control, who, approval_id).as_dict()


@router.post("/{approval_id}/decision")
def decide(approval_id: str, body: DecisionIn, who: Approver, control: ControlDep) -> dict[str, Any]:
    """Approve, reject (with a reason) or edit-and-approve, in the caller's name."""
    load(control, who, approval_id)
    with refused_as_errors():
        decided = control.decide_approval(
            approval_id,
            actor=who.actor,
            approve=body.approve,
            reason=body.reason,
            edited_args=body.edited_args,
        )
    return decided.as_dict()


@router.post("/{approval_id}/claim")
def claim(approval_id: str, body: ClaimIn, who: Agent, control: ControlDep) -> dict[str, Any]:
    """Hand an approved action to the agent to run, exactly once (409 while it waits or when refused)."""
    load(control, who, approval_id)
    with refused_as_errors():
        claimed = control.claim_approval(approval_id, actor=body.actor)
    return claimed.as_dict()
