"""Read models shared by the CLI, the JSON API and the console: one incident with everything about it."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.incidents import acts, escalate, review
from andon.incidents.checklist import checklist
from andon.incidents.containment import actions
from andon.incidents.evidence import freezes
from andon.incidents.records import Incident, get_incident, pinned_runbook
from andon.incidents.timeline import timeline
from andon.store.tables import incident_signals


def signals(conn: Connection, number: int) -> list[dict[str, Any]]:
    t = incident_signals.c
    rows = conn.execute(sa.select(incident_signals).where(t.incident == number).order_by(t.id)).all()
    return [
        {
            "detector": row.detector,
            "dedup_key": row.dedup_key,
            "trigger_index": row.trigger_index,
            "time": row.time.isoformat(),
            "hint": row.hint,
            "summary": row.summary,
            "evidence": row.evidence,
        }
        for row in rows
    ]


def contacts(conn: Connection, incident: Incident) -> dict[str, dict[str, Any]]:
    """The pinned runbook's contacts named by the incident's owners: name, role, e-mail, phone."""
    runbook = pinned_runbook(conn, incident)
    if runbook is None:
        return {}
    named = {v for k, v in incident.owners.items() if isinstance(v, str) and k != "incident_role"}
    named.update(incident.owners.get("approvers") or [])
    found = {}
    for contact_id in sorted(named):
        contact = runbook.organisation.contacts.get(contact_id)
        if contact is not None:
            found[contact_id] = contact.model_dump(exclude_none=True)
    return found


def clock_views(conn: Connection, incident: Incident, *, now: datetime) -> list[dict[str, Any]]:
    return [clock.as_dict(now) for clock in acts.clocks(conn, incident)]


def incident_view(
    conn: Connection, ident: str | int, *, now: datetime, timeline_limit: int = 500
) -> dict[str, Any]:
    """Everything about one incident, JSON-ready."""
    incident = get_incident(conn, ident)
    found = review.get_review(conn, incident.number)
    return {
        "incident": incident.as_dict(),
        "contacts": contacts(conn, incident),
        "signals": signals(conn, incident.number),
        "checklist": [item.as_dict(incident.opened_at) for item in checklist(conn, incident.number)],
        "actions": [a.as_dict() for a in actions(conn, incident.number)],
        "freezes": [f.as_dict() for f in freezes(conn, incident.number)],
        "regimes": acts.applicable_regimes(conn, incident),
        "acts": [a.as_dict() for a in acts.acts(conn, incident.number)],
        "clocks": clock_views(conn, incident, now=now),
        "escalations": escalate.escalations(conn, incident.number),
        "review": found.as_dict(),
        "restart_gate": review.restart_gate(conn, incident),
        "timeline": [e.as_dict() for e in timeline(conn, incident, now=now, limit=timeline_limit)],
    }
