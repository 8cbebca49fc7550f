"""The post-incident review and the restart gate.

A review names the root cause (one of ``ROOT_CAUSES``), carries action items with owners and done
state, and evaluation cases captured from the incident's events — the input the workflow saw and the
output it should have produced — exportable as JSONL for the team's evaluation suite.

The **restart gate**: the incident's containment switches are cleared (automation resumes) only when

1. a review with a root cause exists,
2. every required action item is done,
3. at least one evaluation case was captured, or the review says why none applies,
4. a named owner of the incident (a contact id from its owners) has signed the review off,
5. the evidence was frozen at least once.

Anything missing is listed by ``restart_gate``; ``resume`` refuses with that list.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control import switches
from andon.incidents.evidence import freezes
from andon.incidents.records import Incident, IncidentError, owner_contacts, record_change
from andon.ledger.log import read_event, read_events
from andon.store.tables import (
    incident_actions,
    incident_eval_cases,
    incident_review_items,
    incident_reviews,
)

ROOT_CAUSES: tuple[str, ...] = (
    "hallucination",
    "retrieval",
    "prompt_injection",
    "memory_poisoning",
    "excess_permission",
    "approver_error",
    "integration_change",
)


@dataclass(frozen=True, slots=True)
class Item:
    id: int
    text: str
    owner: str
    required: bool
    done_at: datetime | None
    done_by: str | None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "text": self.text,
            "owner": self.owner,
            "required": self.required,
            "done": self.done_at is not None,
            "done_at": None if self.done_at is None else self.done_at.isoformat(),
            "done_by": self.done_by,
        }


@dataclass(frozen=True, slots=True)
class EvalCase:
    id: int
    source_index: int | None
    run_id: str | None
    input: Any
    expected: Any
    actual: Any
    note: str
    created_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "source_index": self.source_index,
            "run_id": self.run_id,
            "input": self.input,
            "expected": self.expected,
            "actual": self.actual,
            "note": self.note,
            "created_by": self.created_by,
        }


@dataclass(frozen=True, slots=True)
class Review:
    root_cause: str | None
    summary: str
    no_eval_reason: str | None
    signed_off_at: datetime | None
    signed_off_by: str | None
    signed_off_actor: str | None
    items: list[Item] = field(default_factory=list)
    cases: list[EvalCase] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {
            "root_cause": self.root_cause,
            "summary": self.summary,
            "no_eval_reason": self.no_eval_reason,
            "signed_off_at": None if self.signed_off_at is None else self.signed_off_at.isoformat(),
            "signed_off_by": self.signed_off_by,
            "signed_off_actor": self.signed_off_actor,
            "items": [i.as_dict() for i in self.items],
            "eval_cases": [c.as_dict() for c in self.cases],
        }


def get_review(conn: Connection, number: int) -> Review:
    """The review of incident ``number`` (empty when none was started)."""
    row = conn.execute(sa.select(incident_reviews).where(incident_reviews.c.incident == number)).first()
    ti, tc = incident_review_items.c, incident_eval_cases.c
    items = [
        Item(r.id, r.text, r.owner, r.required, r.done_at, r.done_by)
        for r in conn.execute(sa.select(incident_review_items).where(ti.incident == number).order_by(ti.id))
    ]
    cases = [
        EvalCase(r.id, r.source_index, r.run_id, r.input, r.expected, r.actual, r.note, r.created_by)
        for r in conn.execute(sa.select(incident_eval_cases).where(tc.incident == number).order_by(tc.id))
    ]
    if row is None:
        return Review(None, "", None, None, None, None, items, cases)
    return Review(
        row.root_cause,
        row.summary,
        row.no_eval_reason,
        row.signed_off_at,
        row.signed_off_by,
        row.signed_off_actor,
        items,
        cases,
    )


def set_review(
    conn: Connection,
    incident: Incident,
    *,
    root_cause: str,
    summary: str,
    actor: str,
    now: datetime,
    no_eval_reason: str | None = None,
) -> Review:
    """Write (or rewrite) the review's root cause and summary; a rewrite withdraws any sign-off."""
    if root_cause not in ROOT_CAUSES:
        raise IncidentError(f"root cause '{root_cause}' is unknown; use one of: {', '.join(ROOT_CAUSES)}")
    values = {
        "root_cause": root_cause,
        "summary": summary,
        "no_eval_reason": no_eval_reason or None,
        "updated_at": now,
        "updated_by": actor,
        "signed_off_at": None,
        "signed_off_by": None,
        "signed_off_actor": None,
    }
    t = incident_reviews.c
    exists = conn.execute(sa.select(t.incident).where(t.incident == incident.number)).first()
    if exists is None:
        conn.execute(incident_reviews.insert().values(incident=incident.number, **values))
    else:
        conn.execute(incident_reviews.update().where(t.incident == incident.number).values(**values))
    record_change(
        conn,
        incident,
        field="review",
        before=None,
        after={"root_cause": root_cause, "summary": summary, "no_eval_reason": no_eval_reason},
        actor=actor,
        now=now,
    )
    return get_review(conn, incident.number)


