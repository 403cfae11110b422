"""The durable pipeline on real SQLite and PostgreSQL: dedupe, crash recovery, order, retries."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
import uuid
from collections.abc import Sequence
from datetime import timedelta
from typing import Any

from sqlalchemy import delete, event, func, select
from sqlalchemy.exc import OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bots.conversation import Conversation
from bots.db import Database
from bots.errors import RetryLater
from bots.messages import ChatRef, InboundMessage, OutboundMessage
from bots.pipeline.channel import PermanentSendError, TransientSendError
from bots.pipeline.models import InboxRow, OutboxRow, WorkerRow
from bots.pipeline.store import STALE, claim_outbox, enqueue, heartbeat, ingest, retire
from bots.pipeline.workers import MAX_INBOX_ATTEMPTS, InboxWorker, OutboxWorker
from tests.fakes.channel import FakeChannel
from tickets.config import default_config
from tickets.models import Message, Ticket, utcnow
from tickets.service import Helpdesk

HELPDESK = Helpdesk(default_config())


def inbound(text: str, chat: str = "c1", platform_id: str | None = None) -> InboundMessage:
    return InboundMessage(
        chat=ChatRef(channel="fake", chat_id=chat),
        user_id=f"u-{chat}",
        user_name="Ada",
        platform_id=platform_id or uuid.uuid4().hex,
        text=text,
        language_hint="en",
    )


async def put(db: Database, message: InboundMessage) -> bool:
    return await ingest(
        db,
        channel="fake",
        platform_id=message.platform_id,
        chat_key=message.chat.key,
        payload=message.to_dict(),
    )


async def count(db: Database, column: object, *where: object) -> int:
    async with db.session() as session:
        return int(await session.scalar(select(func.count(column)).where(*where)) or 0)


async def drain(worker: InboxWorker) -> None:
    while await worker.run_once():
        pass


async def test_same_platform_id_twice_is_one_ticket(db: Database) -> None:
    channel = FakeChannel()
    message = inbound("where is my order?", platform_id="evt-1")
    assert await put(db, message) is True
    assert await put(db, message) is False
    worker = InboxWorker(db, {"fake": channel}, Conversation(HELPDESK))
    await drain(worker)
    assert await put(db, message) is False  # a redelivery after processing is a no-op too
    await drain(worker)
    assert await count(db, Ticket.id) == 1
    assert await count(db, Message.id, Message.direction == "in") == 1
    assert await count(db, OutboxRow.id) == 1


class CrashingConversation(Conversation):
    """Does the work, then dies before the transaction commits (a kill mid-processing)."""

    def __init__(self) -> None:
        super().__init__(HELPDESK)
        self.entered = asyncio.Event()

    async def handle(
        self, session: AsyncSession, message: InboundMessage
    ) -> Sequence[tuple[OutboundMessage, int | None]]:
        await super().handle(session, message)
        await session.flush()
        self.entered.set()
        await asyncio.sleep(3600)  # killed here
        raise AssertionError("unreachable")


async def test_worker_killed_between_commit_and_processing_processes_once(db: Database) -> None:
    channel = FakeChannel()
    await put(db, inbound("my parcel never arrived"))
    crashing = CrashingConversation()
    doomed = InboxWorker(db, {"fake": channel}, crashing, lease=timedelta(milliseconds=200))
    task = asyncio.create_task(doomed.run_once())
    await asyncio.wait_for(crashing.entered.wait(), 10)
    task.cancel()  # the process dies: the open transaction is rolled back
    await asyncio.gather(task, return_exceptions=True)
    assert await count(db, Ticket.id) == 0
    assert await count(db, InboxRow.id, InboxRow.state == "pending") == 1

    await asyncio.sleep(0.3)  # the dead worker's lease runs out
    restarted = InboxWorker(db, {"fake": channel}, Conversation(HELPDESK))
    await drain(restarted)
    assert await count(db, Ticket.id) == 1
    assert await count(db, Message.id, Message.direction == "in") == 1
    assert await count(db, InboxRow.id, InboxRow.state == "done") == 1
    await drain(restarted)
    assert await count(db, Message.id, Message.direction == "in") == 1


async def test_outbox_keeps_order_per_chat_through_retries(db: Database) -> None:
    channel = FakeChannel()
    async with db.session() as session:
        for i in range(3):
            for chat in ("a", "b"):
                enqueue(session, OutboundMessage(chat=ChatRef("fake", chat), text=f"{chat}{i}"))
        await session.commit()
    # The first send to chat a hits a rate limit with a short retry_after.
    channel.failures.append(
        lambda m: TransientSendError("429", retry_after=0.2) if m.text == "a0" else None
    )
    worker = OutboxWorker(db, {"fake": channel})
    for _ in range(200):
        await worker.run_once()
        if len(channel.sent) == 6:
            break
        await asyncio.sleep(0.05)
    per_chat = {c: [m.text for m in channel.sent if m.chat.chat_id == c] for c in ("a", "b")}
    assert per_chat == {"a": ["a0", "a1", "a2"], "b": ["b0", "b1", "b2"]}
    assert await count(db, OutboxRow.id, OutboxRow.state == "sent") == 6


async def test_permanent_failure_is_recorded_not_retried(db: Database) -> None:
    channel = FakeChannel()
    async with db.session() as session:
        enqueue(session, OutboundMessage(chat=ChatRef("fake", "x"), text="hello"))
        await session.commit()
    channel.failures.append(lambda m: PermanentSendError("Forbidden: bot was blocked by the user"))
    worker = OutboxWorker(db, {"fake": channel})
    await worker.run_once()
    await worker.run_once()
    async with db.session() as session:
        row = await session.scalar(select(OutboxRow))
    assert row is not None
    assert row.state == "failed"
    assert row.attempts == 1
    assert row.error is not None and "blocked" in row.error
    assert channel.sent == []


async def test_inbox_processes_each_chat_in_order(db: Database) -> None:
    channel = FakeChannel()
    for i in range(5):
        for chat in ("p", "q"):
            await put(db, inbound(f"{chat} message {i}", chat=chat))
    worker = InboxWorker(db, {"fake": channel}, Conversation(HELPDESK), concurrency=4)
    await drain(worker)
    async with db.session() as session:
        texts = (
            await session.scalars(
                select(Message.text).where(Message.direction == "in").order_by(Message.id)
            )
        ).all()
    for chat in ("p", "q"):
        mine = [t for t in texts if t.startswith(chat)]
        assert mine == [f"{chat} message {i}" for i in range(5)]


async def test_ignored_kinds_are_marked_done_without_a_ticket(db: Database) -> None:
    await ingest(db, channel="fake", platform_id="u1", chat_key="fake:z", payload={"ignore": True})
    worker = InboxWorker(db, {"fake": FakeChannel()}, Conversation(HELPDESK))
    await drain(worker)
    assert await count(db, InboxRow.id, InboxRow.state == "done") == 1
    assert await count(db, Ticket.id) == 0


async def test_a_poison_event_is_kept_as_failed_and_does_not_block_the_chat(
    sqlite_db: Database,
) -> None:
    await ingest(
        sqlite_db, channel="fake", platform_id="bad", chat_key="fake:c1", payload={"nope": 1}
    )
    await put(sqlite_db, inbound("hello after a bad event", chat="c1"))
    worker = InboxWorker(sqlite_db, {"fake": FakeChannel()}, Conversation(HELPDESK))
    for _ in range(6):  # each failure backs off; make every retry due at once
        await worker.run_once()
        async with sqlite_db.session() as session:
            for row in (await session.scalars(select(InboxRow))).all():
                row.lease_until = None
            await session.commit()
    await drain(worker)
    assert await count(sqlite_db, InboxRow.id, InboxRow.state == "failed") == 1
    assert await count(sqlite_db, Message.id, Message.direction == "in") == 1
    async with sqlite_db.session() as session:
        bad = await session.scalar(select(InboxRow).where(InboxRow.platform_id == "bad"))
    assert bad is not None
    assert bad.attempts == 1  # unreadable: failed at once, not retried
    assert bad.error == "unreadable fake payload (KeyError)"


async def test_a_delivered_message_is_recorded_when_the_database_is_busy_not_sent_again(
    db: Database,
) -> None:
    """The platform has the message: a busy database when marking it sent must not leave the
    row pending, or it is sent again when its lease runs out (a duplicate with no crash)."""
    channel = FakeChannel()
    async with db.session() as session:
        enqueue(session, OutboundMessage(chat=ChatRef("fake", "a"), text="hello"))
        await session.commit()
    busy = {"left": 2}

    def locked(
        conn: object, cursor: object, statement: str, parameters: object, *args: object
    ) -> None:
        marking = statement.lstrip().upper().startswith("UPDATE OUTBOX") and "sent" in str(
            parameters
        )
        if marking and busy["left"]:
            busy["left"] -= 1
            raise OperationalError(
                statement, parameters, sqlite3.OperationalError("database is locked")
            )

    event.listen(db.engine.sync_engine, "before_cursor_execute", locked)
    worker = OutboxWorker(db, {"fake": channel}, lease=timedelta(milliseconds=200))
    try:
        with contextlib.suppress(OperationalError):
            await worker.run_once()
    finally:
        event.remove(db.engine.sync_engine, "before_cursor_execute", locked)
    await asyncio.sleep(0.3)  # a lease left behind would have run out
    while await worker.run_once():
        pass
    assert [m.text for m in channel.sent] == ["hello"]
    assert await count(db, OutboxRow.id, OutboxRow.state == "sent") == 1


async def claimed_by_a_doomed_worker(db: Database) -> InboxWorker:
    """An event claimed by a worker that then dies mid-processing, with a lease that would
    keep it for ten minutes."""
    await put(db, inbound("my parcel never arrived"))
    crashing = CrashingConversation()
    doomed = InboxWorker(db, {"fake": FakeChannel()}, crashing, lease=timedelta(minutes=10))
    async with db.session() as session:
        await heartbeat(session, [doomed.owner])
    task = asyncio.create_task(doomed.run_once())
    await asyncio.wait_for(crashing.entered.wait(), 10)
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
    return doomed


async def last_heartbeat(db: Database, owner: str, seconds_ago: float) -> None:
    async with db.session() as session:
        row = await session.get(WorkerRow, owner)
        assert row is not None
        row.heartbeat_at = utcnow() - timedelta(seconds=seconds_ago)
        await session.commit()


async def test_a_dead_workers_leases_are_taken_over_once_its_heartbeat_stops(
    db: Database,
) -> None:
    doomed = await claimed_by_a_doomed_worker(db)
    other = InboxWorker(db, {"fake": FakeChannel()}, Conversation(HELPDESK))
    # alive (it showed so a moment ago): its lease is respected
    await last_heartbeat(db, doomed.owner, 2)
    assert await other.run_once() == 0
    # silent for longer than STALE: taken for dead, its event processed now
    await last_heartbeat(db, doomed.owner, STALE.total_seconds() + 1)
    assert await other.run_once() == 1
    assert await count(db, Ticket.id) == 1
    assert await count(db, InboxRow.id, InboxRow.state == "done") == 1


async def test_a_lease_of_a_worker_without_heartbeats_waits_until_it_runs_out(
    db: Database,
) -> None:
    doomed = await claimed_by_a_doomed_worker(db)
    async with db.session() as session:
        await retire(session, [])  # nothing to retire: nothing changes
        await session.execute(delete(WorkerRow).where(WorkerRow.owner == doomed.owner))
        await session.commit()
    other = InboxWorker(db, {"fake": FakeChannel()}, Conversation(HELPDESK))
    assert await other.run_once() == 0  # an owner we know nothing of may still be working


async def test_retired_workers_leave_their_claims_free_at_once(db: Database) -> None:
    channel = FakeChannel()
    async with db.session() as session:
        for text in ("one", "two"):
            enqueue(session, OutboundMessage(chat=ChatRef("fake", text), text=text), ticket_id=None)
        await session.commit()
    stopping = OutboxWorker(db, {"fake": channel}, lease=timedelta(minutes=10))
    async with db.session() as session:
        await heartbeat(session, [stopping.owner])
        rows = await claim_outbox(
            session,
            owner=stopping.owner,
            lease=stopping.lease,
            limit=10,
            postgres=db.is_postgres,
            channels=["fake"],
        )
    assert len(rows) == 2
    other = OutboxWorker(db, {"fake": channel})
    assert await other.run_once() == 0  # claimed, by a worker that is alive
    async with db.session() as session:
        await retire(session, [stopping.owner])
    assert await other.run_once() == 2  # released when it stopped, not ten minutes later
    assert sorted(m.text for m in channel.sent) == ["one", "two"]
    assert await count(db, WorkerRow.owner) == 0


class NotReadyChannel(FakeChannel):
    """Cannot read its events until `ready` (as the Telegram channel before getMe answers)."""

    ready = False

    def parse(self, payload: dict[str, Any]) -> InboundMessage | None:
        if not self.ready:
            raise RetryLater("group message before the bot identity is known")
        return super().parse(payload)


async def test_an_event_that_cannot_be_read_yet_waits_without_using_up_its_attempts(
    db: Database,
) -> None:
    await put(db, inbound("hello, bot", chat="group"))
    channel = NotReadyChannel()
    worker = InboxWorker(db, {"fake": channel}, Conversation(HELPDESK))
    for _ in range(MAX_INBOX_ATTEMPTS + 3):  # make every retry due at once
        assert await worker.run_once() == 0
        async with db.session() as session:
            row = await session.scalar(select(InboxRow))
            assert row is not None
            assert (row.state, row.attempts) == ("pending", 0)
            assert row.lease_until is not None and row.lease_until > utcnow()
            assert row.error == "group message before the bot identity is known"
            row.lease_until = None
            await session.commit()
    channel.ready = True
    await drain(worker)
    # kept and answered once the bot knows itself: it used to be failed for good after five
    # tries, and never answered
    assert await count(db, InboxRow.id, InboxRow.state == "done") == 1
    assert await count(db, Message.id, Message.direction == "in") == 1
