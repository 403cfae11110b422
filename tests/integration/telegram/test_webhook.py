"""Webhook mode end to end: real python-telegram-bot against the fake Bot API, real databases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.db import Database
from bots.messages import Button, ChatRef, OutboundMessage
from bots.pipeline.models import InboxRow, OutboxRow
from bots.pipeline.store import enqueue
from tests.fakes.telegram_api import FakeTelegramApi
from tests.integration.telegram.conftest import (
    SECRET,
    Relaydesk,
    message_update,
    running,
    telegram_settings,
)
from tickets.models import Message, Ticket, TicketEvent


async def agent_reply(desk: Relaydesk, chat_id: int, *texts: str, **fields: object) -> None:
    """What the agent desk does for a reply: an outbox row to the customer's chat."""
    async with desk.db.session() as session:
        for text in texts:
            enqueue(session, OutboundMessage(ChatRef("telegram", str(chat_id)), text, **fields))
        await session.commit()
    desk.services.outbox_wakeup.set()


async def test_start_registers_the_webhook_with_its_secret_and_both_menus(desk: Relaydesk) -> None:
    api = desk.api
    assert api.webhook["url"] == "https://desk.example.com/telegram/webhook"
    assert api.webhook["secret_token"] == SECRET
    assert set(api.webhook["allowed_updates"]) == {"message", "edited_message", "callback_query"}
    await api.wait_for("setMyCommands", 3)
    assert set(api.commands) == {"", "en", "pl"}
    names = {lang: [c["command"] for c in cmds] for lang, cmds in api.commands.items()}
    assert names["en"] == names["pl"] == ["start", "help", "new", "status", "human", "lang"]
    assert api.commands["pl"][3]["description"] == "Twoje otwarte zgłoszenia"


async def test_a_customer_text_opens_a_ticket_and_the_reply_reaches_the_chat(
    desk: Relaydesk,
) -> None:
    update = message_update(4101, "Where is my parcel? It was due on Monday.")
    response = await desk.post(update)
    assert response.status_code == 200
    assert await desk.inbox() == 1  # committed before the 200
    (call,) = await desk.api.wait_for("sendMessage")
    assert call.params["chat_id"] == 4101
    async with desk.db.session() as session:
        ticket = (await session.scalars(select(Ticket))).one()
    assert f"#{ticket.number}" in call.params["text"]
    await desk.settle()
    row_ids = await desk.count(OutboxRow.id, OutboxRow.platform_message_id.like("4101:%"))
    assert row_ids == 1  # the platform id of what was sent is kept


async def test_a_wrong_or_missing_secret_is_403_and_nothing_is_stored(desk: Relaydesk) -> None:
    update = message_update(4102, "hello")
    assert (await desk.post(update, secret="not-the-secret")).status_code == 403
    assert (await desk.post(update, secret=None)).status_code == 403
    assert (await desk.post(update, secret=SECRET + "x")).status_code == 403
    assert await desk.inbox() == 0
    assert desk.api.attempts("sendMessage") == []


async def test_bodies_that_are_not_updates_are_refused_and_nothing_is_stored(
    desk: Relaydesk,
) -> None:
    assert (await desk.post(None, raw=b"{not json")).status_code == 400
    latin1 = b'{"update_id": 5, "message": "\xff\xfe"}'
    assert (await desk.post(None, raw=latin1)).status_code == 400
    assert (await desk.post({"message": {"text": "no id"}})).status_code == 400
    assert (await desk.post({"update_id": "12"})).status_code == 400
    assert (await desk.post({"update_id": True})).status_code == 400
    assert (await desk.post([1, 2, 3])).status_code == 400
    nested = b"[" * 100_000 + b"]" * 100_000  # deeper than any JSON parser recurses
    assert (await desk.post(None, raw=nested)).status_code == 400
    huge = json.dumps(message_update(4103, "x" * 2_000_000)).encode()
    assert (await desk.post(None, raw=huge)).status_code == 413
    assert await desk.inbox() == 0


