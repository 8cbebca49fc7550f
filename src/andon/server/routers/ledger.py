"""``/v1/events`` and ``/v1/ledger``: append and read events, proofs, checkpoints, verify, the key.

Agents append events for their own workflows (``POST /v1/events``, the SDK's batches); people read
them page by page, each with its inclusion proof against the latest signed checkpoint.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime
from typing import Annotated, Any, Literal

import sqlalchemy as sa
from fastapi import APIRouter, Depends, Query
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field, field_validator
from sqlalchemy.engine import Connection

from andon.control.redaction import ledger_redactor
from andon.errors import LedgerError
from andon.ledger.canonical import canonical_bytes
from andon.ledger.checkpoint import latest_checkpoint, write_checkpoint
from andon.ledger.events import KINDS, Event
from andon.ledger.log import append, read_event, tree_size
from andon.ledger.verify import verify_ledger
from andon.runbook.revisions import latest_revision
from andon.server import audit
from andon.server.auth import EngineDep, require
from andon.server.errors import ApiError, problem
from andon.server.metrics import MetricsDep
from andon.server.params import LeafIndex, index_query
from andon.server.principals import Principal
from andon.store import reading
from andon.store.tables import control_event_batches

router = APIRouter(tags=["ledger"])
Appender = Annotated[Principal, Depends(require("agent"))]
Viewer = Annotated[Principal, Depends(require("viewer"))]
Responder = Annotated[Principal, Depends(require("responder"))]

MAX_BATCH = 1000  # events per request; the SDK sends at most 500
Name = Annotated[str, Field(min_length=1, max_length=200)]


def _known_kind(value: str) -> str:
    if value not in KINDS:
        raise ValueError(f"unknown event kind {value!r}; use one of: {', '.join(KINDS)}")
    return value


class EventIn(BaseModel):
    """One event as a writer sends it; ``time`` defaults to when the server receives it."""

    model_config = ConfigDict(extra="forbid")

    kind: str = Field(description=f"one of: {', '.join(KINDS)}")
    actor: Name = Field(description="who or what caused the event")
    payload: dict[str, Any] = Field(default_factory=dict)
    workflow: Name | None = None
    run_id: Name | None = None
    time: AwareDatetime | None = None

    _kind = field_validator("kind")(_known_kind)


class EventBatch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    batch_id: str | None = Field(
        None,
        min_length=1,
        max_length=64,
        description="a batch sent twice (say, after a timeout) is stored once",
    )
    events: list[EventIn] = Field(min_length=1, max_length=MAX_BATCH)


def _visible(who: Principal, workflow: str | None) -> bool:
    return who.workflows is None or (workflow is not None and who.may_touch(workflow))


def _check_batch(conn: Connection, who: Principal, body: EventBatch) -> list[Event]:
    """The batch as ledger events, or the one error naming every bad event (nothing is stored)."""
    outside = [
        problem(
            "forbidden",
            f"{who.kind} {who.id} may not write events for workflow {e.workflow!r}",
            f"body.events.{i}.workflow",
        )
        for i, e in enumerate(body.events)
        if not _visible(who, e.workflow)
    ]
    if outside:
        raise ApiError(
            403,
            f"{outside[0]['message']} ({len(outside)} event(s) outside its scope)",
            code="forbidden",
            errors=outside,
        )
    revision = latest_revision(conn)
    declared = {w["id"] for w in revision.document.get("workflows", [])} if revision else set()
    problems = []
    for i, e in enumerate(body.events):
        if e.workflow is not None and e.workflow not in declared:
            where = (
                f"runbook revision {revision.revision} declares {', '.join(sorted(declared)) or 'none'}"
                if revision
                else "no runbook is applied yet"
            )
            problems.append(
                problem(
                    "unknown_workflow",
                    f"unknown workflow {e.workflow!r}; {where}",
                    f"body.events.{i}.workflow",
                )
            )
        try:
            canonical_bytes(e.payload)
        except LedgerError as exc:
            problems.append(problem("not_canonical", str(exc), f"body.events.{i}.payload"))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise ApiError(
            422,
            f"invalid request: {problems[0]['location']}: {problems[0]['message']}{more}",
            errors=problems,
        )
    now = datetime.now(UTC)
    return [
        Event(
            kind=e.kind,
            actor=e.actor,
            payload=e.payload,
            workflow=e.workflow,
            run_id=e.run_id,
            time=e.time or now,
        )
        for e in body.events
    ]


def _seen(conn: Connection, batch_id: str) -> bool:
    c = control_event_batches.c
    return conn.execute(sa.select(c.id).where(c.id == batch_id)).first() is not None


@router.post("/v1/events", status_code=201)
def append_events(body: EventBatch, who: Appender, engine: EngineDep, metrics: MetricsDep) -> dict[str, Any]:
    """Append a batch of events in order; returns their leaf indexes (gapless, in the order sent).

    Payloads are redacted by the newest runbook's ``redaction`` rules (every builtin rule when it has
    none, or before any runbook is applied) before they are hashed.
    A ``batch_id`` seen before appends nothing and answers ``duplicate: true``.
    """
    duplicate = {"appended": 0, "indexes": [], "batch_id": body.batch_id, "duplicate": True}
    try:
        with engine.begin() as conn:
            events = _check_batch(conn, who, body)
            if body.batch_id is not None:
                if _seen(conn, body.batch_id):
                    return duplicate
                conn.execute(
                    control_event_batches.insert().values(
                        id=body.batch_id, received_at=datetime.now(UTC), events=len(events)
                    )
                )
            indexes = append(conn, events, redactor=ledger_redactor(conn))
    except sa.exc.IntegrityError:
        if body.batch_id is None:
            raise
        return duplicate  # the same batch committed by a concurrent request first
    for kind, count in Counter(e.kind for e in events).items():
        metrics.events_appended(kind=kind, count=count)
    return {"appended": len(indexes), "indexes": indexes, "batch_id": body.batch_id, "duplicate": False}


@router.get("/v1/events")
def list_events(
    who: Viewer,
    engine: EngineDep,
    workflow: Annotated[str | None, Query(max_length=200)] = None,
    run_id: Annotated[str | None, Query(max_length=200)] = None,
    kind: Annotated[list[str], Query(description="repeat or comma-separate")] = [],  # noqa: B006
    since: AwareDatetime | None = None,
    until: AwareDatetime | None = None,
    after: Annotated[int | None, index_query(ge=-1, description="only leaf indexes above this")] = None,
    before: Annotated[int | None, index_query(ge=0, description="only leaf indexes below this")] = None,
    order: Literal["newest", "oldest"] = "newest",
    limit: Annotated[int, Query(ge=1, le=audit.MAX_PAGE)] = 100,
    cursor: Annotated[int | None, index_query(ge=0, description="next_cursor of the previous page")] = None,
) -> dict[str, Any]:
    """A page of events, newest first by default; ``since`` inclusive, ``until`` exclusive."""
    query = event_query(
        who,
        workflow=workflow,
        run_id=run_id,
        kind=kind,
        since=since,
        until=until,
        after=after,
        before=before,
        order=order,
    )
    with reading(engine) as conn:
        page = audit.page_events(conn, query, limit=limit, cursor=cursor)
    return {
        "events": [audit.event_json(e) for e in page.events],
        "next_cursor": page.next_cursor,
        "order": order,
        "limit": limit,
    }


def event_query(
    who: Principal,
    *,
    workflow: str | None,
    run_id: str | None,
    kind: list[str],
    since: datetime | None,
    until: datetime | None,
    after: int | None = None,
    before: int | None = None,
    order: audit.Order = "newest",
) -> audit.EventQuery:
    """Query parameters as an EventQuery for ``who``: unknown kinds and out-of-scope workflows refused."""
    kinds = audit.kinds_of(kind)
    unknown = [k for k in kinds if k not in KINDS]
    if unknown:
        message = f"unknown event kind {unknown[0]!r}; use one of: {', '.join(KINDS)}"
        raise ApiError(
            422,
            f"invalid request: query.kind: {message}",
            errors=[problem("value_error", message, "query.kind")],
        )
    if workflow is not None and not who.may_touch(workflow):
        raise ApiError(403, f"{who.kind} {who.id} is not scoped to workflow {workflow!r}", code="forbidden")
    return audit.EventQuery(
        workflow=workflow or None,
        workflows=who.workflows,
        run_id=run_id or None,
        kinds=kinds,
        since=since,
        until=until,
        after=after,
        before=before,
        order=order,
    )


@router.get("/v1/events/{index}")
def get_event(index: LeafIndex, who: Viewer, engine: EngineDep) -> dict[str, Any]:
    """One event with its canonical bytes and its inclusion proof against the latest checkpoint."""
    with reading(engine) as conn:
        event = read_event(conn, index) if index >= 0 else None
        if event is None or not _visible(who, event.workflow):
            raise ApiError(404, f"no event at index {index}", code="not_found")
        proof = audit.inclusion(conn, event, audit.verifier())
    return {"event": audit.event_json(event, canonical=True), "proof": proof}


@router.get("/v1/ledger/checkpoint")
def get_checkpoint(who: Viewer, engine: EngineDep) -> dict[str, Any]:
    """The latest signed checkpoint (a C2SP signed note in ``note``)."""
    with reading(engine) as conn:
        stored = latest_checkpoint(conn)
    if stored is None:
        raise ApiError(404, "no checkpoint yet; sign one with POST /v1/ledger/checkpoint", code="not_found")
    return audit.checkpoint_json(stored.note, stored.size, stored.key_id, stored.created_at)


@router.post("/v1/ledger/checkpoint")
def sign_checkpoint(who: Responder, engine: EngineDep) -> dict[str, Any]:
    """Sign a checkpoint of the ledger as it is now (unchanged when nothing was appended since)."""
    with engine.begin() as conn:
        if tree_size(conn) == 0:
            raise ApiError(409, "the ledger is empty; there is nothing to sign yet", code="conflict")
        before = latest_checkpoint(conn)
        stored = write_checkpoint(conn, audit.signer())
    assert stored is not None  # the ledger is not empty
    created = before is None or before.id != stored.id
    return {
        **audit.checkpoint_json(stored.note, stored.size, stored.key_id, stored.created_at),
        "created": created,
    }


@router.get("/v1/ledger/verify")
def verify(who: Viewer, engine: EngineDep) -> dict[str, Any]:
    """Recompute the tree from every stored leaf and check it, the head and every checkpoint."""
    trusted = audit.verifier()
    with reading(engine) as conn:
        report = verify_ledger(conn, verifier=trusted)
    return {**report.as_dict(), "signatures_checked": trusted is not None}


@router.get("/v1/ledger/key")
def ledger_key(who: Viewer) -> dict[str, Any]:
    """The ledger's public key: pin it to verify checkpoints and evidence bundles offline."""
    trusted = audit.verifier()
    if trusted is None:
        raise ApiError(
            404, "the ledger has no signing key yet; it is made with the first checkpoint", code="not_found"
        )
    return {
        "name": trusted.name,
        "key_id": trusted.key_id.hex(),
        "vkey": trusted.vkey(),
        "public_key": trusted.raw(),
    }
