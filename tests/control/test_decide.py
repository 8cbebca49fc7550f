from __future__ import annotations

import pytest

from andon.control.decide import Action, decide, effective_autonomy
from andon.control.limits import limits_for

from .policies import NOW, state, switch, triage

WRITE = Action("support-triage", "crm.update_tier", confidence=0.9)
READ = Action("support-triage", "helpdesk.read_ticket")
SEND = Action("support-triage", "email.send_refund", confidence=0.9)


def test_autonomous_write_within_limits_is_allowed_and_debits_its_buckets() -> None:
    d = decide(state(), WRITE, now=NOW, tokens={})
    assert (d.outcome, d.rule) == ("allow", "autonomy:autonomous")
    assert d.debit == ("rate:support-triage:crm.update_tier", "rate:support-triage", "burst:support-triage")


@pytest.mark.parametrize(
    ("autonomy", "outcome", "rule"),
    [
        ("observe", "simulate", "autonomy:observe"),
        ("advise", "deny", "autonomy:advise"),
        ("act_with_approval", "hold", "autonomy:act_with_approval"),
        ("autonomous", "allow", "autonomy:autonomous"),
    ],
)
def test_autonomy_levels_govern_writes_but_never_reads(autonomy: str, outcome: str, rule: str) -> None:
    s = state(policy=triage(autonomy))
    d = decide(s, WRITE, now=NOW)
    assert (d.outcome, d.rule) == (outcome, rule)
    assert decide(s, READ, now=NOW).outcome == "allow"


def test_advice_only_denial_says_so_and_names_the_fallback() -> None:
    d = decide(state(policy=triage("advise")), WRITE, now=NOW)
    assert "advice only" in d.reason
    assert d.fallback == "Tier-1 human triage (contact: support-lead)"


def test_effective_autonomy_is_the_lowest_of_runbook_and_caps() -> None:
    s = state(switch("cap_autonomy", "act_with_approval"), switch("cap_autonomy", "advise"))
    assert effective_autonomy(s, "support-triage", NOW) == "advise"
    assert decide(s, WRITE, now=NOW).rule == "autonomy:advise"
    # a cap above the runbook's own level changes nothing
    low = state(switch("cap_autonomy", "autonomous"), policy=triage("observe"))
    assert effective_autonomy(low, "support-triage", NOW) == "observe"


def test_expired_switches_are_ignored() -> None:
    s = state(switch("pause_workflow", expires_ts=NOW - 1))
    assert decide(s, WRITE, now=NOW).outcome == "allow"
    assert decide(s, WRITE, now=NOW - 2).rule == "paused"


def test_pause_denies_reads_and_writes_with_the_fallback() -> None:
    s = state(switch("pause_workflow"))
    for action in (READ, WRITE, Action("support-triage", source="kb")):
        d = decide(s, action, now=NOW)
        assert (d.outcome, d.rule) == ("deny", "paused")
        assert d.fallback == "Tier-1 human triage (contact: support-lead)"
        assert "ops-lead" in d.reason and "incident 42" in d.reason


def test_a_switch_for_every_workflow_applies_to_this_one() -> None:
    s = state(switch("pause_workflow", workflow=None))
    assert decide(s, WRITE, now=NOW).rule == "paused"


def test_freeze_writes_stops_writes_deletes_and_spends_while_reads_go_on() -> None:
    s = state(switch("freeze_writes"))
    assert decide(s, WRITE, now=NOW).rule == "writes_frozen"
    assert decide(s, Action("support-triage", "crm.delete_note"), now=NOW).rule == "writes_frozen"
    assert decide(s, READ, now=NOW).outcome == "allow"
    assert decide(s, Action("support-triage", source="kb"), now=NOW).outcome == "allow"


def test_block_external_sends_stops_only_external_tools() -> None:
    s = state(switch("block_external_sends"))
    assert decide(s, SEND, now=NOW).rule == "external_sends_blocked"
    assert decide(s, WRITE, now=NOW).outcome == "allow"


def test_block_tool_and_revoke_credential_name_their_target() -> None:
    assert decide(state(switch("block_tool", "crm.update_tier")), WRITE, now=NOW).rule == "tool_blocked"
    assert decide(state(switch("block_tool", "other.tool")), WRITE, now=NOW).outcome == "allow"
    d = decide(state(switch("revoke_credential", "svc-triage")), WRITE, now=NOW)
    assert (d.rule, d.outcome) == ("credential_revoked", "deny")
    assert "svc-triage" in d.reason


def test_block_retrieval_source_and_undeclared_sources() -> None:
    s = state(switch("block_retrieval_source", "kb"))
    assert decide(s, Action("support-triage", source="kb"), now=NOW).rule == "retrieval_source_blocked"
    assert decide(state(), Action("support-triage", source="kb"), now=NOW).outcome == "allow"
    d = decide(state(), Action("support-triage", source="pastebin"), now=NOW)
    assert d.rule == "unauthorised_retrieval_source"


def test_undeclared_tool_is_unauthorised_tool_use() -> None:
    d = decide(state(), Action("support-triage", "shell.exec"), now=NOW)
    assert (d.outcome, d.rule) == ("deny", "unauthorised_tool")
    assert "unauthorised tool use" in d.reason


def test_unknown_workflow_is_denied() -> None:
    assert decide(state(), Action("nope", "x"), now=NOW).rule == "unknown_workflow"


def test_confidence_below_threshold_holds() -> None:
    d = decide(state(), Action("support-triage", "crm.update_tier", confidence=0.62), now=NOW)
    assert (d.outcome, d.rule) == ("hold", "confidence_below_threshold")
    assert "0.62" in d.reason and "0.70" in d.reason


def test_per_tool_approval_rules() -> None:
    assert decide(state(), Action("support-triage", "crm.delete_note", confidence=0.99), now=NOW).rule == (
        "approval:always"
    )
    assert decide(state(), Action("support-triage", "email.send_refund"), now=NOW).rule == (
        "approval:below_confidence"
    )
    assert decide(state(), SEND, now=NOW).outcome == "allow"


def test_empty_rate_bucket_denies_and_names_the_scope() -> None:
    d = decide(state(), WRITE, now=NOW, tokens={"rate:support-triage:crm.update_tier": 0.5})
    assert (d.outcome, d.rule) == ("deny", "rate_limit")
    assert "tool rate limit" in d.reason
    d = decide(state(), WRITE, now=NOW, tokens={"rate:support-triage": 0.0})
    assert "workflow rate limit" in d.reason


def test_empty_burst_bucket_trips_the_breaker() -> None:
    d = decide(state(), WRITE, now=NOW, tokens={"burst:support-triage": 0.0})
    assert (d.outcome, d.rule) == ("deny", "circuit_breaker")
    assert d.trip is not None and "burst" in d.trip


def test_a_held_action_reserves_its_tokens_too() -> None:
    d = decide(state(policy=triage("act_with_approval")), WRITE, now=NOW, tokens={})
    assert d.outcome == "hold"
    assert d.debit == tuple(limit.key for limit in limits_for(triage(), "crm.update_tier"))


def test_observe_mode_spends_no_tokens() -> None:
    d = decide(state(policy=triage("observe")), WRITE, now=NOW, tokens={"rate:support-triage": 0.0})
    assert d.outcome == "simulate" and d.debit == ()
