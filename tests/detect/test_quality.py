"""Low confidence, label drift and rubber-stamp approvals: fire on the pattern, stay quiet otherwise."""

from __future__ import annotations

import random
from typing import Any

from .helpers import by, run, runbook
from .streams import Stream

BEFORE = {"billing": 0.40, "bug": 0.25, "how-to": 0.20, "account": 0.15}
AFTER = {"billing": 0.12, "bug": 0.53, "how-to": 0.20, "account": 0.15}  # billing complaints routed as bugs


def labels(rng: random.Random, shares: dict[str, float], count: int) -> list[str]:
    return rng.choices(list(shares), weights=list(shares.values()), k=count)


def triage(stream: Stream, routed: list[str], *, version: str, as_text: bool = False) -> None:
    for label in routed:
        output: Any = (
            f"route: {label}; priority: normal" if as_text else {"route": label, "priority": "normal"}
        )
        stream.model_call(output, prompt_version=version, confidence=0.9)


ROUTE = {"drift": {"label": "route"}}


def test_drift_after_a_prompt_update_is_model_or_prompt_drift() -> None:
    rng = random.Random(6)
    stream = Stream("support-triage")
    triage(stream, labels(rng, BEFORE, 600), version="prompt:triage-system@v12")
    triage(stream, labels(rng, AFTER, 150), version="prompt:triage-system@v13")
    signals = by(run(stream.events, runbook(detectors=ROUTE, workflow="support-triage")), "drift")
    assert len(signals) == 1
    signal = signals[0]
    assert signal.incident_class == "model_or_prompt_drift"
    assert signal.severity == "high"
    details = signal.details
    assert details["change"]["from"]["prompt_version"] == "prompt:triage-system@v12"
    assert details["change"]["to"]["prompt_version"] == "prompt:triage-system@v13"
    assert details["p_value"] < 1e-4
    assert details["shifts"]["bug"] > 0.2 and details["shifts"]["billing"] < -0.2
    assert "'bug'" in signal.summary and "before the version change" in signal.summary
    # The evidence is the version change and the tickets now routed as bugs.
    assert 600 in signal.evidence
    assert all(stream.events[i].payload["output"]["route"] == "bug" for i in signal.evidence if i != 600)
    assert sum(details["current"].values()) == 100  # detected at the first test with enough labels


def test_no_drift_when_a_new_version_routes_the_same_way() -> None:
    rng = random.Random(7)
    stream = Stream("support-triage")
    triage(stream, labels(rng, BEFORE, 600), version="v12")
    triage(stream, labels(rng, BEFORE, 1500), version="v13")
    assert by(run(stream.events, runbook(detectors=ROUTE, workflow="support-triage")), "drift") == []


def test_no_drift_on_a_long_stable_stream_with_a_rolling_baseline() -> None:
    rng = random.Random(8)
    stream = Stream("support-triage")
    triage(stream, labels(rng, BEFORE, 5000), version="v12", as_text=True)
    assert by(run(stream.events, runbook(detectors=ROUTE, workflow="support-triage")), "drift") == []


def test_drift_without_a_version_change_uses_the_rolling_baseline() -> None:
    rng = random.Random(9)
    stream = Stream("support-triage")
    triage(stream, labels(rng, BEFORE, 800), version="v12", as_text=True)  # labels parsed from text
    triage(stream, labels(rng, AFTER, 300), version="v12", as_text=True)
    signals = by(run(stream.events, runbook(detectors=ROUTE, workflow="support-triage")), "drift")
    assert len(signals) == 1
    assert signals[0].severity == "medium"
    assert "rolling baseline" in signals[0].summary
    assert signals[0].details["change"] is None


def test_small_shift_on_a_large_sample_is_below_min_shift() -> None:
    stream = Stream("support-triage")
    before = ["billing", "bug"] * 250
    after = (["billing", "bug"] * 92 + ["bug"] * 16) * 2  # 50% vs 46% billing: a real but small change
    triage(stream, before, version="v1")
    triage(stream, after, version="v2")
    book = runbook(detectors={"drift": {"label": "route", "alpha": 0.5}}, workflow="support-triage")
    assert by(run(stream.events, book), "drift") == []


def test_low_confidence_in_a_row() -> None:
    stream = Stream()
    for confidence in (0.9, 0.4, 0.3, 0.35, 0.2, 0.45):
        stream.model_call("refund", confidence=confidence)
    signals = by(run(stream.events, runbook(limits={"confidence_threshold": 0.7})), "low_confidence")
    assert len(signals) == 1
    assert signals[0].incident_class == "wrong_recommendation"
    assert signals[0].evidence == (1, 2, 3, 4, 5)
    assert "below confidence 0.70" in signals[0].summary


def test_low_confidence_within_a_window() -> None:
    stream = Stream()
    for i in range(20):
        stream.model_call("refund", confidence=0.3 if i % 2 else 0.95, after=10)  # never 5 in a row
    book = runbook(detectors={"low_confidence": {"threshold": 0.6, "count": 8, "window": "5m"}})
    signals = by(run(stream.events, book), "low_confidence")
    assert len(signals) == 1
    assert len(signals[0].evidence) == 8


def test_low_confidence_quiet_when_interleaved_and_spread_out() -> None:
    stream = Stream()
    for i in range(200):
        stream.model_call("refund", confidence=0.3 if i % 3 == 0 else 0.9, after=30)
    stream.model_call("refund", confidence=None)
    assert by(run(stream.events), "low_confidence") == []


def approvals(stream: Stream, approver: str, decisions: list[tuple[str, float]]) -> None:
    for n, (decision, seconds) in enumerate(decisions):
        stream.add(
            "approval",
            {
                "approval_id": f"apr-{approver}-{n}",
                "action_id": f"act-{n}",
                "approver": approver,
                "decision": decision,
                "reason": "ok",
                "seconds_to_decide": seconds,
            },
            actor=approver,
        )


def test_rubber_stamp_fast_and_always_approve() -> None:
    stream = Stream()
    approvals(stream, "billing-lead", [("approved", 2.0 + n % 3) for n in range(25)])
    signals = by(run(stream.events), "rubber_stamp")
    assert len(signals) == 1
    signal = signals[0]
    assert signal.incident_class == "bad_output_approved"
    assert signal.dedup_key == "rubber_stamp:refund-agent:billing-lead"
    assert signal.evidence == tuple(range(20))


def test_rubber_stamp_quiet_for_careful_or_discerning_approvers() -> None:
    stream = Stream()
    approvals(stream, "careful", [("approved", 45.0) for _ in range(40)])  # always yes, but reads
    approvals(stream, "discerning", [("rejected" if n % 4 == 0 else "approved", 3.0) for n in range(40)])
    approvals(stream, "new", [("approved", 1.0) for _ in range(10)])  # not a streak yet
    assert by(run(stream.events), "rubber_stamp") == []
