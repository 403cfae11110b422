"""An agent's reply held up by a Telegram outage: told once in the thread that it is delayed,
✅ when it goes out; ❌ and a note naming how long it was tried when the retry window runs out."""

from __future__ import annotations

import asyncio
import time
from datetime import timedelta
from typing import Any

from sqlalchemy import select, update

from bots.pipeline.models import OutboxRow
from tests.fakes import slack_payloads as p
from tests.integration.slack.conftest import ADMIN_CHANNEL, AGENT, TRIAGE, SlackDesk
from tickets.models import utcnow

REPLY = "Your refund was approved this morning."
DELAYED = "⏳ Not delivered to the customer yet"


async def reply_row(slack: SlackDesk, chat_id: int) -> OutboxRow | None:
    async with slack.db.session() as session:
        row: OutboxRow | None = await session.scalar(
            select(OutboxRow).where(
                OutboxRow.chat_key == f"telegram:{chat_id}", OutboxRow.payload.contains(REPLY)
            )
        )
        return row


async def retry_now(slack: SlackDesk, *where: Any, **values: Any) -> None:
    """Make every waiting retry (`where` it matches) due at once, setting `values` too."""
    async with slack.db.session() as session:
        await session.execute(
            update(OutboxRow)
            .where(OutboxRow.state == "pending", *where)
            .values(next_attempt_at=utcnow() - timedelta(seconds=1), **values)
        )
        await session.commit()
    slack.services.outbox_wakeup.set()


async def until_tried(slack: SlackDesk, chat_id: int, tries: int, within: float = 30.0) -> None:
    """Hurry the retries along until the reply has been tried `tries` times."""
    deadline = time.monotonic() + within
    while time.monotonic() < deadline:
        row = await reply_row(slack, chat_id)
        if row is not None and row.attempts >= tries:
            return
        await retry_now(slack)
        await asyncio.sleep(0.05)
    raise AssertionError(f"the reply to {chat_id} was not tried {tries} times")


def failed_sends(slack: SlackDesk, chat_id: int) -> list[str]:
    """The texts of the sends to `chat_id` that the fake Bot API refused."""
    return [
        str(c.params.get("text"))
        for c in slack.telegram.attempts("sendMessage")
        if c.params.get("chat_id") == chat_id and c.status != 200
    ]


def reactions(slack: SlackDesk, ts: str) -> list[str]:
    return [c["name"] for c in slack.api.calls_to("reactions.add") if c["timestamp"] == ts]


async def test_a_reply_held_up_by_an_outage_is_noticed_once_then_confirmed(
    slack: SlackDesk,
) -> None:
    number = await slack.hand_off(221)
    slack.telegram.server_error(status=502, chat_id=221, times=5)
    reply = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), REPLY)
    await slack.event(reply)
    await until_tried(slack, 221, 6)  # five refused, then delivered
    await slack.settle()
    assert failed_sends(slack, 221) == [REPLY] * 5
    assert slack.telegram.texts(221).count(REPLY) == 1
    notices = [c["text"] for c in slack.thread(number) if c["text"].startswith(DELAYED)]
    assert notices == [f"{DELAYED} (telegram: network: Bad Gateway); still trying for up to 24 h."]
    assert reactions(slack, reply["event"]["ts"]) == ["white_check_mark"]
    assert not [c for c in slack.thread(number) if "⚠️ Not delivered" in c["text"]]
    assert not [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == ADMIN_CHANNEL]
    row = await reply_row(slack, 221)
    assert row is not None and (row.state, row.attempts) == ("sent", 6)


async def test_a_bot_answer_held_up_by_an_outage_tells_no_one(slack: SlackDesk) -> None:
    slack.telegram.server_error(status=502, chat_id=222, times=4)
    await slack.customer_writes(222, "Hello, is anyone there?")  # answered by the bot
    deadline = time.monotonic() + 30
    while len(failed_sends(slack, 222)) < 4 and time.monotonic() < deadline:
        await retry_now(slack)
        await asyncio.sleep(0.05)
    await retry_now(slack)
    await slack.settle()
    assert len(failed_sends(slack, 222)) == 4 and slack.telegram.texts(222)
    async with slack.db.session() as session:
        rows = (await session.scalars(select(OutboxRow))).all()
    assert max(r.attempts for r in rows if r.chat_key == "telegram:222") == 5
    posted = slack.api.calls_to("chat.postMessage")  # its ticket's card, mirror and draft
    assert not [c for c in posted if DELAYED in c["text"] or c["channel"] == ADMIN_CHANNEL]


async def test_a_reply_still_undelivered_when_the_window_runs_out_is_marked_failed(
    slack: SlackDesk,
) -> None:
    number = await slack.hand_off(223)
    slack.telegram.server_error(status=502, chat_id=223, times=1000)  # down for good
    reply = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), REPLY)
    await slack.event(reply)
    await until_tried(slack, 223, 3)
    # queued a day and a minute ago: the next try that reads the row fails for good
    waiting = await reply_row(slack, 223)
    assert waiting is not None and waiting.state == "pending"
    aged = utcnow() - timedelta(hours=24, minutes=1)
    await retry_now(slack, OutboxRow.id == waiting.id, created_at=aged)
    await slack.settle()
    row = await reply_row(slack, 223)
    reason = "retried for 24 h; last error: network: Bad Gateway"
    assert row is not None and (row.state, row.error) == ("failed", reason)
    assert row.attempts > 3  # 4, or 5 when a try already under way had read the row before
    assert reactions(slack, reply["event"]["ts"]) == ["x"]
    thread = [c["text"] for c in slack.thread(number)]
    assert [t for t in thread if t.startswith("⚠️ Not delivered")] == [
        f"⚠️ Not delivered to the customer (telegram): {reason}"
    ]
    assert len([t for t in thread if t.startswith(DELAYED)]) == 1  # from its third failure
    assert not [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == ADMIN_CHANNEL]
