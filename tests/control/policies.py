"""Small control states for tests, built the way the runbook compiler builds them."""

from __future__ import annotations

from datetime import UTC, datetime

from andon.control.state import BreakerPolicy, ControlState, RateSpec, Switch, ToolPolicy, WorkflowPolicy

NOW = 1_800_000_000.0


def triage(autonomy: str = "autonomous", **overrides: object) -> WorkflowPolicy:
    tools = {
        "helpdesk.read_ticket": ToolPolicy("helpdesk.read_ticket", "read"),
        "crm.update_tier": ToolPolicy(
            "crm.update_tier",
            "write",
            undo="crm.restore_tier",
            credential="svc-triage",
            rate=RateSpec(10, 60),
        ),
        "email.send_refund": ToolPolicy(
            "email.send_refund", "send", external=True, approval="below_confidence"
        ),
        "crm.delete_note": ToolPolicy("crm.delete_note", "delete", approval="always"),
    }
    fields: dict[str, object] = {
        "id": "support-triage",
        "autonomy": autonomy,
        "tools": tools,
        "confidence_threshold": 0.7,
        "fallback": "Tier-1 human triage (contact: support-lead)",
        "rate": RateSpec(120, 60),
        "breaker": BreakerPolicy(
            consecutive_failures=5, error_rate=0.2, window_seconds=300, min_calls=20, burst=RateSpec(30, 10)
        ),
        "retrieval_sources": frozenset({"kb"}),
        "credentials": frozenset({"svc-triage"}),
    }
    fields.update(overrides)
    return WorkflowPolicy(**fields)  # type: ignore[arg-type]


def switch(
    kind: str,
    target: str | None = None,
    *,
    workflow: str | None = "support-triage",
    expires_ts: float | None = None,
) -> Switch:
    return Switch(
        id=f"sw-{kind}-{target}",
        kind=kind,
        workflow=workflow,
        target=target,
        actor="ops-lead",
        reason="incident 42",
        created_at=datetime.now(UTC),
        expires_ts=expires_ts,
    )


def state(*switches: Switch, policy: WorkflowPolicy | None = None) -> ControlState:
    wf = policy or triage()
    return ControlState(workflows={wf.id: wf}, switches=switches)
