"""The agents' workspace, end to end: a Telegram customer hands off, agents work in Slack.

Everything goes through the real pipeline: the Telegram webhook, the conversation engine, the
outbox, slack_sdk against the fake Web API, and signed requests through slack-bolt.
"""

from __future__ import annotations

import asyncio
import json
import time
from pathlib import Path
from typing import Any

from sqlalchemy import select

from bots.slack.blocks import EDIT_BLOCK, EDIT_CALLBACK, EDIT_INPUT
from bots.slack.models import SlackThread
from drafting.models import Draft
from knowledge.models import Article
from tests.fakes import slack_payloads as p
from tests.integration.knowledge.conftest import write_articles
from tests.integration.slack.conftest import (
    ADMIN,
    AGENT,
    GROUP_AGENT,
    STRANGER,
    TRIAGE,
    SlackDesk,
)
from tickets import service as tickets
from tickets.events import events_of
from tickets.models import Message, Ticket


async def ticket(slack: SlackDesk, number: int) -> Ticket:
    async with slack.db.session() as session:
        return await tickets.get_ticket(session, number)


async def agent_messages(slack: SlackDesk, number: int) -> list[Message]:
    found = await ticket(slack, number)
    async with slack.db.session() as session:
        rows = await session.scalars(
            select(Message).where(Message.ticket_id == found.id, Message.author_kind == "agent")
        )
        return list(rows.all())


def card_updates(slack: SlackDesk, number: int) -> list[dict[str, Any]]:
    ts = slack.card_ts(number)
    return [u for u in slack.api.calls_to("chat.update") if u["ts"] == ts]


def shown(update: dict[str, Any]) -> str:
    return json.dumps(update["blocks"], ensure_ascii=False)


def press(
    slack: SlackDesk, number: int, action: str, value: str, user: str = AGENT, **extra: Any
) -> dict[str, Any]:
    return p.block_action(
        user, TRIAGE, f"desk:{action}", value, message_ts=slack.card_ts(number), **extra
    )


async def test_hand_off_posts_the_card_then_the_thread(slack: SlackDesk) -> None:
    number = await slack.hand_off(111, "My parcel is late, I want to talk to a person")
    card = next(
        c
        for c in slack.api.calls_to("chat.postMessage")
        if c["channel"] == TRIAGE and not c.get("thread_ts")
    )
    header = card["blocks"][0]["text"]["text"]
    assert header.startswith(f"#{number} ")
    fields = json.dumps(card["blocks"][1], ensure_ascii=False)
    for expected in ("telegram", "en", "payments", "L1", "unassigned", "SLA"):
        assert expected in fields
    async with slack.db.session() as session:
        row = await session.scalar(select(SlackThread).where(SlackThread.ticket_number == number))
    assert row is not None and (row.channel, row.card_ts) == (TRIAGE, slack.card_ts(number))
    thread = slack.thread(number)
    assert "*👤 Customer*" in thread[0]["text"]
    assert "My parcel is late" in thread[0]["text"]
    draft, _ts = slack.draft_post(number)
    labels = [e["text"]["text"] for e in draft["blocks"][-1]["elements"]]
    assert labels == ["Send", "Edit", "Regenerate", "Shorter", "Friendlier", "Formal", "Translate"]
    assert "offline draft" in json.dumps(draft["blocks"])  # no model configured: says so


async def test_customer_follow_up_is_mirrored_in_order(slack: SlackDesk) -> None:
    number = await slack.hand_off(112)
    await slack.customer_writes(112, "The order number is 5531.")
    await slack.customer_writes(112, "It was due on Monday.")
    await slack.settle()
    mirrored = [c["text"] for c in slack.thread(number) if "*👤 Customer*" in c["text"]]
    assert [m.split("\n", 1)[1] for m in mirrored[-2:]] == [
        "The order number is 5531.",
        "It was due on Monday.",
    ]


