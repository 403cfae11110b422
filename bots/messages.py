"""Neutral message types: adapters translate platform payloads to and from these."""

from __future__ import annotations

import base64
from dataclasses import asdict, dataclass, field
from typing import Any

IMAGE_META_KEY = "image_png_b64"
"""`OutboundMessage.meta` key of a PNG image (base64) that goes with a notice: a report's chart."""


def image_meta(png: bytes, *, title: str, filename: str) -> dict[str, str]:
    """The `meta` entries that attach a PNG image to a notice; adapters that can upload it do
    (Slack: `files.uploadV2` with the text as its comment)."""
    return {
        IMAGE_META_KEY: base64.b64encode(png).decode("ascii"),
        "image_title": title,
        "image_filename": filename,
    }


@dataclass(frozen=True)
class ChatRef:
    """Where a conversation happens: a channel, a chat in it, and optionally a thread."""

    channel: str
    chat_id: str
    thread_id: str | None = None

    @property
    def key(self) -> str:
        """The ordering key: messages with the same key are processed and sent in order."""
        base = f"{self.channel}:{self.chat_id}"
        return f"{base}:{self.thread_id}" if self.thread_id else base


@dataclass(frozen=True)
class Button:
    label: str
    action: str
    value: str = ""


@dataclass(frozen=True)
class Attachment:
    kind: str  # photo | document | voice | video | audio
    file_id: str
    name: str = ""
    size: int | None = None
    mime_type: str = ""
    caption: str = ""


@dataclass(frozen=True)
class InboundMessage:
    """One thing a customer (or agent) did: a text, a command, a button press, an edit."""

    chat: ChatRef
    user_id: str
    platform_id: str
    text: str = ""
    user_name: str = ""
    language_hint: str | None = None
    command: str | None = None
    command_args: str = ""
    action: str | None = None
    action_value: str = ""
    attachments: tuple[Attachment, ...] = ()
    edited: bool = False
    kind: str = "text"  # text | command | action | edit | delete | unsupported
    role: str = "customer"  # customer | agent: who acted (agents act from Slack)
    ref: str | None = None  # edits, deletes: the platform id of the message changed
    meta: dict[str, Any] = field(default_factory=dict)  # platform extras passed through

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> InboundMessage:
        payload = dict(data)
        payload["chat"] = ChatRef(**payload["chat"])
        payload["attachments"] = tuple(Attachment(**a) for a in payload.get("attachments", ()))
        return cls(**payload)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class OutboundMessage:
    """Something to send to a chat; richer fields fall back to text on simple channels."""

    chat: ChatRef
    text: str
    buttons: tuple[Button, ...] = ()
    # text | card | card_update | notice | edit | delete: `edit` gives, and `delete` removes,
    # the message this channel sent as `meta["target"]` (the platform id `send` returned)
    kind: str = "text"
    ticket_number: int | None = None
    meta: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> OutboundMessage:
        payload = dict(data)
        payload["chat"] = ChatRef(**payload["chat"])
        payload["buttons"] = tuple(Button(**b) for b in payload.get("buttons", ()))
        return cls(**payload)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)
