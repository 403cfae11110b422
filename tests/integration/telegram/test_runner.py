"""The worker runner as `serve` starts and stops it: heartbeats shared with other replicas."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

from sqlalchemy import func, select

from bots.db import Database
from bots.pipeline.models import WorkerRow
from tests.fakes.telegram_api import FakeTelegramApi
from tests.integration.telegram.conftest import running, telegram_settings
from tickets.models import utcnow


async def workers_known(db: Database) -> list[str]:
    async with db.session() as session:
        return list((await session.scalars(select(WorkerRow.owner))).all())


async def test_workers_beat_while_running_and_sign_off_when_stopped(
    tmp_path: Path, db: Database, api: FakeTelegramApi
) -> None:
    async with running(telegram_settings(tmp_path, db, api), api):
        owners = await workers_known(db)
        if db.is_postgres:
            # the inbox and outbox workers, for other replicas to see that they are alive
            assert len(owners) == 2 and len(set(owners)) == 2
            async with db.session() as session:
                newest = await session.scalar(select(func.max(WorkerRow.heartbeat_at)))
            assert newest is not None and utcnow() - newest < timedelta(seconds=10)
        else:
            assert owners == []  # one process owns a SQLite database: nobody to tell
    assert await workers_known(db) == []