async def test_agent_thread_reply_reaches_the_telegram_customer(slack: SlackDesk) -> None:
    number = await slack.hand_off(113)
    reply = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), "We found it, it ships today.")
    assert (await slack.event(reply)).status_code == 200
    sent = await slack.telegram.wait_for(
        "sendMessage", where=lambda c: c.params["text"] == "We found it, it ships today."
    )
    assert sent[-1].params["chat_id"] == 113
    await slack.settle()
    reactions = await slack.api.wait_for("reactions.add")
    assert reactions[-1] == {
        "channel": TRIAGE,
        "timestamp": reply["event"]["ts"],
        "name": "white_check_mark",
    }
    stored = await agent_messages(slack, number)
    assert [(m.text, m.internal, m.author_id) for m in stored] == [
        ("We found it, it ships today.", False, AGENT)
    ]
    assert (await ticket(slack, number)).first_response_at is not None
    assert card_updates(slack, number), "the card is refreshed after the reply"


async def test_a_note_stays_internal(slack: SlackDesk) -> None:
    number = await slack.hand_off(114)
    before = len(slack.telegram.calls_to("sendMessage"))
    note = p.thread_reply(AGENT, TRIAGE, slack.card_ts(number), "note: VIP, be generous")
    await slack.event(note)
    await slack.settle()
    assert len(slack.telegram.calls_to("sendMessage")) == before
    stored = await agent_messages(slack, number)
    assert [(m.text, m.internal) for m in stored] == [("VIP, be generous", True)]
    reactions = await slack.api.wait_for("reactions.add")
    assert reactions[-1]["name"] == "memo"


async def test_a_user_group_member_may_reply(slack: SlackDesk) -> None:
    number = await slack.hand_off(115)
    await slack.event(p.thread_reply(GROUP_AGENT, TRIAGE, slack.card_ts(number), "On it."))
    sent = await slack.telegram.wait_for(
        "sendMessage", where=lambda c: c.params["text"] == "On it."
    )
    assert sent[-1].params["chat_id"] == 115
    assert {"usergroup": "SPAYMENTS"} in slack.api.calls_to("usergroups.users.list")


async def test_a_non_agent_is_refused_privately_and_nothing_changes(slack: SlackDesk) -> None:
    number = await slack.hand_off(116)
    before_tg = len(slack.telegram.calls_to("sendMessage"))
    before_updates = len(card_updates(slack, number))
    await slack.event(p.thread_reply(STRANGER, TRIAGE, slack.card_ts(number), "Let me answer!"))
    await slack.interact(press(slack, number, "assign", str(number), user=STRANGER))
    await slack.interact(press(slack, number, "resolve", str(number), user=STRANGER))
    await slack.settle()
    refusals = slack.api.calls_to("chat.postEphemeral")
    assert len(refusals) == 3
    assert all(
        r["user"] == STRANGER and "Only agents of the payments" in r["text"] for r in refusals
    )
    assert len(slack.telegram.calls_to("sendMessage")) == before_tg
    assert await agent_messages(slack, number) == []
    assert len(card_updates(slack, number)) == before_updates
    after = await ticket(slack, number)
    assert (after.assignee, after.status) == (None, "new")


async def test_send_relays_the_draft_and_marks_it_sent(slack: SlackDesk) -> None:
    number = await slack.hand_off(117)
    draft, draft_ts = slack.draft_post(number)
    value = draft["blocks"][-1]["elements"][0]["value"]
    await slack.interact(
        p.block_action(
            AGENT,
            TRIAGE,
            "desk:send",
            value,
            message_ts=draft_ts,
            thread_ts=slack.card_ts(number),
            blocks=draft["blocks"],
        )
    )
    await slack.settle()
    draft_id = int(value.split(":")[1])
    async with slack.db.session() as session:
        row = await session.get(Draft, draft_id)
    assert row is not None and row.outcome in ("sent_as_is", "sent")
    sent = slack.telegram.calls_to("sendMessage")
    assert sent[-1].params["text"] == row.text
    replaced = [u for u in slack.api.calls_to("chat.update") if u["ts"] == draft_ts]
    assert replaced and "Sent to the customer" in shown(replaced[-1])
    assert "desk:send" not in shown(replaced[-1])  # no buttons left: no double send


