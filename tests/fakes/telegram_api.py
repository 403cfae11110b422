"""A fake Telegram Bot API on 127.0.0.1 for tests and benches, answering like the real one.

Bodies are built from real Bot API payloads in `../shared/fixtures/telegram/nutgram/` (the bot
user, the 429 / 403 / 400 error bodies); every call is recorded; failures can be scripted:

    api = FakeTelegramApi().start()        # a server thread; api.url is the Bot API root
    bot = Bot(TOKEN, base_url=f"{api.url}/bot", base_file_url=f"{api.url}/file/bot")
    api.rate_limit(retry_after=1)          # the next sendMessage answers 429 + retry_after
    api.block(chat_id)                     # sendMessage to it: 403 bot was blocked by the user
    api.server_error(status=502)           # the next sendMessage answers 5xx
    api.garbage("<html>…</html>", content_type="text/html")  # the next one: not the API's JSON
    api.enforce_limits = True              # >1 msg/s per chat or >30/s overall -> 429
    api.push_update({...})                 # served by getUpdates (offset confirms, as Telegram)
    api.backdate(chat_id, message_id, hours=49)  # sent that long ago (deleteMessage: 48 h)
    await api.wait_for("sendMessage", count=2)
    api.texts(chat_id)                     # what each chat received, in order
    api.stop()
"""

from __future__ import annotations

import asyncio
import contextlib
import copy
import itertools
import json
import math
import re
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from aiohttp import web

FIXTURES = Path(__file__).resolve().parents[3] / "shared" / "fixtures" / "telegram" / "nutgram"
TOKEN = "5681419729:AAFakeTokenForTestsOnly_abcdefghijk"

SEND_METHODS = frozenset(
    {"sendMessage", "sendPhoto", "sendDocument", "sendVoice", "sendAudio", "sendVideo"}
)
_STRUCTURED = frozenset(
    {
        "reply_markup",
        "allowed_updates",
        "commands",
        "scope",
        "entities",
        "caption_entities",
        "reply_parameters",
        "link_preview_options",
    }
)
_INTEGERS = frozenset(
    {"chat_id", "message_id", "message_thread_id", "offset", "limit", "timeout", "max_connections"}
)
_COMMAND_NAME = re.compile(r"^[a-z0-9_]{1,32}$")
BLOCKED = "Forbidden: bot was blocked by the user"
DELETE_WINDOW_S = 48 * 3600  # a bot may delete its messages in a private chat for 48 hours


def fixture(*parts: str) -> dict[str, Any]:
    """A fixture payload as a fresh dict (raises when `../shared` is missing)."""
    data: dict[str, Any] = json.loads((FIXTURES.joinpath(*parts)).read_text(encoding="utf-8"))
    return data


def bot_user() -> dict[str, Any]:
    """The bot's own `User` object, as `getMe` returns it (from a real getChatAdministrators)."""
    members = fixture("bot_api_responses", "chat_members.json")["result"]
    user = copy.deepcopy(next(m["user"] for m in members if m["user"]["is_bot"]))
    user.update(can_join_groups=True, can_read_all_group_messages=False)
    user.update(supports_inline_queries=False)
    return user


def error_body(status: int, description: str, retry_after: int | None = None) -> dict[str, Any]:
    """An error body shaped like the real ones in the fixtures."""
    if status == 429:
        body = fixture("bot_api_responses", "too_many_requests.json")
        body["description"] = f"Too Many Requests: retry after {retry_after}"
        body["parameters"]["retry_after"] = retry_after
        return body
    if status == 403:
        body = fixture("bot_api_responses", "user_deactivated.json")
    elif status == 400:
        body = fixture("bot_api_responses", "too_long.json")
    else:
        body = {"ok": False, "error_code": status, "description": description}
    body["error_code"] = status
    body["description"] = description
    return body


@dataclass
class Call:
    """One request the fake received (`at` is `time.monotonic()` on arrival)."""

    method: str
    params: dict[str, Any]
    at: float = field(default_factory=time.monotonic)
    status: int = 200
    garbled: bool = False  # answered with a scripted body that is not the API's (`garbage`)


