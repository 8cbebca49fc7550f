"""Detectors over decisions and outcomes: each fires on the stream that shows it, and only there."""

from __future__ import annotations

from .helpers import by, run, runbook
from .streams import Stream


def test_write_rate_spike_fires_at_the_threshold() -> None:
    stream = Stream()
    for i in range(30):
        stream.decision("crm.update_tier", {"account": f"A{i}", "tier": "gold"}, after=0.2)
    signals = by(
        run(stream.events, runbook(detectors={"write_rate": {"max": 25, "window": "10s"}})), "write_rate"
    )
    assert len(signals) == 1  # the rest of the spike falls in the cool-down
    signal = signals[0]
    assert signal.incident_class == "wrong_system_update"
    assert signal.evidence == tuple(range(25))
    assert signal.time == stream.events[24].time
    assert "25 write attempts" in signal.summary


def test_write_rate_fires_before_the_declared_limit_is_exceeded() -> None:
    book = runbook(limits={"rate": {"workflow": "120/min", "tools": {"email.send_refund": "30/min"}}})
    stream = Stream()
    for i in range(100):
        stream.decision("crm.update_tier", {"account": f"A{i}"}, after=0.5)  # 120/min: exactly the limit
    signals = by(run(stream.events, book), "write_rate")
    assert [s.details["count"] for s in signals] == [96]  # 80% of 120, reached before the 120th write
    assert "80% of the declared workflow limit 120/min" in signals[0].summary


def test_write_rate_per_tool_limit() -> None:
    book = runbook(limits={"rate": {"tools": {"email.send_refund": "10/min"}}})
    stream = Stream()
    for i in range(9):
        stream.decision("email.send_refund", {"to": f"c{i}@x.example"}, effect="send", after=2)
    signals = by(run(stream.events, book), "write_rate")
    assert len(signals) == 1
    assert signals[0].dedup_key == "write_rate:refund-agent:email.send_refund"
    assert signals[0].evidence == tuple(range(8))


def test_write_rate_quiet_on_steady_traffic_and_reads() -> None:
    stream = Stream()
    for i in range(500):
        stream.decision("crm.update_tier", {"account": f"A{i}"}, after=1.5)  # 40/min, under 60
        stream.decision("crm.lookup_account", {"account": f"A{i}"}, effect="read", after=0.01)
    assert by(run(stream.events), "write_rate") == []


def test_retry_storm_same_tool_and_args() -> None:
    stream = Stream()
    for _ in range(5):
        stream.decision("crm.update_tier", {"tier": "gold", "account": "A1"}, after=3)
    signals = by(run(stream.events), "retry_storm")
    assert len(signals) == 1
    assert signals[0].incident_class == "excessive_retries"
    assert signals[0].evidence == (0, 1, 2, 3, 4)


def test_retry_storm_quiet_for_different_args_or_slow_repeats() -> None:
    stream = Stream()
    for i in range(50):
        stream.decision("crm.update_tier", {"account": f"A{i}", "tier": "gold"}, after=1)
    for _ in range(6):
        stream.decision("crm.update_tier", {"account": "B1", "tier": "gold"}, after=20)  # 5 span 80s > 1m
    assert by(run(stream.events), "retry_storm") == []


def test_duplicate_side_effect_executed_twice() -> None:
    stream = Stream()
    first = stream.decision("email.send_refund", {"to": "a@x.example", "amount": 30}, effect="send")
    stream.outcome(first, "email.send_refund")
    second = stream.decision(
        "email.send_refund", {"amount": 30, "to": "a@x.example"}, effect="send", after=60
    )
    stream.outcome(second, "email.send_refund")
    signals = by(run(stream.events), "duplicate_effects")
    assert len(signals) == 1
    assert signals[0].evidence == (0, 1, 2, 3)
    assert "ran twice" in signals[0].summary


def test_duplicate_quiet_when_one_failed_or_payload_differs() -> None:
    stream = Stream()
    first = stream.decision("email.send_refund", {"to": "a@x.example", "amount": 30}, effect="send")
    stream.outcome(first, "email.send_refund", ok=False)
    retry = stream.decision("email.send_refund", {"to": "a@x.example", "amount": 30}, effect="send")
    stream.outcome(retry, "email.send_refund")  # a failed try and its successful retry: one effect
    other = stream.decision("email.send_refund", {"to": "a@x.example", "amount": 31}, effect="send")
    stream.outcome(other, "email.send_refund")
    late = stream.decision(
        "email.send_refund", {"to": "a@x.example", "amount": 30}, effect="send", after=7200
    )
    stream.outcome(late, "email.send_refund")  # outside the 1h window
    assert by(run(stream.events), "duplicate_effects") == []


def test_error_rate_over_the_window_with_a_minimum() -> None:
    stream = Stream()
    for i in range(30):
        action = stream.decision("crm.update_tier", {"account": f"A{i}"}, after=1)
        stream.outcome(action, "crm.update_tier", ok=i % 3 != 0)  # one in three fails
    signals = by(run(stream.events), "error_rate")
    assert len(signals) == 1
    assert signals[0].details["calls"] == 22 and signals[0].details["failed"] == 8
    assert all(stream.events[i].payload["ok"] is False for i in signals[0].evidence)


def test_error_rate_quiet_below_rate_or_minimum() -> None:
    few = Stream()
    for i in range(10):
        action = few.decision("crm.update_tier", {"account": f"A{i}"})
        few.outcome(action, "crm.update_tier", ok=False)  # all fail, but only 10 calls
    assert by(run(few.events), "error_rate") == []
    healthy = Stream()
    for i in range(400):
        action = healthy.decision("crm.update_tier", {"account": f"A{i}"})
        healthy.outcome(action, "crm.update_tier", ok=i % 10 != 0)  # 10%
    assert by(run(healthy.events), "error_rate") == []


def test_unauthorised_tool_denied() -> None:
    stream = Stream()
    stream.decision("crm.update_tier", {"account": "A1"})
    stream.decision("crm.grant_admin", {"user": "x"}, decision="deny", rule="unauthorised_tool")
    signals = by(run(stream.events), "unauthorised_tool")
    assert len(signals) == 1
    assert signals[0].incident_class == "unauthorised_tool_use"
    assert signals[0].evidence == (1,)
    assert "crm.grant_admin" in signals[0].summary


def test_unauthorised_tool_quiet_for_other_denials_and_below_attempts() -> None:
    stream = Stream()
    stream.decision("crm.update_tier", {"account": "A1"}, decision="deny", rule="rate_limit")
    stream.decision("crm.update_tier", {"account": "A1"}, decision="deny", rule="paused")
    stream.decision("crm.grant_admin", {}, decision="deny", rule="unauthorised_tool")
    book = runbook(detectors={"unauthorised_tool": {"attempts": 2}})
    assert by(run(stream.events, book), "unauthorised_tool") == []
