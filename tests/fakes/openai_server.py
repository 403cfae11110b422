"""A fake OpenAI-compatible API on 127.0.0.1: recorded answers, scripted failures, requests kept.

It answers `POST /v1/chat/completions` like the real API, built from the payloads in
`../shared/fixtures/openai/`: JSON completions, SSE streams (with the usage chunk when
`stream_options.include_usage` is set), 429 `rate_limit_exceeded` with `retry-after`, 429
`insufficient_quota`, 400 `context_length_exceeded`, 500, 401 `invalid_api_key`, or no answer at
all (a hang, for timeouts). It runs uvicorn in a thread, so sync tests, async tests and
subprocesses can all talk to it.

API (import the fixture into a test module or conftest:
`from tests.fakes.openai_server import openai_server  # noqa: F401`):

    def test_retry(openai_server: FakeOpenAI) -> None:
        openai_server.script(rate_limited(retry_after=0.1), ok("Hello!"))
        client = AsyncOpenAI(base_url=openai_server.base_url, api_key="test", max_retries=0)
        ...
        assert len(openai_server.requests) == 2
        assert "secret@example.com" not in openai_server.request_text()

- `script(*replies)`: answers for the next requests, in order; after them `default` answers.
- `default`: a `Reply`, or a function of the request body returning one (e.g. an echo).
- `requests`: every request received (`path`, `headers`, `body` as parsed JSON), in order.
- Helpers: `ok`, `rate_limited`, `insufficient_quota`, `context_length_exceeded`,
  `server_error`, `unauthorized`, `hang`, `malformed`, `recorded`, and `unused_base_url()`
  for a server that is down.
"""

from __future__ import annotations

import asyncio
import copy
import functools
import json
import socket
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvicorn
import yaml
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse
from starlette.routing import Route

OPENAI_FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "openai"
RECORDED_JSON = OPENAI_FIXTURES / "openai_python_recorded" / "chat_completions_json"
RECORDED_SSE = OPENAI_FIXTURES / "openai_python_recorded" / "chat_completions_sse"
ERROR_BODIES = OPENAI_FIXTURES / "observed_error_bodies" / "openai_error_bodies.json"
CASSETTE = OPENAI_FIXTURES / "newrelic_vcr" / "mlmodel_openai_cassette.yaml"
BASE_RECORDING = "test_completions__test_parse_nothing"
BASE_STREAM = "test_completions_streaming__test_parse_nothing"


@dataclass
class Reply:
    """One scripted answer. `text` may be a function of the request body."""

    status: int = 200
    text: str | Callable[[dict[str, Any]], str] | None = None
    body: dict[str, Any] | None = None
    sse: str | None = None
    headers: dict[str, str] = field(default_factory=dict)
    delay_s: float = 0.0
    usage: dict[str, int] | None = None
    finish_reason: str = "stop"
    raw: str | None = None  # answered verbatim (with `content_type`): a broken body
    content_type: str = "application/json"


@dataclass(frozen=True)
class RecordedRequest:
    """A request the fake received."""

    method: str
    path: str
    headers: dict[str, str]
    body: dict[str, Any]

    @property
    def text(self) -> str:
        """Every message content of the request, joined (what left the process)."""
        parts = []
        for message in self.body.get("messages", []):
            content = message.get("content")
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, list):
                parts.extend(str(p.get("text", "")) for p in content if isinstance(p, dict))
        return "\n".join(parts)


def fixtures_present() -> bool:
    return RECORDED_JSON.is_dir() and ERROR_BODIES.is_file() and CASSETTE.is_file()


def _load_json(path: Path) -> Any:
    return json.loads(path.read_text(encoding="utf-8"))


def _error_body(error_id: str) -> dict[str, Any]:
    for entry in _load_json(ERROR_BODIES)["errors"]:
        if entry["id"] == error_id:
            return copy.deepcopy(entry["body"])
    raise KeyError(error_id)


@functools.cache
def _cassette() -> list[dict[str, Any]]:
    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    data = yaml.load(CASSETTE.read_text(encoding="utf-8"), Loader=loader)
    interactions: list[dict[str, Any]] = data["interactions"]
    return interactions


def _cassette_response(status: int) -> tuple[dict[str, Any], dict[str, str]]:
    """Body and headers of the first recorded chat-completions exchange with this status."""
    for item in _cassette():
        response = item["response"]
        if (
            response["status"]["code"] == status
            and item["request"]["uri"].endswith("/chat/completions")
            and "json" in response["headers"].get("content-type", [""])[0]
        ):
            headers = {
                k: v[0]
                for k, v in response["headers"].items()
                if k.startswith(("x-", "openai-")) and k != "openai-organization"
            }
            return json.loads(response["body"]["string"]), headers
    raise KeyError(status)


