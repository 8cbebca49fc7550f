"""Limits as pure arithmetic: token buckets for rate limits and bursts, and circuit-breaker verdicts.

The store keeps one row per bucket; the caller reads the rows inside the decision's transaction (locked),
asks these functions what is left, and writes the debited levels back in the same transaction. That is what
makes the limits exact across threads and processes: the read-decide-debit happens under one lock.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from andon.control.state import RateSpec, WorkflowPolicy


@dataclass(frozen=True, slots=True)
class Bucket:
    """A token bucket's level at ``updated`` (POSIX seconds)."""

    tokens: float
    updated: float


@dataclass(frozen=True, slots=True)
class Limit:
    """One bucket that applies to an action: its store key, its rate, and what emptying it means."""

    key: str
    rate: RateSpec
    kind: str  # "rate_limit" (deny) or "burst" (deny and trip the circuit breaker)


def level(bucket: Bucket | None, rate: RateSpec, now: float) -> float:
    """Tokens available at ``now``: a missing bucket is full; refill is linear and capped at capacity."""
    if bucket is None:
        return float(rate.count)
    elapsed = max(0.0, now - bucket.updated)
    return min(float(rate.count), bucket.tokens + elapsed * rate.per_second)


def limits_for(policy: WorkflowPolicy, tool: str) -> tuple[Limit, ...]:
    """The buckets one action of ``tool`` draws from, most specific first."""
    found: list[Limit] = []
    tool_policy = policy.tools.get(tool)
    if tool_policy is not None and tool_policy.rate is not None:
        found.append(Limit(f"rate:{policy.id}:{tool}", tool_policy.rate, "rate_limit"))
    if policy.rate is not None:
        found.append(Limit(f"rate:{policy.id}", policy.rate, "rate_limit"))
    if policy.breaker is not None and policy.breaker.burst is not None:
        found.append(Limit(f"burst:{policy.id}", policy.breaker.burst, "burst"))
    return tuple(found)


def breaker_verdict(
    policy: WorkflowPolicy, *, recent_ok: Sequence[bool], window_calls: int, window_errors: int
) -> str | None:
    """Why the circuit breaker trips after an outcome, or None.

    ``recent_ok`` is the newest outcomes first (True = succeeded), at least ``consecutive_failures`` long
    when that many exist; ``window_calls``/``window_errors`` count outcomes inside the breaker's window.
    """
    breaker = policy.breaker
    if breaker is None:
        return None
    n = breaker.consecutive_failures
    if n is not None and len(recent_ok) >= n and not any(recent_ok[:n]):
        return f"{n} consecutive failures"
    if breaker.error_rate is not None and window_calls >= breaker.min_calls and window_calls > 0:
        rate = window_errors / window_calls
        if rate >= breaker.error_rate:
            window = f" in {breaker.window_seconds:g}s" if breaker.window_seconds else ""
            return (
                f"error rate {rate:.0%} ({window_errors}/{window_calls}){window} "
                f"reached the limit {breaker.error_rate:.0%}"
            )
    return None
