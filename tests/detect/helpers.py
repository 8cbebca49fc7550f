"""Runbook contexts and engines for detector tests."""

from __future__ import annotations

from typing import Any

from andon.detect import DetectorEngine, Observed, Signal
from andon.runbook.schema import Runbook

ORG: dict[str, Any] = {
    "name": "Acme Support Ltd",
    "contacts": {
        "ops": {
            "name": "Omar Lee",
            "role": "operations",
            "email": "ops@acme.example",
            "phone": "+44 20 7946 0001",
        },
        "eng": {"name": "Eve Ng", "role": "technical", "email": "eng@acme.example"},
    },
    "escalation": ["ops"],
}


def runbook(
    *,
    detectors: dict[str, Any] | None = None,
    limits: dict[str, Any] | None = None,
    workflow: str = "refund-agent",
) -> Runbook:
    """A one-workflow runbook with the given detector settings and limits."""
    flow: dict[str, Any] = {
        "id": workflow,
        "purpose": "Handles billing tickets and sends refund e-mails.",
        "owners": {"business": "ops", "technical": "eng"},
        "model": {"provider": "openai", "name": "gpt-4.1"},
        "tools": [
            {"name": "crm.lookup_account", "effect": "read"},
            {"name": "crm.update_tier", "effect": "write", "undo": "crm.restore_tier"},
            {"name": "email.send_refund", "effect": "send", "external": True, "reversible": False},
        ],
        "autonomy": "autonomous",
        "recovery": "Pause and roll back.",
    }
    if detectors is not None:
        flow["detectors"] = detectors
    if limits is not None:
        flow["limits"] = limits
    return Runbook.model_validate(
        {
            "andon": 1,
            "organisation": ORG,
            "severities": [
                {
                    "id": "sev1",
                    "name": "Critical",
                    "definition": "Harm",
                    "acknowledge_within": "15m",
                    "page": ["ops"],
                }
            ],
            "workflows": [flow],
        }
    )


def run(events: list[Observed], book: Runbook | None = None) -> list[Signal]:
    """Every signal a fresh engine sends for ``events``."""
    return DetectorEngine(book).feed(events)


def by(signals: list[Signal], detector: str) -> list[Signal]:
    return [s for s in signals if s.detector == detector]
