"""Retention purges raw payloads of finished rows only, never of waiting ones."""

from __future__ import annotations

from datetime import timedelta

from sqlalchemy import select

from bots.db import Database
from bots.messages import ChatRef, OutboundMessage
from bots.pipeline.models import InboxRow, OutboxRow
from bots.pipeline.retention import PURGED, purge_payloads
from bots.pipeline.store import enqueue, ingest
from tickets.models import utcnow


async def test_purge_keeps_pending_rows_and_blanks_old_finished_ones(db: Database) -> None:
    for pid in ("old-done", "old-pending", "new-done"):
        await ingest(db, channel="fake", platform_id=pid, chat_key="fake:1", payload={"t": pid})
    async with db.session() as session:
        enqueue(session, OutboundMessage(chat=ChatRef("fake", "1"), text="sent long ago"))
        await session.commit()
        rows = {r.platform_id: r for r in (await session.scalars(select(InboxRow))).all()}
        rows["old-done"].state = "done"
        rows["new-done"].state = "done"
        rows["old-done"].received_at = utcnow() - timedelta(days=40)
        rows["old-pending"].received_at = utcnow() - timedelta(days=40)
        out = await session.scalar(select(OutboxRow))
        assert out is not None
        out.state = "sent"
        out.created_at = utcnow() - timedelta(days=40)
        await session.commit()

    assert await purge_payloads(db, older_than=timedelta(days=30)) == 2
    assert await purge_payloads(db, older_than=timedelta(days=30)) == 0

    async with db.session() as session:
        payloads = {
            r.platform_id: r.payload for r in (await session.scalars(select(InboxRow))).all()
        }
        outbox_payload = await session.scalar(select(OutboxRow.payload))
    assert payloads["old-done"] == PURGED
    assert payloads["old-pending"] == '{"t": "old-pending"}'
    assert payloads["new-done"] == '{"t": "new-done"}'
    assert outbox_payload == PURGED