async def test_edit_opens_a_prefilled_modal_and_its_submit_sends(slack: SlackDesk) -> None:
    number = await slack.hand_off(118)
    draft, draft_ts = slack.draft_post(number)
    value = draft["blocks"][-1]["elements"][1]["value"]
    click = p.block_action(
        AGENT,
        TRIAGE,
        "desk:edit",
        value,
        message_ts=draft_ts,
        thread_ts=slack.card_ts(number),
        blocks=draft["blocks"],
    )
    await slack.interact(click)
    opened = await slack.api.wait_for("views.open")
    assert opened[-1]["trigger_id"] == click["trigger_id"]
    view = opened[-1]["view"]
    async with slack.db.session() as session:
        row = await session.get(Draft, int(value.split(":")[1]))
    assert row is not None
    assert view["blocks"][0]["element"]["initial_value"] == row.text
    submit = p.view_submission(
        AGENT,
        EDIT_CALLBACK,
        view["private_metadata"],
        {EDIT_BLOCK: {EDIT_INPUT: {"type": "plain_text_input", "value": "Dear Ada, fixed."}}},
    )
    response = await slack.interact(submit)
    assert response.status_code == 200 and response.text == ""  # closes the modal
    sent = await slack.telegram.wait_for(
        "sendMessage", where=lambda c: c.params["text"] == "Dear Ada, fixed."
    )
    assert sent[-1].params["chat_id"] == 118
    await slack.settle()
    assert any(
        u["ts"] == draft_ts and "Dear Ada, fixed." in shown(u)
        for u in slack.api.calls_to("chat.update")
    )
    async with slack.db.session() as session:
        row = await session.get(Draft, row.id)
    assert row is not None and row.outcome == "edited" and row.sent_text == "Dear Ada, fixed."


async def test_regenerate_and_tone_buttons_replace_the_draft(slack: SlackDesk) -> None:
    number = await slack.hand_off(119)
    draft, draft_ts = slack.draft_post(number)
    value = draft["blocks"][-1]["elements"][0]["value"]
    first_id = int(value.split(":")[1])
    for action in ("regenerate", "shorter", "friendlier", "formal"):
        current = [u for u in slack.api.calls_to("chat.update") if u["ts"] == draft_ts]
        blocks = current[-1]["blocks"] if current else draft["blocks"]
        current_value = blocks[-1]["elements"][0]["value"]
        await slack.interact(
            p.block_action(
                AGENT,
                TRIAGE,
                f"desk:{action}",
                current_value,
                message_ts=draft_ts,
                thread_ts=slack.card_ts(number),
                blocks=blocks,
            )
        )
        await slack.settle()
    updates = [u for u in slack.api.calls_to("chat.update") if u["ts"] == draft_ts]
    assert len(updates) == 4
    ids = [int(u["blocks"][-1]["elements"][0]["value"].split(":")[1]) for u in updates]
    assert len(set(ids)) == 4 and first_id not in ids
    async with slack.db.session() as session:
        rows = {d.id: d for d in (await session.scalars(select(Draft))).all()}
    assert rows[first_id].outcome == "regenerated"
    assert [rows[i].tone for i in ids] == [None, "shorter", "friendlier", "formal"]
    assert [rows[i].parent_id for i in ids] == [first_id, *ids[:3]]


async def test_assign_escalate_pending_resolve_update_the_card(slack: SlackDesk) -> None:
    number = await slack.hand_off(120)
    await slack.interact(press(slack, number, "assign", str(number)))
    await slack.settle()
    assert f"<@{AGENT}>" in shown(card_updates(slack, number)[-1])
    await slack.interact(press(slack, number, "escalate", f"{number}:tier:L2", selected=True))
    await slack.settle()
    assert "· L2" in shown(card_updates(slack, number)[-1])
    announced = [c for c in slack.api.calls_to("chat.postMessage") if c["channel"] == "CPAYL2"]
    assert announced and f"#{number}" in announced[-1]["text"]
    await slack.interact(press(slack, number, "pending", str(number)))
    await slack.settle()
    assert "pending" in shown(card_updates(slack, number)[-1])
    told = slack.telegram.calls_to("sendMessage")[-1].params
    assert told["chat_id"] == 120 and f"#{number}" in told["text"]
    await slack.interact(press(slack, number, "resolve", str(number)))
    await slack.settle()
    last = shown(card_updates(slack, number)[-1])
    assert "resolved" in last and "desk:resolve" not in last
    csat = slack.telegram.calls_to("sendMessage")[-1].params
    buttons = [b["callback_data"] for row in csat["reply_markup"]["inline_keyboard"] for b in row]
    assert buttons == [f"csat:{number}:{score}" for score in range(1, 6)]
    final = await ticket(slack, number)
    assert (final.tier, final.status) == ("L2", "resolved")


