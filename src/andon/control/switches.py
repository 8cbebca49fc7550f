"""Switches: scoped stops with who, why and an optional expiry — set, cleared and listed.

Every change is a ``control_change`` ledger event in the same transaction and bumps the control epoch,
so agents holding a copy of the control state reload it.
"""

from __future__ import annotations

import uuid
from datetime import datetime

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control.journal import emit
from andon.control.snapshot import bump_epoch, current_revision, policies, switch_from_row
from andon.control.state import AUTONOMY_ORDER, SWITCH_KINDS, TARGETED_KINDS, Switch
from andon.errors import ControlError
from andon.store.tables import control_switches

BREAKER_ACTOR = "andon:circuit-breaker"


def _check(conn: Connection, *, kind: str, workflow: str | None, target: str | None) -> None:
    if kind not in SWITCH_KINDS:
        raise ControlError(f"switch '{kind}' is unknown; use one of: {', '.join(SWITCH_KINDS)}")
    if kind in TARGETED_KINDS and not target:
        raise ControlError(
            f"switch '{kind}' needs a target (the tool, source, credential or level it applies to)"
        )
    if kind == "cap_autonomy" and target not in AUTONOMY_ORDER:
        raise ControlError(
            f"cap_autonomy target '{target}' is not a level; use one of: {', '.join(AUTONOMY_ORDER)}"
        )
    if workflow is None:
        if kind not in ("revoke_credential", "block_external_sends", "pause_workflow", "freeze_writes"):
            raise ControlError(f"switch '{kind}' needs a workflow")
        return
    compiled = policies(conn, current_revision(conn))
    policy = compiled.get(workflow)
    if policy is None:
        known = ", ".join(sorted(compiled)) or "none; run `andon apply RUNBOOK` first"
        raise ControlError(f"no workflow '{workflow}' in the applied runbook (workflows: {known})")
    # A typo in a target would leave the real thing running while the responder thinks it is stopped.
    known_targets = {
        "block_tool": set(policy.tools),
        "block_retrieval_source": set(policy.retrieval_sources),
        "revoke_credential": set(policy.credentials)
        | {t.credential for t in policy.tools.values() if t.credential},
    }.get(kind)
    if known_targets is not None and target not in known_targets:
        names = ", ".join(sorted(known_targets)) or "none"
        raise ControlError(
            f"workflow '{workflow}' has no {kind.split('_', 1)[1]} '{target}' (declared: {names})"
        )


def set_switch(
    conn: Connection,
    *,
    kind: str,
    workflow: str | None,
    target: str | None = None,
    actor: str,
    reason: str,
    expires_at: datetime | None = None,
    now: datetime,
) -> Switch:
    """Pull a switch. ``workflow`` None applies it to every workflow (credentials, sends, pause, freeze)."""
    if not reason.strip():
        raise ControlError("say why: a switch needs a reason (it goes into the ledger)")
    if expires_at is not None and expires_at <= now:
        raise ControlError(f"expiry {expires_at.isoformat()} is in the past")
    _check(conn, kind=kind, workflow=workflow, target=target)
    switch_id = f"sw-{uuid.uuid4().hex[:16]}"
    conn.execute(
        control_switches.insert().values(
            id=switch_id,
            kind=kind,
            workflow=workflow,
            target=target,
            actor=actor,
            reason=reason,
            created_at=now,
            expires_at=expires_at,
        )
    )
    emit(
        conn,
        kind="control_change",
        actor=actor,
        workflow=workflow,
        now=now,
        payload={
            "change": "switch_set",
            "switch": switch_id,
            "scope": kind,
            "target": target,
            "who": actor,
            "why": reason,
            "expires_at": expires_at.isoformat() if expires_at else None,
        },
    )
    bump_epoch(conn)
    row = conn.execute(sa.select(control_switches).where(control_switches.c.id == switch_id)).one()
    return switch_from_row(row)


def clear_switches(
    conn: Connection,
    *,
    actor: str,
    reason: str,
    now: datetime,
    switch_id: str | None = None,
    workflow: str | None = None,
    kinds: tuple[str, ...] = (),
    target: str | None = None,
) -> list[Switch]:
    """Clear switches in force, by id or by workflow (and optionally kind/target). Returns those cleared."""
    if not reason.strip():
        raise ControlError("say why: clearing a switch needs a reason (it goes into the ledger)")
    t = control_switches.c
    query = sa.select(control_switches).where(t.cleared_at.is_(None))
    if switch_id is not None:
        query = query.where(t.id == switch_id)
    elif workflow is not None:
        query = query.where(t.workflow == workflow)
    else:
        raise ControlError("name the switch to clear: a switch id, or a workflow")
    if kinds:
        query = query.where(t.kind.in_(kinds))
    if target is not None:
        query = query.where(t.target == target)
    rows = conn.execute(query.order_by(t.created_at)).all()
    if switch_id is not None and not rows:
        raise ControlError(f"no switch '{switch_id}' in force; `andon switches list` shows them")
    cleared = [switch_from_row(row) for row in rows]
    if not cleared:
        return []
    conn.execute(
        control_switches.update()
        .where(t.id.in_([s.id for s in cleared]))
        .values(cleared_at=now, cleared_by=actor, cleared_reason=reason)
    )
    for switch in cleared:
        emit(
            conn,
            kind="control_change",
            actor=actor,
            workflow=switch.workflow,
            now=now,
            payload={
                "change": "switch_cleared",
                "switch": switch.id,
                "scope": switch.kind,
                "target": switch.target,
                "who": actor,
                "why": reason,
                "set_by": switch.actor,
            },
        )
    bump_epoch(conn)
    return cleared


def list_switches(
    conn: Connection, *, now: datetime, workflow: str | None = None, include_cleared: bool = False
) -> list[Switch]:
    """Switches in force (or every switch ever set, with ``include_cleared``), oldest first."""
    t = control_switches.c
    query = sa.select(control_switches)
    if not include_cleared:
        query = query.where(t.cleared_at.is_(None), sa.or_(t.expires_at.is_(None), t.expires_at > now))
    if workflow is not None:
        query = query.where(sa.or_(t.workflow == workflow, t.workflow.is_(None)))
    return [switch_from_row(row) for row in conn.execute(query.order_by(t.created_at)).all()]


def trip_breaker(conn: Connection, *, workflow: str, why: str, now: datetime) -> Switch | None:
    """The circuit breaker pulls the cord: a pause in the breaker's name, cleared by a person (resume)."""
    t = control_switches.c
    already = conn.execute(
        sa.select(t.id).where(
            t.workflow == workflow,
            t.kind == "pause_workflow",
            t.actor == BREAKER_ACTOR,
            t.cleared_at.is_(None),
        )
    ).first()
    if already is not None:
        return None
    return set_switch(
        conn,
        kind="pause_workflow",
        workflow=workflow,
        actor=BREAKER_ACTOR,
        reason=f"circuit breaker tripped: {why}",
        now=now,
    )
