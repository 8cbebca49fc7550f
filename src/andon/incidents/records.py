"""The incident record: its id, states, owners resolved from the runbook, and reading it from the store.

An incident is numbered (``INC-0042``) and pins the runbook revision it was opened under: owners,
severity, checklist and regimes are read from that revision for the rest of its life, even after the
runbook changes. The store row is the current state; its history is the ledger (``incident_change``).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.redaction import ledger_redactor
from andon.errors import AndonError
from andon.ledger.events import Event
from andon.ledger.log import append
from andon.runbook.revisions import get_revision
from andon.runbook.schema import IncidentClass, Runbook, Workflow
from andon.store.tables import incidents

STATES: tuple[str, ...] = ("triage", "contained", "mitigated", "resolved", "closed")
OPEN_STATES: frozenset[str] = frozenset({"triage", "contained", "mitigated"})
_WORKFLOW_ROLES = {"business_owner": "business", "technical_owner": "technical"}
_ID = re.compile(r"^(?:INC-)?0*(\d+)$", re.IGNORECASE)


class IncidentError(AndonError):
    """An incident rule refused the change (unknown incident, a step back, a gate not passed)."""


class IncidentNotFound(IncidentError):
    """No incident has that id."""


def incident_id(number: int) -> str:
    return f"INC-{number:04d}"


def parse_id(text: str | int) -> int:
    """``INC-0042``, ``inc-42`` or ``42`` → 42; IncidentError for anything else."""
    found = _ID.match(str(text).strip())
    if found is None:
        raise IncidentError(f"'{text}' is not an incident id; ids look like INC-0042")
    return int(found.group(1))


@dataclass(frozen=True, slots=True)
class Incident:
    """One incident as the store holds it now."""

    number: int
    title: str
    incident_class: str
    severity: str
    workflow: str | None
    state: str
    source: str
    runbook_revision: int | None
    summary: str
    owners: dict[str, Any]
    data_classes: list[str]
    suspect_versions: list[str]
    window_start: datetime
    opened_at: datetime
    opened_by: str
    acknowledged_at: datetime | None = None
    acknowledged_by: str | None = None
    contained_at: datetime | None = None
    contained_by: str | None = None
    mitigated_at: datetime | None = None
    mitigated_by: str | None = None
    resolved_at: datetime | None = None
    resolved_by: str | None = None
    closed_at: datetime | None = None
    closed_by: str | None = None
    related: int | None = None

    @property
    def id(self) -> str:
        return incident_id(self.number)

    @property
    def is_open(self) -> bool:
        return self.state in OPEN_STATES

    def as_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {"id": self.id}
        for name in self.__dataclass_fields__:
            value = getattr(self, name)
            data[name] = value.isoformat() if isinstance(value, datetime) else value
        data["related"] = incident_id(self.related) if self.related else None
        return data


def _from_row(row: Any) -> Incident:
    values = {name: getattr(row, name) for name in Incident.__dataclass_fields__}
    return Incident(**values)


def get_incident(conn: Connection, ident: str | int) -> Incident:
    """The incident named ``INC-0042`` (or 42); IncidentError when there is none."""
    number = parse_id(ident)
    row = conn.execute(sa.select(incidents).where(incidents.c.number == number)).first()
    if row is None:
        raise IncidentNotFound(f"no incident {incident_id(number)}; `andon incidents list` shows them")
    return _from_row(row)


def list_incidents(
    conn: Connection,
    *,
    state: str | None = None,
    open_only: bool = False,
    workflow: str | None = None,
    limit: int = 200,
) -> list[Incident]:
    """Incidents, newest first, filtered by state, openness and workflow."""
    c = incidents.c
    query = sa.select(incidents).order_by(c.number.desc()).limit(limit)
    if state is not None:
        if state not in STATES:
            raise IncidentError(f"state '{state}' is unknown; use one of: {', '.join(STATES)}")
        query = query.where(c.state == state)
    if open_only:
        query = query.where(c.state.in_(sorted(OPEN_STATES)))
    if workflow is not None:
        query = query.where(c.workflow == workflow)
    return [_from_row(row) for row in conn.execute(query)]


def pinned_runbook(conn: Connection, incident: Incident) -> Runbook | None:
    """The runbook revision the incident was opened under (None if it was opened without one)."""
    if incident.runbook_revision is None:
        return None
    return get_revision(conn, incident.runbook_revision).runbook


def contact_for_role(runbook: Runbook, workflow: Workflow | None, role: str) -> str | None:
    """The contact id that answers for ``role``: a workflow owner, the first approver, or the first
    contact with that role (contacts on the escalation route first)."""
    if workflow is not None:
        if role in _WORKFLOW_ROLES:
            owner: str = getattr(workflow.owners, _WORKFLOW_ROLES[role])
            return owner
        if role == "communications_owner" and workflow.owners.communications:
            return workflow.owners.communications
        if role == "approver" and workflow.approvers:
            return workflow.approvers[0]
    wanted = "communications" if role == "communications_owner" else role
    route = list(runbook.organisation.escalation)
    ordered = route + [c for c in runbook.organisation.contacts if c not in route]
    for contact_id in ordered:
        contact = runbook.organisation.contacts.get(contact_id)
        if contact is not None and contact.role == wanted:
            return contact_id
    return None


def resolve_owners(
    runbook: Runbook, workflow: Workflow | None, incident_class: IncidentClass
) -> dict[str, Any]:
    """Who answers for the incident: the class's owner role as a named contact, and the workflow's
    business, technical and communications owners and approvers."""
    return {
        "incident": contact_for_role(runbook, workflow, incident_class.owner_role),
        "incident_role": incident_class.owner_role,
        "business": contact_for_role(runbook, workflow, "business_owner"),
        "technical": contact_for_role(runbook, workflow, "technical_owner"),
        "communications": contact_for_role(runbook, workflow, "communications_owner"),
        "approvers": list(workflow.approvers) if workflow is not None else [],
    }


def owner_contacts(incident: Incident) -> set[str]:
    """Every contact id named as an owner of the incident (who may sign its review off)."""
    named = {incident.owners.get(k) for k in ("incident", "business", "technical", "communications")}
    named.update(incident.owners.get("approvers") or [])
    return {c for c in named if isinstance(c, str)}


def record_change(
    conn: Connection,
    incident: Incident,
    *,
    field: str,
    before: Any,
    after: Any,
    actor: str,
    now: datetime,
    **extra: Any,
) -> int:
    """Append one ``incident_change`` event (in the caller's transaction); returns its leaf index."""
    payload = {"incident_id": incident.id, "field": field, "before": before, "after": after, **extra}
    event = Event(kind="incident_change", actor=actor, payload=payload, workflow=incident.workflow, time=now)
    return append(conn, [event], redactor=ledger_redactor(conn))[0]