async def test_escalating_to_another_department_moves_the_card(slack: SlackDesk) -> None:
    number = await slack.hand_off(121)
    await slack.interact(
        press(slack, number, "escalate", f"{number}:department:orders", selected=True)
    )
    await slack.settle()
    new_cards = [
        c
        for c in slack.api.calls_to("chat.postMessage")
        if c["channel"] == "CORDERS" and not c.get("thread_ts")
    ]
    assert len(new_cards) == 1 and f"#{number} " in new_cards[0]["blocks"][0]["text"]["text"]
    async with slack.db.session() as session:
        row = await session.scalar(select(SlackThread).where(SlackThread.ticket_number == number))
    assert row is not None and row.channel == "CORDERS"
    assert (await ticket(slack, number)).department == "orders"


async def test_save_as_kb_draft_stores_a_draft_article(slack: SlackDesk) -> None:
    number = await slack.hand_off(122)
    await slack.interact(press(slack, number, "save_kb", str(number)))
    await slack.settle()
    async with slack.db.session() as session:
        articles = (await session.scalars(select(Article))).all()
    assert len(articles) == 1 and articles[0].status == "draft"
    notice = slack.thread(number)[-1]["text"]
    assert articles[0].slug in notice and "Knowledge base draft" in notice


async def test_slash_command_ticket_answers_privately(slack: SlackDesk) -> None:
    number = await slack.hand_off(123)
    url = slack.api.response_url("cmd1")
    await slack.command(p.slash_command(AGENT, TRIAGE, f"ticket {number}", response_url=url))
    await slack.command(p.slash_command(AGENT, TRIAGE, "report week", response_url=url))
    await slack.command(p.slash_command(AGENT, TRIAGE, "ticket 99999", response_url=url))
    await slack.settle()
    answers = slack.api.calls_to("response_url")
    assert [a["response_type"] for a in answers] == ["ephemeral"] * 3
    assert f"Ticket #{number}" in answers[0]["text"] and answers[0]["blocks"]
    assert "for admins" in answers[1]["text"]
    assert "no ticket #99999" in answers[2]["text"]


async def test_only_those_who_may_work_a_ticket_see_its_card(slack: SlackDesk) -> None:
    """The card names and quotes the customer; any workspace user could show it before."""
    number = await slack.hand_off(126, "My name is Ada Lovelace and my parcel is late")
    url = slack.api.response_url("cmd3")
    for user in (STRANGER, GROUP_AGENT, ADMIN):
        await slack.command(p.slash_command(user, TRIAGE, f"ticket {number}", response_url=url))
        await slack.settle()
    stranger, member, admin = slack.api.calls_to("response_url")
    assert stranger["text"] == (
        f"Only agents of the payments department can act on ticket #{number}."
    )
    assert not stranger.get("blocks") and "Ada" not in json.dumps(stranger)
    for allowed in (member, admin):
        assert f"Ticket #{number}" in allowed["text"] and "Ada" in json.dumps(allowed["blocks"])


async def test_admin_commands_answer_admins(slack: SlackDesk) -> None:
    await slack.hand_off(124)
    url = slack.api.response_url("cmd2")
    for text in ("gaps", "kb search parcel", "kb", "help"):
        await slack.command(p.slash_command(ADMIN, "CADMINS", text, response_url=url))
        await slack.settle()
    gaps, search, kb_usage, usage = (a["text"] for a in slack.api.calls_to("response_url"))
    assert "No knowledge gaps" in gaps or "did not answer" in gaps
    assert "parcel" in search  # no article matches, or the matching ones are listed
    assert "Usage: `/relaydesk kb search TEXT`" in kb_usage
    assert "/relaydesk ticket N" in usage


