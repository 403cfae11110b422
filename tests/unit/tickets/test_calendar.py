"""Business-time arithmetic on the Warsaw office calendar, checked against hand-computed times."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest

from tickets.calendar import BusinessCalendar, CalendarError, easter_sunday, polish_holidays

WARSAW = ZoneInfo("Europe/Warsaw")
OFFICE = BusinessCalendar.weekly_hours(
    "office",
    "Europe/Warsaw",
    {day: [(time(8), time(16))] for day in ("mon", "tue", "wed", "thu", "fri")},
    country="PL",
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)  # type: ignore[misc]


def utc(*args: int) -> datetime:
    return datetime(*args, tzinfo=UTC)  # type: ignore[misc]


def test_sixteen_hours_over_eight_hour_days_is_two_business_days() -> None:
    # Monday 2 March 2026 08:00 -> Tuesday 16:00 (15:00 UTC in winter time).
    assert OFFICE.add(local(2026, 3, 2, 8), timedelta(hours=16)) == utc(2026, 3, 3, 15)
    # From the middle of a day: Monday 12:00 -> Wednesday 12:00.
    assert OFFICE.add(local(2026, 3, 2, 12), timedelta(hours=16)) == local(2026, 3, 4, 12)
    assert OFFICE.elapsed(local(2026, 3, 2, 8), local(2026, 3, 3, 16)) == timedelta(hours=16)


def test_across_a_weekend() -> None:
    # Friday 6 March 14:00 + 4h: 2h on Friday, 2h on Monday -> Monday 10:00.
    assert OFFICE.add(local(2026, 3, 6, 14), timedelta(hours=4)) == local(2026, 3, 9, 10)
    assert OFFICE.elapsed(local(2026, 3, 6, 14), local(2026, 3, 9, 10)) == timedelta(hours=4)


def test_starting_outside_hours_waits_for_the_opening() -> None:
    # Saturday night + 1h -> Monday 09:00.
    assert OFFICE.add(local(2026, 3, 7, 23), timedelta(hours=1)) == local(2026, 3, 9, 9)
    assert OFFICE.next_open(local(2026, 3, 6, 16)) == local(2026, 3, 9, 8)
    assert not OFFICE.is_open(local(2026, 3, 6, 16))
    assert OFFICE.is_open(local(2026, 3, 6, 15, 59))


def test_across_a_holiday() -> None:
    # Friday 3 April 2026 14:00 + 4h: Easter Monday (6 April) is a holiday -> Tuesday 10:00,
    # which is 08:00 UTC in summer time.
    assert OFFICE.add(local(2026, 4, 3, 14), timedelta(hours=4)) == utc(2026, 4, 7, 8)
    # Independence Day, Wednesday 11 November 2026: Tuesday 15:00 + 2h -> Thursday 09:00.
    assert OFFICE.add(local(2026, 11, 10, 15), timedelta(hours=2)) == local(2026, 11, 12, 9)
    assert OFFICE.intervals(date(2026, 11, 11)) == []


def test_explicit_holidays_close_the_day() -> None:
    calendar = BusinessCalendar.weekly_hours(
        "x", "Europe/Warsaw", {"mon": [(time(8), time(16))]}, holidays=[date(2026, 3, 9)]
    )
    # Monday 2 March 15:00 + 2h: 1h that day, 9 March is a holiday -> Monday 16 March 09:00.
    assert calendar.add(local(2026, 3, 2, 15), timedelta(hours=2)) == local(2026, 3, 16, 9)


def test_across_the_spring_dst_change() -> None:
    # Clocks go forward on Sunday 29 March 2026. Friday 27 March 15:00 CET (14:00 UTC) + 2h:
    # 1h on Friday, 1h on Monday -> Monday 09:00 CEST = 07:00 UTC (not 08:00 UTC).
    due = OFFICE.add(local(2026, 3, 27, 15), timedelta(hours=2))
    assert due == utc(2026, 3, 30, 7)
    assert due.astimezone(WARSAW).hour == 9


def test_across_the_autumn_dst_change() -> None:
    # Clocks go back on Sunday 25 October 2026. Friday 23 October 15:00 CEST (13:00 UTC) + 2h
    # -> Monday 26 October 09:00 CET = 08:00 UTC.
    due = OFFICE.add(local(2026, 10, 23, 15), timedelta(hours=2))
    assert due == utc(2026, 10, 26, 8)


def test_the_days_the_clocks_change_have_23_and_25_hours() -> None:
    every_day = BusinessCalendar.weekly_hours(
        "daily", "Europe/Warsaw", {d: [(time(0), None)] for d in ("sat", "sun", "mon")}
    )
    spring = every_day.elapsed(local(2026, 3, 29), local(2026, 3, 30))
    autumn = every_day.elapsed(local(2026, 10, 25), local(2026, 10, 26))
    assert spring == timedelta(hours=23)
    assert autumn == timedelta(hours=25)
    # Saturday 28 March 12:00 CET (11:00 UTC) + 24h of open time = Sunday 13:00 CEST.
    assert every_day.add(local(2026, 3, 28, 12), timedelta(hours=24)) == utc(2026, 3, 29, 11)


def test_hours_spanning_the_skipped_hour_count_real_time() -> None:
    # 01:00-05:00 local on 29 March 2026 is 00:00-03:00 UTC: three real hours.
    night = BusinessCalendar.weekly_hours("night", "Europe/Warsaw", {"sun": [(time(1), time(5))]})
    assert night.intervals(date(2026, 3, 29)) == [(utc(2026, 3, 29, 0), utc(2026, 3, 29, 3))]
    # And 01:00-05:00 on 25 October is 23:00-04:00 UTC: five real hours.
    assert night.elapsed(local(2026, 10, 25, 0), local(2026, 10, 26, 0)) == timedelta(hours=5)


def test_always_open_is_plain_elapsed_time() -> None:
    always = BusinessCalendar.always(zone=WARSAW)
    start = local(2026, 3, 28, 12)
    assert always.add(start, timedelta(hours=30)) == start.astimezone(UTC) + timedelta(hours=30)
    assert always.is_open(local(2026, 12, 25, 3))
    assert always.describe() == "24/7"


def test_polish_holidays_follow_easter() -> None:
    assert easter_sunday(2026) == date(2026, 4, 5)
    assert easter_sunday(2027) == date(2027, 3, 28)
    days = polish_holidays(2026)
    assert date(2026, 6, 4) in days  # Corpus Christi: Easter + 60
    assert date(2026, 5, 24) in days  # Pentecost: Easter + 49
    assert date(2026, 12, 24) in days  # Christmas Eve, a day off since 2025
    assert date(2024, 12, 24) not in polish_holidays(2024)
    assert len(days) == 14


def test_elapsed_is_zero_backwards_and_needs_aware_times() -> None:
    assert OFFICE.elapsed(local(2026, 3, 3, 12), local(2026, 3, 2, 12)) == timedelta(0)
    with pytest.raises(ValueError, match="timezone-aware"):
        OFFICE.add(datetime(2026, 3, 2, 8), timedelta(hours=1))


def test_a_calendar_without_hours_fails_clearly() -> None:
    closed = BusinessCalendar.weekly_hours("closed", "UTC", {})
    with pytest.raises(CalendarError, match="no open hours"):
        closed.add(utc(2026, 1, 1), timedelta(hours=1))


def test_describe_groups_days() -> None:
    assert OFFICE.describe() == "Mon-Fri 08:00-16:00 (Europe/Warsaw)"


def test_describe_names_the_days_in_polish_for_a_polish_customer() -> None:
    assert OFFICE.describe("pl") == "pon.-pt. 08:00-16:00 (Europe/Warsaw)"
