"""Containment and recovery taken for an incident: the runbook's automatic switches, one-click actions,
restoring the last approved version and rolling records back.

Automatic containment is proportional: it pulls exactly the switches the incident class lists under
``containment`` in the pinned runbook, scoped to the incident's workflow, in the name of
``andon:containment`` with the incident id in the reason — never more. A switch that needs a target
(a tool, a retrieval source, a credential) takes it from the events that show the incident; when they
name none, the switch is recorded as *skipped* with the reason, for a person to pull with a target.
``cap_autonomy`` caps one level below the workflow's declared autonomy (autonomous → act_with_approval:
every action waits for a person).

Restore and rollback alter what the workflow did, so each first freezes the evidence (in the same
transaction for a restore, before any undo for a rollback); when the freeze fails, nothing runs.
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from andon.control import switches
from andon.control.rollback import Selection
from andon.control.versions import LAST_APPROVED, restore
from andon.errors import ControlError
from andon.incidents.evidence import Freeze, freeze
from andon.incidents.records import Incident, IncidentError, get_incident, pinned_runbook, record_change
from andon.ledger.keys import Signer
from andon.ledger.log import StoredEvent, read_event
from andon.runbook.schema import Workflow
from andon.runbook.vocabulary import AUTONOMY_LEVELS, SWITCH_SCOPES
from andon.store.tables import incident_actions, incidents

CONTAINMENT_ACTOR = "andon:containment"
RECOVERY_ACTIONS = ("restore_version", "rollback")
ONE_CLICK: tuple[str, ...] = (*SWITCH_SCOPES, *RECOVERY_ACTIONS)
_NO_TARGET = frozenset({"pause_workflow", "freeze_writes", "block_external_sends"})


@dataclass(frozen=True, slots=True)
class IncidentAction:
    """One containment or recovery step of an incident."""

    id: str
    incident: int
    action: str
    automatic: bool
    target: str | None
    switch_id: str | None
    freeze_id: str | None
    status: str  # applied | skipped | started | done | failed | cleared
    detail: dict[str, Any]
    actor: str
    at: datetime
    cleared_at: datetime | None = None
    cleared_by: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "action": self.action,
            "automatic": self.automatic,
            "target": self.target,
            "switch_id": self.switch_id,
            "freeze_id": self.freeze_id,
            "status": self.status,
            "detail": self.detail,
            "actor": self.actor,
            "at": self.at.isoformat(),
            "cleared_at": None if self.cleared_at is None else self.cleared_at.isoformat(),
            "cleared_by": self.cleared_by,
        }


def actions(conn: Connection, number: int) -> list[IncidentAction]:
    """Every containment and recovery step of incident ``number``, oldest first."""
    t = incident_actions.c
    rows = conn.execute(sa.select(incident_actions).where(t.incident == number).order_by(t.at, t.id)).all()
    return [
        IncidentAction(**{name: getattr(row, name) for name in IncidentAction.__dataclass_fields__})
        for row in rows
    ]


def _record(
    conn: Connection,
    incident: Incident,
    *,
    action: str,
    automatic: bool,
    status: str,
    actor: str,
    now: datetime,
    target: str | None = None,
    switch_id: str | None = None,
    freeze_id: str | None = None,
    detail: dict[str, Any] | None = None,
) -> IncidentAction:
    found = IncidentAction(
        id=f"ia-{time.time_ns():016x}{uuid.uuid4().hex[:6]}",  # sorts in the order taken
        incident=incident.number,
        action=action,
        automatic=automatic,
        target=target,
        switch_id=switch_id,
        freeze_id=freeze_id,
        status=status,
        detail=detail or {},
        actor=actor,
        at=now,
    )
    conn.execute(
        incident_actions.insert().values(
            {name: getattr(found, name) for name in IncidentAction.__dataclass_fields__}
        )
    )
    record_change(
        conn,
        incident,
        field="containment" if action in SWITCH_SCOPES else "recovery",
        before=None,
        after={"action": action, "target": target, "status": status, "automatic": automatic, **found.detail},
        actor=actor,
        now=now,
    )
    return found


def capped_level(workflow: Workflow) -> str | None:
    """One autonomy level below the workflow's declared one; None when it is already ``observe``."""
    rank = AUTONOMY_LEVELS.index(workflow.autonomy)
    return AUTONOMY_LEVELS[rank - 1] if rank > 0 else None


