"""An incident's timeline, built from the ledger: nothing on it is editable.

It is the incident's own events (``incident_change`` and notes naming it) merged, in ledger order,
with the workflow's events in the incident window — from the window start to the close (or now).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from andon.incidents.records import Incident
from andon.ledger.log import StoredEvent, read_events

MAX_WORKFLOW_EVENTS = 2_000  # the newest are shown; the audit explorer pages through the rest
SUMMARY_CHARS = 160


@dataclass(frozen=True, slots=True)
class Entry:
    index: int
    time: datetime
    kind: str
    actor: str
    run_id: str | None
    own: bool  # an event of the incident itself (a change or a note), not of the workflow
    summary: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "index": self.index,
            "time": self.time.isoformat(),
            "kind": self.kind,
            "actor": self.actor,
            "run_id": self.run_id,
            "incident": self.own,
            "summary": self.summary,
        }


def describe(event: StoredEvent) -> str:
    """One line for a person: what the event says."""
    p = event.payload
    if event.kind == "incident_change":
        field, after = p.get("field"), p.get("after")
        if field == "state":
            text = f"state {p.get('before')} → {after}"
        elif field == "opened" and isinstance(after, dict):
            text = f"opened: {after.get('summary')}"
        elif isinstance(after, dict):
            text = f"{field}: " + ", ".join(f"{k}={v}" for k, v in after.items() if v not in (None, "", []))
        else:
            text = f"{field}: {after}"
        if p.get("why"):
            text += f" — {p['why']}"
    elif event.kind == "note":
        text = str(p.get("text"))
    elif event.kind == "decision":
        text = f"{p.get('tool') or p.get('source')} → {p.get('decision')} ({p.get('rule')})"
    elif event.kind == "action_outcome":
        text = f"{p.get('tool')} {'ok' if p.get('ok') else 'failed'}"
    elif event.kind == "control_change":
        text = (
            f"{p.get('change')} {p.get('scope') or ''} {p.get('target') or ''}".strip() + f" — {p.get('why')}"
        )
    elif event.kind == "model_call":
        text = f"model {p.get('model')} ({p.get('prompt_version')}): {p.get('output')}"
    else:
        text = ", ".join(f"{k}={v}" for k, v in p.items())
    return text if len(text) <= SUMMARY_CHARS else text[: SUMMARY_CHARS - 1] + "…"


def timeline(
    conn: Connection, incident: Incident, *, now: datetime, limit: int = MAX_WORKFLOW_EVENTS
) -> list[Entry]:
    """The incident's events and its workflow's events in the window, in ledger order."""
    own = read_events(conn, incident_id=incident.id)
    seen = {e.index for e in own}
    theirs: list[StoredEvent] = []
    if incident.workflow is not None:
        until = incident.closed_at or now
        window = read_events(conn, workflow=incident.workflow, since=incident.window_start, until=until)
        theirs = [e for e in window if e.index not in seen][-limit:]
    merged = sorted([(e, True) for e in own] + [(e, False) for e in theirs], key=lambda pair: pair[0].index)
    return [Entry(e.index, e.time, e.kind, e.actor, e.run_id, mine, describe(e)) for e, mine in merged]
