"""Sending to Slack: refusals recorded and shown to admins, 429 Retry-After honoured, 1/s pacing."""

from __future__ import annotations

import itertools
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.db import Database
from bots.pipeline.models import OutboxRow
from tests.fakes import slack_payloads as p
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.integration.slack.conftest import (
    ADMIN_CHANNEL,
    AGENT,
    TRIAGE,
    SlackDesk,
    running,
    slack_settings,
)
from tickets.events import events_of
from tickets.models import Ticket


async def failed_rows(slack: SlackDesk) -> list[OutboxRow]:
    async with slack.db.session() as session:
        rows = await session.scalars(select(OutboxRow).where(OutboxRow.state == "failed"))
        return list(rows.all())


async def ticket_events(slack: SlackDesk, chat_id: int) -> list[tuple[str, str]]:
    async with slack.db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.chat_id == str(chat_id)))
        assert ticket is not None
        return [(e.kind, e.reason) for e in await events_of(session, ticket.id)]


async def test_channel_not_found_is_recorded_and_admins_are_told(slack: SlackDesk) -> None:
    slack.api.fail("chat.postMessage", "channel_not_found", channel=TRIAGE)
    await slack.customer_writes(201, "I need a person please")
    await slack.settle()
    failed = await failed_rows(slack)
    card = next(r for r in failed if '"ticket_card"' in r.payload)
    assert card.error == "channel_not_found" and card.attempts == 1  # not retried
    notices = [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == ADMIN_CHANNEL]
    assert len(notices) == 1
    assert "channel_not_found" in notices[0]["text"] and "ticket #" in notices[0]["text"]
    assert ("send_failed", "channel_not_found") in await ticket_events(slack, 201)
    # The customer was still told their ticket number.
    told = slack.telegram.calls_to("sendMessage")
    assert told and told[-1].params["chat_id"] == 201


async def test_not_in_channel_on_a_thread_post_is_recorded(slack: SlackDesk) -> None:
    number = await slack.hand_off(202)
    slack.api.fail("chat.postMessage", "not_in_channel", channel=TRIAGE)
    await slack.customer_writes(202, "Any news?")
    await slack.settle()
    failed = await failed_rows(slack)
    assert [r.error for r in failed] == ["not_in_channel"]
    notices = [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == ADMIN_CHANNEL]
    assert len(notices) == 1 and f"ticket #{number}" in notices[0]["text"]


async def test_a_reply_the_customer_never_got_is_marked_on_the_agents_message(
    slack: SlackDesk,
) -> None:
    number = await slack.hand_off(203)
    slack.telegram.block(203)
    reply = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), "Here is your answer.")
    await slack.event(reply)
    await slack.settle()
    reactions = await slack.api.wait_for("reactions.add")
    assert reactions[-1] == {"channel": TRIAGE, "timestamp": reply["event"]["ts"], "name": "x"}
    warned = [c for c in slack.thread(number) if "Not delivered" in c["text"]]
    assert len(warned) == 1 and "blocked" in warned[0]["text"]


async def test_429_retry_after_is_honoured(slack: SlackDesk) -> None:
    slack.api.rate_limit("chat.postMessage", retry_after=1)
    await slack.event(p.dm_message("UCUST9", "DCUST9", "hello, is anyone there?"))
    await slack.settle()
    attempts = [
        c
        for c in slack.api.calls
        if c.method == "chat.postMessage" and c.params.get("channel") == "DCUST9"
    ]
    assert len(attempts) == 2  # the 429, then the reply
    assert attempts[1].at - attempts[0].at >= 0.95
    async with slack.db.session() as session:
        row = await session.scalar(select(OutboxRow).where(OutboxRow.chat_key == "slack:DCUST9"))
    assert row is not None and (row.state, row.attempts) == ("sent", 2)


@pytest.fixture
async def paced(
    tmp_path: Path, sqlite_db: Database, telegram_api: FakeTelegramApi
) -> AsyncIterator[SlackDesk]:
    """Slack paced at 1 message/s per channel, against a fake that answers 429 when faster."""
    api = FakeSlackApi(pace_per_channel=1.0).start()
    settings = slack_settings(tmp_path, sqlite_db, api, telegram_api)
    try:
        async with running(settings, api, telegram_api, paced=True) as relaydesk:
            yield relaydesk
    finally:
        api.stop()


async def test_posts_to_one_channel_are_paced_at_one_per_second(paced: SlackDesk) -> None:
    number = await paced.hand_off(204)  # card, mirrored message, draft: three posts
    posts = [
        c
        for c in paced.api.calls
        if c.method == "chat.postMessage" and c.params.get("channel") == TRIAGE
    ]
    assert len(posts) >= 3
    gaps = [b.at - a.at for a, b in itertools.pairwise(posts)]
    assert min(gaps) >= 0.9
    assert all(c.answer is not None and c.answer.get("ok") for c in posts), "no 429 was needed"
    assert paced.card_ts(number)


async def test_the_weekly_digest_arrives_with_its_chart(slack: SlackDesk) -> None:
    from datetime import UTC, datetime

    from bots.reporting import send_digest

    await slack.hand_off(205)
    async with slack.db.session() as session:
        assert await send_digest(session, "CDIGEST", now=datetime.now(UTC))
        await session.commit()
    slack.services.outbox_wakeup.set()
    await slack.settle()
    [upload] = slack.api.calls_to("files.completeUploadExternal")
    assert upload["channel_id"] == "CDIGEST"
    assert upload["initial_comment"].startswith("*relaydesk report* ")
    assert "• Tickets: 1 created" in upload["initial_comment"]
    assert slack.api.uploads[-1].startswith(b"\x89PNG\r\n\x1a\n")
    assert await failed_rows(slack) == []


async def cards_posted(slack: SlackDesk) -> list[dict[str, object]]:
    return [
        params
        for params, answer in slack.api.answered("chat.postMessage")
        if params.get("channel") == TRIAGE and not params.get("thread_ts") and answer.get("ok")
    ]


@pytest.mark.parametrize(
    ("body", "status", "content_type"),
    [
        ("<html><body>Bad gateway</body></html>", 200, "text/html"),
        ('{"ok": tru', 502, "application/json"),
    ],
    ids=["html-200", "truncated-json-502"],
)
async def test_a_body_that_is_not_slacks_json_is_retried_not_refused(
    slack: SlackDesk, body: str, status: int, content_type: str
) -> None:
    slack.api.garbage("chat.postMessage", body, status=status, content_type=content_type, times=1)
    number = await slack.hand_off(205)
    # it used to be recorded as a refusal ("HTTP 200"): no card, and admins told of a failure
    assert await failed_rows(slack) == []
    assert len(await cards_posted(slack)) == 1
    assert slack.card_ts(number)
    async with slack.db.session() as session:
        row = await session.scalar(
            select(OutboxRow).where(OutboxRow.payload.contains('"ticket_card"'))
        )
    assert row is not None and (row.state, row.attempts) == ("sent", 2)
    assert not [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == ADMIN_CHANNEL]


async def test_a_rejected_token_is_retried_so_nothing_waiting_is_lost(slack: SlackDesk) -> None:
    slack.api.fail("chat.postMessage", "invalid_auth", channel=TRIAGE, times=2)
    number = await slack.hand_off(206)
    assert await failed_rows(slack) == []
    assert len(await cards_posted(slack)) == 1
    slack.draft_post(number)  # and the thread after it
    async with slack.db.session() as session:
        row = await session.scalar(
            select(OutboxRow).where(OutboxRow.payload.contains('"ticket_card"'))
        )
    assert row is not None and (row.state, row.attempts) == ("sent", 3)
