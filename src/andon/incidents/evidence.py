"""Evidence before alteration (EU AI Act Art. 73(6)): freezing an incident's evidence bundle.

A freeze exports a signed evidence bundle of the workflow's events since the incident's window start
(``andon.ledger.evidence.export_bundle``), writes it under the evidence directory, and records its
SHA-256 in the incident and in the ledger. It happens when the incident opens and again before any
restore or rollback the incident triggers; those refuse to run when the freeze fails.
"""

from __future__ import annotations

import hashlib
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.errors import EvidenceError
from andon.incidents.records import Incident, IncidentError, record_change
from andon.ledger.evidence import Selection, export_bundle
from andon.ledger.keys import Signer
from andon.store.tables import incident_freezes

PURPOSES = ("opened", "before_restore", "before_rollback", "requested")


@dataclass(frozen=True, slots=True)
class Freeze:
    id: str
    incident: int
    purpose: str
    sha256: str
    path: str
    events: int
    tree_size: int
    since: datetime
    created_at: datetime
    created_by: str

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "purpose": self.purpose,
            "sha256": self.sha256,
            "path": self.path,
            "events": self.events,
            "tree_size": self.tree_size,
            "since": self.since.isoformat(),
            "created_at": self.created_at.isoformat(),
            "created_by": self.created_by,
        }


def default_directory() -> Path:
    """``$ANDON_DATA_DIR/evidence``: where frozen bundles are written unless told otherwise."""
    from andon.store import data_dir

    return data_dir() / "evidence"


def freeze(
    conn: Connection,
    incident: Incident,
    *,
    purpose: str,
    actor: str,
    signer: Signer,
    directory: Path,
    now: datetime,
) -> Freeze:
    """Export and record the incident's evidence bundle; IncidentError names what failed."""
    if purpose not in PURPOSES:
        raise IncidentError(f"freeze purpose '{purpose}' is unknown; use one of: {', '.join(PURPOSES)}")
    freeze_id = f"frz-{uuid.uuid4().hex[:16]}"
    path = directory / f"{incident.id}-{purpose}-{now:%Y%m%dT%H%M%S}-{freeze_id[4:12]}.zip"
    selection = Selection(workflow=incident.workflow, since=incident.window_start)
    try:
        summary = export_bundle(conn, out_path=path, signer=signer, selection=selection)
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
    except (OSError, EvidenceError) as exc:
        raise IncidentError(
            f"{incident.id}: the evidence freeze ({purpose}) failed, so nothing was altered: {exc}"
        ) from None
    found = Freeze(
        id=freeze_id,
        incident=incident.number,
        purpose=purpose,
        sha256=digest,
        path=str(path),
        events=summary.events,
        tree_size=summary.tree_size,
        since=incident.window_start,
        created_at=now,
        created_by=actor,
    )
    conn.execute(
        incident_freezes.insert().values(
            id=found.id,
            incident=found.incident,
            purpose=found.purpose,
            sha256=found.sha256,
            path=found.path,
            events=found.events,
            tree_size=found.tree_size,
            since=found.since,
            created_at=found.created_at,
            created_by=found.created_by,
        )
    )
    record_change(
        conn,
        incident,
        field="evidence",
        before=None,
        after={
            "freeze": found.id,
            "purpose": purpose,
            "sha256": digest,
            "events": found.events,
            "tree_size": found.tree_size,
        },
        actor=actor,
        now=now,
    )
    return found


def freezes(conn: Connection, number: int) -> list[Freeze]:
    """Every freeze of incident ``number``, oldest first."""
    t = incident_freezes.c
    rows = conn.execute(sa.select(incident_freezes).where(t.incident == number).order_by(t.created_at)).all()
    return [
        Freeze(
            id=row.id,
            incident=row.incident,
            purpose=row.purpose,
            sha256=row.sha256,
            path=row.path,
            events=row.events,
            tree_size=row.tree_size,
            since=row.since,
            created_at=row.created_at,
            created_by=row.created_by,
        )
        for row in rows
    ]
