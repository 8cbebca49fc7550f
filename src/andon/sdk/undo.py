"""Rollback, agent side: run the registered undos newest first, check for conflicts, record each result.

For each planned action: if the tool declares a state reader, the record is read first — already back
at its ``before`` state means nothing to do (idempotent); anything other than the ``after`` the agent
wrote is a conflict, reported and left alone. Otherwise the compensating call runs and the result is
recorded as a ledger event; an action is recorded as rolled back once only.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from andon.sdk.guard import Change

if TYPE_CHECKING:  # pragma: no cover
    from andon.control.rollback import PlanItem, Selection
    from andon.sdk.client import Andon

log = logging.getLogger("andon.sdk")


@dataclass
class RollbackReport:
    """What a rollback did (or, dry run, would do), action by action."""

    dry_run: bool
    planned: list[PlanItem] = field(default_factory=list)
    rolled_back: list[str] = field(default_factory=list)
    already: list[str] = field(default_factory=list)  # found at the before state: nothing to do
    conflicts: list[dict[str, Any]] = field(default_factory=list)
    failed: list[dict[str, Any]] = field(default_factory=list)
    skipped: list[dict[str, Any]] = field(default_factory=list)  # irreversible or no undo registered here
    blocked: set[str] = field(default_factory=set, repr=False)  # records with a newer conflict

    def as_dict(self) -> dict[str, Any]:
        return {
            "dry_run": self.dry_run,
            "planned": [item.as_dict() for item in self.planned],
            "rolled_back": self.rolled_back,
            "already": self.already,
            "conflicts": self.conflicts,
            "failed": self.failed,
            "skipped": self.skipped,
        }


def _undo_one(client: Andon, item: PlanItem, report: RollbackReport, *, actor: str, reason: str) -> None:
    spec = client.tools.get((item.workflow, item.tool))
    if spec is None or spec.undo is None:
        why = (
            "no undo registered for this tool"
            if spec is None or item.undo is None
            else "no undo in this process"
        )
        report.skipped.append({"action_id": item.action_id, "tool": item.tool, "why": why})
        return
    service = client.service
    if spec.state is not None:
        key = spec.record_key(item.args)
        current = spec.read_state(item.args)
        if key in report.blocked:
            # A newer action on this record conflicted and was left alone; undoing an older one under it
            # would overwrite whatever a person put there.
            detail = {
                "expected": item.after,
                "current": current,
                "note": "a newer action on this record conflicted",
            }
            service.record_undo(
                action_id=item.action_id, outcome="conflict", actor=actor, reason=reason, detail=detail
            )
            report.conflicts.append(
                {"action_id": item.action_id, "tool": item.tool, "args": item.args, **detail}
            )
            return
        if current == item.before and item.before != item.after:
            service.record_undo(
                action_id=item.action_id,
                outcome="rolled_back",
                actor=actor,
                reason=reason,
                detail={"note": "record already at its before state"},
            )
            report.already.append(item.action_id)
            return
        if current != item.after:
            report.blocked.add(key)
            detail = {"expected": item.after, "current": current}
            service.record_undo(
                action_id=item.action_id, outcome="conflict", actor=actor, reason=reason, detail=detail
            )
            report.conflicts.append(
                {"action_id": item.action_id, "tool": item.tool, "args": item.args, **detail}
            )
            return
    change = Change(
        action_id=item.action_id,
        workflow=item.workflow,
        tool=item.tool,
        args=item.args,
        before=item.before,
        after=item.after,
        result=item.result,
    )
    try:
        spec.undo(change)
    except Exception as exc:
        service.record_undo(
            action_id=item.action_id, outcome="failed", actor=actor, reason=reason, detail=repr(exc)
        )
        report.failed.append({"action_id": item.action_id, "tool": item.tool, "error": repr(exc)})
        return
    if service.record_undo(action_id=item.action_id, outcome="rolled_back", actor=actor, reason=reason):
        report.rolled_back.append(item.action_id)
    else:
        report.already.append(item.action_id)


def run_rollback(
    client: Andon,
    selection: Selection,
    *,
    actor: str,
    reason: str,
    dry_run: bool = True,
    progress: bool = False,
) -> RollbackReport:
    """Plan, and unless ``dry_run`` execute, a rollback of the selected actions."""
    items = client.service.rollback_plan(selection)
    report = RollbackReport(dry_run=dry_run, planned=items)
    if dry_run or not items:
        return report
    if not progress:
        for item in items:
            _undo_one(client, item, report, actor=actor, reason=reason)
        return report
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("rolling back"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeRemainingColumn(),
        TextColumn("{task.fields[last]}"),
    )
    with Progress(*columns) as bar:
        task = bar.add_task("rollback", total=len(items), last="")
        for item in items:
            _undo_one(client, item, report, actor=actor, reason=reason)
            bar.update(task, advance=1, last=f"{item.tool} {item.action_id[:12]}")
    return report
