from __future__ import annotations

from andon.control.limits import Bucket, breaker_verdict, level, limits_for
from andon.control.state import BreakerPolicy, RateSpec

from .policies import NOW, triage

RATE = RateSpec(10, 60)


def test_a_missing_bucket_is_full() -> None:
    assert level(None, RATE, NOW) == 10


def test_buckets_refill_linearly_and_cap_at_capacity() -> None:
    empty = Bucket(tokens=0.0, updated=NOW)
    assert level(empty, RATE, NOW + 6) == 1.0
    assert level(empty, RATE, NOW + 30) == 5.0
    assert level(empty, RATE, NOW + 3600) == 10.0


def test_a_clock_step_backwards_never_adds_tokens() -> None:
    assert level(Bucket(tokens=2.0, updated=NOW), RATE, NOW - 100) == 2.0


def test_limits_for_a_tool_without_its_own_rate() -> None:
    keys = [limit.key for limit in limits_for(triage(), "email.send_refund")]
    assert keys == ["rate:support-triage", "burst:support-triage"]


def test_breaker_trips_on_consecutive_failures() -> None:
    policy = triage()
    assert breaker_verdict(policy, recent_ok=[False] * 5, window_calls=5, window_errors=5) == (
        "5 consecutive failures"
    )
    assert breaker_verdict(policy, recent_ok=[False] * 4 + [True], window_calls=5, window_errors=4) is None


def test_breaker_trips_on_error_rate_only_after_min_calls() -> None:
    policy = triage(breaker=BreakerPolicy(error_rate=0.2, window_seconds=300, min_calls=20))
    assert breaker_verdict(policy, recent_ok=[True], window_calls=10, window_errors=5) is None
    verdict = breaker_verdict(policy, recent_ok=[True], window_calls=20, window_errors=4)
    assert verdict is not None and "20%" in verdict and "300s" in verdict
    assert breaker_verdict(policy, recent_ok=[True], window_calls=20, window_errors=3) is None


def test_no_breaker_never_trips() -> None:
    assert (
        breaker_verdict(triage(breaker=None), recent_ok=[False] * 50, window_calls=50, window_errors=50)
        is None
    )