def ok(
    text: str | Callable[[dict[str, Any]], str] = "Thank you for your message.",
    *,
    usage: dict[str, int] | None = None,
    finish_reason: str = "stop",
) -> Reply:
    """A 200 completion with `text` (JSON, or SSE when the request asks to stream)."""
    return Reply(text=text, usage=usage, finish_reason=finish_reason)


def rate_limited(retry_after: float | None = 1.0, *, header: str = "retry-after") -> Reply:
    """429 rate_limit_exceeded; `retry_after` seconds go in `header` (or `retry-after-ms`)."""
    headers = {}
    if retry_after is not None:
        value = retry_after * 1000 if header == "retry-after-ms" else retry_after
        headers[header] = f"{value:g}"
    return Reply(status=429, body=_error_body("rate_limit_exceeded_tpm"), headers=headers)


def insufficient_quota() -> Reply:
    """429 insufficient_quota: the account is out of credit (must not be retried)."""
    return Reply(status=429, body=_error_body("insufficient_quota"))


def context_length_exceeded(limit: int = 8192, got: int = 8227) -> Reply:
    """400 context_length_exceeded, its message naming `limit` and `got` tokens."""
    body = _error_body("context_length_exceeded_messages_8k")
    body["error"]["message"] = (
        f"This model's maximum context length is {limit} tokens. However, your messages "
        f"resulted in {got} tokens. Please reduce the length of the messages."
    )
    return Reply(status=400, body=body)


def server_error() -> Reply:
    """500 server_error."""
    return Reply(status=500, body=_error_body("server_error_500"))


def unauthorized() -> Reply:
    """401 invalid_api_key, as recorded."""
    body, headers = _cassette_response(401)
    return Reply(status=401, body=body, headers=headers)


def malformed(
    body: str = '{"id": "chatcmpl-1", "choices": [', content_type: str = "application/json"
) -> Reply:
    """A 200 whose body is not a chat completion (truncated JSON, a proxy's HTML page)."""
    return Reply(raw=body, content_type=content_type)


def hang(seconds: float = 5.0) -> Reply:
    """No answer for `seconds` (then a normal one): drives client timeouts."""
    return Reply(delay_s=seconds)


def recorded(name: str) -> Reply:
    """Replay a recorded exchange verbatim: a `chat_completions_json` or `_sse` fixture name."""
    sse_path = RECORDED_SSE / f"{name}.sse.txt"
    if sse_path.is_file():
        return Reply(sse=sse_path.read_text(encoding="utf-8"))
    data = _load_json(RECORDED_JSON / f"{name}.json")
    return Reply(status=data["response_status"], body=data["response_body"])


