"""An agent edits or deletes a relayed reply in the ticket's thread: the customer's copy follows.

End to end as in `test_desk.py`: signed Slack events through slack-bolt, the inbox and outbox
workers, python-telegram-bot and slack_sdk against the fake APIs (which keep the messages they
delivered, so what the customer sees afterwards can be read back).
"""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from typing import Any

import pytest
from sqlalchemy import select

from bots.pipeline.models import OutboxRow
from bots.relayed import WITHDRAWN
from tests.fakes import slack_payloads as p
from tests.fakes.telegram_api import Call
from tests.integration.slack.conftest import AGENT, STRANGER, TRIAGE, SlackDesk
from tickets import service as tickets
from tickets.events import events_of
from tickets.models import Message, Ticket

NOT_MODIFIED = (
    "Bad Request: message is not modified: specified new message content and reply markup "
    "are exactly the same as a current content and reply markup of the message"
)


async def relay(slack: SlackDesk, number: int, text: str, user: str = AGENT) -> dict[str, Any]:
    """An agent's reply in the ticket's thread, once it has been handled and sent."""
    reply = p.thread_reply(user, TRIAGE, slack.card_ts(number), text)
    assert (await slack.event(reply)).status_code == 200
    await slack.settle()
    return reply


def telegram_copy(slack: SlackDesk, chat_id: int, text: str) -> int:
    """The message id of the customer's copy of `text` in their Telegram chat."""
    found = [
        mid
        for (chat, mid), m in list(slack.telegram.messages.items())
        if chat == chat_id and m.get("text") == text
    ]
    assert found, f"{text!r} is not in chat {chat_id}"
    return found[-1]


async def edit(slack: SlackDesk, number: int, reply: dict[str, Any], text: str, **kw: Any) -> None:
    event = reply["event"]
    before = kw.pop("before", event["text"])
    user = kw.pop("user", event["user"])
    body = p.thread_edit(
        user, TRIAGE, slack.card_ts(number), event["ts"], text, before=before, **kw
    )
    assert (await slack.event(body)).status_code == 200


async def delete(slack: SlackDesk, number: int, reply: dict[str, Any]) -> None:
    event = reply["event"]
    body = p.thread_delete(event["user"], TRIAGE, slack.card_ts(number), event["ts"], event["text"])
    assert (await slack.event(body)).status_code == 200


async def ticket_events(slack: SlackDesk, number: int) -> list[tuple[str, str]]:
    async with slack.db.session() as session:
        ticket = await tickets.get_ticket(session, number)
        return [(e.kind, e.reason) for e in await events_of(session, ticket.id)]


def notices(slack: SlackDesk, number: int, marker: str) -> list[str]:
    return [c["text"] for c in slack.thread(number) if marker in c["text"]]


def private_to(slack: SlackDesk, user: str) -> list[str]:
    return [e["text"] for e in slack.api.calls_to("chat.postEphemeral") if e["user"] == user]


def reactions(slack: SlackDesk, ts: str) -> list[str]:
    return [r["name"] for r in slack.api.calls_to("reactions.add") if r["timestamp"] == ts]


async def test_an_edited_reply_is_corrected_in_the_customers_chat(slack: SlackDesk) -> None:
    number = await slack.hand_off(301)
    reply = await relay(slack, number, "Track it here: https://track.example/123")
    copy_id = telegram_copy(slack, 301, "Track it here: https://track.example/123")
    await edit(slack, number, reply, "Track it here: https://track.example/456")
    edited = await slack.telegram.wait_for("editMessageText")
    assert edited[-1].params["chat_id"] == 301 and edited[-1].params["message_id"] == copy_id
    await slack.settle()
    assert (
        slack.telegram.messages[(301, copy_id)]["text"]
        == "Track it here: https://track.example/456"
    )
    assert reactions(slack, reply["event"]["ts"]) == ["white_check_mark", "pencil2"]
    assert notices(slack, number, "⚠️") == []
    # The ticket keeps the corrected text and the earlier one; its event log has the edit.
    async with slack.db.session() as session:
        ticket = await tickets.get_ticket(session, number)
        stored = await session.scalar(
            select(Message).where(Message.ticket_id == ticket.id, Message.author_kind == "agent")
        )
    assert stored is not None and stored.text == "Track it here: https://track.example/456"
    assert [e["text"] for e in stored.edits] == ["Track it here: https://track.example/123"]
    assert (
        "reply_edited",
        "edited in Slack: the customer's copy is being corrected",
    ) in await ticket_events(slack, number)
    # Edited again: applied after the first edit. Edited to what the customer already sees
    # (Slack's copy differed, e.g. formatting): nothing is sent.
    await edit(slack, number, reply, "Track it: https://track.example/789", before="x")
    await slack.telegram.wait_for("editMessageText", count=2)
    await edit(slack, number, reply, "Track it: https://track.example/789", before="y")
    await slack.settle()
    assert len(slack.telegram.calls_to("editMessageText")) == 2
    assert slack.telegram.messages[(301, copy_id)]["text"] == "Track it: https://track.example/789"


