"""Opening incidents (declared by a person; ``signals`` opens them from detectors) and moving them
through ``triage → contained → mitigated → resolved → closed``.

Rules (docs/incidents.md):

- States only move forward; a move may skip ahead (a false alarm goes from triage to resolved), but
  ``closed`` is reached only from ``resolved`` and only once the review is signed off.
- ``reopen`` takes a *resolved* incident back to triage (a fix that did not hold). A closed incident
  is never reopened: a recurrence is a new incident whose ``related`` names the old one.

Every change is an ``incident_change`` event in the caller's transaction; notes are ``note`` events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.redaction import ledger_redactor
from andon.incidents.checklist import create_checklist
from andon.incidents.records import (
    OPEN_STATES,
    STATES,
    Incident,
    IncidentError,
    get_incident,
    pinned_runbook,
    record_change,
    resolve_owners,
)
from andon.ledger.events import Event
from andon.ledger.log import append
from andon.runbook.revisions import Revision, latest_revision
from andon.runbook.schema import IncidentClass, Runbook, Workflow
from andon.runbook.vocabulary import INCIDENT_CLASS_NAMES
from andon.store.tables import incident_reviews, incidents

DECLARED_WINDOW = timedelta(hours=24)  # how far back a declared incident looks unless told


def _revision(conn: Connection) -> Revision:
    revision = latest_revision(conn)
    if revision is None:
        raise IncidentError("no runbook is applied; run `andon apply RUNBOOK` first")
    return revision


def _class(runbook: Runbook, class_id: str) -> IncidentClass:
    try:
        return runbook.incident_class(class_id)
    except KeyError:
        known = ", ".join(c.id for c in runbook.incident_classes) or "none"
        raise IncidentError(f"no incident class '{class_id}' in the runbook (classes: {known})") from None


def _workflow(runbook: Runbook, workflow_id: str | None) -> Workflow | None:
    if workflow_id is None:
        return None
    try:
        return runbook.workflow(workflow_id)
    except KeyError as exc:
        raise IncidentError(str(exc.args[0])) from None


def _severity(runbook: Runbook, wanted: str | None, default: str) -> str:
    chosen = wanted or default
    ids = [s.id for s in runbook.severities]
    if chosen not in ids:
        raise IncidentError(f"no severity '{chosen}' in the runbook (severities: {', '.join(ids)})")
    return chosen


def insert_incident(
    conn: Connection,
    *,
    revision: Revision,
    incident_class: IncidentClass,
    workflow: Workflow | None,
    severity: str,
    title: str,
    summary: str,
    source: str,
    actor: str,
    window_start: datetime,
    suspect_versions: list[str],
    now: datetime,
    open_key: str | None,
) -> Incident:
    runbook = revision.runbook
    owners = resolve_owners(runbook, workflow, incident_class)
    values: dict[str, Any] = {
        "title": title,
        "incident_class": incident_class.id,
        "severity": severity,
        "workflow": workflow.id if workflow else None,
        "state": "triage",
        "source": source,
        "runbook_revision": revision.revision,
        "summary": summary,
        "owners": owners,
        "data_classes": sorted(workflow.data_classes) if workflow else [],
        "suspect_versions": suspect_versions,
        "window_start": window_start,
        "opened_at": now,
        "opened_by": actor,
        "open_key": open_key,
    }
    number = int(conn.execute(incidents.insert().values(**values).returning(incidents.c.number)).scalar_one())
    create_checklist(conn, number, runbook=runbook, workflow=workflow, incident_class=incident_class)
    incident = get_incident(conn, number)
    record_change(
        conn,
        incident,
        field="opened",
        before=None,
        after={
            "title": title,
            "class": incident_class.id,
            "severity": severity,
            "workflow": incident.workflow,
            "source": source,
            "runbook_revision": revision.revision,
            "owners": owners,
            "summary": summary,
        },
        actor=actor,
        now=now,
    )
    return incident


def declare(
    conn: Connection,
    *,
    incident_class: str,
    workflow: str | None,
    summary: str,
    actor: str,
    now: datetime,
    title: str | None = None,
    severity: str | None = None,
    since: datetime | None = None,
    suspect_versions: list[str] | None = None,
) -> Incident:
    """A person opens an incident; class, severity and owners come from the newest runbook."""
    if not summary.strip():
        raise IncidentError("say what is happening: an incident needs a summary")
    revision = _revision(conn)
    runbook = revision.runbook
    found_class = _class(runbook, incident_class)
    found_workflow = _workflow(runbook, workflow)
    name = INCIDENT_CLASS_NAMES.get(incident_class, incident_class)
    return insert_incident(
        conn,
        revision=revision,
        incident_class=found_class,
        workflow=found_workflow,
        severity=_severity(runbook, severity, found_class.default_severity),
        title=title or (f"{name} in {workflow}" if workflow else name),
        summary=summary,
        source="declared",
        actor=actor,
        window_start=since if since is not None else now - DECLARED_WINDOW,
        suspect_versions=list(suspect_versions or []),
        now=now,
        open_key=None,
    )


def _review_signed_off(conn: Connection, number: int) -> bool:
    t = incident_reviews.c
    row = conn.execute(sa.select(t.signed_off_at).where(t.incident == number)).first()
    return row is not None and row.signed_off_at is not None


def transition(
    conn: Connection, ident: str | int, *, to: str, actor: str, reason: str, now: datetime
) -> Incident:
    """Move the incident forward to state ``to``, with who, when and why."""
    if to not in STATES:
        raise IncidentError(f"state '{to}' is unknown; use one of: {', '.join(STATES)}")
    if not reason.strip():
        raise IncidentError("say why: a state change needs a reason (it goes into the ledger)")
    incident = get_incident(conn, ident)
    current = STATES.index(incident.state)
    target = STATES.index(to)
    if target <= current:
        hint = " (`andon incidents reopen` takes a resolved one back)" if to == "triage" else ""
        raise IncidentError(f"{incident.id} is {incident.state}; it cannot move back to {to}{hint}")
    if to == "closed":
        if incident.state != "resolved":
            raise IncidentError(f"{incident.id} is {incident.state}; resolve it before closing it")
        if not _review_signed_off(conn, incident.number):
            raise IncidentError(
                f"{incident.id} cannot close before its review is signed off (`andon review {incident.id}`)"
            )
    values: dict[str, Any] = {"state": to, f"{to}_at": now, f"{to}_by": actor}
    if to not in OPEN_STATES:
        values["open_key"] = None
    conn.execute(incidents.update().where(incidents.c.number == incident.number).values(**values))
    record_change(
        conn, incident, field="state", before=incident.state, after=to, actor=actor, now=now, why=reason
    )
    return get_incident(conn, incident.number)


def reopen(conn: Connection, ident: str | int, *, actor: str, reason: str, now: datetime) -> Incident:
    """Take a resolved incident back to triage; a closed one stays closed (open a new, related one)."""
    if not reason.strip():
        raise IncidentError("say why: reopening needs a reason (it goes into the ledger)")
    incident = get_incident(conn, ident)
    if incident.state != "resolved":
        recurrence = "; declare a new incident with --related for a recurrence"
        raise IncidentError(
            f"{incident.id} is {incident.state}; only a resolved incident can be reopened"
            + (recurrence if incident.state == "closed" else "")
        )
    cleared = {f"{s}_{w}": None for s in ("contained", "mitigated", "resolved") for w in ("at", "by")}
    conn.execute(
        incidents.update().where(incidents.c.number == incident.number).values(state="triage", **cleared)
    )
    record_change(
        conn, incident, field="state", before="resolved", after="triage", actor=actor, now=now, why=reason
    )
    return get_incident(conn, incident.number)


def acknowledge(conn: Connection, ident: str | int, *, actor: str, now: datetime) -> Incident:
    """Record that a responder has the incident (the severity's ``acknowledge_within`` is met)."""
    incident = get_incident(conn, ident)
    if incident.acknowledged_at is not None:
        return incident
    conn.execute(
        incidents.update()
        .where(incidents.c.number == incident.number)
        .values(acknowledged_at=now, acknowledged_by=actor)
    )
    record_change(conn, incident, field="acknowledged", before=None, after=actor, actor=actor, now=now)
    return get_incident(conn, incident.number)


def update(
    conn: Connection,
    ident: str | int,
    *,
    actor: str,
    reason: str,
    now: datetime,
    severity: str | None = None,
    data_classes: list[str] | None = None,
    suspect_versions: list[str] | None = None,
    related: str | int | None = None,
) -> Incident:
    """Change the severity, the data classes involved, the suspect versions or the related incident."""
    incident = get_incident(conn, ident)
    changes: dict[str, Any] = {}
    if severity is not None and severity != incident.severity:
        runbook = pinned_runbook(conn, incident) or _revision(conn).runbook
        changes["severity"] = _severity(runbook, severity, incident.severity)
    if data_classes is not None:
        changes["data_classes"] = sorted(set(data_classes))
    if suspect_versions is not None:
        changes["suspect_versions"] = list(dict.fromkeys(suspect_versions))
    if related is not None:
        changes["related"] = get_incident(conn, related).number
    if not changes:
        return incident
    conn.execute(incidents.update().where(incidents.c.number == incident.number).values(**changes))
    for field, value in changes.items():
        record_change(
            conn,
            incident,
            field=field,
            before=getattr(incident, field),
            after=value,
            actor=actor,
            now=now,
            why=reason,
        )
    return get_incident(conn, incident.number)


def add_note(conn: Connection, ident: str | int, *, text: str, actor: str, now: datetime) -> int:
    """A note on the timeline: a ``note`` ledger event naming the incident; returns its leaf index."""
    if not text.strip():
        raise IncidentError("a note needs text")
    incident = get_incident(conn, ident)
    event = Event(
        kind="note",
        actor=actor,
        payload={"incident_id": incident.id, "text": text},
        workflow=incident.workflow,
        time=now,
    )
    return append(conn, [event], redactor=ledger_redactor(conn))[0]