async def test_admins_teach_the_knowledge_base_a_wording(slack: SlackDesk, tmp_path: Path) -> None:
    kb = slack.services.knowledge
    assert kb is not None
    await kb.import_path(write_articles(tmp_path / "articles"))
    await slack.customer_writes(4242, "Do you sell gift vouchers?")  # a draft answers that
    await slack.settle()
    url = slack.api.response_url("cmd4")
    for user, text in (
        (ADMIN, "gaps"),
        (AGENT, "kb teach delivery-time where has my parcel got to"),
        (ADMIN, "kb teach delivery-time where has my parcel got to"),
        (ADMIN, "kb teach delivery-time Where has my parcel  got to"),
        (ADMIN, "kb teach payments do you take cash"),
        (ADMIN, "kb teach delivery-time"),
    ):
        await slack.command(p.slash_command(user, "CADMINS", text, response_url=url))
        await slack.settle()
    answers = slack.api.calls_to("response_url")
    assert [a["response_type"] for a in answers] == ["ephemeral"] * 6
    gaps, refused, taught, known, unknown, usage = (a["text"] for a in answers)
    assert "• 1× Do you sell gift vouchers?" in gaps
    assert gaps.endswith("`/relaydesk kb teach SLUG QUESTION` adds the wording.")
    assert "`/relaydesk kb teach` is for admins" in refused
    assert taught.startswith("📚 Taught “where has my parcel got to” to `delivery-time`")
    assert "already an example question of `delivery-time`" in known
    assert "Nothing was taught: no article with slug 'payments'" in unknown
    assert "Usage: `/relaydesk kb teach SLUG QUESTION`" in usage
    history = await kb.history("delivery-time")
    assert [(v.author, v.change) for v in history] == [
        ("admin", "created"),
        (f"slack:{ADMIN}", "taught 1 example question"),
    ]
    assert (await kb.article("delivery-time")).questions[-1] == "where has my parcel got to"


async def test_admins_teach_the_bot_a_tickets_question_from_its_card(
    slack: SlackDesk, tmp_path: Path
) -> None:
    kb = slack.services.knowledge
    assert kb is not None
    question = "My parcel is late, I need a person"
    number = await slack.hand_off(4300, question)  # before the articles: nothing answers it
    await kb.import_path(write_articles(tmp_path / "articles"))
    before = await kb.answer("my parcel is late and I need a person")
    await slack.interact(press(slack, number, "teach_pick", str(number)))  # an agent
    await slack.interact(press(slack, number, "teach_pick", str(number), user=ADMIN))
    await slack.settle()
    refused, picker = slack.api.calls_to("chat.postEphemeral")
    assert refused["user"] == AGENT and "Teaching the bot is for admins." in refused["text"]
    # the admin sees, in the channel, the articles nearest to the customer's first words
    assert picker["user"] == ADMIN and picker["channel"] == TRIAGE
    assert not picker.get("thread_ts")
    [prompt, actions] = picker["blocks"]
    assert question in prompt["text"]["text"]
    [select_menu] = actions["elements"]
    values = [o["value"] for o in select_menu["options"]]
    assert f"{number}:delivery-time" in values and len(values) == len(set(values)) >= 2
    assert all(v.startswith(f"{number}:") for v in values)

    url = slack.api.response_url("teach1")
    for _ in range(2):  # picked, then picked again
        await pick(slack, f"{number}:delivery-time", response_url=url)
    taught, known = slack.api.calls_to("response_url")
    assert taught["replace_original"] is True and known["replace_original"] is True
    assert taught["text"].startswith(f"📚 Taught “{question}” to `delivery-time` by <@{ADMIN}>")
    assert f"“{question}” is already an example question of `delivery-time`" in known["text"]
    # a pick whose payload carries no response_url is answered privately beside the menu
    await pick(slack, f"{number}:delivery-time")
    *_, private = slack.api.calls_to("chat.postEphemeral")
    assert private["user"] == ADMIN and "already an example question" in private["text"]
    notices = [c["text"] for c in slack.thread(number) if c["text"].startswith("📚 Taught")]
    assert notices == [taught["text"]]  # the team sees it in the ticket's thread, once
    history = await kb.history("delivery-time")
    assert [(v.author, v.change) for v in history][-1] == (
        f"slack:{ADMIN}",
        "taught 1 example question",
    )
    assert (await kb.article("delivery-time")).questions[-1] == question
    after = await kb.answer("my parcel is late and I need a person")
    assert after.slug == "delivery-time" and after.confidence > before.confidence


