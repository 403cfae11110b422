"""A fake channel for pipeline tests: records sends and fails on demand."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from bots.messages import InboundMessage, OutboundMessage
from bots.pipeline.channel import Pacing, SendError


class FakeChannel:
    name = "fake"

    def __init__(self, pacing: Pacing | None = None) -> None:
        self.pacing = pacing or Pacing()
        self.sent: list[OutboundMessage] = []
        self.failures: list[Callable[[OutboundMessage], SendError | None]] = []

    def parse(self, payload: dict[str, Any]) -> InboundMessage | None:
        if payload.get("ignore"):
            return None
        return InboundMessage.from_dict(payload)

    async def send(self, message: OutboundMessage) -> str | None:
        if self.failures:
            error = self.failures.pop(0)(message)
            if error is not None:
                raise error
        self.sent.append(message)
        return f"m{len(self.sent)}"
