"""The token estimate: conservative against usage the real API recorded, and clipping."""

from __future__ import annotations

import json

import pytest
import yaml

from drafting.tokens import clip_to_tokens, estimate_message_tokens, estimate_tokens
from tests.conftest import FIXTURES, requires_shared

OPENAI = FIXTURES / "openai"


def recorded_prompts() -> list[tuple[list[str], int]]:
    """(message contents, usage.prompt_tokens) of recorded plain chat requests."""
    out: list[tuple[list[str], int]] = []
    for path in sorted(
        (OPENAI / "openai_python_recorded" / "chat_completions_json").glob("*.json")
    ):
        data = json.loads(path.read_text())
        request, usage = data["request"], data["response_body"].get("usage")
        if usage and not request.get("tools") and not request.get("response_format"):
            out.append(([m["content"] for m in request["messages"]], usage["prompt_tokens"]))
    cassette = yaml.safe_load(
        (OPENAI / "newrelic_vcr" / "mlmodel_openai_cassette.yaml").read_text()
    )
    for item in cassette["interactions"]:
        try:
            body = json.loads(item["request"]["body"])
            response = json.loads(item["response"]["body"]["string"])
        except (TypeError, ValueError):
            continue
        usage = response.get("usage") or {}
        if "messages" in body and "prompt_tokens" in usage and not body.get("tools"):
            out.append(([m["content"] for m in body["messages"]], usage["prompt_tokens"]))
    return out


@requires_shared(OPENAI)
def test_estimate_never_undercounts_recorded_prompts_and_stays_within_40_percent() -> None:
    samples = recorded_prompts()
    assert len(samples) >= 3
    for contents, actual in samples:
        estimate = estimate_message_tokens(contents)
        assert actual <= estimate <= actual * 1.4, (contents, actual, estimate)


def test_estimate_counts_words_digits_and_punctuation() -> None:
    assert estimate_tokens("") == 0
    assert estimate_tokens("hi") == 1
    assert estimate_tokens("international") == 4  # 13 letters: one token per started 4
    assert estimate_tokens("order 123456") == 2 + 2
    assert estimate_tokens("Why?!") == 1 + 2
    assert estimate_tokens("zamówienie") == 3


@pytest.mark.parametrize("limit", [10, 50, 200])
def test_clip_keeps_head_and_tail_near_the_limit(limit: int) -> None:
    text = " ".join(f"word{i}" for i in range(500))
    clipped = clip_to_tokens(text, limit)
    assert clipped.startswith("word0")
    assert clipped.endswith("word499")
    assert "[…]" in clipped
    assert estimate_tokens(clipped) <= limit * 1.2 + 5


def test_clip_leaves_short_text_alone() -> None:
    assert clip_to_tokens("short text", 100) == "short text"
