"""Fifty customers open tickets at once on PostgreSQL: distinct numbers, one consistent event
log per ticket, and round-robin turns that stay fair under the race."""

from __future__ import annotations

import asyncio
from collections import Counter

from sqlalchemy import func, select

from bots.db import Database
from tickets.models import Ticket, TicketEvent
from tickets.service import Helpdesk

from .helpers import local, make_config, open_one

MONDAY_8 = local(2026, 3, 2, 8)


async def _open_many(db: Database, count: int) -> list[int]:
    desk = Helpdesk(make_config(assignment="round_robin"))
    return list(
        await asyncio.gather(
            *(
                open_one(db, desk, f"parcel {i} is late", MONDAY_8, user=f"c{i}")
                for i in range(count)
            )
        )
    )


async def _check(db: Database, numbers: list[int]) -> None:
    count = len(numbers)
    assert sorted(numbers) == list(range(1001, 1001 + count))
    async with db.session() as session:
        tickets = (await session.scalars(select(Ticket).order_by(Ticket.id))).all()
        events = (await session.scalars(select(TicketEvent).order_by(TicketEvent.id))).all()
        orphans = await session.scalar(
            select(func.count(TicketEvent.id)).where(
                TicketEvent.ticket_id.not_in([t.id for t in tickets])
            )
        )
    assert len(tickets) == count and orphans == 0
    by_ticket: dict[int, list[TicketEvent]] = {}
    for event in events:
        by_ticket.setdefault(event.ticket_id, []).append(event)
    for ticket in tickets:
        log = by_ticket[ticket.id]
        kinds = [e.kind for e in log]
        # Every ticket's log tells its own story, in order, exactly once.
        assert kinds == ["created", "routed", "sla", "assignee"], kinds
        assert log[0].to_value == str(ticket.number)
        assert log[1].to_value == ticket.department == "orders"
        assert log[3].to_value == ticket.assignee
        assert [e.id for e in log] == sorted(e.id for e in log)
    # Two L1 agents work orders: the race must not give anyone two turns in a row.
    turns = Counter(t.assignee for t in tickets)
    assert set(turns) == {"UA", "UB"}
    assert abs(turns["UA"] - turns["UB"]) <= count % 2


async def test_fifty_concurrent_openings_on_postgres(pg_db: Database) -> None:
    numbers = await _open_many(pg_db, 50)
    await _check(pg_db, numbers)


async def test_concurrent_openings_on_sqlite(sqlite_db: Database) -> None:
    numbers = await _open_many(sqlite_db, 20)
    await _check(sqlite_db, numbers)
