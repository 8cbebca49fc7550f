"""Writing control events to the ledger, inside the caller's transaction."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from andon.ledger.events import Event
from andon.ledger.log import append


def emit(
    conn: Connection,
    *,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    workflow: str | None,
    now: datetime,
    run_id: str | None = None,
) -> int:
    """Append one event and return its leaf index; it commits or rolls back with the caller's work."""
    event = Event(kind=kind, actor=actor, payload=payload, workflow=workflow, run_id=run_id, time=now)
    return append(conn, [event])[0]
