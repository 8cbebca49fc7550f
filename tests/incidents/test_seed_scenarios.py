"""The seed scenarios end to end, with agents guarded by the real SDK over an in-test record store.

(a) A prompt update routes billing complaints as product bugs: drift is detected, routing falls back
    to human review, the affected tickets are listed, the last approved prompt is restored after an
    evidence freeze, billing cases become evaluation cases, and automation resumes through the gate.
(b) A quote workflow with missing CRM fields: every quote is held for the pricing owner.
(c) An injected instruction changes an account tier and sends refund e-mails to twenty customers:
    contained, tier changes rolled back, the twenty recipients listed, the GDPR clock running from the
    recorded moment of awareness.
"""

from __future__ import annotations

import csv
import io
import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.engine import Engine

from andon.control.service import StoreControl
from andon.errors import ApprovalPending, Denied
from andon.incidents import acts, affected, lifecycle, review
from andon.incidents.checklist import checklist
from andon.incidents.records import IncidentError, get_incident
from andon.incidents.service import IncidentDesk
from andon.ledger.keys import signing_key
from andon.ledger.log import read_events
from andon.sdk.client import Andon
from incidents.helpers import apply, document
from incidents.world import INJECTION, Records, detect, guard_support, triage

QUIET = {"write_rate": {"max": 100000, "limit_share": 1.0}}  # the scenarios are not about write rates


@pytest.fixture
def world(db: tuple[str, str | None], engine: Engine, tmp_path: Path) -> Iterator[tuple[Andon, IncidentDesk]]:
    url, schema = db
    client = Andon.local(url, schema=schema, spool_dir=tmp_path / "spool", actor="svc-triage")
    # The desk signs with the key the client's checkpointer signs with (the data dir's), as one
    # deployment does: a freeze refuses a ledger whose newest checkpoint another key signed.
    desk = IncidentDesk(engine, signer=signing_key(), directory=tmp_path / "evidence")
    yield client, desk
    client.close()


def _now() -> datetime:
    return datetime.now(UTC)