async def test_text_with_a_nul_or_a_lone_surrogate_is_stored_and_answered(desk: Relaydesk) -> None:
    """JSON allows `\\u0000` and an unpaired `\\ud800`; PostgreSQL text cannot hold the first
    and no UTF-8 database the second. The update is stored with U+FFFD in their place and
    answered, not refused with a 503 that Telegram would repeat forever."""
    update = message_update(4110, "PLACEHOLDER")
    raw = json.dumps(update).replace("PLACEHOLDER", "my card \\u0000 was \\ud800 charged twice")
    response = await desk.post(None, raw=raw.encode())
    assert response.status_code == 200
    (call,) = await desk.api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 4110)
    await desk.settle()
    async with desk.db.session() as session:
        (stored,) = (await session.scalars(select(Message).where(Message.direction == "in"))).all()
        ticket = (await session.scalars(select(Ticket))).one()
    assert stored.text == "my card \ufffd was \ufffd charged twice"
    assert f"#{ticket.number}" in call.params["text"]
    assert await desk.count(InboxRow.id, InboxRow.state == "done") == 1


async def test_the_same_update_delivered_twice_gets_one_reply(desk: Relaydesk) -> None:
    update = message_update(4104, "My invoice is wrong")
    first = await desk.post(update)
    second = await desk.post(update)
    assert first.status_code == second.status_code == 200
    await desk.settle()
    third = await desk.post(update)  # a redelivery after processing, too
    assert third.status_code == 200
    await desk.settle()
    assert await desk.inbox() == 1
    assert await desk.count(Message.id, Message.direction == "in") == 1
    assert len(desk.api.texts(4104)) == 1


async def test_updates_relaydesk_does_not_handle_are_acknowledged_and_not_stored(
    desk: Relaydesk,
) -> None:
    member = json.loads(desk_fixture("my_chat_member.json"))
    assert (await desk.post(member)).status_code == 200
    assert await desk.inbox() == 0


def desk_fixture(name: str) -> str:
    from tests.integration.telegram.conftest import NUTGRAM

    return (NUTGRAM / "updates" / name).read_text(encoding="utf-8")


async def test_an_agent_reply_reaches_the_chat(desk: Relaydesk) -> None:
    await agent_reply(desk, 4105, "Hi Ada, your refund was approved today.")
    (call,) = await desk.api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 4105)
    assert call.params["text"] == "Hi Ada, your refund was approved today."


async def test_429_with_retry_after_is_delivered_after_the_wait_and_in_order(
    desk: Relaydesk,
) -> None:
    desk.api.rate_limit(retry_after=2, chat_id=4106)
    await agent_reply(desk, 4106, "first", "second", "third")
    calls = await desk.api.wait_for(
        "sendMessage", 3, where=lambda c: c.params["chat_id"] == 4106, within=20
    )
    assert [c.params["text"] for c in calls] == ["first", "second", "third"]
    (refused,) = [c for c in desk.api.attempts("sendMessage") if c.status == 429]
    assert refused.params["text"] == "first"
    assert calls[0].at - refused.at >= 2.0 - 0.05  # retry_after honoured
    assert calls[1].at - calls[0].at >= 1.0 - 0.05  # and the chat is still paced
    await desk.settle()
    assert await desk.count(OutboxRow.id, OutboxRow.state == "sent") == 3


async def test_a_user_who_blocked_the_bot_is_recorded_on_the_ticket_and_not_retried(
    desk: Relaydesk,
) -> None:
    assert (await desk.post(message_update(4107, "Please cancel my order"))).status_code == 200
    await desk.api.wait_for("sendMessage")
    await desk.settle()
    async with desk.db.session() as session:
        ticket = (await session.scalars(select(Ticket))).one()
        desk.api.block(4107)
        reply = OutboundMessage(ChatRef("telegram", "4107"), "Your order was cancelled.")
        enqueue(session, reply, ticket_id=ticket.id)
        await session.commit()
    desk.services.outbox_wakeup.set()
    await desk.settle()
    assert len(desk.api.attempts("sendMessage")) == 2  # the hand-off, then one refused try
    async with desk.db.session() as session:
        row = await session.scalar(select(OutboxRow).where(OutboxRow.state == "failed"))
        event = await session.scalar(
            select(TicketEvent).where(TicketEvent.kind == "delivery_failed")
        )
    assert row is not None and "blocked by the user" in (row.error or "")
    assert event is not None and event.ticket_id == ticket.id
    assert "blocked by the user" in event.reason


