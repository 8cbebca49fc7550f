"""Escalation as a clock runs down: the right contacts at 50 %, 75 %, 90 % and overdue."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path

from andon.incidents.clocks import Clock, Filing, Finding, Trigger, compute_clocks
from andon.incidents.escalation import (
    EscalationRule,
    Route,
    due_escalations,
    escalation_notification,
    escalation_plan,
    routes_from_runbook,
)
from andon.runbook.load import load_runbook

EXAMPLES = Path(__file__).resolve().parents[2] / "examples"
AWARE = datetime(2026, 3, 27, 10, tzinfo=UTC)
ROUTE = Route(contact="dpo", escalation=("ops-lead", "security-lead", "dpo", "legal"))


def gdpr_clock(*filings: Filing) -> Clock:
    trigger = Trigger("awareness", who="dpo", when=AWARE, statement="Confirmed the export of 20 tickets")
    return compute_clocks(["uk_gdpr"], triggers=[trigger], filings=filings)[0]


def test_plan_has_steps_at_the_shares_of_the_72_hours_with_growing_contact_lists() -> None:
    plan = escalation_plan(gdpr_clock(), ROUTE)
    assert [(step.at - AWARE, step.contacts) for step in plan] == [
        (timedelta(hours=36), ("dpo",)),
        (timedelta(hours=54), ("dpo", "ops-lead")),
        (timedelta(hours=64, minutes=48), ("dpo", "ops-lead", "security-lead")),
        (timedelta(hours=72), ("dpo", "ops-lead", "security-lead", "legal")),  # dpo once, in route order
    ]
    assert plan[-1].label == "overdue"
    assert [s.dedup_key for s in plan] == [
        "clock:uk_gdpr/authority_notification:50",
        "clock:uk_gdpr/authority_notification:75",
        "clock:uk_gdpr/authority_notification:90",
        "clock:uk_gdpr/authority_notification:100",
    ]


def test_due_escalations_follow_now_and_stop_once_filed() -> None:
    clock = gdpr_clock()
    assert due_escalations(clock, ROUTE, now=AWARE + timedelta(hours=35, minutes=59)) == []
    assert [s.share for s in due_escalations(clock, ROUTE, now=AWARE + timedelta(hours=36))] == [0.5]
    assert [s.share for s in due_escalations(clock, ROUTE, now=AWARE + timedelta(hours=60))] == [0.5, 0.75]
    overdue = due_escalations(clock, ROUTE, now=AWARE + timedelta(hours=73))
    assert overdue[-1].label == "overdue" and len(overdue) == 4

    filed = Filing("uk_gdpr", "authority_notification", who="dpo", when=AWARE + timedelta(hours=40))
    clock = gdpr_clock(filed)
    assert [s.share for s in due_escalations(clock, ROUTE, now=AWARE + timedelta(hours=39))] == [0.5]
    assert due_escalations(clock, ROUTE, now=AWARE + timedelta(hours=73)) == []


def test_custom_rules_and_undated_clocks() -> None:
    rules = (EscalationRule(0.25, None, "early, everyone"),)
    plan = escalation_plan(gdpr_clock(), ROUTE, rules=rules)
    assert [(s.at, s.contacts) for s in plan] == [
        (AWARE + timedelta(hours=18), ("dpo", "ops-lead", "security-lead", "legal"))
    ]
    trigger = Trigger("assessment_notifiable", who="dpo", when=AWARE, statement="significant scale")
    filed = Filing("sg_pdpa", "commission_notification", who="dpo", when=AWARE + timedelta(hours=5))
    harm = Finding("significant_harm", who="dpo", when=AWARE, statement="NRIC numbers")
    clocks = compute_clocks(["sg_pdpa"], triggers=[trigger], findings=[harm], filings=[filed])
    undated = [c for c in clocks if c.deadline is None]
    assert [c.obligation for c in undated] == ["individuals_notification"]
    assert escalation_plan(undated[0], ROUTE) == []


def test_routes_come_from_the_runbook_regimes_and_escalation_route() -> None:
    runbook = load_runbook(EXAMPLES / "support-agent.yaml")
    routes = routes_from_runbook(runbook)
    assert set(routes) == {"uk_gdpr", "eu_gdpr"}
    assert routes["uk_gdpr"] == Route(
        contact="dpo", escalation=("ops-lead", "security-lead", "dpo", "legal", "cto")
    )
    steps = due_escalations(gdpr_clock(), routes["uk_gdpr"], now=AWARE + timedelta(hours=72))
    assert steps[-1].contacts == ("dpo", "ops-lead", "security-lead", "legal", "cto")


def test_each_step_becomes_a_notification_deduplicated_per_incident_and_step() -> None:
    clock = gdpr_clock()
    now = AWARE + timedelta(hours=60)
    step = due_escalations(clock, ROUTE, now=now)[-1]
    message = escalation_notification(clock, step, now=now, severity="sev1", incident_id="INC-0042")
    assert message.title == "UK GDPR: Personal data breach notification due in 12h 00m"
    assert message.dedup_key == "INC-0042:clock:uk_gdpr/authority_notification:75"
    assert message.text.splitlines() == [
        "Personal data breach notification to Information Commissioner's Office (ICO) is due in 12h 00m "
        "(three quarters of the time used).",
        "Deadline: 2026-03-30 10:00 UTC — 72 hours from awareness (UK GDPR Art. 33(1)).",
        "Clock started 2026-03-27 10:00 UTC by dpo.",
        "For: dpo, ops-lead",
    ]
    late = AWARE + timedelta(hours=97, minutes=30)
    overdue = due_escalations(clock, ROUTE, now=late)[-1]
    message = escalation_notification(clock, overdue, now=late, severity="sev1")
    assert message.title == "UK GDPR: Personal data breach notification overdue by 1d 1h 30m"
    assert message.dedup_key == "clock:uk_gdpr/authority_notification:100"
