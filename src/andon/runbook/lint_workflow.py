"""Readiness checks for each workflow: control points, owners, approvals, limits, logs, drills."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date

from andon.runbook.lint import FieldPath, Linter
from andon.runbook.schema import Workflow
from andon.runbook.units import format_duration
from andon.runbook.vocabulary import PERSONAL_DATA_CLASSES

WorkflowCheck = Callable[[Linter, int, Workflow, FieldPath], None]


def _changes(workflow: Workflow) -> bool:
    return any(t.changes_things for t in workflow.tools)


def data_classes_of(workflow: Workflow) -> set[str]:
    """Every data class the workflow touches: its own, its tools' and its retrieval sources'."""
    classes: set[str] = set(workflow.data_classes)
    for tool in workflow.tools:
        classes.update(tool.data_classes)
    for source in workflow.retrieval_sources:
        classes.update(source.data_classes)
    return classes


def _pause_and_fallback(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    if not _changes(workflow):
        return
    if "pause_workflow" not in workflow.kill_switch:
        linter.add(
            "AND101",
            (*here, "kill_switch"),
            f"workflow '{workflow.id}' can contact customers or change records but has no "
            "'pause_workflow' in kill_switch",
        )
    if workflow.fallback is None:
        linter.add(
            "AND102",
            (*here, "id"),
            f"workflow '{workflow.id}' can change things but says nowhere where the work goes when it "
            "is paused; add fallback: {queue: …, contact: …}",
        )


def _communications_owner(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    if workflow.owners.communications is None:
        linter.add(
            "AND103",
            (*here, "owners"),
            f"workflow '{workflow.id}' has no communications owner; name who speaks to customers and "
            "colleagues during an incident (owners.communications)",
        )


def _tools(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    for t, tool in enumerate(workflow.tools):
        at: FieldPath = (*here, "tools", t)
        if not tool.changes_things:
            continue
        if tool.undo is None and tool.declared_reversible is None:
            linter.add(
                "AND104",
                (*at, "effect"),
                f"tool '{tool.name}' is a {tool.effect} but declares no undo; add 'undo:' or mark it "
                "'reversible: false'",
            )
        elif not tool.reversible and tool.approval == "never":
            linter.add(
                "AND105",
                (*at, "name"),
                f"tool '{tool.name}' cannot be undone and runs without approval; set 'approval: always' "
                "or 'below_confidence', or give it an undo",
            )
        if tool.approval == "below_confidence" and workflow.limits.confidence_threshold is None:
            linter.add(
                "AND115",
                (*at, "approval"),
                f"tool '{tool.name}' asks for approval below confidence, but the workflow sets no "
                "limits.confidence_threshold",
            )
        if workflow.autonomy == "autonomous" and workflow.rate_limit(tool.name) is None:
            linter.add(
                "AND114",
                (*at, "name"),
                f"tool '{tool.name}' runs autonomously with no rate limit; add it under limits.rate.tools "
                "so a bad instruction cannot become hundreds of changes",
            )
        if tool.external and tool.effect == "send" and "block_external_sends" not in workflow.kill_switch:
            linter.add(
                "AND119",
                (*at, "external"),
                f"tool '{tool.name}' sends outside the organisation but kill_switch lacks "
                "'block_external_sends'",
            )


def _approvals(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    wants = [t.name for t in workflow.tools if t.changes_things and t.approval != "never"]
    if not workflow.approvers and (
        wants or (workflow.autonomy == "act_with_approval" and _changes(workflow))
    ):
        because = f"tools {', '.join(wants)} need approval" if wants else "it acts with approval"
        linter.add(
            "AND113",
            (*here, "autonomy"),
            f"workflow '{workflow.id}' names no approvers, yet {because}; list contact ids under 'approvers'",
        )
    if _changes(workflow) and workflow.owners.technical in workflow.approvers:
        a = workflow.approvers.index(workflow.owners.technical)
        linter.add(
            "AND112",
            (*here, "approvers", a),
            f"'{workflow.owners.technical}' is the technical owner of '{workflow.id}' and also approves its "
            "actions; approval needs someone who can challenge the change",
        )


def _limits(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    if _changes(workflow) and workflow.limits.circuit_breaker is None:
        linter.add(
            "AND116",
            (*here, "limits"),
            f"workflow '{workflow.id}' changes things but has no limits.circuit_breaker to stop it when "
            "errors pile up",
        )
    if _changes(workflow) and not workflow.fail_closed:
        linter.add(
            "AND124",
            (*here, "fail_closed"),
            f"workflow '{workflow.id}' runs its changing tools even when no decision can be had; "
            "set 'fail_closed: true' unless an outage must not stop it",
        )


def _personal_data(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    personal = data_classes_of(workflow) & PERSONAL_DATA_CLASSES
    if not personal:
        return
    covered = {c for r in linter.runbook.regimes for c in r.applies_to}
    uncovered = sorted(personal - covered)
    if uncovered:
        linter.add(
            "AND107",
            (*here, "data_classes"),
            f"workflow '{workflow.id}' handles {', '.join(uncovered)} data but no regime applies to it; "
            "add the breach regime (e.g. uk_gdpr) under regimes with applies_to",
        )
    roles = {c.role for c in linter.runbook.organisation.contacts.values()}
    if "data_protection" not in roles:
        linter.add(
            "AND108",
            (*here, "data_classes"),
            f"workflow '{workflow.id}' handles personal data but no contact has role 'data_protection' "
            "to assess a breach and start the clock",
        )


def _logging(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    needed = ["input", "output"] + (["action"] if _changes(workflow) else [])
    if workflow.logging is None:
        linter.add(
            "AND109",
            (*here, "id"),
            f"workflow '{workflow.id}' says nothing about logging; add logging: {{location: …, "
            f"links: [{', '.join(needed)}]}}",
        )
        return
    missing = [link for link in needed if link not in workflow.logging.links]
    if missing:
        linter.add(
            "AND109",
            (*here, "logging", "links"),
            f"logging of '{workflow.id}' does not link {', '.join(missing)}; responders cannot tell which "
            "input caused which output and which action followed",
        )


def _drills(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    drills = workflow.drills
    if drills is None or drills.last is None:
        linter.add(
            "AND111",
            (*here, "drills") if drills else (*here, "id"),
            f"workflow '{workflow.id}' has no drill on record; run a tabletop before go-live and record "
            "drills.last",
        )
        return
    due: date = drills.last + drills.cadence
    if due < linter.today:
        linter.add(
            "AND110",
            (*here, "drills", "last"),
            f"drill of '{workflow.id}' is overdue: last {drills.last.isoformat()}, every "
            f"{format_duration(drills.cadence)}, so due {due.isoformat()}",
        )


def _credentials(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    if not _changes(workflow):
        return
    for c, credential in enumerate(workflow.credentials):
        if credential.shared:
            linter.add(
                "AND123",
                (*here, "credentials", c, "shared"),
                f"credential '{credential.id}' is shared; revoking it stops more than '{workflow.id}'. "
                "Give the workflow its own service account",
            )


def _recovery(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    rollback = workflow.rollback
    gaps = []
    if workflow.prompts and (rollback is None or rollback.prompt is None):
        gaps.append("prompt")
    if rollback is None or rollback.model is None:
        gaps.append("model")
    if gaps:
        linter.add(
            "AND125",
            (*here, "rollback") if rollback else (*here, "recovery"),
            f"workflow '{workflow.id}' has no rollback path for its {' or '.join(gaps)}; say how to "
            "restore the last approved version (rollback.prompt, rollback.model)",
        )
    if workflow.memory.kind == "persistent" and not workflow.memory.purge:
        linter.add(
            "AND126",
            (*here, "memory"),
            f"workflow '{workflow.id}' keeps persistent memory but says not how to purge it (memory.purge)",
        )
    for s, source in enumerate(workflow.retrieval_sources):
        if not source.restore:
            linter.add(
                "AND126",
                (*here, "retrieval_sources", s),
                f"retrieval source '{source.id}' says not how to restore or rebuild it if poisoned "
                "(restore:)",
            )


def _containment_offered(linter: Linter, w: int, workflow: Workflow, here: FieldPath) -> None:
    """Containment of an incident class only works where the workflow offers that switch."""
    applicable = {
        "pause_workflow": True,
        "freeze_writes": any(t.effect in ("write", "delete", "spend") for t in workflow.tools),
        "block_tool": bool(workflow.tools),
        "block_external_sends": any(t.external for t in workflow.tools),
        "block_retrieval_source": bool(workflow.retrieval_sources),
        "revoke_credential": bool(workflow.credentials),
        "cap_autonomy": workflow.autonomy != "observe",
    }
    wanted = {scope for c in linter.runbook.incident_classes for scope in c.containment}
    missing = sorted(s for s in wanted if applicable.get(s) and s not in workflow.kill_switch)
    if missing:
        linter.add(
            "AND129",
            (*here, "kill_switch"),
            f"incident classes contain with {', '.join(missing)}, which workflow '{workflow.id}' does not "
            "offer in kill_switch",
        )


_CHECKS: tuple[WorkflowCheck, ...] = (
    _pause_and_fallback,
    _communications_owner,
    _tools,
    _approvals,
    _limits,
    _personal_data,
    _logging,
    _drills,
    _credentials,
    _recovery,
    _containment_offered,
)


def _each_workflow(linter: Linter) -> None:
    for w, workflow in enumerate(linter.runbook.workflows):
        for check in _CHECKS:
            check(linter, w, workflow, ("workflows", w))


WORKFLOW_CHECKS: tuple[Callable[[Linter], None], ...] = (_each_workflow,)
