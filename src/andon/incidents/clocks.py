"""Regulatory clocks computed from explicit acts: triggers, findings and filings.

Pure functions, no I/O, and ``now`` is always passed in. A clock starts only from a recorded act —
"we became aware", "classified as major", "determined material" — with who, when and a statement,
because the moment of awareness is a decision someone takes and answers for.

    triggers = [Trigger("awareness", who="dpo", when=t, statement="Confirmed exfiltration of tickets")]
    for clock in compute_clocks(["uk_gdpr"], triggers=triggers):
        clock.deadline, clock.status(now), clock.time_left(now)
"""

from __future__ import annotations

import calendar as _calendar
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Literal
from zoneinfo import ZoneInfo

from andon.errors import AndonError
from andon.incidents.calendars import CALENDARS
from andon.incidents.regimes import REGIMES, Obligation, Period, Regime

ClockStatus = Literal["running", "due_soon", "overdue", "met", "not_required", "asap"]
CLOCK_STATUSES: tuple[ClockStatus, ...] = ("running", "due_soon", "overdue", "met", "not_required", "asap")
DUE_SOON_AT = 0.75  # share of the time elapsed after which a running clock is "due soon"


class ClockError(AndonError):
    """A clock could not be computed from the acts given (naive time, unknown regime or obligation)."""


def require_utc(value: datetime, what: str) -> datetime:
    """``value`` in UTC; a naive time is refused with a message naming ``what`` it was."""
    if value.tzinfo is None or value.utcoffset() is None:
        raise ClockError(f"{what} must be timezone-aware (UTC), got the naive time {value.isoformat()}")
    return value.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Trigger:
    """An attributed decision that starts clocks: ``awareness``, ``classification_major`` …

    ``regime`` limits it to one regime; None lets it start every regime's obligations with that trigger.
    """

    name: str
    who: str
    when: datetime
    statement: str
    regime: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", require_utc(self.when, f"trigger '{self.name}' time"))
        if not self.who or not self.statement:
            raise ClockError(f"trigger '{self.name}' needs who took the decision and a statement of it")


@dataclass(frozen=True, slots=True)
class Finding:
    """An attributed finding that makes a conditional obligation apply, e.g. ``death``."""

    name: str
    who: str
    when: datetime
    statement: str
    regime: str | None = None

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", require_utc(self.when, f"finding '{self.name}' time"))


@dataclass(frozen=True, slots=True)
class Filing:
    """An obligation discharged: filed with the recipient, or decided ``not_required`` (with why)."""

    regime: str
    obligation: str
    who: str
    when: datetime
    statement: str = ""
    reference: str = ""  # the regulator's case number or receipt
    disposition: Literal["filed", "not_required"] = "filed"

    def __post_init__(self) -> None:
        object.__setattr__(self, "when", require_utc(self.when, f"filing of {self.regime}/{self.obligation}"))


@dataclass(frozen=True, slots=True)
class Clock:
    """One obligation's clock: when it started, its deadline, and whether it was met."""

    regime: str
    obligation: str
    name: str
    recipient: str
    source: str
    started_at: datetime
    started_by: Trigger | Filing
    deadline: datetime | None  # None: no fixed deadline ("without undue delay")
    basis: str  # which period set the deadline, e.g. "24 hours from awareness"
    filing: Filing | None = None

    @property
    def key(self) -> str:
        return f"{self.regime}/{self.obligation}"

    @property
    def duration(self) -> timedelta | None:
        return None if self.deadline is None else self.deadline - self.started_at

    @property
    def filed_late(self) -> bool:
        return self.filing is not None and self.deadline is not None and self.filing.when > self.deadline

    def time_left(self, now: datetime) -> timedelta | None:
        """Time until the deadline at ``now`` (negative once overdue); None without a deadline."""
        return None if self.deadline is None else self.deadline - require_utc(now, "now")

    def elapsed_share(self, now: datetime) -> float | None:
        """Share of the clock's time used at ``now``: 0.0 at the start, 1.0 at the deadline."""
        if self.deadline is None:
            return None
        total = (self.deadline - self.started_at).total_seconds()
        used = (require_utc(now, "now") - self.started_at).total_seconds()
        return 1.0 if total <= 0 else max(0.0, used / total)

    def status(self, now: datetime, *, due_soon_at: float = DUE_SOON_AT) -> ClockStatus:
        """``met`` / ``not_required`` once a filing is recorded, else ``asap`` without a deadline,
        ``overdue`` from the deadline on, ``due_soon`` after ``due_soon_at`` of the time, else ``running``."""
        if self.filing is not None and self.filing.when <= require_utc(now, "now"):
            return "met" if self.filing.disposition == "filed" else "not_required"
        share = self.elapsed_share(now)
        if share is None:
            return "asap"
        if share >= 1.0:
            return "overdue"
        return "due_soon" if share >= due_soon_at else "running"

    def as_dict(self, now: datetime) -> dict[str, object]:
        """A JSON-ready view at ``now`` (times as ISO 8601 UTC, time left in seconds)."""
        left = self.time_left(now)
        return {
            "regime": self.regime,
            "obligation": self.obligation,
            "name": self.name,
            "recipient": self.recipient,
            "source": self.source,
            "started_at": self.started_at.isoformat(),
            "started_by": self.started_by.who,
            "deadline": None if self.deadline is None else self.deadline.isoformat(),
            "basis": self.basis,
            "status": self.status(now),
            "seconds_left": None if left is None else int(left.total_seconds()),
            "filed_at": None if self.filing is None else self.filing.when.isoformat(),
            "filed_late": self.filed_late,
        }


