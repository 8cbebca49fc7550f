"""``/v1/runbook`` and ``/v1/workflows``: lint and apply runbooks, read revisions and workflows.

A runbook travels as the YAML text itself (any non-JSON content type) or as JSON
``{"files": {"org.yaml": "...", "triage.yaml": "..."}}`` for a runbook split over files. A runbook
that cannot be loaded gets 422 with each positioned problem in ``errors``
(``location``: ``triage.yaml:14:5``).
"""

from __future__ import annotations

from datetime import date
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import HTMLResponse, JSONResponse, PlainTextResponse, Response
from starlette.concurrency import run_in_threadpool

from andon.errors import Problem
from andon.runbook.lint import has_errors
from andon.runbook.render import render
from andon.runbook.revisions import Revision, apply_runbook, get_revision, latest_revision, list_revisions
from andon.server.auth import EngineDep, require
from andon.server.errors import ApiError, problem
from andon.server.params import RevisionNumber
from andon.server.principals import Principal
from andon.server.runbook_input import DEFAULT_NAME, Checked, check, read_files
from andon.store import reading

router = APIRouter(tags=["runbook"])
Viewer = Annotated[Principal, Depends(require("viewer"))]
Admin = Annotated[Principal, Depends(require("admin"))]
Reader = Annotated[Principal, Depends(require("viewer", agents=True))]
WorkflowReader = Annotated[Principal, Depends(require("viewer", workflow="workflow_id", agents=True))]
NameParam = Annotated[
    str, Query(max_length=200, description="file name for positions when the body is YAML text")
]

RUNBOOK_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "application/yaml": {"schema": {"type": "string"}},
            "application/json": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {"files": {"type": "object", "additionalProperties": {"type": "string"}}},
                }
            },
        },
    }
}


async def _checked(request: Request, name: str) -> Checked:
    files = read_files(await request.body(), request.headers.get("content-type", ""), name=name)
    return await run_in_threadpool(check, files)


def _counts(findings: list[Problem]) -> dict[str, int]:
    return {
        "errors": sum(f.severity == "error" for f in findings),
        "warnings": sum(f.severity == "warning" for f in findings),
    }


@router.post("/v1/runbook/lint", openapi_extra=RUNBOOK_BODY)
async def lint_runbook(request: Request, who: Viewer, name: NameParam = DEFAULT_NAME) -> dict[str, Any]:
    """Readiness findings with positions; ``ready`` is false while any finding is an error."""
    checked = await _checked(request, name)
    return {
        "ready": not has_errors(checked.findings),
        **_counts(checked.findings),
        "workflows": [w.id for w in checked.loaded.runbook.workflows],
        "findings": [f.as_dict() for f in checked.findings],
    }


def _summary(revision: Revision) -> dict[str, Any]:
    return {
        "revision": revision.revision,
        "created_at": revision.created_at.isoformat(),
        "actor": revision.actor,
        "digest": revision.digest,
        "workflows": [w.get("id") for w in revision.document.get("workflows", [])],
    }


@router.post("/v1/runbook/revisions", openapi_extra=RUNBOOK_BODY)
async def apply(request: Request, who: Admin, engine: EngineDep, name: NameParam = DEFAULT_NAME) -> Response:
    """Apply a runbook as the next revision (201), or 200 when the newest revision already holds it.

    Refused (422, each finding in ``errors``) while lint finds errors, as ``andon apply`` does.
    """
    checked = await _checked(request, name)
    if has_errors(checked.findings):
        errors = [problem(f.code, f.message, f.location()) for f in checked.findings if f.severity == "error"]
        raise ApiError(
            422,
            f"not applied: the runbook has {len(errors)} lint error(s); "
            f"first: {errors[0]['location']}: {errors[0]['message']}",
            errors=errors,
        )

    def store() -> tuple[Revision, bool]:
        with engine.begin() as conn:
            return apply_runbook(conn, checked.loaded.runbook, source=checked.source, actor=who.actor)

    revision, created = await run_in_threadpool(store)
    body = {**_summary(revision), "created": created, "findings": [f.as_dict() for f in checked.findings]}
    return JSONResponse(body, status_code=201 if created else 200)


@router.get("/v1/runbook/revisions")
def revisions(who: Viewer, engine: EngineDep) -> dict[str, Any]:
    """Every applied revision, newest first (without the documents)."""
    with reading(engine) as conn:
        found = list_revisions(conn)
    return {"revisions": [_summary(r) for r in reversed(found)]}


def load_revision(engine: Any, number: int) -> Revision:
    """Revision ``number``, or 404."""
    with reading(engine) as conn:
        try:
            return get_revision(conn, number)
        except KeyError:
            raise ApiError(404, f"no runbook revision {number}", code="not_found") from None


@router.get("/v1/runbook/revisions/{revision}")
def revision_detail(
    revision: RevisionNumber,
    who: Viewer,
    engine: EngineDep,
    format: Literal["json", "markdown", "html"] = "json",
) -> Response:
    """One revision: JSON (with its source and document), or rendered as Markdown or one HTML page."""
    found = load_revision(engine, revision)
    if format == "json":
        return JSONResponse({**_summary(found), "source": found.source, "document": found.document})
    text = render(found.runbook, fmt=format, today=date.today(), digest=found.digest)
    if format == "html":
        return HTMLResponse(text)
    return PlainTextResponse(text, media_type="text/markdown; charset=utf-8")


def _newest(engine: Any) -> Revision:
    with reading(engine) as conn:
        found = latest_revision(conn)
    if found is None:
        raise ApiError(
            404,
            "no runbook is applied yet; apply one with POST /v1/runbook/revisions or andon apply",
            code="not_found",
        )
    return found


@router.get("/v1/workflows")
def workflows(who: Reader, engine: EngineDep) -> dict[str, Any]:
    """The workflows of the newest revision that the caller may touch."""
    found = _newest(engine)
    visible = [w for w in found.document.get("workflows", []) if who.may_touch(w["id"])]
    return {"revision": found.revision, "workflows": visible}


@router.get("/v1/workflows/{workflow_id}")
def workflow(workflow_id: str, who: WorkflowReader, engine: EngineDep) -> dict[str, Any]:
    """One workflow as the newest revision declares it."""
    found = _newest(engine)
    for item in found.document.get("workflows", []):
        if item["id"] == workflow_id:
            return {"revision": found.revision, "workflow": item}
    raise ApiError(404, f"no workflow {workflow_id!r} in runbook revision {found.revision}", code="not_found")
