"""Slack integration fixtures: the fake Web API, and relaydesk serving Slack against it.

Requests are really signed (`tests/fakes/slack_signing.py`) and go through the real Starlette
app, slack-bolt and slack_sdk; the workers run as in `relaydesk serve`.
"""

from __future__ import annotations

import asyncio
import json
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
from bots.desk import Desk
from bots.pipeline.channel import Pacing
from bots.pipeline.models import InboxRow, OutboxRow
from bots.server import create_app
from bots.settings import Settings
from bots.slack.channel import SlackChannel
from tests.conftest import FIXTURES
from tests.fakes.openai_server import FakeOpenAI, Reply
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import (
    command_body,
    event_body,
    interactivity_body,
    signed_headers,
)
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramApi
from tests.integration.telegram.conftest import message_update
from tickets.models import Ticket

SLACK = FIXTURES / "slack"
SECRET = "8f742231b10e8888abcd99yyyzzz85a5"
TOKEN = "xoxb-1234-5678-relaydesk-test"
TRIAGE = "CPAYMENTS"
ADMIN_CHANNEL = "CADMINS"
AGENT = "UAGENT1"
GROUP_AGENT = "UAGENT2"
STRANGER = "USTRANGER"
ADMIN = "UADMIN"
AGENTS_GROUP = "SPAYMENTS"
TELEGRAM_SECRET = "tg-secret"

pytestmark = pytest.mark.skipif(
    not (SLACK / "web_api_examples").exists(),
    reason="shared fixtures not found at slack/web_api_examples (../shared missing)",
)


@dataclass
class SlackDesk:
    """relaydesk with Slack (and Telegram) against the fakes; HTTP in-process, workers running."""

    services: Services
    http: httpx.AsyncClient
    api: FakeSlackApi
    telegram: FakeTelegramApi

    @property
    def db(self) -> Database:
        return self.services.db

    @property
    def channel(self) -> SlackChannel:
        channel = self.services.channels["slack"]
        assert isinstance(channel, SlackChannel)
        return channel

    async def post(
        self,
        body: str,
        *,
        headers: dict[str, str] | None = None,
        retry: int | None = None,
        timestamp: int | None = None,
        secret: str = SECRET,
    ) -> httpx.Response:
        sent = dict(
            headers if headers is not None else signed_headers(secret, body, timestamp=timestamp)
        )
        if retry is not None:
            sent["X-Slack-Retry-Num"] = str(retry)
            sent["X-Slack-Retry-Reason"] = "http_timeout"
        return await self.http.post("/slack/events", content=body.encode(), headers=sent)

    async def event(self, payload: dict[str, Any], **kwargs: Any) -> httpx.Response:
        return await self.post(event_body(payload), **kwargs)

    async def interact(self, payload: dict[str, Any]) -> httpx.Response:
        return await self.post(interactivity_body(payload))

    async def command(self, fields: dict[str, str]) -> httpx.Response:
        return await self.post(command_body(**fields))

    async def count(self, column: Any, *where: Any) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count(column)).where(*where)) or 0)

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

    async def customer_writes(
        self, chat_id: int, text: str, *, language: str = "en"
    ) -> dict[str, Any]:
        """A Telegram customer's message, through the Telegram webhook as in production."""
        update = message_update(chat_id, text, language=language)
        response = await self.http.post(
            "/telegram/webhook",
            json=update,
            headers={"X-Telegram-Bot-Api-Secret-Token": TELEGRAM_SECRET},
        )
        assert response.status_code == 200
        return update

    async def hand_off(self, chat_id: int, text: str = "My parcel is late, I need a person") -> int:
        """A Telegram customer asks for a person; returns the ticket number once its card,
        mirrored messages and draft are in Slack."""
        await self.customer_writes(chat_id, text)
        await self.settle()
        async with self.db.session() as session:
            number = await session.scalar(
                select(Ticket.number)
                .where(Ticket.chat_id == str(chat_id))
                .order_by(Ticket.id.desc())
                .limit(1)
            )
        assert number is not None, "no ticket was opened"
        return int(number)

    def card_ts(self, number: int) -> str:
        """The ts Slack gave the ticket's card (the root of its thread)."""
        for params, answer in self.api.answered("chat.postMessage"):
            is_card = f"#{number} " in str(params.get("blocks"))
            if params.get("channel") == TRIAGE and is_card and not params.get("thread_ts"):
                return str(answer["ts"])
        raise AssertionError(f"no card posted for ticket #{number}")

    def thread(self, number: int) -> list[dict[str, Any]]:
        """Every post in the ticket's thread, in order."""
        ts = self.card_ts(number)
        return [c for c in self.api.calls_to("chat.postMessage") if c.get("thread_ts") == ts]

    def draft_post(self, number: int) -> tuple[dict[str, Any], str]:
        """The latest draft posted in the ticket's thread, and its ts."""
        ts = self.card_ts(number)
        for params, answer in reversed(self.api.answered("chat.postMessage")):
            if params.get("thread_ts") == ts and "desk:send" in json.dumps(params.get("blocks")):
                return params, str(answer["ts"])
        raise AssertionError(f"no draft in the thread of #{number}")


