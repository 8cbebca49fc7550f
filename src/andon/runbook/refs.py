"""Checks that every id a runbook mentions is declared: contacts, severities, tools, credentials.

Pydantic validates each section on its own; these checks span sections, and return the field path of
each bad reference so the loader can point at the exact line.
"""

from __future__ import annotations

from andon.runbook.messages import suggest
from andon.runbook.schema import Runbook
from andon.runbook.vocabulary import INCIDENT_CLASSES, OWNER_ROLES

FieldPath = tuple[str | int, ...]
# Appended to a path when the problem is a mapping key rather than its value.
KEY = "<key>"


def _unknown(kind: str, value: str, known: list[str]) -> str:
    close = suggest(value, known)
    hint = f"; did you mean '{close}'?" if close else ""
    listing = ", ".join(known) if known else "none declared"
    plural = "severities" if kind == "severity" else f"{kind}s"
    return f"unknown {kind} '{value}'{hint} ({plural}: {listing})"


def check_references(runbook: Runbook) -> list[tuple[FieldPath, str]]:
    """Every reference to an undeclared contact, severity, tool, credential, role or failure mode."""
    found: list[tuple[FieldPath, str]] = []
    contacts = list(runbook.organisation.contacts)
    severities = [s.id for s in runbook.severities]
    roles = list(OWNER_ROLES)

    def contact(path: FieldPath, value: str | None) -> None:
        if value is not None and value not in contacts:
            found.append((path, _unknown("contact", value, contacts)))

    def role(path: FieldPath, value: str) -> None:
        if value not in roles:
            found.append((path, _unknown("owner role", value, roles)))

    for i, contact_id in enumerate(runbook.organisation.escalation):
        contact(("organisation", "escalation", i), contact_id)

    for s, severity in enumerate(runbook.severities):
        contact(("severities", s, "owner"), severity.owner)
        for i, contact_id in enumerate(severity.page):
            contact(("severities", s, "page", i), contact_id)

    for c, incident_class in enumerate(runbook.incident_classes):
        here: FieldPath = ("incident_classes", c)
        if incident_class.id not in INCIDENT_CLASSES and not incident_class.custom:
            close = suggest(incident_class.id, list(INCIDENT_CLASSES))
            hint = f"did you mean '{close}'? " if close else ""
            found.append(
                (
                    (*here, "id"),
                    f"'{incident_class.id}' is not a built-in failure mode; {hint}"
                    "for a failure mode of your own add 'custom: true' and a 'description'",
                )
            )
        if incident_class.custom and not incident_class.description:
            found.append(((*here, "custom"), "a custom incident class needs a 'description'"))
        if incident_class.default_severity not in severities:
            found.append(
                (
                    (*here, "default_severity"),
                    _unknown("severity", incident_class.default_severity, severities),
                )
            )
        role((*here, "owner_role"), incident_class.owner_role)
        for i, item in enumerate(incident_class.first_hour):
            role((*here, "first_hour", i, "owner"), item.owner)

    for r, regime in enumerate(runbook.regimes):
        contact(("regimes", r, "contact"), regime.contact)

    for w, workflow in enumerate(runbook.workflows):
        here = ("workflows", w)
        contact((*here, "owners", "business"), workflow.owners.business)
        contact((*here, "owners", "technical"), workflow.owners.technical)
        contact((*here, "owners", "communications"), workflow.owners.communications)
        for i, approver in enumerate(workflow.approvers):
            contact((*here, "approvers", i), approver)
        if workflow.fallback is not None:
            contact((*here, "fallback", "contact"), workflow.fallback.contact)
        credentials = [c.id for c in workflow.credentials]
        tools = [t.name for t in workflow.tools]
        for t, tool in enumerate(workflow.tools):
            if tool.credential is not None and tool.credential not in credentials:
                found.append(
                    ((*here, "tools", t, "credential"), _unknown("credential", tool.credential, credentials))
                )
        for name in workflow.limits.rate.tools:
            if name not in tools:
                # The mistake is the key itself (the tool's name), so point at the key.
                found.append(((*here, "limits", "rate", "tools", name, KEY), _unknown("tool", name, tools)))
    return found
