"""A runbook, a store and a signer for incident tests; applied the way `andon apply` does."""

from __future__ import annotations

import copy
from datetime import UTC, datetime
from typing import Any

from sqlalchemy.engine import Engine

from andon.detect.signal import Signal
from andon.runbook.revisions import apply_runbook
from andon.runbook.schema import Runbook

RUNBOOK: dict[str, Any] = {
    "andon": 1,
    "organisation": {
        "name": "Acme Support Ltd",
        "contacts": {
            "support-lead": {"name": "Sue Lead", "role": "business", "email": "sue@acme.example"},
            "ml-eng": {"name": "Mo Eng", "role": "technical", "email": "mo@acme.example"},
            "comms": {"name": "Cy Comms", "role": "communications", "email": "cy@acme.example"},
            "security-lead": {"name": "Sam Sec", "role": "security", "email": "sam@acme.example"},
            "dpo": {"name": "Dana Price", "role": "data_protection", "email": "dpo@acme.example"},
            "ops-lead": {"name": "Omar Lee", "role": "operations", "email": "ops@acme.example"},
            "pricing-owner": {"name": "Pat Price", "role": "business", "email": "pat@acme.example"},
        },
        "escalation": ["ops-lead", "security-lead", "dpo"],
    },
    "severities": [
        {
            "id": "sev1",
            "name": "Critical",
            "definition": "Harm in progress",
            "acknowledge_within": "15m",
            "page": ["ops-lead", "security-lead"],
        },
        {"id": "sev2", "name": "Major", "definition": "Wrong actions, stopped", "acknowledge_within": "30m"},
        {"id": "sev3", "name": "Minor", "definition": "Advisory issue", "acknowledge_within": "4h"},
    ],
    "incident_classes": [
        {
            "id": "prompt_injection",
            "default_severity": "sev1",
            "owner_role": "security",
            "containment": ["pause_workflow", "block_retrieval_source"],
            "evidence": ["conversation", "prompts", "tool_calls"],
            "first_hour": [
                {"do": "Pause the workflow", "owner": "technical_owner", "within": "5m"},
                {"do": "List the accounts and customers touched", "owner": "technical_owner"},
                {"do": "Decide with the DPO whether personal data was disclosed", "owner": "data_protection"},
            ],
        },
        {
            "id": "model_or_prompt_drift",
            "default_severity": "sev2",
            "owner_role": "technical_owner",
            "containment": ["cap_autonomy"],
            "first_hour": [{"do": "Restore the last approved prompt", "owner": "technical_owner"}],
        },
        {
            "id": "wrong_system_update",
            "default_severity": "sev1",
            "owner_role": "technical_owner",
            "containment": ["freeze_writes", "block_tool", "revoke_credential"],
        },
        {
            "id": "wrong_recommendation",
            "default_severity": "sev3",
            "owner_role": "business_owner",
            "containment": ["cap_autonomy"],
            "first_hour": [{"do": "Hold every quote for the pricing owner", "owner": "approver"}],
        },
    ],
    "regimes": [{"regime": "uk_gdpr", "applies_to": ["personal"], "contact": "dpo"}],
    "workflows": [
        {
            "id": "support-triage",
            "purpose": "Route tickets, adjust account tiers, send refund e-mails",
            "owners": {"business": "support-lead", "technical": "ml-eng", "communications": "comms"},
            "approvers": ["support-lead"],
            "data_classes": ["personal"],
            "credentials": [{"id": "svc-crm", "system": "salesforce", "scope": "accounts:write"}],
            "model": {"provider": "openai", "name": "gpt-4.1-mini"},
            "prompts": [{"id": "triage-system", "version": "v1"}],
            "retrieval_sources": [{"id": "kb", "system": "confluence"}],
            "tools": [
                {"name": "helpdesk.read_ticket", "effect": "read"},
                {"name": "helpdesk.route", "effect": "write", "undo": "helpdesk.reroute"},
                {
                    "name": "crm.update_tier",
                    "effect": "write",
                    "undo": "crm.restore_tier",
                    "credential": "svc-crm",
                },
                {"name": "email.send_refund", "effect": "send", "external": True, "reversible": False},
            ],
            "autonomy": "autonomous",
            "limits": {"rate": {"workflow": "100000/min"}},
            "fallback": {"queue": "Tier-1 human triage", "contact": "support-lead"},
            "recovery": "Restore the last approved prompt; roll back tier changes.",
        },
        {
            "id": "quote-drafting",
            "purpose": "Draft quotes from CRM notes and intake forms",
            "owners": {"business": "pricing-owner", "technical": "ml-eng"},
            "approvers": ["pricing-owner"],
            "data_classes": ["commercial"],
            "model": {"provider": "openai", "name": "gpt-4.1"},
            "tools": [
                {"name": "crm.read_deal", "effect": "read"},
                {"name": "quotes.send", "effect": "send", "external": True, "reversible": False},
            ],
            "autonomy": "autonomous",
            "recovery": "Withdraw draft quotes; hold every quote for the pricing owner.",
        },
    ],
}


def document(**workflow_overrides: Any) -> dict[str, Any]:
    doc = copy.deepcopy(RUNBOOK)
    doc["workflows"][0].update(workflow_overrides)
    return doc


def apply(engine: Engine, doc: dict[str, Any] | None = None) -> int:
    with engine.begin() as conn:
        revision, _ = apply_runbook(
            conn, Runbook.model_validate(doc or RUNBOOK), source="tests", actor="tests"
        )
    return revision.revision


def signal(
    *,
    incident_class: str = "prompt_injection",
    workflow: str = "support-triage",
    evidence: tuple[int, ...] = (0,),
    key: str = "k1",
    details: dict[str, Any] | None = None,
    severity: str = "high",
    time: datetime | None = None,
) -> Signal:
    return Signal(
        detector="test",
        incident_class=incident_class,
        workflow=workflow,
        severity=severity,  # type: ignore[arg-type]
        summary=f"{incident_class} seen",
        evidence=evidence,
        dedup_key=f"test:{workflow}:{key}",
        time=time or datetime.now(UTC),
        details=details or {},
    )


def send_refunds(engine: Engine, count: int) -> None:
    """``count`` refund e-mails the support workflow sent (decided and succeeded), to c<n>@example.com."""
    from andon.control.actions import ActionOutcome, ActionRequest
    from andon.control.service import StoreControl

    control = StoreControl(engine)
    for n in range(count):
        decided = control.decide(
            ActionRequest(
                workflow="support-triage",
                tool="email.send_refund",
                actor="svc",
                args={"to": f"c{n}@example.com", "account_id": f"A-{n}"},
            )
        )
        control.record_outcome(ActionOutcome(action_id=decided.action_id, ok=True, actor="svc"))