async def test_server_errors_are_retried_until_delivered(desk: Relaydesk) -> None:
    desk.api.server_error(status=502, chat_id=4108)
    desk.api.server_error(status=500, chat_id=4108)
    await agent_reply(desk, 4108, "We are on it.")
    await desk.api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 4108, within=20)
    statuses = [c.status for c in desk.api.attempts("sendMessage")]
    assert statuses == [502, 500, 200]


async def test_a_long_reply_is_split_on_paragraphs_and_sent_in_order(desk: Relaydesk) -> None:
    paragraphs = [f"Step {i}: " + " ".join(["details"] * 300) for i in range(1, 7)]  # 2.4k chars
    await agent_reply(desk, 4109, "\n\n".join(paragraphs))
    calls = await desk.api.wait_for(
        "sendMessage", 6, where=lambda c: c.params["chat_id"] == 4109, within=20
    )
    texts = [c.params["text"] for c in calls]
    assert all(len(t) <= 4096 for t in texts)
    assert all(t.startswith("Step ") for t in texts)  # cut at paragraph boundaries
    assert texts == paragraphs


async def test_a_split_message_interrupted_by_a_429_resumes_without_repeating(
    desk: Relaydesk,
) -> None:
    desk.api.enforce_limits = True  # the second piece comes too fast only if we do not wait
    first, second = "A" * 4000, "B" * 4000
    desk.api.rate_limit(retry_after=1, chat_id=4110)  # the first attempt is refused
    await agent_reply(desk, 4110, f"{first}\n\n{second}")
    calls = await desk.api.wait_for(
        "sendMessage", 2, where=lambda c: c.params["chat_id"] == 4110, within=20
    )
    assert [c.params["text"] for c in calls] == [first, second]
    await desk.settle()
    assert len(desk.api.texts(4110)) == 2


async def test_buttons_become_an_inline_keyboard_and_presses_are_answered(
    desk: Relaydesk,
) -> None:
    buttons = (
        Button("👍 Helped", "kb_helped", "17"),
        Button("👎 Talk to a person", "kb_human", "17"),
    )
    await agent_reply(desk, 4111, "Resetting a forgotten password: ...", buttons=buttons)
    (call,) = await desk.api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 4111)
    keyboard = call.params["reply_markup"]["inline_keyboard"]
    flat = [(b["text"], b["callback_data"]) for row in keyboard for b in row]
    assert flat == [("👍 Helped", "kb_helped:17"), ("👎 Talk to a person", "kb_human:17")]

    async with desk.db.session() as session:
        enqueue(
            session,
            OutboundMessage(
                ChatRef("telegram", "4111"),
                "Thanks for letting us know!",
                kind="action_ack",
                meta={"callback_query_id": "cq-123"},
            ),
        )
        await session.commit()
    desk.services.outbox_wakeup.set()
    (answer,) = await desk.api.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == "cq-123"
    assert answer.params["text"] == "Thanks for letting us know!"


async def test_a_sticker_gets_a_polite_note(desk: Relaydesk) -> None:
    sticker = json.loads(desk_fixture("sticker.json"))
    sticker["update_id"] = 880001
    chat_id = sticker["message"]["chat"]["id"]
    assert (await desk.post(sticker)).status_code == 200
    (call,) = await desk.api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == chat_id)
    assert "only" in call.params["text"]  # "Sorry, I can only read text, photos, ..."
    assert await desk.count(InboxRow.id, InboxRow.state == "done") == 1