@dataclass
class _Scripted:
    method: str
    status: int
    description: str
    retry_after: int | None = None
    chat_id: int | None = None
    times: int = 1
    raw: str | None = None  # answer this body verbatim (with `content_type`), not the API's
    content_type: str = "application/json"


class FakeTelegramApi:
    """The Bot API methods relaydesk uses, served from a background thread."""

    def __init__(
        self,
        token: str = TOKEN,
        *,
        enforce_limits: bool = False,
        per_chat_interval: float = 1.0,
        per_second: int = 30,
        strict_text_limit: bool = True,
    ) -> None:
        self.token = token
        self.enforce_limits = enforce_limits
        self.per_chat_interval = per_chat_interval
        self.per_second = per_second
        self.strict_text_limit = strict_text_limit
        self.me = bot_user()
        self.calls: list[Call] = []
        self.messages: dict[tuple[int, int], dict[str, Any]] = {}
        self.chats: dict[int, dict[str, Any]] = {}
        self.blocked: set[int] = set()
        self.webhook: dict[str, Any] = {}
        self.commands: dict[str, list[dict[str, Any]]] = {}
        self.callback_answers: list[dict[str, Any]] = []
        self.on_call: list[Callable[[Call], None]] = []
        self._updates: deque[dict[str, Any]] = deque()
        self.confirmed_offsets: list[int] = []
        self._scripted: list[_Scripted] = []
        self._last_send: dict[int, float] = {}
        self._recent_sends: deque[float] = deque()
        self._message_ids = itertools.count(1000)
        self._file_ids = itertools.count(1)
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._runner: web.AppRunner | None = None
        self._new_update: asyncio.Event | None = None
        self._started = threading.Event()
        self._closing = False
        self.port = 0

    # ---- running -------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """The Bot API root to pass as `RELAYDESK_TELEGRAM_API_URL`."""
        return f"http://127.0.0.1:{self.port}"

    def start(self) -> FakeTelegramApi:
        self._thread = threading.Thread(target=self._serve, name="fake-telegram", daemon=True)
        self._thread.start()
        if not self._started.wait(10):
            raise RuntimeError("the fake Bot API did not start")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is None:
            return
        asyncio.run_coroutine_threadsafe(self._shutdown(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        if self._thread is not None:
            self._thread.join(10)
        self._loop = None

    def __enter__(self) -> FakeTelegramApi:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.stop()

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        self._loop = loop
        self._new_update = asyncio.Event()
        app = web.Application(client_max_size=60 * 1024 * 1024)
        app.router.add_route("*", "/bot{token}/{method}", self._api)
        app.router.add_route("GET", "/file/bot{token}/{path:.*}", self._file)
        self._runner = web.AppRunner(app, access_log=None)
        loop.run_until_complete(self._runner.setup())
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        loop.run_until_complete(site.start())
        server = site._server
        assert server is not None
        self.port = server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._started.set()
        loop.run_forever()
        loop.close()

    async def _shutdown(self) -> None:
        self._closing = True
        if self._new_update is not None:
            self._new_update.set()  # long polls answer now
        if self._runner is not None:
            await self._runner.cleanup()

    # ---- scripting -------------------------------------------------------------------------

    def rate_limit(
        self,
        *,
        retry_after: int = 1,
        method: str = "sendMessage",
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls answer 429 with `parameters.retry_after`."""
        self._script(
            _Scripted(method, 429, "", retry_after=retry_after, chat_id=chat_id, times=times)
        )

    def server_error(
        self,
        *,
        status: int = 500,
        method: str = "sendMessage",
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls answer a 5xx, as Telegram does when it is having a bad day."""
        description = "Internal Server Error" if status == 500 else "Bad Gateway"
        self._script(_Scripted(method, status, description, chat_id=chat_id, times=times))

    def fail(
        self,
        status: int,
        description: str,
        *,
        method: str = "sendMessage",
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls answer `status` with `description` (e.g. 400 chat not found)."""
        self._script(_Scripted(method, status, description, chat_id=chat_id, times=times))

    def garbage(
        self,
        body: str = '{"ok": true, "result": true}',
        *,
        status: int = 200,
        content_type: str = "application/json",
        method: str = "sendMessage",
        chat_id: int | None = None,
        times: int = 1,
    ) -> None:
        """The next `times` calls answer `body` verbatim: a truncated or mis-shaped answer,
        a proxy's HTML page. The call is refused (nothing delivered)."""
        self._script(
            _Scripted(
                method,
                status,
                "",
                chat_id=chat_id,
                times=times,
                raw=body,
                content_type=content_type,
            )
        )

    def block(self, chat_id: int) -> None:
        """The user blocked the bot: every message to `chat_id` answers 403."""
        with self._lock:
            self.blocked.add(chat_id)

    def push_update(self, update: dict[str, Any]) -> None:
        """Queue an update for `getUpdates` (kept until an offset past it confirms it)."""
        with self._lock:
            self._updates.append(copy.deepcopy(update))
        if self._loop is not None and self._new_update is not None:
            self._loop.call_soon_threadsafe(self._new_update.set)

    def backdate(self, chat_id: int, message_id: int, *, hours: float) -> None:
        """Pretend the bot sent this message `hours` ago."""
        with self._lock:
            self.messages[(chat_id, message_id)]["date"] -= int(hours * 3600)

    def pending_updates(self) -> list[int]:
        """The `update_id`s not confirmed yet."""
        with self._lock:
            return [u["update_id"] for u in self._updates]

    def _script(self, scripted: _Scripted) -> None:
        with self._lock:
            self._scripted.append(scripted)

    # ---- reading what happened -------------------------------------------------------------

    def calls_to(self, method: str) -> list[Call]:
        """Every call of `method` that was answered 200, in order of arrival."""
        with self._lock:
            return [
                c for c in self.calls if c.method == method and c.status == 200 and not c.garbled
            ]

    def attempts(self, method: str) -> list[Call]:
        """Every call of `method`, answered or refused."""
        with self._lock:
            return [c for c in self.calls if c.method == method]

    def texts(self, chat_id: int | None = None) -> list[str]:
        """Texts delivered by `sendMessage` (to one chat, or all), in order."""
        return [
            c.params.get("text", "")
            for c in self.calls_to("sendMessage")
            if chat_id is None or c.params.get("chat_id") == chat_id
        ]

    async def wait_for(
        self,
        method: str,
        count: int = 1,
        *,
        within: float = 15.0,
        where: Callable[[Call], bool] | None = None,
    ) -> list[Call]:
        """Wait until `count` successful calls of `method` (matching `where`) have arrived."""
        deadline = time.monotonic() + within
        while True:
            found = [c for c in self.calls_to(method) if where is None or where(c)]
            if len(found) >= count:
                return found
            if time.monotonic() > deadline:
                raise AssertionError(
                    f"{method}: {len(found)} of {count} calls after {within}s; "
                    f"saw {[c.method for c in self.calls]}"
                )
            await asyncio.sleep(0.02)

    # ---- the API -------------------------------------------------------------------------

    async def _params(self, request: web.Request) -> dict[str, Any]:
        params: dict[str, Any] = dict(request.query)
        if request.content_type == "application/json":
            body = await request.json()
            if isinstance(body, dict):
                params.update(body)
        elif request.can_read_body:
            form = await request.post()
            for key, value in form.items():
                if isinstance(value, web.FileField):
                    params[key] = {"upload": value.filename, "size": len(value.file.read())}
                else:
                    params[key] = value
        for key in list(params):
            value = params[key]
            if key in _STRUCTURED and isinstance(value, str):
                params[key] = json.loads(value)
            elif key in _INTEGERS and isinstance(value, str) and re.fullmatch(r"-?\d+", value):
                params[key] = int(value)
            elif value in ("true", "false"):
                params[key] = value == "true"
        return params

    def _record(self, call: Call) -> None:
        with self._lock:
            self.calls.append(call)
        for hook in self.on_call:
            hook(call)

    def _refusal(self, method: str, params: dict[str, Any]) -> web.Response | None:
        chat_id = params.get("chat_id")
        with self._lock:
            for scripted in self._scripted:
                if scripted.method != method:
                    continue
                if scripted.chat_id is not None and scripted.chat_id != chat_id:
                    continue
                scripted.times -= 1
                if scripted.times <= 0:
                    self._scripted.remove(scripted)
                if scripted.raw is not None:
                    return _Garbage(
                        text=scripted.raw,
                        status=scripted.status,
                        content_type=scripted.content_type,
                    )
                return _json(
                    error_body(scripted.status, scripted.description, scripted.retry_after),
                    scripted.status,
                )
            if method in SEND_METHODS and chat_id in self.blocked:
                return _json(error_body(403, BLOCKED), 403)
            if method in SEND_METHODS and self.enforce_limits:
                return self._pace(chat_id)
        return None

    def _pace(self, chat_id: Any) -> web.Response | None:
        """Telegram's flood limits: ~1 message/s per chat, 30/s overall (lock held)."""
        now = time.monotonic()
        while self._recent_sends and now - self._recent_sends[0] >= 1.0:
            self._recent_sends.popleft()
        wait = 0.0
        last = self._last_send.get(chat_id) if isinstance(chat_id, int) else None
        slack = 0.1  # jitter of a well-behaved sender
        if last is not None and now - last < self.per_chat_interval - slack:
            wait = self.per_chat_interval - (now - last)
        if len(self._recent_sends) >= self.per_second:
            wait = max(wait, 1.0 - (now - self._recent_sends[0]))
        if wait > 0:
            retry = max(1, math.ceil(wait))
            return _json(error_body(429, "", retry), 429)
        if isinstance(chat_id, int):
            self._last_send[chat_id] = now
        self._recent_sends.append(now)
        return None

    async def _api(self, request: web.Request) -> web.Response:
        method = request.match_info["method"]
        try:
            params = await self._params(request)
        except (ValueError, UnicodeDecodeError):
            return _json(error_body(400, "Bad Request: can't parse request parameters"), 400)
        call = Call(method, params)
        if request.match_info["token"] != self.token:
            call.status = 401
            self._record(call)
            return _json({"ok": False, "error_code": 401, "description": "Unauthorized"}, 401)
        refusal = self._refusal(method, params)
        handler = getattr(self, f"_m_{method}", None)
        if refusal is None and handler is None:
            refusal = _json({"ok": False, "error_code": 404, "description": "Not Found"}, 404)
        if refusal is None:
            assert handler is not None
            try:
                result = handler(params)
                if asyncio.iscoroutine(result):
                    result = await result
            except _ApiError as exc:
                refusal = _json(error_body(exc.status, exc.description), exc.status)
        if refusal is not None:
            call.status = refusal.status
            call.garbled = isinstance(refusal, _Garbage)
            self._record(call)
            return refusal
        self._record(call)
        if isinstance(result, tuple):
            value, description = result
            return _json({"ok": True, "result": value, "description": description})
        return _json({"ok": True, "result": result})

    async def _file(self, request: web.Request) -> web.Response:
        if request.match_info["token"] != self.token:
            return web.Response(status=401)
        return web.Response(body=b"\x89PNG fake file " + request.match_info["path"].encode())

    # ---- methods -------------------------------------------------------------------------

    def _m_getMe(self, _params: dict[str, Any]) -> dict[str, Any]:
        return dict(self.me)

    def _chat(self, chat_id: Any) -> dict[str, Any]:
        if not isinstance(chat_id, int):
            if isinstance(chat_id, str) and chat_id.startswith("@"):
                raise _ApiError(400, "Bad Request: chat not found")
            raise _ApiError(400, "Bad Request: chat_id is empty")
        known = self.chats.get(chat_id)
        if known is not None:
            return dict(known)
        if chat_id > 0:
            return {"id": chat_id, "first_name": "Customer", "type": "private"}
        return {"id": chat_id, "title": "Group", "type": "group"}

    def remember_chat(self, chat: dict[str, Any]) -> None:
        """Answer with this `Chat` object for its id (e.g. a chat taken from an update)."""
        self.chats[int(chat["id"])] = dict(chat)

    def _new_message(self, params: dict[str, Any], **content: Any) -> dict[str, Any]:
        chat = self._chat(params.get("chat_id"))
        message: dict[str, Any] = {
            "message_id": next(self._message_ids),
            "from": dict(self.me),
            "chat": chat,
            "date": int(time.time()),
            **content,
        }
        if params.get("message_thread_id"):
            message["message_thread_id"] = params["message_thread_id"]
            message["is_topic_message"] = True
        markup = params.get("reply_markup")
        if markup:
            self._check_markup(markup)
            message["reply_markup"] = markup
        with self._lock:
            self.messages[(chat["id"], message["message_id"])] = message
        return message

    @staticmethod
    def _check_markup(markup: dict[str, Any]) -> None:
        for row in markup.get("inline_keyboard", []):
            for button in row:
                data = button.get("callback_data")
                if data is not None and not 1 <= len(data.encode("utf-8")) <= 64:
                    raise _ApiError(400, "Bad Request: BUTTON_DATA_INVALID")
                if not button.get("text"):
                    raise _ApiError(400, "Bad Request: text buttons are unallowed")

    def _check_text(self, text: Any, what: str = "message text") -> str:
        if not isinstance(text, str) or not text.strip():
            raise _ApiError(400, f"Bad Request: {what} is empty")
        if self.strict_text_limit and len(text.encode("utf-16-le")) // 2 > 4096:
            raise _ApiError(400, "Bad Request: message is too long")
        return text

    def _m_sendMessage(self, params: dict[str, Any]) -> dict[str, Any]:
        text = self._check_text(params.get("text"))
        return self._new_message(params, text=text)

    def _file_message(self, params: dict[str, Any], kind: str) -> dict[str, Any]:
        given = params.get(kind)
        if given is None:
            raise _ApiError(400, f"Bad Request: there is no {kind} in the request")
        number = next(self._file_ids)
        file = {"file_id": f"{kind}-{number}", "file_unique_id": f"u{kind}{number}"}
        file["file_size"] = given.get("size", 0) if isinstance(given, dict) else 1024
        content: dict[str, Any] = {kind: [dict(file, width=800, height=600)]}
        if kind != "photo":
            content = {kind: dict(file, file_name=f"{kind}-{number}")}
        if params.get("caption"):
            content["caption"] = params["caption"]
        return self._new_message(params, **content)

    def _m_sendPhoto(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._file_message(params, "photo")

    def _m_sendDocument(self, params: dict[str, Any]) -> dict[str, Any]:
        return self._file_message(params, "document")

    def _stored(self, params: dict[str, Any], action: str = "edit") -> dict[str, Any]:
        key = (params.get("chat_id"), params.get("message_id"))
        with self._lock:
            message = self.messages.get(key)  # type: ignore[arg-type]
        if message is None:
            raise _ApiError(400, f"Bad Request: message to {action} not found")
        return message

    def _m_editMessageText(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._stored(params)
        text = self._check_text(params.get("text"))
        if text == message.get("text") and params.get("reply_markup") == message.get(
            "reply_markup"
        ):
            raise _ApiError(
                400,
                "Bad Request: message is not modified: specified new message content and "
                "reply markup are exactly the same as a current content and reply markup "
                "of the message",
            )
        message["text"] = text
        message["edit_date"] = int(time.time())
        if "reply_markup" in params:
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        return dict(message)

    def _m_deleteMessage(self, params: dict[str, Any]) -> bool:
        message = self._stored(params, "delete")
        if time.time() - message["date"] > DELETE_WINDOW_S:
            raise _ApiError(400, "Bad Request: message can't be deleted for everyone")
        with self._lock:
            self.messages.pop((message["chat"]["id"], message["message_id"]), None)
        return True

    def _m_editMessageReplyMarkup(self, params: dict[str, Any]) -> dict[str, Any]:
        message = self._stored(params)
        if params.get("reply_markup"):
            self._check_markup(params["reply_markup"])
            message["reply_markup"] = params["reply_markup"]
        else:
            message.pop("reply_markup", None)
        message["edit_date"] = int(time.time())
        return dict(message)

    def _m_answerCallbackQuery(self, params: dict[str, Any]) -> bool:
        if not params.get("callback_query_id"):
            raise _ApiError(400, "Bad Request: query is too old and response timeout expired")
        with self._lock:
            self.callback_answers.append(dict(params))
        return True

    def _m_setWebhook(self, params: dict[str, Any]) -> tuple[bool, str]:
        secret = params.get("secret_token")
        if secret is not None and not re.fullmatch(r"[A-Za-z0-9_-]{1,256}", str(secret)):
            raise _ApiError(400, "Bad Request: secret token contains unallowed characters")
        with self._lock:
            self.webhook = dict(params)
        return True, "Webhook was set"

    def _m_deleteWebhook(self, params: dict[str, Any]) -> tuple[bool, str]:
        with self._lock:
            had = bool(self.webhook)
            self.webhook = {}
            if params.get("drop_pending_updates"):
                self._updates.clear()
        return True, "Webhook was deleted" if had else "Webhook is already deleted"

    def _m_getWebhookInfo(self, _params: dict[str, Any]) -> dict[str, Any]:
        with self._lock:
            return {
                "url": self.webhook.get("url", ""),
                "has_custom_certificate": False,
                "pending_update_count": len(self._updates),
                "allowed_updates": self.webhook.get("allowed_updates", []),
            }

    def _m_setMyCommands(self, params: dict[str, Any]) -> bool:
        commands = params.get("commands")
        if not isinstance(commands, list):
            raise _ApiError(400, 'Bad Request: parameter "commands" is required')
        for command in commands:
            description = command.get("description", "")
            if (
                not _COMMAND_NAME.match(command.get("command", ""))
                or not 1 <= len(description) <= 256
            ):
                raise _ApiError(400, "Bad Request: BOT_COMMAND_INVALID")
        with self._lock:
            self.commands[params.get("language_code", "")] = commands
        return True

    def _m_getMyCommands(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            return list(self.commands.get(params.get("language_code", ""), []))

    def _m_getFile(self, params: dict[str, Any]) -> dict[str, Any]:
        file_id = params.get("file_id")
        if not file_id:
            description = fixture("bot_api_responses", "wrong_file_id.json")["description"]
            raise _ApiError(400, description)
        return {
            "file_id": file_id,
            "file_unique_id": f"u{file_id}",
            "file_size": 1024,
            "file_path": f"files/{file_id}",
        }

    async def _m_getUpdates(self, params: dict[str, Any]) -> list[dict[str, Any]]:
        with self._lock:
            if self.webhook:
                raise _ApiError(
                    409,
                    "Conflict: can't use getUpdates method while webhook is active; "
                    "use deleteWebhook to delete the webhook first",
                )
        offset = params.get("offset")
        limit = min(int(params.get("limit") or 100), 100)
        timeout = float(params.get("timeout") or 0)
        if isinstance(offset, int):
            with self._lock:
                before = len(self._updates)
                while self._updates and self._updates[0]["update_id"] < offset:
                    self._updates.popleft()
                if len(self._updates) < before:
                    self.confirmed_offsets.append(offset)
        deadline = time.monotonic() + timeout
        assert self._new_update is not None
        while True:
            with self._lock:
                ready = [copy.deepcopy(u) for u in list(self._updates)[:limit]]
            if ready or self._closing or time.monotonic() >= deadline:
                return ready
            self._new_update.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._new_update.wait(), deadline - time.monotonic())


class _ApiError(Exception):
    def __init__(self, status: int, description: str) -> None:
        super().__init__(description)
        self.status = status
        self.description = description


class _Garbage(web.Response):
    """A scripted answer that is not the Bot API's JSON."""


def _json(body: Any, status: int = 200) -> web.Response:
    return web.json_response(body, status=status)
