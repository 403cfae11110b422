"""The real openai client, through our policy, against the fake OpenAI server on 127.0.0.1."""

from __future__ import annotations

import asyncio
import json
import re
import time

import pytest

from drafting.errors import (
    LLMAuthError,
    LLMBadResponse,
    LLMContextTooLong,
    LLMQuotaExceeded,
    LLMRateLimited,
    LLMRequestError,
    LLMTimeout,
    LLMUnavailable,
)
from drafting.llm import ChatMessage, OpenAIChatClient, RetryPolicy
from tests.fakes.openai_server import (
    RECORDED_SSE,
    FakeOpenAI,
    Reply,
    context_length_exceeded,
    hang,
    insufficient_quota,
    malformed,
    ok,
    rate_limited,
    recorded,
    server_error,
    unauthorized,
    unused_base_url,
)

HELLO = [ChatMessage("system", "You help agents."), ChatMessage("user", "Say hello.")]


class Sleeps:
    """Records the waits the client asks for (and really waits, briefly)."""

    def __init__(self) -> None:
        self.waits: list[float] = []

    async def __call__(self, seconds: float) -> None:
        self.waits.append(seconds)
        await asyncio.sleep(min(seconds, 0.05))


def client(
    server: FakeOpenAI | str,
    *,
    stream: bool = False,
    timeout_s: float = 10.0,
    sleeps: Sleeps | None = None,
) -> OpenAIChatClient:
    base_url = server if isinstance(server, str) else server.base_url
    return OpenAIChatClient(
        model="gpt-4o-mini",
        api_key="sk-test-key",
        base_url=base_url,
        timeout_s=timeout_s,
        retry=RetryPolicy(max_attempts=3, backoff_base_s=0.2),
        stream=stream,
        sleep=sleeps or Sleeps(),
    )


async def test_success_returns_text_model_usage_and_sends_our_key(
    openai_server: FakeOpenAI,
) -> None:
    openai_server.script(ok("Hello there!", usage={"prompt_tokens": 21, "completion_tokens": 3}))
    llm = client(openai_server)
    completion = await llm.complete(HELLO, max_tokens=50)
    await llm.aclose()
    assert completion.text == "Hello there!"
    assert completion.model == "gpt-4o-mini"
    assert (completion.prompt_tokens, completion.completion_tokens) == (21, 3)
    assert completion.attempts == 1 and completion.finish_reason == "stop"
    [request] = openai_server.requests
    assert request.path == "/v1/chat/completions"
    assert request.headers["authorization"] == "Bearer sk-test-key"
    assert request.body["model"] == "gpt-4o-mini" and request.body["max_tokens"] == 50
    assert [m["role"] for m in request.body["messages"]] == ["system", "user"]


async def test_streaming_collects_deltas_and_the_usage_chunk(openai_server: FakeOpenAI) -> None:
    openai_server.script(ok("Your parcel left our warehouse today."))
    llm = client(openai_server, stream=True)
    completion = await llm.complete(HELLO)
    await llm.aclose()
    assert completion.text == "Your parcel left our warehouse today."
    assert completion.completion_tokens == 6
    [request] = openai_server.requests
    assert request.body["stream"] is True
    assert request.body["stream_options"] == {"include_usage": True}


async def test_a_recorded_live_stream_is_parsed_verbatim(openai_server: FakeOpenAI) -> None:
    name = "test_completions_streaming__test_parse_nothing"
    expected = ""
    usage = {}
    for line in (RECORDED_SSE / f"{name}.sse.txt").read_text().splitlines():
        if line.startswith("data: {"):
            chunk = json.loads(line[6:])
            for choice in chunk["choices"]:
                expected += choice["delta"].get("content") or ""
            usage = chunk.get("usage") or usage
    openai_server.script(recorded(name))
    llm = client(openai_server, stream=True)
    completion = await llm.complete(HELLO)
    await llm.aclose()
    assert completion.text == expected and expected.startswith("I'm unable")
    assert completion.model == "gpt-4o-2024-08-06"
    assert completion.prompt_tokens == usage["prompt_tokens"]