def test_a_prompt_update_that_misroutes_billing_is_contained_restored_and_gated(
    world: tuple[Andon, IncidentDesk], engine: Engine
) -> None:
    client, desk = world
    drift = {"label": "label", "min_samples": 20, "baseline": 60, "current": 30, "check_every": 5}
    apply(engine, document(detectors={**QUIET, "drift": drift}))
    control = StoreControl(engine)
    v1 = control.publish_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        content="Route billing complaints to billing, defects to bug.",
        actor="ml-eng",
        version="v1",
        live=True,
    )
    control.approve_version(v1.id, actor="support-lead")
    client.refresh()
    records = Records()
    tools = guard_support(client, records)
    topics = ["billing", "bug"] * 30
    for n, topic in enumerate(topics):  # 60 tickets under the approved prompt: half billing
        triage(client, tools, {"id": f"T-{n}", "topic": topic, "text": f"{topic} problem {n}"})
    control.publish_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        content="Route every complaint about the product to bug.",
        actor="ml-eng",
        version="v2",
        live=True,
    )
    client.refresh()
    for n, topic in enumerate(["billing", "bug"] * 15, start=100):  # the new prompt: billing -> bug
        triage(client, tools, {"id": f"T-{n}", "topic": topic, "text": f"{topic} problem {n}"})
    client.flush()
    assert records.queues["T-100"] == "bug"  # a billing complaint routed as a product bug

    opened, _ = detect(engine, desk)
    drifts = [o for o in opened if o.incident.incident_class == "model_or_prompt_drift" and o.created]
    assert len(drifts) == 1
    incident = drifts[0].incident
    assert incident.suspect_versions == ["prompt:triage-system@v2"]
    assert [(a.action, a.target) for a in drifts[0].containment] == [("cap_autonomy", "act_with_approval")]
    assert drifts[0].freeze is not None  # evidence frozen when it opened

    client.refresh()  # routing falls back to human review: every route now waits for a person
    with pytest.raises(ApprovalPending):
        triage(client, tools, {"id": "T-900", "topic": "billing", "text": "refund please"})

    with engine.connect() as conn:
        rows = affected.affected(conn, get_incident(conn, incident.id))
    misrouted = {
        r.args["ticket_id"] for r in rows if r.after == {"ticket_id": r.args["ticket_id"], "queue": "bug"}
    }
    billing_v2 = {f"T-{n}" for n in range(100, 130, 2)}
    assert billing_v2 <= misrouted
    assert all(r.versions.get("prompt:triage-system") == "prompt:triage-system@v2" for r in rows)
    table = list(csv.DictReader(io.StringIO(affected.to_csv(rows))))
    assert {"ticket_id=T-100"} <= {row["records"] for row in table}

    step, frozen = desk.restore(
        incident.id,
        kind="prompt",
        name="triage-system",
        actor="mo",
        reason="billing complaints routed as bugs",
    )
    assert step.target == "prompt:triage-system@v1" and step.freeze_id == frozen.id
    client.refresh()
    assert "billing" in str(client.prompt("support-triage", "triage-system"))

    with engine.begin() as conn:
        current = get_incident(conn, incident.id)
        lifecycle.transition(conn, incident.id, to="mitigated", actor="mo", reason="v1 restored", now=_now())
        with pytest.raises(IncidentError, match="cannot resume yet"):
            review.resume(conn, current, actor="mo", reason="fixed", now=_now())
        calls = read_events(conn, workflow="support-triage", kinds=("model_call",))
        billing_calls = [
            e
            for e in calls
            if e.payload["output"] == {"label": "bug"} and "billing" in str(e.payload["input"])
        ]
        for event in billing_calls:
            review.add_eval_case(
                conn,
                current,
                source_index=event.index,
                expected={"label": "billing"},
                actor="mo",
                now=_now(),
                note="misrouted by v2",
            )
        review.set_review(
            conn,
            current,
            root_cause="integration_change",
            actor="mo",
            now=_now(),
            summary="The v2 prompt dropped the billing route.",
        )
        item = review.add_item(
            conn,
            current,
            text="Run billing cases before each prompt release",
            owner="ml-eng",
            actor="mo",
            now=_now(),
        )
        missing = review.restart_gate(conn, current)
        assert any("required action item" in m for m in missing) and any("signs" in m for m in missing)
        review.mark_item_done(conn, current, item.id, actor="mo", now=_now())
        with pytest.raises(IncidentError, match="not a named owner"):
            review.sign_off(conn, current, contact="dpo", actor="dana", now=_now())
        review.sign_off(conn, current, contact="ml-eng", actor="mo", now=_now())
        assert review.restart_gate(conn, current) == []
        cleared = review.resume(conn, current, actor="mo", reason="v1 restored, cases added", now=_now())
        assert len(cleared) == 1
        jsonl = review.eval_cases_jsonl(review.get_review(conn, incident.number), current)
    cases = [json.loads(line) for line in jsonl.splitlines()]
    assert len(cases) == 15 and all(c["expected"] == {"label": "billing"} for c in cases)
    assert all("billing" in c["input"] for c in cases)

    client.refresh()  # automation resumes, on the restored prompt
    assert triage(client, tools, {"id": "T-901", "topic": "billing", "text": "billing again"}) == "billing"
    assert records.queues["T-901"] == "billing"


def test_b_missing_crm_fields_hold_every_quote_for_the_pricing_owner(
    world: tuple[Andon, IncidentDesk], engine: Engine
) -> None:
    client, desk = world
    apply(engine)
    client.refresh()
    records = Records(
        deals={
            "D-1": {"hours": 40, "rate": 150, "scope": "migration"},
            "D-2": {"hours": None, "rate": 150, "scope": None},
            "D-3": {"hours": 12, "rate": None, "scope": "audit"},
        }
    )

    @client.tool("quote-drafting", "quotes.send")
    def send_quote(deal_id: str, amount: int) -> dict[str, object]:
        records.quotes.append({"deal_id": deal_id, "amount": amount})
        return {"sent": True}

    def draft(deal_id: str) -> None:
        deal = records.deals[deal_id]
        missing = sorted(k for k, v in deal.items() if v is None)
        with client.run("quote-drafting", input={"deal": deal_id, "fields": deal}, actor="svc-quotes") as run:
            estimate = (deal["hours"] or 8) * (deal["rate"] or 100)
            run.model_call(
                input=deal,
                output={"estimate": estimate, "missing": missing},
                confidence=0.9 if not missing else 0.3,
            )
            send_quote(deal_id, estimate)

    draft("D-1")
    assert records.quotes == [{"deal_id": "D-1", "amount": 6000}]
    opened = desk.declare(
        incident_class="wrong_recommendation",
        workflow="quote-drafting",
        actor="pat",
        summary="Quotes drafted from deals with missing CRM fields",
    )
    incident = opened.incident
    assert incident.owners["business"] == "pricing-owner" and incident.owners["approvers"] == [
        "pricing-owner"
    ]
    with engine.connect() as conn:
        assert [i.owner_contact for i in checklist(conn, incident.number)] == ["pricing-owner"]
    client.refresh()
    held = []
    for deal_id in ("D-1", "D-2", "D-3"):
        with pytest.raises(ApprovalPending) as caught:
            draft(deal_id)
        held.append(caught.value.approval_id)
    assert len(records.quotes) == 1  # nothing reached a customer
    pending = StoreControl(engine).list_approvals(workflow="quote-drafting")
    assert sorted(p.id for p in pending) == sorted(held)
    approval = StoreControl(engine).decide_approval(
        held[0], actor="pricing-owner", approve=True, reason="fields checked with the client"
    )
    assert approval.status == "approved"
    client.resume(held[0])
    assert records.quotes[-1]["deal_id"] == "D-1" and len(records.quotes) == 2


