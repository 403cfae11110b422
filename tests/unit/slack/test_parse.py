"""Slack bodies (real payload shapes) -> neutral messages: who is a customer, who an agent."""

from __future__ import annotations

import json
from typing import Any
from urllib.parse import parse_qsl

import pytest

from bots.slack.blocks import EDIT_BLOCK, EDIT_CALLBACK, EDIT_INPUT, draft_blocks
from bots.slack.parse import parse
from tests.conftest import FIXTURES, requires_shared
from tests.fakes import slack_payloads as p

BOLT = FIXTURES / "slack" / "bolt_python"
pytestmark = requires_shared(BOLT)


def load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((BOLT / relative).read_text())
    return data


def test_direct_message_is_a_customer_text() -> None:
    body = load("event_callback/message__im/user_message_event_body_88f6380be3.json")
    message = parse(body)
    assert message is not None
    assert message.role == "customer"
    assert message.kind == "text"
    assert message.text == "When Slack was released?"
    assert message.chat.channel == "slack" and message.chat.chat_id == "D111"
    assert message.chat.thread_id is None  # a DM is one conversation, threads or not
    assert message.platform_id == "Ev111"
    assert message.user_id == "W222"


def test_direct_message_command_is_a_customer_command() -> None:
    message = parse(p.dm_message("U1", "D1", "/lang pl"))
    assert message is not None
    assert (message.kind, message.command, message.command_args) == ("command", "lang", "pl")


def test_file_share_becomes_attachments() -> None:
    body = load("event_callback/message__file_share/event_payload_2ba84e5bc5.json")
    file = body["event"]["files"][0]
    message = parse(p.dm_message("U1", "D1", "see this", files=[file]))
    assert message is not None
    (attachment,) = message.attachments
    assert (attachment.kind, attachment.file_id, attachment.name) == ("photo", "F111", "file.png")
    assert attachment.mime_type == "image/png" and attachment.size == 92582


def test_thread_reply_in_a_channel_is_an_agent_message() -> None:
    body = load("event_callback/message/channel_user_message_event_body_7963b97bdb.json")
    message = parse(body)
    assert message is not None
    assert message.role == "agent"
    assert message.chat.chat_id == "C111"
    assert message.chat.thread_id == "1726133698.626339"
    assert message.meta["ts"] == "1726133700.887259"


@pytest.mark.parametrize(
    "relative",
    [
        "event_callback/message/user_message_event_payload_dd482ac86d.json",  # top-level
        "event_callback/message/bot_message_event_payload_effc76c73f.json",
        "event_callback/message__bot_message/classic_bot_message_event_payload_c87b7c3a51.json",
        "event_callback/message__message_deleted/event_payload_16f941d39b.json",
        "event_callback/message__message_changed/event_payload_c6d8ac6fa5.json",  # channel edit
        "event_callback/app_mention/app_mention_body_34f258aded.json",
        "event_callback/reaction_added/event_body_3f09cb5601.json",
        "url_verification/body_data_ba55af689b.json",
        "interactivity/block_actions/block_actions_body_b033bd4486.json",  # not our action id
        "interactivity/view_submission/body_b4c348d911.json",  # not our modal
    ],
)
def test_kinds_relaydesk_does_not_handle_are_ignored(relative: str) -> None:
    assert parse(load(relative)) is None


def test_customer_edit_in_dm_is_an_edit() -> None:
    body = load(
        "event_callback/message__message_changed__im/message_changed_event_body_19453d5d9a.json"
    )
    message = parse(body)
    assert message is not None
    assert message.kind == "edit" and message.edited
    assert message.ref == f"{body['event']['channel']}:{body['event']['message']['ts']}"
    assert message.text == body["event"]["message"]["text"]


def test_agent_edit_of_a_thread_reply_is_an_agent_edit() -> None:
    body = load("event_callback/message__message_changed/event_payload_c6d8ac6fa5.json")
    event = body["event"]
    # The recorded edit is of a top-level message; in a thread both copies carry thread_ts.
    for copy_ in (event["message"], event["previous_message"]):
        copy_.update(thread_ts="1665100000.000100", ts="1665102338.901939")
    message = parse(body)
    assert message is not None
    assert (message.kind, message.role, message.edited) == ("edit", "agent", True)
    assert message.chat.chat_id == "C111" and message.chat.thread_id == "1665100000.000100"
    assert message.user_id == "U111" and message.text == "updated message"
    assert message.ref == "C111:1665102338.901939"
    assert message.meta["ts"] == "1665102338.901939"
    assert message.meta["previous_text"] == "original message"
    assert message.platform_id == "Ev111"


def test_deletion_of_a_thread_reply_is_an_agent_delete() -> None:
    body = load("event_callback/message__message_deleted/event_payload_16f941d39b.json")
    body["event"]["previous_message"]["thread_ts"] = "1665368000.000100"
    message = parse(body)
    assert message is not None
    assert (message.kind, message.role) == ("delete", "agent")
    assert message.chat.thread_id == "1665368000.000100"
    assert message.user_id == "U111"  # the author: Slack does not say who deleted it
    assert message.meta["ts"] == body["event"]["deleted_ts"]
    assert message.text == message.meta["previous_text"] == "Delete this message"


