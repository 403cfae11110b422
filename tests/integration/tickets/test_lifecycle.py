"""Ticket lifecycle on SQLite and PostgreSQL: routing at opening, replies and SLA clocks,
pending, resolve, CSAT, the reopen window, escalation and round-robin, all in the event log."""

from __future__ import annotations

from datetime import timedelta

import pytest
from sqlalchemy import select, update

from bots.db import Database
from tickets.errors import TicketInputError, TicketStateError
from tickets.models import CsatRating, TicketEvent
from tickets.service import Helpdesk, get_ticket

from .helpers import customer, event_log, local, make_config, open_one, reload

MONDAY_8 = local(2026, 3, 2, 8)


async def test_opening_routes_and_starts_clocks(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "My card was blocked at the shop", MONDAY_8)
    ticket = await reload(db, number)
    assert (ticket.number, ticket.status, ticket.department) == (1001, "new", "payments")
    assert ticket.sla_policy == "payments"
    assert ticket.first_response_due == local(2026, 3, 2, 9)
    assert ticket.resolution_due == local(2026, 3, 3, 16)
    log = await event_log(db, number)
    assert log[0] == ("created", None, "1001")
    assert log[1] == ("routed", None, "payments")
    assert log[2] == ("sla", None, "payments")
    parcels = await open_one(db, desk, "Where is my parcel?", MONDAY_8, user="u2")
    routed = await reload(db, parcels)
    assert (routed.department, routed.tags, routed.sla_policy) == (
        "orders",
        ["delivery"],
        "standard",
    )


async def test_bot_message_does_not_stop_the_first_response_clock(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "card question", MONDAY_8)
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        await desk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="bot",
            text="Thanks, ticket #1001",
            channel="console",
            now=local(2026, 3, 2, 8, 1),
        )
        await desk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="agent",
            author_id="UK",
            text="internal: checking the card system",
            internal=True,
            channel="console",
            now=local(2026, 3, 2, 8, 2),
        )
        await session.commit()
    ticket = await reload(db, number)
    assert ticket.first_response_at is None
    assert ticket.status == "new"
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        await desk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="agent",
            author_id="UK",
            text="Hello, I unblocked it.",
            channel="console",
            now=local(2026, 3, 2, 8, 30),
        )
        await session.commit()
    ticket = await reload(db, number)
    assert ticket.first_response_at == local(2026, 3, 2, 8, 30)
    assert ticket.status == "open"
    assert ("first_response", None, ticket.first_response_at.isoformat()) in await event_log(
        db, number
    )


async def test_pending_pauses_and_customer_reply_resumes(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "card question", MONDAY_8)  # resolution due Tue 16:00
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        await desk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="agent",
            author_id="UK",
            text="Which card?",
            channel="console",
            now=local(2026, 3, 2, 9),
        )
        await desk.set_pending(session, ticket, actor="agent:UK", now=local(2026, 3, 2, 11))
        await session.commit()
    paused = await reload(db, number)
    assert paused.status == "pending" and paused.resolution_due is None
    # The customer answers on Wednesday 10:00 with 13h left -> Thursday 15:00.
    await open_one(db, desk, "The blue one", local(2026, 3, 4, 10))
    resumed = await reload(db, number)
    assert resumed.status == "open"
    assert resumed.resolution_due == local(2026, 3, 5, 15)
    # They were waiting for an answer: next response due in 2 business hours.
    assert resumed.next_response_due == local(2026, 3, 4, 12)
    statuses = [e for e in await event_log(db, number) if e[0] == "status"]
    assert statuses == [
        ("status", "new", "open"),
        ("status", "open", "pending"),
        ("status", "pending", "open"),
    ]


