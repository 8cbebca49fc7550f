"""``andon init``: a first runbook for one workflow that lints without errors.

The scaffold makes the cautious choice wherever the author has not decided yet (changing tools need
approval and count as irreversible until an undo is named; every switch the workflow can use is
offered) and leaves the remaining decisions to lint warnings: rollback paths, drills, missing roles.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import yaml

from andon.runbook.vocabulary import INCIDENT_CLASSES, PERSONAL_DATA_CLASSES

# Default playbook per failure mode: severity, owner, containment, evidence, first-hour steps.
# Owners are the workflow's own roles, so the scaffold never names a role nobody holds.
_PLAYBOOK: dict[str, dict[str, Any]] = {
    "wrong_recommendation": {
        "default_severity": "sev3",
        "owner_role": "business_owner",
        "containment": ["cap_autonomy"],
        "evidence": ["conversation", "prompts", "retrieval_results", "model_outputs", "confidence_scores"],
        "first_hour": [
            ("Cap autonomy at advise so a person checks every output", "technical_owner"),
            ("Collect the wrong outputs as evaluation cases", "business_owner"),
        ],
    },
    "wrong_system_update": {
        "default_severity": "sev1",
        "owner_role": "technical_owner",
        "containment": ["freeze_writes"],
        "evidence": ["tool_calls", "approvals", "downstream_logs"],
        "first_hour": [
            ("Freeze writes", "technical_owner"),
            ("List the records changed since the first bad action", "technical_owner"),
            ("Roll the records back and tell their owners", "business_owner"),
        ],
    },
    "sensitive_data_exposure": {
        "default_severity": "sev1",
        "owner_role": "technical_owner",
        "containment": ["pause_workflow"],
        "evidence": ["conversation", "retrieval_results", "model_outputs", "tool_calls", "credentials_used"],
        "first_hour": [
            ("Pause the workflow", "technical_owner"),
            ("Identify the data and the people affected", "business_owner"),
            ("Decide whether a breach clock has started", "business_owner"),
        ],
    },
    "model_or_prompt_drift": {
        "default_severity": "sev2",
        "owner_role": "technical_owner",
        "containment": ["cap_autonomy"],
        "evidence": ["prompts", "model_versions", "model_outputs"],
        "first_hour": [("Restore the last approved prompt and model", "technical_owner")],
    },
    "prompt_injection": {
        "default_severity": "sev1",
        "owner_role": "technical_owner",
        "containment": ["pause_workflow"],
        "evidence": ["conversation", "prompts", "retrieval_results", "tool_calls", "downstream_logs"],
        "first_hour": [
            ("Pause the workflow", "technical_owner"),
            ("Find the input that carried the instruction and quarantine it", "technical_owner"),
        ],
    },
    "memory_poisoning": {
        "default_severity": "sev1",
        "owner_role": "technical_owner",
        "containment": ["pause_workflow"],
        "evidence": ["memory_changes", "conversation", "tool_calls"],
        "first_hour": [("Pause the workflow and purge the poisoned memory", "technical_owner")],
    },
    "unauthorised_tool_use": {
        "default_severity": "sev1",
        "owner_role": "technical_owner",
        "containment": ["block_tool"],
        "evidence": ["tool_calls", "credentials_used", "approvals"],
        "first_hour": [("Block the tool and check what it did", "technical_owner")],
    },
    "excessive_retries": {
        "default_severity": "sev2",
        "owner_role": "technical_owner",
        "containment": ["block_tool"],
        "evidence": ["tool_calls", "retries", "errors"],
        "first_hour": [("Block the retrying tool and find duplicate actions", "technical_owner")],
    },
    "wrong_recipient": {
        "default_severity": "sev1",
        "owner_role": "communications_owner",
        "containment": ["block_external_sends"],
        "evidence": ["tool_calls", "model_outputs", "approvals"],
        "first_hour": [
            ("Block external sends", "technical_owner"),
            ("Tell the people who received the message what happened", "communications_owner"),
        ],
    },
    "privilege_escalation": {
        "default_severity": "sev1",
        "owner_role": "technical_owner",
        "containment": ["revoke_credential"],
        "evidence": ["credentials_used", "tool_calls", "downstream_logs"],
        "first_hour": [("Revoke the service account and review its permissions", "technical_owner")],
    },
    "bad_output_approved": {
        "default_severity": "sev2",
        "owner_role": "business_owner",
        "containment": ["cap_autonomy"],
        "evidence": ["approvals", "model_outputs", "confidence_scores"],
        "first_hour": [("Review what the approver saw and how long they had", "business_owner")],
    },
    "loss_of_auditability": {
        "default_severity": "sev2",
        "owner_role": "technical_owner",
        "containment": ["pause_workflow"],
        "evidence": ["errors", "downstream_logs"],
        "first_hour": [("Pause the workflow until every action is logged again", "technical_owner")],
    },
}


@dataclass(frozen=True)
class Person:
    name: str
    email: str


@dataclass(frozen=True)
class ScaffoldSpec:
    """What ``andon init`` asks for."""

    organisation: str
    workflow: str
    purpose: str
    business_owner: Person
    technical_owner: Person
    model: str  # "provider/name"
    communications_owner: Person | None = None
    data_protection: Person | None = None
    systems: list[str] = field(default_factory=list)
    data_classes: list[str] = field(default_factory=list)
    tools: list[tuple[str, str]] = field(default_factory=list)  # (name, effect)
    autonomy: str = "act_with_approval"
    fallback_queue: str | None = None
    regime: str = "uk_gdpr"


def contact_id(name: str, taken: set[str]) -> str:
    """A readable id for a person: ``"Dana Price"`` -> ``dana-price`` (numbered if taken)."""
    base = re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-") or "contact"
    candidate, n = base, 2
    while candidate in taken:
        candidate, n = f"{base}-{n}", n + 1
    taken.add(candidate)
    return candidate


def scaffold(spec: ScaffoldSpec) -> str:
    """The YAML text of a runbook for one workflow."""
    taken: set[str] = set()
    contacts: dict[str, dict[str, str]] = {}

    def add(person: Person, role: str) -> str:
        for cid, existing in contacts.items():
            if existing["name"] == person.name and existing["email"] == person.email:
                return cid
        cid = contact_id(person.name, taken)
        contacts[cid] = {"name": person.name, "role": role, "email": person.email}
        return cid

    business = add(spec.business_owner, "business")
    technical = add(spec.technical_owner, "technical")
    communications = (
        add(spec.communications_owner, "communications") if spec.communications_owner else business
    )
    dpo = add(spec.data_protection, "data_protection") if spec.data_protection else None
    provider, _, model_name = spec.model.partition("/")
    changing = [(n, e) for n, e in spec.tools if e != "read"]
    personal = sorted(set(spec.data_classes) & PERSONAL_DATA_CLASSES)
    external_sends = any(e == "send" for _, e in spec.tools)

    scopes = ["pause_workflow", "block_tool", "cap_autonomy"]
    if any(e in ("write", "delete", "spend") for _, e in changing):
        scopes.insert(1, "freeze_writes")
    if external_sends:
        scopes.insert(-1, "block_external_sends")
    workflow: dict[str, Any] = {
        "id": spec.workflow,
        "purpose": spec.purpose,
        "owners": {"business": business, "technical": technical, "communications": communications},
        "approvers": [business],
        "systems": spec.systems,
        "data_classes": spec.data_classes,
        "model": {"provider": provider or "unknown", "name": model_name or spec.model},
        "memory": {"kind": "none"},
        "tools": [_tool(name, effect) for name, effect in spec.tools],
        "autonomy": spec.autonomy,
        "limits": {
            "rate": {"workflow": "60/min", "tools": {name: "10/min" for name, _ in changing}},
            "circuit_breaker": {
                "error_rate": 0.2,
                "window": "5m",
                "min_calls": 20,
                "consecutive_failures": 5,
            },
            "confidence_threshold": 0.8,
            "max_retries": 2,
        },
        "kill_switch": scopes,
        "fallback": {
            "queue": spec.fallback_queue or f"Manual handling by {spec.business_owner.name}",
            "contact": business,
        },
        "fail_closed": True,
        "logging": {
            "location": "Andon ledger",
            "links": ["input", "retrieval", "output", "approval", "action"],
        },
        "recovery": "Pause the workflow, fix the cause, restore the last approved prompt and model, "
        "roll back changed records, then resume with the business owner's sign-off.",
    }
    relevant = _relevant_classes(spec, changing=bool(changing), external_sends=external_sends)
    document: dict[str, Any] = {
        "andon": 1,
        "organisation": {
            "name": spec.organisation,
            "contacts": contacts,
            "escalation": list(dict.fromkeys([technical, business, *([dpo] if dpo else [])])),
        },
        "severities": _severities(technical, business),
        "incident_classes": [_incident_class(c) for c in relevant],
        "regimes": [{"regime": spec.regime, "applies_to": personal, "contact": dpo}]
        if personal and dpo
        else [],
        "workflows": [workflow],
    }
    header = (
        f"# Runbook for {spec.workflow}, scaffolded by `andon init`.\n"
        "# Check it with `andon lint`; its warnings list what is still yours to decide.\n"
        "# The format, field by field: docs/runbook.md\n"
    )
    return header + yaml.safe_dump(document, sort_keys=False, allow_unicode=True, width=100)


def _tool(name: str, effect: str) -> dict[str, Any]:
    tool: dict[str, Any] = {"name": name, "effect": effect}
    if effect != "read":
        # Until the author names an undo, assume there is none and have a person approve each action.
        tool.update({"reversible": False, "approval": "always"})
    if effect == "send":
        tool["external"] = True
    return tool


def _severities(technical: str, business: str) -> list[dict[str, Any]]:
    return [
        {
            "id": "sev1",
            "name": "Critical",
            "definition": "Unauthorised action, customer harm or personal-data exposure in progress",
            "acknowledge_within": "15m",
            "contain_within": "1h",
            "owner": technical,
            "page": [technical, business],
            "reminder_every": "30m",
        },
        {
            "id": "sev2",
            "name": "Major",
            "definition": "Wrong actions or outputs that stopped when the workflow paused",
            "acknowledge_within": "1h",
            "contain_within": "4h",
            "owner": technical,
            "page": [technical],
            "reminder_every": "2h",
        },
        {
            "id": "sev3",
            "name": "Minor",
            "definition": "Advisory output issue with no customer impact",
            "acknowledge_within": "1d",
            "owner": business,
            "page": [business],
            "reminder_every": "1d",
        },
    ]


def _incident_class(class_id: str) -> dict[str, Any]:
    entry = dict(_PLAYBOOK[class_id])
    entry["first_hour"] = [{"do": do, "owner": owner} for do, owner in entry["first_hour"]]
    return {"id": class_id, **entry}


def _relevant_classes(spec: ScaffoldSpec, *, changing: bool, external_sends: bool) -> list[str]:
    skip = set()
    if not changing:
        skip |= {"wrong_system_update", "unauthorised_tool_use", "excessive_retries", "bad_output_approved"}
    if not external_sends:
        skip.add("wrong_recipient")
    skip |= {"memory_poisoning", "privilege_escalation"}  # no persistent memory, no credentials yet
    return [c for c in INCIDENT_CLASSES if c not in skip]