@pytest.mark.parametrize(
    "change",
    [
        {"bot_id": "B111"},  # a bot's message (the desk's own posts)
        {"subtype": "bot_message"},
        {"thread_ts": "100.2"},  # the thread's parent itself (e.g. its reply count changed)
    ],
)
def test_thread_changes_that_are_no_agent_reply_are_ignored(change: dict[str, Any]) -> None:
    edit = p.thread_edit("U1", "C1", "100.1", "100.2", "new", before="old")
    deletion = p.thread_delete("U1", "C1", "100.1", "100.2", "old")
    edit["event"]["message"].update(change)
    deletion["event"]["previous_message"].update(change)
    assert parse(edit) is None
    assert parse(deletion) is None


def test_an_edit_that_leaves_the_text_alone_is_ignored() -> None:
    # Slack also sends message_changed when a reply gains an unfurl or a reply count.
    assert parse(p.thread_edit("U1", "C1", "100.1", "100.2", "same", before="same")) is None
    body = load(
        "event_callback/message__message_changed/channel_message_changed_event_body_099d52b8be.json"
    )
    assert parse(body) is None


def test_a_customer_deleting_a_dm_is_ignored() -> None:
    deletion = p.thread_delete("U1", "D1", "100.1", "100.2", "old")
    deletion["event"]["channel_type"] = "im"
    assert parse(deletion) is None


def test_other_slash_commands_are_ignored_and_ours_is_an_agent_command() -> None:
    raw = (BOLT / "slash_command_form" / "body_2734536e97.form.txt").read_text().strip()
    assert parse(dict(parse_qsl(raw))) is None  # /hello-world
    fields = p.slash_command("U7", "C9", "kb search refund policy", response_url="http://x/r")
    message = parse(dict(fields))
    assert message is not None
    assert message.role == "agent" and message.kind == "command"
    assert (message.command, message.command_args) == ("kb", "search refund policy")
    assert message.meta["response_url"] == "http://x/r"
    assert message.platform_id == f"command:{fields['trigger_id']}"


def test_draft_button_carries_ticket_draft_and_the_draft_text() -> None:
    meta = {"ticket_number": 42, "draft_id": "7", "text": "Hello <b> & bye"}
    blocks = draft_blocks(meta)
    body = p.block_action(
        "U7", "C9", "desk:edit", "42:7", message_ts="200.1", thread_ts="100.1", blocks=blocks
    )
    message = parse(body)
    assert message is not None
    assert message.role == "agent" and message.kind == "action"
    assert (message.action, message.action_value) == ("edit", "42:7")
    assert message.chat.thread_id == "100.1"  # the ticket's thread, not the draft message
    assert message.meta["draft_text"] == "Hello <b> & bye"
    assert message.meta["trigger_id"] == body["trigger_id"]
    assert message.platform_id == f"interaction:{body['trigger_id']}"


def test_card_button_thread_is_the_card_itself() -> None:
    message = parse(p.block_action("U7", "C9", "desk:assign", "42", message_ts="100.1"))
    assert message is not None
    assert message.chat.thread_id == "100.1"
    assert message.action == "assign"


def test_escalate_select_value_is_the_selected_option() -> None:
    body = p.block_action(
        "U7", "C9", "desk:escalate", "42:tier:L2", message_ts="1.2", selected=True
    )
    message = parse(body)
    assert message is not None
    assert message.action_value == "42:tier:L2"


def test_customer_button_in_dm_is_a_customer_action() -> None:
    message = parse(p.block_action("U1", "D1", "customer:kb_helped:0", "ans-9", message_ts="5.5"))
    assert message is not None
    assert message.role == "customer"
    assert (message.action, message.action_value) == ("kb_helped", "ans-9")
    assert message.chat.thread_id is None


def test_edit_modal_submit_is_the_edited_text() -> None:
    metadata = {
        "ticket": 42,
        "draft_id": "7",
        "channel": "C9",
        "thread_ts": "100.1",
        "draft_ts": "200.1",
    }
    body = p.view_submission(
        "U7",
        EDIT_CALLBACK,
        json.dumps(metadata),
        {EDIT_BLOCK: {EDIT_INPUT: {"type": "plain_text_input", "value": "Edited reply"}}},
    )
    message = parse(body)
    assert message is not None
    assert (message.action, message.action_value, message.text) == (
        "edit_send",
        "42:7",
        "Edited reply",
    )
    assert message.chat.chat_id == "C9" and message.chat.thread_id == "100.1"
    assert message.meta["draft_ts"] == "200.1"


def test_parse_is_stable_for_the_same_body() -> None:
    body = p.dm_message("U1", "D1", "hi")
    first, second = parse(body), parse(json.loads(json.dumps(body)))
    assert first is not None and first == second
