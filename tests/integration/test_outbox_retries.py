"""Outbox retries on real SQLite and PostgreSQL: an outage of hours loses nothing, a message is
given up only when it has waited longer than the retry window, and a delay is announced once."""

from __future__ import annotations

import asyncio
from datetime import timedelta

import pytest
from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.db import Database
from bots.messages import ChatRef, OutboundMessage
from bots.pipeline.channel import PermanentSendError, SendError, TransientSendError
from bots.pipeline.models import OutboxRow
from bots.pipeline.store import enqueue
from bots.pipeline.workers import (
    DELAYED_AFTER,
    SEND_RETRY_WINDOW,
    UNEXPECTED_ATTEMPTS,
    OutboxWorker,
)
from tests.fakes.channel import FakeChannel
from tickets.models import utcnow

OUTAGE = "502 Bad Gateway"


class ScriptedChannel(FakeChannel):
    """Fails the sends to each chat with the errors scripted for it, in order, then delivers."""

    def __init__(self) -> None:
        super().__init__()
        self.script: dict[str, list[Exception]] = {}
        self.tries: dict[str, int] = {}

    async def send(self, message: OutboundMessage) -> str | None:
        chat = message.chat.chat_id
        self.tries[chat] = self.tries.get(chat, 0) + 1
        errors = self.script.get(chat)
        if errors:
            raise errors.pop(0)
        return await super().send(message)


class Hooks:
    """What the outbox told its failure and delay hooks: (row id, reason[, window])."""

    def __init__(self) -> None:
        self.failed: list[tuple[int, str]] = []
        self.delayed: list[tuple[int, str, timedelta]] = []

    async def on_failed(
        self, _session: AsyncSession, row: OutboxRow, _message: OutboundMessage, reason: str
    ) -> None:
        self.failed.append((row.id, reason))

    async def on_delayed(
        self,
        _session: AsyncSession,
        row: OutboxRow,
        _message: OutboundMessage,
        reason: str,
        window: timedelta,
    ) -> None:
        self.delayed.append((row.id, reason, window))

    def worker(self, db: Database, channel: FakeChannel, **options: object) -> OutboxWorker:
        return OutboxWorker(
            db,
            {"fake": channel},
            on_failed=[self.on_failed],
            on_delayed=[self.on_delayed],
            **options,  # type: ignore[arg-type]
        )


async def queue(db: Database, chat: str, *, age: timedelta = timedelta(0)) -> int:
    """Queue a message to `chat` as if it had been queued `age` ago; its row id."""
    async with db.session() as session:
        row = enqueue(session, OutboundMessage(chat=ChatRef("fake", chat), text=f"to {chat}"))
        await session.flush()
        row.created_at = utcnow() - age
        await session.commit()
        return row.id


async def outbox_row(db: Database, row_id: int) -> OutboxRow:
    async with db.session() as session:
        row = await session.get(OutboxRow, row_id)
        assert row is not None
        return row


async def due_now(db: Database) -> None:
    """Make every waiting retry due at once (instead of waiting out its backoff)."""
    async with db.session() as session:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.state == "pending")
            .values(next_attempt_at=utcnow() - timedelta(seconds=1))
        )
        await session.commit()


async def test_an_outage_is_retried_far_past_eight_attempts_while_inside_the_window(
    db: Database,
) -> None:
    channel = ScriptedChannel()
    channel.script["a"] = [TransientSendError(OUTAGE) for _ in range(12)]
    row_id = await queue(db, "a", age=timedelta(hours=23))  # an outage of most of a day
    hooks = Hooks()
    worker = hooks.worker(db, channel)
    for _ in range(12):
        assert await worker.run_once() == 0
        await due_now(db)
    waiting = await outbox_row(db, row_id)
    assert (waiting.state, waiting.attempts, waiting.error) == ("pending", 12, OUTAGE)
    assert hooks.failed == []
    assert await worker.run_once() == 1  # the platform is back: delivered
    sent = await outbox_row(db, row_id)
    assert (sent.state, sent.attempts, sent.error) == ("sent", 13, None)
    assert [m.text for m in channel.sent] == ["to a"]
    assert hooks.failed == []


async def test_a_message_older_than_the_window_is_given_up_naming_how_long_it_was_tried(
    db: Database,
) -> None:
    channel = ScriptedChannel()
    for chat in ("old", "young"):
        channel.script[chat] = [TransientSendError(OUTAGE)]
    old = await queue(db, "old", age=timedelta(hours=2, minutes=1))
    young = await queue(db, "young", age=timedelta(hours=1, minutes=59))
    hooks = Hooks()
    worker = hooks.worker(db, channel, retry_window=timedelta(hours=2))
    assert await worker.run_once() == 0
    reason = f"retried for 2 h; last error: {OUTAGE}"
    given_up = await outbox_row(db, old)
    assert (given_up.state, given_up.attempts, given_up.error) == ("failed", 1, reason)
    assert hooks.failed == [(old, reason)]
    still = await outbox_row(db, young)
    assert (still.state, still.error) == ("pending", OUTAGE)
    await due_now(db)
    assert await worker.run_once() == 1  # the young one goes out; the old one stays failed
    assert [m.text for m in channel.sent] == ["to young"]
    assert (await outbox_row(db, old)).state == "failed"


async def test_a_refusal_still_fails_at_once_inside_the_window(db: Database) -> None:
    channel = ScriptedChannel()
    channel.script["a"] = [PermanentSendError("403 Forbidden: bot was blocked by the user")]
    row_id = await queue(db, "a")
    hooks = Hooks()
    await hooks.worker(db, channel).run_once()
    refused = await outbox_row(db, row_id)
    assert (refused.state, refused.attempts) == ("failed", 1)
    assert hooks.failed == [(row_id, "403 Forbidden: bot was blocked by the user")]
    assert hooks.delayed == []


