"""Detectors over decisions and outcomes: write-rate spike, retry storm, duplicate side effects,
error rate, and denied attempts at unauthorised tools."""

from __future__ import annotations

import math
from collections import deque
from typing import Any

from andon.detect.base import Context, Cooldown, Detector, SlidingCount
from andon.detect.signal import CHANGING_EFFECTS, Bounded, LedgerEvent, Signal, fingerprint
from andon.runbook.units import format_duration

DEFAULT_MAX_WRITES = 60  # per write_rate.window, for a workflow that declares no rate of its own
_MAX_KEYS = 5_000  # distinct actions remembered per workflow
_MAX_WINDOW_EVENTS = 10_000  # outcomes kept for the error rate; beyond, the window is the latest ones


def _args(payload: dict[str, Any]) -> dict[str, Any] | None:
    args = payload.get("args")
    return args if isinstance(args, dict) else None


class WriteRate(Detector):
    """Write/send/delete/spend attempts per sliding window, against a threshold and the declared limits."""

    name = "write_rate"
    incident_class = "wrong_system_update"
    kinds = frozenset({"decision"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        cfg = context.config.write_rate
        most = cfg.max if cfg.max is not None or context.rate is not None else DEFAULT_MAX_WRITES
        self.windows: list[tuple[str, SlidingCount, str]] = []
        if most is not None:
            why = f"threshold {most} per {format_duration(cfg.window)}"
            self.windows.append(("", SlidingCount(most, cfg.window), why))
        if context.rate is not None:
            at = max(1, math.ceil(cfg.limit_share * context.rate.count))
            why = f"{at / context.rate.count:.0%} of the declared workflow limit {context.rate}"
            self.windows.append(("", SlidingCount(at, context.rate.per), why))
        self.tools: dict[str, tuple[SlidingCount, str]] = {}
        for tool, rate in context.tool_rates:
            at = max(1, math.ceil(cfg.limit_share * rate.count))
            self.tools[tool] = (SlidingCount(at, rate.per), f"{at / rate.count:.0%} of the limit {rate}")

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        if payload.get("effect") not in CHANGING_EFFECTS:
            return None
        when = event.time.timestamp()
        found: Signal | None = None
        for scope, counter, why in self.windows:
            if counter.add(when, event.index) and found is None and not self.quiet("workflow", when):
                found = self._fire(event, counter, why, scope)
        tool = payload.get("tool")
        if isinstance(tool, str) and tool in self.tools:
            counter, why = self.tools[tool]
            if counter.add(when, event.index) and found is None and not self.quiet(tool, when):
                found = self._fire(event, counter, why, tool)
        return found

    def _fire(self, event: LedgerEvent, counter: SlidingCount, why: str, tool: str) -> Signal:
        what = f"'{tool}' calls" if tool else "write attempts"
        return self.signal(
            event,
            severity="high",
            summary=f"{counter.threshold} {what} in {counter.span():.1f}s ({why})",
            indexes=counter.indexes(),
            key=tool or "workflow",
            details={"count": counter.threshold, "seconds": round(counter.span(), 3), "limit": why},
        )


class RetryStorm(Detector):
    """The same action — tool and arguments — proposed again and again within a window."""

    name = "retry_storm"
    incident_class = "excessive_retries"
    kinds = frozenset({"decision"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.cfg = context.config.retry_storm
        self.actions: Bounded[str, SlidingCount] = Bounded(_MAX_KEYS)

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        args, tool = _args(payload), payload.get("tool")
        if args is None or not isinstance(tool, str):
            return None
        key = f"{tool}:{fingerprint(args)}"
        counter = self.actions.get(key)
        if counter is None:
            counter = SlidingCount(self.cfg.repeats, self.cfg.window)
            self.actions.put(key, counter)
        when = event.time.timestamp()
        if not counter.add(when, event.index) or self.quiet(key, when):
            return None
        return self.signal(
            event,
            severity="medium",
            summary=f"'{tool}' proposed {counter.threshold} times with the same arguments "
            f"in {counter.span():.1f}s",
            indexes=counter.indexes(),
            key=key,
            details={"tool": tool, "repeats": counter.threshold, "seconds": round(counter.span(), 3)},
        )


class DuplicateEffects(Detector):
    """The same target and payload (tool and arguments) executed successfully twice within a window."""

    name = "duplicate_effects"
    incident_class = "excessive_retries"
    kinds = frozenset({"decision", "action_outcome"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.window = context.config.duplicate_effects.window.total_seconds()
        self.pending: Bounded[str, tuple[str, str, int]] = Bounded(_MAX_KEYS)  # action id -> tool, fp, index
        self.done: Bounded[str, tuple[float, int, int]] = Bounded(_MAX_KEYS)  # tool:fp -> time, indexes

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        action_id = payload.get("action_id")
        if not isinstance(action_id, str):
            return None
        if event.kind == "decision":
            args, tool = _args(payload), payload.get("tool")
            if args is not None and isinstance(tool, str) and payload.get("effect") in CHANGING_EFFECTS:
                self.pending.put(action_id, (tool, fingerprint(args), event.index))
            return None
        if payload.get("ok") is not True:
            return None
        decided = self.pending.pop(action_id)
        if decided is None:
            return None
        tool, digest, decision_index = decided
        key, when = f"{tool}:{digest}", event.time.timestamp()
        before = self.done.get(key)
        self.done.put(key, (when, decision_index, event.index))
        if before is None or when - before[0] > self.window:
            return None
        return self.signal(
            event,
            severity="high",
            summary=f"'{tool}' ran twice with the same arguments, {when - before[0]:.1f}s apart",
            indexes=(before[1], before[2], decision_index, event.index),
            key=key,
            details={"tool": tool, "seconds_apart": round(when - before[0], 3)},
        )


class ErrorRate(Detector):
    """The share of failed outcomes over a sliding window, once the window holds enough calls."""

    name = "error_rate"
    incident_class = "excessive_retries"
    kinds = frozenset({"action_outcome"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.cfg = context.config.error_rate
        self.window = self.cfg.window.total_seconds()
        self.seen: deque[tuple[float, bool, int]] = deque()
        self.failed = 0

    def observe(self, event: LedgerEvent) -> Signal | None:
        ok = event.payload.get("ok")
        if not isinstance(ok, bool):
            return None
        when = event.time.timestamp()
        seen = self.seen
        seen.append((when, ok, event.index))
        self.failed += not ok
        while seen and (when - seen[0][0] > self.window or len(seen) > _MAX_WINDOW_EVENTS):
            self.failed -= not seen.popleft()[1]
        total = len(seen)
        if ok or total < self.cfg.min_calls or self.failed < self.cfg.rate * total:
            return None
        if self.quiet("outcomes", when):
            return None
        rate = self.failed / total
        return self.signal(
            event,
            severity="medium",
            summary=f"{self.failed} of the last {total} outcomes failed ({rate:.0%}, threshold "
            f"{self.cfg.rate:.0%} over {format_duration(self.cfg.window)})",
            indexes=[index for _, good, index in seen if not good],
            key="outcomes",
            details={"failed": self.failed, "calls": total, "rate": round(rate, 4)},
        )


class UnauthorisedTool(Detector):
    """Decisions denied because the tool (or retrieval source) is not declared for the workflow."""

    name = "unauthorised_tool"
    incident_class = "unauthorised_tool_use"
    kinds = frozenset({"decision"})
    rules = frozenset({"unauthorised_tool", "unauthorised_retrieval_source"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.cfg = context.config.unauthorised_tool
        self.attempts: Bounded[str, SlidingCount] = Bounded(_MAX_KEYS)

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        if payload.get("decision") != "deny" or payload.get("rule") not in self.rules:
            return None
        what = str(payload.get("tool") or payload.get("source") or "?")
        counter = self.attempts.get(what)
        if counter is None:
            counter = SlidingCount(self.cfg.attempts, self.cfg.window)
            self.attempts.put(what, counter)
        when = event.time.timestamp()
        if not counter.add(when, event.index) or self.quiet(what, when):
            return None
        times = "once" if counter.threshold == 1 else f"{counter.threshold} times"
        return self.signal(
            event,
            severity="high",
            summary=f"undeclared '{what}' attempted {times} by {event.actor} (denied)",
            indexes=counter.indexes(),
            key=what,
            details={"tool": what, "actor": event.actor, "attempts": counter.threshold},
        )
