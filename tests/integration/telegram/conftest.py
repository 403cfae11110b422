"""Telegram integration fixtures: the fake Bot API and a running relaydesk wired to it."""

from __future__ import annotations

import asyncio
import itertools
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select

from bots.app import Runner, Services, build
from bots.commands.system import configure_channels
from bots.db import Database
from bots.pipeline.models import InboxRow, OutboxRow
from bots.server import create_app
from bots.settings import Settings
from tests.conftest import FIXTURES
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi

NUTGRAM = FIXTURES / "telegram" / "nutgram"
SECRET = "s3cret-Token_for-tests"
WEBHOOK = "/telegram/webhook"

pytestmark = pytest.mark.skipif(
    not NUTGRAM.exists(), reason="shared fixtures not found at telegram/nutgram (../shared missing)"
)

_update_ids = itertools.count(700_000_000)


def user(chat_id: int, language: str = "en", name: str = "Ada") -> dict[str, Any]:
    return {"id": chat_id, "is_bot": False, "first_name": name, "language_code": language}


def private_chat(chat_id: int, name: str = "Ada") -> dict[str, Any]:
    return {"id": chat_id, "first_name": name, "type": "private"}


def message_update(
    chat_id: int,
    text: str | None = None,
    *,
    language: str = "en",
    update_id: int | None = None,
    message_id: int | None = None,
    **content: Any,
) -> dict[str, Any]:
    """A private-chat `message` Update shaped like the real ones in the fixtures."""
    message: dict[str, Any] = {
        "message_id": message_id or next(_update_ids) % 1_000_000,
        "from": user(chat_id, language),
        "chat": private_chat(chat_id),
        "date": int(time.time()),
        **content,
    }
    if text is not None:
        message["text"] = text
        if text.startswith("/"):
            length = len(text.split()[0])
            message["entities"] = [{"offset": 0, "length": length, "type": "bot_command"}]
    return {"update_id": update_id or next(_update_ids), "message": message}


def callback_update(chat_id: int, data: str, message: dict[str, Any]) -> dict[str, Any]:
    """A button press on `message` (a Message the bot sent), shaped like the fixtures'."""
    return {
        "update_id": next(_update_ids),
        "callback_query": {
            "id": f"cq{next(_update_ids)}",
            "from": user(chat_id),
            "message": message,
            "chat_instance": "1628661761791766620",
            "data": data,
        },
    }


@dataclass
class Relaydesk:
    """relaydesk serving Telegram against the fake: HTTP in-process, workers running."""

    services: Services
    http: httpx.AsyncClient
    api: FakeTelegramApi

    @property
    def db(self) -> Database:
        return self.services.db

    async def post(self, update: Any, *, secret: str | None = SECRET, raw: bytes | None = None):
        headers = {"Content-Type": "application/json"}
        if secret is not None:
            headers["X-Telegram-Bot-Api-Secret-Token"] = secret
        if raw is not None:
            return await self.http.post(WEBHOOK, content=raw, headers=headers)
        return await self.http.post(WEBHOOK, json=update, headers=headers)

    async def count(self, column: Any, *where: Any) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count(column)).where(*where)) or 0)

    async def inbox(self) -> int:
        return await self.count(InboxRow.id)

    async def settle(self, within: float = 15.0) -> None:
        """Wait until nothing waits in the inbox or the outbox (sent or failed for good)."""
        deadline = time.monotonic() + within
        while time.monotonic() < deadline:
            pending = await self.count(InboxRow.id, InboxRow.state == "pending")
            pending += await self.count(OutboxRow.id, OutboxRow.state == "pending")
            if not pending:
                return
            await asyncio.sleep(0.05)
        raise AssertionError("inbox/outbox still busy")


@pytest.fixture
def api() -> Iterator[FakeTelegramApi]:
    fake = FakeTelegramApi().start()
    yield fake
    fake.stop()


def telegram_settings(tmp_path: Path, db: Database, api: FakeTelegramApi, **extra: Any) -> Settings:
    values: dict[str, Any] = {
        "RELAYDESK_DATA_DIR": tmp_path / "data",
        "RELAYDESK_DATABASE_URL": db.url,
        "TELEGRAM_BOT_TOKEN": TOKEN,
        "RELAYDESK_TELEGRAM_API_URL": api.url,
        "RELAYDESK_TELEGRAM_WEBHOOK_URL": "https://desk.example.com/telegram/webhook",
        "RELAYDESK_TELEGRAM_WEBHOOK_SECRET": SECRET,
        "RELAYDESK_WORKER_POLL": 0.05,
        **extra,
    }
    return Settings(**values)


@asynccontextmanager
async def running(
    settings: Settings, api: FakeTelegramApi, *, knowledge: bool = False
) -> AsyncIterator[Relaydesk]:
    """Build relaydesk as `serve` does (configure_channels), start workers and lifecycles.

    The knowledge base (and its embedding model, seconds to load) is left out unless a test
    needs answers from it; without it every question is handed off to people.
    """
    services = build(settings, knowledge=knowledge)
    assert "telegram" in configure_channels(services)
    app = create_app(services, run_workers=False)
    runner = Runner(services)
    await runner.start()
    transport = httpx.ASGITransport(app=app)
    http = httpx.AsyncClient(transport=transport, base_url="http://relaydesk.test")
    try:
        yield Relaydesk(services, http, api)
    finally:
        await http.aclose()
        await runner.stop()
        await services.close()


@pytest.fixture
async def desk(tmp_path: Path, db: Database, api: FakeTelegramApi) -> AsyncIterator[Relaydesk]:
    """relaydesk in webhook mode on SQLite and PostgreSQL, registered with the fake."""
    async with running(telegram_settings(tmp_path, db, api), api) as relaydesk:
        await api.wait_for("setWebhook")
        yield relaydesk
