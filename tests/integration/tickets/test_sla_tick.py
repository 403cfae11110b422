"""The SLA tick: warnings and breaches fire once each, breach actions apply, several tickers
running at the same time (replicas) never fire anything twice."""

from __future__ import annotations

import asyncio
from collections import Counter
from datetime import datetime

from bots.db import Database
from tickets import sla
from tickets.service import Helpdesk, get_ticket

from .helpers import event_log, local, make_config, open_one, reload

MONDAY_8 = local(2026, 3, 2, 8)


async def test_warning_then_breach_with_actions(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "card blocked", MONDAY_8)  # payments: 1h, warn at 50%
    async with db.session() as session:
        assert await desk.tick(session, local(2026, 3, 2, 8, 29)) == []
        warned = await desk.tick(session, local(2026, 3, 2, 8, 31))
        await session.commit()
    assert [(e.kind, e.clock, e.ticket_number, e.notify) for e in warned] == [
        ("warning", "first_response", number, True)
    ]
    assert warned[0].channel == "CPAY"
    async with db.session() as session:
        assert await desk.tick(session, local(2026, 3, 2, 8, 45)) == []
        breached = await desk.tick(session, local(2026, 3, 2, 9, 0, 1))
        await session.commit()
    assert len(breached) == 1
    event = breached[0]
    assert (event.kind, event.clock, event.notify) == ("breach", "first_response", True)
    assert event.actions == ("priority normal -> high", "tier L1 -> L2")
    assert (event.tier, event.priority, event.assignee, event.channel) == (
        "L2",
        "high",
        "UM",
        "CPAYL2",
    )
    assert "ticket #1001 first response" in event.describe()
    ticket = await reload(db, number)
    assert (ticket.first_response_breached, ticket.sla_breached, ticket.tier) == (True, True, "L2")
    log = await event_log(db, number)
    assert [e for e in log if e[0].startswith("sla_")] == [
        ("sla_warning", "first_response", "2026-03-02T08:00:00+00:00"),
        ("sla_breach", "first_response", "2026-03-02T08:00:00+00:00"),
    ]
    async with db.session() as session:
        assert await desk.tick(session, local(2026, 3, 2, 10)) == []


async def test_a_late_tick_fires_the_breach_without_a_stale_warning(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "card blocked", MONDAY_8)
    async with db.session() as session:
        fired = await desk.tick(session, local(2026, 3, 2, 11))
        await session.commit()
    assert [(e.kind, e.clock) for e in fired] == [("breach", "first_response")]
    assert (await reload(db, number)).first_response_warned is True


async def test_answered_pending_and_resolved_tickets_do_not_fire(db: Database) -> None:
    desk = Helpdesk(make_config())
    answered = await open_one(db, desk, "card one", MONDAY_8, user="a")
    pending = await open_one(db, desk, "card two", MONDAY_8, user="b")
    async with db.session() as session:
        ticket = await get_ticket(session, answered)
        await desk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="agent",
            author_id="UK",
            text="Hi!",
            channel="console",
            now=local(2026, 3, 2, 8, 10),
        )
        await desk.set_pending(
            session,
            await get_ticket(session, pending),
            actor="agent:UK",
            now=local(2026, 3, 2, 8, 10),
        )
        await session.commit()
    async with db.session() as session:
        # Hours later: only the answered ticket's resolution warning (50% of 16h = Mon 16:00).
        fired = await desk.tick(session, local(2026, 3, 2, 15))
        assert fired == []
        fired = await desk.tick(session, local(2026, 3, 2, 16, 1))
        await session.commit()
    assert [(e.ticket_number, e.kind, e.clock) for e in fired] == [
        (answered, "warning", "resolution")
    ]


async def _tick_until_quiet(db: Database, desk: Helpdesk, now: datetime) -> list[sla.SlaEvent]:
    fired: list[sla.SlaEvent] = []
    while True:
        async with db.session() as session:
            batch = await sla.tick(session, desk.config, now, limit=3)
            await session.commit()
        fired.extend(batch)
        if not batch:
            return fired
        await asyncio.sleep(0)


async def test_two_concurrent_tickers_fire_each_warning_and_breach_once(db: Database) -> None:
    desk = Helpdesk(make_config())
    numbers = [await open_one(db, desk, f"card {i}", MONDAY_8, user=f"t{i}") for i in range(12)]
    for moment, kind in (
        (local(2026, 3, 2, 8, 40), "warning"),
        (local(2026, 3, 2, 9, 5), "breach"),
    ):
        first, second = await asyncio.gather(
            _tick_until_quiet(db, desk, moment), _tick_until_quiet(db, desk, moment)
        )
        fired = first + second
        assert sorted(e.ticket_number for e in fired) == numbers
        assert {(e.kind, e.clock) for e in fired} == {(kind, "first_response")}
    for number in numbers:
        kinds = Counter(kind for kind, _, _ in await event_log(db, number))
        assert (kinds["sla_warning"], kinds["sla_breach"], kinds["tier"]) == (1, 1, 1)
        ticket = await reload(db, number)
        assert (ticket.tier, ticket.priority) == ("L2", "high")


async def test_next_response_clock_warns_and_breaches(db: Database) -> None:
    desk = Helpdesk(make_config())  # standard: next response 4h, warn at 80% (3h12m)
    number = await open_one(db, desk, "a question", MONDAY_8)
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        await desk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="agent",
            author_id="UA",
            text="Hi",
            channel="console",
            now=local(2026, 3, 2, 9),
        )
        await session.commit()
    await open_one(db, desk, "thanks, one more thing", local(2026, 3, 2, 14))
    # 2h on Monday + 2h on Tuesday: due Tuesday 10:00; warning Tuesday 09:12.
    assert (await reload(db, number)).next_response_due == local(2026, 3, 3, 10)
    async with db.session() as session:
        assert await desk.tick(session, local(2026, 3, 3, 9, 11)) == []
        warned = await desk.tick(session, local(2026, 3, 3, 9, 13))
        breached = await desk.tick(session, local(2026, 3, 3, 10, 1))
        await session.commit()
    assert [(e.kind, e.clock) for e in warned] == [("warning", "next_response")]
    assert [(e.kind, e.clock, e.channel) for e in breached] == [
        ("breach", "next_response", "CGENERAL")
    ]
    # The agent answers: the clock stops; the customer's next message starts a fresh one.
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        await desk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="agent",
            author_id="UA",
            text="Done",
            channel="console",
            now=local(2026, 3, 3, 11),
        )
        await session.commit()
    assert (await reload(db, number)).next_response_due is None
    await open_one(db, desk, "great", local(2026, 3, 3, 12))
    fresh = await reload(db, number)
    assert fresh.next_response_due == local(2026, 3, 3, 16)  # 12:00 + 4h
    assert (fresh.next_response_warned, fresh.next_response_breached) == (False, False)
    assert fresh.sla_breached is True
