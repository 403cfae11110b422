"""Nearest-rank percentiles of the ticket report, on SQLite and PostgreSQL, for every count
from 1 to 23 (odd and even, ties included), in total and per group, against the definition:
the value at position ceil(p * count) in ascending order."""

from __future__ import annotations

import math
import random
from datetime import UTC, datetime, timedelta

from bots.db import Database
from tickets.models import Customer, Ticket
from tickets.reports import ReportRules, Window, ticket_report

START = datetime(2024, 3, 4, tzinfo=UTC)


def nearest_rank(values: list[float], p: float) -> float:
    ordered = sorted(values)
    return ordered[math.ceil(p * len(ordered) - 1e-9) - 1]


async def test_percentiles_per_group_and_in_total_follow_the_definition(db: Database) -> None:
    rng = random.Random(20240304)
    waits: dict[str, list[float]] = {}
    async with db.session() as session:
        customer = Customer(name="c", language="en", tags=[])
        session.add(customer)
        await session.flush()
        number = 0
        for size in range(1, 24):
            department = f"d{size:02d}"
            # Whole minutes from a small range, so equal values (ties) are common.
            minutes = [rng.randint(1, 12) for _ in range(size)]
            waits[department] = [m * 60.0 for m in minutes]
            for m in minutes:
                number += 1
                created = START + timedelta(minutes=7 * number)
                session.add(
                    Ticket(
                        number=number,
                        customer_id=customer.id,
                        subject="s",
                        status="open",
                        department=department,
                        channel="console",
                        chat_id=str(number),
                        created_at=created,
                        first_response_at=created + timedelta(minutes=m),
                    )
                )
        await session.commit()
    window = Window(START, START + timedelta(days=7))
    async with db.session() as session:
        report = await ticket_report(
            session, window, by="department", rules=ReportRules(), sessions=db.sessions
        )
    everything = [w for values in waits.values() for w in values]
    assert report.totals.first_response.count == len(everything)
    assert report.totals.first_response.p50_s == nearest_rank(everything, 0.5)
    assert report.totals.first_response.p90_s == nearest_rank(everything, 0.9)
    assert report.totals.first_response.mean_s == round(sum(everything) / len(everything), 1)
    found = {g.key: g.first_response for g in report.groups}
    assert set(found) == set(waits)
    for department, values in waits.items():
        stats = found[department]
        assert stats.count == len(values), department
        assert stats.p50_s == nearest_rank(values, 0.5), department
        assert stats.p90_s == nearest_rank(values, 0.9), department
        assert stats.mean_s == round(sum(values) / len(values), 1), department
