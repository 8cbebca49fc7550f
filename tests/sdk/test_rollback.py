from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

import pytest

from andon.control.service import StoreControl
from andon.errors import ControlError
from andon.ledger.log import read_events
from andon.sdk.client import Andon

from .crm import Crm, guard_crm

ACCOUNTS = 200
TIERS = ("silver", "gold", "platinum", "gold", "bronze")  # five writes per account: 1,000 in all


def test_rollback_of_1000_writes_restores_every_record_and_reports_conflicts(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    started = datetime.now(UTC)
    with a.run("support-triage", input="bulk re-tiering") as run:
        run.model_call(output="re-tier", confidence=0.95)
        for tier in TIERS:
            for n in range(ACCOUNTS):
                update_tier(f"acct-{n}", tier)
    assert crm.writes == 1000
    touched_by_people = {"acct-7": "enterprise", "acct-50": "standard-plus", "acct-199": "diamond"}
    crm.tiers.update(touched_by_people)  # someone changed these records after the agent did

    plan = a.rollback(workflow="support-triage", since=started)
    assert plan.dry_run and len(plan.planned) == 1000 and not plan.rolled_back
    assert crm.tiers["acct-1"] == "bronze"  # a dry run changes nothing
    assert plan.planned[0].finished_at >= plan.planned[-1].finished_at  # newest first

    report = a.rollback(
        workflow="support-triage",
        since=started,
        actor="ops-lead",
        reason="bad re-tiering",
        dry_run=False,
        progress=True,
    )
    assert len(report.conflicts) == 15  # 3 records x 5 writes, none overwritten
    assert {c["args"]["account_id"] for c in report.conflicts} == set(touched_by_people)
    assert len(report.rolled_back) == 985 and not report.failed and not report.skipped
    for n in range(ACCOUNTS):
        account = f"acct-{n}"
        assert crm.tiers[account] == touched_by_people.get(account, "standard"), account

    again = a.rollback(
        workflow="support-triage", since=started, actor="ops-lead", reason="again", dry_run=False
    )
    assert again.planned == [] and again.rolled_back == []  # idempotent: nothing left to undo
    with operator.engine.connect() as conn:
        rollbacks = [e.payload for e in read_events(conn) if e.kind == "control_change"]
    assert sum(1 for p in rollbacks if p["outcome"] == "rolled_back") == 985
    assert sum(1 for p in rollbacks if p["outcome"] == "conflict") == 15


def test_rollback_by_version_and_a_rollback_needs_a_scope(
    make_client: Callable[..., Andon], operator: StoreControl
) -> None:
    a = make_client()
    crm = Crm()
    _, update_tier = guard_crm(a, crm)
    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.9)
        update_tier("acct-1", "gold")
    bad = operator.publish_version(
        workflow="support-triage",
        kind="prompt",
        name="triage-system",
        content="upgrade everyone",
        actor="ml-eng",
        version="v4",
        live=True,
    )
    assert a.refresh()
    with a.run("support-triage") as run:
        run.model_call(output="x", confidence=0.9)
        update_tier("acct-2", "gold")
    report = a.rollback(
        workflow="support-triage", version=bad.ref, actor="ops-lead", reason="v4", dry_run=False
    )
    assert len(report.rolled_back) == 1
    assert crm.tiers == {"acct-1": "gold", "acct-2": "standard"}
    with pytest.raises(ControlError, match="never covers everything"):
        a.rollback()
