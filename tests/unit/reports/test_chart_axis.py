"""The time axis of the report's per-day charts (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime
from types import SimpleNamespace
from typing import Any

from bots.report_charts import MAX_BARS, Days
from tickets.reports import Window


def days(since: datetime, until: datetime) -> Days:
    report: Any = SimpleNamespace(window=Window(since, until))
    return Days.of(report)


def test_a_month_has_a_bar_per_day_labelled_without_the_year() -> None:
    axis = days(datetime(2024, 3, 1, tzinfo=UTC), datetime(2024, 4, 1, tzinfo=UTC))
    assert (len(axis), axis.size, axis.unit) == (31, 1, "day")
    assert axis.at("2024-03-01") == 0 and axis.at("2024-03-31") == 30
    assert axis.at("2024-02-29") is None and axis.at("2024-04-01") is None
    assert axis.at("not a day") is None
    assert axis.label(30) == "03-31"


def test_ten_years_are_drawn_in_bars_of_several_days() -> None:
    axis = days(datetime(2015, 1, 1, tzinfo=UTC), datetime(2025, 1, 1, tzinfo=UTC))
    assert len(axis) <= MAX_BARS and axis.size == 10 and axis.unit == "10 days"
    assert axis.at("2015-01-10") == 0 and axis.at("2015-01-11") == 1
    assert axis.at("2024-12-31") == len(axis) - 1
    assert axis.label(1) == "2015-01-11"  # the year, since the period spans several


def test_the_longest_period_stays_within_the_bar_limit() -> None:
    axis = days(datetime(1970, 1, 1, tzinfo=UTC), datetime(9999, 1, 1, tzinfo=UTC))
    assert len(axis) <= MAX_BARS
    assert axis.at("1970-01-01") == 0 and axis.at("9998-12-31") == len(axis) - 1
