"""Versions: immutable prompt / model / ruleset versions per workflow, approvals, and the ``live`` label.

A version never changes once published (only its approval is filled in). Labels move: ``live`` is the
one agents read; ``restore --to last-approved`` moves ``live`` back, in one step, to the newest approved
version that was live before the current one. Every move is a ``control_change`` event.
"""

from __future__ import annotations

import hashlib
import json
import uuid
from dataclasses import asdict, dataclass
from datetime import datetime
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.journal import emit
from andon.control.snapshot import bump_epoch
from andon.errors import ControlError
from andon.store.tables import control_labels, control_versions

VERSION_KINDS = ("prompt", "model", "ruleset")
LIVE = "live"
LAST_APPROVED = "last-approved"


@dataclass(frozen=True, slots=True)
class Version:
    id: str
    workflow: str
    kind: str
    name: str
    version: str
    content: Any
    digest: str
    created_at: datetime
    created_by: str
    approved_at: datetime | None = None
    approved_by: str | None = None
    live: bool = False

    @property
    def ref(self) -> str:
        """How events name it: ``prompt:triage-system@v4``."""
        return f"{self.kind}:{self.name}@{self.version}"

    def as_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["created_at"] = self.created_at.isoformat()
        data["approved_at"] = self.approved_at.isoformat() if self.approved_at else None
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Version:
        values = dict(data)
        values["created_at"] = datetime.fromisoformat(values["created_at"])
        if values.get("approved_at"):
            values["approved_at"] = datetime.fromisoformat(values["approved_at"])
        return cls(**values)


def _from_row(row: Any, *, live_id: str | None) -> Version:
    return Version(
        id=row.id,
        workflow=row.workflow,
        kind=row.kind,
        name=row.name,
        version=row.version,
        content=row.content,
        digest=row.digest,
        created_at=row.created_at,
        created_by=row.created_by,
        approved_at=row.approved_at,
        approved_by=row.approved_by,
        live=row.id == live_id,
    )


