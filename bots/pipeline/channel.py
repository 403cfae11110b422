"""What the pipeline needs from a channel adapter: parse stored payloads, send messages."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Protocol

from bots.errors import RelaydeskError
from bots.messages import InboundMessage, OutboundMessage


class SendError(RelaydeskError):
    """Sending failed; `permanent` failures are recorded and not retried."""

    permanent = False

    def __init__(self, reason: str, *, retry_after: float | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.retry_after = retry_after


class TransientSendError(SendError):
    """Rate limits, 5xx, network errors: retried with backoff (honouring `retry_after`)."""


class PermanentSendError(SendError):
    """The platform refuses for good (user blocked the bot, channel gone): not retried."""

    permanent = True


@dataclass(frozen=True)
class Pacing:
    """Platform send limits: at most one message per `per_chat_interval` s per chat, and
    `per_second` messages per second overall (0 = unlimited)."""

    per_chat_interval: float = 0.0
    per_second: float = 0.0


class Channel(Protocol):
    """A chat platform adapter as the pipeline sees it."""

    name: str
    pacing: Pacing

    def parse(self, payload: dict[str, Any]) -> InboundMessage | None:
        """Turn a stored inbox payload into a neutral message; None for kinds we ignore."""

    async def send(self, message: OutboundMessage) -> str | None:
        """Deliver one message; return the platform's message id. Raise `SendError`."""
