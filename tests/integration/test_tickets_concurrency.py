"""Ticket numbers stay unique when many tickets open at once."""

from __future__ import annotations

import asyncio

from bots.db import Database
from tickets import service


async def _open_one(db: Database, i: int) -> int:
    async with db.session() as session:
        customer = await service.find_or_create_customer(
            session, channel="fake", external_id=f"user-{i}", chat_id=f"chat-{i}"
        )
        ticket = await service.open_ticket(
            session, customer=customer, channel="fake", chat_id=f"chat-{i}", text=f"help {i}"
        )
        number = ticket.number
        await session.commit()
        return number


async def test_fifty_concurrent_openings_get_distinct_numbers(pg_db: Database) -> None:
    numbers = await asyncio.gather(*(_open_one(pg_db, i) for i in range(50)))
    assert len(set(numbers)) == 50
    assert sorted(numbers) == list(range(1001, 1051))


async def test_concurrent_openings_on_sqlite(sqlite_db: Database) -> None:
    numbers = await asyncio.gather(*(_open_one(sqlite_db, i) for i in range(20)))
    assert sorted(numbers) == list(range(1001, 1021))