def add_item(
    conn: Connection,
    incident: Incident,
    *,
    text: str,
    owner: str,
    actor: str,
    now: datetime,
    required: bool = True,
) -> Item:
    if not text.strip() or not owner.strip():
        raise IncidentError("an action item needs text and an owner")
    item_id = conn.execute(
        incident_review_items.insert()
        .values(
            incident=incident.number,
            text=text,
            owner=owner,
            required=required,
            created_at=now,
            created_by=actor,
        )
        .returning(incident_review_items.c.id)
    ).scalar_one()
    record_change(
        conn,
        incident,
        field="review_item",
        before=None,
        after={"item": item_id, "text": text, "owner": owner, "required": required, "done": False},
        actor=actor,
        now=now,
    )
    return next(i for i in get_review(conn, incident.number).items if i.id == item_id)


def mark_item_done(
    conn: Connection, incident: Incident, item_id: int, *, actor: str, now: datetime, done: bool = True
) -> Item:
    t = incident_review_items.c
    result = conn.execute(
        incident_review_items.update()
        .where(t.id == item_id, t.incident == incident.number)
        .values(done_at=now if done else None, done_by=actor if done else None)
    )
    if result.rowcount != 1:
        raise IncidentError(f"{incident.id} has no review item {item_id}")
    record_change(
        conn,
        incident,
        field="review_item",
        before=None,
        after={"item": item_id, "done": done},
        actor=actor,
        now=now,
    )
    return next(i for i in get_review(conn, incident.number).items if i.id == item_id)


def _input_of(conn: Connection, payload: dict[str, Any], run_id: str | None) -> Any:
    if payload.get("input") is not None:
        return payload["input"]
    if run_id is None:
        return None
    for event in read_events(conn, run_id=run_id, kinds=("note",), limit=20):
        if event.payload.get("input") is not None:
            return event.payload["input"]  # the run's own input ("run started")
    return None


def add_eval_case(
    conn: Connection,
    incident: Incident,
    *,
    expected: Any,
    actor: str,
    now: datetime,
    source_index: int | None = None,
    input: Any = None,
    note: str = "",
) -> EvalCase:
    """Capture an evaluation case: from a ledger event (its input and actual output) or given in full."""
    run_id = None
    actual = None
    if source_index is not None:
        event = read_event(conn, source_index)
        if event is None:
            raise IncidentError(f"no ledger event {source_index}")
        if incident.workflow is not None and event.workflow != incident.workflow:
            raise IncidentError(f"event {source_index} is not of workflow {incident.workflow}")
        run_id = event.run_id
        actual = event.payload.get("output")
        input = input if input is not None else _input_of(conn, event.payload, run_id)
    if input is None:
        raise IncidentError("an evaluation case needs an input: name a ledger event or give the input")
    case_id = conn.execute(
        incident_eval_cases.insert()
        .values(
            incident=incident.number,
            source_index=source_index,
            run_id=run_id,
            input=input,
            expected=expected,
            actual=actual,
            note=note,
            created_at=now,
            created_by=actor,
        )
        .returning(incident_eval_cases.c.id)
    ).scalar_one()
    record_change(
        conn,
        incident,
        field="eval_case",
        before=None,
        after={"case": case_id, "source_index": source_index, "expected": expected},
        actor=actor,
        now=now,
    )
    return next(c for c in get_review(conn, incident.number).cases if c.id == case_id)


