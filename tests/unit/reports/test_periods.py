"""Report periods, durations in words and the digest schedule (no I/O)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from bots.reporting import (
    digest_week,
    human_duration,
    next_digest_at,
    parse_moment,
    parse_period,
    parse_window,
)
from tickets.reports import ReportError, Window

NOW = datetime(2024, 3, 20, 12, 30, tzinfo=UTC)  # a Wednesday


def d(day: int, hour: int = 0, minute: int = 0, month: int = 3) -> datetime:
    return datetime(2024, month, day, hour, minute, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "end", "expected"),
    [
        ("7d", False, d(13, 12, 30)),
        ("12h", False, d(20, 0, 30)),
        ("2w", False, d(6, 12, 30)),
        ("2024-03-01", False, d(1)),
        ("2024-03-01", True, d(2)),
        ("2024-03-01T10:15", False, d(1, 10, 15)),
        ("2024-03-01T10:15+01:00", False, d(1, 9, 15)),
        ("today", False, d(20)),
        ("today", True, d(21)),
        ("now", False, NOW),
    ],
)
def test_moments(text: str, end: bool, expected: datetime) -> None:
    assert parse_moment(text, now=NOW, option="--since", end=end) == expected


@pytest.mark.parametrize("text", ["7x", "yesterday", "2024-13-01", "-3d", ""])
def test_bad_moments_name_the_option(text: str) -> None:
    with pytest.raises(ReportError, match=r"^--until: "):
        parse_moment(text, now=NOW, option="--until")


def test_window_defaults_to_the_last_30_days() -> None:
    assert parse_window(None, None, now=NOW) == Window(d(19, 12, 30, month=2), NOW)
    assert parse_window("2024-03-01", "2024-03-07", now=NOW) == Window(d(1), d(8))
    with pytest.raises(ReportError, match="must be after"):
        parse_window("2024-03-07", "2024-03-01", now=NOW)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("", Window(d(13, 12, 30), NOW)),
        ("week", Window(d(13, 12, 30), NOW)),
        ("month", Window(d(19, 12, 30, month=2), NOW)),
        ("today", Window(d(20), d(21))),
        ("2024-03-05", Window(d(5), d(6))),
        ("2024-03-01..2024-03-07", Window(d(1), d(8))),
    ],
)
def test_chat_periods(text: str, expected: Window) -> None:
    assert parse_period(text, now=NOW) == expected


def test_a_reversed_chat_range_is_refused() -> None:
    with pytest.raises(ReportError, match="ends before it starts"):
        parse_period("2024-03-07..2024-03-01", now=NOW)


@pytest.mark.parametrize(
    ("seconds", "text"),
    [(None, "-"), (42, "42s"), (1800, "30m"), (3600, "1h"), (5400, "1h 30m"), (237600, "2d 18h")],
)
def test_durations_in_words(seconds: float | None, text: str) -> None:
    assert human_duration(seconds) == text


def test_digest_schedule() -> None:
    assert next_digest_at(NOW) == d(25, 8)  # the next Monday 08:00
    assert next_digest_at(d(25, 8)) == datetime(2024, 4, 1, 8, tzinfo=UTC)
    assert next_digest_at(d(25, 7, 59)) == d(25, 8)
    assert digest_week(d(25, 8)) == 202412  # covers ISO week 12 (18-24 March)


@pytest.mark.parametrize(
    ("since", "until"),
    [
        ("0001-01-01", None),  # crashed building the business-hours table (year 0)
        ("1969-12-31", None),
        ("99999w", None),
        ("30d", "9999-12-31"),  # the end of that day is past what a datetime holds
        ("30d", "9999-12-31T23:59-05:00"),
    ],
)
def test_moments_outside_the_reportable_years_are_refused(since: str, until: str | None) -> None:
    with pytest.raises(ReportError, match=r"is out of range \(reports cover 1970-01-01 to "):
        parse_window(since, until, now=NOW)


def test_the_reportable_years_reach_their_ends() -> None:
    window = parse_window("1970-01-01", "9998-12-31", now=NOW)
    assert window.since == datetime(1970, 1, 1, tzinfo=UTC)
    assert window.until == datetime(9999, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize("text", ["0001-01-01..9999-12-31", "9999-12-31", "0001-01-01"])
def test_slack_periods_outside_the_reportable_years_are_refused(text: str) -> None:
    with pytest.raises(ReportError, match=r"^period: .* is out of range"):
        parse_period(text, now=NOW)
