"""``IncidentDesk``: the incident operations that span more than one transaction, over a store engine.

Opening an incident and pulling its automatic containment is one transaction (fast: detection to
containment within a second); freezing the evidence is the next (an export can take a while and must
not hold the containment back). A rollback freezes first, then runs the agent's undos, then records
the result. The CLI, the server and the watcher call these; single-step changes (acknowledge, notes,
checklist, review) are domain functions the caller runs in its own transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

from sqlalchemy.engine import Connection, Engine

from andon.detect.signal import Signal
from andon.incidents import containment, escalate, lifecycle, signals
from andon.incidents.containment import IncidentAction
from andon.incidents.escalate import Claimed
from andon.incidents.evidence import Freeze, default_directory, freeze
from andon.incidents.records import Incident, IncidentError, get_incident, list_incidents
from andon.ledger.keys import Signer
from andon.notify import Dispatcher, NotifyError

log = logging.getLogger("andon.incidents")


def _utcnow() -> datetime:
    return datetime.now(UTC)


class RollbackRunner(Protocol):
    """What runs the undos: ``andon.Andon`` (its ``rollback``) in the process that registered them."""

    def rollback(
        self,
        *,
        workflow: str | None = None,
        since: datetime | None = None,
        until: datetime | None = None,
        version: str | None = None,
        run_id: str | None = None,
        actor: str | None = None,
        reason: str = "rollback",
        dry_run: bool = True,
        progress: bool = False,
    ) -> Any: ...


@dataclass(frozen=True, slots=True)
class Opened:
    """What handling a signal or a declaration did."""

    incident: Incident
    created: bool
    containment: list[IncidentAction] = field(default_factory=list)
    freeze: Freeze | None = None
    freeze_error: str | None = None


class IncidentDesk:
    """Incident operations over ``engine``; evidence bundles are signed by ``signer`` into ``directory``."""

    def __init__(
        self,
        engine: Engine,
        *,
        signer: Signer | Callable[[], Signer] | None = None,
        directory: Path | None = None,
        dispatcher: Dispatcher | None = None,
        clock: Callable[[], datetime] = _utcnow,
    ) -> None:
        self.engine = engine
        self.dispatcher = dispatcher
        self._signer = signer
        self.directory = directory or default_directory()
        self.clock = clock

    @property
    def signer(self) -> Signer:
        if isinstance(self._signer, Signer):
            return self._signer
        if self._signer is not None:
            self._signer = self._signer()
            return self._signer
        from andon.ledger.keys import signing_key

        self._signer = signing_key()
        return self._signer

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        with self.engine.begin() as conn:
            yield conn

    def _freeze_opened(self, incident: Incident, *, actor: str) -> tuple[Freeze | None, str | None]:
        try:
            with self._tx() as conn:
                frozen = freeze(
                    conn,
                    incident,
                    purpose="opened",
                    actor=actor,
                    signer=self.signer,
                    directory=self.directory,
                    now=self.clock(),
                )
            return frozen, None
        except IncidentError as exc:  # containment stays; restore and rollback will freeze again first
            log.error("%s", exc)
            return None, str(exc)

    def _send(self, claimed: Claimed) -> None:
        report = None
        if self.dispatcher is not None:
            try:
                report = self.dispatcher.dispatch(claimed.notification)
            except NotifyError as exc:  # a misconfigured channel: record it, keep the incident going
                log.error("notification %s not sent: %s", claimed.notification.key, exc)
        with self._tx() as conn:
            escalate.record_delivery(conn, claimed, report)

    def page(self, ident: str | int) -> Claimed | None:
        """Send the opening page once (to the severity's page contacts and the incident owner)."""
        with self._tx() as conn:
            claimed = escalate.claim_opening(conn, get_incident(conn, ident), now=self.clock())
        if claimed is not None:
            self._send(claimed)
        return claimed

    def after_open(self, ident: str | int, *, actor: str = "andon:detector") -> Opened:
        """What follows containment of a new incident: freeze its evidence, page its people."""
        with self._tx() as conn:
            incident = get_incident(conn, ident)
        frozen, error = self._freeze_opened(incident, actor=actor)
        self.page(incident.number)
        return Opened(incident, True, [], frozen, error)

    def escalate(self) -> list[Claimed]:
        """Send every clock escalation step now due on open incidents, once per step."""
        now = self.clock()
        with self._tx() as conn:
            claimed = [
                c for i in list_incidents(conn, open_only=True) for c in escalate.claim_due(conn, i, now=now)
            ]
        for item in claimed:
            self._send(item)
        return claimed

    # -- opening ---------------------------------------------------------------------------------
    def handle_signal(self, signal: Signal, *, freeze_now: bool = True) -> Opened | None:
        """Open (or group onto) the incident for ``signal``; a new one is contained, then frozen."""
        with self._tx() as conn:
            now = self.clock()
            found = signals.open_from_signal(conn, signal, now=now)
            if found is None:
                return None
            incident, created = found
            taken: list[IncidentAction] = []
            if created:
                taken = containment.contain_automatically(
                    conn, incident, evidence=signal.evidence, details=signal.details, now=now
                )
                incident = get_incident(conn, incident.number)
        if not created or not freeze_now:
            return Opened(incident, created, taken)
        followed = self.after_open(incident.number)
        return Opened(incident, created, taken, followed.freeze, followed.freeze_error)

    def declare(
        self,
        *,
        incident_class: str,
        workflow: str | None,
        summary: str,
        actor: str,
        severity: str | None = None,
        title: str | None = None,
        since: datetime | None = None,
        contain: bool = True,
    ) -> Opened:
        """A person opens an incident; the class's automatic containment runs unless ``contain=False``."""
        with self._tx() as conn:
            now = self.clock()
            incident = lifecycle.declare(
                conn,
                incident_class=incident_class,
                workflow=workflow,
                summary=summary,
                actor=actor,
                now=now,
                title=title,
                severity=severity,
                since=since,
            )
            taken = containment.contain_automatically(conn, incident, now=now) if contain else []
            incident = get_incident(conn, incident.number)
        followed = self.after_open(incident.number, actor=actor)
        return Opened(incident, True, taken, followed.freeze, followed.freeze_error)

    # -- evidence and recovery -------------------------------------------------------------------
    def freeze(self, ident: str | int, *, actor: str, purpose: str = "requested") -> Freeze:
        with self._tx() as conn:
            incident = get_incident(conn, ident)
            return freeze(
                conn,
                incident,
                purpose=purpose,
                actor=actor,
                signer=self.signer,
                directory=self.directory,
                now=self.clock(),
            )

    def restore(
        self, ident: str | int, *, kind: str, name: str, actor: str, reason: str, to: str = "last-approved"
    ) -> tuple[IncidentAction, Freeze]:
        """Freeze the evidence and restore ``live`` in one transaction: no freeze, no restore."""
        with self._tx() as conn:
            return containment.restore_version(
                conn,
                ident,
                kind=kind,
                name=name,
                to=to,
                actor=actor,
                reason=reason,
                signer=self.signer,
                directory=self.directory,
                now=self.clock(),
            )

    def rollback(
        self,
        ident: str | int,
        runner: RollbackRunner,
        *,
        actor: str,
        reason: str,
        version: str | None = None,
        progress: bool = False,
    ) -> tuple[IncidentAction, Any]:
        """Freeze the evidence, then undo the workflow's actions in the incident window, newest first.

        ``runner`` is the agent's ``andon.Andon`` client (it holds the undos). The freeze commits
        before any undo runs; if it fails, IncidentError is raised and nothing is undone.
        """
        with self._tx() as conn:
            step, selection = containment.begin_rollback(
                conn,
                ident,
                actor=actor,
                reason=reason,
                signer=self.signer,
                directory=self.directory,
                now=self.clock(),
                version=version,
            )
        report = runner.rollback(
            workflow=selection.workflow,
            since=selection.since,
            until=selection.until,
            version=selection.version,
            actor=actor,
            reason=f"{get_incident_id(ident)}: {reason}",
            dry_run=False,
            progress=progress,
        )
        summary = report.as_dict() if hasattr(report, "as_dict") else dict(report)
        summary = {k: v for k, v in summary.items() if k != "planned"} | {
            "planned": len(summary.get("planned", []))
        }
        with self._tx() as conn:
            done = containment.finish_rollback(
                conn, ident, step.id, report=summary, actor=actor, now=self.clock()
            )
        return done, report


def get_incident_id(ident: str | int) -> str:
    from andon.incidents.records import incident_id, parse_id

    return incident_id(parse_id(ident))