def _digest(content: Any) -> str:
    return hashlib.sha256(json.dumps(content, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def label_target(conn: Connection, *, workflow: str, kind: str, name: str, label: str = LIVE) -> str | None:
    """The version id a label points at, or None if it was never set."""
    t = control_labels.c
    return conn.execute(
        sa.select(t.version_id)
        .where(t.workflow == workflow, t.kind == kind, t.name == name, t.label == label)
        .order_by(t.id.desc())
        .limit(1)
    ).scalar()


def get_version(conn: Connection, version_id: str) -> Version:
    row = conn.execute(sa.select(control_versions).where(control_versions.c.id == version_id)).first()
    if row is None:
        raise ControlError(f"no version '{version_id}'; `andon versions list WORKFLOW` shows them")
    live = label_target(conn, workflow=row.workflow, kind=row.kind, name=row.name)
    return _from_row(row, live_id=live)


def publish(
    conn: Connection,
    *,
    workflow: str,
    kind: str,
    name: str,
    content: Any,
    actor: str,
    now: datetime,
    version: str | None = None,
    live: bool = False,
) -> Version:
    """Store a new immutable version (numbered v1, v2… unless named); ``live`` also moves the label."""
    if kind not in VERSION_KINDS:
        raise ControlError(f"version kind '{kind}' is unknown; use one of: {', '.join(VERSION_KINDS)}")
    t = control_versions.c
    if version is None:
        count = conn.execute(
            sa.select(sa.func.count()).where(t.workflow == workflow, t.kind == kind, t.name == name)
        ).scalar_one()
        version = f"v{count + 1}"
    exists = conn.execute(
        sa.select(t.id).where(t.workflow == workflow, t.kind == kind, t.name == name, t.version == version)
    ).first()
    if exists is not None:
        raise ControlError(
            f"{kind} '{name}' of '{workflow}' already has a version '{version}'; versions never change"
        )
    version_id = f"ver-{uuid.uuid4().hex[:16]}"
    digest = _digest(content)
    conn.execute(
        control_versions.insert().values(
            id=version_id,
            workflow=workflow,
            kind=kind,
            name=name,
            version=version,
            content=content,
            digest=digest,
            created_at=now,
            created_by=actor,
        )
    )
    emit(
        conn,
        kind="control_change",
        actor=actor,
        workflow=workflow,
        now=now,
        payload={
            "change": "version_published",
            "version_id": version_id,
            "ref": f"{kind}:{name}@{version}",
            "digest": digest,
            "who": actor,
        },
    )
    if live:
        move_label(conn, version_id=version_id, actor=actor, reason="published live", now=now)
    return get_version(conn, version_id)


def approve(conn: Connection, version_id: str, *, actor: str, now: datetime, live: bool = False) -> Version:
    """Record a person's approval of a version (not its publisher's); ``live`` also makes it live."""
    found = get_version(conn, version_id)
    if found.approved_at is not None:
        raise ControlError(f"version {found.ref} was already approved by {found.approved_by}")
    if actor == found.created_by:
        raise ControlError(f"'{actor}' published {found.ref} and cannot approve it; another person must")
    conn.execute(
        control_versions.update()
        .where(control_versions.c.id == version_id)
        .values(approved_at=now, approved_by=actor)
    )
    emit(
        conn,
        kind="control_change",
        actor=actor,
        workflow=found.workflow,
        now=now,
        payload={"change": "version_approved", "version_id": version_id, "ref": found.ref, "who": actor},
    )
    if live:
        move_label(conn, version_id=version_id, actor=actor, reason="approved and made live", now=now)
    else:
        bump_epoch(conn)
    return get_version(conn, version_id)


def move_label(
    conn: Connection, *, version_id: str, actor: str, reason: str, now: datetime, label: str = LIVE
) -> Version:
    found = get_version(conn, version_id)
    previous = label_target(conn, workflow=found.workflow, kind=found.kind, name=found.name, label=label)
    conn.execute(
        control_labels.insert().values(
            workflow=found.workflow,
            kind=found.kind,
            name=found.name,
            label=label,
            version_id=version_id,
            moved_at=now,
            moved_by=actor,
            reason=reason,
        )
    )
    emit(
        conn,
        kind="control_change",
        actor=actor,
        workflow=found.workflow,
        now=now,
        payload={
            "change": "label_moved",
            "label": label,
            "version_id": version_id,
            "ref": found.ref,
            "previous": previous,
            "who": actor,
            "why": reason,
        },
    )
    bump_epoch(conn)
    return get_version(conn, version_id)


def last_approved(conn: Connection, *, workflow: str, kind: str, name: str) -> Version | None:
    """The newest approved version that was live before the current live one."""
    current = label_target(conn, workflow=workflow, kind=kind, name=name)
    lab, v = control_labels.c, control_versions.c
    row = conn.execute(
        sa.select(lab.version_id)
        .join(control_versions, v.id == lab.version_id)
        .where(
            lab.workflow == workflow,
            lab.kind == kind,
            lab.name == name,
            lab.label == LIVE,
            v.approved_at.is_not(None),
            lab.version_id != (current or ""),
        )
        .order_by(lab.id.desc())
        .limit(1)
    ).first()
    return get_version(conn, row.version_id) if row is not None else None


def restore(
    conn: Connection, *, workflow: str, kind: str, name: str, to: str, actor: str, reason: str, now: datetime
) -> Version:
    """Move ``live`` back: to ``last-approved``, or to a named version (``v3``) or version id."""
    if to == LAST_APPROVED:
        target = last_approved(conn, workflow=workflow, kind=kind, name=name)
        if target is None:
            raise ControlError(
                f"{kind} '{name}' of '{workflow}' has no approved version "
                "that was live before the current one"
            )
    else:
        t = control_versions.c
        row = conn.execute(
            sa.select(t.id).where(
                t.workflow == workflow, t.kind == kind, t.name == name, sa.or_(t.version == to, t.id == to)
            )
        ).first()
        if row is None:
            raise ControlError(f"{kind} '{name}' of '{workflow}' has no version '{to}'")
        target = get_version(conn, row.id)
    return move_label(conn, version_id=target.id, actor=actor, reason=f"restore: {reason}", now=now)


def list_versions(
    conn: Connection, *, workflow: str, kind: str | None = None, name: str | None = None
) -> list[Version]:
    """Every version of a workflow, oldest first, with the live one marked."""
    t = control_versions.c
    query = sa.select(control_versions).where(t.workflow == workflow)
    if kind is not None:
        query = query.where(t.kind == kind)
    if name is not None:
        query = query.where(t.name == name)
    rows = conn.execute(query.order_by(t.kind, t.name, t.created_at)).all()
    lives: dict[tuple[str, str], str | None] = {}
    found = []
    for row in rows:
        key = (row.kind, row.name)
        if key not in lives:
            lives[key] = label_target(conn, workflow=workflow, kind=row.kind, name=row.name)
        found.append(_from_row(row, live_id=lives[key]))
    return found


def live_versions(conn: Connection, *, workflow: str) -> list[Version]:
    """The version each of the workflow's prompts, models and rulesets reads now."""
    return [v for v in list_versions(conn, workflow=workflow) if v.live]
