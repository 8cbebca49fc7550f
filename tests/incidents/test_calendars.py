"""US federal holidays by rule, with observance, and business-day counting."""

from __future__ import annotations

from datetime import date

import pytest

from andon.incidents.calendars import US_FEDERAL, nth_weekday, us_federal_holidays


def test_2026_holidays_match_the_opm_list() -> None:
    assert sorted(us_federal_holidays(2026)) == [
        date(2026, 1, 1),
        date(2026, 1, 19),
        date(2026, 2, 16),
        date(2026, 5, 25),
        date(2026, 6, 19),
        date(2026, 7, 3),  # 4 July is a Saturday: observed on Friday 3 July
        date(2026, 9, 7),
        date(2026, 10, 12),
        date(2026, 11, 11),
        date(2026, 11, 26),
        date(2026, 12, 25),
    ]


def test_saturday_new_year_is_observed_in_the_year_before() -> None:
    # 1 January 2022 was a Saturday: observed Friday 31 December 2021, so 2022 has no New Year holiday.
    assert us_federal_holidays(2021)[date(2021, 12, 31)] == "New Year's Day (observed)"
    assert date(2022, 1, 1) not in us_federal_holidays(2022)
    assert all(d.year == 2022 for d in us_federal_holidays(2022))
    assert len(us_federal_holidays(2022)) == 10
    assert len(us_federal_holidays(2021)) == 12


def test_sunday_holiday_is_observed_on_monday_and_juneteenth_starts_in_2021() -> None:
    assert us_federal_holidays(2022)[date(2022, 6, 20)] == "Juneteenth National Independence Day (observed)"
    assert us_federal_holidays(2022)[date(2022, 12, 26)] == "Christmas Day (observed)"
    assert not any("Juneteenth" in name for name in us_federal_holidays(2020).values())


@pytest.mark.parametrize(
    ("year", "month", "weekday", "n", "expected"),
    [
        (2026, 1, 0, 3, date(2026, 1, 19)),  # MLK: 3rd Monday of January
        (2026, 11, 3, 4, date(2026, 11, 26)),  # Thanksgiving: 4th Thursday of November
        (2026, 5, 0, -1, date(2026, 5, 25)),  # Memorial Day: last Monday of May
        (2027, 12, 4, -1, date(2027, 12, 31)),
        (2024, 2, 3, -1, date(2024, 2, 29)),
    ],
)
def test_nth_weekday(year: int, month: int, weekday: int, n: int, expected: date) -> None:
    assert nth_weekday(year, month, weekday, n) == expected


def test_business_days_skip_weekends_holidays_and_extra_closures() -> None:
    assert US_FEDERAL.add_business_days(date(2026, 11, 24), 4) == date(2026, 12, 1)  # Thanksgiving
    assert US_FEDERAL.add_business_days(date(2026, 11, 28), 1) == date(2026, 11, 30)  # from a Saturday
    assert not US_FEDERAL.is_business_day(date(2026, 7, 3))
    assert US_FEDERAL.is_business_day(date(2026, 7, 2))
    mourning = US_FEDERAL.with_closures(date(2025, 1, 9))
    assert US_FEDERAL.add_business_days(date(2025, 1, 8), 1) == date(2025, 1, 9)
    assert mourning.add_business_days(date(2025, 1, 8), 1) == date(2025, 1, 10)
    with pytest.raises(ValueError, match="at least 1"):
        US_FEDERAL.add_business_days(date(2026, 1, 5), 0)
