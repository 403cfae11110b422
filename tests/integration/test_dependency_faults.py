"""Dependency faults: an unreachable vector index hands off instead of answering, and a busy,
refusing or disconnecting database delays processing without losing or repeating a message."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import sqlite3
import uuid
from collections.abc import AsyncIterator, Sequence
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import event, func, select, update
from sqlalchemy.exc import InterfaceError
from sqlalchemy.ext.asyncio import AsyncSession

from bots.conversation import Conversation
from bots.db import Database
from bots.knowledge_glue import KnowledgeGlue
from bots.messages import ChatRef, InboundMessage, OutboundMessage
from bots.pipeline.models import InboxRow, OutboxRow
from bots.pipeline.store import enqueue, ingest
from bots.pipeline.workers import MAX_INBOX_ATTEMPTS, InboxWorker, OutboxWorker, Reply
from knowledge.embeddings import USEEmbedder
from knowledge.models import AnswerLog
from knowledge.service import KnowledgeService
from tests.fakes.channel import FakeChannel
from tests.fakes.db_proxy import DatabaseProxy
from tickets.config import default_config
from tickets.models import Message, Ticket
from tickets.service import Helpdesk


def _message(text: str) -> InboundMessage:
    return InboundMessage(
        chat=ChatRef("fake", "c1"),
        user_id="u1",
        platform_id=uuid.uuid4().hex,
        text=text,
        language_hint="en",
    )


async def test_an_unreachable_index_hands_off_and_logs_why(
    sqlite_db: Database, tmp_path: Path
) -> None:
    dead = KnowledgeService(
        sqlite_db.sessions, tmp_path, USEEmbedder(), chroma_url="http://127.0.0.1:9"
    )
    engine = Conversation(Helpdesk(default_config()), knowledge=KnowledgeGlue(dead))
    async with sqlite_db.session() as session:
        replies = await engine.handle(session, _message("how do I reset my password?"))
        await session.commit()
    assert len(replies) == 1 and "#1001" in replies[0][0].text
    async with sqlite_db.session() as session:
        logged = await session.scalar(select(AnswerLog))
    assert logged is not None
    assert logged.answered is False
    assert "unavailable" in logged.reason or "failed" in logged.reason


async def test_a_locked_database_delays_but_loses_nothing(tmp_path: Path) -> None:
    path = tmp_path / "busy.db"
    db = Database(f"sqlite+aiosqlite:///{path}")
    from bots.schema import upgrade

    await upgrade(db)
    message = _message("my parcel is late")
    await put(db, message)
    blocker = sqlite3.connect(path, timeout=1)
    blocker.execute("BEGIN EXCLUSIVE")  # another process holds the write lock
    worker = InboxWorker(db, {"fake": FakeChannel()}, Conversation(Helpdesk(default_config())))
    task = asyncio.create_task(worker.run_once())
    await asyncio.sleep(1.5)
    assert not task.done()  # waiting on the lock (busy timeout), not failing
    blocker.rollback()
    blocker.close()
    await asyncio.wait_for(task, 30)
    while await worker.run_once():
        pass
    async with db.session() as session:
        assert await session.scalar(select(func.count(Ticket.id))) == 1
        assert await session.scalar(select(func.count(Message.id))) == 2
        assert (
            await session.scalar(select(func.count(InboxRow.id)).where(InboxRow.state == "done"))
            == 1
        )
    await db.close()


# ---------------------------------------------------------------- a database that goes away

HELPDESK = Helpdesk(default_config())


@pytest.fixture
async def proxy(pg_db: Database) -> AsyncIterator[DatabaseProxy]:
    """A TCP proxy in front of the test's PostgreSQL database, to cut or refuse on cue."""
    url = pg_db.engine.url
    running = await DatabaseProxy.start(url.host or "127.0.0.1", url.port or 5432)
    yield running
    await running.close()


@pytest.fixture
async def through(pg_db: Database, proxy: DatabaseProxy) -> AsyncIterator[Database]:
    """The test's database, reached through `proxy` (what the workers use)."""
    db = Database(proxy.url(pg_db.url))
    yield db
    with contextlib.suppress(Exception):
        await db.close()


async def put(db: Database, message: InboundMessage) -> None:
    await ingest(
        db,
        channel="fake",
        platform_id=message.platform_id,
        chat_key=message.chat.key,
        payload=message.to_dict(),
    )


async def due_now(db: Database) -> None:
    """Make every waiting row due at once (instead of sleeping out backoffs and leases)."""
    async with db.session() as session:
        await session.execute(update(InboxRow).values(lease_until=None, lease_owner=None))
        await session.execute(update(OutboxRow).values(lease_until=None, lease_owner=None))
        await session.commit()


def tracebacks(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.exc_info and r.name.startswith("bots")]


class CutBeforeCommit(Conversation):
    """Does the work, then the database connection drops before the commit, `times` times."""

    def __init__(self, proxy: DatabaseProxy, times: int) -> None:
        super().__init__(HELPDESK)
        self.proxy = proxy
        self.left = times

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        replies = await super().handle(session, message)
        await session.flush()
        if self.left:
            self.left -= 1
            self.proxy.cut()
        return replies