async def test_429_is_retried_after_the_retry_after_header(openai_server: FakeOpenAI) -> None:
    sleeps = Sleeps()
    openai_server.script(rate_limited(retry_after=1.5), ok("after the wait"))
    llm = client(openai_server, sleeps=sleeps)
    completion = await llm.complete(HELLO)
    await llm.aclose()
    assert completion.text == "after the wait" and completion.attempts == 2
    assert sleeps.waits == [1.5]
    assert len(openai_server.requests) == 2


async def test_retry_after_ms_wins_over_backoff(openai_server: FakeOpenAI) -> None:
    sleeps = Sleeps()
    openai_server.script(rate_limited(retry_after=0.25, header="retry-after-ms"), ok("ok"))
    llm = client(openai_server, sleeps=sleeps)
    await llm.complete(HELLO)
    await llm.aclose()
    assert sleeps.waits == [0.25]


async def test_429_without_header_uses_the_wait_in_the_message(openai_server: FakeOpenAI) -> None:
    sleeps = Sleeps()
    openai_server.script(rate_limited(retry_after=None), ok("ok"))
    llm = client(openai_server, timeout_s=30, sleeps=sleeps)
    await llm.complete(HELLO)
    await llm.aclose()
    assert sleeps.waits == [26.604]  # "Please try again in 26.604s" in the recorded body


async def test_a_retry_after_beyond_the_budget_gives_up_at_once(openai_server: FakeOpenAI) -> None:
    sleeps = Sleeps()
    openai_server.script(rate_limited(retry_after=60))
    llm = client(openai_server, timeout_s=5, sleeps=sleeps)
    with pytest.raises(LLMRateLimited, match="would exceed the 5 s budget"):
        await llm.complete(HELLO)
    await llm.aclose()
    assert sleeps.waits == [] and len(openai_server.requests) == 1


async def test_500s_are_retried_with_backoff_then_give_up(openai_server: FakeOpenAI) -> None:
    sleeps = Sleeps()
    openai_server.script(server_error(), server_error(), server_error(), ok("never reached"))
    llm = client(openai_server, sleeps=sleeps)
    with pytest.raises(LLMUnavailable, match=r"failed \(500\); gave up after 3 attempts"):
        await llm.complete(HELLO)
    await llm.aclose()
    assert len(openai_server.requests) == 3
    assert len(sleeps.waits) == 2
    assert 0.18 <= sleeps.waits[0] <= 0.22 and 0.36 <= sleeps.waits[1] <= 0.44  # doubling


async def test_a_500_then_success_recovers(openai_server: FakeOpenAI) -> None:
    openai_server.script(server_error(), ok("recovered"))
    llm = client(openai_server)
    completion = await llm.complete(HELLO)
    await llm.aclose()
    assert completion.text == "recovered" and completion.attempts == 2


async def test_insufficient_quota_is_not_retried(openai_server: FakeOpenAI) -> None:
    openai_server.script(insufficient_quota(), ok("never reached"))
    llm = client(openai_server)
    with pytest.raises(LLMQuotaExceeded, match="insufficient_quota"):
        await llm.complete(HELLO)
    await llm.aclose()
    assert len(openai_server.requests) == 1


async def test_401_is_not_retried(openai_server: FakeOpenAI) -> None:
    openai_server.script(unauthorized(), ok("never reached"))
    llm = client(openai_server)
    with pytest.raises(LLMAuthError, match="401 invalid_api_key"):
        await llm.complete(HELLO)
    await llm.aclose()
    assert len(openai_server.requests) == 1


async def test_unknown_model_404_is_not_retried(openai_server: FakeOpenAI) -> None:
    body = {
        "error": {
            "message": "The model `x` does not exist",
            "type": "invalid_request_error",
            "param": None,
            "code": "model_not_found",
        }
    }
    openai_server.script(Reply(status=404, body=body))
    llm = client(openai_server)
    with pytest.raises(LLMRequestError, match="404 model_not_found"):
        await llm.complete(HELLO)
    await llm.aclose()
    assert len(openai_server.requests) == 1


