"""Open time computed in SQL (the report's intervals table) equals the calendar's own
arithmetic: across weekends, Polish holidays and both Europe/Warsaw clock changes."""

from __future__ import annotations

import random
from datetime import UTC, datetime, time, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import Float, literal, select

from bots.db import Database
from tickets.calendar import BusinessCalendar
from tickets.reports import ReportRules, business_hours_table, join_hours, open_seconds

WARSAW = ZoneInfo("Europe/Warsaw")
OFFICE = BusinessCalendar.weekly_hours(
    "office",
    "Europe/Warsaw",
    {day: [(time(9), time(17))] for day in ("mon", "tue", "wed", "thu", "fri")},
    country="PL",
)


def local(y: int, m: int, d: int, h: int, minute: int = 0) -> datetime:
    return datetime(y, m, d, h, minute, tzinfo=WARSAW)


CASES = [
    # Friday 16:00 to Monday 10:00: 1 h + 1 h.
    (local(2024, 3, 8, 16), local(2024, 3, 11, 10), 2 * 3600),
    # Across the spring change (31 March) and Easter Monday (1 April): Fri 1 h + Tue 1 h.
    (local(2024, 3, 29, 16), local(2024, 4, 2, 10), 2 * 3600),
    # Across the autumn change (27 October): Fri 1 h + Mon 1 h.
    (local(2024, 10, 25, 16), local(2024, 10, 28, 10), 2 * 3600),
    # Across All Saints' Day (Friday 1 November): Thu 1 h + Mon 1 h.
    (local(2024, 10, 31, 16), local(2024, 11, 4, 10), 2 * 3600),
    # Inside closed hours only.
    (local(2024, 3, 9, 10), local(2024, 3, 10, 18), 0),
    # A whole working week.
    (local(2024, 3, 4, 0), local(2024, 3, 11, 0), 5 * 8 * 3600),
]


async def _open_time(database: Database, pairs: list[tuple[datetime, datetime]]) -> list[float]:
    start = min(a for a, _ in pairs) - timedelta(days=2)
    end = max(b for _, b in pairs) + timedelta(days=2)
    rules = ReportRules(default_calendar=OFFICE)
    out: list[float] = []
    async with database.session() as session:
        async with business_hours_table(session, rules, start, end, keys=["-"]) as hours:
            for a, b in pairs:
                values = []
                for moment in (a, b):
                    at = literal(moment.timestamp(), Float)
                    row, on = join_hours(hours, literal("-"), at)  # "-": the business calendar
                    values.append(await session.scalar(select(open_seconds(row, at)).where(on)))
                out.append(float(values[1]) - float(values[0]))
        await session.rollback()
    return out


async def test_hand_computed_cases(db: Database) -> None:
    got = await _open_time(db, [(a, b) for a, b, _ in CASES])
    assert got == [float(expected) for _, _, expected in CASES]


async def test_random_moments_agree_with_the_calendar(db: Database) -> None:
    rng = random.Random(20240331)
    base = datetime(2024, 3, 1, tzinfo=UTC)
    pairs = []
    for _ in range(40):
        a = base + timedelta(minutes=rng.randrange(0, 60 * 24 * 300))
        b = a + timedelta(minutes=rng.randrange(0, 60 * 24 * 20))
        pairs.append((a, b))
    got = await _open_time(db, pairs)
    expected = [OFFICE.elapsed(a, b).total_seconds() for a, b in pairs]
    assert [round(g, 3) for g in got] == [round(e, 3) for e in expected]