def _targets(scope: str, workflow: Workflow, shown: list[StoredEvent], details: dict[str, Any]) -> list[str]:
    """What the events that show the incident name for a targeted switch, declared by the workflow."""
    if scope == "cap_autonomy":
        level = capped_level(workflow)
        return [level] if level else []
    tools = {t.name: t for t in workflow.tools}
    named_tools = [str(details["tool"])] if isinstance(details.get("tool"), str) else []
    named_tools += [str(e.payload.get("tool")) for e in shown if e.kind in ("decision", "action_outcome")]
    involved = [name for name in dict.fromkeys(named_tools) if name in tools]
    if scope == "block_tool":
        return involved
    if scope == "block_retrieval_source":
        declared = {s.id for s in workflow.retrieval_sources}
        sources = [str(e.payload.get("source")) for e in shown if e.kind == "retrieval"]
        return [s for s in dict.fromkeys(sources) if s in declared]
    if scope == "revoke_credential":
        shared = {c.id for c in workflow.credentials if c.shared}
        credentials = [tools[name].credential for name in involved if tools[name].credential]
        return [c for c in dict.fromkeys(credentials) if c is not None and c not in shared]
    return []


def _skip_reason(scope: str) -> str:
    return {
        "cap_autonomy": "the workflow is already at observe",
        "block_tool": "the events name no tool of the workflow",
        "block_retrieval_source": "the events name no retrieval source of the workflow",
        "revoke_credential": "the tools involved use no credential revocable for this workflow alone",
    }.get(scope, "no target")


def _mark_contained(conn: Connection, incident: Incident, *, actor: str, now: datetime) -> None:
    if incident.state != "triage":
        return
    conn.execute(
        incidents.update()
        .where(incidents.c.number == incident.number)
        .values(state="contained", contained_at=now, contained_by=actor)
    )
    record_change(
        conn,
        incident,
        field="state",
        before="triage",
        after="contained",
        actor=actor,
        now=now,
        why="containment applied",
    )


def contain_automatically(
    conn: Connection,
    incident: Incident,
    *,
    evidence: tuple[int, ...] = (),
    details: dict[str, Any] | None = None,
    now: datetime,
) -> list[IncidentAction]:
    """Pull the switches the pinned runbook lists for the incident's class; skip those with no target."""
    runbook = pinned_runbook(conn, incident)
    if runbook is None or incident.workflow is None:
        return []
    try:
        workflow = runbook.workflow(incident.workflow)
        scopes = runbook.incident_class(incident.incident_class).containment
    except KeyError:
        return []  # a class the runbook does not describe: no automatic containment
    shown = [e for e in (read_event(conn, i) for i in evidence[-20:]) if e is not None]
    reason = f"{incident.id}: automatic containment for {incident.incident_class}: {incident.summary}"
    taken: list[IncidentAction] = []
    for scope in scopes:
        if scope in _NO_TARGET:
            wanted: list[str | None] = [None]
        else:
            wanted = list(_targets(scope, workflow, shown, details or {}))
        if not wanted:
            taken.append(
                _record(
                    conn,
                    incident,
                    action=scope,
                    automatic=True,
                    status="skipped",
                    actor=CONTAINMENT_ACTOR,
                    now=now,
                    detail={"why": _skip_reason(scope)},
                )
            )
            continue
        for target in wanted:
            switch = switches.set_switch(
                conn,
                kind=scope,
                workflow=incident.workflow,
                target=target,
                actor=CONTAINMENT_ACTOR,
                reason=reason[:1000],
                now=now,
            )
            taken.append(
                _record(
                    conn,
                    incident,
                    action=scope,
                    automatic=True,
                    status="applied",
                    actor=CONTAINMENT_ACTOR,
                    now=now,
                    target=target,
                    switch_id=switch.id,
                )
            )
    if any(a.status == "applied" for a in taken):
        _mark_contained(conn, incident, actor=CONTAINMENT_ACTOR, now=now)
    return taken


