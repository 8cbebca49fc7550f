"""Writing control events to the ledger, inside the caller's transaction, masked by the runbook's rules."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.engine import Connection

from andon.control.redaction import ledger_redactor
from andon.ledger.events import Event
from andon.ledger.log import append
from andon.ledger.redact import Redactor


def emit(
    conn: Connection,
    *,
    kind: str,
    actor: str,
    payload: dict[str, Any],
    workflow: str | None,
    now: datetime,
    run_id: str | None = None,
    redactor: Redactor | None = None,
) -> int:
    """Append one event and return its leaf index; it commits or rolls back with the caller's work.

    The payload is redacted by ``redactor``, by default the newest runbook revision's (one small read;
    pass it when the caller already knows the revision).
    """
    event = Event(kind=kind, actor=actor, payload=payload, workflow=workflow, run_id=run_id, time=now)
    return append(conn, [event], redactor=redactor or ledger_redactor(conn))[0]
