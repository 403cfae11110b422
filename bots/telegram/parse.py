"""Telegram Update payloads -> neutral `InboundMessage`s: text, commands, buttons, files, edits."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from telegram import CallbackQuery, Message, MessageEntity, Update, User
from telegram.constants import ChatType

from bots.errors import RetryLater
from bots.messages import Attachment, ChatRef, InboundMessage
from bots.telegram.render import decode_callback

CHANNEL = "telegram"

LANGUAGES = frozenset({"en", "pl"})

UPDATE_KINDS = ("message", "edited_message", "callback_query")
"""The update kinds relaydesk asks Telegram for (`allowed_updates`)."""

# Content a customer sent on purpose that we cannot read: answered with a polite note.
UNSUPPORTED_CONTENT = (
    "sticker",
    "location",
    "venue",
    "contact",
    "poll",
    "dice",
    "game",
    "story",
    "invoice",
    "checklist",
    "paid_media",
    "giveaway",
)

_CORE_FIELDS = frozenset(
    {
        "message_id",
        "message_thread_id",
        "is_topic_message",
        "from",
        "chat",
        "date",
        "edit_date",
        "text",
        "entities",
        "caption",
        "caption_entities",
        "photo",
        "document",
        "voice",
        "audio",
        "video",
        "video_note",
    }
)

_COMMAND = re.compile(r"^/([A-Za-z0-9_]{1,32})(?:@([A-Za-z0-9_]{1,64}))?(?:\s+(.*))?$", re.DOTALL)


class UnknownBotIdentity(RetryLater):
    """A group message arrived before the bot knows its own username (retried later)."""


@dataclass(frozen=True)
class BotIdentity:
    """Who the bot is, from `getMe`: needed to tell whether a group message addresses it."""

    id: int
    username: str


@dataclass(frozen=True)
class ParseOptions:
    """How to read updates: group chats off by default, and the bot's identity once known."""

    groups: bool = False
    identity: BotIdentity | None = None


def language_of(code: str | None) -> str | None:
    """`pl` or `en` from a Telegram `language_code` such as `en-US`; None for the rest."""
    if not code:
        return None
    base = code.split("-", 1)[0].lower()
    return base if base in LANGUAGES else None


def parse_update(payload: dict[str, Any], options: ParseOptions) -> InboundMessage | None:
    """One stored Update as a neutral message; None for kinds and chats relaydesk ignores.

    Raises `UnknownBotIdentity` for a group message when groups are enabled but the bot's
    identity is not known yet (the inbox retries it), and `ValueError` for a payload that
    is not an Update.
    """
    if not isinstance(payload, dict) or not isinstance(payload.get("update_id"), int):
        raise ValueError("not a Telegram update: no integer update_id")
    update, reduced = _de_json(payload)
    platform_id = str(update.update_id)
    if update.callback_query is not None:
        return _from_callback(update.callback_query, platform_id, options)
    for body, edited in ((update.message, False), (update.edited_message, True)):
        if body is not None:
            return _from_message(body, platform_id, options, edited=edited, reduced=reduced)
    return None


def _de_json(payload: dict[str, Any]) -> tuple[Update, bool]:
    """The Update, and whether parts of a message had to be left out to read it.

    Telegram adds fields faster than any library follows: when one part of a message does
    not fit this python-telegram-bot's model, the message is read from its core fields
    (who, where, text, files) so the customer still gets an answer.
    """
    wanted = {k: v for k, v in payload.items() if k == "update_id" or k in UPDATE_KINDS}
    try:
        return Update.de_json(wanted, None), False
    except (TypeError, ValueError, KeyError, AttributeError):
        reduced = dict(wanted)
        for kind in ("message", "edited_message"):
            body = reduced.get(kind)
            if isinstance(body, dict):
                reduced[kind] = {k: v for k, v in body.items() if k in _CORE_FIELDS}
        query = reduced.get("callback_query")
        if isinstance(query, dict) and isinstance(query.get("message"), dict):
            message = query["message"]
            reduced["callback_query"] = dict(
                query, message={k: v for k, v in message.items() if k in _CORE_FIELDS}
            )
        return Update.de_json(reduced, None), True


def _chat_ref(message: Message) -> ChatRef:
    thread = message.message_thread_id if message.is_topic_message else None
    return ChatRef(CHANNEL, str(message.chat.id), str(thread) if thread is not None else None)


def _user_fields(user: User | None) -> dict[str, Any]:
    if user is None:
        return {"user_id": "", "user_name": "", "language_hint": None}
    return {
        "user_id": str(user.id),
        "user_name": user.full_name,
        "language_hint": language_of(user.language_code),
    }


def _allowed_chat(message: Message, options: ParseOptions) -> bool:
    if message.chat.type == ChatType.PRIVATE:
        return True
    return options.groups and message.chat.type in (ChatType.GROUP, ChatType.SUPERGROUP)


def _from_callback(
    query: CallbackQuery, platform_id: str, options: ParseOptions
) -> InboundMessage | None:
    action, value = decode_callback(query.data or "")
    meta: dict[str, Any] = {"callback_query_id": query.id}
    if query.message is not None:
        if query.message.chat.type != ChatType.PRIVATE and not options.groups:
            return None
        chat = ChatRef(CHANNEL, str(query.message.chat.id))
        meta["message_ref"] = f"{query.message.chat.id}:{query.message.message_id}"
    else:
        # A button under an inline-mode message: answer in the user's private chat.
        chat = ChatRef(CHANNEL, str(query.from_user.id))
    return InboundMessage(
        chat=chat,
        platform_id=platform_id,
        text=query.data or "",
        action=action or None,
        action_value=value,
        kind="action",
        meta=meta,
        **_user_fields(query.from_user),
    )


