"""The SLA runner of `relaydesk serve`: breaches become notices in the outbox, and count in
/metrics, once."""

from __future__ import annotations

import asyncio
import json
from typing import ClassVar

import pytest
from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import select
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from bots.db import Database
from bots.metrics import REGISTRY
from bots.pipeline.models import OutboxRow
from bots.pipeline.workers import Wakeup
from bots.sla_runner import SlaRunner
from tickets.models import Agent, Ticket
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


def _sla_counts() -> tuple[float, float]:
    """relaydesk_sla_warnings and relaydesk_sla_breaches as /metrics serves them."""
    found = {"relaydesk_sla_warnings_total": 0.0, "relaydesk_sla_breaches_total": 0.0}
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for sample in family.samples:
            if sample.name in found:
                found[sample.name] = sample.value
    return found["relaydesk_sla_warnings_total"], found["relaydesk_sla_breaches_total"]


async def test_a_warning_and_a_breach_are_counted_once_each(db: Database) -> None:
    desk = Helpdesk(make_config())
    await open_one(db, desk, "card blocked", MONDAY_8)
    moments = iter([local(2026, 3, 2, 8, 40), local(2026, 3, 2, 9, 1), local(2026, 3, 2, 9, 30)])
    runner = SlaRunner(db, desk, notices_to="slack", clock=lambda: next(moments))
    warnings, breaches = _sla_counts()
    assert [e.kind for e in await runner.run_once()] == ["warning"]
    assert _sla_counts() == (warnings + 1, breaches)
    assert [e.kind for e in await runner.run_once()] == ["breach"]
    assert _sla_counts() == (warnings + 1, breaches + 1)
    assert await runner.run_once() == []  # past both: nothing fires again, nothing counted
    assert _sla_counts() == (warnings + 1, breaches + 1)


async def test_replicas_ticking_together_count_each_firing_once(db: Database) -> None:
    await open_one(db, Helpdesk(make_config()), "card blocked", MONDAY_8)
    at_warning = [
        SlaRunner(db, Helpdesk(make_config()), clock=lambda: local(2026, 3, 2, 8, 40))
        for _ in range(3)
    ]
    at_breach = [
        SlaRunner(db, Helpdesk(make_config()), clock=lambda: local(2026, 3, 2, 9, 1))
        for _ in range(3)
    ]
    warnings, breaches = _sla_counts()
    fired = await asyncio.gather(*(r.run_once() for r in at_warning))
    assert sorted(e.kind for events in fired for e in events) == ["warning"]
    fired = await asyncio.gather(*(r.run_once() for r in at_breach))
    assert sorted(e.kind for events in fired for e in events) == ["breach"]
    assert _sla_counts() == (warnings + 1, breaches + 1)


class RefusingSession(AsyncSession):
    """A session whose commit fails, as when the database goes away mid-tick; it notes
    whether the transaction it refused held a breach."""

    refused_breaches: ClassVar[list[bool]] = []

    async def commit(self) -> None:
        breached = await self.scalar(select(Ticket.sla_breached))
        RefusingSession.refused_breaches.append(bool(breached))
        raise SQLAlchemyError("commit refused")


async def test_a_tick_that_does_not_commit_counts_nothing(db: Database) -> None:
    desk = Helpdesk(make_config())
    await open_one(db, desk, "card blocked", MONDAY_8)
    refusing = Database(db.url)
    refusing.sessions = async_sessionmaker(refusing.engine, class_=RefusingSession)
    RefusingSession.refused_breaches = []
    before = _sla_counts()
    try:
        with pytest.raises(SQLAlchemyError):
            await SlaRunner(refusing, desk, clock=lambda: local(2026, 3, 2, 10)).run_once()
    finally:
        await refusing.close()
    assert RefusingSession.refused_breaches == [True]  # the breach fired, then rolled back
    assert _sla_counts() == before
    runner = SlaRunner(db, desk, clock=lambda: local(2026, 3, 2, 10))
    assert [e.kind for e in await runner.run_once()] == ["breach"]  # fired again, and counted
    assert _sla_counts() == (before[0], before[1] + 1)
