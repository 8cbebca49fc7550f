"""``/v1/evidence``: export a signed evidence bundle (a zip download) and verify an uploaded one."""

from __future__ import annotations

import re
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field
from starlette.concurrency import run_in_threadpool

from andon.ledger.evidence import Selection, export_bundle, verify_bundle
from andon.ledger.log import tree_size
from andon.server import audit
from andon.server.auth import EngineDep, ensure_workflow, require
from andon.server.errors import ApiError, problem
from andon.server.principals import Principal

router = APIRouter(tags=["evidence"])
_UNSAFE_IN_FILENAME = re.compile(r"[^A-Za-z0-9._-]")
Responder = Annotated[Principal, Depends(require("responder"))]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Name = Annotated[str, Field(min_length=1, max_length=200)]


class EvidenceSelection(BaseModel):
    """Which events go into the bundle; every given criterion must match (none: the whole ledger)."""

    model_config = ConfigDict(extra="forbid")

    workflow: Name | None = None
    run_id: Name | None = None
    incident_id: Name | None = None
    since: AwareDatetime | None = None
    until: AwareDatetime | None = None


def _export(engine: Any, selection: Selection) -> tuple[bytes, int, int]:
    with tempfile.TemporaryDirectory(prefix="andon-evidence-") as folder:
        out = Path(folder) / "bundle.zip"
        with engine.begin() as conn:  # export may sign a fresh checkpoint: one write transaction
            if tree_size(conn) == 0:
                raise ApiError(409, "the ledger is empty; there is nothing to export", code="conflict")
            summary = export_bundle(conn, out_path=out, signer=audit.signer(), selection=selection)
        return out.read_bytes(), summary.events, summary.tree_size


@router.post("/v1/evidence", response_class=Response, responses={200: {"content": {"application/zip": {}}}})
def export_evidence(body: EvidenceSelection, who: Responder, engine: EngineDep) -> Response:
    """A signed zip of the selected events, their inclusion proofs, the checkpoint and the public key."""
    if body.workflow is not None:
        ensure_workflow(who, body.workflow)
    elif who.workflows is not None:
        raise ApiError(
            403,
            f"{who.kind} {who.id} is scoped to workflows; name one of them in 'workflow'",
            code="forbidden",
            errors=[problem("forbidden", "a scoped key must select one workflow", "body.workflow")],
        )
    selection = Selection(
        workflow=body.workflow,
        run_id=body.run_id,
        incident_id=body.incident_id,
        since=body.since,
        until=body.until,
    )
    data, events, size = _export(engine, selection)
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%SZ")
    # The workflow id is the caller's text: only safe ASCII goes into the header (quotes, control or
    # non-Latin-1 characters would break it or the response).
    scope = f"-{_UNSAFE_IN_FILENAME.sub('_', body.workflow)}" if body.workflow else ""
    return Response(
        data,
        media_type="application/zip",
        headers={
            "Content-Disposition": f'attachment; filename="andon-evidence{scope}-{stamp}.zip"',
            "X-Andon-Events": str(events),
            "X-Andon-Tree-Size": str(size),
        },
    )


def _verify(data: bytes, name: str, key: str | None) -> dict[str, Any]:
    with tempfile.TemporaryDirectory(prefix="andon-evidence-") as folder:
        path = Path(folder) / "bundle.zip"
        path.write_bytes(data)
        report = verify_bundle(path, key=key).as_dict()
    return {**report, "path": name}


@router.post(
    "/v1/evidence/verify",
    openapi_extra={
        "requestBody": {
            "content": {
                "application/zip": {"schema": {"type": "string", "format": "binary"}},
                "multipart/form-data": {
                    "schema": {
                        "type": "object",
                        "properties": {"bundle": {"type": "string", "format": "binary"}},
                    }
                },
            },
            "required": True,
        }
    },
)
async def verify_evidence(
    request: Request,
    who: Viewer,
    key: Annotated[str | None, Query(max_length=500, description="pin the expected public key")] = None,
) -> dict[str, Any]:
    """Check an uploaded bundle (the zip as the body, or a ``bundle`` form file) using only its bytes."""
    name = "upload"
    if request.headers.get("content-type", "").startswith("multipart/form-data"):
        form = await request.form()
        upload = form.get("bundle")
        if upload is None or isinstance(upload, str):
            raise ApiError(
                422,
                "invalid request: body.bundle: attach the bundle as a file field named 'bundle'",
                errors=[
                    problem("missing", "attach the bundle as a file field named 'bundle'", "body.bundle")
                ],
            )
        data = await upload.read()
        name = upload.filename or name
    else:
        data = await request.body()
    if not data:
        raise ApiError(
            422,
            "invalid request: body: send the bundle zip as the request body",
            errors=[problem("missing", "send the bundle zip as the request body", "body")],
        )
    return await run_in_threadpool(_verify, data, name, key)
