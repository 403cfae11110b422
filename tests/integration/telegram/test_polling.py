"""Long-polling mode: every batch is committed to the inbox before its offset is confirmed."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import select

from bots.db import Database
from bots.pipeline.models import InboxRow
from bots.schema import upgrade
from bots.telegram.channel import TelegramChannel, make_bot
from bots.telegram.lifecycle import Poller
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi
from tests.integration.telegram.conftest import (
    message_update,
    running,
    telegram_settings,
)
from tickets.models import Message


def polling_settings(tmp_path: Path, db: Database, api: FakeTelegramApi):
    return telegram_settings(
        tmp_path,
        db,
        api,
        RELAYDESK_TELEGRAM_WEBHOOK_URL=None,
        RELAYDESK_TELEGRAM_WEBHOOK_SECRET=None,
    )


async def test_polling_stores_updates_then_confirms_them_and_replies(
    tmp_path: Path, db: Database, api: FakeTelegramApi
) -> None:
    api.webhook = {"url": "https://old.example.com/hook"}  # left over from webhook mode
    first = message_update(5201, "My order #1234 has not arrived", update_id=910001)
    second = message_update(5202, "Can I pay by bank transfer?", update_id=910002)
    third = message_update(5201, "It was sent to Kraków", update_id=910003)
    for update in (first, second, third):
        api.push_update(update)
    async with running(polling_settings(tmp_path, db, api), api) as desk:
        await api.wait_for("deleteWebhook")
        await api.wait_for("setMyCommands", 3)
        calls = await api.wait_for("sendMessage", 3, within=20)
        assert sorted(c.params["chat_id"] for c in calls) == [5201, 5201, 5202]
        assert await desk.inbox() == 3
        await desk.settle()
        async with desk.db.session() as session:
            written = list(
                await session.scalars(
                    select(Message.text).where(Message.direction == "in").order_by(Message.id)
                )
            )
    # All stored, and the customer's two messages handled in the order they were written.
    assert sorted(written) == sorted(u["message"]["text"] for u in (first, second, third))
    assert written.index(first["message"]["text"]) < written.index(third["message"]["text"])
    assert api.webhook == {}
    assert 910004 in api.confirmed_offsets
    assert api.pending_updates() == []


async def test_an_update_is_not_confirmed_until_it_is_stored(
    tmp_path: Path, api: FakeTelegramApi
) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'not-yet-migrated.db'}")  # no inbox table
    channel = TelegramChannel(make_bot(TOKEN, api.url))
    poller = Poller(channel, db, timeout=1)
    api.push_update(message_update(5203, "Is anyone there?", update_id=920001))
    await poller.start()
    try:
        await api.wait_for("getUpdates", 3, within=20)  # fetched, failed to store, fetched again
        assert api.pending_updates() == [920001]
        assert api.confirmed_offsets == []
        assert all("offset" not in c.params for c in api.calls_to("getUpdates"))

        await upgrade(db)  # the database comes back
        await api.wait_for(
            "getUpdates", where=lambda c: c.params.get("offset") == 920002, within=20
        )
        assert api.pending_updates() == []
        assert api.confirmed_offsets == [920002]
    finally:
        await poller.stop()
        await db.close()


async def test_a_batch_fetched_again_after_a_crash_is_stored_once(
    sqlite_db: Database, api: FakeTelegramApi
) -> None:
    channel = TelegramChannel(make_bot(TOKEN, api.url))
    poller = Poller(channel, sqlite_db)
    batch = [
        message_update(5204, "hello", update_id=930001),
        message_update(5205, "hi", update_id=930002),
    ]
    assert await poller.store(batch) == 2
    assert poller.offset == 930003
    # The process died before confirming: Telegram sends the same batch again.
    restarted = Poller(TelegramChannel(make_bot(TOKEN, api.url)), sqlite_db)
    assert await restarted.store(batch) == 0
    assert restarted.offset == 930003
    await channel.shutdown()


async def test_a_batch_with_a_nul_or_a_lone_surrogate_is_stored_and_confirmed(
    db: Database, api: FakeTelegramApi
) -> None:
    """One update the database cannot take as it is must not hold the whole bot back: the
    batch would be fetched again forever. It is stored with U+FFFD in place of the two."""
    channel = TelegramChannel(make_bot(TOKEN, api.url))
    poller = Poller(channel, db)
    batch = [
        message_update(5206, "refund \x00 please", update_id=940001),
        message_update(5207, "broken \ud800 text", update_id=940002),
        message_update(5208, "hello", update_id=940003),
    ]
    try:
        assert await poller.store(batch) == 3
    finally:
        await channel.shutdown()
    assert poller.offset == 940004
    async with db.session() as session:
        payloads = list(await session.scalars(select(InboxRow.payload).order_by(InboxRow.id)))
    texts = [json.loads(p)["message"]["text"] for p in payloads]
    assert texts == ["refund \ufffd please", "broken \ufffd text", "hello"]
