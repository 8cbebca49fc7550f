"""Console: the audit explorer (events, one event with its proof, verify) and the runbook page.

| page | JSON twin |
|---|---|
| /console/audit | /v1/events |
| /console/audit/{index} | /v1/events/{index} |
| /console/audit/verify | /v1/ledger/verify |
| /console/runbook | /v1/runbook/revisions, /v1/runbook/revisions/{n}?format=html |
"""

from __future__ import annotations

import json
from datetime import UTC, date, datetime
from typing import Annotated, Any
from urllib.parse import urlencode

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, RedirectResponse, Response
from markupsafe import Markup

from andon.ledger.checkpoint import latest_checkpoint, write_checkpoint
from andon.ledger.events import KINDS
from andon.ledger.log import read_event, tree_size
from andon.ledger.verify import verify_ledger
from andon.runbook.render import render as render_runbook
from andon.runbook.revisions import Revision, get_revision, latest_revision, list_revisions
from andon.server import audit
from andon.server.auth import EngineDep, require
from andon.server.console.pages import render
from andon.server.errors import ApiError
from andon.server.params import LeafIndex, index_query
from andon.server.principals import Principal
from andon.server.routers.ledger import event_query
from andon.store import reading

router = APIRouter(prefix="/console", include_in_schema=False)
Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]
PAGE_SIZE = 50
Text = Annotated[str, Query(max_length=200)]


def _when(value: str, field: str) -> datetime | None:
    """A time from a filter field: ISO 8601; without an offset it is read as UTC (the page says so)."""
    if not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip())
    except ValueError:
        raise ValueError(f"{field}: {value!r} is not a date and time like 2026-11-22T14:30") from None
    return parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)


@router.get("/audit", response_class=HTMLResponse)
def audit_page(
    request: Request,
    who: Viewer,
    engine: EngineDep,
    workflow: Text = "",
    run_id: Text = "",
    kind: Text = "",
    since: Text = "",
    until: Text = "",
    cursor: Annotated[int | None, index_query(ge=0)] = None,
) -> HTMLResponse:
    """Events newest first, filtered, 50 to a page; each row links to the event and its proof."""
    filters = {"workflow": workflow, "run_id": run_id, "kind": kind, "since": since, "until": until}
    error = None
    try:
        query = event_query(
            who,
            workflow=workflow or None,
            run_id=run_id or None,
            kind=[kind] if kind else [],
            since=_when(since, "since"),
            until=_when(until, "until"),
        )
    except (ValueError, ApiError) as exc:
        error, query = (exc.message if isinstance(exc, ApiError) else str(exc)), None
    with reading(engine) as conn:
        page = audit.page_events(conn, query, limit=PAGE_SIZE, cursor=cursor) if query else None
        size = tree_size(conn)
        checkpoint = latest_checkpoint(conn)
        revision = latest_revision(conn)
    workflows = [w["id"] for w in revision.document.get("workflows", [])] if revision else []
    rows = [
        {
            **audit.event_json(e),
            "summary": audit.summary(e.payload),
            "when": e.time.strftime("%Y-%m-%d %H:%M:%S"),
        }
        for e in (page.events if page else [])
    ]
    given = {k: v for k, v in filters.items() if v}
    next_url = None
    if page is not None and page.next_cursor is not None:
        next_url = "/console/audit?" + urlencode({**given, "cursor": page.next_cursor})
    return render(
        request,
        "audit.html",
        who,
        status_code=422 if error else 200,
        rows=rows,
        filters=filters,
        kinds=KINDS,
        workflows=workflows,
        error=error,
        size=size,
        checkpoint=checkpoint,
        next_url=next_url,
        paged=cursor is not None,
        first_url="/console/audit" + ("?" + urlencode(given) if given else ""),
        json_url=_json_twin(query),
    )