async def test_a_delay_is_announced_once_at_the_third_failure_whatever_restarts(
    db: Database,
) -> None:
    channel = ScriptedChannel()
    channel.script["a"] = [TransientSendError(f"{OUTAGE} #{n}") for n in range(1, 7)]
    # refused at its third try: a refusal is announced as such, never as a delay
    channel.script["b"] = [TransientSendError(OUTAGE), TransientSendError(OUTAGE)]
    channel.script["b"].append(PermanentSendError("400 Bad Request: chat not found"))
    delayed = await queue(db, "a")
    refused = await queue(db, "b")
    hooks = Hooks()
    announced = []
    for _ in range(6):
        # a new worker every round (a restart, or another replica): nothing in memory counts
        assert await hooks.worker(db, channel).run_once() == 0
        announced.append(len(hooks.delayed))
        await due_now(db)
    assert DELAYED_AFTER == 3
    assert announced == [0, 0, 1, 1, 1, 1]
    assert hooks.delayed == [(delayed, f"{OUTAGE} #3", SEND_RETRY_WINDOW)]
    assert hooks.failed == [(refused, "400 Bad Request: chat not found")]
    assert await hooks.worker(db, channel).run_once() == 1
    assert (await outbox_row(db, delayed)).state == "sent"
    assert len(hooks.delayed) == 1


async def test_a_fault_of_our_own_is_given_up_after_a_few_tries_not_a_day(db: Database) -> None:
    """A message that makes the channel raise (a bug, not an outage) must not hold up its
    chat's later messages for the whole retry window."""
    channel = ScriptedChannel()
    channel.script["a"] = [KeyError("ticket") for _ in range(UNEXPECTED_ATTEMPTS)]
    broken = await queue(db, "a")
    later = await queue(db, "a")
    hooks = Hooks()
    worker = hooks.worker(db, channel)
    for _ in range(UNEXPECTED_ATTEMPTS):
        assert await worker.run_once() == 0
        await due_now(db)
    given_up = await outbox_row(db, broken)
    assert (given_up.state, given_up.attempts, given_up.error) == (
        "failed",
        UNEXPECTED_ATTEMPTS,
        "KeyError",
    )
    assert hooks.failed == [(broken, "KeyError")]
    assert hooks.delayed == []  # "still trying for a day" would not be true
    assert await worker.run_once() == 1
    assert (await outbox_row(db, later)).state == "sent"


class HeldChannel(FakeChannel):
    """Holds every send until `release` is set, then fails it with `error` (or delivers it)."""

    def __init__(self, error: SendError | None) -> None:
        super().__init__()
        self.error = error
        self.sending = asyncio.Event()
        self.release = asyncio.Event()

    async def send(self, message: OutboundMessage) -> str | None:
        self.sending.set()
        await self.release.wait()
        if self.error is None:
            return await super().send(message)
        raise self.error


@pytest.mark.parametrize(
    "error",
    [PermanentSendError("400 Bad Request: chat not found"), TransientSendError(OUTAGE)],
    ids=["refusal", "third-failure"],
)
async def test_a_worker_that_lost_its_row_records_and_announces_nothing(
    db: Database, error: SendError
) -> None:
    row_id = await queue(db, "a")
    async with db.session() as session:  # two failures already: this would be the third
        await session.execute(update(OutboxRow).values(attempts=DELAYED_AFTER - 1))
        await session.commit()
    channel = HeldChannel(error)
    hooks = Hooks()
    slow = hooks.worker(db, channel)
    task = asyncio.create_task(slow.run_once())
    await asyncio.wait_for(channel.sending.wait(), 10)
    async with db.session() as session:  # its lease ran out and another worker took the row
        await session.execute(
            update(OutboxRow).values(
                lease_owner="other-replica", lease_until=utcnow() + timedelta(minutes=2)
            )
        )
        await session.commit()
    channel.release.set()
    assert await asyncio.wait_for(task, 10) == 0
    row = await outbox_row(db, row_id)
    assert (row.state, row.attempts, row.lease_owner) == (
        "pending",
        DELAYED_AFTER - 1,
        "other-replica",
    )
    assert hooks.failed == [] and hooks.delayed == []


async def test_a_send_whose_row_was_taken_over_and_sent_records_nothing_more(
    db: Database,
) -> None:
    row_id = await queue(db, "a")
    channel = HeldChannel(None)
    sent: list[int] = []

    async def on_sent(
        _session: AsyncSession, row: OutboxRow, _message: OutboundMessage, _id: str | None
    ) -> None:
        sent.append(row.id)

    slow = OutboxWorker(db, {"fake": channel}, on_sent=[on_sent])
    task = asyncio.create_task(slow.run_once())
    await asyncio.wait_for(channel.sending.wait(), 10)
    async with db.session() as session:  # meanwhile another replica took it and sent it
        await session.execute(
            update(OutboxRow).values(
                state="sent",
                sent_at=utcnow(),
                platform_message_id="theirs",
                lease_owner=None,
                lease_until=None,
            )
        )
        await session.commit()
    channel.release.set()
    assert await asyncio.wait_for(task, 10) == 0
    row = await outbox_row(db, row_id)
    assert (row.state, row.platform_message_id) == ("sent", "theirs")
    assert sent == []  # its sent hooks (a ✅, a card's ts) ran once, on the other replica
