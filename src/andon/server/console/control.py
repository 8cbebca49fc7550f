"""Console: the workflow page (one-click switches, versions, actions, chart) and the approval queue.

| page | JSON twin |
|---|---|
| /console/workflows/{id} | /v1/workflows/{id}/activity (and /v1/switches, /v1/versions) |
| /console/approvals | /v1/approvals |
| /console/approvals/{id} | /v1/approvals/{id} |

Every button is a POST form with the session's CSRF token and a reason; each calls one method of the
app's ``StoreControl`` in the caller's name, then redirects back with what happened or what was refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from andon.control.state import AUTONOMY_ORDER, Switch
from andon.errors import ControlError
from andon.server import activity
from andon.server.auth import EngineDep, require
from andon.server.console.chart import actions_chart
from andon.server.console.diff import change_rows
from andon.server.console.pages import render
from andon.server.control_api import ControlDep, changed
from andon.server.errors import ApiError
from andon.server.principals import Principal, role_allows
from andon.server.routers.activity import workflow_activity
from andon.server.routers.approvals import load

router = APIRouter(prefix="/console", include_in_schema=False)
Viewer = Annotated[Principal, Depends(require("viewer"))]
WorkflowViewer = Annotated[Principal, Depends(require("viewer", workflow="workflow_id"))]
WorkflowResponder = Annotated[Principal, Depends(require("responder", workflow="workflow_id"))]
Approver = Annotated[Principal, Depends(require("approver"))]
Text = Annotated[str, Form(max_length=2000)]

# One-click switches: (op, label, the switch kind, what the target select lists, what it does)
SWITCHES: tuple[tuple[str, str, str, str | None, str], ...] = (
    ("pause_workflow", "Pause", "pause_workflow", None,
     "Every action stops, reads too; agents hand over to the fallback."),
    ("freeze_writes", "Freeze writes", "freeze_writes", None,
     "Reads go on; every write, delete or spend is refused."),
    ("block_external_sends", "Block external sends", "block_external_sends", None,
     "Tools that reach outside (e-mail, messages) are refused."),
    ("block_tool", "Block tool", "block_tool", "tools", "One tool is refused; the rest go on."),
    ("block_retrieval_source", "Block source", "block_retrieval_source", "sources",
     "The agents may no longer read from one source."),
    ("revoke_credential", "Revoke credential", "revoke_credential", "credentials",
     "Every tool using this credential is refused."),
    ("cap_autonomy", "Cap autonomy", "cap_autonomy", "levels",
     "Nothing runs above this level: observe simulates, advise drafts, act_with_approval holds."),
)  # fmt: skip


def _back(path: str, *, msg: str = "", error: str = "") -> RedirectResponse:
    query = f"?msg={quote(msg)}" if msg else f"?error={quote(error)}" if error else ""
    return RedirectResponse(path + query, status_code=303)


def _targets(declared: dict[str, Any]) -> dict[str, list[str]]:
    tools = [t["name"] for t in declared.get("tools", [])]
    credentials = {c["id"] for c in declared.get("credentials", [])}
    credentials |= {t["credential"] for t in declared.get("tools", []) if t.get("credential")}
    return {
        "tools": tools,
        "sources": [s["id"] for s in declared.get("retrieval_sources", [])],
        "credentials": sorted(credentials),
        "levels": list(AUTONOMY_ORDER),
    }


@router.get("/workflows/{workflow_id}", response_class=HTMLResponse)
def workflow_page(
    request: Request,
    workflow_id: str,
    who: WorkflowViewer,
    engine: EngineDep,
    control: ControlDep,
    msg: str = "",
    error: str = "",
) -> HTMLResponse:
    """One workflow: switches to pull, versions to restore, the actions chart and the newest decisions."""
    data = workflow_activity(engine, workflow_id, now=datetime.now(UTC))
    minutes = [activity.Minute(datetime.fromisoformat(m["start"]), m["actions"]) for m in data["per_minute"]]
    marks = [{**m, "time": datetime.fromisoformat(m["time"])} for m in data["marks"]]
    versions = control.list_versions(workflow=workflow_id)
    restorable = sorted({(v.kind, v.name) for v in versions if v.approved_at is not None})
    return render(
        request,
        "workflow.html",
        who,
        wf=data,
        declared=data["declared"],
        chart=actions_chart(minutes, marks),
        switches=[Switch.from_dict(s) for s in data["switches"]],
        versions=versions,
        restorable=restorable,
        buttons=SWITCHES,
        targets=_targets(data["declared"]),
        may_pull=role_allows(who.role, "responder"),
        msg=msg,
        error=error,
    )


@router.post("/workflows/{workflow_id}/switches")
def pull(
    request: Request,
    workflow_id: str,
    who: WorkflowResponder,
    control: ControlDep,
    op: Annotated[str, Form(max_length=40)],
    reason: Text = "",
    target: Annotated[str, Form(max_length=200)] = "",
    switch_id: Annotated[str, Form(max_length=40)] = "",
    expires_in_minutes: Annotated[int | None, Form(ge=1, le=60 * 24 * 30)] = None,
) -> Response:
    """Pull a switch (``op`` is its kind), resume (clear the pause) or clear one switch by id."""
    page = f"/console/workflows/{quote(workflow_id)}"
    expires_at = (
        None if expires_in_minutes is None else datetime.now(UTC) + timedelta(minutes=expires_in_minutes)
    )
    try:
        if op == "resume":
            cleared = control.clear_switches(
                actor=who.actor, reason=reason, workflow=workflow_id, kinds=("pause_workflow",)
            )
            done = f"resumed ({len(cleared)} pause(s) cleared)" if cleared else "was not paused"
        elif op == "clear":
            if switch_id not in {s.id for s in control.list_switches(workflow=workflow_id)}:
                raise ControlError(f"no switch '{switch_id}' in force on {workflow_id}")
            control.clear_switches(actor=who.actor, reason=reason, switch_id=switch_id)
            done = f"cleared {switch_id}"
        elif op in {kind for _, _, kind, _, _ in SWITCHES}:
            switch = control.set_switch(
                kind=op,
                workflow=workflow_id,
                target=target or None,
                actor=who.actor,
                reason=reason,
                expires_at=expires_at,
            )
            done = f"{switch.describe()} ({switch.id})"
        else:
            raise ControlError(f"unknown switch '{op}'")
    except ControlError as exc:
        return _back(page, error=str(exc))
    changed(request)
    return _back(page, msg=done)


@router.post("/workflows/{workflow_id}/restore")
def restore(
    request: Request,
    workflow_id: str,
    who: WorkflowResponder,
    control: ControlDep,
    kind: Annotated[str, Form(max_length=20)],
    name: Annotated[str, Form(max_length=200)],
    reason: Text = "",
) -> Response:
    """Move ``live`` back to the last approved version of one prompt, model or ruleset."""
    page = f"/console/workflows/{quote(workflow_id)}"
    try:
        if not reason.strip():
            raise ControlError("say why: a restore needs a reason (it goes into the ledger)")
        version = control.restore_version(
            workflow=workflow_id, kind=kind, name=name, to="last-approved", actor=who.actor, reason=reason
        )
    except ControlError as exc:
        return _back(page, error=str(exc))
    changed(request)
    return _back(page, msg=f"restored {version.ref} (approved by {version.approved_by})")


@router.get("/approvals", response_class=HTMLResponse)
def approvals_page(
    request: Request, who: Viewer, control: ControlDep, status: str = "pending"
) -> HTMLResponse:
    """Held actions waiting for a person, oldest first (``?status=all`` for every one)."""
    chosen = (
        status if status in ("pending", "approved", "rejected", "expired", "executed", "all") else "pending"
    )
    found = [
        a
        for a in control.list_approvals(status=None if chosen == "all" else chosen)
        if who.may_touch(a.workflow)
    ]
    return render(request, "approvals.html", who, approvals=found, status=chosen)


@router.get("/approvals/{approval_id}", response_class=HTMLResponse)
def approval_page(
    request: Request, approval_id: str, who: Viewer, control: ControlDep, msg: str = "", error: str = ""
) -> HTMLResponse:
    """One held action with everything a person needs to say no, and the approve / reject forms."""
    approval = load(control, who, approval_id)
    context = approval.context or {}
    change = context.get("change") or {}
    return render(
        request,
        "approval.html",
        who,
        a=approval,
        context=context,
        pretty=lambda value: json.dumps(value, indent=2, ensure_ascii=False, sort_keys=True, default=str),
        diff=change_rows(change.get("before"), change.get("after", approval.args)),
        may_decide=role_allows(who.role, "approver") and who.actor != approval.requester,
        msg=msg,
        error=error,
    )


@router.post("/approvals/{approval_id}")
def decide_approval(
    request: Request,
    approval_id: str,
    who: Approver,
    control: ControlDep,
    op: Annotated[str, Form(max_length=20)],
    reason: Text = "",
    edited_args: Annotated[str, Form(max_length=100_000)] = "",
) -> Response:
    """Approve, reject with a reason, or edit the arguments and approve."""
    page = f"/console/approvals/{quote(approval_id)}"
    load(control, who, approval_id)
    try:
        edited = None
        if op == "edit":
            try:
                edited = json.loads(edited_args)
            except ValueError as exc:
                raise ControlError(f"edited arguments are not JSON: {exc}") from None
            if not isinstance(edited, dict):
                raise ControlError('edited arguments must be a JSON object, e.g. {"tier": "silver"}')
        elif op not in ("approve", "reject"):
            raise ApiError(422, f"unknown op {op!r}; use approve, reject or edit", code="bad_request")
        decided = control.decide_approval(
            approval_id, actor=who.actor, approve=op != "reject", reason=reason, edited_args=edited
        )
    except ControlError as exc:
        return _back(page, error=str(exc))
    return _back(page, msg=f"{decided.status} by {decided.decided_by}")
