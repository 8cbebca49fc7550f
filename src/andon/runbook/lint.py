"""Readiness lint: the red flags a review board raises before an AI workflow may go live.

Each finding has a stable code (documented with why it matters and how to fix it in
``docs/lint-findings.md``), a level (``error`` blocks go-live, ``warning`` asks for a decision) and the
place in the YAML it is about. Organisation-wide checks live here; per-workflow ones in
:mod:`andon.runbook.lint_workflow`.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime

from andon.errors import Problem
from andon.runbook.load import LoadedRunbook
from andon.runbook.schema import Runbook
from andon.runbook.vocabulary import INCIDENT_CLASS_NAMES, WORKFLOW_OWNER_ROLES

FieldPath = tuple[str | int, ...]

# code -> (level, short title); the title heads the code's section in docs/lint-findings.md.
CODES: dict[str, tuple[str, str]] = {
    "AND100": ("warning", "runbook declares no workflows"),
    "AND101": ("error", "workflow can change things but has no pause switch"),
    "AND102": ("error", "workflow can change things but has no fallback"),
    "AND103": ("error", "no communications owner"),
    "AND104": ("error", "changing tool declares neither undo nor 'reversible: false'"),
    "AND105": ("error", "irreversible tool runs without approval"),
    "AND106": ("error", "severity with nobody paged and no owner"),
    "AND107": ("error", "personal data with no breach regime"),
    "AND108": ("error", "personal data with no data-protection contact"),
    "AND109": ("error", "logging cannot link input to output to action"),
    "AND110": ("warning", "drill overdue"),
    "AND111": ("warning", "no drill on record"),
    "AND112": ("error", "technical owner approves their own workflow's actions"),
    "AND113": ("error", "approval required but no approvers"),
    "AND114": ("error", "autonomous changing tool without a rate limit"),
    "AND115": ("error", "approval below confidence with no confidence threshold"),
    "AND116": ("warning", "no circuit breaker on a workflow that changes things"),
    "AND117": ("error", "incident class without containment or first-hour checklist"),
    "AND118": ("error", "no escalation route"),
    "AND119": ("error", "external sends cannot be blocked"),
    "AND120": ("warning", "incident class preserves no evidence"),
    "AND121": ("warning", "relevant failure mode not covered"),
    "AND122": ("error", "contact cannot be reached"),
    "AND123": ("warning", "shared credential on a workflow that changes things"),
    "AND124": ("warning", "workflow fails open"),
    "AND125": ("warning", "no rollback path for prompts or model"),
    "AND126": ("warning", "memory or retrieval source cannot be purged or restored"),
    "AND127": ("error", "owner role with nobody to fill it"),
    "AND128": ("warning", "contact tree is missing a role"),
    "AND129": ("warning", "containment scope the workflow does not offer"),
}
# The roles the contact tree must hold before the first incident (legal, DPO, cyber, ops, comms, vendor).
REQUIRED_ROLES = ("legal", "data_protection", "security", "operations", "communications", "vendor")


@dataclass
class Linter:
    """Collects findings for one loaded runbook."""

    loaded: LoadedRunbook
    today: date
    findings: list[Problem]

    @property
    def runbook(self) -> Runbook:
        return self.loaded.runbook

    def add(self, code: str, path: FieldPath, message: str, *, key: bool = False) -> None:
        level = CODES[code][0]
        where = self.loaded.locate(path, key=key)
        self.findings.append(
            Problem(
                file=where.file,
                line=where.line,
                column=where.column,
                path=self.loaded.label(path),
                severity=level,
                code=code,
                message=message,
            )
        )


def lint(loaded: LoadedRunbook, *, today: date | None = None) -> list[Problem]:
    """Every readiness finding for a loaded runbook, in file order. ``today`` is for drill dates."""
    from andon.runbook.lint_workflow import WORKFLOW_CHECKS

    linter = Linter(loaded=loaded, today=today or datetime.now(UTC).date(), findings=[])
    for check in (*ORGANISATION_CHECKS, *WORKFLOW_CHECKS):
        check(linter)
    return sorted(linter.findings, key=lambda p: (p.file, p.line, p.column, p.code))


def has_errors(findings: list[Problem]) -> bool:
    return any(f.severity == "error" for f in findings)


def _workflows_exist(linter: Linter) -> None:
    if not linter.runbook.workflows:
        linter.add("AND100", (), "the runbook declares no workflows; add one with 'andon init'")


def _escalation(linter: Linter) -> None:
    if not linter.runbook.organisation.escalation:
        linter.add(
            "AND118",
            ("organisation",),
            "no escalation route; list contact ids in order under organisation.escalation",
        )


def _contacts(linter: Linter) -> None:
    contacts = linter.runbook.organisation.contacts
    for contact_id, contact in contacts.items():
        if not contact.email and not contact.phone:
            linter.add(
                "AND122",
                ("organisation", "contacts", contact_id),
                f"contact '{contact_id}' has neither email nor phone; nobody can reach them in an incident",
            )
    present = {c.role for c in contacts.values()}
    absent = [role for role in REQUIRED_ROLES if role not in present]
    if absent:
        linter.add(
            "AND128",
            ("organisation", "contacts"),
            f"the contact tree has no {', '.join(absent)} contact; name them before the first incident, "
            "not during it",
            key=True,
        )


def _severities(linter: Linter) -> None:
    for i, severity in enumerate(linter.runbook.severities):
        if not severity.page and severity.owner is None:
            linter.add(
                "AND106",
                ("severities", i),
                f"severity '{severity.id}' pages nobody and has no owner; add 'page:' or 'owner:'",
            )


def _incident_classes(linter: Linter) -> None:
    roles = {c.role for c in linter.runbook.organisation.contacts.values()}
    for i, incident_class in enumerate(linter.runbook.incident_classes):
        here: FieldPath = ("incident_classes", i)
        missing = [
            what
            for what, value in (
                ("containment", incident_class.containment),
                ("first_hour", incident_class.first_hour),
            )
            if not value
        ]
        if missing:
            linter.add(
                "AND117",
                here,
                f"incident class '{incident_class.id}' has no {' and no '.join(missing)}; "
                "responders need the switch to pull and the first steps to take",
            )
        if not incident_class.evidence:
            linter.add(
                "AND120",
                here,
                f"incident class '{incident_class.id}' lists no evidence to preserve before anything "
                "is changed",
            )
        owner_paths: list[tuple[FieldPath, str]] = [((*here, "owner_role"), incident_class.owner_role)]
        owner_paths += [
            ((*here, "first_hour", n, "owner"), item.owner)
            for n, item in enumerate(incident_class.first_hour)
        ]
        for path, role in owner_paths:
            if role not in WORKFLOW_OWNER_ROLES and role not in roles:
                linter.add("AND127", path, f"owner role '{role}' is not held by any contact")


def _failure_modes(linter: Linter) -> None:
    """Each built-in failure mode that some workflow makes possible should have an incident class."""
    runbook = linter.runbook
    covered = {c.id for c in runbook.incident_classes}
    workflows = runbook.workflows
    tools = [t for w in workflows for t in w.tools]
    possible: dict[str, bool] = {
        "wrong_recommendation": bool(runbook.workflows),
        "wrong_system_update": any(t.effect in ("write", "delete") for t in tools),
        "sensitive_data_exposure": any(
            set(w.data_classes) - {"public", "internal"} for w in runbook.workflows
        ),
        "model_or_prompt_drift": bool(runbook.workflows),
        "prompt_injection": bool(runbook.workflows),
        "memory_poisoning": any(w.memory.kind == "persistent" for w in runbook.workflows),
        "unauthorised_tool_use": any(t.changes_things for t in tools),
        "excessive_retries": any(t.changes_things for t in tools),
        "wrong_recipient": any(t.effect == "send" for t in tools),
        "privilege_escalation": any(w.credentials for w in runbook.workflows),
        "bad_output_approved": any(t.approval != "never" for t in tools),
        "loss_of_auditability": bool(runbook.workflows),
    }
    for class_id, relevant in possible.items():
        if relevant and class_id not in covered:
            linter.add(
                "AND121",
                ("incident_classes",),
                f"no incident class for '{class_id}' ({INCIDENT_CLASS_NAMES[class_id].lower()}), "
                "which the workflows here make possible",
                key=True,
            )


ORGANISATION_CHECKS: tuple[Callable[[Linter], None], ...] = (
    _workflows_exist,
    _escalation,
    _contacts,
    _severities,
    _incident_classes,
    _failure_modes,
)
