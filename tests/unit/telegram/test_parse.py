"""Reading Telegram updates: commands, languages, group addressing, topics, odd payloads."""

from __future__ import annotations

from typing import Any

import pytest

from bots.telegram.parse import (
    BotIdentity,
    ParseOptions,
    UnknownBotIdentity,
    language_of,
    parse_update,
)

BOT = BotIdentity(id=999, username="relaydesk_bot")
GROUPS = ParseOptions(groups=True, identity=BOT)


def msg(text: str | None, *, chat_type: str = "private", **extra: Any) -> dict[str, Any]:
    chat_id = 42 if chat_type == "private" else -100500
    message: dict[str, Any] = {
        "message_id": 7,
        "from": {"id": 42, "is_bot": False, "first_name": "Ola", "language_code": "pl"},
        "chat": {"id": chat_id, "type": chat_type, "title": "Support"},
        "date": 1700000000,
        **extra,
    }
    if text is not None:
        message["text"] = text
    return {"update_id": 1, "message": message}


@pytest.mark.parametrize(
    ("text", "command", "args"),
    [
        ("/start", "start", ""),
        ("/help", "help", ""),
        ("/new", "new", ""),
        ("/status", "status", ""),
        ("/human", "human", ""),
        ("/lang pl", "lang", "pl"),
        ("/lang   en  ", "lang", "en"),
        ("/LANG pl", "lang", "pl"),
        ("/start@relaydesk_bot", "start", ""),
        ("/start@Relaydesk_Bot promo-42", "start", "promo-42"),
        ("/unknown thing", "unknown", "thing"),
    ],
)
def test_commands(text: str, command: str, args: str) -> None:
    message = parse_update(msg(text), ParseOptions(identity=BOT))
    assert message is not None
    assert (message.kind, message.command, message.command_args) == ("command", command, args)
    assert message.text == text


@pytest.mark.parametrize("text", ["/", "a /start", "/ start", "//start", "http://x.y/start"])
def test_texts_that_only_look_like_commands_are_text(text: str) -> None:
    message = parse_update(msg(text), ParseOptions())
    assert message is not None and message.kind == "text"


@pytest.mark.parametrize(
    ("code", "language"),
    [
        ("pl", "pl"),
        ("en", "en"),
        ("en-US", "en"),
        ("PL", "pl"),
        ("it", None),
        ("", None),
        (None, None),
    ],
)
def test_language_hint(code: str | None, language: str | None) -> None:
    assert language_of(code) == language


def test_group_messages_are_ignored_unless_enabled() -> None:
    update = msg("@relaydesk_bot where is my order?", chat_type="supergroup")
    assert parse_update(update, ParseOptions(identity=BOT)) is None


def test_group_messages_count_only_when_the_bot_is_addressed() -> None:
    mention = msg(
        "@relaydesk_bot where is my order?",
        chat_type="supergroup",
        entities=[{"type": "mention", "offset": 0, "length": 14}],
    )
    message = parse_update(mention, GROUPS)
    assert message is not None
    assert message.text == "where is my order?"
    assert message.chat.key == "telegram:-100500"

    chatter = msg("lunch anyone?", chat_type="group")
    assert parse_update(chatter, GROUPS) is None

    other = msg(
        "@another_bot hi",
        chat_type="group",
        entities=[{"type": "mention", "offset": 0, "length": 12}],
    )
    assert parse_update(other, GROUPS) is None

    reply = msg(
        "still broken",
        chat_type="group",
        reply_to_message={
            "message_id": 3,
            "from": {"id": BOT.id, "is_bot": True, "first_name": "Desk"},
            "chat": {"id": -100500, "type": "group", "title": "Support"},
            "date": 1700000000,
            "text": "Your ticket number is #5",
        },
    )
    replied = parse_update(reply, GROUPS)
    assert replied is not None and replied.text == "still broken"


def test_group_commands_must_name_this_bot() -> None:
    ours = msg(
        "/status@relaydesk_bot",
        chat_type="group",
        entities=[{"type": "bot_command", "offset": 0, "length": 21}],
    )
    theirs = msg(
        "/status@other_bot",
        chat_type="group",
        entities=[{"type": "bot_command", "offset": 0, "length": 17}],
    )
    bare = msg(
        "/status", chat_type="group", entities=[{"type": "bot_command", "offset": 0, "length": 7}]
    )
    parsed = parse_update(ours, GROUPS)
    assert parsed is not None and parsed.command == "status"
    assert parse_update(theirs, GROUPS) is None
    assert parse_update(bare, GROUPS) is None


def test_a_group_message_before_the_bot_knows_its_name_is_retried_not_dropped() -> None:
    with pytest.raises(UnknownBotIdentity):
        parse_update(msg("@relaydesk_bot hi", chat_type="group"), ParseOptions(groups=True))


def test_forum_topics_get_their_own_thread() -> None:
    update = msg(
        "@relaydesk_bot help",
        chat_type="supergroup",
        message_thread_id=33,
        is_topic_message=True,
        entities=[{"type": "mention", "offset": 0, "length": 14}],
    )
    message = parse_update(update, GROUPS)
    assert message is not None
    assert message.chat.thread_id == "33"
    assert message.chat.key == "telegram:-100500:33"


def test_a_button_under_an_inline_message_answers_in_the_private_chat() -> None:
    update = {
        "update_id": 9,
        "callback_query": {
            "id": "77",
            "from": {"id": 42, "is_bot": False, "first_name": "Ola", "language_code": "pl"},
            "inline_message_id": "AAA",
            "chat_instance": "1",
            "data": "csat:12:5",
        },
    }
    message = parse_update(update, ParseOptions())
    assert message is not None
    assert (message.action, message.action_value, message.chat.chat_id) == ("csat", "12:5", "42")
    assert message.language_hint == "pl"


def test_not_an_update_is_a_value_error() -> None:
    with pytest.raises(ValueError, match="update_id"):
        parse_update({"message": {}}, ParseOptions())
    with pytest.raises(ValueError, match="update_id"):
        parse_update({"update_id": "1"}, ParseOptions())