async def pick(slack: SlackDesk, value: str, response_url: str | None = None) -> None:
    """An admin chooses `value` in the teach menu (the last private message posted)."""
    [*_, (_params, answer)] = slack.api.answered("chat.postEphemeral")
    await slack.interact(
        p.block_action(
            ADMIN,
            TRIAGE,
            "desk:teach",
            value,
            message_ts=str(answer.get("message_ts") or "1.000"),
            selected=True,
            response_url=response_url,
            ephemeral=True,
        )
    )
    await slack.settle()


async def test_report_command_posts_the_summary_with_its_chart(slack: SlackDesk) -> None:
    await slack.hand_off(126)
    url = slack.api.response_url("cmd3")
    await slack.command(p.slash_command(ADMIN, "CADMINS", "report week", response_url=url))
    await slack.settle()
    [upload] = slack.api.calls_to("files.completeUploadExternal")
    assert upload["channel_id"] == "CADMINS"
    comment = upload["initial_comment"]
    assert comment.startswith("*relaydesk report* ")
    assert "• Tickets: 1 created, 0 resolved; backlog " in comment
    assert slack.api.uploads[-1].startswith(b"\x89PNG\r\n\x1a\n")
    assert slack.api.calls_to("response_url") == []


async def test_report_where_the_bot_may_not_post_answers_privately(slack: SlackDesk) -> None:
    await slack.hand_off(127)
    url = slack.api.response_url("cmd4")
    slack.api.fail("files.completeUploadExternal", "not_in_channel")
    await slack.command(p.slash_command(ADMIN, "CADMINS", "report today", response_url=url))
    await slack.command(p.slash_command(ADMIN, "CADMINS", "report yesterdayish", response_url=url))
    await slack.settle()
    answer, refusal = slack.api.calls_to("response_url")
    assert answer["text"].startswith("*relaydesk report* ")
    assert "could not be posted here (not_in_channel)" in answer["text"]
    assert "Usage: `/relaydesk report [" in refusal["text"]
    assert answer["response_type"] == refusal["response_type"] == "ephemeral"


async def test_an_sla_breach_notice_refreshes_the_card(slack: SlackDesk) -> None:
    from bots.messages import ChatRef, OutboundMessage
    from bots.pipeline.store import enqueue

    number = await slack.hand_off(125)
    before = len(card_updates(slack, number))
    async with slack.db.session() as session:
        found = await tickets.get_ticket(session, number)
        # What the SLA tick does on a breach with actions: flags, a higher priority, a notice.
        found.first_response_breached = True
        found.sla_breached = True
        found.priority = "urgent"
        notice = OutboundMessage(
            chat=ChatRef("slack", TRIAGE),
            text=f"SLA breached on ticket #{number}",
            kind="notice",
            ticket_number=number,
            meta={"sla": {"kind": "breach", "clock": "first_response"}},
        )
        enqueue(session, notice, ticket_id=found.id)
        await session.commit()
    slack.services.outbox_wakeup.set()
    await slack.settle()
    updates = card_updates(slack, number)
    assert len(updates) == before + 1
    assert "breached" in shown(updates[-1]) and "urgent" in shown(updates[-1])