@pytest.fixture
def slack_api() -> Iterator[FakeSlackApi]:
    fake = FakeSlackApi().start()
    fake.usergroups[AGENTS_GROUP] = [GROUP_AGENT]
    yield fake
    fake.stop()


@pytest.fixture
def telegram_api() -> Iterator[FakeTelegramApi]:
    fake = FakeTelegramApi().start()
    yield fake
    fake.stop()


HELPDESK = f"""
default_department: payments
departments:
  - name: payments
    slack_channel: {TRIAGE}
    slack_user_group: {AGENTS_GROUP}
    agents: [{AGENT}]
    tier_channels: {{L2: CPAYL2}}
  - name: orders
    slack_channel: CORDERS
    agents: [UORDERS]
"""


def slack_settings(
    tmp_path: Path, db: Database, api: FakeSlackApi, telegram: FakeTelegramApi, **extra: Any
) -> Settings:
    config = tmp_path / "helpdesk.yaml"
    config.write_text(HELPDESK, encoding="utf-8")
    values: dict[str, Any] = {
        "RELAYDESK_CONFIG": config,
        "RELAYDESK_DATA_DIR": tmp_path / "data",
        "RELAYDESK_DATABASE_URL": db.url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "RELAYDESK_SLACK_API_URL": api.url,
        "RELAYDESK_SLACK_ADMIN_CHANNEL": ADMIN_CHANNEL,
        "RELAYDESK_SLACK_ADMINS": ADMIN,
        "TELEGRAM_BOT_TOKEN": TELEGRAM_TOKEN,
        "RELAYDESK_TELEGRAM_API_URL": telegram.url,
        "RELAYDESK_TELEGRAM_WEBHOOK_URL": "https://desk.example.com/telegram/webhook",
        "RELAYDESK_TELEGRAM_WEBHOOK_SECRET": TELEGRAM_SECRET,
        "RELAYDESK_WORKER_POLL": 0.05,
        **extra,
    }
    return Settings(**values)


@asynccontextmanager
async def running_with_model(
    tmp_path: Path,
    db: Database,
    api: FakeSlackApi,
    telegram: FakeTelegramApi,
    model: FakeOpenAI,
    answer: Reply,
) -> AsyncIterator[SlackDesk]:
    """`running`, with drafts and translations from the fake model server answering `answer`."""
    model.default = answer
    settings = slack_settings(
        tmp_path, db, api, telegram, OPENAI_BASE_URL=model.base_url, OPENAI_API_KEY="test-key"
    )
    async with running(settings, api, telegram) as relaydesk:
        yield relaydesk


@asynccontextmanager
async def running(
    settings: Settings, api: FakeSlackApi, telegram: FakeTelegramApi, *, paced: bool = False
) -> AsyncIterator[SlackDesk]:
    """Build relaydesk as `serve` does (configure_channels), then start workers and lifecycles."""
    services = build(settings)
    assert "slack" in configure_channels(services)
    assert isinstance(services.desk, Desk)
    if not paced:
        services.channels["slack"].pacing = Pacing()  # type: ignore[misc]
    app = create_app(services, run_workers=False)
    runner = Runner(services)
    await runner.start()
    http = httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://relaydesk.test"
    )
    try:
        yield SlackDesk(services, http, api, telegram)
    finally:
        await http.aclose()
        await runner.stop()
        await services.close()


@pytest.fixture
async def slack(
    tmp_path: Path, db: Database, slack_api: FakeSlackApi, telegram_api: FakeTelegramApi
) -> AsyncIterator[SlackDesk]:
    """relaydesk serving Slack over HTTP (and Telegram by webhook), on SQLite and PostgreSQL."""
    async with running(
        slack_settings(tmp_path, db, slack_api, telegram_api), slack_api, telegram_api
    ) as relaydesk:
        yield relaydesk
