"""Readiness lint: each red flag a review board raises gets its own finding, code and place."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

import pytest
from runbook_helpers import EXAMPLES, TODAY, codes

from andon.errors import Problem
from andon.runbook.lint import CODES, has_errors, lint
from andon.runbook.load import load

LintDoc = Callable[..., list[Problem]]


def wf(doc: dict[str, Any]) -> dict[str, Any]:
    workflow: dict[str, Any] = doc["workflows"][0]
    return workflow


def tool(doc: dict[str, Any], name: str) -> dict[str, Any]:
    return next(t for t in wf(doc)["tools"] if t["name"] == name)


@pytest.mark.parametrize("name", ["support-agent.yaml", "support-triage.yaml", "quote-estimates.yaml"])
def test_examples_have_no_findings_at_all(name: str) -> None:
    assert [f.render() for f in lint(load(EXAMPLES / name), today=TODAY)] == []


def test_the_base_document_is_clean(agent: dict[str, Any], lint_doc: LintDoc) -> None:
    assert lint_doc(agent) == []


def _no_pause(doc: dict[str, Any]) -> None:
    wf(doc)["kill_switch"].remove("pause_workflow")


def _no_fallback(doc: dict[str, Any]) -> None:
    del wf(doc)["fallback"]


def _no_comms_owner(doc: dict[str, Any]) -> None:
    del wf(doc)["owners"]["communications"]


def _undeclared_undo(doc: dict[str, Any]) -> None:
    del tool(doc, "crm.update_tier")["undo"]


def _irreversible_without_approval(doc: dict[str, Any]) -> None:
    tool(doc, "email.send_refund")["approval"] = "never"


def _nobody_paged(doc: dict[str, Any]) -> None:
    doc["severities"][2]["page"] = []
    del doc["severities"][2]["owner"]


def _no_regime(doc: dict[str, Any]) -> None:
    doc["regimes"] = []


def _no_dpo(doc: dict[str, Any]) -> None:
    doc["organisation"]["contacts"]["dpo"]["role"] = "legal"


def _logging_without_action(doc: dict[str, Any]) -> None:
    wf(doc)["logging"]["links"] = ["input", "output"]


def _overdue_drill(doc: dict[str, Any]) -> None:
    wf(doc)["drills"]["last"] = "2026-01-05"


def _never_drilled(doc: dict[str, Any]) -> None:
    del wf(doc)["drills"]


def _self_approval(doc: dict[str, Any]) -> None:
    wf(doc)["approvers"].append("agent-eng")


def _no_approvers(doc: dict[str, Any]) -> None:
    wf(doc)["approvers"] = []


def _autonomous_without_rate(doc: dict[str, Any]) -> None:
    wf(doc)["autonomy"] = "autonomous"
    del wf(doc)["limits"]["rate"]["tools"]["crm.update_tier"]


def _no_confidence_threshold(doc: dict[str, Any]) -> None:
    del wf(doc)["limits"]["confidence_threshold"]


def _no_circuit_breaker(doc: dict[str, Any]) -> None:
    del wf(doc)["limits"]["circuit_breaker"]


def _no_containment(doc: dict[str, Any]) -> None:
    doc["incident_classes"][0]["containment"] = []


def _no_escalation(doc: dict[str, Any]) -> None:
    doc["organisation"]["escalation"] = []


def _external_sends_unblockable(doc: dict[str, Any]) -> None:
    wf(doc)["kill_switch"].remove("block_external_sends")


def _no_evidence(doc: dict[str, Any]) -> None:
    doc["incident_classes"][1]["evidence"] = []


def _failure_mode_missing(doc: dict[str, Any]) -> None:
    doc["incident_classes"] = [c for c in doc["incident_classes"] if c["id"] != "wrong_recipient"]


def _unreachable_contact(doc: dict[str, Any]) -> None:
    del doc["organisation"]["contacts"]["legal"]["email"]


def _shared_credential(doc: dict[str, Any]) -> None:
    wf(doc)["credentials"][1]["shared"] = True


def _fails_open(doc: dict[str, Any]) -> None:
    wf(doc)["fail_closed"] = False


def _no_prompt_rollback(doc: dict[str, Any]) -> None:
    del wf(doc)["rollback"]["prompt"]


def _unrestorable_source(doc: dict[str, Any]) -> None:
    del wf(doc)["retrieval_sources"][0]["restore"]


def _role_nobody_holds(doc: dict[str, Any]) -> None:
    doc["incident_classes"][0]["owner_role"] = "executive"
    del doc["organisation"]["contacts"]["cto"]
    doc["organisation"]["escalation"].remove("cto")


def _missing_vendor(doc: dict[str, Any]) -> None:
    del doc["organisation"]["contacts"]["model-vendor"]


def _containment_not_offered(doc: dict[str, Any]) -> None:
    wf(doc)["kill_switch"].remove("block_retrieval_source")


def _no_workflows(doc: dict[str, Any]) -> None:
    doc["workflows"] = []


BREAKAGES: list[tuple[Callable[[dict[str, Any]], None], str, str]] = [
    (_no_workflows, "AND100", ""),
    (_no_pause, "AND101", "workflows[support-agent].kill_switch"),
    (_no_fallback, "AND102", "workflows[support-agent].id"),
    (_no_comms_owner, "AND103", "workflows[support-agent].owners"),
    (_undeclared_undo, "AND104", "workflows[support-agent].tools[crm.update_tier].effect"),
    (_irreversible_without_approval, "AND105", "workflows[support-agent].tools[email.send_refund].name"),
    (_nobody_paged, "AND106", "severities[sev3]"),
    (_no_regime, "AND107", "workflows[support-agent].data_classes"),
    (_no_dpo, "AND108", "workflows[support-agent].data_classes"),
    (_logging_without_action, "AND109", "workflows[support-agent].logging.links"),
    (_overdue_drill, "AND110", "workflows[support-agent].drills.last"),
    (_never_drilled, "AND111", "workflows[support-agent].id"),
    (_self_approval, "AND112", "workflows[support-agent].approvers[2]"),
    (_no_approvers, "AND113", "workflows[support-agent].autonomy"),
    (_autonomous_without_rate, "AND114", "workflows[support-agent].tools[crm.update_tier].name"),
    (_no_confidence_threshold, "AND115", "workflows[support-agent].tools[helpdesk.post_reply].approval"),
    (_no_circuit_breaker, "AND116", "workflows[support-agent].limits"),
    (_no_containment, "AND117", "incident_classes[prompt_injection]"),
    (_no_escalation, "AND118", "organisation"),
    (_external_sends_unblockable, "AND119", "workflows[support-agent].tools[helpdesk.post_reply].external"),
    (_no_evidence, "AND120", "incident_classes[wrong_system_update]"),
    (_failure_mode_missing, "AND121", "incident_classes"),
    (_unreachable_contact, "AND122", "organisation.contacts.legal"),
    (_shared_credential, "AND123", "workflows[support-agent].credentials[svc-agent-salesforce].shared"),
    (_fails_open, "AND124", "workflows[support-agent].fail_closed"),
    (_no_prompt_rollback, "AND125", "workflows[support-agent].rollback"),
    (_unrestorable_source, "AND126", "workflows[support-agent].retrieval_sources[help-centre]"),
    (_role_nobody_holds, "AND127", "incident_classes[prompt_injection].owner_role"),
    (_missing_vendor, "AND128", "organisation.contacts"),
    (_containment_not_offered, "AND129", "workflows[support-agent].kill_switch"),
]


def test_every_code_has_a_breakage_test() -> None:
    assert sorted(code for _, code, _ in BREAKAGES) == sorted(CODES)


@pytest.mark.parametrize(("breakage", "code", "path"), BREAKAGES, ids=[c for _, c, _ in BREAKAGES])
def test_each_red_flag_is_found_at_its_place(
    agent: dict[str, Any], lint_doc: LintDoc, breakage: Callable[[dict[str, Any]], None], code: str, path: str
) -> None:
    breakage(agent)
    findings = [f for f in lint_doc(agent) if f.code == code]
    assert findings, f"{code} not reported"
    assert findings[0].path == path
    assert findings[0].severity == CODES[code][0]
    assert findings[0].line >= 1 and findings[0].column >= 1


def test_overdue_drill_depends_on_the_day(agent: dict[str, Any], lint_doc: LintDoc) -> None:
    wf(agent)["drills"] = {"cadence": "30d", "last": "2026-10-01"}
    assert lint_doc(agent, today=date(2026, 10, 31)) == []
    findings = lint_doc(agent, today=date(2026, 11, 1))
    assert [(f.code, f.message) for f in findings] == [
        (
            "AND110",
            "drill of 'support-agent' is overdue: last 2026-10-01, every 30d, so due 2026-10-31",
        )
    ]


def test_self_approval_only_matters_when_the_workflow_changes_things(
    agent: dict[str, Any], lint_doc: LintDoc
) -> None:
    workflow = wf(agent)
    workflow["approvers"].append("agent-eng")
    workflow["tools"] = [t for t in workflow["tools"] if t["effect"] == "read"]
    workflow["limits"]["rate"]["tools"] = {}
    assert "AND112" not in codes(lint_doc(agent))


def test_warnings_alone_are_not_errors(agent: dict[str, Any], lint_doc: LintDoc) -> None:
    _never_drilled(agent)
    findings = lint_doc(agent)
    assert codes(findings) == ["AND111"]
    assert not has_errors(findings)


def test_finding_position_points_at_the_line_in_the_file(write: Callable[..., Path]) -> None:
    text = (EXAMPLES / "support-agent.yaml").read_text(encoding="utf-8")
    broken = text.replace("undo: crm.restore_tier, approval: always,", "approval: always,")
    path = write(broken)
    [finding] = lint(load(path), today=TODAY)
    line = next(n for n, row in enumerate(broken.splitlines(), 1) if "name: crm.update_tier" in row)
    assert (finding.code, finding.line) == ("AND104", line)
    assert finding.render().startswith(f"{path}:{line}:")
    assert finding.message == (
        "tool 'crm.update_tier' is a write but declares no undo; add 'undo:' or mark it 'reversible: false'"
    )
