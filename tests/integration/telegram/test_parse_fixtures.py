"""Every real Update in the shared fixtures parses to the neutral message relaydesk expects."""

from __future__ import annotations

import json
from typing import Any

import pytest

from bots.telegram.parse import BotIdentity, ParseOptions, parse_update
from tests.integration.telegram.conftest import NUTGRAM

UPDATES = NUTGRAM / "updates"
PRIVATE = ParseOptions()
GROUPS = ParseOptions(groups=True, identity=BotIdentity(id=5681419729, username="foo_bot"))


def update(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((UPDATES / f"{name}.json").read_text(encoding="utf-8"))
    return data


def fixture_names() -> list[str]:
    return sorted(p.stem for p in UPDATES.glob("*.json")) if UPDATES.exists() else []


@pytest.mark.parametrize("name", fixture_names())
@pytest.mark.parametrize("options", [PRIVATE, GROUPS], ids=["private-only", "groups"])
def test_every_fixture_parses_or_is_ignored_without_error(name: str, options: ParseOptions) -> None:
    message = parse_update(update(name), options)
    if message is not None:
        assert message.chat.channel == "telegram"
        assert message.platform_id == str(update(name)["update_id"])
        assert message.kind in {"text", "command", "action", "edit", "unsupported"}
        assert message.chat.key.startswith(f"telegram:{message.chat.chat_id}")


def test_text() -> None:
    message = parse_update(update("text"), PRIVATE)
    assert message is not None
    assert (message.kind, message.text, message.user_id) == ("text", "aaaaaaaaaa", "12345678")
    assert message.user_name == "Mario Bros"
    assert message.language_hint is None  # "it" is not a language relaydesk speaks
    assert message.chat.key == "telegram:12345678"
    assert message.meta["message_ref"] == "12345678:123456"


def test_commands_with_and_without_the_bot_name() -> None:
    plain = parse_update(update("command"), PRIVATE)
    tagged = parse_update(update("command_tag_valid"), PRIVATE)
    args = parse_update(update("command_with_parameters"), PRIVATE)
    assert plain is not None and tagged is not None and args is not None
    assert (plain.kind, plain.command, plain.command_args) == ("command", "test", "")
    assert (tagged.kind, tagged.command) == ("command", "test")
    assert (args.command, args.command_args) == ("register", "HR John Doe")
    assert args.language_hint == "en"


def test_a_button_press_is_an_action_with_its_query_id() -> None:
    message = parse_update(update("callback_query"), PRIVATE)
    assert message is not None
    assert (message.kind, message.action, message.action_value) == ("action", "thedata", "")
    assert message.meta["callback_query_id"] == "666728699048485871"
    assert message.meta["message_ref"] == "222222222:69587"
    assert message.chat.chat_id == "222222222"
    inaccessible = parse_update(update("callback_query_inaccessible_message"), PRIVATE)
    assert inaccessible is not None and inaccessible.kind == "action"


def test_photo_document_and_voice_are_attachments() -> None:
    photo = parse_update(update("photo"), PRIVATE)
    assert photo is not None and photo.kind == "text"
    (picture,) = photo.attachments
    assert (picture.kind, picture.file_id, picture.size) == ("photo", "SEES", 104893)
    assert picture.caption == photo.text == "asdasdasdasdasdasd"

    document = parse_update(update("document"), PRIVATE)
    assert document is not None
    (pdf,) = document.attachments
    assert (pdf.kind, pdf.name, pdf.size, pdf.mime_type) == (
        "document",
        "document.pdf",
        123456,
        "application/pdf",
    )
    voice = parse_update(update("voice"), PRIVATE)
    assert voice is not None
    (note,) = voice.attachments
    assert (note.kind, note.file_id, note.mime_type, note.size) == (
        "voice",
        "dfghjjghdjhgd",
        "audio/ogg",
        6448,
    )


def test_an_edit_refers_to_the_edited_message() -> None:
    message = parse_update(update("edited_message"), PRIVATE)
    assert message is not None
    assert (message.kind, message.edited, message.text) == ("edit", True, "Editing this message")
    assert message.ref == "999999999:23762"


UNREADABLE = ["sticker", "location", "contact", "message_poll", "dice", "venue"]


@pytest.mark.parametrize("name", UNREADABLE)
def test_content_we_cannot_read_is_unsupported(name: str) -> None:
    message = parse_update(update(name), PRIVATE)
    assert message is not None and message.kind == "unsupported"


@pytest.mark.parametrize(
    "name",
    [
        "my_chat_member",
        "channel_post",
        "inline_query",
        "poll",
        "poll_answer",
        "new_chat_members",
        "pinned_message",
        "chat_join_request",
    ],
)
def test_updates_that_are_not_customer_messages_are_ignored(name: str) -> None:
    assert parse_update(update(name), PRIVATE) is None


def test_group_messages_need_groups_enabled_and_the_bot_addressed() -> None:
    group = update("group_chat_created")
    assert parse_update(group, GROUPS) is None  # a service message
    topic = update("message_topic")
    assert topic["message"]["chat"]["type"] == "supergroup"
    assert parse_update(topic, PRIVATE) is None
    assert parse_update(topic, GROUPS) is None  # not addressed to the bot