async def test_a_deleted_reply_is_deleted_from_the_customers_chat(slack: SlackDesk) -> None:
    number = await slack.hand_off(302)
    reply = await relay(slack, number, "Sorry, that was meant for another customer.")
    copy_id = telegram_copy(slack, 302, "Sorry, that was meant for another customer.")
    await delete(slack, number, reply)
    deleted = await slack.telegram.wait_for("deleteMessage")
    assert (deleted[-1].params["chat_id"], deleted[-1].params["message_id"]) == (302, copy_id)
    await slack.settle()
    assert (302, copy_id) not in slack.telegram.messages
    assert len(notices(slack, number, "deleted from the customer's chat too")) == 1
    assert (
        "reply_deleted",
        "deleted in Slack: the customer's copy is being deleted",
    ) in await ticket_events(slack, number)


async def test_what_telegram_refuses_is_said_once_in_the_thread(
    slack: SlackDesk, caplog: pytest.LogCaptureFixture
) -> None:
    number = await slack.hand_off(303)
    old = await relay(slack, number, "Your refund was approved.")
    slack.telegram.backdate(303, telegram_copy(slack, 303, "Your refund was approved."), hours=49)
    await delete(slack, number, old)
    refused = await slack.api.wait_for(
        "chat.postMessage", where=lambda c: "still sees" in c["text"]
    )
    await slack.settle()
    assert len(refused) == 1
    assert "48 hours" in refused[0]["text"] and "> Your refund was approved." in refused[0]["text"]
    assert [c.status for c in slack.telegram.attempts("deleteMessage")] == [400]  # not retried
    assert "Your refund was approved." in slack.telegram.texts(303)
    # An edit of a message the customer's chat no longer has.
    gone = await relay(slack, number, "We will call you at 5.")
    slack.telegram.fail(400, "Bad Request: message to edit not found", method="editMessageText")
    await edit(slack, number, gone, "We will call you at 6.")
    await slack.api.wait_for("chat.postMessage", count=2, where=lambda c: "still sees" in c["text"])
    await slack.settle()
    [notice] = notices(slack, number, "as it was before the edit")
    assert "no longer in the customer's Telegram chat" in notice
    kinds = [kind for kind, _ in await ticket_events(slack, number)]
    assert kinds.count("send_failed") == 2
    assert not [r for r in caplog.records if r.exc_info or r.levelno >= logging.ERROR]


async def test_message_is_not_modified_means_the_customer_already_sees_it(
    slack: SlackDesk,
) -> None:
    number = await slack.hand_off(304)
    reply = await relay(slack, number, "It ships today.")
    slack.telegram.fail(400, NOT_MODIFIED, method="editMessageText")
    await edit(slack, number, reply, "It ships today!")
    await slack.api.wait_for("reactions.add", where=lambda r: r["name"] == "pencil2")
    await slack.settle()
    assert notices(slack, number, "⚠️") == []


async def test_an_edit_before_the_reply_was_sent_is_sent_instead(slack: SlackDesk) -> None:
    number = await slack.hand_off(305)
    slack.telegram.rate_limit(retry_after=3, chat_id=305)  # the reply waits in the outbox
    reply = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), "See you on Mnoday.")
    await slack.event(reply)
    await _refused_once(slack, "sendMessage", 305)
    await edit(slack, number, reply, "See you on Monday.")
    await slack.settle(within=20)
    assert "See you on Monday." in slack.telegram.texts(305)
    assert "See you on Mnoday." not in slack.telegram.texts(305)
    assert slack.telegram.calls_to("editMessageText") == []
    assert "white_check_mark" in reactions(slack, reply["event"]["ts"])
    assert (
        "reply_edited",
        "edited in Slack before it was sent: the customer gets the new text",
    ) in await ticket_events(slack, number)


