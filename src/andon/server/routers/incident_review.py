"""``/v1/incidents/{id}/…``: regulatory clock acts and clocks, affected records, the review and the
restart gate. Reading is open to viewers, changing to responders; each change is one transaction.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from fastapi import APIRouter
from fastapi.responses import PlainTextResponse, Response
from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from andon.incidents import acts, affected, review
from andon.incidents.views import clock_views
from andon.server.auth import EngineDep
from andon.server.params import INT64_MAX, Position
from andon.server.routers.incidents import (
    Name,
    Reason,
    ReasonIn,
    Responder,
    Viewer,
    change_incident,
    found,
    utcnow,
)
from andon.store import reading

router = APIRouter(prefix="/v1/incidents", tags=["incidents"])


class ActIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    act: Literal["trigger", "finding", "filing"]
    name: Name
    who: Name
    statement: Reason
    at: AwareDatetime | None = None
    regime: Name | None = None
    reference: Annotated[str, Field(max_length=200)] = ""
    disposition: Literal["filed", "not_required"] = "filed"


class ReviewIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    root_cause: Literal[review.ROOT_CAUSES]  # type: ignore[valid-type]
    summary: Annotated[str, Field(max_length=20_000)] = ""
    no_eval_reason: Annotated[str, Field(max_length=2000)] | None = None


class ItemIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    text: Reason
    owner: Name
    required: bool = True


class CaseIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    expected: Any
    source_index: Annotated[int, Field(ge=0, le=INT64_MAX)] | None = None
    input: Any = None
    note: Annotated[str, Field(max_length=2000)] = ""


class SignOffIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    contact: Name


@router.post("/{incident_id}/acts", status_code=201)
def act_route(incident_id: str, body: ActIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """Record a trigger ("we became aware"), a finding or a filing — attributed and timestamped."""
    now = utcnow()
    act = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: acts.record_act(
            c,
            i,
            act=body.act,
            name=body.name,
            who=body.who,
            at=body.at or now,
            statement=body.statement,
            actor=who.actor,
            now=now,
            regime=body.regime,
            reference=body.reference,
            disposition=body.disposition,
        ),
    )
    return {"act": act.as_dict()}


@router.get("/{incident_id}/clocks")
def clocks_route(incident_id: str, who: Viewer, engine: EngineDep) -> dict[str, Any]:
    with reading(engine) as conn, found(conn, incident_id, who) as incident:
        return {
            "incident": incident.id,
            "regimes": acts.applicable_regimes(conn, incident),
            "clocks": clock_views(conn, incident, now=utcnow()),
        }


@router.get("/{incident_id}/affected", response_model=None)
def affected_route(
    incident_id: str, who: Viewer, engine: EngineDep, format: Literal["json", "csv"] = "json"
) -> dict[str, Any] | Response:
    """Actions, records and recipients touched in the window or under a suspect version."""
    with reading(engine) as conn, found(conn, incident_id, who) as incident:
        rows = affected.affected(conn, incident)
    if format == "csv":
        return PlainTextResponse(
            affected.to_csv(rows),
            media_type="text/csv",
            headers={"Content-Disposition": f'attachment; filename="{incident.id}-affected.csv"'},
        )
    return {"actions": [r.as_dict() for r in rows], "customers": affected.customers(rows)}


@router.get("/{incident_id}/review")
def review_route(incident_id: str, who: Viewer, engine: EngineDep) -> dict[str, Any]:
    with reading(engine) as conn, found(conn, incident_id, who) as incident:
        return {
            "review": review.get_review(conn, incident.number).as_dict(),
            "restart_gate": review.restart_gate(conn, incident),
        }


@router.put("/{incident_id}/review")
def write_review_route(incident_id: str, body: ReviewIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    result = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: review.set_review(
            c,
            i,
            root_cause=body.root_cause,
            summary=body.summary,
            actor=who.actor,
            now=utcnow(),
            no_eval_reason=body.no_eval_reason,
        ),
    )
    return {"review": result.as_dict()}


@router.post("/{incident_id}/review/items", status_code=201)
def item_route(incident_id: str, body: ItemIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    item = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: review.add_item(
            c, i, text=body.text, owner=body.owner, actor=who.actor, now=utcnow(), required=body.required
        ),
    )
    return {"item": item.as_dict()}


@router.post("/{incident_id}/review/items/{item_id}/done")
def item_done_route(incident_id: str, item_id: Position, who: Responder, engine: EngineDep) -> dict[str, Any]:
    item = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: review.mark_item_done(c, i, item_id, actor=who.actor, now=utcnow()),
    )
    return {"item": item.as_dict()}


@router.post("/{incident_id}/review/cases", status_code=201)
def case_route(incident_id: str, body: CaseIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    case = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: review.add_eval_case(
            c,
            i,
            expected=body.expected,
            actor=who.actor,
            now=utcnow(),
            source_index=body.source_index,
            input=body.input,
            note=body.note,
        ),
    )
    return {"case": case.as_dict()}


@router.get("/{incident_id}/review/cases.jsonl")
def cases_route(incident_id: str, who: Viewer, engine: EngineDep) -> Response:
    with reading(engine) as conn, found(conn, incident_id, who) as incident:
        text = review.eval_cases_jsonl(review.get_review(conn, incident.number), incident)
    return PlainTextResponse(text, media_type="application/x-ndjson")


@router.post("/{incident_id}/review/sign-off")
def sign_off_route(incident_id: str, body: SignOffIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """A named owner of the incident (a contact id) signs the review off."""
    result = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: review.sign_off(c, i, contact=body.contact, actor=who.actor, now=utcnow()),
    )
    return {"review": result.as_dict()}


@router.post("/{incident_id}/resume")
def resume_route(incident_id: str, body: ReasonIn, who: Responder, engine: EngineDep) -> dict[str, Any]:
    """The restart gate: clear the incident's containment switches once the review allows it (409 if not)."""
    cleared = change_incident(
        engine,
        incident_id,
        who,
        lambda c, i: review.resume(c, i, actor=who.actor, reason=body.reason, now=utcnow()),
    )
    return {"cleared": cleared}
