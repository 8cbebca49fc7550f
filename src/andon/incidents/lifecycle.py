"""Opening incidents (declared by a person, or from a detector's signal) and moving them through
``triage → contained → mitigated → resolved → closed``.

Rules (docs/incidents.md):

- States only move forward; a move may skip ahead (a false alarm goes from triage to resolved), but
  ``closed`` is reached only from ``resolved`` and only once the review is signed off.
- ``reopen`` takes a *resolved* incident back to triage (a fix that did not hold). A closed incident
  is never reopened: a recurrence is a new incident whose ``related`` names the old one.
- A signal for a workflow and class with an open incident is grouped onto it; the same signal seen
  twice (same dedup key, same triggering event) is recorded once.

Every change is an ``incident_change`` event in the caller's transaction; notes are ``note`` events.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.redaction import ledger_redactor
from andon.detect.signal import Signal
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
from andon.ledger.log import append, read_event
from andon.runbook.revisions import Revision, latest_revision
from andon.runbook.schema import IncidentClass, Runbook, Workflow
from andon.runbook.vocabulary import INCIDENT_CLASS_NAMES
from andon.store.tables import incident_reviews, incident_signals, incidents

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


def _insert(
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
    return _insert(
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


def _open_for(conn: Connection, workflow: str, class_id: str) -> Incident | None:
    c = incidents.c
    row = conn.execute(
        sa.select(c.number)
        .where(c.workflow == workflow, c.incident_class == class_id, c.state.in_(sorted(OPEN_STATES)))
        .order_by(c.number)
        .limit(1)
    ).first()
    return None if row is None else get_incident(conn, row.number)


def _signal_severity(runbook: Runbook, signal: Signal, found: IncidentClass | None) -> str:
    ids = [s.id for s in runbook.severities]  # most severe first
    if found is None:  # the runbook does not describe this class: judge by the detector's hint
        return ids[0] if signal.severity in ("high", "critical") else ids[-1]
    position = ids.index(found.default_severity) if found.default_severity in ids else len(ids) - 1
    if signal.severity == "critical":
        position = max(0, position - 1)  # a strong hint raises the class's default by one level
    return ids[position]


def _suspects(signal: Signal) -> list[str]:
    change = signal.details.get("change")
    to = change.get("to") if isinstance(change, dict) else None
    version = to.get("prompt_version") if isinstance(to, dict) else None
    return [version] if isinstance(version, str) else []


def _record_signal(conn: Connection, incident: Incident, signal: Signal, *, now: datetime) -> bool:
    trigger = max(signal.evidence) if signal.evidence else -1
    t = incident_signals.c
    seen = conn.execute(
        sa.select(t.id).where(t.dedup_key == signal.dedup_key, t.trigger_index == trigger)
    ).first()
    if seen is not None:
        return False
    conn.execute(
        incident_signals.insert().values(
            incident=incident.number,
            detector=signal.detector,
            dedup_key=signal.dedup_key,
            trigger_index=trigger,
            time=signal.time,
            received_at=now,
            hint=signal.severity,
            summary=signal.summary,
            evidence=list(signal.evidence),
            details=signal.details,
        )
    )
    return True


def open_from_signal(
    conn: Connection, signal: Signal, *, now: datetime, actor: str = "andon:detector"
) -> tuple[Incident, bool] | None:
    """Open an incident for ``signal``, or group it onto the open one of its workflow and class.

    Returns (incident, created); None when the signal names no workflow or no runbook is applied.
    """
    if signal.workflow is None:
        return None
    revision = latest_revision(conn)
    if revision is None:
        return None
    trigger = max(signal.evidence) if signal.evidence else -1
    t = incident_signals.c
    seen = conn.execute(
        sa.select(t.incident).where(t.dedup_key == signal.dedup_key, t.trigger_index == trigger)
    ).first()
    if seen is not None:
        return get_incident(conn, seen.incident), False
    existing = _open_for(conn, signal.workflow, signal.incident_class)
    if existing is None:
        opened = _try_open(conn, signal, revision, now=now, actor=actor)
        if opened is None:
            return None
        existing, created = opened
        if created:
            _record_signal(conn, existing, signal, now=now)
            return existing, True
    if _record_signal(conn, existing, signal, now=now):
        record_change(
            conn,
            existing,
            field="signal",
            before=None,
            after={"detector": signal.detector, "summary": signal.summary, "evidence": list(signal.evidence)},
            actor=actor,
            now=now,
        )
    return existing, False


def _try_open(
    conn: Connection, signal: Signal, revision: Revision, *, now: datetime, actor: str
) -> tuple[Incident, bool] | None:
    assert signal.workflow is not None
    runbook = revision.runbook
    workflow = _workflow_or_none(runbook, signal.workflow)
    class_id = signal.incident_class
    found = next((c for c in runbook.incident_classes if c.id == class_id), None)
    described = found or IncidentClass(
        id=class_id, custom=True, default_severity=runbook.severities[-1].id, owner_role="technical_owner"
    )
    first = read_event(conn, min(signal.evidence)) if signal.evidence else None
    name = INCIDENT_CLASS_NAMES.get(class_id, class_id)
    open_key = f"{signal.workflow}|{class_id}"
    try:
        with conn.begin_nested():  # another replica may open the same incident at the same moment
            created = _insert(
                conn,
                revision=revision,
                incident_class=described,
                workflow=workflow,
                severity=_signal_severity(runbook, signal, found),
                title=f"{name} in {signal.workflow}",
                summary=f"{signal.detector}: {signal.summary}",
                source="detector",
                actor=actor,
                window_start=min(first.time, signal.time) if first is not None else signal.time,
                suspect_versions=_suspects(signal),
                now=now,
                open_key=open_key,
            )
    except sa.exc.IntegrityError:
        other = _open_for(conn, signal.workflow, class_id)
        return None if other is None else (other, False)
    return created, True


def _workflow_or_none(runbook: Runbook, workflow_id: str) -> Workflow | None:
    try:
        return runbook.workflow(workflow_id)
    except KeyError:
        return None


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
            conn, incident, field=field, before=getattr(incident, field), after=value, actor=actor, now=now,
            why=reason,
        )  # fmt: skip
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
