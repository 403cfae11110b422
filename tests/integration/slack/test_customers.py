"""Customers in Slack: DMs to the bot go through the same engine as any channel."""

from __future__ import annotations

import json
from typing import Any

from sqlalchemy import select

from knowledge import demo
from tests.fakes import slack_payloads as p
from tests.integration.slack.conftest import AGENT, TRIAGE, SlackDesk
from tickets.models import CsatRating, Ticket


def dm_posts(slack: SlackDesk, channel: str) -> list[dict[str, Any]]:
    return [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == channel]


def buttons(post: dict[str, Any]) -> list[dict[str, Any]]:
    return [e for b in post.get("blocks") or [] if b["type"] == "actions" for e in b["elements"]]


async def test_kb_answer_in_a_dm_has_feedback_buttons(slack: SlackDesk) -> None:
    knowledge = slack.services.knowledge
    assert knowledge is not None
    await knowledge.load_demo()
    question = None
    for text, expected, language in demo.questions():
        if expected and language == "en" and (await knowledge.answer(text, "en")).answered:
            question = text
            break
    assert question is not None, "the demo knowledge base answers none of its questions"
    await slack.event(p.dm_message("UKB1", "DKB1", question))
    await slack.settle()
    answer = dm_posts(slack, "DKB1")[-1]
    ids = [b["action_id"] for b in buttons(answer)]
    assert ids == ["customer:kb_helped:0", "customer:kb_human:1"]
    # 👎 hands the customer to a person: a ticket and its card in the triage channel.
    thumbs_down = buttons(answer)[1]
    await slack.interact(
        p.block_action(
            "UKB1", "DKB1", "customer:kb_human:1", thumbs_down["value"], message_ts="1.1"
        )
    )
    await slack.settle()
    async with slack.db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.chat_id == "DKB1"))
    assert ticket is not None
    assert f"#{ticket.number}" in dm_posts(slack, "DKB1")[-1]["text"]
    assert slack.card_ts(ticket.number)


async def test_dm_hand_off_agent_reply_and_csat(slack: SlackDesk) -> None:
    await slack.event(p.dm_message("UDM1", "DDM1", "I want to talk to a person about my invoice"))
    await slack.settle()
    async with slack.db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.chat_id == "DDM1"))
    assert ticket is not None and ticket.channel == "slack"
    number = ticket.number
    assert f"#{number}" in dm_posts(slack, "DDM1")[-1]["text"]
    card = slack.card_ts(number)
    reply = p.thread_reply(AGENT, TRIAGE, card, "Your invoice is attached to your account now.")
    await slack.event(reply)
    await slack.settle()
    assert dm_posts(slack, "DDM1")[-1]["text"] == "Your invoice is attached to your account now."
    reactions = slack.api.calls_to("reactions.add")
    assert {
        "channel": TRIAGE,
        "timestamp": reply["event"]["ts"],
        "name": "white_check_mark",
    } in reactions
    await slack.interact(
        p.block_action(AGENT, TRIAGE, "desk:resolve", str(number), message_ts=card)
    )
    await slack.settle()
    ask = dm_posts(slack, "DDM1")[-1]
    stars = buttons(ask)
    assert [b["action_id"] for b in stars] == [f"customer:csat:{i}" for i in range(5)]
    assert [b["value"] for b in stars] == [f"{number}:{score}" for score in range(1, 6)]
    await slack.interact(
        p.block_action("UDM1", "DDM1", "customer:csat:3", f"{number}:4", message_ts="2.2")
    )
    await slack.settle()
    async with slack.db.session() as session:
        rating = await session.scalar(select(CsatRating).where(CsatRating.ticket_id == ticket.id))
    assert rating is not None and rating.score == 4
    assert "Thank you" in json.dumps(dm_posts(slack, "DDM1")[-1])


async def test_a_file_from_a_slack_customer_is_uploaded_to_the_thread(slack: SlackDesk) -> None:
    await slack.event(p.dm_message("UFILE", "DFILE", "I want to talk to a person"))
    await slack.settle()
    async with slack.db.session() as session:
        ticket = await session.scalar(select(Ticket).where(Ticket.chat_id == "DFILE"))
    assert ticket is not None
    card = slack.card_ts(ticket.number)
    file = {"id": "F0SCREEN1", "name": "screenshot.png", "mimetype": "image/png", "size": 9}
    await slack.event(p.dm_message("UFILE", "DFILE", "here is a screenshot", files=[file]))
    await slack.settle()
    assert slack.api.calls_to("files.info") == [{"file": "F0SCREEN1"}]
    assert slack.api.uploads == [b"file:F0SCREEN1"]  # the bytes Slack served, uploaded again
    completed = slack.api.calls_to("files.completeUploadExternal")
    assert len(completed) == 1
    assert completed[0]["channel_id"] == TRIAGE and completed[0]["thread_ts"] == card
    mirrored = [c for c in slack.thread(ticket.number) if "here is a screenshot" in c["text"]]
    assert len(mirrored) == 1