async def test_registration_survives_a_bot_api_outage_at_start(
    tmp_path: Path, sqlite_db: Database, api: FakeTelegramApi
) -> None:
    api.server_error(method="setWebhook", status=502, times=2)
    async with running(telegram_settings(tmp_path, sqlite_db, api), api) as desk:
        # Updates are stored while registration is still being retried.
        assert (await desk.post(message_update(4112, "hello?"))).status_code == 200
        await api.wait_for("setWebhook", within=20)
        assert [c.status for c in api.attempts("setWebhook")] == [502, 502, 200]
        await api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 4112)


async def test_a_backlog_is_sent_within_the_flood_limits_in_order(desk: Relaydesk) -> None:
    """90 replies queued at once for 45 chats against a fake that refuses more than 1/s per
    chat and 30/s overall: all arrive, in order per chat, without provoking a flood of 429s."""
    desk.api.enforce_limits = True
    chats = list(range(5200, 5245))
    async with desk.db.session() as session:
        for round_ in ("first", "second"):
            for chat in chats:
                reply = OutboundMessage(ChatRef("telegram", str(chat)), f"{round_} {chat}")
                enqueue(session, reply)
        await session.commit()
    desk.services.outbox_wakeup.set()
    await desk.api.wait_for("sendMessage", 90, within=30)
    for chat in chats:
        assert desk.api.texts(chat) == [f"first {chat}", f"second {chat}"]
    refused = [c for c in desk.api.attempts("sendMessage") if c.status == 429]
    # Even spacing leaves only network jitter to cause a refusal; a bucket that starts full
    # sends 30 at once and then 30/s, which the fake answers with dozens of 429s.
    assert len(refused) <= 3


async def test_a_database_that_cannot_take_the_update_gets_503_and_the_redelivery_is_kept(
    tmp_path: Path,
    sqlite_db: Database,
    api: FakeTelegramApi,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The webhook commits on the ingest thread; while another process holds SQLite's write
    lock the commit times out, Telegram gets 503 (so it delivers again), and nothing is half
    stored. Once the lock is gone the redelivery is stored once and answered."""
    import sqlite3

    from bots import db as db_module

    monkeypatch.setattr(db_module, "SQLITE_BUSY_TIMEOUT_MS", 300)
    update = message_update(5301, "hello, is anyone there?")
    async with running(telegram_settings(tmp_path, sqlite_db, api), api) as desk:
        path = sqlite_db.url.split("///", 1)[1]
        other = sqlite3.connect(path, isolation_level=None)
        try:
            other.execute("BEGIN EXCLUSIVE")
            refused = await desk.post(update)
        finally:
            other.execute("ROLLBACK")
            other.close()
        assert refused.status_code == 503
        assert "deliver it again later" in refused.json()["error"]
        again = await desk.post(update)
        assert again.status_code == 200
        await desk.api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 5301)
        assert await desk.count(InboxRow.id) == 1


@pytest.mark.parametrize(
    ("body", "content_type"),
    [
        ('{"ok": true, "result": true}', "application/json"),  # JSON, but not a Message
        ("<html><body>Bad gateway</body></html>", "text/html"),
    ],
    ids=["not-a-message", "html-page"],
)
async def test_an_answer_that_is_not_the_bot_apis_is_retried_with_one_log_line(
    desk: Relaydesk, caplog: pytest.LogCaptureFixture, body: str, content_type: str
) -> None:
    desk.api.garbage(body, content_type=content_type, chat_id=4120)
    await agent_reply(desk, 4120, "Your refund is on its way.")
    (call,) = await desk.api.wait_for("sendMessage", where=lambda c: c.params["chat_id"] == 4120)
    assert call.params["text"] == "Your refund is on its way."
    await desk.settle()
    async with desk.db.session() as session:
        row = await session.scalar(select(OutboxRow).where(OutboxRow.chat_key == "telegram:4120"))
    assert row is not None and (row.state, row.attempts) == ("sent", 2)
    # one line for the failed attempt; no traceback (nor the body) from us or the library
    assert not [r for r in caplog.records if r.exc_info]
    assert not [r for r in caplog.records if "Bad gateway" in r.getMessage()]
    failed = [r.getMessage() for r in caplog.records if "attempt 1 failed" in r.getMessage()]
    assert len(failed) == 1
