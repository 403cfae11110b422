"""Console channel adapter: inbox payloads are neutral messages; sending prints them."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from bots.messages import InboundMessage, OutboundMessage
from bots.pipeline.channel import Pacing

CHANNEL = "console"


class ConsoleChannel:
    """A channel whose 'platform' is this terminal."""

    name = CHANNEL
    pacing = Pacing()

    def __init__(self, show: Callable[[OutboundMessage], None]) -> None:
        self._show = show

    def parse(self, payload: dict[str, Any]) -> InboundMessage | None:
        return InboundMessage.from_dict(payload)

    async def send(self, message: OutboundMessage) -> str | None:
        self._show(message)
        return uuid.uuid4().hex


def console_message(text: str, *, user: str, language: str | None) -> InboundMessage:
    """A typed line as the neutral message the pipeline stores and processes."""
    from bots.messages import ChatRef

    stripped = text.strip()
    command: str | None = None
    args = ""
    kind = "text"
    if stripped.startswith("/") and len(stripped) > 1:
        head, _, args = stripped[1:].partition(" ")
        command, kind = head.lower(), "command"
    return InboundMessage(
        chat=ChatRef(channel=CHANNEL, chat_id=user),
        user_id=user,
        user_name=user,
        platform_id=uuid.uuid4().hex,
        text=stripped,
        language_hint=language,
        command=command,
        command_args=args.strip(),
        kind=kind,
    )
