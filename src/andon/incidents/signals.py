"""Incidents opened from detector signals: one per workflow and class while it is open, the rest grouped.

A signal for a workflow and class with an open incident (triage, contained, mitigated) is grouped onto
it; the same signal seen twice (same dedup key, same triggering event) is recorded once; two replicas
seeing the same signal open one incident (the unique ``open_key`` held while it is open).
"""

from __future__ import annotations

from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.detect.signal import Signal
from andon.incidents.lifecycle import insert_incident
from andon.incidents.records import OPEN_STATES, Incident, get_incident, record_change
from andon.ledger.log import read_event
from andon.runbook.revisions import Revision, latest_revision
from andon.runbook.schema import IncidentClass, Runbook, Workflow
from andon.runbook.vocabulary import INCIDENT_CLASS_NAMES
from andon.store.tables import incident_signals, incidents


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
    try:
        with conn.begin_nested():  # another replica's watch may record the same signal at the same moment
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
    except sa.exc.IntegrityError:
        return False  # it did: the signal counts once, and this replica has nothing more to add
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
            created = insert_incident(
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
