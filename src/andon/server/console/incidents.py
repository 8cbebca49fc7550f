"""Console: the incident list (with a declare form) and the incident page.

| page | JSON twin |
|---|---|
| /console/incidents | /v1/incidents |
| /console/incidents/{id} | /v1/incidents/{id} (and …/clocks, …/affected, …/review) |

The incident page's buttons all post to ``/console/incidents/{id}`` with an ``op`` field; each op is one
domain call in one transaction (the desk's freeze, restore and rollback own theirs), then a redirect
back with what happened or what was refused.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Annotated, Any
from urllib.parse import quote

from fastapi import APIRouter, Depends, Form, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response

from andon.control.rollback import plan
from andon.errors import AndonError
from andon.incidents import acts, containment, lifecycle, review
from andon.incidents.affected import affected, customers
from andon.incidents.checklist import mark_item
from andon.incidents.records import IncidentNotFound, get_incident, list_incidents
from andon.incidents.service import IncidentDesk
from andon.incidents.views import incident_view
from andon.runbook.revisions import latest_revision
from andon.runbook.vocabulary import SWITCH_SCOPES
from andon.server import audit
from andon.server.auth import EngineDep, ensure_workflow, require
from andon.server.console.pages import render
from andon.server.errors import ApiError
from andon.server.principals import Principal, role_allows
from andon.store import reading

router = APIRouter(prefix="/console", include_in_schema=False)
Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]
Field = Annotated[str, Form(max_length=4000)]


def _now() -> datetime:
    return datetime.now(UTC)


def _left(seconds: int | None) -> str:
    if seconds is None:
        return "no fixed deadline"
    minutes = abs(seconds) // 60
    days, rest = divmod(minutes, 24 * 60)
    text = (f"{days}d " if days else "") + f"{rest // 60}h {rest % 60:02d}m"
    return text + " left" if seconds >= 0 else "overdue by " + text


@router.get("/incidents", response_class=HTMLResponse)
def incidents_page(
    request: Request, who: Viewer, engine: EngineDep, show: str = "open", msg: str = "", error: str = ""
) -> HTMLResponse:
    with reading(engine) as conn:
        rows = list_incidents(conn, open_only=show != "all")
        revision = latest_revision(conn)
    classes = [c.id for c in revision.runbook.incident_classes] if revision else []
    workflows = [w.id for w in revision.runbook.workflows] if revision else []
    return render(
        request,
        "incidents.html",
        who,
        incidents=[i for i in rows if who.may_touch(i.workflow or "")],
        show=show,
        classes=classes,
        workflows=workflows,
        can_change=role_allows(who.role, "responder"),
        msg=msg,
        error=error,
    )


@router.post("/incidents")
def declare_form(
    who: Responder,
    engine: EngineDep,
    incident_class: Annotated[str, Form(max_length=200)],
    summary: Field,
    workflow: Annotated[str, Form(max_length=200)] = "",
    severity: Annotated[str, Form(max_length=200)] = "",
) -> Response:
    """Declare from the list page; the class's automatic containment runs and the evidence is frozen."""
    if workflow:
        ensure_workflow(who, workflow)
    try:
        opened = IncidentDesk(engine, signer=audit.signer).declare(
            incident_class=incident_class,
            workflow=workflow or None,
            summary=summary,
            actor=who.actor,
            severity=severity or None,
        )
    except AndonError as exc:
        return RedirectResponse(f"/console/incidents?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"/console/incidents/{opened.incident.id}?msg=declared", status_code=303)


@router.get("/incidents/{incident_id}", response_class=HTMLResponse)
def incident_page(
    request: Request, incident_id: str, who: Viewer, engine: EngineDep, msg: str = "", error: str = ""
) -> HTMLResponse:
    """The incident: clocks with time left, checklist, one-click containment, affected records, timeline,
    review and the restart gate."""
    now = _now()
    with reading(engine) as conn:
        try:
            view = incident_view(conn, incident_id, now=now, timeline_limit=300)
        except IncidentNotFound as exc:
            raise ApiError(404, str(exc), code="not_found") from None
        incident = get_incident(conn, incident_id)
        if incident.workflow:
            ensure_workflow(who, incident.workflow)
        touched = affected(conn, incident)
    for clock in view["clocks"]:
        clock["left"] = _left(clock["seconds_left"])
    return render(
        request,
        "incident.html",
        who,
        view=view,
        incident=view["incident"],
        affected=touched[-200:],
        affected_total=len(touched),
        people=customers(touched),
        switches=SWITCH_SCOPES,
        root_causes=review.ROOT_CAUSES,
        can_change=role_allows(who.role, "responder"),
        msg=msg,
        error=error,
    )


def _expected(text: str) -> Any:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text  # plain text is a fine expected output


def _apply(engine: Any, who: Principal, incident_id: str, op: str, form: dict[str, str]) -> str:
    """Run one op; returns the message shown after the redirect."""
    now, actor = _now(), who.actor
    reason = form.get("reason", "").strip() or "from the console"
    desk = IncidentDesk(engine, signer=audit.signer)
    if op == "freeze":
        return f"evidence frozen: sha256 {desk.freeze(incident_id, actor=actor).sha256}"
    if op == "restore":
        step, _ = desk.restore(
            incident_id,
            kind=form.get("kind", "prompt"),
            name=form.get("name", ""),
            actor=actor,
            reason=reason,
        )
        return f"evidence frozen, then restored {step.target}"
    with engine.begin() as conn:
        incident = get_incident(conn, incident_id)
        if op == "ack":
            lifecycle.acknowledge(conn, incident.number, actor=actor, now=now)
        elif op == "state":
            lifecycle.transition(
                conn, incident.number, to=form.get("to", ""), actor=actor, reason=reason, now=now
            )
        elif op == "reopen":
            lifecycle.reopen(conn, incident.number, actor=actor, reason=reason, now=now)
        elif op == "note":
            lifecycle.add_note(conn, incident.number, text=form.get("text", ""), actor=actor, now=now)
        elif op == "check":
            mark_item(
                conn,
                incident,
                int(form.get("position", "0")),
                done=form.get("done") == "1",
                actor=actor,
                now=now,
            )
        elif op == "contain":
            containment.contain(
                conn,
                incident.number,
                action=form.get("action", ""),
                target=form.get("target") or None,
                actor=actor,
                reason=reason,
                now=now,
            )
        elif op == "rollback":
            step, selection = containment.begin_rollback(
                conn,
                incident.number,
                actor=actor,
                reason=reason,
                signer=audit.signer(),
                directory=desk.directory,
                now=now,
            )
            count = len(plan(conn, selection))
            return (
                f"evidence frozen; rollback {step.id} planned for {count} action(s): run "
                f"`andon incidents rollback {incident.id} --tools your.agent:andon` where the undos live"
            )
        elif op == "act":
            acts.record_act(
                conn,
                incident,
                act=form.get("act", "trigger"),
                name=form.get("name", ""),
                who=form.get("who", ""),
                at=now,
                statement=form.get("statement", ""),
                actor=actor,
                now=now,
            )
        elif op == "review":
            review.set_review(
                conn,
                incident,
                root_cause=form.get("root_cause", ""),
                summary=form.get("summary", ""),
                actor=actor,
                now=now,
                no_eval_reason=form.get("no_eval_reason") or None,
            )
        elif op == "item":
            review.add_item(
                conn, incident, text=form.get("text", ""), owner=form.get("owner", ""), actor=actor, now=now
            )
        elif op == "item_done":
            review.mark_item_done(conn, incident, int(form.get("item", "0")), actor=actor, now=now)
        elif op == "case":
            review.add_eval_case(
                conn,
                incident,
                source_index=int(form.get("source_index", "0")),
                expected=_expected(form.get("expected", "")),
                actor=actor,
                now=now,
            )
        elif op == "sign_off":
            review.sign_off(conn, incident, contact=form.get("contact", ""), actor=actor, now=now)
        elif op == "resume":
            cleared = review.resume(conn, incident, actor=actor, reason=reason, now=now)
            return f"automation resumed: {len(cleared)} switch(es) cleared"
        else:
            raise ApiError(422, f"unknown op {op!r}", code="bad_request")
    return f"{op}: done"


@router.post("/incidents/{incident_id}")
async def incident_action(request: Request, incident_id: str, who: Responder, engine: EngineDep) -> Response:
    """Every button of the incident page: one op, then back to the page."""
    form = {k: v for k, v in (await request.form()).items() if isinstance(v, str) and len(v) <= 10_000}
    from starlette.concurrency import run_in_threadpool

    with reading(engine) as conn:
        try:
            incident = get_incident(conn, incident_id)
        except IncidentNotFound as exc:
            raise ApiError(404, str(exc), code="not_found") from None
    if incident.workflow:
        ensure_workflow(who, incident.workflow)
    target = f"/console/incidents/{incident.id}"
    try:
        message = await run_in_threadpool(_apply, engine, who, incident.id, form.get("op", ""), form)
    except (AndonError, ValueError) as exc:
        return RedirectResponse(f"{target}?error={quote(str(exc))}", status_code=303)
    return RedirectResponse(f"{target}?msg={quote(message)}", status_code=303)