async def test_connections_dropped_mid_transaction_do_not_use_up_the_events_attempts(
    pg_db: Database,
    through: Database,
    proxy: DatabaseProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A database that keeps dropping connections is not the message's fault: it used to be
    failed for good after five drops (never answered), with a traceback each time."""
    caplog.set_level(logging.INFO)
    await put(pg_db, _message("my parcel is late"))
    handler = CutBeforeCommit(proxy, times=MAX_INBOX_ATTEMPTS + 1)
    worker = InboxWorker(through, {"fake": FakeChannel()}, handler)
    for _ in range(MAX_INBOX_ATTEMPTS + 3):
        with contextlib.suppress(Exception):
            await worker.run_once()
        await due_now(pg_db)
    async with pg_db.session() as session:
        row = await session.scalar(select(InboxRow))
        assert row is not None and row.state == "done"
        assert await session.scalar(select(func.count(Ticket.id))) == 1
        assert (
            await session.scalar(select(func.count(Message.id)).where(Message.direction == "in"))
            == 1
        )
        assert await session.scalar(select(func.count(OutboxRow.id))) == 1
    assert handler.left == 0
    assert tracebacks(caplog) == []
    waits = [r.getMessage() for r in caplog.records if "database" in r.getMessage()]
    assert len(waits) >= MAX_INBOX_ATTEMPTS + 1


class RefusingAfterSend(FakeChannel):
    """Delivers, then the database refuses connections for `down` seconds."""

    def __init__(self, proxy: DatabaseProxy, down: float) -> None:
        super().__init__()
        self.proxy = proxy
        self.down = down
        self.back: asyncio.Task[None] | None = None

    async def send(self, message: OutboundMessage) -> str | None:
        platform_id = await super().send(message)
        if self.back is None:
            await self.proxy.refuse()

            async def later() -> None:
                await asyncio.sleep(self.down)
                await self.proxy.accept()

            self.back = asyncio.create_task(later())
        return platform_id


async def test_a_delivered_message_is_recorded_once_a_refusing_database_is_back(
    pg_db: Database,
    through: Database,
    proxy: DatabaseProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """The platform has the message: a refused connection when marking it sent (raised as
    ConnectionRefusedError, not as SQLAlchemy's OperationalError) used to leave the row
    claimed, and it was sent again when the lease ran out: a duplicate without a crash."""
    async with pg_db.session() as session:
        enqueue(session, OutboundMessage(chat=ChatRef("fake", "a"), text="hello"))
        await session.commit()
    channel = RefusingAfterSend(proxy, down=1.5)
    worker = OutboxWorker(through, {"fake": channel}, lease=timedelta(milliseconds=300))
    with contextlib.suppress(Exception):
        await worker.run_once()
    assert channel.back is not None
    await channel.back
    await asyncio.sleep(0.4)  # a lease left behind would have run out by now
    while await worker.run_once():
        pass
    assert [m.text for m in channel.sent] == ["hello"]
    async with pg_db.session() as session:
        row = await session.scalar(select(OutboxRow))
    assert row is not None and row.state == "sent"
    assert tracebacks(caplog) == []


async def test_workers_ride_out_a_database_outage_with_one_line_per_failure(
    pg_db: Database,
    through: Database,
    proxy: DatabaseProxy,
    caplog: pytest.LogCaptureFixture,
) -> None:
    channel = FakeChannel()
    inbox = InboxWorker(through, {"fake": channel}, Conversation(HELPDESK), poll=0.05)
    outbox = OutboxWorker(through, {"fake": channel}, poll=0.05)
    await proxy.refuse()
    stop = asyncio.Event()
    tasks = [asyncio.create_task(w.run(stop)) for w in (inbox, outbox)]
    try:
        await put(pg_db, _message("my parcel is late"))  # acknowledged meanwhile
        await asyncio.sleep(2.5)
        assert not any(t.done() for t in tasks)
        failures = [r for r in caplog.records if r.name == "bots.pipeline.workers"]
        assert failures, "the outage was not logged"
        await proxy.accept()
        for _ in range(300):
            if channel.sent:
                break
            await asyncio.sleep(0.05)
    finally:
        stop.set()
        await asyncio.gather(*tasks)
    assert len(channel.sent) == 1 and "#1001" in channel.sent[0].text
    assert tracebacks(caplog) == []


class CommitLostOnTheWay(Conversation):
    """The commit reaches the database, but the connection drops before the answer does."""

    def __init__(self) -> None:
        super().__init__(HELPDESK)
        self.armed = True

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        replies = await super().handle(session, message)
        if self.armed:
            self.armed = False

            def lost(_session: object) -> None:
                raise InterfaceError(
                    "COMMIT", None, ConnectionResetError("connection is closed"), True
                )

            event.listen(session.sync_session, "after_commit", lost, once=True)
        return replies


async def test_an_event_whose_commit_went_through_is_not_processed_again(db: Database) -> None:
    """The worker cannot tell whether a commit the connection dropped under went through:
    handing the row back must not undo one that did (the event would be handled twice)."""
    await put(db, _message("my parcel is late"))
    worker = InboxWorker(db, {"fake": FakeChannel()}, CommitLostOnTheWay())
    with contextlib.suppress(Exception):
        await worker.run_once()
    await due_now(db)
    while await worker.run_once():
        pass
    async with db.session() as session:
        row = await session.scalar(select(InboxRow))
        assert row is not None and row.state == "done"
        assert await session.scalar(select(func.count(Ticket.id))) == 1
        assert await session.scalar(select(func.count(OutboxRow.id))) == 1
