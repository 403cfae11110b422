"""The agents' workspace: card and thread per ticket, replies relayed, notes kept, drafts sent."""

from __future__ import annotations

import json

from sqlalchemy import select

from bots.slack.blocks import EDIT_BLOCK, EDIT_CALLBACK, EDIT_INPUT, draft_blocks
from bots.slack.models import SlackThread
from tests.fakes import slack_payloads as p
from tests.integration.slack.conftest import AGENT, GROUP_AGENT, STRANGER, TRIAGE, SlackDesk
from tickets import service as tickets
from tickets.models import Message


async def messages(slack: SlackDesk, number: int) -> list[Message]:
    async with slack.db.session() as session:
        ticket = await tickets.get_ticket(session, number)
        return list(
            (await session.scalars(select(Message).where(Message.ticket_id == ticket.id))).all()
        )


def in_thread(slack: SlackDesk, thread_ts: str) -> list[dict[str, object]]:
    return [c for c in slack.api.calls_to("chat.postMessage") if c.get("thread_ts") == thread_ts]


async def test_hand_off_posts_the_card_then_the_thread(slack: SlackDesk) -> None:
    number = await slack.open_ticket(text="My parcel is late")
    card_ts = await slack.hand_off(number)
    card = next(c for c in slack.api.calls_to("chat.postMessage") if not c.get("thread_ts"))
    assert card["channel"] == TRIAGE
    assert card["blocks"][0]["text"]["text"] == f"#{number} My parcel is late"
    async with slack.db.session() as session:
        row = await session.scalar(select(SlackThread).where(SlackThread.ticket_number == number))
    assert row is not None and (row.channel, row.card_ts) == (TRIAGE, card_ts)
    thread = in_thread(slack, card_ts)
    assert [c["text"].split("\n")[0] for c in thread][:1] == ["*👤 Customer*"]
    assert "My parcel is late" in str(thread[0]["text"])
    draft = thread[1]
    labels = [e["text"]["text"] for e in draft["blocks"][-1]["elements"]]
    assert labels == ["Send", "Edit", "Regenerate", "Shorter", "Friendlier", "Formal", "Translate"]


async def test_agent_thread_reply_reaches_the_telegram_customer(slack: SlackDesk) -> None:
    number = await slack.open_ticket(chat_id="424242")
    card_ts = await slack.hand_off(number, draft=None)
    reply = p.thread_reply(AGENT, TRIAGE, card_ts, "We have found your parcel, it ships today.")
    assert (await slack.event(reply)).status_code == 200
    sent = await slack.telegram.wait_for("sendMessage")
    assert sent[-1].params["chat_id"] == 424242
    assert sent[-1].params["text"] == "We have found your parcel, it ships today."
    await slack.settle()
    reaction = await slack.api.wait_for("reactions.add")
    assert reaction[-1] == {
        "channel": TRIAGE,
        "timestamp": reply["event"]["ts"],
        "name": "white_check_mark",
    }
    stored = [m for m in await messages(slack, number) if m.author_kind == "agent"]
    assert [(m.text, m.internal, m.author_id) for m in stored] == [
        ("We have found your parcel, it ships today.", False, AGENT)
    ]
    assert slack.api.calls_to("chat.update"), "the card is refreshed after the reply"


async def test_a_note_stays_internal(slack: SlackDesk) -> None:
    number = await slack.open_ticket(chat_id="515151")
    card_ts = await slack.hand_off(number, draft=None)
    note = p.thread_reply(AGENT, TRIAGE, card_ts, "note: customer is a VIP, be generous")
    await slack.event(note)
    await slack.settle()
    assert slack.telegram.calls_to("sendMessage") == []
    stored = [m for m in await messages(slack, number) if m.author_kind == "agent"]
    assert [(m.text, m.internal) for m in stored] == [("customer is a VIP, be generous", True)]
    reactions = await slack.api.wait_for("reactions.add")
    assert reactions[-1]["name"] == "memo"


