"""Retention: raw platform payloads are kept only as long as the settings allow."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from datetime import datetime, timedelta

from sqlalchemy import update

from bots.db import Database
from bots.pipeline.models import InboxRow, OutboxRow
from tickets.models import utcnow

log = logging.getLogger(__name__)

PURGED = '{"purged": true}'


async def purge_payloads(
    db: Database, *, older_than: timedelta, now: datetime | None = None
) -> int:
    """Blank the raw payloads of finished inbox and outbox rows older than `older_than`.

    Rows still waiting (pending) are never touched: their payload is the customer's message.
    Returns how many rows were purged.
    """
    cutoff = (now or utcnow()) - older_than
    async with db.session() as session:
        inbox = await session.execute(
            update(InboxRow)
            .where(
                InboxRow.state.in_(("done", "failed")),
                InboxRow.received_at < cutoff,
                InboxRow.payload != PURGED,
            )
            .values(payload=PURGED)
        )
        outbox = await session.execute(
            update(OutboxRow)
            .where(
                OutboxRow.state.in_(("sent", "failed")),
                OutboxRow.created_at < cutoff,
                OutboxRow.payload != PURGED,
            )
            .values(payload=PURGED)
        )
        await session.commit()
    purged = int(getattr(inbox, "rowcount", 0) or 0) + int(getattr(outbox, "rowcount", 0) or 0)
    if purged:
        log.info("retention: purged %s raw payloads older than %s", purged, older_than)
    return purged


class RetentionJob:
    """Purges payloads once an hour inside `relaydesk serve` (a `Lifecycle`)."""

    def __init__(self, db: Database, days: int, *, every_s: float = 3600.0) -> None:
        self.db = db
        self.older_than = timedelta(days=days)
        self.every_s = every_s
        self._task: asyncio.Task[None] | None = None

    async def _loop(self) -> None:
        while True:
            try:
                await purge_payloads(self.db, older_than=self.older_than)
            except Exception:  # retried at the next run
                log.exception("retention: purge failed")
            await asyncio.sleep(self.every_s)

    async def start(self) -> None:
        self._task = asyncio.create_task(self._loop(), name="retention")

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
