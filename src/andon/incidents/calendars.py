"""Business-day calendars: US federal holidays computed by rule for any year, with observance.

A regulator's "business day" is a day its office is open. For the SEC that is any day other than a
Saturday, a Sunday or a federal holiday (17 CFR 240.0-3; Form 8-K General Instruction B.1). The legal
public holidays are fixed by 5 U.S.C. 6103(a); when one falls on a Saturday it is observed on the Friday
before, and on a Sunday on the Monday after (5 U.S.C. 6103(b), Executive Order 11582). So New Year's Day
2022 (a Saturday) was observed on Friday 31 December 2021, which belongs to the 2021 calendar.

Not modelled: Inauguration Day (a holiday only in the Washington area, every fourth year) and closures by
executive order (e.g. 9 January 2025); pass them as ``extra_closures`` when they matter.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date, timedelta
from functools import lru_cache

MONDAY, THURSDAY, SATURDAY, SUNDAY = 0, 3, 5, 6


def nth_weekday(year: int, month: int, weekday: int, n: int) -> date:
    """The ``n``-th ``weekday`` (Monday=0) of a month; ``n=-1`` is the last one."""
    if n > 0:
        first = date(year, month, 1)
        return first + timedelta(days=(weekday - first.weekday()) % 7 + 7 * (n - 1))
    next_month = date(year + month // 12, month % 12 + 1, 1)
    last = next_month - timedelta(days=1)
    return last - timedelta(days=(last.weekday() - weekday) % 7)


def _us_actual_holidays(year: int) -> list[tuple[date, str]]:
    """The legal public holidays of a year on their nominal dates (5 U.S.C. 6103(a))."""
    days = [
        (date(year, 1, 1), "New Year's Day"),
        (date(year, 7, 4), "Independence Day"),
        (date(year, 11, 11), "Veterans Day"),
        (date(year, 12, 25), "Christmas Day"),
        (nth_weekday(year, 2, MONDAY, 3), "Washington's Birthday"),
        (nth_weekday(year, 5, MONDAY, -1), "Memorial Day"),
        (nth_weekday(year, 9, MONDAY, 1), "Labor Day"),
        (nth_weekday(year, 10, MONDAY, 2), "Columbus Day"),
        (nth_weekday(year, 11, THURSDAY, 4), "Thanksgiving Day"),
    ]
    if year >= 1986:  # Pub. L. 98-144
        days.append((nth_weekday(year, 1, MONDAY, 3), "Birthday of Martin Luther King, Jr."))
    if year >= 2021:  # Juneteenth National Independence Day Act, 17 June 2021
        days.append((date(year, 6, 19), "Juneteenth National Independence Day"))
    return days


def observed(day: date) -> date:
    """The day a holiday is observed: Saturday -> Friday before, Sunday -> Monday after."""
    if day.weekday() == SATURDAY:
        return day - timedelta(days=1)
    if day.weekday() == SUNDAY:
        return day + timedelta(days=1)
    return day


@lru_cache(maxsize=256)
def _us_federal_holidays(year: int) -> tuple[tuple[date, str], ...]:
    found: dict[date, str] = {}
    # A neighbouring year's holiday can be observed in this one (1 January on a Saturday).
    for y in (year - 1, year, year + 1):
        for day, name in _us_actual_holidays(y):
            when = observed(day)
            if when.year == year:
                label = name if when == day else f"{name} (observed)"
                found[when] = label
    return tuple(sorted(found.items()))


def us_federal_holidays(year: int) -> dict[date, str]:
    """Observed US federal holidays that fall in ``year``, by date: ``{date(2026, 7, 3): ...}``."""
    return dict(_us_federal_holidays(year))


def no_holidays(year: int) -> dict[date, str]:
    """A calendar with weekends only."""
    return {}


@dataclass(frozen=True, slots=True)
class BusinessCalendar:
    """Which local days count as business days for a regime: not a weekend, not a holiday."""

    name: str
    zone: str  # the IANA zone whose dates are counted, e.g. America/New_York
    holidays: Callable[[int], Mapping[date, str]] = no_holidays
    weekend: frozenset[int] = frozenset({SATURDAY, SUNDAY})
    extra_closures: frozenset[date] = field(default_factory=frozenset)

    def holiday_name(self, day: date) -> str | None:
        """The holiday on ``day``, if any (extra closures are named as such)."""
        if day in self.extra_closures:
            return "closure"
        return self.holidays(day.year).get(day)

    def is_business_day(self, day: date) -> bool:
        return day.weekday() not in self.weekend and self.holiday_name(day) is None

    def add_business_days(self, day: date, count: int) -> date:
        """The ``count``-th business day strictly after ``day``.

        This one rule covers both cases of Form 8-K General Instruction B.1: an event on a business day
        starts counting the next day, and an event on a weekend or holiday counts "the first business
        day thereafter" as day one — which is again the first business day after it.
        """
        if count < 1:
            raise ValueError(f"count must be at least 1, not {count}")
        current = day
        remaining = count
        while remaining:
            current += timedelta(days=1)
            if self.is_business_day(current):
                remaining -= 1
        return current

    def with_closures(self, *days: date) -> BusinessCalendar:
        """A copy with more closed days (e.g. a national day of mourning)."""
        return BusinessCalendar(
            name=self.name,
            zone=self.zone,
            holidays=self.holidays,
            weekend=self.weekend,
            extra_closures=self.extra_closures | frozenset(days),
        )


US_FEDERAL = BusinessCalendar(name="us_federal", zone="America/New_York", holidays=us_federal_holidays)

CALENDARS: dict[str, BusinessCalendar] = {US_FEDERAL.name: US_FEDERAL}
