"""Detectors over what the model said and what approvers did: low confidence, label drift, rubber stamps."""

from __future__ import annotations

import re
import statistics
from collections import Counter, deque
from typing import Any

from andon.detect.base import Context, Cooldown, Detector, SlidingCount
from andon.detect.signal import LedgerEvent, Signal
from andon.detect.stats import homogeneity

_DEFAULT_CONFIDENCE = 0.5
_MAX_LABEL = 64  # a longer string output is free text, not a label


class LowConfidence(Detector):
    """Model outputs below the confidence threshold, K in a row or K within a window."""

    name = "low_confidence"
    incident_class = "wrong_recommendation"
    kinds = frozenset({"model_call"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.cfg = cfg = context.config.low_confidence
        self.threshold = (
            cfg.threshold
            if cfg.threshold is not None
            else context.confidence_threshold
            if context.confidence_threshold is not None
            else _DEFAULT_CONFIDENCE
        )
        self.streak: deque[int] = deque(maxlen=cfg.consecutive)
        self.window = SlidingCount(cfg.count, cfg.window)

    def observe(self, event: LedgerEvent) -> Signal | None:
        confidence = event.payload.get("confidence")
        if not isinstance(confidence, int | float) or isinstance(confidence, bool):
            return None
        if confidence >= self.threshold:
            self.streak.clear()
            return None
        self.streak.append(event.index)
        when = event.time.timestamp()
        in_window = self.window.add(when, event.index)
        if self.quiet("confidence", when):
            return None
        if len(self.streak) == self.cfg.consecutive:
            how, indexes = f"{self.cfg.consecutive} outputs in a row", list(self.streak)
        elif in_window:
            how, indexes = f"{self.cfg.count} outputs in {self.window.span():.0f}s", self.window.indexes()
        else:
            return None
        return self.signal(
            event,
            severity="medium",
            summary=f"{how} below confidence {self.threshold:.2f} (latest {confidence:.2f})",
            indexes=indexes,
            key="confidence",
            details={"threshold": self.threshold, "latest": confidence},
        )


class Drift(Detector):
    """The distribution of an output label against a baseline, by a chi-square test of homogeneity.

    The baseline is the labels before the last change of prompt or model version seen in model calls;
    with no change in view it is a rolling window of the labels just before the current window.
    """

    name = "drift"
    incident_class = "model_or_prompt_drift"
    kinds = frozenset({"model_call"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.cfg = cfg = context.config.drift
        self.pattern = re.compile(rf"\b{re.escape(cfg.label)}\s*[:=]\s*([\w./-]+)", re.IGNORECASE)
        self.version: tuple[Any, Any] | None = None
        self.current: deque[tuple[str, int]] = deque()
        self.current_counts: Counter[str] = Counter()
        self.base: deque[str] = deque()
        self.base_counts: Counter[str] = Counter()
        self.reference: Counter[str] | None = None  # frozen labels before a version change
        self.change: dict[str, Any] | None = None
        self.since_check = 0

    def label(self, output: Any) -> str | None:
        if isinstance(output, dict):
            value = output.get(self.cfg.label)
            return str(value) if isinstance(value, str | int | bool) and value != "" else None
        if isinstance(output, str):
            match = self.pattern.search(output)
            if match is not None:
                return match.group(1)
            text = output.strip()
            return text if 0 < len(text) <= _MAX_LABEL else None
        return None

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        label = self.label(payload.get("output"))
        if label is None:
            return None
        version = (payload.get("prompt_version"), payload.get("model"))
        if self.version is not None and version != self.version:
            self._breakpoint(event, version)
        self.version = version
        self._add(label, event.index)
        self.since_check += 1
        if self.since_check < self.cfg.check_every:
            return None
        self.since_check = 0
        return self._test(event)

    def _breakpoint(self, event: LedgerEvent, version: tuple[Any, Any]) -> None:
        before = self.base_counts + self.current_counts
        if sum(before.values()) >= self.cfg.min_samples:
            self.reference = before
        # else: too few labels under the old version to judge by; keep any earlier reference
        self.change = {
            "from": {"prompt_version": self.version[0] if self.version else None, "model": self.version[1]}
            if self.version
            else None,
            "to": {"prompt_version": version[0], "model": version[1]},
            "at_index": event.index,
        }
        self.current.clear()
        self.current_counts.clear()
        self.base.clear()
        self.base_counts.clear()
        self.since_check = 0

    def _add(self, label: str, index: int) -> None:
        cfg = self.cfg
        self.current.append((label, index))
        self.current_counts[label] += 1
        if len(self.current) > cfg.current:
            old, _ = self.current.popleft()
            _decrement(self.current_counts, old)
            self.base.append(old)
            self.base_counts[old] += 1
            if len(self.base) > cfg.baseline:
                _decrement(self.base_counts, self.base.popleft())
                # The new version has a baseline of its own now: stop comparing with the old one.
                self.reference = None
                self.change = None

    def _test(self, event: LedgerEvent) -> Signal | None:
        cfg = self.cfg
        if self.quiet(f"{cfg.label}:{self.version}", event.time.timestamp()):
            return None
        baseline = self.reference if self.reference is not None else self.base_counts
        n_base, n_cur = sum(baseline.values()), len(self.current)
        if n_base < cfg.min_samples or n_cur < cfg.min_samples:
            return None
        result = homogeneity(baseline, self.current_counts, min_expected=cfg.min_expected)
        if result is None or result.p_value >= cfg.alpha:
            return None
        labels = set(baseline) | set(self.current_counts)
        shifts = {
            label: self.current_counts.get(label, 0) / n_cur - baseline.get(label, 0) / n_base
            for label in labels
        }
        grew = max(shifts, key=lambda label: shifts[label])
        shrank = min(shifts, key=lambda label: shifts[label])
        if max(abs(v) for v in shifts.values()) < cfg.min_shift:
            return None
        against = (
            "the labels before the version change" if self.reference is not None else "a rolling baseline"
        )
        summary = (
            f"'{cfg.label}' shifted against {against}: '{grew}' {shifts[grew]:+.0%}, '{shrank}' "
            f"{shifts[shrank]:+.0%} (chi-square {result.statistic:.1f}, df {result.df}, "
            f"p={result.p_value:.2g})"
        )
        indexes = [index for label, index in self.current if label == grew]
        if self.change is not None:
            indexes.append(self.change["at_index"])
        return self.signal(
            event,
            severity="high" if self.reference is not None else "medium",
            summary=summary,
            indexes=indexes,
            key=f"{cfg.label}:{self.version}",
            details={
                "statistic": round(result.statistic, 4),
                "df": result.df,
                "p_value": result.p_value,
                "baseline": dict(baseline),
                "current": dict(self.current_counts),
                "shifts": {k: round(v, 4) for k, v in sorted(shifts.items())},
                "change": self.change,
            },
        )


def _decrement(counts: Counter[str], label: str) -> None:
    counts[label] -= 1
    if counts[label] <= 0:
        del counts[label]


class RubberStamp(Detector):
    """An approver whose last decisions were nearly all approvals, made very fast."""

    name = "rubber_stamp"
    incident_class = "bad_output_approved"
    kinds = frozenset({"approval"})
    decided = frozenset({"approved", "rejected", "edited_and_approved"})

    def __init__(self, context: Context, cooldown: Cooldown | None = None) -> None:
        super().__init__(context, cooldown)
        self.cfg = context.config.rubber_stamp
        self.approvers: dict[str, deque[tuple[bool, float | None, int]]] = {}

    def observe(self, event: LedgerEvent) -> Signal | None:
        payload = event.payload
        decision, approver = payload.get("decision"), payload.get("approver")
        if decision not in self.decided or not isinstance(approver, str):
            return None
        seconds = payload.get("seconds_to_decide")
        streak = self.approvers.get(approver)
        if streak is None:
            if len(self.approvers) >= 10_000:
                self.approvers.pop(next(iter(self.approvers)))
            streak = self.approvers[approver] = deque(maxlen=self.cfg.streak)
        streak.append(
            (
                decision != "rejected",
                float(seconds) if isinstance(seconds, int | float) else None,
                event.index,
            )
        )
        if len(streak) < self.cfg.streak or self.quiet(approver, event.time.timestamp()):
            return None
        approved = sum(ok for ok, _, _ in streak) / len(streak)
        times = [s for _, s, _ in streak if s is not None]
        if approved < self.cfg.approve_share or len(times) < len(streak) // 2:
            return None
        median = statistics.median(times)
        if median >= self.cfg.fast_seconds:
            return None
        return self.signal(
            event,
            severity="medium",
            summary=f"{approver} approved {approved:.0%} of their last {len(streak)} decisions, "
            f"in a median {median:.1f}s",
            indexes=[index for _, _, index in streak],
            key=approver,
            details={"approver": approver, "approve_share": approved, "median_seconds": median},
        )