def contain(
    conn: Connection,
    ident: str | int,
    *,
    action: str,
    actor: str,
    reason: str,
    now: datetime,
    target: str | None = None,
) -> IncidentAction:
    """One-click containment: pull one switch for the incident's workflow, in the responder's name."""
    if action not in SWITCH_SCOPES:
        extra = " (restore and rollback have their own commands)" if action in RECOVERY_ACTIONS else ""
        raise IncidentError(f"'{action}' is not a switch; use one of: {', '.join(SWITCH_SCOPES)}{extra}")
    if not reason.strip():
        raise IncidentError("say why: containment needs a reason (it goes into the ledger)")
    incident = get_incident(conn, ident)
    if incident.workflow is None:
        raise IncidentError(f"{incident.id} names no workflow; pull switches with `andon switches set`")
    if action == "cap_autonomy" and target is None:
        runbook = pinned_runbook(conn, incident)
        target = capped_level(runbook.workflow(incident.workflow)) if runbook else None
    try:
        switch = switches.set_switch(
            conn,
            kind=action,
            workflow=incident.workflow,
            target=target,
            actor=actor,
            reason=f"{incident.id}: {reason}",
            now=now,
        )
    except ControlError as exc:
        raise IncidentError(f"{incident.id}: {exc}") from None
    taken = _record(
        conn,
        incident,
        action=action,
        automatic=False,
        status="applied",
        actor=actor,
        now=now,
        target=target,
        switch_id=switch.id,
        detail={"why": reason},
    )
    _mark_contained(conn, incident, actor=actor, now=now)
    return taken


def restore_version(
    conn: Connection,
    ident: str | int,
    *,
    kind: str,
    name: str,
    actor: str,
    reason: str,
    signer: Signer,
    directory: Path,
    now: datetime,
    to: str = LAST_APPROVED,
) -> tuple[IncidentAction, Freeze]:
    """Freeze the evidence, then move ``live`` back (default: the last approved version)."""
    incident = get_incident(conn, ident)
    if incident.workflow is None:
        raise IncidentError(f"{incident.id} names no workflow; there is no version to restore")
    frozen = freeze(
        conn, incident, purpose="before_restore", actor=actor, signer=signer, directory=directory, now=now
    )
    try:
        version = restore(
            conn,
            workflow=incident.workflow,
            kind=kind,
            name=name,
            to=to,
            actor=actor,
            reason=f"{incident.id}: {reason}",
            now=now,
        )
    except ControlError as exc:
        raise IncidentError(f"{incident.id}: {exc}") from None
    taken = _record(
        conn,
        incident,
        action="restore_version",
        automatic=False,
        status="done",
        actor=actor,
        now=now,
        target=version.ref,
        freeze_id=frozen.id,
        detail={"why": reason, "version_id": version.id},
    )
    return taken, frozen


def begin_rollback(
    conn: Connection,
    ident: str | int,
    *,
    actor: str,
    reason: str,
    signer: Signer,
    directory: Path,
    now: datetime,
    version: str | None = None,
) -> tuple[IncidentAction, Selection]:
    """Freeze the evidence and record a rollback as started; returns the step and what to undo.

    The undos run where they are registered (the agent's SDK); call ``finish_rollback`` with the report.
    """
    incident = get_incident(conn, ident)
    if incident.workflow is None:
        raise IncidentError(f"{incident.id} names no workflow; there is nothing to roll back")
    frozen = freeze(
        conn, incident, purpose="before_rollback", actor=actor, signer=signer, directory=directory, now=now
    )
    selection = Selection(workflow=incident.workflow, since=incident.window_start, until=now, version=version)
    taken = _record(
        conn,
        incident,
        action="rollback",
        automatic=False,
        status="started",
        actor=actor,
        now=now,
        freeze_id=frozen.id,
        detail={"why": reason, "selection": selection.as_dict()},
    )
    return taken, selection


def finish_rollback(
    conn: Connection, ident: str | int, step_id: str, *, report: dict[str, Any], actor: str, now: datetime
) -> IncidentAction:
    """Record the result of a rollback started with ``begin_rollback``."""
    incident = get_incident(conn, ident)
    t = incident_actions.c
    row = conn.execute(
        sa.select(incident_actions).where(t.id == step_id, t.incident == incident.number)
    ).first()
    if row is None or row.action != "rollback" or row.status != "started" or row.freeze_id is None:
        raise IncidentError(f"{incident.id} has no started rollback '{step_id}' with frozen evidence")
    failed = bool(report.get("failed")) or bool(report.get("conflicts"))
    detail = {**row.detail, "report": report}
    conn.execute(
        incident_actions.update()
        .where(t.id == step_id)
        .values(status="failed" if failed else "done", detail=detail)
    )
    record_change(
        conn,
        incident,
        field="recovery",
        before={"action": "rollback", "status": "started"},
        after={"action": "rollback", "status": "failed" if failed else "done", "report": report},
        actor=actor,
        now=now,
    )
    return next(a for a in actions(conn, incident.number) if a.id == step_id)
