"""The control plane's one interface, and its implementation over a store.

``ControlService`` is what the SDK talks to: in local mode ``StoreControl`` in-process, in connect mode
``andon.sdk.http.HttpControl`` over the JSON API of ``docs/api.md`` (which the server implements by
calling ``StoreControl``). Every ``StoreControl`` method is one transaction: it owns the transaction,
the domain modules (switches, actions, approvals, versions, rollback) only execute.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from andon.control import actions, approvals, rollback, snapshot, switches, versions
from andon.control.actions import ActionDecision, ActionOutcome, ActionRequest
from andon.control.approvals import Approval, ApproverStats
from andon.control.redaction import ledger_redactor
from andon.control.rollback import PlanItem, Selection
from andon.control.state import ControlState, Switch
from andon.control.versions import Version
from andon.ledger.events import Event
from andon.ledger.log import append
from andon.store.tables import control_event_batches


class ControlService(Protocol):
    """Everything an agent, the CLI or the console asks of the control plane."""

    def state(self) -> ControlState: ...
    def epoch(self) -> tuple[int, int | None]: ...
    def decide(self, request: ActionRequest) -> ActionDecision: ...
    def record_outcome(self, outcome: ActionOutcome) -> str | None: ...
    def append_events(self, batch_id: str, events: Sequence[Event]) -> int: ...
    def set_switch(
        self,
        *,
        kind: str,
        workflow: str | None,
        actor: str,
        reason: str,
        target: str | None = None,
        expires_at: datetime | None = None,
    ) -> Switch: ...
    def clear_switches(
        self,
        *,
        actor: str,
        reason: str,
        switch_id: str | None = None,
        workflow: str | None = None,
        kinds: tuple[str, ...] = (),
        target: str | None = None,
    ) -> list[Switch]: ...
    def list_switches(
        self, *, workflow: str | None = None, include_cleared: bool = False
    ) -> list[Switch]: ...
    def get_approval(self, approval_id: str) -> Approval: ...
    def list_approvals(
        self, *, workflow: str | None = None, status: str | None = "pending"
    ) -> list[Approval]: ...
    def decide_approval(
        self,
        approval_id: str,
        *,
        actor: str,
        approve: bool,
        reason: str,
        edited_args: dict[str, Any] | None = None,
    ) -> Approval: ...
    def claim_approval(self, approval_id: str, *, actor: str) -> Approval: ...
    def approval_stats(self, *, since: datetime) -> list[ApproverStats]: ...
    def publish_version(
        self,
        *,
        workflow: str,
        kind: str,
        name: str,
        content: Any,
        actor: str,
        version: str | None = None,
        live: bool = False,
    ) -> Version: ...
    def approve_version(self, version_id: str, *, actor: str, live: bool = False) -> Version: ...
    def restore_version(
        self, *, workflow: str, kind: str, name: str, to: str, actor: str, reason: str
    ) -> Version: ...
    def list_versions(
        self, *, workflow: str, kind: str | None = None, name: str | None = None
    ) -> list[Version]: ...
    def rollback_plan(self, selection: Selection) -> list[PlanItem]: ...
    def record_undo(
        self, *, action_id: str, outcome: str, actor: str, reason: str, detail: Any = None
    ) -> bool: ...


def _now() -> datetime:
    return datetime.now(UTC)


class StoreControl:
    """``ControlService`` over a store engine; one transaction per call.

    ``precheck`` runs before every transaction: the SDK's local mode uses it to refuse a store file that
    was deleted or replaced under it rather than write into an unlinked file.
    """

    def __init__(self, engine: Engine, *, precheck: Callable[[], None] | None = None) -> None:
        self.engine = engine
        self._precheck = precheck

    @contextmanager
    def _tx(self) -> Iterator[Connection]:
        if self._precheck is not None:
            self._precheck()
        with self.engine.begin() as conn:
            yield conn

    # -- state -------------------------------------------------------------------------------------
    def state(self) -> ControlState:
        with self._tx() as conn:
            return snapshot.load_state(conn, now=_now())

    def epoch(self) -> tuple[int, int | None]:
        with self._tx() as conn:
            return snapshot.read_epoch(conn), snapshot.current_revision(conn)

    # -- guarded actions ---------------------------------------------------------------------------
    def decide(self, request: ActionRequest) -> ActionDecision:
        with self._tx() as conn:
            return actions.decide_action(conn, request, now=_now())

    def record_outcome(self, outcome: ActionOutcome) -> str | None:
        with self._tx() as conn:
            return actions.record_outcome(conn, outcome, now=_now())

    def append_events(self, batch_id: str, events: Sequence[Event]) -> int:
        """Append a batch once: a batch id seen before is skipped (re-delivery after a timeout)."""
        with self._tx() as conn:
            seen = conn.execute(
                sa.select(control_event_batches.c.id).where(control_event_batches.c.id == batch_id)
            ).first()
            if seen is not None:
                return 0
            conn.execute(
                control_event_batches.insert().values(id=batch_id, received_at=_now(), events=len(events))
            )
            append(conn, list(events), redactor=ledger_redactor(conn))
            return len(events)

    # -- switches ----------------------------------------------------------------------------------
    def set_switch(
        self,
        *,
        kind: str,
        workflow: str | None,
        actor: str,
        reason: str,
        target: str | None = None,
        expires_at: datetime | None = None,
    ) -> Switch:
        with self._tx() as conn:
            return switches.set_switch(
                conn,
                kind=kind,
                workflow=workflow,
                target=target,
                actor=actor,
                reason=reason,
                expires_at=expires_at,
                now=_now(),
            )

    def clear_switches(
        self,
        *,
        actor: str,
        reason: str,
        switch_id: str | None = None,
        workflow: str | None = None,
        kinds: tuple[str, ...] = (),
        target: str | None = None,
    ) -> list[Switch]:
        with self._tx() as conn:
            return switches.clear_switches(
                conn,
                actor=actor,
                reason=reason,
                now=_now(),
                switch_id=switch_id,
                workflow=workflow,
                kinds=kinds,
                target=target,
            )

    def list_switches(self, *, workflow: str | None = None, include_cleared: bool = False) -> list[Switch]:
        with self._tx() as conn:
            return switches.list_switches(
                conn, now=_now(), workflow=workflow, include_cleared=include_cleared
            )

    # -- approvals ---------------------------------------------------------------------------------
    def get_approval(self, approval_id: str) -> Approval:
        with self._tx() as conn:
            return approvals.get_approval(conn, approval_id, now=_now())

    def list_approvals(
        self, *, workflow: str | None = None, status: str | None = "pending"
    ) -> list[Approval]:
        with self._tx() as conn:
            return approvals.list_approvals(conn, now=_now(), workflow=workflow, status=status)

    def decide_approval(
        self,
        approval_id: str,
        *,
        actor: str,
        approve: bool,
        reason: str,
        edited_args: dict[str, Any] | None = None,
    ) -> Approval:
        with self._tx() as conn:
            return approvals.decide_approval(
                conn,
                approval_id,
                actor=actor,
                approve=approve,
                reason=reason,
                now=_now(),
                edited_args=edited_args,
            )

    def claim_approval(self, approval_id: str, *, actor: str) -> Approval:
        # A rejection or expiry raises after recording it; commit that record, then raise.
        error: Exception | None = None
        with self._tx() as conn:
            try:
                return approvals.claim_approval(conn, approval_id, actor=actor, now=_now())
            except Exception as exc:  # re-raised below, once the transaction committed
                error = exc
        assert error is not None
        raise error

    def approval_stats(self, *, since: datetime) -> list[ApproverStats]:
        with self._tx() as conn:
            return approvals.approval_stats(conn, since=since)

    # -- versions ----------------------------------------------------------------------------------
    def publish_version(
        self,
        *,
        workflow: str,
        kind: str,
        name: str,
        content: Any,
        actor: str,
        version: str | None = None,
        live: bool = False,
    ) -> Version:
        with self._tx() as conn:
            return versions.publish(
                conn,
                workflow=workflow,
                kind=kind,
                name=name,
                content=content,
                actor=actor,
                now=_now(),
                version=version,
                live=live,
            )

    def approve_version(self, version_id: str, *, actor: str, live: bool = False) -> Version:
        with self._tx() as conn:
            return versions.approve(conn, version_id, actor=actor, now=_now(), live=live)

    def restore_version(
        self, *, workflow: str, kind: str, name: str, to: str, actor: str, reason: str
    ) -> Version:
        with self._tx() as conn:
            return versions.restore(
                conn, workflow=workflow, kind=kind, name=name, to=to, actor=actor, reason=reason, now=_now()
            )

    def list_versions(
        self, *, workflow: str, kind: str | None = None, name: str | None = None
    ) -> list[Version]:
        with self._tx() as conn:
            return versions.list_versions(conn, workflow=workflow, kind=kind, name=name)

    # -- rollback ----------------------------------------------------------------------------------
    def rollback_plan(self, selection: Selection) -> list[PlanItem]:
        with self._tx() as conn:
            return rollback.plan(conn, selection)

    def record_undo(
        self, *, action_id: str, outcome: str, actor: str, reason: str, detail: Any = None
    ) -> bool:
        with self._tx() as conn:
            return rollback.record_undo(
                conn,
                action_id=action_id,
                outcome=outcome,
                actor=actor,
                reason=reason,
                now=_now(),
                detail=detail,
            )
