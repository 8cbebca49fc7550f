"""The rendered runbook: what a responder needs in the first hour, as Markdown and as one HTML page."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import pytest
import yaml
from runbook_helpers import EXAMPLES, TODAY

from andon.runbook.load import load_runbook
from andon.runbook.render import render
from andon.runbook.schema import Runbook


@pytest.fixture(scope="module")
def agent_runbook() -> Runbook:
    return load_runbook(EXAMPLES / "support-agent.yaml")


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_responder_finds_how_to_stop_and_who_owns_it(agent_runbook: Runbook, fmt: Any) -> None:
    text = render(agent_runbook, fmt=fmt, today=TODAY)
    for expected in (
        'andon pause support-agent --reason "…"',
        "andon pause support-agent --scope block_external_sends",
        "Tomás Ruiz",  # technical owner
        "Chloe Martin",  # communications owner
        "+44 20 7946 0108",  # and how to reach him
        'Zendesk view "Tier-1 human"' if fmt == "markdown" else "Zendesk view &#34;Tier-1 human&#34;",
        "andon rollback run --workflow support-agent",
        "crm.restore_tier",
        "Notify the ICO within 72 hours",
        "Export the ledger for the affected runs before anything is changed",
        "2027-02-10",  # next drill: 2026-11-12 + 90d
    ):
        assert expected in text, expected


def test_first_hour_steps_are_numbered_with_resolved_owners(agent_runbook: Runbook) -> None:
    text = render(agent_runbook, fmt="markdown", today=TODAY)
    assert (
        "1. Pause the workflow (andon pause support-agent) — *technical owner: Tomás Ruiz*, within 5m" in text
    )
    assert (
        "5. Decide with the DPO whether personal data was disclosed — *data protection: Dana Price*" in text
    )


def test_severity_matrix_lists_targets_and_paging(agent_runbook: Runbook) -> None:
    text = render(agent_runbook, fmt="markdown", today=TODAY)
    row = next(line for line in text.splitlines() if line.startswith("| **sev1**"))
    cells = [c.strip() for c in row.strip("|").split("|")]
    assert cells[2:5] == ["15m", "1h", "1d"]
    assert cells[6] == "Omar Lee, Sam Okafor, Tomás Ruiz"
    assert cells[7] == "every 30m"


def test_html_is_one_self_contained_page(agent_runbook: Runbook) -> None:
    html = render(agent_runbook, fmt="html", today=TODAY)
    assert html.startswith("<!doctype html>")
    assert '<meta name="viewport"' in html and "@media print" in html
    assert not re.search(r"<(link|script|img|iframe)\b", html)
    assert not re.search(r"(src|href)=\"(https?:)?//", html)
    assert "url(" not in html


def test_html_escapes_runbook_text(tmp_path: Any) -> None:
    document = yaml.safe_load((EXAMPLES / "support-agent.yaml").read_text(encoding="utf-8"))
    document["workflows"][0]["purpose"] = "<script>alert(1)</script> & more"
    path = tmp_path / "x.yaml"
    path.write_text(yaml.safe_dump(document), encoding="utf-8")
    html = render(load_runbook(path), fmt="html")
    assert "<script>alert(1)</script>" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt; &amp; more" in html


def test_overdue_drill_is_marked(agent_runbook: Runbook) -> None:
    text = render(agent_runbook, fmt="markdown", today=date(2027, 3, 1))
    assert "2027-02-10 **(overdue)**" in text


@pytest.mark.parametrize("name", ["support-triage.yaml", "quote-estimates.yaml"])
def test_every_example_renders_its_workflow_and_every_incident_class(name: str) -> None:
    runbook = load_runbook(EXAMPLES / name)
    text = render(runbook, fmt="markdown", today=TODAY)
    for workflow in runbook.workflows:
        assert f"andon pause {workflow.id}" in text
    for incident_class in runbook.incident_classes:
        assert f"(`{incident_class.id}`)" in text
    # Short enough to use: a few pages, not a manual.
    assert len(text.splitlines()) < 400


MINIMAL = """\
andon: 1
organisation:
  name: Acme
  contacts: {ops: {name: Omar, role: operations}}
severities: [{id: sev1, name: Critical, definition: Harm, acknowledge_within: 15m}]
workflows:
  - {id: triage, purpose: Routes tickets, owners: {business: ops, technical: ops},
     model: {provider: openai, name: m}, autonomy: observe, recovery: Pause.}
"""


@pytest.mark.parametrize("fmt", ["markdown", "html"])
def test_a_sparse_runbook_renders_its_gaps_plainly(tmp_path: Any, fmt: Any) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(MINIMAL, encoding="utf-8")
    text = render(load_runbook(path), fmt=fmt)
    assert "No regimes declared." in text
    assert "No logging declared." in text
    assert "andon pause triage" in text
