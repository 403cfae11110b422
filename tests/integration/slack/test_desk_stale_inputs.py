"""Agents' wrong, stale and repeated input in Slack: every press and command gets a clear
answer, nothing fails in the inbox, and tickets, drafts and the customer's chat stay right."""

from __future__ import annotations

from typing import Any

from sqlalchemy import select

from bots.pipeline.models import InboxRow
from bots.slack.blocks import EDIT_BLOCK, EDIT_CALLBACK, EDIT_INPUT
from drafting.models import Draft
from tests.fakes import slack_payloads as p
from tests.integration.slack.conftest import ADMIN, AGENT, GROUP_AGENT, TRIAGE, SlackDesk
from tests.integration.slack.test_desk import agent_messages, card_updates, press, shown, ticket
from tickets import service as tickets


def private_answers(slack: SlackDesk, user: str = AGENT) -> list[str]:
    return [c["text"] for c in slack.api.calls_to("chat.postEphemeral") if c["user"] == user]


async def failed_rows(slack: SlackDesk) -> list[tuple[str, str | None]]:
    async with slack.db.session() as session:
        rows = await session.scalars(select(InboxRow).where(InboxRow.error.is_not(None)))
        return [(r.platform_id, r.error) for r in rows.all()]


async def test_tampered_ticket_numbers_are_answered_and_change_nothing(slack: SlackDesk) -> None:
    number = await slack.hand_off(950)
    before = len(card_updates(slack, number))
    for value in ("abc", "²", "٣"):  # "²" passes str.isdigit() but not int()
        await slack.interact(press(slack, number, "assign", value))
    url = slack.api.response_url("tamper")
    for text in ("ticket ²", "ticket " + "9" * 5000):  # int() refuses over 4,300 digits
        await slack.command(p.slash_command(AGENT, TRIAGE, text, response_url=url))
    await slack.settle()
    assert await failed_rows(slack) == []
    assert (
        private_answers(slack) == ["That button does not name a ticket; nothing was changed."] * 3
    )
    usage, missing = (a["text"] for a in slack.api.calls_to("response_url"))
    assert usage == "Usage: `/relaydesk ticket N` (a ticket number)."
    assert missing.startswith("There is no ticket #9999")
    found = await ticket(slack, number)
    assert (found.assignee, found.status) == (None, "new")
    assert len(card_updates(slack, number)) == before


async def test_group_members_and_admins_can_take_a_ticket(slack: SlackDesk) -> None:
    number = await slack.hand_off(951)
    await slack.interact(press(slack, number, "assign", str(number), user=GROUP_AGENT))
    await slack.settle()
    found = await ticket(slack, number)
    assert (found.assignee, found.status) == (GROUP_AGENT, "open")
    assert f"<@{GROUP_AGENT}>" in shown(card_updates(slack, number)[-1])
    await slack.interact(press(slack, number, "assign", str(number), user=ADMIN))
    await slack.settle()
    assert (await ticket(slack, number)).assignee == ADMIN
    assert private_answers(slack, GROUP_AGENT) == private_answers(slack, ADMIN) == []
    # the agent who had it is told in the thread, not only by a changed card
    told = [
        c["text"]
        for c in slack.api.calls_to("chat.postMessage")
        if c.get("thread_ts") == slack.card_ts(number) and "took ticket" in c["text"]
    ]
    assert told == [f"🙋 <@{ADMIN}> took ticket #{number} from <@{GROUP_AGENT}>."]
    updates = len(card_updates(slack, number))
    await slack.interact(press(slack, number, "assign", str(number), user=ADMIN))  # again
    await slack.settle()
    assert private_answers(slack, ADMIN) == [f"Ticket #{number} is already assigned to you."]
    assert len(card_updates(slack, number)) == updates
    events = [(e.kind, e.to_value) for e in (await ticket(slack, number)).events]
    assert [to for kind, to in events if kind == "assignee"] == [GROUP_AGENT, ADMIN]


def draft_press(slack: SlackDesk, number: int, action: str, user: str = AGENT) -> dict[str, Any]:
    draft, draft_ts = slack.draft_post(number)
    labels = [e["action_id"] for e in draft["blocks"][-1]["elements"]]
    value = draft["blocks"][-1]["elements"][labels.index(f"desk:{action}")]["value"]
    return p.block_action(
        user,
        TRIAGE,
        f"desk:{action}",
        value,
        message_ts=draft_ts,
        thread_ts=slack.card_ts(number),
        blocks=draft["blocks"],
    )