async def test_a_reply_deleted_before_it_was_sent_is_never_sent(slack: SlackDesk) -> None:
    number = await slack.hand_off(306)
    slack.telegram.rate_limit(retry_after=3, chat_id=306)
    reply = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), "Wrong customer, sorry!")
    await slack.event(reply)
    await _refused_once(slack, "sendMessage", 306)
    await delete(slack, number, reply)
    await slack.settle(within=20)
    await asyncio.sleep(3.5)  # past the rate limit: nothing else goes out
    assert "Wrong customer, sorry!" not in slack.telegram.texts(306)
    assert len(notices(slack, number, "before it reached the customer")) == 1
    async with slack.db.session() as session:
        rows = (await session.scalars(select(OutboxRow).where(OutboxRow.error == WITHDRAWN))).all()
    assert [r.state for r in rows] == ["failed"]


async def test_an_edit_while_the_reply_is_on_its_way_is_applied_after_it(
    slack: SlackDesk,
) -> None:
    number = await slack.hand_off(307)
    arrived = threading.Event()

    def slow_first_send(call: Call) -> None:  # runs in the fake's thread: delays its answer
        first = call.method == "sendMessage" and not arrived.is_set()
        if first and call.params.get("text") == "Call us at 555-0100.":
            arrived.set()
            time.sleep(1.5)

    slack.telegram.on_call.append(slow_first_send)
    reply = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), "Call us at 555-0100.")
    await slack.event(reply)
    assert await asyncio.to_thread(arrived.wait, 10)
    await edit(slack, number, reply, "Call us at 555-0199.")  # handled while it is sent
    await slack.telegram.wait_for("editMessageText", within=25)
    await slack.settle()
    copy_id = telegram_copy(slack, 307, "Call us at 555-0199.")
    assert slack.telegram.messages[(307, copy_id)]["text"] == "Call us at 555-0199."


async def test_notes_and_messages_never_relayed_are_answered_privately(slack: SlackDesk) -> None:
    number = await slack.hand_off(308)
    note = await relay(slack, number, "note: VIP, be generous")
    await edit(slack, number, note, "note: VIP, be very generous")
    await slack.settle()
    assert any("internal note" in t for t in private_to(slack, AGENT))
    refused = await relay(slack, number, "Let me answer!", user=STRANGER)
    await edit(slack, number, refused, "Let me answer this!")
    await slack.settle()
    assert any("never relayed" in t for t in private_to(slack, STRANGER))
    await delete(slack, number, note)
    await slack.settle()
    assert any("That was an internal note" in t for t in private_to(slack, AGENT))
    # A reply the customer has is not taken back by making it a note afterwards.
    sent = await relay(slack, number, "Your account is locked.")
    await edit(slack, number, sent, "note: account locked for fraud review")
    await slack.settle()
    assert any("cannot become a note" in t for t in private_to(slack, AGENT))
    assert slack.telegram.calls_to("editMessageText") == []
    assert slack.telegram.calls_to("deleteMessage") == []


async def test_bot_edits_and_other_threads_change_nothing(slack: SlackDesk) -> None:
    number = await slack.hand_off(309)
    reply = await relay(slack, number, "Done.")
    posts = len(slack.api.calls_to("chat.postMessage"))
    await edit(slack, number, reply, "Done!", bot_id="B12345678")
    other = "1700000000.000001"  # a thread that is no ticket's
    elsewhere = p.thread_reply(AGENT, TRIAGE, other, "Unrelated thread")
    await slack.event(elsewhere)
    ts = elsewhere["event"]["ts"]
    await slack.event(p.thread_edit(AGENT, TRIAGE, other, ts, "Unrelated!", before="Unrelated"))
    await slack.event(p.thread_delete(AGENT, TRIAGE, other, ts, "Unrelated!"))
    await slack.settle()
    assert slack.telegram.calls_to("editMessageText") == []
    assert len(slack.api.calls_to("chat.postMessage")) == posts
    assert slack.api.calls_to("chat.postEphemeral") == []


