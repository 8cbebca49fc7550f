"""Durations and rates as people write them, and as other packages compute with them."""

from __future__ import annotations

from datetime import timedelta

import pytest

from andon.runbook.units import Rate, format_duration, parse_duration, parse_rate
from andon.runbook.vocabulary import autonomy_rank


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("15m", timedelta(minutes=15), "15m"),
        ("1h30m", timedelta(minutes=90), "1h30m"),
        ("90m", timedelta(minutes=90), "1h30m"),
        ("3d", timedelta(days=3), "3d"),
        ("2w", timedelta(weeks=2), "2w"),
        ("10d", timedelta(days=10), "10d"),
        ("45s", timedelta(seconds=45), "45s"),
    ],
)
def test_durations(text: str, expected: timedelta, canonical: str) -> None:
    assert parse_duration(text) == expected
    assert format_duration(expected) == canonical


@pytest.mark.parametrize("text", ["15", "15 minutes", "1.5h", "m15", "", "0m"])
def test_bad_durations_say_what_a_duration_looks_like(text: str) -> None:
    with pytest.raises(ValueError, match=r"duration|zero"):
        parse_duration(text)


@pytest.mark.parametrize(
    ("text", "count", "per", "canonical"),
    [
        ("10/min", 10, timedelta(minutes=1), "10/min"),
        ("10/m", 10, timedelta(minutes=1), "10/min"),
        ("120/h", 120, timedelta(hours=1), "120/h"),
        ("30/10s", 30, timedelta(seconds=10), "30/10s"),
        ("5/s", 5, timedelta(seconds=1), "5/s"),
        ("100/day", 100, timedelta(days=1), "100/day"),
    ],
)
def test_rates(text: str, count: int, per: timedelta, canonical: str) -> None:
    rate = parse_rate(text)
    assert rate == Rate(count=count, per=per)
    assert str(rate) == canonical
    assert rate.per_second == count / per.total_seconds()


@pytest.mark.parametrize(
    ("text", "message"),
    [("lots", "is not a rate"), ("10/fortnight", "unknown period"), ("0/min", "allows nothing")],
)
def test_bad_rates(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_rate(text)


def test_autonomy_levels_are_ordered() -> None:
    assert autonomy_rank("observe") < autonomy_rank("advise") < autonomy_rank("act_with_approval")
    assert autonomy_rank("act_with_approval") < autonomy_rank("autonomous")