async def test_a_draft_reaches_the_customer_once(slack: SlackDesk) -> None:
    number = await slack.hand_off(952)
    await slack.interact(draft_press(slack, number, "edit"))
    [opened] = await slack.api.wait_for("views.open")
    send = draft_press(slack, number, "send")
    await slack.interact(send)
    await slack.settle()
    # the same button again (a stale message, or a second agent at the same moment)
    await slack.interact(draft_press(slack, number, "send", user=GROUP_AGENT))
    # and the Edit modal opened before the draft was sent
    submit = p.view_submission(
        AGENT,
        EDIT_CALLBACK,
        opened["view"]["private_metadata"],
        {EDIT_BLOCK: {EDIT_INPUT: {"type": "plain_text_input", "value": "Dear Ada, edited."}}},
    )
    await slack.interact(submit)
    await slack.settle()
    stored = await agent_messages(slack, number)
    assert len(stored) == 1
    sent = [c.params["text"] for c in slack.telegram.calls_to("sendMessage")]
    assert sent.count(stored[0].text) == 1 and "Dear Ada, edited." not in sent
    [again] = private_answers(slack, GROUP_AGENT)
    assert again == (
        f"This draft was already sent to the customer by <@{AGENT}>; it was not sent again."
    )
    [edited] = private_answers(slack)
    assert edited.startswith(f"This draft was already sent to the customer by <@{AGENT}>")
    assert edited.endswith("reply in the thread to send it:\nDear Ada, edited.")  # not lost


async def test_a_draft_of_another_ticket_is_not_sent(slack: SlackDesk) -> None:
    first = await slack.hand_off(953)
    second = await slack.hand_off(954, "Where is my refund? I need a person")
    other = draft_press(slack, second, "send")
    value = other["actions"][0]["value"]
    other["actions"][0]["value"] = f"{first}:{value.split(':')[1]}"  # tampered
    before = len(slack.telegram.calls_to("sendMessage"))
    await slack.interact(other)
    await slack.settle()
    draft_id = value.split(":")[1]
    assert private_answers(slack) == [f"Draft {draft_id} is not a draft of ticket #{first}."]
    assert len(slack.telegram.calls_to("sendMessage")) == before
    assert await agent_messages(slack, first) == []


async def test_files_and_empty_notes_in_a_ticket_thread_are_answered(slack: SlackDesk) -> None:
    number = await slack.hand_off(955)
    card = slack.card_ts(number)
    before = len(slack.telegram.calls_to("sendMessage"))
    await slack.event(file_reply(card, ""))
    await slack.event(p.thread_reply(AGENT, TRIAGE, card, "note:   "))
    await slack.settle()
    assert len(slack.telegram.calls_to("sendMessage")) == before
    assert await agent_messages(slack, number) == []
    await slack.event(file_reply(card, "The label is attached."))
    await slack.settle()
    sent = slack.telegram.calls_to("sendMessage")[-1].params
    assert (sent["chat_id"], sent["text"]) == (955, "The label is attached.")
    nothing, empty, text_only = private_answers(slack)
    assert nothing.startswith("Nothing was sent to the customer, but files shared in Slack")
    assert empty == "The note is empty; nothing was saved."
    assert text_only.startswith("Your text was sent to the customer, but files shared in Slack")
    assert [m.text for m in await agent_messages(slack, number)] == ["The label is attached."]
    thread = [c for c in slack.api.calls_to("chat.postEphemeral") if c.get("thread_ts") == card]
    assert len(thread) == 3  # each answer is in the ticket's thread


def file_reply(thread: str, text: str) -> dict[str, Any]:
    body = p.thread_reply(AGENT, TRIAGE, thread, text)
    body["event"]["subtype"] = "file_share"
    body["event"]["files"] = [
        {"id": "F0LABEL", "name": "label.pdf", "mimetype": "application/pdf", "size": 2048}
    ]
    return body


async def test_a_report_period_out_of_range_gets_the_usage(slack: SlackDesk) -> None:
    await slack.hand_off(956)
    url = slack.api.response_url("range")
    for text in ("report 0001-01-01..9999-12-31", "report 2024-01-01"):
        await slack.command(p.slash_command(ADMIN, "CADMINS", text, response_url=url))
    await slack.settle()
    assert await failed_rows(slack) == []
    [refusal] = slack.api.calls_to("response_url")
    assert (
        "'0001-01-01' is out of range (reports cover 1970-01-01 to 9998-12-31)" in (refusal["text"])
    )
    assert "Usage: `/relaydesk report [" in refusal["text"]
    [upload] = slack.api.calls_to("files.completeUploadExternal")  # the next command still runs
    assert upload["initial_comment"].startswith("*relaydesk report* 2024-01-01 00:00")


async def test_a_closed_tickets_draft_buttons_are_refused(slack: SlackDesk) -> None:
    number = await slack.hand_off(955)
    async with slack.db.session() as session:
        found = await tickets.get_ticket(session, number)
        await slack.services.helpdesk.resolve(session, found, actor="test")
        await slack.services.helpdesk.close(session, found, actor="test")
        await session.commit()
    async with slack.db.session() as session:
        drafts_before = len((await session.scalars(select(Draft))).all())
    for action in ("regenerate", "translate", "shorter"):
        await slack.interact(draft_press(slack, number, action))
    await slack.settle()
    closed = f"Ticket #{number} is closed; a new draft could not be sent to the customer."
    assert private_answers(slack) == [closed] * 3
    async with slack.db.session() as session:
        assert len((await session.scalars(select(Draft))).all()) == drafts_before
    assert await failed_rows(slack) == []
