"""A small runbook for control-plane tests, applied to a store the way `andon apply` does."""

from __future__ import annotations

import copy
from typing import Any

from sqlalchemy.engine import Engine

from andon.runbook.revisions import apply_runbook
from andon.runbook.schema import Runbook

TRIAGE: dict[str, Any] = {
    "andon": 1,
    "organisation": {
        "name": "Acme Support Ltd",
        "contacts": {
            "support-lead": {"name": "Sue Lead", "role": "business", "email": "sue@acme.example"},
            "ml-eng": {"name": "Mo Eng", "role": "technical", "email": "mo@acme.example"},
            "ops-lead": {"name": "Omar Lee", "role": "operations", "email": "ops@acme.example"},
        },
        "escalation": ["ops-lead"],
    },
    "severities": [
        {"id": "sev1", "name": "Critical", "definition": "Harm in progress", "acknowledge_within": "15m"}
    ],
    "workflows": [
        {
            "id": "support-triage",
            "purpose": "Route tickets and adjust account tiers",
            "owners": {"business": "support-lead", "technical": "ml-eng"},
            "approvers": ["support-lead"],
            "credentials": [{"id": "svc-triage", "system": "zendesk", "scope": "tickets:write"}],
            "model": {"provider": "openai", "name": "gpt-4.1-mini"},
            "prompts": [{"id": "triage-system", "version": "v3"}],
            "retrieval_sources": [{"id": "kb", "system": "confluence"}],
            "tools": [
                {"name": "helpdesk.read_ticket", "effect": "read"},
                {
                    "name": "crm.update_tier",
                    "effect": "write",
                    "undo": "crm.restore_tier",
                    "credential": "svc-triage",
                },
                {
                    "name": "email.send_refund",
                    "effect": "send",
                    "external": True,
                    "reversible": False,
                    "approval": "below_confidence",
                },
            ],
            "autonomy": "autonomous",
            "limits": {"rate": {"workflow": "100000/min"}, "confidence_threshold": 0.7},
            "fallback": {"queue": "Tier-1 human triage", "contact": "support-lead"},
            "fail_closed": True,
            "recovery": "Restore the last approved prompt; roll back tier changes.",
        }
    ],
}


def triage_document(**workflow_overrides: Any) -> dict[str, Any]:
    """The test runbook with fields of its one workflow replaced (e.g. autonomy, limits)."""
    document = copy.deepcopy(TRIAGE)
    document["workflows"][0].update(workflow_overrides)
    return document


def apply(engine: Engine, document: dict[str, Any] | None = None, *, actor: str = "ops-lead") -> int:
    """Apply a runbook document to the store; returns the revision number."""
    runbook = Runbook.model_validate(document or TRIAGE)
    with engine.begin() as conn:
        revision, _ = apply_runbook(conn, runbook, source="tests", actor=actor)
    return revision.revision
