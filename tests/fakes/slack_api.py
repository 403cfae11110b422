"""A fake Slack Web API (and Socket Mode endpoint) on 127.0.0.1 for tests and benches.

Answers like Slack does, with bodies built from the official examples in
`../shared/fixtures/slack/web_api_examples/`, records every call, and can be scripted:

    api = FakeSlackApi().start()          # a server thread; api.url is the Web API root
    client = AsyncWebClient(token="xoxb-test", base_url=api.url)
    api.fail("chat.postMessage", "channel_not_found")      # next call answers ok=false
    api.rate_limit("chat.postMessage", retry_after=2)      # next call answers 429 Retry-After
    api.garbage("chat.postMessage", status=502)             # next call answers a non-JSON body
    api.pace_per_channel = 1.0            # chat.postMessage faster than 1/s per channel -> 429
    await api.wait_for("chat.postMessage", count=2)
    api.calls_to("chat.update")           # the parameters of each recorded call
    api.messages[(channel, ts)]           # what each posted message says now (chat.update,
                                          # chat.delete; unknown ones: message_not_found)
    api.stop()

Socket Mode: `apps.connections.open` answers a ws:// URL on this server; `send_envelope(...)`
pushes an envelope to the connected client and `acks` records what the client acknowledged.
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import threading
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import WSMsgType, web

EXAMPLES = (
    Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "slack" / "web_api_examples"
)
BOT_USER_ID = "W12345678"
TEAM_ID = "T12345678"


def example(method: str, outcome: str = "ok") -> dict[str, Any]:
    """An official example response of `method` (`ok` or `error`), as a fresh dict."""
    path = EXAMPLES / f"{method}__{outcome}.json"
    if not path.exists():
        return {"ok": outcome == "ok"}
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


@dataclass
class Call:
    """One request the fake received."""

    method: str
    params: dict[str, Any]
    token: str | None
    at: float = field(default_factory=time.monotonic)
    answer: dict[str, Any] | None = None


@dataclass
class _Scripted:
    method: str
    error: str | None = None
    status: int = 200
    retry_after: int | None = None
    channel: str | None = None
    times: int = 1
    raw: str | None = None  # answer this body verbatim instead of Slack's JSON
    content_type: str = "application/json"


class FakeSlackApi:
    """The Slack Web API methods relaydesk uses, in a background thread."""

    def __init__(self, *, pace_per_channel: float = 0.0) -> None:
        self.pace_per_channel = pace_per_channel
        self.calls: list[Call] = []
        self.acks: list[dict[str, Any]] = []
        self.uploads: list[bytes] = []
        self.users: dict[str, dict[str, Any]] = {}
        self.usergroups: dict[str, list[str]] = {}
        self.messages: dict[tuple[str, str], dict[str, Any]] = {}
        self.port = 0
        self._script: list[_Scripted] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        self._last_post: dict[str, float] = {}
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._sockets: list[web.WebSocketResponse] = []
        self._started = threading.Event()

    # ------------------------------------------------------------------ lifecycle

    @property
    def url(self) -> str:
        """The Web API root to give `AsyncWebClient(base_url=...)`."""
        return f"http://127.0.0.1:{self.port}/api/"

    def start(self) -> FakeSlackApi:
        self._thread = threading.Thread(target=self._serve, name="fake-slack", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fake Slack API did not start")
        return self

    def stop(self) -> None:
        if self._loop is None:
            return
        future = asyncio.run_coroutine_threadsafe(self._shutdown(), self._loop)
        future.result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        asyncio.set_event_loop(loop)
        app = web.Application(client_max_size=50 * 1024 * 1024)
        app.router.add_post("/api/{method}", self._api)
        app.router.add_get("/api/{method}", self._api)
        app.router.add_post("/upload/{file_id}", self._upload)
        app.router.add_get("/files/{file_id}", self._download)
        app.router.add_get("/socket", self._socket)
        app.router.add_post("/response/{key}", self._response_url)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[attr-defined]
        self._started.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        for ws in list(self._sockets):
            await ws.close()
        if self._runner is not None:
            await self._runner.cleanup()

    # ------------------------------------------------------------------ scripting

    def fail(self, method: str, error: str, *, channel: str | None = None, times: int = 1) -> None:
        """The next `times` calls of `method` (to `channel`, if given) answer ok=false, `error`."""
        with self._lock:
            self._script.append(_Scripted(method, error=error, channel=channel, times=times))

    def rate_limit(self, method: str, *, retry_after: int = 1, times: int = 1) -> None:
        """The next `times` calls of `method` answer HTTP 429 with `Retry-After`."""
        with self._lock:
            self._script.append(
                _Scripted(
                    method, error="ratelimited", status=429, retry_after=retry_after, times=times
                )
            )

    def server_error(self, method: str, *, status: int = 503, times: int = 1) -> None:
        """The next `times` calls of `method` answer a bare HTTP `status`."""
        with self._lock:
            self._script.append(_Scripted(method, error="fatal_error", status=status, times=times))

    def garbage(
        self,
        method: str,
        body: str = "<html><body>502 Bad Gateway</body></html>",
        *,
        status: int = 200,
        content_type: str = "text/html",
        times: int = 1,
    ) -> None:
        """The next `times` calls of `method` answer `body` verbatim: not Slack's JSON (a
        proxy's error page, a truncated body)."""
        with self._lock:
            self._script.append(
                _Scripted(method, status=status, raw=body, content_type=content_type, times=times)
            )

    # ------------------------------------------------------------------ inspection

    def calls_to(self, method: str) -> list[dict[str, Any]]:
        """The parameters of each successful-or-not call of `method`, in order."""
        with self._lock:
            return [c.params for c in self.calls if c.method == method]

    def answered(self, method: str) -> list[tuple[dict[str, Any], dict[str, Any]]]:
        """(parameters, answer) of each call of `method` that was answered ok."""
        with self._lock:
            return [
                (c.params, c.answer)
                for c in self.calls
                if c.method == method and c.answer is not None and c.answer.get("ok")
            ]

    def clear(self) -> None:
        with self._lock:
            self.calls.clear()
            self.acks.clear()

    async def wait_for(
        self,
        method: str,
        *,
        count: int = 1,
        within: float = 10.0,
        where: Callable[[dict[str, Any]], bool] | None = None,
    ) -> list[dict[str, Any]]:
        """Wait until `method` was called `count` times (matching `where`); return those calls."""
        deadline = time.monotonic() + within
        while True:
            found = [p for p in self.calls_to(method) if where is None or where(p)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                seen = sorted({c.method for c in self.calls})
                raise AssertionError(
                    f"{method} called {len(found)} times, expected {count}; calls seen: {seen}"
                )
            await asyncio.sleep(0.02)

    # ------------------------------------------------------------------ socket mode

    def send_envelope(self, envelope: dict[str, Any]) -> None:
        """Push a Socket Mode envelope to every connected client."""
        if self._loop is None:
            raise RuntimeError("not started")

        async def push() -> None:
            for ws in list(self._sockets):
                await ws.send_str(json.dumps(envelope))

        asyncio.run_coroutine_threadsafe(push(), self._loop).result(5)

    @property
    def socket_clients(self) -> int:
        return len(self._sockets)

    async def _socket(self, request: web.Request) -> web.WebSocketResponse:
        ws = web.WebSocketResponse(heartbeat=None)
        await ws.prepare(request)
        self._sockets.append(ws)
        await ws.send_str(
            json.dumps(
                {
                    "type": "hello",
                    "num_connections": 1,
                    "debug_info": {"host": "fake", "approximate_connection_time": 3600},
                    "connection_info": {"app_id": "A111"},
                }
            )
        )
        try:
            async for message in ws:
                if message.type == WSMsgType.TEXT:
                    with self._lock:
                        self.acks.append(json.loads(message.data))
        finally:
            if ws in self._sockets:
                self._sockets.remove(ws)
        return ws

    # ------------------------------------------------------------------ HTTP

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.method == "POST":
            if request.content_type == "application/json":
                body = await request.json()
                if isinstance(body, dict):
                    params.update(body)
            else:
                form = await request.post()
                for key, value in form.items():
                    params[key] = (
                        value if isinstance(value, str) else getattr(value, "filename", "")
                    )
        for key in ("blocks", "view", "files", "attachments"):
            value = params.get(key)
            if isinstance(value, str):
                with contextlib.suppress(ValueError):
                    params[key] = json.loads(value)
        return params

    def _scripted(self, method: str, params: dict[str, Any]) -> _Scripted | None:
        with self._lock:
            for item in self._script:
                if item.method != method:
                    continue
                if item.channel is not None and params.get("channel") != item.channel:
                    continue
                item.times -= 1
                if item.times <= 0:
                    self._script.remove(item)
                return item
        return None

    def _next_ts(self) -> str:
        return f"{int(time.time())}.{next(self._ts):06d}"

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        params = await self._params(request)
        auth = request.headers.get("Authorization", "")
        token = auth.removeprefix("Bearer ") or params.get("token")
        call = Call(method, params, token)
        with self._lock:
            self.calls.append(call)
        if not token:
            return web.json_response({"ok": False, "error": "not_authed"})
        scripted = self._scripted(method, params)
        if scripted is not None and scripted.raw is not None:
            return web.Response(
                text=scripted.raw, status=scripted.status, content_type=scripted.content_type
            )
        if scripted is not None:
            headers = {}
            if scripted.retry_after is not None:
                headers["Retry-After"] = str(scripted.retry_after)
            return web.json_response(
                {"ok": False, "error": scripted.error}, status=scripted.status, headers=headers
            )
        if method == "chat.postMessage" and self.pace_per_channel > 0:
            limited = self._pace(str(params.get("channel", "")))
            if limited is not None:
                return web.json_response(
                    {"ok": False, "error": "ratelimited"},
                    status=429,
                    headers={"Retry-After": str(limited)},
                )
        handler = getattr(self, "_m_" + method.replace(".", "_"), None)
        body = handler(params) if handler is not None else example(method)
        call.answer = body
        return web.json_response(body)

    def _pace(self, channel: str) -> int | None:
        now = time.monotonic()
        with self._lock:
            last = self._last_post.get(channel)
            # Slack tolerates short bursts; a little slack keeps network jitter from tripping it.
            if last is not None and now - last < self.pace_per_channel * 0.8:
                return max(1, round(self.pace_per_channel - (now - last)))
            self._last_post[channel] = now
        return None

    async def _upload(self, request: web.Request) -> web.Response:
        data = await request.read()
        with self._lock:
            self.uploads.append(data)
            self.calls.append(Call("upload", {"file_id": request.match_info["file_id"]}, None))
        return web.Response(text=f"OK - {len(data)}")

    def response_url(self, key: str = "r1") -> str:
        """A `response_url` (slash commands, buttons) that this fake answers and records."""
        return f"http://127.0.0.1:{self.port}/response/{key}"

    async def _response_url(self, request: web.Request) -> web.Response:
        body = await request.json()
        with self._lock:
            self.calls.append(
                Call("response_url", {"key": request.match_info["key"], **body}, None)
            )
        return web.Response(text="ok")

    async def _download(self, request: web.Request) -> web.Response:
        with self._lock:
            self.calls.append(Call("download", {"file_id": request.match_info["file_id"]}, None))
        return web.Response(body=b"file:" + request.match_info["file_id"].encode())

    # ------------------------------------------------------------------ methods

    def _m_auth_test(self, params: dict[str, Any]) -> dict[str, Any]:
        body = example("auth.test")
        body.update(user_id=BOT_USER_ID, team_id=TEAM_ID, bot_id="B12345678")
        return body

    def _m_chat_postMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        body = example("chat.postMessage")
        ts = self._next_ts()
        body["channel"] = params.get("channel")
        body["ts"] = ts
        message = body["message"]
        message.pop("attachments", None)
        message.update(text=params.get("text", ""), ts=ts)
        if params.get("blocks"):
            message["blocks"] = params["blocks"]
        if params.get("thread_ts"):
            message["thread_ts"] = params["thread_ts"]
        with self._lock:
            self.messages[(str(params.get("channel")), ts)] = message
        return body

    def _posted(self, params: dict[str, Any]) -> dict[str, Any] | None:
        with self._lock:
            return self.messages.get((str(params.get("channel")), str(params.get("ts"))))

    def _m_chat_update(self, params: dict[str, Any]) -> dict[str, Any]:
        posted = self._posted(params)
        if posted is None:
            return example("chat.delete", "error")  # {"ok": false, "error": "message_not_found"}
        body = example("chat.update")
        body.update(channel=params.get("channel"), ts=params.get("ts"), text=params.get("text"))
        body["message"]["text"] = params.get("text", "")
        posted["text"] = params.get("text", "")
        if "blocks" in params:
            posted["blocks"] = params["blocks"]
        return body

    def _m_chat_delete(self, params: dict[str, Any]) -> dict[str, Any]:
        if self._posted(params) is None:
            return example("chat.delete", "error")
        with self._lock:
            self.messages.pop((str(params.get("channel")), str(params.get("ts"))), None)
        body = example("chat.delete")
        body.update(channel=params.get("channel"), ts=params.get("ts"))
        return body

    def _m_chat_postEphemeral(self, params: dict[str, Any]) -> dict[str, Any]:
        body = example("chat.postEphemeral")
        body["message_ts"] = self._next_ts()
        return body

    def _m_views_open(self, params: dict[str, Any]) -> dict[str, Any]:
        if not params.get("trigger_id"):
            return example("views.open", "error")
        body = example("views.open")
        view = params.get("view") or {}
        body["view"] = {**body["view"], **view, "id": "V" + uuid.uuid4().hex[:8].upper()}
        return body

    def _m_conversations_open(self, params: dict[str, Any]) -> dict[str, Any]:
        body = example("conversations.open")
        body["channel"]["id"] = "D" + str(params.get("users", "U0")).lstrip("UW")[:9]
        return body

    def _m_conversations_info(self, params: dict[str, Any]) -> dict[str, Any]:
        body = example("conversations.info")
        body["channel"]["id"] = params.get("channel")
        return body

    def _m_users_info(self, params: dict[str, Any]) -> dict[str, Any]:
        body = example("users.info")
        user_id = str(params.get("user", ""))
        user = copy.deepcopy(body["user"])
        user["id"] = user_id
        user.update(self.users.get(user_id, {}))
        body["user"] = user
        return body

    def _m_usergroups_users_list(self, params: dict[str, Any]) -> dict[str, Any]:
        group = str(params.get("usergroup", ""))
        if group not in self.usergroups:
            return {"ok": False, "error": "no_such_subteam"}
        return {"ok": True, "users": list(self.usergroups[group])}

    def _m_files_getUploadURLExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = "F" + uuid.uuid4().hex[:10].upper()
        return {
            "ok": True,
            "upload_url": f"http://127.0.0.1:{self.port}/upload/{file_id}",
            "file_id": file_id,
        }

    def _m_files_completeUploadExternal(self, params: dict[str, Any]) -> dict[str, Any]:
        files = params.get("files") or []
        return {
            "ok": True,
            "files": [{"id": f.get("id"), "title": f.get("title", "")} for f in files],
        }

    def _m_files_info(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = str(params.get("file", ""))
        url = f"http://127.0.0.1:{self.port}/files/{file_id}"
        return {"ok": True, "file": {"id": file_id, "url_private_download": url}}

    def _m_apps_connections_open(self, params: dict[str, Any]) -> dict[str, Any]:
        return {"ok": True, "url": f"ws://127.0.0.1:{self.port}/socket"}