def _from_message(
    message: Message, platform_id: str, options: ParseOptions, *, edited: bool, reduced: bool
) -> InboundMessage | None:
    if not _allowed_chat(message, options):
        return None
    text = message.text if message.text is not None else (message.caption or "")
    group = message.chat.type != ChatType.PRIVATE
    if group:
        addressed, text = _addressed(message, text, options)
        if not addressed:
            return None
    chat = _chat_ref(message)
    ref = f"{message.chat.id}:{message.message_id}"
    meta: dict[str, Any] = {"message_ref": ref, "chat_type": str(message.chat.type)}
    if edited:
        meta["edit_date"] = message.edit_date.isoformat() if message.edit_date else None
    fields: dict[str, Any] = {
        "chat": chat,
        "platform_id": platform_id,
        "text": text,
        "meta": meta,
        **_user_fields(message.from_user),
    }
    attachments = _attachments(message)
    if edited:
        return InboundMessage(kind="edit", edited=True, ref=ref, attachments=attachments, **fields)
    if attachments:
        return InboundMessage(attachments=attachments, **fields)
    if message.text is not None:
        command = _command(message.text, options, group=group)
        if command is not None:
            name, args = command
            return InboundMessage(kind="command", command=name, command_args=args, **fields)
        return InboundMessage(**fields)
    if reduced or any(getattr(message, kind, None) for kind in UNSUPPORTED_CONTENT):
        # `reduced`: content this library version cannot read; say so rather than drop it.
        return InboundMessage(kind="unsupported", **fields)
    return None  # service messages: members joined, pinned, timers...


def _command(text: str, options: ParseOptions, *, group: bool) -> tuple[str, str] | None:
    """(`name`, `args`) for `/name[@bot] args`; None when it is not a command for this bot."""
    match = _COMMAND.match(text.strip())
    if match is None:
        return None
    name, target, args = match.group(1), match.group(2), match.group(3) or ""
    if group and target is not None:
        identity = options.identity
        if identity is None or target.lower() != identity.username.lower():
            return None
    return name.lower(), args.strip()


def _addressed(message: Message, text: str, options: ParseOptions) -> tuple[bool, str]:
    """Whether a group message is meant for the bot, and its text without the @mention."""
    identity = options.identity
    if identity is None:
        raise UnknownBotIdentity("group message before the bot identity is known")
    reply = message.reply_to_message
    if reply is not None and reply.from_user is not None and reply.from_user.id == identity.id:
        return True, text
    entities = message.entities if message.text is not None else message.caption_entities
    mention = f"@{identity.username}".lower()
    for entity in entities:
        piece = text[entity.offset : entity.offset + entity.length]
        if (entity.type == MessageEntity.MENTION and piece.lower() == mention) or (
            entity.type == MessageEntity.TEXT_MENTION
            and entity.user is not None
            and entity.user.id == identity.id
        ):
            rest = text[: entity.offset] + text[entity.offset + entity.length :]
            return True, re.sub(r"[ \t]{2,}", " ", rest).strip()
        if entity.type == MessageEntity.BOT_COMMAND and entity.offset == 0:
            target = piece.partition("@")[2]
            if target.lower() == identity.username.lower():
                return True, text
    return False, text


def _attachments(message: Message) -> tuple[Attachment, ...]:
    caption = message.caption or ""
    found: list[Attachment] = []
    if message.photo:
        best = max(message.photo, key=lambda p: (p.file_size or 0, p.width * p.height))
        found.append(
            Attachment(
                kind="photo",
                file_id=best.file_id,
                name=f"photo_{best.file_unique_id}.jpg",
                size=best.file_size,
                mime_type="image/jpeg",
                caption=caption,
            )
        )
    if message.document is not None:
        doc = message.document
        found.append(
            Attachment(
                kind="document",
                file_id=doc.file_id,
                name=doc.file_name or "",
                size=doc.file_size,
                mime_type=doc.mime_type or "",
                caption=caption,
            )
        )
    if message.voice is not None:
        voice = message.voice
        found.append(
            Attachment(
                kind="voice",
                file_id=voice.file_id,
                name=f"voice_{voice.file_unique_id}.ogg",
                size=voice.file_size,
                mime_type=voice.mime_type or "audio/ogg",
                caption=caption,
            )
        )
    if message.audio is not None:
        audio = message.audio
        found.append(
            Attachment(
                kind="audio",
                file_id=audio.file_id,
                name=audio.file_name or "",
                size=audio.file_size,
                mime_type=audio.mime_type or "",
                caption=caption,
            )
        )
    for video in (message.video, message.video_note):
        if video is not None:
            found.append(
                Attachment(
                    kind="video",
                    file_id=video.file_id,
                    name=getattr(video, "file_name", None) or "",
                    size=video.file_size,
                    mime_type=getattr(video, "mime_type", None) or "",
                    caption=caption,
                )
            )
    return tuple(found)
