"""Who to tell as a clock runs down: escalation steps at shares of the time and at the deadline.

By default a clock escalates at 50 % of its time to the regime's contact, at 75 % also to the first
contact on the organisation's escalation route, at 90 % to the first two, and once overdue to the whole
route. The steps are data (``EscalationRule``) and the contacts come from the runbook: the ``contact`` of
the regime entry and ``organisation.escalation``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from andon.incidents.clocks import Clock, require_utc
from andon.incidents.regimes import REGIMES
from andon.notify.base import Notification

if TYPE_CHECKING:
    from andon.runbook.schema import Runbook


@dataclass(frozen=True, slots=True)
class EscalationRule:
    """At ``share`` of the clock's time (1.0 = the deadline), notify the regime contact and the first
    ``route_depth`` contacts of the escalation route (None = all of it)."""

    share: float
    route_depth: int | None
    label: str


DEFAULT_RULES: tuple[EscalationRule, ...] = (
    EscalationRule(0.5, 0, "half the time used"),
    EscalationRule(0.75, 1, "three quarters of the time used"),
    EscalationRule(0.9, 2, "90% of the time used"),
    EscalationRule(1.0, None, "overdue"),
)


@dataclass(frozen=True, slots=True)
class Route:
    """The people a regime's clocks escalate to: its own contact, then the organisation's route."""

    contact: str
    escalation: tuple[str, ...] = ()


@dataclass(frozen=True, slots=True)
class EscalationStep:
    """One planned escalation of one clock: when, why, whom; ``dedup_key`` is stable across runs."""

    clock: str
    at: datetime
    share: float
    label: str
    contacts: tuple[str, ...]

    @property
    def dedup_key(self) -> str:
        return f"clock:{self.clock}:{round(self.share * 100)}"


def _contacts(route: Route, depth: int | None) -> tuple[str, ...]:
    chosen = route.escalation if depth is None else route.escalation[:depth]
    return tuple(dict.fromkeys((route.contact, *chosen)))  # in order, without repeats


def escalation_plan(
    clock: Clock, route: Route, *, rules: Sequence[EscalationRule] = DEFAULT_RULES
) -> list[EscalationStep]:
    """Every step of ``clock`` in time order; empty for a clock without a deadline."""
    if clock.deadline is None:
        return []
    span = clock.deadline - clock.started_at
    return [
        EscalationStep(
            clock=clock.key,
            at=clock.started_at + span * rule.share,
            share=rule.share,
            label=rule.label,
            contacts=_contacts(route, rule.route_depth),
        )
        for rule in sorted(rules, key=lambda r: r.share)
    ]


def due_escalations(
    clock: Clock, route: Route, *, now: datetime, rules: Sequence[EscalationRule] = DEFAULT_RULES
) -> list[EscalationStep]:
    """The steps whose moment has come at ``now``; none once the obligation is filed or waived.

    A caller sends each step once, keyed by ``dedup_key``; the latest step names everyone to tell.
    """
    now = require_utc(now, "now")
    if clock.filing is not None and clock.filing.when <= now:
        return []
    return [step for step in escalation_plan(clock, route, rules=rules) if step.at <= now]


def routes_from_runbook(runbook: Runbook) -> dict[str, Route]:
    """Each regime declared in the runbook with its contact and the organisation's escalation route."""
    escalation = tuple(runbook.organisation.escalation)
    return {entry.regime: Route(contact=entry.contact, escalation=escalation) for entry in runbook.regimes}


def _span(delta: timedelta) -> str:
    minutes = int(abs(delta).total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, minutes = divmod(rest, 60)
    parts = [f"{days}d"] if days else []
    return " ".join([*parts, f"{hours}h", f"{minutes:02d}m"])


def escalation_notification(
    clock: Clock, step: EscalationStep, *, now: datetime, severity: str, incident_id: str | None = None
) -> Notification:
    """The message to send for one escalation step, deduplicated per incident, clock and step."""
    regime = REGIMES[clock.regime].name if clock.regime in REGIMES else clock.regime
    left = clock.time_left(now)
    if left is None:
        when = "no fixed deadline"
    elif left.total_seconds() > 0:
        when = f"due in {_span(left)}"
    else:
        when = f"overdue by {_span(left)}"
    deadline = "none" if clock.deadline is None else clock.deadline.strftime("%Y-%m-%d %H:%M UTC")
    text = "\n".join(
        [
            f"{clock.name} to {clock.recipient} is {when} ({step.label}).",
            f"Deadline: {deadline} — {clock.basis} ({clock.source}).",
            f"Clock started {clock.started_at:%Y-%m-%d %H:%M UTC} by {clock.started_by.who}.",
            f"For: {', '.join(step.contacts)}",
        ]
    )
    key = step.dedup_key if incident_id is None else f"{incident_id}:{step.dedup_key}"
    return Notification(
        title=f"{regime}: {clock.name} {when}",
        severity=severity,
        text=text,
        incident_id=incident_id,
        dedup_key=key,
        created_at=require_utc(now, "now"),
    )
