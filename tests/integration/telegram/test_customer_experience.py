"""The customer's side in Telegram, end to end: commands, hand-off, files, edits, buttons, CSAT.

Real python-telegram-bot against the fake Bot API, the real webhook, pipeline and engine.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bots.app import build
from bots.commands.system import load_demo
from bots.commands.tickets import csat_question
from bots.db import Database
from bots.pipeline.models import InboxRow
from bots.pipeline.store import enqueue
from tests.fakes.telegram_api import Call, FakeTelegramApi
from tests.integration.telegram.conftest import (
    NUTGRAM,
    Relaydesk,
    callback_update,
    message_update,
    running,
    telegram_settings,
)
from tickets.models import CsatRating, Message, Ticket


async def say(
    desk: Relaydesk, update: dict[str, Any], replies: int = 1, *, within: float = 30.0
) -> list[str]:
    """Post an update as Telegram would and return the texts the chat received for it."""
    chat_id = (update.get("message") or update.get("edited_message") or {}).get("chat", {}).get(
        "id"
    ) or update["callback_query"]["message"]["chat"]["id"]
    before = len(desk.api.texts(chat_id))
    assert (await desk.post(update)).status_code == 200
    calls = await desk.api.wait_for(
        "sendMessage",
        before + replies,
        where=lambda c: c.params["chat_id"] == chat_id,
        within=within,
    )
    await desk.settle(within)
    return [c.params["text"] for c in calls[before:]]


async def ticket_of(desk: Relaydesk, number: int | None = None) -> Ticket:
    async with desk.db.session() as session:
        query = select(Ticket).order_by(Ticket.id.desc()).limit(1)
        if number is not None:
            query = select(Ticket).where(Ticket.number == number)
        ticket = await session.scalar(query)
    assert ticket is not None
    return ticket


async def customer_messages(desk: Relaydesk) -> list[Message]:
    async with desk.db.session() as session:
        return list(
            await session.scalars(
                select(Message).where(Message.author_kind == "customer").order_by(Message.id)
            )
        )


async def test_start_greets_in_the_users_language_and_says_what_the_bot_does(
    desk: Relaydesk,
) -> None:
    (polish,) = await say(desk, message_update(6001, "/start", language="pl"))
    assert polish.startswith("Cześć, Ada!")
    assert "/human" in polish and "/lang pl|en" in polish
    (english,) = await say(desk, message_update(6002, "/start", language="en"))
    assert english.startswith("Hi, Ada!")
    assert "/status" in english


async def test_help_new_and_an_unknown_command(desk: Relaydesk) -> None:
    (help_text,) = await say(desk, message_update(6003, "/help"))
    assert "/new" in help_text and "/status" in help_text and "/human" in help_text
    (new,) = await say(desk, message_update(6003, "/new"))
    assert new == "Sure. What is your new request about?"
    (unknown,) = await say(desk, message_update(6003, "/frobnicate"))
    assert "/help" in unknown


async def test_lang_switches_the_language_and_rejects_others(desk: Relaydesk) -> None:
    (usage,) = await say(desk, message_update(6004, "/lang de"))
    assert usage == "Use /lang pl or /lang en."
    (switched,) = await say(desk, message_update(6004, "/lang pl"))
    assert switched == "Od teraz piszę po polsku."
    (help_text,) = await say(desk, message_update(6004, "/help"))
    assert help_text.startswith("Napisz pytanie")


async def test_human_hands_off_with_the_ticket_number_and_status_lists_it(
    desk: Relaydesk,
) -> None:
    (none,) = await say(desk, message_update(6005, "/status"))
    assert none == "You have no open tickets."
    (handoff,) = await say(desk, message_update(6005, "/human my card was charged twice"))
    ticket = await ticket_of(desk)
    assert f"#{ticket.number}" in handoff
    assert "a person from our team" in handoff and "reply here" in handoff
    (status,) = await say(desk, message_update(6005, "/status"))
    assert status.splitlines()[0] == "Your open tickets:"
    assert f"#{ticket.number}" in status and "my card was charged twice" in status


async def test_a_question_without_a_knowledge_base_is_handed_off_then_followed_up(
    desk: Relaydesk,
) -> None:
    (handoff,) = await say(desk, message_update(6006, "My parcel is stuck in customs"))
    ticket = await ticket_of(desk)
    assert f"#{ticket.number}" in handoff
    (added,) = await say(desk, message_update(6006, "The tracking number is PL123"))
    assert added == f"Added to your ticket #{ticket.number}. We will reply here."
    texts = [m.text for m in await customer_messages(desk)]
    assert texts == ["My parcel is stuck in customs", "The tracking number is PL123"]


def closed_today(tmp_path: Path, timezone: str) -> Path:
    """A helpdesk.yaml whose one department is closed all day today (a holiday around it)."""
    today = datetime.now(UTC).date()
    holidays = [str(today + timedelta(days=d)) for d in (-1, 0, 1)]
    config = tmp_path / "helpdesk.yaml"
    config.write_text(
        "default_department: general\n"
        "business_calendar: office\n"
        "calendars:\n"
        "  office:\n"
        f"    timezone: {timezone}\n"
        "    hours: {mon-fri: '09:00-17:00'}\n"
        f"    holidays: {json.dumps(holidays)}\n"
        "departments:\n"
        "  - name: general\n"
        "    calendar: office\n",
        encoding="utf-8",
    )
    return config


async def test_a_hand_off_outside_business_hours_says_when_the_team_works(
    tmp_path: Path, db: Database, api: FakeTelegramApi
) -> None:
    settings = telegram_settings(tmp_path, db, api, RELAYDESK_CONFIG=closed_today(tmp_path, "UTC"))
    async with running(settings, api) as desk:
        await api.wait_for("setWebhook")
        (handoff,) = await say(desk, message_update(6008, "/human"))
    first, hours = handoff.split("\n")
    assert "Your ticket number is #" in first
    assert hours.startswith("Our team works ") and "09:00" in hours


async def test_a_polish_customer_hears_the_business_hours_in_polish(
    tmp_path: Path, db: Database, api: FakeTelegramApi
) -> None:
    settings = telegram_settings(
        tmp_path, db, api, RELAYDESK_CONFIG=closed_today(tmp_path, "Europe/Warsaw")
    )
    async with running(settings, api) as desk:
        await api.wait_for("setWebhook")
        (handoff,) = await say(desk, message_update(6013, "/human", language="pl"))
    first, hours = handoff.split("\n")
    assert first.startswith("Przekazuję to osobie z naszego zespołu.")
    # no English day names in a Polish sentence
    assert hours == (
        "Nasz zespół pracuje pon.-pt. 09:00-17:00 (Europe/Warsaw); odezwiemy się w tych godzinach."
    )


async def test_a_photo_is_kept_on_the_ticket_for_agents(desk: Relaydesk) -> None:
    photo = json.loads((NUTGRAM / "updates" / "photo.json").read_text(encoding="utf-8"))
    photo["update_id"] = 880101
    chat_id = photo["message"]["chat"]["id"]
    (reply,) = await say(desk, photo)
    ticket = await ticket_of(desk)
    assert f"#{ticket.number}" in reply
    (stored,) = await customer_messages(desk)
    assert stored.text == "asdasdasdasdasdasd"  # the caption
    (attachment,) = stored.attachments
    assert attachment["kind"] == "photo"
    assert attachment["file_id"] == "SEES"
    assert attachment["size"] == 104893
    assert attachment["caption"] == "asdasdasdasdasdasd"
    assert stored.platform_id == f"{chat_id}:{photo['message']['message_id']}"


async def test_an_edit_updates_the_stored_message_and_keeps_the_earlier_text(
    desk: Relaydesk,
) -> None:
    original = message_update(6009, "My order 1234 is late", message_id=51)
    await say(desk, original)
    edit = {
        "update_id": original["update_id"] + 1,
        "edited_message": dict(
            original["message"], text="My order 1243 is late", edit_date=1_700_000_100
        ),
    }
    assert (await desk.post(edit)).status_code == 200
    await desk.settle()
    (stored,) = await customer_messages(desk)
    assert stored.text == "My order 1243 is late"
    assert stored.edited_at is not None
    assert [e["text"] for e in stored.edits] == ["My order 1234 is late"]


def bot_message(desk: Relaydesk, chat_id: int, message_id: int, text: str) -> dict[str, Any]:
    """A message the bot showed in a private chat, as a button press quotes it."""
    return {
        "message_id": message_id,
        "from": desk.api.me,
        "chat": {"id": chat_id, "first_name": "Ada", "type": "private"},
        "date": 1_700_000_000,
        "text": text,
    }


async def test_a_button_press_is_answered(desk: Relaydesk) -> None:
    shown = bot_message(desk, 6010, 77, "Resetting a forgotten password: ...")
    press = callback_update(6010, "kb_helped:a-17", shown)
    assert (await desk.post(press)).status_code == 200
    (answer,) = await desk.api.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == press["callback_query"]["id"]
    assert answer.params["text"] == "Thanks for letting us know!"


async def test_csat_buttons_after_resolve_record_the_rating(desk: Relaydesk) -> None:
    await say(desk, message_update(6011, "The app crashes on login"))
    ticket = await ticket_of(desk)
    async with desk.db.session() as session:
        live = await session.get(Ticket, ticket.id)
        assert live is not None
        ask = await desk.services.helpdesk.resolve(session, live, actor="agent-1")
        assert ask  # CSAT is on by default
        # What `relaydesk tickets resolve` sends the customer: the question with five buttons.
        enqueue(session, csat_question(live), ticket_id=ticket.id)
        await session.commit()
    desk.services.outbox_wakeup.set()

    def asked(call: Call) -> bool:
        return call.params["chat_id"] == 6011 and "How would you rate" in call.params["text"]

    (question,) = await desk.api.wait_for("sendMessage", where=asked)
    (row,) = question.params["reply_markup"]["inline_keyboard"]
    assert [b["text"] for b in row] == ["1", "2", "3", "4", "5"]
    shown = dict(desk.api.messages[(6011, _sent_id(question, desk.api))])
    replies = await say(desk, callback_update(6011, row[3]["callback_data"], shown))
    assert replies == ["Thank you for rating our help!"]
    (answer,) = await desk.api.wait_for("answerCallbackQuery")
    assert answer.params["text"] == "Thank you for rating our help!"
    async with desk.db.session() as session:
        rating = await session.scalar(select(CsatRating).where(CsatRating.ticket_id == ticket.id))
    assert rating is not None and rating.score == 4


async def test_a_forged_csat_press_with_a_huge_ticket_number_is_answered_and_ignored(
    desk: Relaydesk,
) -> None:
    """Callback data is whatever the client sends; a ticket number past what the database
    holds is ignored like any malformed value, not retried until the event is given up."""
    shown = bot_message(desk, 6012, 78, "How would you rate our help?")
    press = callback_update(6012, "csat:99999999999999999999:5", shown)
    assert (await desk.post(press)).status_code == 200
    (answer,) = await desk.api.wait_for("answerCallbackQuery")
    assert answer.params["callback_query_id"] == press["callback_query"]["id"]
    await desk.settle()
    assert await desk.count(InboxRow.id, InboxRow.state == "done") == 1
    assert await desk.count(CsatRating.id) == 0


def _sent_id(call: Call, api: FakeTelegramApi) -> int:
    for (chat_id, message_id), message in api.messages.items():
        if chat_id == call.params["chat_id"] and message.get("text") == call.params["text"]:
            return message_id
    raise AssertionError("the fake did not keep the message")


async def test_a_knowledge_base_answer_shows_its_article_and_buttons_that_work(
    tmp_path: Path, sqlite_db: Database, api: FakeTelegramApi
) -> None:
    settings = telegram_settings(tmp_path, sqlite_db, api)
    demo = build(settings)
    try:
        await load_demo(demo)  # what `relaydesk init --demo` does
    finally:
        await demo.close()
    async with running(settings, api, knowledge=True) as desk:
        await api.wait_for("setWebhook")
        question = message_update(6012, "How do I cancel my order?")
        (answer,) = await say(desk, question, within=90)  # the first query warms the model
        assert "Cancelling an order" in answer  # the article's title
        assert "My account" in answer  # in the article's own words
        (call,) = api.calls_to("sendMessage")
        (row,) = call.params["reply_markup"]["inline_keyboard"]
        assert [b["text"] for b in row] == ["👍 Helped", "👎 Talk to a person"]
        helped, human = (b["callback_data"] for b in row)
        assert helped.startswith("kb_helped:") and human.startswith("kb_human:")
        assert await desk.count(Ticket.id) == 0  # answered: no ticket

        shown = desk.api.messages[(6012, _sent_id(call, api))]
        handoff = await say(desk, callback_update(6012, human, dict(shown)), within=90)
        (ack,) = await api.wait_for("answerCallbackQuery")
        assert ack.params["callback_query_id"]
        ticket = await ticket_of(desk)
        assert handoff == [
            f"I'm passing this to a person from our team. Your ticket number is "
            f"#{ticket.number}; you will get the reply here. You can add details or files any "
            "time."
        ]
