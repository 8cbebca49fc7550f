"""``andon init`` scaffolds: a first runbook that loads and has no lint errors, whatever the answers."""

from __future__ import annotations

from pathlib import Path

import pytest
from runbook_helpers import TODAY

from andon.runbook.lint import lint
from andon.runbook.load import load
from andon.runbook.scaffold import Person, ScaffoldSpec, contact_id, scaffold

BASE = {
    "organisation": "Acme",
    "workflow": "quote-bot",
    "purpose": "Drafts quotes",
    "business_owner": Person("Bea Owner", "bea@acme.example"),
    "technical_owner": Person("Ted Tech", "ted@acme.example"),
    "model": "openai/gpt-4.1-mini",
}

SPECS = {
    "read-only advisor": ScaffoldSpec(**BASE, autonomy="advise", tools=[("crm.read", "read")]),  # type: ignore[arg-type]
    "writes and sends personal data": ScaffoldSpec(
        **BASE,  # type: ignore[arg-type]
        data_protection=Person("Dee Pee", "dpo@acme.example"),
        communications_owner=Person("Cam Comms", "comms@acme.example"),
        data_classes=["personal", "commercial"],
        tools=[
            ("crm.read", "read"),
            ("crm.update", "write"),
            ("email.send", "send"),
            ("card.charge", "spend"),
        ],
    ),
    "autonomous deleter": ScaffoldSpec(
        **BASE,  # type: ignore[arg-type]
        autonomy="autonomous",
        tools=[("tickets.delete", "delete")],
    ),
}


@pytest.mark.parametrize("spec", SPECS.values(), ids=SPECS.keys())
def test_scaffold_lints_without_errors(tmp_path: Path, spec: ScaffoldSpec) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(scaffold(spec), encoding="utf-8")
    loaded = load(path)
    findings = lint(loaded, today=TODAY)
    assert [f.render() for f in findings if f.severity == "error"] == []
    # What is left are decisions only the author can make: drills, rollback paths, the contact tree.
    assert {f.code for f in findings} <= {"AND111", "AND125", "AND128"}
    workflow = loaded.runbook.workflow("quote-bot")
    assert workflow.owners.business == "bea-owner"
    assert all(t.approval == "always" for t in workflow.tools if t.changes_things)


def test_scaffold_names_the_regime_for_personal_data(tmp_path: Path) -> None:
    path = tmp_path / "runbook.yaml"
    path.write_text(scaffold(SPECS["writes and sends personal data"]), encoding="utf-8")
    runbook = load(path).runbook
    assert [(r.regime, r.applies_to, r.contact) for r in runbook.regimes] == [
        ("uk_gdpr", ["personal"], "dee-pee")
    ]
    assert "block_external_sends" in runbook.workflow("quote-bot").kill_switch


def test_contact_ids_are_readable_and_unique() -> None:
    taken: set[str] = set()
    assert contact_id("Dr. Eva Schulz", taken) == "dr-eva-schulz"
    assert contact_id("Dr Eva Schulz", taken) == "dr-eva-schulz-2"