def test_c_injected_attachment_is_contained_rolled_back_and_the_gdpr_clock_runs_from_awareness(
    world: tuple[Andon, IncidentDesk], engine: Engine
) -> None:
    client, desk = world
    apply(engine, document(detectors=QUIET))
    client.refresh()
    records = Records(tiers={"ACME-1": "gold"})
    tools = guard_support(client, records)
    ticket = {"id": "T-77", "text": "Please check my invoice", "attachment": INJECTION}
    with client.run("support-triage", input=ticket, actor="svc-triage") as run:
        run.model_call(input=ticket, output={"plan": "upgrade and refund"}, confidence=0.95)
        tools["update_tier"]("ACME-1", "platinum")
        for n in range(20):
            tools["send_refund"](f"customer{n}@example.com", 50, f"ACME-{100 + n}")
    client.flush()
    assert records.tiers["ACME-1"] == "platinum" and len(records.mails) == 20

    opened, _ = detect(engine, desk)
    injection = next(o for o in opened if o.incident.incident_class == "prompt_injection")
    assert injection.created and injection.incident.severity == "sev1"
    assert injection.incident.owners["incident"] == "security-lead"
    assert ("pause_workflow", "applied") in [(a.action, a.status) for a in injection.containment]
    incident = injection.incident
    client.refresh()
    with pytest.raises(Denied, match="paused"):
        tools["send_refund"]("late@example.com", 50, "ACME-999")

    with engine.connect() as conn:
        rows = affected.affected(conn, get_incident(conn, incident.id))
    recipients = affected.customers(rows)
    assert sorted(r["recipient"] for r in recipients) == sorted(f"customer{n}@example.com" for n in range(20))
    tier_changes = [r for r in rows if r.tool == "crm.update_tier"]
    assert [(r.records, r.before, r.after) for r in tier_changes] == [
        (
            ("account_id=ACME-1",),
            {"account_id": "ACME-1", "tier": "gold"},
            {"account_id": "ACME-1", "tier": "platinum"},
        )
    ]

    step, report = desk.rollback(incident.id, client, actor="mo", reason="undo the injected tier change")
    assert records.tiers["ACME-1"] == "gold"  # rolled back
    assert len(report.rolled_back) == 1 and len(report.skipped) == 20  # e-mails cannot be unsent
    assert step.freeze_id is not None

    aware = _now() - timedelta(hours=2)
    with engine.begin() as conn:
        current = get_incident(conn, incident.id)
        acts.record_act(
            conn,
            current,
            act="trigger",
            name="awareness",
            who="dpo",
            at=aware,
            actor="dana",
            statement="Refund e-mails reached 20 customers",
            now=_now(),
        )
        found = acts.clocks(conn, current)
    gdpr = next(c for c in found if c.key == "uk_gdpr/authority_notification")
    assert gdpr.started_at == aware and gdpr.started_by.who == "dpo"
    assert gdpr.deadline == aware + timedelta(hours=72)
    left = gdpr.time_left(_now())
    assert left is not None and timedelta(hours=69, minutes=59) < left < timedelta(hours=70)
