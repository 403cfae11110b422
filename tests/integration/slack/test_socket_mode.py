"""Socket Mode (SLACK_APP_TOKEN): envelopes are stored in the inbox, then acknowledged."""

from __future__ import annotations

import asyncio
import copy
import time
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from bots.db import Database
from bots.pipeline.models import InboxRow
from tests.fakes import slack_payloads as p
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.integration.slack.conftest import SlackDesk, running, slack_settings


@pytest.fixture
async def socket_desk(
    tmp_path: Path, sqlite_db: Database, slack_api: FakeSlackApi, telegram_api: FakeTelegramApi
) -> AsyncIterator[SlackDesk]:
    settings = slack_settings(
        tmp_path,
        sqlite_db,
        slack_api,
        telegram_api,
        SLACK_APP_TOKEN="xapp-1-A111-relaydesk-test",
        SLACK_SIGNING_SECRET=None,
    )
    async with running(settings, slack_api, telegram_api) as relaydesk:
        for _ in range(200):  # the connection is opened by the lifecycle, in the background
            if slack_api.socket_clients:
                break
            await asyncio.sleep(0.05)
        yield relaydesk


def envelope(name: str, payload: dict[str, Any]) -> dict[str, Any]:
    """A recorded Socket Mode envelope carrying `payload`, with a fresh envelope id."""
    data = copy.deepcopy(p.socket_envelope(name))
    data["payload"] = payload
    data["envelope_id"] = str(uuid.uuid4())
    return data


async def wait_for_ack(api: FakeSlackApi, envelope_id: str) -> dict[str, Any]:
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline:
        for ack in list(api.acks):
            if ack.get("envelope_id") == envelope_id:
                return ack
        await asyncio.sleep(0.02)
    raise AssertionError(f"envelope {envelope_id} was not acknowledged")


async def stored(slack: SlackDesk, platform_id: str) -> int:
    return await slack.count(InboxRow.id, InboxRow.platform_id == platform_id)


async def test_socket_mode_connects_with_the_app_token(socket_desk: SlackDesk) -> None:
    opened = socket_desk.api.calls_to("apps.connections.open")
    assert len(opened) == 1
    assert socket_desk.api.socket_clients == 1
    tokens = {c.token for c in socket_desk.api.calls if c.method == "apps.connections.open"}
    assert tokens == {"xapp-1-A111-relaydesk-test"}
    # No signing secret: no HTTP endpoint to forge requests against.
    response = await socket_desk.post("{}")
    assert response.status_code == 404


async def test_an_event_is_stored_before_its_envelope_is_acked(socket_desk: SlackDesk) -> None:
    body = p.dm_message("USOCK1", "DSOCK1", "Hello over the socket")
    sent = envelope("events_api_02.json", body)
    socket_desk.api.send_envelope(sent)
    await wait_for_ack(socket_desk.api, sent["envelope_id"])
    assert await stored(socket_desk, body["event_id"]) == 1  # committed when the ack left
    replies = await socket_desk.api.wait_for(
        "chat.postMessage", where=lambda c: c["channel"] == "DSOCK1"
    )
    assert replies


async def test_a_redelivered_envelope_is_a_no_op(socket_desk: SlackDesk) -> None:
    body = p.dm_message("USOCK2", "DSOCK2", "Twice?")
    first = envelope("events_api_02.json", body)
    again = {**envelope("events_api_02.json", body), "retry_attempt": 1, "retry_reason": "timeout"}
    socket_desk.api.send_envelope(first)
    socket_desk.api.send_envelope(again)
    await wait_for_ack(socket_desk.api, first["envelope_id"])
    await wait_for_ack(socket_desk.api, again["envelope_id"])
    await socket_desk.settle()
    async with socket_desk.db.session() as session:
        count = await session.scalar(
            select(func.count(InboxRow.id)).where(InboxRow.platform_id == body["event_id"])
        )
    assert count == 1
    replies = [c for c in socket_desk.api.calls_to("chat.postMessage") if c["channel"] == "DSOCK2"]
    assert len(replies) == 1


async def test_interactivity_and_commands_arrive_over_the_socket(socket_desk: SlackDesk) -> None:
    action = p.block_action("UAGENT1", "CPAYMENTS", "desk:assign", "1", message_ts="1.1")
    fields = p.slash_command("UAGENT1", "CPAYMENTS", "ticket 1", response_url="http://x/r")
    for sent in (
        envelope("interactive_03.json", action),
        envelope("slash_commands_01.json", dict(fields)),
    ):
        socket_desk.api.send_envelope(sent)
        await wait_for_ack(socket_desk.api, sent["envelope_id"])
    assert await stored(socket_desk, f"interaction:{action['trigger_id']}") == 1
    assert await stored(socket_desk, f"command:{fields['trigger_id']}") == 1
