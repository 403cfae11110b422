"""The Telegram channel: parses stored updates and sends outbound messages through the Bot API."""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections import OrderedDict
from datetime import timedelta
from typing import Any

from telegram import Bot
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TelegramError,
    TimedOut,
)
from telegram.request import HTTPXRequest

from bots.messages import InboundMessage, OutboundMessage
from bots.pipeline.channel import Pacing, PermanentSendError, SendError, TransientSendError
from bots.telegram.parse import CHANNEL, BotIdentity, ParseOptions, parse_update
from bots.telegram.render import keyboard, split_text

log = logging.getLogger(__name__)

DEFAULT_API_URL = "https://api.telegram.org"
POLL_TIMEOUT_S = 25
"""How long one `getUpdates` long poll waits for updates."""

_PROGRESS_MEMORY = 1000
_ACK_TEXT_LIMIT = 200
_MALFORMED = (KeyError, AttributeError, TypeError, ValueError)
"""What python-telegram-bot raises for a 200 whose JSON is not the object asked for."""


class _NoBodyDumps(logging.Filter):
    """python-telegram-bot logs a response body it cannot parse, whole and with a traceback,
    at ERROR, on every such call; it then raises, and the outbox logs that in one line with
    the ids (a body may also hold a customer's message)."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not str(record.msg).startswith("Can not load invalid JSON data")


_BODY_DUMPS = _NoBodyDumps()


def make_bot(token: str, api_url: str = DEFAULT_API_URL) -> Bot:
    """A `telegram.Bot` talking to the Bot API at `api_url` (the official one, a local Bot API
    server, or a test fake), with a connection pool sized for the outbox worker."""
    root = api_url.rstrip("/")
    logging.getLogger("telegram.request.BaseRequest").addFilter(_BODY_DUMPS)
    return Bot(
        token,
        base_url=f"{root}/bot",
        base_file_url=f"{root}/file/bot",
        request=HTTPXRequest(connection_pool_size=32, read_timeout=15.0, write_timeout=15.0),
        get_updates_request=HTTPXRequest(
            connection_pool_size=2, read_timeout=POLL_TIMEOUT_S + 10.0
        ),
    )


def translate_error(exc: TelegramError, token: str = "") -> SendError:
    """A python-telegram-bot error as the pipeline's transient or permanent send error."""
    reason = exc.message
    if token:
        reason = reason.replace(token, "<token>")
    if isinstance(exc, RetryAfter):
        value = exc.retry_after
        wait = value.total_seconds() if isinstance(value, timedelta) else float(value)
        return TransientSendError(f"429 rate limited: retry after {wait:g}s", retry_after=wait)
    if isinstance(exc, Forbidden):
        return PermanentSendError(f"403 {reason}")
    if isinstance(exc, ChatMigrated):
        return PermanentSendError(f"chat moved to {exc.new_chat_id}")
    if isinstance(exc, BadRequest):
        return PermanentSendError(f"400 {reason}")
    if isinstance(exc, TimedOut):
        return TransientSendError(f"timed out: {reason}")
    if isinstance(exc, InvalidToken):
        return TransientSendError("the Bot API rejected TELEGRAM_BOT_TOKEN")
    if isinstance(exc, NetworkError):
        return TransientSendError(f"network: {reason}")
    return TransientSendError(f"{type(exc).__name__}: {reason}")


