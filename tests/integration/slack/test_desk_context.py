"""What agents read on a card and in its thread after the hand-off: who is waiting, the
ticket a follow-up continues, and the conversation of a ticket moved to another department."""

from __future__ import annotations

import json
from typing import Any

from tests.fakes import slack_payloads as p
from tests.integration.slack.conftest import AGENT, TRIAGE, SlackDesk
from tickets import service as tickets


def card_updates(slack: SlackDesk, number: int) -> list[dict[str, Any]]:
    ts = slack.card_ts(number)
    return [u for u in slack.api.calls_to("chat.update") if u["ts"] == ts]


def press(slack: SlackDesk, number: int, action: str, value: str) -> dict[str, Any]:
    return p.block_action(
        AGENT, TRIAGE, f"desk:{action}", value, message_ts=slack.card_ts(number), selected=True
    )


def posted_card(slack: SlackDesk, number: int, channel: str = TRIAGE) -> dict[str, Any]:
    return next(
        params
        for params in slack.api.calls_to("chat.postMessage")
        if params["channel"] == channel
        and not params.get("thread_ts")
        and f"#{number} " in json.dumps(params.get("blocks"))
    )


async def test_the_hand_off_summary_says_an_agent_is_awaited(slack: SlackDesk) -> None:
    """The bot's "passing this to a person" is the last message at a hand-off; it answers no
    one, so the customer is the one waiting (the summary said "Waiting for: the customer")."""
    number = await slack.hand_off(601, "My parcel 4411 never came, I need a person")
    async with slack.db.session() as session:
        summary = (await tickets.get_ticket(session, number)).summary
    assert "Customer wrote:" in summary and summary.endswith("- Waiting for: an agent")
    await slack.interact(press(slack, number, "assign", str(number)))  # any card update
    await slack.settle()
    latest = json.dumps(card_updates(slack, number)[-1]["blocks"], ensure_ascii=False)
    assert "Waiting for: an agent" in latest and "Waiting for: the customer" not in latest


async def test_a_follow_up_tickets_card_names_the_ticket_it_follows(slack: SlackDesk) -> None:
    first = await slack.hand_off(602, "My parcel 4412 never came, I need a person")
    await slack.interact(press(slack, first, "resolve", str(first)))
    await slack.settle()
    async with slack.db.session() as session:
        closing = await tickets.get_ticket(session, first)
        await slack.services.helpdesk.close(session, closing, actor="system", reason="window")
        await session.commit()
    second = await slack.hand_off(602, "The parcel came broken, I need a person")
    assert second != first
    customer = posted_card(slack, second)["blocks"][1]["fields"][0]["text"]
    assert customer.endswith(f"\nfollow-up of #{first} · 1 previous ticket")
    first_customer = posted_card(slack, first)["blocks"][1]["fields"][0]["text"]
    assert "follow-up" not in first_customer and "previous" not in first_customer


async def test_a_ticket_moved_to_another_department_takes_its_conversation(
    slack: SlackDesk,
) -> None:
    number = await slack.hand_off(603, "My parcel 4413 never came, I need a person")
    old_ts = slack.card_ts(number)
    for text in ("Which address was it sent to?", "note: courier says delivered"):
        await slack.event(p.thread_reply(AGENT, TRIAGE, old_ts, text))
        await slack.settle()  # one after the other, as people write
    await slack.customer_writes(603, "Main Street 5, Oslo")
    await slack.settle()
    await slack.interact(press(slack, number, "escalate", f"{number}:department:orders"))
    await slack.settle()
    posts = slack.api.calls_to("chat.postMessage")
    # the thread the payments agents worked in says where the ticket went
    old_thread = [
        c["text"] for c in posts if c["channel"] == TRIAGE and c.get("thread_ts") == old_ts
    ]
    assert old_thread[-1].startswith(f"⬆️ Escalated by <@{AGENT}>: department payments -> orders")
    assert "now in <#CORDERS>" in old_thread[-1]
    # the orders agents' new thread has the conversation so far, then the escalation
    new_ts = slack.api.answered("chat.postMessage")
    card_ts = next(
        str(answer["ts"])
        for params, answer in new_ts
        if params["channel"] == "CORDERS" and not params.get("thread_ts")
    )
    new_thread = [
        c["text"] for c in posts if c["channel"] == "CORDERS" and c.get("thread_ts") == card_ts
    ]
    assert [t.split("\n", 1)[-1] for t in new_thread[:4]] == [
        "My parcel 4413 never came, I need a person",
        "Which address was it sent to?",
        "courier says delivered",
        "Main Street 5, Oslo",
    ]
    assert new_thread[1].startswith("*🧑‍💼 Agent*\n")
    assert new_thread[2].startswith("*🧑‍💼 Agent* (internal note)\n")
    assert new_thread[4].startswith(f"⬆️ Escalated by <@{AGENT}>: department payments -> orders")
