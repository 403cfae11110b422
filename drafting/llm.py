"""The language model client: OpenAI-compatible chat completions under our own retry policy.

The only module that imports `openai`. `OpenAIChatClient` holds an `AsyncOpenAI` (any
compatible server through `base_url`: OpenAI, Azure OpenAI's v1 endpoint, Ollama, vLLM,
LM Studio) with the library's retries off, and applies one policy:

* one time budget (at most 30 s) for the whole call, retries included;
* 429 rate limits, 408/409, 5xx and connection failures are retried with exponential backoff,
  at most `max_attempts` times, waiting what the server asks (`retry-after-ms`, `retry-after`,
  or "try again in …" in the error message) when it fits the budget;
* 429 `insufficient_quota`, 401 and 403 are not retried;
* 400 `context_length_exceeded` drops the oldest trimmable history and retries once;
* every failure becomes a `DraftingError` subclass whose message is safe to show;
* an optional `observer` hears of every call once it ends: how long it took and, when it
  failed, the error (the application turns that into metrics; drafting imports none).
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from typing import Any

import openai
from openai import AsyncOpenAI

from drafting.chat import (
    ChatMessage,
    Completion,
    LLMCall,
    LLMClient,
    LLMObserver,
    RetryPolicy,
    retry_after_s,
    trim_history,
)
from drafting.errors import (
    LLMAuthError,
    LLMBadResponse,
    LLMContextTooLong,
    LLMError,
    LLMQuotaExceeded,
    LLMRateLimited,
    LLMRequestError,
    LLMTimeout,
    LLMUnavailable,
)
from drafting.tokens import estimate_message_tokens, estimate_tokens

MAX_TIMEOUT_S = 30.0
DEFAULT_BASE_URL = "https://api.openai.com/v1"
# Local servers (Ollama, vLLM, LM Studio) take any key; the client library insists on one.
KEYLESS = "not-needed"
RETRYABLE_STATUS = frozenset({408, 409, 429, 500, 502, 503, 504})

log = logging.getLogger(__name__)

__all__ = [
    "ChatMessage",
    "Completion",
    "LLMCall",
    "LLMClient",
    "LLMObserver",
    "OpenAIChatClient",
    "RetryPolicy",
    "retry_after_s",
    "trim_history",
]


def _error_code(exc: openai.APIStatusError) -> str:
    """The `code` (or `type`) of an API error body, whichever the server filled."""
    code = exc.code or ""
    if not code and isinstance(exc.body, dict):
        error = exc.body.get("error", exc.body)
        if isinstance(error, dict):
            code = str(error.get("code") or error.get("type") or "")
    return code or (exc.type or "")


class OpenAIChatClient:
    """`LLMClient` over `AsyncOpenAI`; see the module docstring for the policy."""

    def __init__(
        self,
        *,
        model: str,
        api_key: str | None = None,
        base_url: str | None = None,
        timeout_s: float = MAX_TIMEOUT_S,
        retry: RetryPolicy | None = None,
        stream: bool = False,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
        observer: LLMObserver | None = None,
    ) -> None:
        self.model = model
        self.observer = observer
        self.base_url = (base_url or DEFAULT_BASE_URL).rstrip("/")
        self.timeout_s = min(max(timeout_s, 0.05), MAX_TIMEOUT_S)
        self.retry = retry or RetryPolicy()
        self.stream = stream
        self._sleep = sleep
        self._client = AsyncOpenAI(
            api_key=api_key or KEYLESS,
            base_url=self.base_url,
            timeout=self.timeout_s,
            max_retries=0,
        )

    async def aclose(self) -> None:
        await self._client.close()

    async def complete(
        self,
        messages: Sequence[ChatMessage],
        *,
        max_tokens: int = 700,
        temperature: float = 0.2,
    ) -> Completion:
        """The model's answer, after retries and at most one trim; raises `LLMError`s.

        The observer, if any, hears of the call once it ended, answered or failed."""
        started = time.monotonic()
        try:
            completion = await self._complete(messages, max_tokens, temperature, started)
        except LLMError as exc:
            self._observe(LLMCall(self.model, time.monotonic() - started, exc))
            raise
        self._observe(LLMCall(self.model, time.monotonic() - started))
        return completion

    def _observe(self, call: LLMCall) -> None:
        if self.observer is None:
            return
        try:
            self.observer(call)
        except Exception:  # an observer must never break drafting
            log.exception("the model call observer failed")

    async def _complete(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        temperature: float,
        started: float,
    ) -> Completion:
        deadline = started + self.timeout_s
        current = list(messages)
        trimmed = 0
        trim_used = False
        attempt = 0
        while True:
            attempt += 1
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise LLMTimeout(f"the model did not answer within {self.timeout_s:g} s")
            try:
                async with asyncio.timeout(remaining):
                    text, model, usage, finish = await self._once(
                        current, max_tokens, temperature, remaining
                    )
            except (TimeoutError, openai.APITimeoutError):
                raise LLMTimeout(f"the model did not answer within {self.timeout_s:g} s") from None
            except openai.BadRequestError as exc:
                if _error_code(exc) == "context_length_exceeded":
                    if trim_used:
                        raise LLMContextTooLong(
                            f"the ticket is too long for the model even after leaving out "
                            f"the {trimmed} oldest messages"
                        ) from None
                    current, dropped = trim_history(current, exc.message)
                    if dropped == 0:
                        raise LLMContextTooLong(
                            "the prompt is too long for the model and has no history to trim"
                        ) from None
                    trimmed += dropped
                    trim_used = True
                    attempt -= 1  # a trimmed retry is a new request, not a failed attempt
                    continue
                raise LLMRequestError(
                    f"the model server refused the request (400 {_error_code(exc) or 'bad'})"
                ) from None
            except (openai.AuthenticationError, openai.PermissionDeniedError) as exc:
                raise LLMAuthError(
                    f"the model server refused the API key ({exc.status_code} "
                    f"{_error_code(exc) or 'unauthorized'})"
                ) from None
            except openai.APIStatusError as exc:
                code = _error_code(exc)
                if exc.status_code == 429 and code == "insufficient_quota":
                    raise LLMQuotaExceeded(
                        "the model account has no quota left (429 insufficient_quota)"
                    ) from None
                if exc.status_code not in RETRYABLE_STATUS and exc.status_code < 500:
                    raise LLMRequestError(
                        f"the model server refused the request ({exc.status_code} "
                        f"{code or 'error'})"
                    ) from None
                error: LLMError = (
                    LLMRateLimited(
                        f"the model server kept rate-limiting (429 {code or ''})".strip()
                    )
                    if exc.status_code == 429
                    else LLMUnavailable(f"the model server failed ({exc.status_code})")
                )
                wait = retry_after_s(exc.response.headers, exc.message)
                await self._before_retry(error, attempt, wait, deadline)
                continue
            except openai.APIConnectionError:
                error = LLMUnavailable(f"the model server at {self.base_url} did not answer")
                await self._before_retry(error, attempt, None, deadline)
                continue
            except openai.OpenAIError as exc:
                raise LLMError(f"the model client failed: {type(exc).__name__}") from None
            except (ValueError, TypeError, AttributeError, KeyError) as exc:
                # A body that is not JSON, or JSON that is not a chat completion: the library
                # hands back a string or a half-built object instead of raising its own error.
                raise LLMBadResponse(
                    "the model server answered with something that is not a chat completion "
                    f"({type(exc).__name__})"
                ) from None
            if not text.strip():
                raise LLMBadResponse(
                    "the model answered with no text"
                    + (f" (finish reason {finish})" if finish else "")
                )
            prompt_tokens = usage.get("prompt_tokens") or estimate_message_tokens(
                [m.content for m in current]
            )
            completion_tokens = usage.get("completion_tokens") or estimate_tokens(text)
            return Completion(
                text=text,
                model=model or self.model,
                prompt_tokens=int(prompt_tokens),
                completion_tokens=int(completion_tokens),
                latency_ms=int((time.monotonic() - started) * 1000),
                attempts=attempt,
                trimmed=trimmed,
                finish_reason=finish,
            )

    async def _before_retry(
        self, error: LLMError, attempt: int, wait: float | None, deadline: float
    ) -> None:
        """Wait before the next attempt, or raise `error` when attempts or time are used up."""
        if attempt >= self.retry.max_attempts:
            error.reason = f"{error.reason}; gave up after {attempt} attempts"
            error.args = (error.reason,)
            raise error
        delay = wait if wait is not None else self.retry.backoff(attempt)
        if time.monotonic() + delay >= deadline:
            error.reason = (
                f"{error.reason}; the next try (in {delay:.1f} s) would exceed the "
                f"{self.timeout_s:g} s budget"
            )
            error.args = (error.reason,)
            raise error
        await self._sleep(delay)

    async def _once(
        self,
        messages: Sequence[ChatMessage],
        max_tokens: int,
        temperature: float,
        budget_s: float,
    ) -> tuple[str, str, dict[str, int], str | None]:
        payload: list[Any] = [{"role": m.role, "content": m.content} for m in messages]
        if not self.stream:
            response = await self._client.chat.completions.create(
                model=self.model,
                messages=payload,
                max_tokens=max_tokens,
                temperature=temperature,
                timeout=budget_s,
            )
            if not response.choices:
                raise LLMBadResponse("the model answered with no choices")
            choice = response.choices[0]
            usage = response.usage
            counts = (
                {
                    "prompt_tokens": usage.prompt_tokens,
                    "completion_tokens": usage.completion_tokens,
                }
                if usage is not None
                else {}
            )
            text = choice.message.content or ""
            if not text and choice.message.refusal:
                raise LLMBadResponse("the model refused to write a draft")
            return text, response.model, counts, choice.finish_reason
        stream = await self._client.chat.completions.create(
            model=self.model,
            messages=payload,
            max_tokens=max_tokens,
            temperature=temperature,
            timeout=budget_s,
            stream=True,
            stream_options={"include_usage": True},
        )
        parts: list[str] = []
        model = ""
        finish: str | None = None
        counts = {}
        async for chunk in stream:
            model = chunk.model or model
            if chunk.usage is not None:
                counts = {
                    "prompt_tokens": chunk.usage.prompt_tokens,
                    "completion_tokens": chunk.usage.completion_tokens,
                }
            for choice_delta in chunk.choices:
                if choice_delta.index != 0:
                    continue
                if choice_delta.delta.content:
                    parts.append(choice_delta.delta.content)
                if choice_delta.finish_reason:
                    finish = choice_delta.finish_reason
        return "".join(parts), model, counts, finish
