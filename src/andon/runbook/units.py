"""Durations (``15m``, ``1h30m``, ``3d``) and rates (``10/min``, ``30/10s``) as written in a runbook.

Both parse into typed values that other packages compute with, and print back in the same short form,
so a runbook stored as JSON reads like the YAML it came from.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta

_UNIT_SECONDS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
_DURATION_RE = re.compile(r"^(?:\d+[smhdw])+$")
_PART_RE = re.compile(r"(\d+)([smhdw])")

# A rate's period may be a unit word ("min") or a duration ("10s"); "m" means minute as in durations.
_RATE_UNITS = {
    "s": 1,
    "sec": 1,
    "second": 1,
    "m": 60,
    "min": 60,
    "minute": 60,
    "h": 3600,
    "hour": 3600,
    "d": 86400,
    "day": 86400,
}
_RATE_RE = re.compile(r"^(\d+)\s*/\s*(\S+)$")


def parse_duration(text: str) -> timedelta:
    """``"15m"`` -> 15 minutes. Units: s, m, h, d, w; parts may be combined (``"1h30m"``).

    Raises ValueError with a message that says what a duration looks like.
    """
    cleaned = text.strip().replace(" ", "")
    if not _DURATION_RE.match(cleaned):
        raise ValueError(
            f"'{text}' is not a duration; write a number and a unit, e.g. 30s, 15m, 1h, 3d, 2w or 1h30m"
        )
    seconds = sum(int(n) * _UNIT_SECONDS[unit] for n, unit in _PART_RE.findall(cleaned))
    if seconds == 0:
        raise ValueError(f"'{text}' is a zero duration; give a positive one, e.g. 15m")
    return timedelta(seconds=seconds)


def format_duration(value: timedelta) -> str:
    """The short form of a duration: ``timedelta(minutes=90)`` -> ``"1h30m"``."""
    remaining = int(value.total_seconds())
    if remaining <= 0:
        return "0s"
    # Weeks read oddly next to days ("1w2d"), so they are used only when they stand alone.
    if remaining % _UNIT_SECONDS["w"] == 0:
        return f"{remaining // _UNIT_SECONDS['w']}w"
    parts = []
    for unit in ("d", "h", "m", "s"):
        size = _UNIT_SECONDS[unit]
        if remaining >= size:
            parts.append(f"{remaining // size}{unit}")
            remaining %= size
    return "".join(parts)


@dataclass(frozen=True, slots=True)
class Rate:
    """At most ``count`` events per ``per`` (a sliding or fixed window, as the limiter chooses)."""

    count: int
    per: timedelta

    @property
    def per_second(self) -> float:
        return self.count / self.per.total_seconds()

    def __str__(self) -> str:
        seconds = int(self.per.total_seconds())
        word = {1: "s", 60: "min", 3600: "h", 86400: "day"}.get(seconds)
        return f"{self.count}/{word or format_duration(self.per)}"


def parse_rate(text: str) -> Rate:
    """``"10/min"`` -> Rate(10, 1 minute); ``"30/10s"`` -> Rate(30, 10 seconds).

    Raises ValueError with a message that says what a rate looks like.
    """
    match = _RATE_RE.match(text.strip())
    if match is None:
        raise ValueError(f"'{text}' is not a rate; write count/period, e.g. 10/min, 120/h or 30/10s")
    count, period = int(match.group(1)), match.group(2).lower()
    if period in _RATE_UNITS:
        per = timedelta(seconds=_RATE_UNITS[period])
    else:
        try:
            per = parse_duration(period)
        except ValueError:
            raise ValueError(
                f"'{text}' has an unknown period '{period}'; use s, min, h, day or a duration like 10s"
            ) from None
    if count <= 0:
        raise ValueError(f"'{text}' allows nothing; a rate needs a positive count (use a switch to stop)")
    return Rate(count=count, per=per)
