"""Slack integration fixtures: the fake Web API, and relaydesk serving Slack against it.

Requests are really signed (`tests/fakes/slack_signing.py`) and go through the real Starlette
app, slack-bolt and slack_sdk; the workers run as in `relaydesk serve`.
"""

from __future__ import annotations

import asyncio
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
from bots.desk import Department, Desk
from bots.messages import ChatRef, OutboundMessage
from bots.pipeline.channel import Pacing
from bots.pipeline.models import InboxRow, OutboxRow
from bots.pipeline.store import enqueue
from bots.server import create_app
from bots.settings import Settings
from bots.slack.channel import SlackChannel
from bots.views import ticket_view
from tests.conftest import FIXTURES
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.slack_signing import (
    command_body,
    event_body,
    interactivity_body,
    signed_headers,
)
from tests.fakes.telegram_api import TOKEN as TELEGRAM_TOKEN
from tests.fakes.telegram_api import FakeTelegramApi
from tickets import service as tickets
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

    async def open_ticket(
        self,
        *,
        channel: str = "telegram",
        chat_id: str = "424242",
        text: str = "My parcel is late",
        department: str = "payments",
        language: str = "en",
    ) -> int:
        """A ticket of a Telegram customer, as the conversation engine opens it."""
        async with self.db.session() as session:
            customer = await tickets.find_or_create_customer(
                session, channel=channel, external_id=chat_id, chat_id=chat_id, name="Ada"
            )
            ticket = await tickets.open_ticket(
                session,
                customer=customer,
                channel=channel,
                chat_id=chat_id,
                text=text,
                language=language,
            )
            ticket.department = department
            await tickets.add_message(
                session,
                ticket,
                direction="in",
                author_kind="customer",
                text=text,
                channel=channel,
            )
            await session.commit()
            return ticket.number

    async def hand_off(self, number: int, *, draft: str | None = "Hello Ada, we are on it.") -> str:
        """Queue the card, the mirror and a draft the way a hand-off does; returns the card ts."""
        async with self.db.session() as session:
            ticket = await tickets.get_ticket(session, number)
            await self._queue_card(session, ticket)
            mirror = OutboundMessage(
                chat=ChatRef("slack", TRIAGE),
                text=ticket.subject,
                kind="ticket_mirror",
                ticket_number=number,
                meta={
                    "ticket_number": number,
                    "author": "customer",
                    "text": ticket.subject,
                    "translation": None,
                    "attachments": [],
                },
            )
            enqueue(session, mirror, ticket_id=ticket.id)
            if draft is not None:
                enqueue(
                    session,
                    OutboundMessage(
                        chat=ChatRef("slack", TRIAGE),
                        text=draft,
                        kind="draft",
                        ticket_number=number,
                        meta={
                            "ticket_number": number,
                            "draft_id": "1",
                            "text": draft,
                            "offline": True,
                            "reason": "no model configured",
                        },
                    ),
                    ticket_id=ticket.id,
                )
            await session.commit()
        self.services.outbox_wakeup.set()
        await self.settle()
        return self.card_ts(number)

    def card_ts(self, number: int) -> str:
        """The ts Slack gave the ticket's card (the root of its thread)."""
        for params, answer in self.api.answered("chat.postMessage"):
            is_card = f"#{number} " in str(params.get("blocks"))
            if params.get("channel") == TRIAGE and is_card and not params.get("thread_ts"):
                return str(answer["ts"])
        raise AssertionError(f"no card posted for ticket #{number}")

    async def _queue_card(self, session: Any, ticket: Ticket) -> None:
        view = await ticket_view(session, ticket)
        card = OutboundMessage(
            chat=ChatRef("slack", TRIAGE),
            text=f"#{ticket.number}",
            kind="ticket_card",
            ticket_number=ticket.number,
            meta={"ticket": view},
        )
        enqueue(session, card, ticket_id=ticket.id)


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


def slack_settings(
    tmp_path: Path, db: Database, api: FakeSlackApi, telegram: FakeTelegramApi, **extra: Any
) -> Settings:
    values: dict[str, Any] = {
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
        "RELAYDESK_TELEGRAM_WEBHOOK_SECRET": "tg-secret",
        "RELAYDESK_WORKER_POLL": 0.05,
        **extra,
    }
    return Settings(**values)


@asynccontextmanager
async def running(
    settings: Settings, api: FakeSlackApi, telegram: FakeTelegramApi, *, paced: bool = False
) -> AsyncIterator[SlackDesk]:
    """Build relaydesk as `serve` does (configure_channels), then start workers and lifecycles."""
    services = build(settings)
    assert "slack" in configure_channels(services)
    desk = services.desk
    assert isinstance(desk, Desk)
    desk.departments = {
        "payments": Department("payments", TRIAGE, frozenset({AGENT}), AGENTS_GROUP),
        "orders": Department("orders", "CORDERS", frozenset({"UORDERS"})),
    }
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
