"""Render a runbook as the document people read during an incident: Markdown or one HTML page.

The order follows the first hour: how to stop each workflow, who owns it, what to do per incident
class, then the severity matrix, the contact tree, the regulatory clocks and the drills.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date
from typing import Any, Literal

import jinja2

from andon.runbook.lint_workflow import data_classes_of
from andon.runbook.schema import Contact, Runbook, Workflow
from andon.runbook.units import format_duration
from andon.runbook.vocabulary import (
    INCIDENT_CLASS_NAMES,
    PERSONAL_DATA_CLASSES,
    SWITCH_DESCRIPTIONS,
    SWITCH_SCOPES,
)

Format = Literal["markdown", "html"]


@dataclass(frozen=True)
class RegimeInfo:
    name: str
    clock: str


# The deadlines responders most need, in one line each; the incident clock library computes them.
REGIMES: dict[str, RegimeInfo] = {
    "uk_gdpr": RegimeInfo(
        "UK GDPR (ICO)",
        "Notify the ICO within 72 hours of becoming aware of a notifiable personal-data breach; "
        "tell individuals without undue delay when the risk to them is high.",
    ),
    "eu_gdpr": RegimeInfo(
        "EU GDPR (Art. 33-34)",
        "Notify the lead supervisory authority within 72 hours of becoming aware; tell individuals "
        "without undue delay when the risk to them is high.",
    ),
    "eu_ai_act": RegimeInfo(
        "EU AI Act (Art. 73)",
        "Report a serious incident of a high-risk AI system within 15 days of awareness; 2 days if "
        "widespread or critical infrastructure, 10 days if a person died. Preserve evidence first.",
    ),
    "nis2": RegimeInfo(
        "NIS2",
        "Early warning to the CSIRT within 24 hours, incident notification within 72 hours, final "
        "report within one month.",
    ),
    "dora": RegimeInfo(
        "DORA",
        "Initial notification within 4 hours of classifying an ICT incident as major (at most 24 hours "
        "after awareness), intermediate report within 72 hours, final report within one month.",
    ),
    "sec_8k": RegimeInfo(
        "SEC Form 8-K Item 1.05",
        "File within 4 business days of determining that a cybersecurity incident is material.",
    ),
    "hipaa": RegimeInfo(
        "HIPAA Breach Notification Rule",
        "Tell individuals without unreasonable delay and within 60 calendar days of discovery; HHS "
        "within 60 days when 500 or more people are affected.",
    ),
    "sg_pdpa": RegimeInfo(
        "Singapore PDPA",
        "Assess within 30 days; notify the PDPC within 3 calendar days of assessing a breach notifiable.",
    ),
    "cert_in": RegimeInfo(
        "CERT-In Directions (India)",
        "Report to CERT-In within 6 hours of noticing the incident.",
    ),
}

ROLE_WORDS = {
    "business_owner": "business owner",
    "technical_owner": "technical owner",
    "communications_owner": "communications owner",
    "data_protection": "data protection",
}


def switch_command(workflow: Workflow, scope: str) -> str:
    """The command that pulls one switch on one workflow (the control plane's CLI)."""
    if scope == "pause_workflow":
        return f'andon pause {workflow.id} --reason "…"'
    targets = {
        "block_tool": "<tool>",
        "block_retrieval_source": "<source>",
        "revoke_credential": "<credential>",
        "cap_autonomy": "advise",
    }
    target = f" --target {targets[scope]}" if scope in targets else ""
    return f'andon pause {workflow.id} --scope {scope}{target} --reason "…"'


class _View:
    """Resolves ids and roles to people, so the page says who, not which id."""

    def __init__(self, runbook: Runbook) -> None:
        self.runbook = runbook
        self.single = runbook.workflows[0] if len(runbook.workflows) == 1 else None

    def person(self, contact_id: str | None) -> str:
        if contact_id is None:
            return "—"
        contact: Contact | None = self.runbook.organisation.contacts.get(contact_id)
        if contact is None:
            return contact_id
        reach = " · ".join(x for x in (contact.phone, contact.email) if x)
        return f"{contact.name} ({reach})" if reach else contact.name

    def name(self, contact_id: str) -> str:
        contact = self.runbook.organisation.contacts.get(contact_id)
        return contact.name if contact else contact_id

    def role(self, role: str) -> str:
        """A role in words, with the person who holds it when there is exactly one."""
        words = ROLE_WORDS.get(role, role)
        holder: str | None = None
        if self.single is not None and role in ROLE_WORDS and role.endswith("_owner"):
            holder = getattr(self.single.owners, role.removesuffix("_owner"))
        else:
            holders = [cid for cid, c in self.runbook.organisation.contacts.items() if c.role == role]
            holder = holders[0] if len(holders) == 1 else None
        return f"{words}: {self.name(holder)}" if holder else words


def _switch_what(workflow: Workflow, scope: str) -> str:
    """What a switch stops, with the targets this workflow has for it."""
    targets = {
        # Reads are rarely what a responder blocks; list the tools that change things.
        "block_tool": [t.name for t in workflow.tools if t.changes_things],
        "block_retrieval_source": [r.id for r in workflow.retrieval_sources],
        "revoke_credential": [c.id for c in workflow.credentials],
    }.get(scope)
    described = SWITCH_DESCRIPTIONS[scope]
    return f"{described} ({', '.join(targets)})" if targets else described


def _rollback(workflow: Workflow) -> list[tuple[str, str]]:
    """(part, how to put it back) for each part the workflow says how to restore."""
    rollback = workflow.rollback
    if rollback is None:
        return [("Memory", workflow.memory.purge)] if workflow.memory.purge else []
    parts = ("prompt", "model", "ruleset", "records", "retrieval", "memory", "messages")
    return [(part.capitalize(), how) for part in parts if (how := getattr(rollback, part))]


def _duration(value: Any) -> str:
    return format_duration(value) if value is not None else "—"


def context(runbook: Runbook, *, today: date | None = None, digest: str | None = None) -> dict[str, Any]:
    """Everything the templates show, already resolved to people and plain text."""
    view = _View(runbook)
    workflows = []
    for workflow in runbook.workflows:
        scopes = [s for s in SWITCH_SCOPES if s in workflow.kill_switch]
        drills = workflow.drills
        touched = data_classes_of(workflow)
        fallback = workflow.fallback
        workflows.append(
            {
                "w": workflow,
                "title": workflow.name or workflow.id,
                "owners": [
                    ("Business owner", view.person(workflow.owners.business)),
                    ("Technical owner", view.person(workflow.owners.technical)),
                    ("Communications owner", view.person(workflow.owners.communications)),
                    ("Approvers", ", ".join(view.name(a) for a in workflow.approvers) or "—"),
                    ("Fallback contact", view.person(fallback.contact) if fallback else "—"),
                ],
                "switches": [
                    {"scope": s, "what": _switch_what(workflow, s), "command": switch_command(workflow, s)}
                    for s in scopes
                ],
                "tools": [
                    {
                        "t": tool,
                        "undo": tool.undo or ("—" if tool.effect == "read" else "cannot be undone"),
                        "rate": str(workflow.rate_limit(tool.name) or "—"),
                    }
                    for tool in workflow.tools
                ],
                "rollback": _rollback(workflow),
                "personal": sorted(touched & PERSONAL_DATA_CLASSES),
                "data_classes": sorted(touched),
                "next_drill": (drills.last + drills.cadence).isoformat() if drills and drills.last else None,
                "drill_overdue": bool(
                    drills and drills.last and today and drills.last + drills.cadence < today
                ),
            }
        )
    classes = [
        {
            "c": c,
            "title": INCIDENT_CLASS_NAMES.get(c.id, c.id.replace("_", " ").capitalize()),
            "owner": view.role(c.owner_role),
            "steps": [
                {"do": item.do, "owner": view.role(item.owner), "within": _duration(item.within)}
                for item in c.first_hour
            ],
        }
        for c in runbook.incident_classes
    ]
    regimes = [
        {
            "r": regime,
            "name": REGIMES[regime.regime].name,
            "clock": REGIMES[regime.regime].clock,
            "contact": view.person(regime.contact),
        }
        for regime in runbook.regimes
    ]
    return {
        "rb": runbook,
        "org": runbook.organisation,
        "workflows": workflows,
        "classes": classes,
        "severities": [
            {
                "s": s,
                "owner": view.person(s.owner),
                "page": ", ".join(view.name(p) for p in s.page) or "—",
                "ack": _duration(s.acknowledge_within),
                "contain": _duration(s.contain_within),
                "resolve": _duration(s.resolve_within),
                "remind": _duration(s.reminder_every),
            }
            for s in runbook.severities
        ],
        "escalation": [(cid, view.person(cid)) for cid in runbook.organisation.escalation],
        "contacts": sorted(runbook.organisation.contacts.items(), key=lambda kv: (kv[1].role, kv[0])),
        "regimes": regimes,
        "role": view.role,
        "today": today.isoformat() if today else None,
        "digest": digest[:12] if digest else None,
    }


_environment: jinja2.Environment | None = None


def _env() -> jinja2.Environment:
    global _environment
    if _environment is None:
        _environment = jinja2.Environment(
            loader=jinja2.PackageLoader("andon.runbook", "templates"),
            autoescape=jinja2.select_autoescape(enabled_extensions=("html",), default_for_string=False),
            trim_blocks=True,
            lstrip_blocks=True,
            keep_trailing_newline=True,
            undefined=jinja2.StrictUndefined,
        )
        _environment.filters["md"] = _md_cell
        _environment.filters["dur"] = _duration
    return _environment


def _md_cell(value: Any) -> str:
    """Text safe inside a Markdown table cell."""
    return str(value).replace("|", "\\|").replace("\n", " ")


def render(
    runbook: Runbook, *, fmt: Format = "markdown", today: date | None = None, digest: str | None = None
) -> str:
    """The runbook as Markdown or as one self-contained HTML page (inline CSS, no external assets)."""
    template = _env().get_template("runbook.html" if fmt == "html" else "runbook.md.j2")
    return template.render(**context(runbook, today=today, digest=digest))