async def test_resolve_csat_and_reopen_window(db: Database) -> None:
    desk = Helpdesk(make_config())  # reopen window 3 days
    number = await open_one(db, desk, "Where is my parcel?", MONDAY_8)
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        with pytest.raises(TicketStateError, match="not resolved yet"):
            await desk.record_csat(session, number, 5)
        ask = await desk.resolve(session, ticket, actor="agent:UA", now=local(2026, 3, 2, 12))
        assert ask is True
        rating = await desk.record_csat(session, number, 4, now=local(2026, 3, 2, 13))
        await desk.add_csat_comment(session, number, "quick, thanks")
        with pytest.raises(TicketInputError, match="from 1 to 5"):
            await desk.record_csat(session, number, 6)
        await session.commit()
    async with db.session() as session:
        stored = await session.scalar(select(CsatRating).where(CsatRating.id == rating.id))
        assert stored is not None and (stored.score, stored.comment) == (4, "quick, thanks")
    # Within the window (2 days later): the same ticket reopens.
    again = await open_one(db, desk, "It came broken", local(2026, 3, 4, 12))
    assert again == number
    ticket = await reload(db, number)
    assert (ticket.status, ticket.reopen_count, ticket.resolved_at) == ("open", 1, None)
    assert ticket.reopened_at == local(2026, 3, 4, 12)
    # Resolved again, and the customer writes after the window: a new linked ticket.
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        # Already rated: no second CSAT question.
        assert (
            await desk.resolve(session, ticket, actor="agent:UA", now=local(2026, 3, 4, 13))
            is False
        )
        await session.commit()
    later = await open_one(db, desk, "Another question", local(2026, 3, 9, 9))
    assert later != number
    follow_up = await reload(db, later)
    assert follow_up.follow_up_of == number
    assert ("follow_up", None, str(later)) in await event_log(db, number)
    kinds = [kind for kind, _, _ in await event_log(db, number)]
    assert kinds.count("csat") == 1 and "csat_comment" in kinds and "reopened" in kinds


async def test_the_tick_closes_resolved_tickets_after_the_window(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "Where is my parcel?", MONDAY_8)
    async with db.session() as session:
        await desk.resolve(
            session, await get_ticket(session, number), actor="agent:UA", now=local(2026, 3, 2, 12)
        )
        await desk.tick(session, local(2026, 3, 5, 11))
        await session.commit()
    assert (await reload(db, number)).status == "resolved"
    async with db.session() as session:
        await desk.tick(session, local(2026, 3, 5, 12, 1))
        await session.commit()
    closed = await reload(db, number)
    assert closed.status == "closed" and closed.closed_at == local(2026, 3, 5, 12, 1)
    async with db.session() as session:
        with pytest.raises(TicketStateError, match="a closed one is final"):
            await desk.reopen(session, await get_ticket(session, number), actor="cli")


async def test_escalation_by_hand_writes_reasons(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "Where is my parcel?", MONDAY_8)
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        with pytest.raises(TicketInputError, match="needs a reason"):
            await desk.escalate(session, ticket, reason=" ", actor="agent:UA")
        changes = await desk.escalate(
            session,
            ticket,
            reason="needs warehouse access",
            actor="agent:UA",
            now=local(2026, 3, 2, 9),
        )
        assert changes == ["tier L1 -> L2"]
        assert ticket.assignee == "UC"  # the only L2 agent of orders
        await desk.escalate(
            session,
            ticket,
            department="payments",
            reason="it is a refund",
            actor="agent:UC",
            now=local(2026, 3, 2, 10),
        )
        assert ticket.assignee == "UM"  # payments' L2 agent
        await desk.escalate(session, ticket, reason="bank API bug", actor="agent:UM")
        with pytest.raises(TicketStateError, match="already at the top tier"):
            await desk.escalate(session, ticket, reason="more", actor="agent:UM")
        with pytest.raises(TicketInputError, match="escalation goes L1 -> L2 -> L3"):
            await desk.escalate(session, ticket, tier="L1", reason="back", actor="agent:UM")
        await session.commit()
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        rows = (
            await session.scalars(
                select(TicketEvent)
                .where(
                    TicketEvent.ticket_id == ticket.id, TicketEvent.kind.in_(["tier", "department"])
                )
                .order_by(TicketEvent.id)
            )
        ).all()
    assert [(e.kind, e.from_value, e.to_value, e.reason, e.actor) for e in rows] == [
        ("tier", "L1", "L2", "needs warehouse access", "agent:UA"),
        ("department", "orders", "payments", "it is a refund", "agent:UC"),
        ("tier", "L2", "L3", "bank API bug", "agent:UM"),
    ]


