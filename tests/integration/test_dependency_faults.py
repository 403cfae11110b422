"""Dependency faults: an unreachable vector index hands off instead of answering, and a busy
database delays processing without losing a message."""

from __future__ import annotations

import asyncio
import sqlite3
import uuid
from pathlib import Path

from sqlalchemy import func, select

from bots.conversation import Conversation
from bots.db import Database
from bots.knowledge_glue import KnowledgeGlue
from bots.messages import ChatRef, InboundMessage
from bots.pipeline.models import InboxRow
from bots.pipeline.store import ingest
from bots.pipeline.workers import InboxWorker
from knowledge.embeddings import USEEmbedder
from knowledge.models import AnswerLog
from knowledge.service import KnowledgeService
from tests.fakes.channel import FakeChannel
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
    await ingest(
        db,
        channel="fake",
        platform_id=message.platform_id,
        chat_key=message.chat.key,
        payload=message.to_dict(),
    )
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
