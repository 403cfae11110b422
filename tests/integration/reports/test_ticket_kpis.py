"""Ticket KPIs of a hand-computed history (see history.py), on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.db import Database
from tests.integration.reports.history import History, at, build_history
from tickets.reports import ReportError, ReportRules, TicketKpis, Window, ticket_report

PERIOD = Window(at(4, 0), at(18, 0))


@pytest.fixture
async def history(db: Database, tmp_path: Path) -> History:
    return await build_history(db, tmp_path)


def stats(item: TicketKpis, name: str) -> tuple[int, float | None, float | None, float | None]:
    value = getattr(item, name)
    return value.count, value.mean_s, value.p50_s, value.p90_s


async def test_totals_match_the_hand_computed_figures(db: Database, history: History) -> None:
    async with db.session() as session:
        report = await ticket_report(session, PERIOD, rules=ReportRules.from_config(history.config))
    total = report.totals
    assert total.key == "all"
    assert (total.created, total.resolved, total.done, total.reopened) == (5, 3, 3, 1)
    assert total.resolution_rate == 0.6
    assert (total.fcr, total.fcr_rate) == (1, 0.3333)
    assert total.backlog == {"new": 1, "open": 0, "pending": 1}
    # First response: 237600 (T1), 18000 (T2), 1800 (T4), 1800 (T5).
    assert stats(total, "first_response") == (4, 64800.0, 1800.0, 237600.0)
    # Business hours: T1 across the weekend is 2 h; payments works 24x7.
    assert stats(total, "first_response_business") == (4, 7200.0, 1800.0, 18000.0)
    # Waits after the first response: T1 61200 s (1 h of business time), T2 3600 s.
    assert stats(total, "next_response") == (2, 32400.0, 3600.0, 61200.0)
    assert stats(total, "next_response_business") == (2, 3600.0, 3600.0, 3600.0)
    # Resolution: T1 324000 (36000 business), T2 90000 (reopened, 24x7), T5 3600.
    assert stats(total, "resolution") == (3, 139200.0, 90000.0, 324000.0)
    assert stats(total, "resolution_business") == (3, 43200.0, 36000.0, 90000.0)
    sla = {clock: (s.with_target, s.breached, s.breach_rate) for clock, s in total.sla.items()}
    assert sla == {
        "first_response": (5, 2, 0.4),  # T2 answered late, T3 never answered
        "next_response": (5, 0, 0.0),
        "resolution": (5, 1, 0.2),  # T3
        "any": (5, 2, 0.4),
    }
    csat = total.csat
    assert (csat.asked, csat.ratings, csat.average, csat.satisfied) == (3, 2, 4.0, 1)
    assert csat.to_dict()["satisfied_share"] == 0.5
    assert csat.to_dict()["response_rate"] == 0.6667
    # T1's customer came back on Slack two days after T1 was resolved.
    assert (total.recontact_eligible, total.recontacted, total.recontact_rate) == (3, 1, 0.3333)


async def test_by_department(db: Database, history: History) -> None:
    async with db.session() as session:
        report = await ticket_report(
            session, PERIOD, by="department", rules=ReportRules.from_config(history.config)
        )
    groups = {g.key: g for g in report.groups}
    assert [g.key for g in report.groups] == ["orders", "payments"]  # most tickets first
    orders, payments = groups["orders"], groups["payments"]
    assert (orders.created, orders.resolved, orders.done, orders.fcr) == (3, 1, 1, 0)
    assert orders.backlog == {"new": 1, "open": 0, "pending": 1}
    assert stats(orders, "first_response") == (2, 119700.0, 1800.0, 237600.0)
    assert stats(orders, "first_response_business") == (2, 4500.0, 1800.0, 7200.0)
    assert stats(orders, "next_response_business") == (1, 3600.0, 3600.0, 3600.0)
    assert stats(orders, "resolution_business") == (1, 36000.0, 36000.0, 36000.0)
    assert orders.sla["first_response"].breached == 1
    assert orders.sla["resolution"].breach_rate == 0.3333
    assert (orders.csat.ratings, orders.csat.average) == (1, 5.0)
    assert (orders.recontact_eligible, orders.recontacted) == (1, 1)

    assert (payments.created, payments.resolved, payments.reopened, payments.fcr) == (2, 2, 1, 1)
    assert payments.fcr_rate == 0.5
    assert payments.backlog == {"new": 0, "open": 0, "pending": 0}
    assert stats(payments, "first_response") == (2, 9900.0, 1800.0, 18000.0)
    assert stats(payments, "first_response_business") == stats(payments, "first_response")
    assert stats(payments, "resolution") == (2, 46800.0, 3600.0, 90000.0)
    assert (payments.sla["first_response"].breached, payments.sla["resolution"].breached) == (1, 0)
    assert (payments.csat.asked, payments.csat.ratings, payments.csat.satisfied) == (2, 1, 0)
    assert (payments.recontact_eligible, payments.recontacted) == (2, 0)
    # The totals are not the sum of percentiles, but counts add up.
    assert report.totals.created == orders.created + payments.created


async def test_by_agent_and_channel(db: Database, history: History) -> None:
    rules = ReportRules.from_config(history.config)
    async with db.session() as session:
        agents = await ticket_report(session, PERIOD, by="agent", rules=rules)
        channels = await ticket_report(session, PERIOD, by="channel", rules=rules)
    by_agent = {g.key: (g.created, g.done) for g in agents.groups}
    assert by_agent == {"U0ANNA0001": (2, 1), "U0KASIA001": (2, 2), "-": (1, 0)}
    by_channel = {g.key: g for g in channels.groups}
    assert {k: g.created for k, g in by_channel.items()} == {"telegram": 3, "slack": 2}
    assert stats(by_channel["slack"], "first_response") == (1, 1800.0, 1800.0, 1800.0)
    assert by_channel["slack"].backlog == {"new": 1, "open": 0, "pending": 1}


async def test_by_language_day_and_week(db: Database, history: History) -> None:
    rules = ReportRules.from_config(history.config)
    async with db.session() as session:
        languages = await ticket_report(session, PERIOD, by="language", rules=rules)
        days = await ticket_report(session, PERIOD, by="day", rules=rules)
        weeks = await ticket_report(session, PERIOD, by="week", rules=rules)
    assert {g.key: g.created for g in languages.groups} == {"en": 3, "pl": 2}
    # Created per day of opening, resolved per day of resolution (T1 on the 12th).
    assert [(g.key, g.created, g.resolved) for g in days.groups] == [
        ("2024-03-05", 1, 0),
        ("2024-03-06", 1, 1),
        ("2024-03-07", 1, 1),
        ("2024-03-08", 1, 0),
        ("2024-03-12", 0, 1),
        ("2024-03-14", 1, 0),
    ]
    assert [(g.key, g.created, g.resolved) for g in weeks.groups] == [
        ("2024-03-04", 4, 2),
        ("2024-03-11", 1, 1),
    ]


async def test_a_window_selects_tickets_by_creation(db: Database, history: History) -> None:
    rules = ReportRules.from_config(history.config)
    async with db.session() as session:
        first_week = await ticket_report(session, Window(at(4, 0), at(9, 0)), rules=rules)
        empty = await ticket_report(session, Window(at(20, 0), at(21, 0)), rules=rules)
    assert (first_week.totals.created, first_week.totals.resolved) == (4, 2)
    # The backlog is the status at the end of the window: T1 was still new then (opened
    # Friday, answered Monday) and T3 never got an answer.
    assert first_week.totals.backlog == {"new": 2, "open": 0, "pending": 0}
    assert empty.totals.created == 0
    assert empty.totals.first_response.count == 0
    assert empty.totals.resolution_rate is None
    assert empty.totals.backlog == {"new": 1, "open": 0, "pending": 1}


async def test_bad_windows_and_groupings_are_refused(db: Database) -> None:
    with pytest.raises(ReportError, match="empty"):
        Window(at(5, 0), at(5, 0))
    async with db.session() as session:
        with pytest.raises(ReportError, match="cannot group by 'tier'"):
            await ticket_report(session, PERIOD, by="tier")  # type: ignore[arg-type]


async def test_a_policy_no_longer_configured_still_counts(db: Database, history: History) -> None:
    # The built-in configuration knows only the policy "default"; the tickets ran under "std".
    async with db.session() as session:
        report = await ticket_report(session, PERIOD, rules=ReportRules.from_config())
    first = report.totals.sla["first_response"]
    assert (first.with_target, first.breached) == (5, 2)


async def test_a_period_ending_far_ahead_gives_the_same_figures_without_a_huge_hours_table(
    db: Database, history: History
) -> None:
    from datetime import UTC, datetime, timedelta

    from tickets.models import utcnow
    from tickets.reports import FUTURE_HOURS, _bounds

    rules = ReportRules.from_config(history.config)
    far = Window(PERIOD.since, datetime(9999, 1, 1, tzinfo=UTC))
    async with db.session() as session:
        bounds = await _bounds(session, far)
        near = await ticket_report(session, Window(PERIOD.since, utcnow()), rules=rules)
        report = await ticket_report(session, far, rules=rules)
    assert bounds is not None
    # the business-hours table spans the tickets up to a year ahead, not 7,000 years of days
    assert bounds[1] <= utcnow() + FUTURE_HOURS + timedelta(minutes=1)
    assert report.totals.created == near.totals.created > 0
    assert report.totals.first_response_business == near.totals.first_response_business
    assert report.totals.resolution_business == near.totals.resolution_business