async def test_round_robin_takes_turns_and_skips_away_agents(db: Database) -> None:
    desk = Helpdesk(make_config(assignment="round_robin"))
    assignees = []
    for i in range(4):
        number = await open_one(db, desk, f"parcel {i}", MONDAY_8, user=f"rr{i}")
        assignees.append((await reload(db, number)).assignee)
    assert assignees == ["UA", "UB", "UA", "UB"]  # L1 agents of orders; UC is L2
    async with db.session() as session:
        await desk.set_available(session, "Bartek", False)
        await session.commit()
    number = await open_one(db, desk, "parcel again", MONDAY_8, user="rr9")
    assert (await reload(db, number)).assignee == "UA"
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        with pytest.raises(TicketInputError, match="unknown agent 'Zenon'"):
            await desk.assign(session, ticket, "Zenon", actor="cli")
        assert await desk.assign(session, ticket, "celina", actor="cli") == "UC"
        await session.commit()
    log = await event_log(db, number)
    assert [e for e in log if e[0] == "assignee"] == [
        ("assignee", None, "UA"),
        ("assignee", "UA", "UC"),
    ]


async def test_status_rules(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "hi", MONDAY_8)
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        with pytest.raises(TicketStateError, match="only a resolved ticket"):
            await desk.reopen(session, ticket, actor="cli")
        await desk.set_pending(session, ticket, actor="cli", now=MONDAY_8)
        with pytest.raises(TicketStateError, match="already pending"):
            await desk.set_pending(session, ticket, actor="cli")
        await desk.resolve(session, ticket, actor="cli", now=MONDAY_8 + timedelta(hours=1))
        with pytest.raises(TicketStateError, match="resolved and cannot become pending"):
            await desk.set_pending(session, ticket, actor="cli")


async def test_events_are_append_only(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "hi", MONDAY_8)
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        event = ticket.events[0]
        event.reason = "rewritten"
        with pytest.raises(ValueError, match="append-only"):
            await session.flush()


async def test_message_edits_keep_the_earlier_text(db: Database) -> None:
    desk = Helpdesk(make_config())
    async with db.session() as session:
        who = await customer(session)
        received = await desk.receive(
            session,
            customer=who,
            channel="console",
            chat_id="c",
            text="my parcl",
            platform_id="m1",
            attachments=[{"kind": "photo", "file_id": "F1"}],
            now=MONDAY_8,
        )
        assert received.outcome == "created"
        edited = await desk.edit_message(
            session,
            channel="console",
            platform_id="m1",
            text="my parcel",
            now=MONDAY_8 + timedelta(minutes=1),
        )
        await session.commit()
    assert edited is not None
    ticket = await reload(db, received.ticket.number)
    message = ticket.messages[0]
    assert (message.text, message.attachments) == (
        "my parcel",
        [{"kind": "photo", "file_id": "F1"}],
    )
    assert message.edits == [{"text": "my parcl", "until": "2026-03-02T07:01:00+00:00"}]


async def test_the_first_version_functions_still_work(db: Database) -> None:
    from tickets import service

    async with db.session() as session:
        who = await customer(session)
        ticket = await service.open_ticket(
            session, customer=who, channel="console", chat_id="c", text="hello"
        )
        await service.add_message(
            session,
            ticket,
            direction="in",
            author_kind="customer",
            text="hello",
            channel="console",
        )
        await session.commit()
        assert ticket.department == "general" and ticket.sla_policy == "default"
        assert [t.number for t in await service.list_tickets(session, department="general")] == [
            ticket.number
        ]
        await session.execute(update(TicketEvent.__table__).values(reason="x").where(False))
