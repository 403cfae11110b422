"""Slack request bodies for tests, made from the real payloads in `../shared/fixtures/slack/`.

Each builder copies a recorded payload and changes only the ids and texts a test needs.
"""

from __future__ import annotations

import copy
import itertools
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

BOLT = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "slack" / "bolt_python"
SOCKET = (
    Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "slack" / "socket_mode_envelopes"
)

_ids = itertools.count(500_001)  # apart from the fake API's ts counter


def _load(relative: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((BOLT / relative).read_text(encoding="utf-8"))
    return copy.deepcopy(data)


def next_ts() -> str:
    """A fresh Slack message timestamp."""
    return f"{int(time.time())}.{next(_ids):06d}"


def dm_message(
    user: str,
    channel: str,
    text: str,
    *,
    event_id: str | None = None,
    files: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A customer's direct message to the bot (`message.im`)."""
    body = _load("event_callback/message__im/user_message_event_body_88f6380be3.json")
    event = body["event"]
    for key in ("thread_ts", "parent_user_id"):
        event.pop(key, None)
    ts = next_ts()
    event.update(user=user, channel=channel, text=text, ts=ts, event_ts=ts)
    if files:
        event["subtype"] = "file_share"
        event["files"] = files
    body["event_id"] = event_id or f"Ev{next(_ids):08d}"
    return body


def thread_reply(
    user: str, channel: str, thread_ts: str, text: str, *, event_id: str | None = None
) -> dict[str, Any]:
    """A person's reply in a channel thread (`message.channels`)."""
    body = _load("event_callback/message/channel_user_message_event_body_7963b97bdb.json")
    ts = next_ts()
    body["event"].update(
        user=user,
        channel=channel,
        text=text,
        ts=ts,
        event_ts=ts,
        thread_ts=thread_ts,
        parent_user_id="W12345678",
    )
    body["event_id"] = event_id or f"Ev{next(_ids):08d}"
    return body


def thread_edit(
    user: str,
    channel: str,
    thread_ts: str,
    ts: str,
    text: str,
    *,
    before: str,
    bot_id: str | None = None,
) -> dict[str, Any]:
    """A reply in a channel thread edited by its author (`message_changed`); Slack puts the
    thread's ts in both copies of a thread reply."""
    body = _load("event_callback/message__message_changed/event_payload_c6d8ac6fa5.json")
    event = body["event"]
    now = next_ts()
    event.update(channel=channel, ts=now, event_ts=now)
    event["message"].update(
        user=user, text=text, ts=ts, thread_ts=thread_ts, edited={"user": user, "ts": now}
    )
    event["previous_message"].update(user=user, text=before, ts=ts, thread_ts=thread_ts)
    for copy_ in (event["message"], event["previous_message"]):
        copy_.pop("blocks", None)
        if bot_id:
            copy_["bot_id"] = bot_id
    body["event_id"] = f"Ev{next(_ids):08d}"
    return body


def dm_edit(user: str, channel: str, ts: str, text: str, before: str) -> dict[str, Any]:
    """A customer's direct message edited by them (`message_changed` in an IM)."""
    body = _load(
        "event_callback/message__message_changed__im/message_changed_event_body_19453d5d9a.json"
    )
    event = body["event"]
    now = next_ts()
    event.update(channel=channel, ts=now, event_ts=now)
    event["message"] = {"type": "message", "user": user, "text": text, "ts": ts}
    event["message"]["edited"] = {"user": user, "ts": now}
    event["previous_message"] = {"type": "message", "user": user, "text": before, "ts": ts}
    body["event_id"] = f"Ev{next(_ids):08d}"
    return body


def thread_delete(user: str, channel: str, thread_ts: str, ts: str, text: str) -> dict[str, Any]:
    """A reply in a channel thread deleted (`message_deleted`)."""
    body = _load("event_callback/message__message_deleted/event_payload_16f941d39b.json")
    event = body["event"]
    now = next_ts()
    event.update(channel=channel, ts=now, event_ts=now, deleted_ts=ts)
    event["previous_message"].update(user=user, text=text, ts=ts, thread_ts=thread_ts)
    body["event_id"] = f"Ev{next(_ids):08d}"
    return body


def bot_echo(channel: str, text: str) -> dict[str, Any]:
    """The event Slack sends for the bot's own post."""
    body = _load("event_callback/message/bot_message_event_payload_effc76c73f.json")
    body["event"].update(channel=channel, text=text)
    body["event_id"] = f"Ev{next(_ids):08d}"
    return body


def block_action(
    user: str,
    channel: str,
    action_id: str,
    value: str,
    *,
    message_ts: str,
    thread_ts: str | None = None,
    blocks: list[dict[str, Any]] | None = None,
    selected: bool = False,
    response_url: str | None = None,
    ephemeral: bool = False,
) -> dict[str, Any]:
    """A button press (or a select choice) on a message the bot posted (`ephemeral`: on
    one only the user sees, whose payload carries no copy of the message)."""
    body = _load("interactivity/block_actions/block_actions_body_b033bd4486.json")
    body["user"].update(id=user, username=user.lower(), name=user.lower())
    body["container"] = {
        "type": "message",
        "message_ts": message_ts,
        "channel_id": channel,
        "is_ephemeral": ephemeral,
    }
    body["channel"] = {"id": channel, "name": "triage"}
    body["trigger_id"] = f"{next(_ids)}.{int(time.time())}.trigger"
    body.pop("response_url", None)  # the recorded one is Slack's own address: never reach it
    if response_url:
        body["response_url"] = response_url
    message: dict[str, Any] = {"type": "message", "ts": message_ts, "blocks": blocks or []}
    if thread_ts:
        message["thread_ts"] = thread_ts
    if ephemeral:
        body.pop("message", None)
    else:
        body["message"] = message
    action = body["actions"][0]
    action.update(action_id=action_id, action_ts=next_ts())
    if selected:
        action.pop("value", None)
        action["type"] = "static_select"
        action["selected_option"] = {"text": {"type": "plain_text", "text": value}, "value": value}
    else:
        action["value"] = value
    return body


def view_submission(
    user: str, callback_id: str, private_metadata: str, values: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A modal's submit."""
    body = _load("interactivity/view_submission/body_b4c348d911.json")
    body["user"].update(id=user, username=user.lower(), name=user.lower())
    body["trigger_id"] = f"{next(_ids)}.{int(time.time())}.trigger"
    view = body["view"]
    view.update(callback_id=callback_id, private_metadata=private_metadata)
    view["state"] = {"values": values}
    view["hash"] = f"{int(time.time())}.{next(_ids)}"
    return body


def slash_command(user: str, channel: str, text: str, *, response_url: str) -> dict[str, str]:
    """The fields of a `/relaydesk` slash command request."""
    raw = (BOLT / "slash_command_form" / "body_2734536e97.form.txt").read_text().strip()
    fields = dict(parse_qsl(raw, keep_blank_values=True))
    fields.pop("ssl_check", None)
    fields.update(
        command="/relaydesk",
        text=text,
        user_id=user,
        user_name=user.lower(),
        channel_id=channel,
        response_url=response_url,
        trigger_id=f"{next(_ids)}.{int(time.time())}.trigger",
    )
    return fields


def url_verification() -> dict[str, Any]:
    return _load("url_verification/body_data_ba55af689b.json")


def socket_envelope(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SOCKET / name).read_text(encoding="utf-8"))
    return data
