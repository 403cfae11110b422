"""Slack request bodies (events, interactivity, slash commands) -> neutral `InboundMessage`s.

Pure: the same body parses the same way when it arrives (to choose its inbox id and order key)
and when the inbox worker processes it. Direct messages to the bot are customers; thread
replies in channels (and their edits and deletions), button presses on cards and drafts, modal
submits and `/relaydesk` are agents.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from bots.messages import Attachment, ChatRef, InboundMessage
from bots.slack.blocks import (
    CUSTOMER_PREFIX,
    DESK_PREFIX,
    DRAFT_ACTIONS,
    EDIT_BLOCK,
    EDIT_CALLBACK,
    EDIT_INPUT,
    draft_text_from_blocks,
)

CHANNEL = "slack"
TASK_TYPE = "relaydesk.task"  # deferred desk work the desk itself puts in the inbox
TASK_USER = "relaydesk"
DRAFT_BUTTONS = {action for action, _label in DRAFT_ACTIONS}
SLASH_COMMAND = "/relaydesk"
CUSTOMER_COMMANDS = {"start", "help", "new", "status", "human", "lang"}
# Message subtypes that are a person writing; every other subtype (joins, bot posts,
# deletions, topic changes) is not something to answer.
PERSON_SUBTYPES = {None, "file_share", "thread_broadcast"}

log = logging.getLogger(__name__)


def parse(body: dict[str, Any]) -> InboundMessage | None:
    """The neutral message for a Slack body, or None for kinds relaydesk does not handle."""
    kind = body.get("type")
    if kind == "event_callback":
        return _event(body)
    if kind == "block_actions":
        return _block_action(body)
    if kind == "view_submission":
        return _view_submission(body)
    if "command" in body and "trigger_id" in body:
        return _slash_command(body)
    return None


# --------------------------------------------------------------------------- events


def _event(body: dict[str, Any]) -> InboundMessage | None:
    event = body.get("event") or {}
    if event.get("type") != "message":
        return None
    event_id = str(body.get("event_id") or "")
    if not event_id:
        return None
    subtype = event.get("subtype")
    channel = str(event.get("channel") or "")
    if subtype == "message_changed":
        return _edit(event, event_id, channel)
    if subtype == "message_deleted":
        return _thread_change(event, event_id, channel, "delete")
    if subtype not in PERSON_SUBTYPES or event.get("bot_id") or not event.get("user"):
        return None
    user = str(event["user"])
    ts = str(event.get("ts") or "")
    text = str(event.get("text") or "")
    attachments = tuple(_attachment(f) for f in event.get("files") or [] if isinstance(f, dict))
    meta = {"ts": ts, "channel": channel, "team": body.get("team_id")}
    if event.get("channel_type") == "im":
        # Stored under channel:ts, the reference an edit of it carries (`_edit`).
        meta["message_ref"] = f"{channel}:{ts}"
        command, args, kind = _customer_command(text)
        return InboundMessage(
            chat=ChatRef(CHANNEL, channel),
            user_id=user,
            platform_id=event_id,
            text=text,
            command=command,
            command_args=args,
            kind=kind,
            attachments=attachments,
            role="customer",
            meta=meta,
        )
    thread_ts = event.get("thread_ts")
    if not thread_ts or thread_ts == ts:
        return None  # a top-level channel message is not about any ticket
    return InboundMessage(
        chat=ChatRef(CHANNEL, channel, str(thread_ts)),
        user_id=user,
        platform_id=event_id,
        text=text,
        attachments=attachments,
        role="agent",
        meta=meta,
    )


def _edit(event: dict[str, Any], event_id: str, channel: str) -> InboundMessage | None:
    if event.get("channel_type") != "im":
        return _thread_change(event, event_id, channel, "edit")
    edited = event.get("message") or {}
    if edited.get("bot_id") or not edited.get("user"):
        return None
    ts = str(edited.get("ts") or "")
    return InboundMessage(
        chat=ChatRef(CHANNEL, channel),
        user_id=str(edited["user"]),
        platform_id=event_id,
        text=str(edited.get("text") or ""),
        kind="edit",
        edited=True,
        ref=f"{channel}:{ts}",
        role="customer",
        meta={"ts": ts, "channel": channel},
    )


def _thread_change(
    event: dict[str, Any], event_id: str, channel: str, kind: str
) -> InboundMessage | None:
    """A person's reply in a channel thread, edited (`message_changed`) or deleted
    (`message_deleted`): an agent's `edit` or `delete`. Slack tells who wrote the message,
    not who deleted it (its author or a workspace admin); `user_id` is the author."""
    if event.get("channel_type") == "im":
        return None  # customers' deletions change nothing of theirs we keep
    previous = event.get("previous_message") or {}
    current = (event.get("message") or {}) if kind == "edit" else previous
    if not isinstance(previous, dict) or not isinstance(current, dict):
        return None
    if current.get("subtype") not in PERSON_SUBTYPES or current.get("bot_id"):
        return None
    user = current.get("user") or previous.get("user")
    ts = str(current.get("ts") or previous.get("ts") or event.get("deleted_ts") or "")
    thread_ts = str(current.get("thread_ts") or previous.get("thread_ts") or "")
    if not user or not ts or not thread_ts or thread_ts == ts:
        return None  # a top-level message or a thread's parent is no reply to a ticket
    text = str(current.get("text") or "")
    before = str(previous.get("text") or "")
    if kind == "edit" and text == before:
        return None  # an unfurl, a reply count: nothing the agent wrote changed
    return InboundMessage(
        chat=ChatRef(CHANNEL, channel, thread_ts),
        user_id=str(user),
        platform_id=event_id,
        text=text,
        kind=kind,
        edited=kind == "edit",
        ref=f"{channel}:{ts}",
        role="agent",
        meta={"ts": ts, "channel": channel, "previous_text": before},
    )


def _customer_command(text: str) -> tuple[str | None, str, str]:
    stripped = text.strip()
    if stripped.startswith("/") and len(stripped) > 1:
        head, _, args = stripped[1:].partition(" ")
        if head.lower() in CUSTOMER_COMMANDS:
            return head.lower(), args.strip(), "command"
    return None, "", "text"


def _attachment(file: dict[str, Any]) -> Attachment:
    mime = str(file.get("mimetype") or "")
    kind = (
        "photo"
        if mime.startswith("image/")
        else "voice"
        if mime.startswith("audio/")
        else "video"
        if mime.startswith("video/")
        else "document"
    )
    size = file.get("size")
    return Attachment(
        kind=kind,
        file_id=str(file.get("id") or ""),
        name=str(file.get("name") or file.get("title") or ""),
        size=int(size) if isinstance(size, int) else None,
        mime_type=mime,
    )


# --------------------------------------------------------------------------- interactivity


def _interaction_id(body: dict[str, Any], fallback: str) -> str:
    trigger = body.get("trigger_id")
    return f"interaction:{trigger}" if trigger else f"interaction:{fallback}"


def _block_action(body: dict[str, Any]) -> InboundMessage | None:
    actions = body.get("actions") or []
    if not actions:
        return None
    action = actions[0]
    action_id = str(action.get("action_id") or "")
    user = str((body.get("user") or {}).get("id") or "")
    container = body.get("container") or {}
    message = body.get("message") or {}
    channel = str(container.get("channel_id") or (body.get("channel") or {}).get("id") or "")
    value = str(action.get("value") or (action.get("selected_option") or {}).get("value") or "")
    platform_id = _interaction_id(body, f"{user}:{action.get('action_ts')}")
    meta: dict[str, Any] = {
        "trigger_id": body.get("trigger_id"),
        "response_url": body.get("response_url"),
        "channel": channel,
        "message_ts": container.get("message_ts") or message.get("ts"),
    }
    if action_id.startswith(CUSTOMER_PREFIX):
        name = action_id[len(CUSTOMER_PREFIX) :].rsplit(":", 1)[0]
        return InboundMessage(
            chat=ChatRef(CHANNEL, channel),
            user_id=user,
            platform_id=platform_id,
            kind="action",
            action=name,
            action_value=value,
            role="customer",
            meta=meta,
        )
    if not action_id.startswith(DESK_PREFIX):
        return None
    name = action_id[len(DESK_PREFIX) :]
    thread_ts = message.get("thread_ts") or container.get("thread_ts") or meta["message_ts"] or None
    meta["thread_ts"] = thread_ts
    if name in DRAFT_BUTTONS:
        meta["draft_text"] = draft_text_from_blocks(message.get("blocks") or [])
    return InboundMessage(
        chat=ChatRef(CHANNEL, channel, str(thread_ts) if thread_ts else None),
        user_id=user,
        user_name=str((body.get("user") or {}).get("name") or ""),
        platform_id=platform_id,
        kind="action",
        action=name,
        action_value=value,
        role="agent",
        meta=meta,
    )


def _view_submission(body: dict[str, Any]) -> InboundMessage | None:
    view = body.get("view") or {}
    if view.get("callback_id") != EDIT_CALLBACK:
        return None
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    if not isinstance(metadata, dict):
        return None
    values = (view.get("state") or {}).get("values") or {}
    text = str(((values.get(EDIT_BLOCK) or {}).get(EDIT_INPUT) or {}).get("value") or "")
    user = str((body.get("user") or {}).get("id") or "")
    channel = str(metadata.get("channel") or "")
    thread_ts = metadata.get("thread_ts")
    return InboundMessage(
        chat=ChatRef(CHANNEL, channel, str(thread_ts) if thread_ts else None),
        user_id=user,
        user_name=str((body.get("user") or {}).get("name") or ""),
        platform_id=_interaction_id(body, f"{view.get('id')}:{view.get('hash')}"),
        text=text,
        kind="action",
        action="edit_send",
        action_value=f"{metadata.get('ticket')}:{metadata.get('draft_id') or ''}",
        role="agent",
        meta={**metadata, "view_id": view.get("id")},
    )


def _slash_command(body: dict[str, Any]) -> InboundMessage | None:
    if body.get("command") != SLASH_COMMAND:
        return None
    text = str(body.get("text") or "").strip()
    head, _, args = text.partition(" ")
    channel = str(body.get("channel_id") or "")
    user = str(body.get("user_id") or "")
    return InboundMessage(
        chat=ChatRef(CHANNEL, channel, f"command:{user}"),
        user_id=user,
        user_name=str(body.get("user_name") or ""),
        platform_id=f"command:{body.get('trigger_id')}",
        text=text,
        kind="command",
        command=head.lower() or "help",
        command_args=args.strip(),
        role="agent",
        meta={
            "response_url": body.get("response_url"),
            "trigger_id": body.get("trigger_id"),
            "channel": channel,
        },
    )


def task_message(payload: dict[str, Any]) -> InboundMessage:
    """The desk's own deferred work (never a Slack body: the ingress does not store these)."""
    channel = str(payload.get("channel") or "")
    return InboundMessage(
        chat=ChatRef(CHANNEL, channel, f"ticket:{payload.get('ticket')}"),
        user_id=TASK_USER,
        platform_id=f"task:{payload.get('task')}:{payload.get('ticket')}",
        kind="action",
        action=f"task:{payload.get('task')}",
        action_value=str(payload.get("ticket") or ""),
        role="agent",
        meta={k: v for k, v in payload.items() if k not in ("type", "task", "ticket")},
    )
