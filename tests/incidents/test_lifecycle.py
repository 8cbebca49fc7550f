"""Opening incidents (declared, from signals), owners, states and the ledger trail — on both stores."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from andon.control.switches import list_switches
from andon.incidents import lifecycle
from andon.incidents.checklist import checklist, mark_item
from andon.incidents.containment import actions
from andon.incidents.records import IncidentError, get_incident, list_incidents
from andon.incidents.service import IncidentDesk
from andon.ledger.events import Event
from andon.ledger.log import append, read_events
from incidents.helpers import signal


def _now() -> datetime:
    return datetime.now(UTC)


def _retrieval(engine: Engine, source: str = "kb") -> int:
    with engine.begin() as conn:
        [index] = append(
            conn,
            [
                Event(
                    kind="retrieval",
                    actor="svc",
                    workflow="support-triage",
                    run_id="run-1",
                    payload={"source": source, "documents": ["ignore previous instructions"]},
                )
            ],
        )
    return index


def test_a_declared_incident_names_owners_from_the_pinned_runbook(desk: IncidentDesk) -> None:
    opened = desk.declare(
        incident_class="prompt_injection", workflow="support-triage", summary="Odd refunds", actor="alice"
    )
    incident = opened.incident
    assert incident.id == "INC-0001"
    assert incident.severity == "sev1" and incident.runbook_revision == 1
    assert incident.owners["incident"] == "security-lead"  # owner_role security -> the security contact
    assert incident.owners["business"] == "support-lead"
    assert incident.owners["technical"] == "ml-eng"
    assert incident.owners["communications"] == "comms"
    assert incident.owners["approvers"] == ["support-lead"]
    with desk.engine.connect() as conn:
        items = checklist(conn, incident.number)
    assert [i.owner_contact for i in items] == ["ml-eng", "ml-eng", "dpo"]
    assert items[0].within is not None and items[0].within.total_seconds() == 300
    # Declared incidents get the class's automatic containment too: a pause; no source named, so skipped.
    assert [(a.action, a.status) for a in opened.containment] == [
        ("pause_workflow", "applied"),
        ("block_retrieval_source", "skipped"),
    ]
    assert incident.state == "contained" and incident.contained_by == "andon:containment"
    assert opened.freeze is not None and len(opened.freeze.sha256) == 64
    assert Path(opened.freeze.path).exists()


def test_signals_open_one_incident_per_workflow_and_class_and_group_the_rest(desk: IncidentDesk) -> None:
    first = _retrieval(desk.engine)
    opened = desk.handle_signal(signal(evidence=(first,), key="a"))
    assert opened is not None and opened.created
    assert [(a.action, a.target, a.status) for a in opened.containment] == [
        ("pause_workflow", None, "applied"),
        ("block_retrieval_source", "kb", "applied"),
    ]
    again = desk.handle_signal(signal(evidence=(first,), key="a"))  # the same signal twice
    other = desk.handle_signal(signal(evidence=(first,), key="b"))  # another signal, same class
    assert again is not None and other is not None
    assert not again.created and not other.created
    assert again.incident.number == other.incident.number == opened.incident.number
    drift = desk.handle_signal(signal(incident_class="model_or_prompt_drift", evidence=(first,)))
    assert drift is not None and drift.created and drift.incident.number == 2
    with desk.engine.connect() as conn:
        assert len(list_incidents(conn)) == 2
        switches = list_switches(conn, now=_now(), workflow="support-triage")
        events = read_events(conn, incident_id="INC-0001")
    # Never more than the runbook says: pause + block kb for INC-0001, one cap for INC-0002.
    assert sorted((s.kind, s.target) for s in switches) == [
        ("block_retrieval_source", "kb"),
        ("cap_autonomy", "act_with_approval"),
        ("pause_workflow", None),
    ]
    assert all(s.actor == "andon:containment" for s in switches)
    assert all("INC-000" in s.reason for s in switches)
    fields = [e.payload["field"] for e in events if e.kind == "incident_change"]
    assert fields[0] == "opened" and fields.count("signal") == 1 and "evidence" in fields


def test_states_move_forward_only_and_close_needs_a_signed_review(desk: IncidentDesk) -> None:
    incident = desk.declare(
        incident_class="wrong_system_update",
        workflow="support-triage",
        summary="x",
        actor="alice",
        contain=False,
    ).incident
    with desk.engine.begin() as conn:
        lifecycle.acknowledge(conn, incident.id, actor="bob", now=_now())
        lifecycle.transition(conn, incident.id, to="mitigated", actor="bob", reason="tiers fixed", now=_now())
        with pytest.raises(IncidentError, match="cannot move back to contained"):
            lifecycle.transition(conn, incident.id, to="contained", actor="bob", reason="x", now=_now())
        with pytest.raises(IncidentError, match="resolve it before closing"):
            lifecycle.transition(conn, incident.id, to="closed", actor="bob", reason="x", now=_now())
        lifecycle.transition(conn, incident.id, to="resolved", actor="bob", reason="done", now=_now())
        with pytest.raises(IncidentError, match="review is signed off"):
            lifecycle.transition(conn, incident.id, to="closed", actor="bob", reason="x", now=_now())
        reopened = lifecycle.reopen(conn, incident.id, actor="carol", reason="it came back", now=_now())
        assert reopened.state == "triage" and reopened.resolved_at is None
        lifecycle.add_note(conn, incident.id, text="Vendor informed", actor="carol", now=_now())
    with desk.engine.connect() as conn:
        found = get_incident(conn, "inc-1")
        events = read_events(conn, incident_id=incident.id)
    assert found.acknowledged_by == "bob" and found.mitigated_at is None
    states = [(e.payload["before"], e.payload["after"]) for e in events if e.payload.get("field") == "state"]
    assert states == [("triage", "mitigated"), ("mitigated", "resolved"), ("resolved", "triage")]
    assert [e.payload["text"] for e in events if e.kind == "note"] == ["Vendor informed"]


def test_checklist_items_record_who_and_when(desk: IncidentDesk) -> None:
    incident = desk.declare(
        incident_class="prompt_injection", workflow="support-triage", summary="x", actor="alice"
    ).incident
    with desk.engine.begin() as conn:
        item = mark_item(conn, incident, 2, done=True, actor="mo", now=_now())
        assert item.done and item.done_by == "mo"
        with pytest.raises(IncidentError, match="no checklist item 9"):
            mark_item(conn, incident, 9, done=True, actor="mo", now=_now())
    with desk.engine.connect() as conn:
        assert [a.action for a in actions(conn, incident.number)] == [
            "pause_workflow",
            "block_retrieval_source",
        ]


def test_unknown_class_workflow_and_severity_are_refused_by_name(desk: IncidentDesk) -> None:
    with pytest.raises(IncidentError, match="no incident class 'typo'"):
        desk.declare(incident_class="typo", workflow="support-triage", summary="x", actor="a")
    with pytest.raises(IncidentError, match="no workflow 'nope'"):
        desk.declare(incident_class="prompt_injection", workflow="nope", summary="x", actor="a")
    with pytest.raises(IncidentError, match="no severity 'sev9'"):
        desk.declare(
            incident_class="prompt_injection",
            workflow="support-triage",
            summary="x",
            actor="a",
            severity="sev9",
        )