def _json_twin(query: audit.EventQuery | None) -> str:
    """The /v1/events URL of the same page (times with their offset, as the API wants them)."""
    if query is None:
        return "/v1/events"
    params = {
        "workflow": query.workflow,
        "run_id": query.run_id,
        "kind": ",".join(query.kinds),
        "since": query.since.isoformat() if query.since else None,
        "until": query.until.isoformat() if query.until else None,
    }
    given = {k: v for k, v in params.items() if v}
    return "/v1/events" + ("?" + urlencode(given) if given else "")


@router.get("/audit/verify", response_class=HTMLResponse)
def verify_page(request: Request, who: Viewer, engine: EngineDep) -> HTMLResponse:
    """Run ``andon verify`` over the whole ledger and show what it found."""
    trusted = audit.verifier()
    started = datetime.now(UTC)
    with reading(engine) as conn:
        report = verify_ledger(conn, verifier=trusted)
    seconds = (datetime.now(UTC) - started).total_seconds()
    return render(
        request,
        "audit_verify.html",
        who,
        report=report.as_dict(),
        signatures=trusted is not None,
        seconds=seconds,
    )


@router.get("/audit/{index}", response_class=HTMLResponse)
def event_page(request: Request, index: LeafIndex, who: Viewer, engine: EngineDep) -> HTMLResponse:
    """One event: its canonical JSON and its inclusion proof checked against the latest checkpoint."""
    with reading(engine) as conn:
        event = read_event(conn, index) if index >= 0 else None
        if event is None or not (who.workflows is None or (event.workflow and who.may_touch(event.workflow))):
            raise ApiError(404, f"no event at index {index}", code="not_found")
        proof = audit.inclusion(conn, event, audit.verifier())
    return render(
        request,
        "audit_event.html",
        who,
        event=audit.event_json(event, canonical=True),
        pretty=json.dumps(event.payload, indent=2, ensure_ascii=False, sort_keys=True),
        proof=proof,
        may_sign=who.role in ("responder", "approver", "admin"),
    )


@router.post("/audit/checkpoint")
def sign_checkpoint(
    who: Responder, engine: EngineDep, back: Annotated[int | None, index_query(ge=0)] = None
) -> Response:
    """Sign a checkpoint now (the form on an event not yet covered by one), then go back to the event."""
    with engine.begin() as conn:
        if tree_size(conn) > 0:
            write_checkpoint(conn, audit.signer())
    return RedirectResponse(
        f"/console/audit/{back}" if back is not None else "/console/audit", status_code=303
    )


def _body(html: str) -> Markup:
    """The inside of the rendered runbook page's <body>; its own styles are left out (the console CSP)."""
    start = html.find("<body>")
    end = html.rfind("</body>")
    inner = html[start + len("<body>") : end] if start >= 0 and end > start else html
    # Safe: andon.runbook.render escapes every value it puts in the page.
    return Markup(inner)


@router.get("/runbook", response_class=HTMLResponse)
def runbook_page(
    request: Request,
    who: Viewer,
    engine: EngineDep,
    revision: Annotated[int | None, index_query(ge=1)] = None,
) -> HTMLResponse:
    """The newest runbook revision (or ``?revision=N``) rendered, and the list of revisions."""
    with reading(engine) as conn:
        revisions = list(reversed(list_revisions(conn)))
        shown: Revision | None = None
        if revision is not None:
            try:
                shown = get_revision(conn, revision)
            except KeyError:
                raise ApiError(404, f"no runbook revision {revision}", code="not_found") from None
        elif revisions:
            shown = revisions[0]
    content = None
    if shown is not None:
        content = _body(render_runbook(shown.runbook, fmt="html", today=date.today(), digest=shown.digest))
    listed: list[dict[str, Any]] = [
        {
            "revision": r.revision,
            "created_at": r.created_at.strftime("%Y-%m-%d %H:%M UTC"),
            "actor": r.actor,
            "digest": r.digest[:12],
            "workflows": ", ".join(w.get("id", "?") for w in r.document.get("workflows", [])),
        }
        for r in revisions
    ]
    return render(request, "runbook.html", who, shown=shown, content=content, revisions=listed)