def unused_base_url() -> str:
    """The base URL of a port nothing listens on (a model server that is down)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    return f"http://127.0.0.1:{port}/v1"


def _count_tokens(text: str) -> int:
    return max(1, len(text.split()))


class FakeOpenAI:
    """The fake server; see the module docstring."""

    def __init__(self) -> None:
        self.requests: list[RecordedRequest] = []
        self.default: Reply | Callable[[dict[str, Any]], Reply] = ok()
        self._script: list[Reply] = []
        self._lock = threading.Lock()
        self._base_body = _load_json(RECORDED_JSON / f"{BASE_RECORDING}.json")["response_body"]
        first_chunk = (RECORDED_SSE / f"{BASE_STREAM}.sse.txt").read_text().split("\n", 1)[0]
        self._chunk = json.loads(first_chunk.removeprefix("data: "))
        self._ok_headers = _cassette_response(200)[1]
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}/v1"

    def script(self, *replies: Reply) -> None:
        """Answer the next requests with `replies`, in order."""
        with self._lock:
            self._script.extend(replies)

    def request_text(self) -> str:
        """Everything every request sent, joined: assert on it that nothing private left."""
        return "\n".join(json.dumps(r.body, ensure_ascii=False) for r in self.requests)

    def clear(self) -> None:
        with self._lock:
            self.requests.clear()
            self._script.clear()

    def _next(self, body: dict[str, Any]) -> Reply:
        with self._lock:
            if self._script:
                return self._script.pop(0)
        return self.default(body) if callable(self.default) else self.default

    async def _completions(self, request: Request) -> Response:
        raw = await request.body()
        try:
            body = json.loads(raw or b"{}")
        except json.JSONDecodeError:
            body = {"_raw": raw.decode("utf-8", "replace")}
        with self._lock:
            self.requests.append(
                RecordedRequest(request.method, request.url.path, dict(request.headers), body)
            )
        reply = self._next(body)
        if reply.delay_s:
            await asyncio.sleep(reply.delay_s)
        request_id = f"req_{uuid.uuid4().hex}"
        if reply.raw is not None:
            return Response(
                reply.raw,
                status_code=reply.status,
                media_type=reply.content_type,
                headers={"x-request-id": request_id},
            )
        if reply.sse is not None:
            return Response(
                reply.sse, media_type="text/event-stream", headers={"x-request-id": request_id}
            )
        if reply.status != 200 or reply.body is not None:
            headers = {"x-request-id": request_id, **reply.headers}
            return JSONResponse(reply.body or {}, status_code=reply.status, headers=headers)
        text = reply.text(body) if callable(reply.text) else (reply.text or "")
        prompt = "\n".join(
            str(m.get("content", "")) for m in body.get("messages", []) if isinstance(m, dict)
        )
        usage = reply.usage or {
            "prompt_tokens": _count_tokens(prompt),
            "completion_tokens": _count_tokens(text),
        }
        usage = {**usage, "total_tokens": usage["prompt_tokens"] + usage["completion_tokens"]}
        model = str(body.get("model", self._base_body["model"]))
        headers = {**self._ok_headers, "x-request-id": request_id, **reply.headers}
        if body.get("stream"):
            include_usage = bool((body.get("stream_options") or {}).get("include_usage"))
            return StreamingResponse(
                self._sse(text, model, usage if include_usage else None, reply.finish_reason),
                media_type="text/event-stream",
                headers=headers,
            )
        out = copy.deepcopy(self._base_body)
        out.update(id=f"chatcmpl-{uuid.uuid4().hex[:24]}", created=int(time.time()), model=model)
        out["choices"][0]["message"]["content"] = text
        out["choices"][0]["finish_reason"] = reply.finish_reason
        out["usage"] = {**out["usage"], **usage}
        return JSONResponse(out, headers=headers)

    def _sse(
        self, text: str, model: str, usage: dict[str, int] | None, finish_reason: str
    ) -> Iterator[str]:
        chunk_id = f"chatcmpl-{uuid.uuid4().hex[:24]}"

        def event(choices: list[dict[str, Any]], **extra: Any) -> str:
            chunk = {**self._chunk, "id": chunk_id, "model": model, "choices": choices, **extra}
            return f"data: {json.dumps(chunk)}\n\n"

        def choice(delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
            return {"index": 0, "delta": delta, "logprobs": None, "finish_reason": finish}

        yield event([choice({"role": "assistant", "content": "", "refusal": None})])
        words = text.split(" ")
        for i, word in enumerate(words):
            yield event([choice({"content": word if i == 0 else " " + word})])
        yield event([choice({}, finish_reason)])
        if usage is not None:
            yield event([], usage=usage)
        yield "data: [DONE]\n\n"

    def _app(self) -> Starlette:
        async def models(_request: Request) -> Response:
            return JSONResponse({"object": "list", "data": [{"id": "gpt-4o-mini"}]})

        return Starlette(
            routes=[
                Route("/v1/chat/completions", self._completions, methods=["POST"]),
                Route("/v1/models", models, methods=["GET"]),
            ]
        )

    def start(self) -> None:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        config = uvicorn.Config(
            self._app(),
            host="127.0.0.1",
            port=self.port,
            log_level="warning",
            access_log=False,
            lifespan="off",
            timeout_graceful_shutdown=1,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(target=self._server.run, name="fake-openai", daemon=True)
        self._thread.start()
        deadline = time.monotonic() + 10
        while not self._server.started:
            if time.monotonic() > deadline or not self._thread.is_alive():
                raise RuntimeError("the fake OpenAI server did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout=10)


@pytest.fixture
def openai_server() -> Iterator[FakeOpenAI]:
    """A running fake OpenAI API for one test (skipped when the shared fixtures are missing)."""
    if not fixtures_present():
        pytest.skip(
            f"shared OpenAI fixtures not found at {OPENAI_FIXTURES.name} (../shared missing)"
        )
    server = FakeOpenAI()
    server.start()
    try:
        yield server
    finally:
        server.stop()