NOT_A_COMPLETION = {
    "truncated-json": malformed(),
    "html-page": malformed("<html><body>upstream error</body></html>", "text/html"),
    "choice-without-message": Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [{"index": 0, "finish_reason": "stop"}],
        }
    ),
    "empty-choices": Reply(
        body={
            "id": "chatcmpl-1",
            "object": "chat.completion",
            "created": 1,
            "model": "gpt-4o-mini",
            "choices": [],
        }
    ),
}


@pytest.mark.parametrize("stream", [False, True], ids=["json", "stream"])
@pytest.mark.parametrize("reply", list(NOT_A_COMPLETION), ids=list(NOT_A_COMPLETION))
async def test_a_body_that_is_not_a_chat_completion_is_a_bad_response(
    openai_server: FakeOpenAI, reply: str, stream: bool
) -> None:
    """The library hands back a string or a half-built object (or raises JSONDecodeError)
    for such bodies; they used to escape as ValueError/AttributeError, so the drafter could
    not fall back and the draft task failed with a traceback."""
    openai_server.script(NOT_A_COMPLETION[reply])
    llm = client(openai_server, stream=stream)
    with pytest.raises(LLMBadResponse):
        await llm.complete(HELLO)
    await llm.aclose()
    assert len(openai_server.requests) == 1


def long_history(n: int = 30) -> list[ChatMessage]:
    history = [
        ChatMessage(
            "user",
            f'<ticket_message n="{i}">' + "words " * 60 + "</ticket_message>",
            trimmable=0 < i < n - 1,
        )
        for i in range(n)
    ]
    return [ChatMessage("system", "rules"), *history, ChatMessage("user", "Task: reply.")]


async def test_context_length_trims_the_oldest_history_and_retries_once(
    openai_server: FakeOpenAI,
) -> None:
    openai_server.script(context_length_exceeded(limit=1000, got=2400), ok("fits now"))
    llm = client(openai_server)
    messages = long_history()
    completion = await llm.complete(messages)
    await llm.aclose()
    assert completion.text == "fits now" and completion.trimmed > 0
    first, second = (r.body["messages"] for r in openai_server.requests)
    assert len(first) == len(messages)
    assert len(second) == len(messages) - completion.trimmed
    assert second[0] == first[0] and second[1] == first[1] and second[-2:] == first[-2:]
    kept = [m["content"] for m in second[2:-2]]
    dropped = [m["content"] for m in first[2:-2] if m["content"] not in kept]
    assert dropped == [m["content"] for m in first[2 : 2 + len(dropped)]]  # the oldest ones


async def test_context_length_twice_is_an_error_after_one_trim(openai_server: FakeOpenAI) -> None:
    openai_server.script(context_length_exceeded(), context_length_exceeded(), ok("never"))
    llm = client(openai_server)
    with pytest.raises(LLMContextTooLong, match="even after leaving out"):
        await llm.complete(long_history())
    await llm.aclose()
    assert len(openai_server.requests) == 2


async def test_a_hanging_server_times_out_within_the_budget(openai_server: FakeOpenAI) -> None:
    openai_server.script(hang(5))
    llm = client(openai_server, timeout_s=0.5)
    started = time.monotonic()
    with pytest.raises(LLMTimeout, match=r"within 0\.5 s"):
        await llm.complete(HELLO)
    elapsed = time.monotonic() - started
    await llm.aclose()
    assert 0.4 <= elapsed < 2.0
    assert len(openai_server.requests) == 1


async def test_a_server_that_is_down_fails_after_bounded_retries() -> None:
    sleeps = Sleeps()
    base_url = unused_base_url()
    llm = client(base_url, sleeps=sleeps)
    with pytest.raises(
        LLMUnavailable, match=re.escape(f"{base_url} did not answer; gave up after 3")
    ):
        await llm.complete(HELLO)
    await llm.aclose()
    assert len(sleeps.waits) == 2


def test_timeout_is_capped_at_30_seconds() -> None:
    assert (
        OpenAIChatClient(model="m", base_url="http://127.0.0.1:1/v1", timeout_s=120).timeout_s == 30
    )