def eval_cases_jsonl(review: Review, incident: Incident) -> str:
    """One JSON object per line: ``{"id", "incident", "input", "expected", "actual", "source_index"}``."""
    lines = [
        json.dumps(
            {
                "id": f"{incident.id}-{case.id}",
                "incident": incident.id,
                "input": case.input,
                "expected": case.expected,
                "actual": case.actual,
                "source_index": case.source_index,
                "note": case.note,
            },
            sort_keys=True,
            ensure_ascii=False,
        )
        for case in review.cases
    ]
    return "".join(line + "\n" for line in lines)


def sign_off(conn: Connection, incident: Incident, *, contact: str, actor: str, now: datetime) -> Review:
    """A named owner (a contact id among the incident's owners) signs the review off."""
    review = get_review(conn, incident.number)
    if review.root_cause is None:
        raise IncidentError(f"{incident.id} has no review to sign off; write it first (root cause, summary)")
    allowed = owner_contacts(incident)
    if contact not in allowed:
        names = ", ".join(sorted(allowed)) or "none"
        raise IncidentError(f"'{contact}' is not a named owner of {incident.id}; owners: {names}")
    conn.execute(
        incident_reviews.update()
        .where(incident_reviews.c.incident == incident.number)
        .values(signed_off_at=now, signed_off_by=contact, signed_off_actor=actor)
    )
    record_change(
        conn, incident, field="sign_off", before=None, after={"contact": contact}, actor=actor, now=now
    )
    return get_review(conn, incident.number)


def restart_gate(conn: Connection, incident: Incident) -> list[str]:
    """What still stands between the incident and resuming automation (empty: the gate is open)."""
    review = get_review(conn, incident.number)
    missing: list[str] = []
    if review.root_cause is None:
        missing.append("write the review with a root cause")
    for item in review.items:
        if item.required and item.done_at is None:
            missing.append(f"finish required action item {item.id}: {item.text} (owner {item.owner})")
    if not review.cases and not review.no_eval_reason:
        missing.append("capture at least one evaluation case from the incident (or say why none applies)")
    if review.signed_off_at is None:
        missing.append("a named owner signs the review off")
    if not freezes(conn, incident.number):
        missing.append("freeze the evidence")
    return missing


def resume(conn: Connection, incident: Incident, *, actor: str, reason: str, now: datetime) -> list[str]:
    """Clear the incident's containment switches still in force, once the restart gate is open.

    Returns the switch ids cleared; IncidentError lists what is missing when the gate is closed.
    """
    missing = restart_gate(conn, incident)
    if missing:
        raise IncidentError(f"{incident.id}: automation cannot resume yet: " + "; ".join(missing))
    t = incident_actions.c
    rows = conn.execute(
        sa.select(t.id, t.switch_id).where(
            t.incident == incident.number, t.status == "applied", t.switch_id.is_not(None)
        )
    ).all()
    in_force = {s.id for s in switches.list_switches(conn, now=now, workflow=incident.workflow)}
    cleared: list[str] = []
    for row in rows:
        if row.switch_id in in_force:
            why = f"{incident.id}: {reason}"
            switches.clear_switches(conn, switch_id=row.switch_id, actor=actor, reason=why, now=now)
            cleared.append(row.switch_id)
        conn.execute(
            incident_actions.update()
            .where(t.id == row.id)
            .values(status="cleared", cleared_at=now, cleared_by=actor)
        )
    record_change(
        conn,
        incident,
        field="restart",
        before=None,
        after={"cleared": cleared},
        actor=actor,
        now=now,
        why=reason,
    )
    return cleared
