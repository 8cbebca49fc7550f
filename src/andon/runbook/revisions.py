"""Applied runbooks as immutable, numbered revisions in the store.

Services take a connection and only execute; the caller (CLI command, API route) owns the
transaction. Revisions are never updated or deleted: applying a changed runbook adds one, and applying
an unchanged runbook (same document digest) returns the latest revision instead of adding a copy.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.runbook.schema import Runbook
from andon.store.tables import runbook_revisions


@dataclass(frozen=True, slots=True)
class Revision:
    """One applied runbook: its number, who applied it and when, and the document itself."""

    revision: int
    created_at: datetime
    actor: str
    digest: str
    source: str
    document: dict[str, Any]

    @property
    def runbook(self) -> Runbook:
        return Runbook.from_document(self.document)


def document_digest(document: dict[str, Any]) -> str:
    """SHA-256 of the document's canonical JSON: formatting and comments do not change it."""
    canonical = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


def _row_to_revision(row: sa.Row[Any]) -> Revision:
    return Revision(
        revision=row.revision,
        created_at=row.created_at,
        actor=row.actor,
        digest=row.digest,
        source=row.source,
        document=row.document,
    )


def apply_runbook(
    conn: Connection, runbook: Runbook, *, source: str, actor: str, now: datetime | None = None
) -> tuple[Revision, bool]:
    """Store ``runbook`` as the next revision; returns (revision, created).

    ``created`` is False when the newest revision already holds the same document.
    """
    document = runbook.to_document()
    digest = document_digest(document)
    latest = latest_revision(conn)
    if latest is not None and latest.digest == digest:
        return latest, False
    created_at = now or datetime.now(UTC)
    result = conn.execute(
        runbook_revisions.insert()
        .values(created_at=created_at, actor=actor, source=source, digest=digest, document=document)
        .returning(runbook_revisions.c.revision)
    )
    number = int(result.scalar_one())
    return Revision(
        revision=number,
        created_at=created_at,
        actor=actor,
        digest=digest,
        source=source,
        document=document,
    ), True


def latest_revision(conn: Connection) -> Revision | None:
    """The newest applied revision, or None when no runbook was ever applied."""
    row = conn.execute(
        sa.select(runbook_revisions).order_by(runbook_revisions.c.revision.desc()).limit(1)
    ).first()
    return _row_to_revision(row) if row is not None else None


def get_revision(conn: Connection, revision: int) -> Revision:
    """Revision number ``revision``; KeyError if there is none."""
    row = conn.execute(sa.select(runbook_revisions).where(runbook_revisions.c.revision == revision)).first()
    if row is None:
        raise KeyError(f"no runbook revision {revision}")
    return _row_to_revision(row)


def list_revisions(conn: Connection) -> list[Revision]:
    """Every revision, oldest first."""
    rows = conn.execute(sa.select(runbook_revisions).order_by(runbook_revisions.c.revision)).all()
    return [_row_to_revision(row) for row in rows]