class TelegramChannel:
    """The pipeline's `Channel` for Telegram; holds a `telegram.Bot` (composed, not inherited).

    `parse` reads stored Update payloads; `send` delivers one `OutboundMessage`, splitting
    long texts and remembering how far a split message got, so a retry after a failure in
    the middle resumes instead of repeating the pieces already delivered.
    """

    name = CHANNEL

    def __init__(
        self,
        bot: Bot,
        *,
        groups: bool = False,
        chunk_interval: float = 1.0,
        send_rate: float = 30.0,
    ) -> None:
        """`send_rate`: messages per second through this bot from this process (Telegram
        allows about 30 per bot in all, and one per second per chat)."""
        self.bot = bot
        self.pacing = Pacing(per_chat_interval=1.0, per_second=send_rate)
        self.groups = groups
        self.chunk_interval = chunk_interval
        self.identity: BotIdentity | None = None
        self._ready = asyncio.Lock()
        self._progress: OrderedDict[str, tuple[int, str]] = OrderedDict()

    @property
    def options(self) -> ParseOptions:
        return ParseOptions(groups=self.groups, identity=self.identity)

    async def initialize(self) -> BotIdentity:
        """Open the Bot's HTTP client and learn who the bot is (`getMe`); idempotent."""
        async with self._ready:
            if self.identity is None:
                await self.bot.initialize()
                me = self.bot.bot
                self.identity = BotIdentity(id=me.id, username=me.username or "")
            return self.identity

    async def shutdown(self) -> None:
        """Close the Bot's HTTP client."""
        await self.bot.shutdown()

    def parse(self, payload: dict[str, Any]) -> InboundMessage | None:
        """A stored Update as a neutral message (None for what relaydesk ignores)."""
        return parse_update(payload, self.options)

    async def send(self, message: OutboundMessage) -> str | None:
        """Deliver `message`; returns `chat_id:message_id` of the (last) message sent."""
        try:
            if self.identity is None:
                await self.initialize()
            if message.kind == "action_ack":
                await self._answer_callback(message)
                return None
            if message.kind in ("edit", "delete"):
                return await self._change(message)
            return await self._send_text(message)
        except TelegramError as exc:
            raise translate_error(exc, self.bot.token) from None

    async def _answer_callback(self, message: OutboundMessage) -> None:
        query_id = message.meta.get("callback_query_id")
        if not query_id:
            log.warning("action_ack without a callback_query_id: nothing to answer")
            return
        try:
            await self.bot.answer_callback_query(
                str(query_id), text=message.text[:_ACK_TEXT_LIMIT] or None
            )
        except BadRequest as exc:
            # Too old (Telegram waits ~15 min) or already answered: the button press itself
            # was handled; there is nothing left to deliver.
            log.info("callback query %s not answered: %s", query_id, exc.message)

    async def _change(self, message: OutboundMessage) -> str:
        """Edit (`editMessageText`) or delete (`deleteMessage`) the message this bot sent as
        `meta["target"]`; refusals say why in words an agent can act on."""
        target = str(message.meta.get("target") or "")
        chat, _, number = target.partition(":")
        try:
            chat_id, message_id = int(chat), int(number)
        except ValueError:
            raise PermanentSendError(f"not a Telegram message id: {target!r}") from None
        texts = (message.text, str(message.meta.get("before") or ""))
        if any(len(split_text(text)) > 1 for text in texts):
            raise PermanentSendError(
                "Telegram holds the reply in several messages (over 4096 characters): only "
                "single-message replies are changed"
            )
        try:
            if message.kind == "delete":
                await self.bot.delete_message(chat_id, message_id)
            else:
                await self.bot.edit_message_text(
                    message.text, chat_id=chat_id, message_id=message_id
                )
        except BadRequest as exc:
            said = exc.message.lower()
            if "message is not modified" in said:
                return target  # the customer's copy already reads so
            if "can't be deleted" in said:
                raise PermanentSendError(
                    f"Telegram lets a bot delete its messages only within 48 hours "
                    f"(400 {exc.message})"
                ) from None
            if "not found" in said:
                raise PermanentSendError(
                    f"the message is no longer in the customer's Telegram chat (400 {exc.message})"
                ) from None
            raise
        except _MALFORMED as exc:
            raise TransientSendError(
                f"the Bot API answered with something that is not a result ({type(exc).__name__})"
            ) from None
        return target

    async def _send_text(self, message: OutboundMessage) -> str:
        try:
            chat_id = int(message.chat.chat_id)
            thread_id = int(message.chat.thread_id) if message.chat.thread_id else None
        except ValueError:
            raise PermanentSendError(f"not a Telegram chat id: {message.chat.chat_id!r}") from None
        pieces = split_text(message.text)
        if not pieces:
            raise PermanentSendError("empty message text")
        key = _fingerprint(message)
        done, last_id = self._progress.pop(key, (0, ""))
        markup = keyboard(message.buttons)
        for index in range(done, len(pieces)):
            if index > done:
                await asyncio.sleep(self.chunk_interval)
            try:
                sent = await self.bot.send_message(
                    chat_id,
                    pieces[index],
                    reply_markup=markup if index == len(pieces) - 1 else None,
                    message_thread_id=thread_id,
                )
                last_id = f"{sent.chat_id}:{sent.message_id}"
            except TelegramError:
                if index > 0:
                    self._remember(key, index, last_id)
                raise
            except _MALFORMED as exc:
                # Answered 200, but not with a Message: it may or may not have arrived, and
                # sending is at-least-once, so it is tried again rather than given up.
                if index > 0:
                    self._remember(key, index, last_id)
                raise TransientSendError(
                    f"the Bot API answered with something that is not a message "
                    f"({type(exc).__name__})"
                ) from None
        return last_id

    def _remember(self, key: str, done: int, last_id: str) -> None:
        self._progress[key] = (done, last_id)
        while len(self._progress) > _PROGRESS_MEMORY:
            self._progress.popitem(last=False)


def _fingerprint(message: OutboundMessage) -> str:
    raw = json.dumps(message.to_dict(), sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(raw.encode("utf-8")).hexdigest()
