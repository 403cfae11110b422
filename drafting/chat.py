"""Chat types and retry rules every model client shares; no model library is imported here.

`ChatMessage`/`Completion` are what drafting sends and gets back, `LLMClient` the protocol a
client implements (`drafting.llm.OpenAIChatClient` is the one relaydesk ships), `RetryPolicy`,
`retry_after_s` and `trim_history` the pieces of its retry behaviour, `LLMCall` and
`LLMObserver` the hook through which an application watches every call (for its metrics).
"""

from __future__ import annotations

import email.utils
import random
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal, Protocol

from drafting.errors import LLMError
from drafting.tokens import estimate_message_tokens, estimate_tokens

Role = Literal["system", "user", "assistant"]


@dataclass(frozen=True)
class ChatMessage:
    """One chat message; `trimmable` history may be dropped, oldest first, to fit the context."""

    role: Role
    content: str
    trimmable: bool = False


@dataclass(frozen=True)
class Completion:
    """What the model answered, and what it took."""

    text: str
    model: str
    prompt_tokens: int
    completion_tokens: int
    latency_ms: int
    attempts: int
    trimmed: int = 0
    finish_reason: str | None = None


@dataclass(frozen=True)
class LLMCall:
    """One finished call to the model, retries included, as an observer sees it."""

    model: str
    seconds: float  # from the call to its answer or its final error
    error: LLMError | None = None  # None when the model answered

    @property
    def ok(self) -> bool:
        return self.error is None


# Called once per model call, after it ended; it must be quick and must not raise (what it
# raises is logged and ignored).
LLMObserver = Callable[[LLMCall], None]


class LLMClient(Protocol):
    """What drafting needs from a language model."""

    model: str

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 700,
        temperature: float = 0.2,
    ) -> Completion:
        """The model's answer to `messages`; raises `LLMError` subclasses."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


@dataclass(frozen=True)
class RetryPolicy:
    """How many attempts, and how long to wait between them when the server does not say."""

    max_attempts: int = 3
    backoff_base_s: float = 0.5
    backoff_max_s: float = 8.0
    jitter: float = 0.1

    def backoff(self, attempt: int) -> float:
        """Seconds to wait after failed attempt number `attempt` (1-based)."""
        delay: float = min(self.backoff_max_s, self.backoff_base_s * 2.0 ** (attempt - 1))
        return delay * (1.0 + random.uniform(-self.jitter, self.jitter))


_TRY_AGAIN = re.compile(r"try again in (\d+(?:\.\d+)?)\s*(ms|s)\b", re.IGNORECASE)
_CONTEXT_NUMBERS = re.compile(
    r"maximum context length is (\d+) tokens.*?(?:resulted in|requested) (\d+) tokens",
    re.IGNORECASE | re.DOTALL,
)


def retry_after_s(headers: Any, message: str = "") -> float | None:
    """The wait a 429/503 asks for: `retry-after-ms`, `retry-after` (seconds or a date), or text."""
    if headers is not None:
        value = headers.get("retry-after-ms")
        if value:
            try:
                return max(0.0, float(value) / 1000)
            except ValueError:
                pass
        value = headers.get("retry-after")
        if value:
            try:
                return max(0.0, float(value))
            except ValueError:
                parsed = email.utils.parsedate_to_datetime(value) if value else None
                if parsed is not None:
                    return max(0.0, parsed.timestamp() - time.time())
    match = _TRY_AGAIN.search(message)
    if match:
        amount = float(match.group(1))
        return amount / 1000 if match.group(2).lower() == "ms" else amount
    return None


def trim_history(
    messages: Sequence[ChatMessage], error_message: str
) -> tuple[list[ChatMessage], int]:
    """Drop the oldest trimmable messages so the prompt fits the limit the error names.

    Without numbers in the error, half of the trimmable history goes. Returns the new list and
    how many messages were dropped.
    """
    kept = list(messages)
    trimmable = [i for i, m in enumerate(kept) if m.trimmable]
    if not trimmable:
        return kept, 0
    match = _CONTEXT_NUMBERS.search(error_message)
    estimate = estimate_message_tokens([m.content for m in kept])
    if match:
        limit, got = int(match.group(1)), int(match.group(2))
        # Scale our estimate to the server's count, and aim 10 % under its limit.
        target = estimate * (limit / max(got, 1)) * 0.9
    else:
        target = estimate / 2
    drop: set[int] = set()
    for index in trimmable:
        if estimate <= target:
            break
        drop.add(index)
        estimate -= estimate_tokens(kept[index].content) + 4
    if not match and not drop:
        drop = set(trimmable[: max(1, len(trimmable) // 2)])
    return [m for i, m in enumerate(kept) if i not in drop], len(drop)