async def test_a_user_group_member_may_reply(slack: SlackDesk) -> None:
    number = await slack.open_ticket(chat_id="616161")
    card_ts = await slack.hand_off(number, draft=None)
    await slack.event(p.thread_reply(GROUP_AGENT, TRIAGE, card_ts, "On it."))
    sent = await slack.telegram.wait_for("sendMessage")
    assert sent[-1].params["text"] == "On it."
    assert slack.api.calls_to("usergroups.users.list") == [{"usergroup": "SPAYMENTS"}]


async def test_a_non_agent_is_refused_privately_and_nothing_changes(slack: SlackDesk) -> None:
    number = await slack.open_ticket(chat_id="717171")
    card_ts = await slack.hand_off(number, draft=None)
    before = len(await messages(slack, number))
    updates_before = len(slack.api.calls_to("chat.update"))
    await slack.event(p.thread_reply(STRANGER, TRIAGE, card_ts, "Let me answer that!"))
    press = p.block_action(STRANGER, TRIAGE, "desk:assign", str(number), message_ts=card_ts)
    await slack.interact(press)
    await slack.settle()
    refusals = slack.api.calls_to("chat.postEphemeral")
    assert len(refusals) == 2
    assert all(
        r["user"] == STRANGER and "Only agents of the payments" in r["text"] for r in refusals
    )
    assert slack.telegram.calls_to("sendMessage") == []
    assert len(await messages(slack, number)) == before
    assert len(slack.api.calls_to("chat.update")) == updates_before
    async with slack.db.session() as session:
        ticket = await tickets.get_ticket(session, number)
        assert ticket.assignee is None


async def test_send_relays_the_draft_and_marks_it_sent(slack: SlackDesk) -> None:
    number = await slack.open_ticket(chat_id="818181")
    card_ts = await slack.hand_off(number, draft="Hello Ada, your parcel ships today.")
    draft_call = in_thread(slack, card_ts)[-1]
    draft_ts = next(a["ts"] for c, a in slack.api.answered("chat.postMessage") if c is draft_call)
    press = p.block_action(
        AGENT,
        TRIAGE,
        "desk:send",
        f"{number}:1",
        message_ts=str(draft_ts),
        thread_ts=card_ts,
        blocks=draft_call["blocks"],
    )  # type: ignore[arg-type]
    await slack.interact(press)
    sent = await slack.telegram.wait_for("sendMessage")
    assert sent[-1].params["text"] == "Hello Ada, your parcel ships today."
    await slack.settle()
    replaced = [u for u in slack.api.calls_to("chat.update") if u["ts"] == draft_ts]
    assert replaced and "Sent to the customer" in json.dumps(replaced[-1]["blocks"])
    assert "elements" not in json.dumps(replaced[-1]["blocks"])  # no buttons: no double send


async def test_edit_opens_a_prefilled_modal_and_its_submit_sends(slack: SlackDesk) -> None:
    number = await slack.open_ticket(chat_id="919191")
    card_ts = await slack.hand_off(number, draft=None)
    blocks = draft_blocks({"ticket_number": number, "draft_id": "5", "text": "Dear Ada, hi."})
    press = p.block_action(
        AGENT,
        TRIAGE,
        "desk:edit",
        f"{number}:5",
        message_ts="999.1",
        thread_ts=card_ts,
        blocks=blocks,
    )
    await slack.interact(press)
    opened = await slack.api.wait_for("views.open")
    assert opened[-1]["trigger_id"] == press["trigger_id"]
    view = opened[-1]["view"]
    assert view["blocks"][0]["element"]["initial_value"] == "Dear Ada, hi."
    submit = p.view_submission(
        AGENT,
        EDIT_CALLBACK,
        view["private_metadata"],
        {EDIT_BLOCK: {EDIT_INPUT: {"type": "plain_text_input", "value": "Dear Ada, fixed."}}},
    )
    response = await slack.interact(submit)
    assert response.status_code == 200 and response.text == ""  # closes the modal
    sent = await slack.telegram.wait_for("sendMessage")
    assert sent[-1].params["text"] == "Dear Ada, fixed."
    await slack.settle()
    assert any(
        u["ts"] == "999.1" and "Dear Ada, fixed." in json.dumps(u["blocks"])
        for u in slack.api.calls_to("chat.update")
    )
