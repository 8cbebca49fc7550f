"""The first-hour checklist: the incident class's ``first_hour`` items, each with a named owner.

Items are copied from the pinned runbook when the incident opens; ticking one off (or un-ticking it)
records who and when, and is an ``incident_change`` event.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.incidents.records import Incident, IncidentError, contact_for_role, record_change
from andon.runbook.schema import IncidentClass, Runbook, Workflow
from andon.store.tables import incident_checklist


@dataclass(frozen=True, slots=True)
class ChecklistItem:
    position: int
    text: str
    owner_role: str
    owner_contact: str | None
    within: timedelta | None
    done_at: datetime | None
    done_by: str | None

    @property
    def done(self) -> bool:
        return self.done_at is not None

    def due_at(self, opened_at: datetime) -> datetime | None:
        return None if self.within is None else opened_at + self.within

    def as_dict(self, opened_at: datetime) -> dict[str, Any]:
        due = self.due_at(opened_at)
        return {
            "position": self.position,
            "text": self.text,
            "owner_role": self.owner_role,
            "owner": self.owner_contact,
            "within_seconds": None if self.within is None else int(self.within.total_seconds()),
            "due_at": None if due is None else due.isoformat(),
            "done": self.done,
            "done_at": None if self.done_at is None else self.done_at.isoformat(),
            "done_by": self.done_by,
        }


def create_checklist(
    conn: Connection,
    number: int,
    *,
    runbook: Runbook,
    workflow: Workflow | None,
    incident_class: IncidentClass,
) -> int:
    """Copy the class's first-hour items onto incident ``number``; returns how many."""
    rows = [
        {
            "incident": number,
            "position": position,
            "text": item.do,
            "owner_role": item.owner,
            "owner_contact": contact_for_role(runbook, workflow, item.owner),
            "within_seconds": None if item.within is None else int(item.within.total_seconds()),
        }
        for position, item in enumerate(incident_class.first_hour, start=1)
    ]
    if rows:
        conn.execute(incident_checklist.insert(), rows)
    return len(rows)


def checklist(conn: Connection, number: int) -> list[ChecklistItem]:
    t = incident_checklist.c
    rows = conn.execute(sa.select(incident_checklist).where(t.incident == number).order_by(t.position)).all()
    return [
        ChecklistItem(
            position=row.position,
            text=row.text,
            owner_role=row.owner_role,
            owner_contact=row.owner_contact,
            within=None if row.within_seconds is None else timedelta(seconds=row.within_seconds),
            done_at=row.done_at,
            done_by=row.done_by,
        )
        for row in rows
    ]


def mark_item(
    conn: Connection, incident: Incident, position: int, *, done: bool, actor: str, now: datetime
) -> ChecklistItem:
    """Tick item ``position`` done (or not done again); who and when go into the ledger."""
    items = {item.position: item for item in checklist(conn, incident.number)}
    if position not in items:
        raise IncidentError(
            f"{incident.id} has no checklist item {position} (items 1 to {len(items)})"
            if items
            else f"{incident.id} has no checklist; its class declares no first_hour items"
        )
    item = items[position]
    t = incident_checklist.c
    conn.execute(
        incident_checklist.update()
        .where(t.incident == incident.number, t.position == position)
        .values(done_at=now if done else None, done_by=actor if done else None)
    )
    record_change(
        conn,
        incident,
        field="checklist",
        before={"position": position, "done": item.done},
        after={"position": position, "done": done, "text": item.text},
        actor=actor,
        now=now,
    )
    return checklist(conn, incident.number)[position - 1]