# -- deadline arithmetic ---------------------------------------------------------------------------
def add_months(moment: datetime, months: int) -> datetime:
    """The same day ``months`` later, clamped to the month's last day (31 Jan + 1 = 28/29 Feb)."""
    index = moment.month - 1 + months
    year, month = moment.year + index // 12, index % 12 + 1
    day = min(moment.day, _calendar.monthrange(year, month)[1])
    return moment.replace(year=year, month=month, day=day)


def _end_of_local_day(day: date, zone: ZoneInfo, day_end: time | None) -> datetime:
    if day_end is None:  # midnight that ends the day
        return datetime.combine(day + timedelta(days=1), time(0), tzinfo=zone).astimezone(UTC)
    return datetime.combine(day, day_end, tzinfo=zone).astimezone(UTC)


def period_deadline(period: Period, start: datetime, regime: Regime) -> datetime:
    """When ``period`` ends if started at ``start`` under ``regime``'s zone, calendar and day end."""
    start = require_utc(start, "start")
    zone = ZoneInfo(regime.zone)
    local = start.astimezone(zone)
    if period.unit == "hours":
        return start + timedelta(hours=period.amount)
    if period.unit == "calendar_days":
        if period.ends == "exact":
            return start + timedelta(days=period.amount)
        return _end_of_local_day(local.date() + timedelta(days=period.amount), zone, regime.day_end)
    if period.unit == "months":
        if period.ends == "exact":
            return add_months(start, period.amount)
        return _end_of_local_day(add_months(local, period.amount).date(), zone, regime.day_end)
    if regime.calendar is None:
        raise ClockError(f"regime '{regime.id}' counts business days but names no business calendar")
    cal = CALENDARS[regime.calendar]
    day = cal.add_business_days(start.astimezone(ZoneInfo(cal.zone)).date(), period.amount)
    if period.ends == "exact":
        wall = local.timetz().replace(tzinfo=None)
        return datetime.combine(day, wall, tzinfo=zone).astimezone(UTC)
    return _end_of_local_day(day, zone, regime.day_end)


# -- from acts to clocks ---------------------------------------------------------------------------
def _applies(act_regime: str | None, regime_id: str) -> bool:
    return act_regime is None or act_regime == regime_id


def _start(
    trigger: str, regime: Regime, triggers: Sequence[Trigger], filings: Sequence[Filing]
) -> Trigger | Filing | None:
    if trigger.startswith("filed:"):
        # "From the submission of" a report: the latest filing of it (DORA: "latest updated").
        target = trigger.removeprefix("filed:")
        done = [
            f
            for f in filings
            if f.regime == regime.id and f.obligation == target and f.disposition == "filed"
        ]
        return max(done, key=lambda f: f.when) if done else None
    # The earliest act counts: a later, second "we became aware" does not restart a clock.
    found = [t for t in triggers if t.name == trigger and _applies(t.regime, regime.id)]
    return min(found, key=lambda t: t.when) if found else None


def _clock(
    regime: Regime,
    obligation: Obligation,
    *,
    triggers: Sequence[Trigger],
    found: set[str],
    filings: Sequence[Filing],
) -> Clock | None:
    if obligation.condition is not None and obligation.condition not in found:
        return None
    started_by = _start(obligation.trigger, regime, triggers, filings)
    if started_by is None:
        return None
    candidates: list[tuple[datetime, str]] = []
    for period in obligation.periods:
        if period.condition is not None and period.condition not in found:
            continue
        act = started_by if period.trigger is None else _start(period.trigger, regime, triggers, filings)
        if act is not None:
            candidates.append(
                (period_deadline(period, act.when, regime), period.describe(obligation.trigger))
            )
    deadline, basis = min(candidates) if candidates else (None, obligation.text)
    mine = [f for f in filings if f.regime == regime.id and f.obligation == obligation.id]
    return Clock(
        regime=regime.id,
        obligation=obligation.id,
        name=obligation.name,
        recipient=obligation.recipient,
        source=obligation.source,
        started_at=started_by.when,
        started_by=started_by,
        deadline=deadline,
        basis=basis,
        filing=min(mine, key=lambda f: f.when) if mine else None,
    )


def compute_clocks(
    regime_ids: Iterable[str],
    *,
    triggers: Iterable[Trigger],
    findings: Iterable[Finding] = (),
    filings: Iterable[Filing] = (),
    table: dict[str, Regime] | None = None,
) -> list[Clock]:
    """Every clock the recorded acts have started under the given regimes, soonest deadline first.

    Clocks without a fixed deadline come after the dated ones. ``table`` defaults to ``REGIMES``.
    """
    regimes = REGIMES if table is None else table
    trigger_list, filing_list = list(triggers), list(filings)
    finding_list = list(findings)
    clocks: list[Clock] = []
    for regime_id in dict.fromkeys(regime_ids):
        if regime_id not in regimes:
            raise ClockError(f"no regime '{regime_id}'; known regimes: {', '.join(regimes)}")
        regime = regimes[regime_id]
        found = {f.name for f in finding_list if _applies(f.regime, regime_id)}
        for filing in filing_list:
            if filing.regime == regime_id:
                try:  # a filing for a misspelt obligation would leave its clock running unseen
                    regime.obligation(filing.obligation)
                except KeyError as exc:
                    raise ClockError(str(exc.args[0])) from None
        for obligation in regime.obligations:
            clock = _clock(regime, obligation, triggers=trigger_list, found=found, filings=filing_list)
            if clock is not None:
                clocks.append(clock)
    far = datetime.max.replace(tzinfo=UTC)
    return sorted(clocks, key=lambda c: (c.deadline or far, c.key))
