"""Token counting by a documented approximation, and the prompt budget drafts keep to.

No tokenizer for OpenAI models ships offline, so tokens are estimated: every run of letters
counts one token per started 4 characters, every run of digits one per started 3, every other
non-space character one, and every chat message 4 more for its framing. On the recorded OpenAI
exchanges this overestimates slightly (a conservative budget); the unit tests hold it to the
recorded `usage.prompt_tokens` within a stated tolerance.
"""

from __future__ import annotations

import re

MESSAGE_OVERHEAD = 4
REPLY_PRIMING = 3

_LETTERS = re.compile(r"[^\W\d_]+")
_DIGITS = re.compile(r"\d+")
_OTHER = re.compile(r"[^\w\s]|_")


def estimate_tokens(text: str) -> int:
    """Approximate number of tokens in `text` (see the module docstring for the rule)."""
    letters = sum((len(run) + 3) // 4 for run in _LETTERS.findall(text))
    digits = sum((len(run) + 2) // 3 for run in _DIGITS.findall(text))
    return letters + digits + len(_OTHER.findall(text))


def estimate_message_tokens(contents: list[str]) -> int:
    """Approximate prompt tokens of a chat request whose messages have these contents."""
    return sum(estimate_tokens(c) + MESSAGE_OVERHEAD for c in contents) + REPLY_PRIMING


def clip_to_tokens(text: str, limit: int, marker: str = " […] ") -> str:
    """`text` shortened to about `limit` tokens, keeping its head and tail around `marker`."""
    if limit <= 0:
        return ""
    if estimate_tokens(text) <= limit:
        return text
    # Characters per token measured on this text, so the cut lands near the limit.
    ratio = max(1.0, len(text) / max(1, estimate_tokens(text)))
    keep = max(8, int(limit * ratio) - len(marker))
    head = keep * 2 // 3
    tail = keep - head
    return text[:head].rstrip() + marker + text[len(text) - tail :].lstrip()