async def test_an_edit_of_a_reply_that_never_arrived_says_so(slack: SlackDesk) -> None:
    number = await slack.hand_off(310)
    slack.telegram.block(310)
    reply = await relay(slack, number, "Here is your code: 1234")
    await edit(slack, number, reply, "Here is your code: 4321")
    await slack.settle()
    [told] = [t for t in private_to(slack, AGENT) if "never received" in t]
    assert "blocked by the user" in told
    assert slack.telegram.attempts("editMessageText") == []


async def test_a_closed_ticket_still_gets_the_correction(slack: SlackDesk) -> None:
    number = await slack.hand_off(311)
    reply = await relay(slack, number, "Your new PIN is in the letter.")
    async with slack.db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        assert ticket is not None
        helpdesk = slack.services.helpdesk
        await helpdesk.resolve(session, ticket, actor="agent:test")
        await helpdesk.close(session, ticket, actor="agent:test")
        await session.commit()
    await edit(slack, number, reply, "Your new PIN is in the e-mail.")
    await slack.telegram.wait_for("editMessageText")
    await slack.settle()
    copy_id = telegram_copy(slack, 311, "Your new PIN is in the e-mail.")
    assert copy_id


async def test_a_slack_customer_sees_edits_and_deletions(slack: SlackDesk) -> None:
    await slack.event(p.dm_message("UCHG1", "DCHG1", "I want to talk to a person"))
    await slack.settle()
    async with slack.db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.chat_id == "DCHG1"))
    assert ticket is not None
    number = ticket.number

    def dm_ts(text: str) -> str:
        return next(
            str(answer["ts"])
            for params, answer in slack.api.answered("chat.postMessage")
            if params["channel"] == "DCHG1" and params["text"] == text
        )

    reply = await relay(slack, number, "Your invoice is at /billing.")
    ts = dm_ts("Your invoice is at /billing.")
    await edit(slack, number, reply, "Your invoice is at /account/billing.")
    await slack.api.wait_for("chat.update", where=lambda c: c["ts"] == ts)
    await slack.settle()
    assert slack.api.messages[("DCHG1", ts)]["text"] == "Your invoice is at /account/billing."
    await delete(slack, number, reply)
    await slack.api.wait_for("chat.delete")
    await slack.settle()
    assert ("DCHG1", ts) not in slack.api.messages
    assert len(notices(slack, number, "deleted from the customer's chat too")) == 1
    # Gone from the customer's DM already: Slack answers message_not_found.
    other = await relay(slack, number, "We refunded 10 EUR.")
    slack.api.messages.pop(("DCHG1", dm_ts("We refunded 10 EUR.")))
    await edit(slack, number, other, "We refunded 12 EUR.")
    await slack.api.wait_for("chat.postMessage", where=lambda c: "still sees" in c["text"])
    await slack.settle()
    [notice] = notices(slack, number, "still sees")
    assert "no longer in the customer's Slack DM (message_not_found)" in notice
    admin = [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == "CADMINS"]
    assert admin == []  # the thread was told; admins hear of refusals, not of these


async def _refused_once(slack: SlackDesk, method: str, chat_id: int) -> None:
    deadline = time.monotonic() + 10
    while not any(
        c.status == 429 and c.params.get("chat_id") == chat_id
        for c in slack.telegram.attempts(method)
    ):
        assert time.monotonic() < deadline, f"{method} to {chat_id} was not refused"
        await asyncio.sleep(0.02)


async def test_a_slack_customers_own_edit_updates_the_ticket(slack: SlackDesk) -> None:
    first = p.dm_message("UCHG2", "DCHG2", "I want to talk to a person about order 1234")
    await slack.event(first)
    await slack.settle()
    ts = first["event"]["ts"]
    await slack.event(
        p.dm_edit(
            "UCHG2",
            "DCHG2",
            ts,
            "I want to talk to a person about order 1243",
            "I want to talk to a person about order 1234",
        )
    )
    await slack.settle()
    async with slack.db.session() as session:
        [stored] = (
            await session.scalars(
                select(Message).where(Message.author_id == "UCHG2", Message.direction == "in")
            )
        ).all()
    assert stored.platform_id == f"DCHG2:{ts}"
    assert stored.text == "I want to talk to a person about order 1243"
    assert [e["text"] for e in stored.edits] == ["I want to talk to a person about order 1234"]
