"""Plain data drafting works on: a ticket's messages and passages in, drafts out."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Author = Literal["customer", "bot", "agent", "system"]
Tone = Literal["shorter", "friendlier", "formal"]
Kind = Literal["reply", "summary", "tone", "translation", "kb_article"]

TONES: tuple[Tone, ...] = ("shorter", "friendlier", "formal")

LANGUAGE_NAMES = {
    "en": "English",
    "pl": "Polish",
    "de": "German",
    "fr": "French",
    "es": "Spanish",
    "it": "Italian",
    "uk": "Ukrainian",
    "ru": "Russian",
    "cs": "Czech",
    "sk": "Slovak",
    "lt": "Lithuanian",
    "nl": "Dutch",
    "pt": "Portuguese",
}


def language_name(code: str) -> str:
    """The English name of a language code, or the code itself when it is not known."""
    return LANGUAGE_NAMES.get(code.lower(), code)


@dataclass(frozen=True)
class TicketMessage:
    """One message of a ticket as drafting sees it; internal notes are for agents only."""

    author: Author
    text: str
    internal: bool = False
    created_at: datetime | None = None


@dataclass(frozen=True)
class Passage:
    """A knowledge base passage offered as evidence, with the slug drafts cite it by."""

    slug: str
    title: str
    text: str
    score: float = 0.0


@dataclass(frozen=True)
class DraftContext:
    """Everything a draft is made from; built by the application from a ticket."""

    ticket_number: int
    language: str
    messages: Sequence[TicketMessage]
    passages: Sequence[Passage] = ()
    customer_name: str = ""
    subject: str = ""
    department: str | None = None
    guidelines: str = ""
    signature: str = ""

    @property
    def customer_messages(self) -> list[TicketMessage]:
        """The customer's own messages, oldest first."""
        return [m for m in self.messages if m.author == "customer"]


@dataclass(frozen=True)
class DraftOutput:
    """A draft as shown to the agent, with what it was made from and what it cost."""

    kind: Kind
    text: str
    language: str
    offline: bool
    template: str
    template_hash: str
    cited: list[str] = field(default_factory=list)
    model: str | None = None
    tone: Tone | None = None
    notice: str | None = None
    reason: str | None = None
    flags: list[str] = field(default_factory=list)
    prompt_tokens: int = 0
    completion_tokens: int = 0
    latency_ms: int = 0
    trimmed_messages: int = 0
    title: str | None = None

    @property
    def prompt_version(self) -> str:
        """`template@hash` of the prompt that made this draft (short hash)."""
        return f"{self.template}@{self.template_hash[:12]}"
