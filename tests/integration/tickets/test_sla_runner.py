"""The SLA runner of `relaydesk serve`: breaches become notices in the outbox, once."""

from __future__ import annotations

import asyncio
import json

from sqlalchemy import select

from bots.db import Database
from bots.pipeline.models import OutboxRow
from bots.pipeline.workers import Wakeup
from bots.sla_runner import SlaRunner
from tickets.models import Agent
from tickets.service import Helpdesk

from .helpers import local, make_config, open_one

MONDAY_8 = local(2026, 3, 2, 8)


async def _outbox(db: Database) -> list[OutboxRow]:
    async with db.session() as session:
        return list((await session.scalars(select(OutboxRow).order_by(OutboxRow.id))).all())


async def test_breach_notice_goes_to_the_tier_channel_once(db: Database) -> None:
    desk = Helpdesk(make_config())
    number = await open_one(db, desk, "card blocked", MONDAY_8)
    moments = iter([local(2026, 3, 2, 8, 40), local(2026, 3, 2, 9, 1), local(2026, 3, 2, 9, 2)])
    wakeup = Wakeup()
    runner = SlaRunner(
        db, desk, notices_to="slack", outbox_wakeup=wakeup, clock=lambda: next(moments)
    )
    assert [e.kind for e in await runner.run_once()] == ["warning"]
    assert [e.kind for e in await runner.run_once()] == ["breach"]
    assert await runner.run_once() == []
    rows = await _outbox(db)
    assert [(r.channel, r.chat_key) for r in rows] == [
        ("slack", "slack:CPAY"),
        ("slack", "slack:CPAYL2"),
    ]
    notice = json.loads(rows[1].payload)
    assert notice["kind"] == "notice" and notice["ticket_number"] == number
    assert notice["text"].startswith(f"SLA breached: ticket #{number} first response")
    assert notice["meta"]["sla"]["actions"] == ["priority normal -> high", "tier L1 -> L2"]
    assert rows[1].ticket_id is not None
    await asyncio.wait_for(wakeup.wait(5), 1)  # set: returns at once


async def test_without_slack_breaches_are_recorded_but_not_queued(db: Database) -> None:
    desk = Helpdesk(make_config())
    await open_one(db, desk, "card blocked", MONDAY_8)
    runner = SlaRunner(db, desk, notices_to=None, clock=lambda: local(2026, 3, 2, 10))
    fired = await runner.run_once()
    assert [(e.kind, e.notify) for e in fired] == [("breach", True)]
    assert await _outbox(db) == []


async def test_start_syncs_agents_and_stop_ends_the_loop(db: Database) -> None:
    desk = Helpdesk(make_config())
    runner = SlaRunner(db, desk, interval=0.05, notices_to=None)
    await runner.start()
    await asyncio.sleep(0.15)
    await runner.stop()
    async with db.session() as session:
        agents = (await session.scalars(select(Agent).order_by(Agent.slack_user_id))).all()
    assert [(a.slack_user_id, a.tier) for a in agents] == [
        ("UA", "L1"),
        ("UB", "L1"),
        ("UC", "L2"),
        ("UK", "L1"),
        ("UM", "L2"),
    ]
    assert {a.slack_user_id: a.departments for a in agents}["UK"] == ["payments"]