async def test_a_change_made_from_the_command_line_refreshes_the_card(slack: SlackDesk) -> None:
    import asyncio

    from typer.testing import CliRunner

    from bots.cli import app
    from tests.integration.slack.conftest import SECRET, TOKEN

    number = await slack.hand_off(128)
    await slack.settle()
    before = len(card_updates(slack, number))
    settings = slack.services.settings
    env = {
        "RELAYDESK_CONFIG": str(settings.config_path),
        "RELAYDESK_DATA_DIR": str(settings.data_dir),
        "RELAYDESK_DATABASE_URL": slack.db.url,
        "SLACK_BOT_TOKEN": TOKEN,
        "SLACK_SIGNING_SECRET": SECRET,
        "TELEGRAM_BOT_TOKEN": None,
    }
    result = await asyncio.to_thread(
        CliRunner().invoke, app, ["tickets", "assign", str(number), AGENT], env=env
    )
    assert result.exit_code == 0, result.output
    slack.services.outbox_wakeup.set()
    await slack.settle()
    updates = card_updates(slack, number)
    assert len(updates) == before + 1
    assert AGENT in shown(updates[-1])


async def test_the_card_gets_the_hand_off_summary(slack: SlackDesk) -> None:
    number = await slack.hand_off(129, "My parcel 4411 never came and the tracking page is blank")
    summary = (await ticket(slack, number)).summary
    assert "Customer wrote:" in summary and "tracking page is blank" in summary
    # the summary reaches the card through the outbox, paced per channel, after the draft
    # task (which embeds with the model): wait for it, long enough for a loaded CI machine
    deadline = time.monotonic() + 60
    while not card_updates(slack, number) and time.monotonic() < deadline:
        slack.services.outbox_wakeup.set()
        await asyncio.sleep(0.05)
    latest = shown(card_updates(slack, number)[-1])
    assert "*Summary*" in latest and "tracking page is blank" in latest
    async with slack.db.session() as session:
        kinds = await session.scalars(select(Draft.kind).where(Draft.ticket_number == number))
        assert sorted(kinds.all()) == ["reply", "summary"]


async def test_a_card_posted_after_the_summary_is_brought_up_to_date(slack: SlackDesk) -> None:
    # Slack is down when the card is first sent: the draft task writes the hand-off summary
    # before there is a card to update, so the card goes out with the customer's question.
    slack.api.server_error("chat.postMessage", times=3)
    number = await slack.hand_off(130, "My parcel 4412 never came and the tracking page is blank")
    summary = (await ticket(slack, number)).summary
    assert "Customer wrote:" in summary
    deadline = time.monotonic() + 60
    while not card_updates(slack, number) and time.monotonic() < deadline:
        slack.services.outbox_wakeup.set()
        await asyncio.sleep(0.05)
    [update] = card_updates(slack, number)
    assert "Customer wrote:" in shown(update)


async def test_a_card_posted_as_it_is_is_not_updated_again(slack: SlackDesk) -> None:
    number = await slack.hand_off(131, "My parcel 4413 never came")
    await slack.settle()
    updates = card_updates(slack, number)
    assert len(updates) <= 1  # the summary's own update, when it came after the card
    assert all("Customer wrote:" in shown(u) for u in updates)


def tried_section(blocks: list[dict[str, Any]]) -> str:
    texts = [b["text"]["text"] for b in blocks if b.get("type") == "section" and "text" in b]
    return next((t for t in texts if t.startswith("*The bot already tried*")), "")


async def test_what_the_bot_tried_stays_on_the_card_after_updates(
    slack: SlackDesk, tmp_path: Path
) -> None:
    kb = slack.services.knowledge
    assert kb is not None
    await kb.import_path(write_articles(tmp_path / "articles"))
    number = await slack.hand_off(132, "Do you sell gift vouchers?")  # not in the articles
    card = next(
        params
        for params, _ in slack.api.answered("chat.postMessage")
        if f"#{number} " in str(params.get("blocks")) and not params.get("thread_ts")
    )
    tried = tried_section(card["blocks"])
    assert "searched the knowledge base" in tried
    await slack.interact(press(slack, number, "assign", str(number)))
    await slack.settle()
    updated = card_updates(slack, number)[-1]
    assert f"<@{AGENT}>" in shown(updated)
    # not replaced by the bot's own "passing this to a person" message
    assert tried_section(updated["blocks"]) == tried
    async with slack.db.session() as session:
        kinds = [e.kind for e in await events_of(session, (await ticket(slack, number)).id)]
    assert kinds.count("bot_tried") == 1
