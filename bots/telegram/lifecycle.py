"""Telegram start/stop: webhook registration, or long polling that stores before confirming."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import warnings
from collections.abc import Sequence
from typing import Any

from telegram.error import RetryAfter, TelegramError
from telegram.warnings import PTBUserWarning

from bots.db import Database
from bots.pipeline.store import ingest
from bots.pipeline.workers import Wakeup
from bots.telegram.channel import POLL_TIMEOUT_S, TelegramChannel, translate_error
from bots.telegram.menu import MENU, commands
from bots.telegram.parse import CHANNEL, UPDATE_KINDS
from bots.telegram.webhook import chat_key_for

log = logging.getLogger(__name__)

RETRY_CAP_S = 60.0

# getUpdates goes through `do_api_request` on purpose: the inbox stores the raw JSON exactly as
# Telegram sent it, not a re-serialised `Update`.
warnings.filterwarnings("ignore", message=r".*Bot\.getUpdates", category=PTBUserWarning)


async def register_commands(channel: TelegramChannel) -> None:
    """`setMyCommands` for every language (English also as the default menu)."""
    bot = channel.bot
    await bot.set_my_commands(commands("en"))
    for language in MENU:
        await bot.set_my_commands(commands(language), language_code=language)


def _delay(attempt: int) -> float:
    return float(min(RETRY_CAP_S, 2 ** max(0, attempt - 1)) * random.uniform(0.5, 1.0))


def _retry_delay(exc: TelegramError, attempt: int) -> float:
    if isinstance(exc, RetryAfter):
        return translate_error(exc).retry_after or _delay(attempt)
    return _delay(attempt)


class _Background:
    """A lifecycle whose work runs in one background task, stopped with an event."""

    task_name = "telegram"

    def __init__(self, channel: TelegramChannel) -> None:
        self.channel = channel
        self._stopping = asyncio.Event()
        self._task: asyncio.Task[None] | None = None
        self.ready = asyncio.Event()
        """Set once the bot is registered with Telegram (identity, menu, webhook)."""

    async def start(self) -> None:
        """Begin in the background: a Telegram outage at start does not stop the service."""
        self._stopping.clear()
        self._task = asyncio.create_task(self._run(), name=self.task_name)

    async def stop(self) -> None:
        """Stop the background work and close the Bot's HTTP client."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        await self.channel.shutdown()

    async def _run(self) -> None:
        raise NotImplementedError

    async def _register(self, step: str, *, webhook: str | None, secret: str | None) -> None:
        """Retry getMe, the menu and the webhook call until they succeed or we are stopped."""
        attempt = 0
        while not self._stopping.is_set():
            attempt += 1
            try:
                await self.channel.initialize()
                await register_commands(self.channel)
                bot = self.channel.bot
                if webhook is not None:
                    await bot.set_webhook(
                        webhook, secret_token=secret, allowed_updates=list(UPDATE_KINDS)
                    )
                else:
                    await bot.delete_webhook(drop_pending_updates=False)
            except TelegramError as exc:
                wait = _retry_delay(exc, attempt)
                reason = translate_error(exc, self.channel.bot.token).reason
                log.error("telegram: %s failed: %s; retrying in %.0fs", step, reason, wait)
                await self._sleep(wait)
                continue
            except Exception as exc:  # keep trying: the service runs without Telegram meanwhile
                wait = _delay(attempt)
                log.error(
                    "telegram: %s failed (%s); retrying in %.0fs", step, type(exc).__name__, wait
                )
                await self._sleep(wait)
                continue
            self.ready.set()
            identity = self.channel.identity
            log.info("telegram: %s done for @%s", step, identity.username if identity else "?")
            return

    async def _sleep(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), seconds)


class WebhookRegistration(_Background):
    """Webhook mode: `setWebhook(url, secret_token)` and the command menus, at start."""

    task_name = "telegram-webhook-registration"

    def __init__(self, channel: TelegramChannel, *, url: str, secret: str) -> None:
        super().__init__(channel)
        self.url = url
        self.secret = secret

    async def _run(self) -> None:
        await self._register("webhook registration", webhook=self.url, secret=self.secret)

    async def stop(self) -> None:
        """Leave the webhook set: Telegram keeps updates for us (or other replicas) meanwhile."""
        await super().stop()


class Poller(_Background):
    """Long-polling mode: `getUpdates`, commit the batch to the inbox, then confirm the offset.

    The offset that confirms a batch is only sent once every update of it is committed, so a
    crash in between makes Telegram send the batch again, and the inbox's `update_id` dedupe
    turns the repeats into no-ops.
    """

    task_name = "telegram-polling"

    def __init__(
        self,
        channel: TelegramChannel,
        db: Database,
        *,
        wakeup: Wakeup | None = None,
        timeout: int = POLL_TIMEOUT_S,
        limit: int = 100,
    ) -> None:
        super().__init__(channel)
        self.db = db
        self.wakeup = wakeup
        self.timeout = timeout
        self.limit = limit
        self.offset: int | None = None

    async def _run(self) -> None:
        await self._register("polling set-up", webhook=None, secret=None)
        failures = 0
        while not self._stopping.is_set():
            try:
                batch = await self._fetch()
            except TelegramError as exc:
                failures += 1
                wait = _retry_delay(exc, failures)
                reason = translate_error(exc, self.channel.bot.token).reason
                log.warning("telegram: getUpdates failed: %s; retrying in %.1fs", reason, wait)
                await self._sleep(wait)
                continue
            except Exception as exc:  # never let the polling loop die
                failures += 1
                wait = _delay(failures)
                log.error(
                    "telegram: getUpdates failed (%s); retrying in %.1fs", type(exc).__name__, wait
                )
                await self._sleep(wait)
                continue
            try:
                await self.store(batch)
            except Exception as exc:
                failures += 1
                wait = _delay(failures)
                log.error(
                    "telegram: could not store %s updates (%s); not confirmed, retrying in %.1fs",
                    len(batch),
                    type(exc).__name__,
                    wait,
                )
                await self._sleep(wait)
                continue
            failures = 0

    async def _fetch(self) -> list[dict[str, Any]]:
        kwargs: dict[str, Any] = {
            "timeout": self.timeout,
            "limit": self.limit,
            "allowed_updates": list(UPDATE_KINDS),
        }
        if self.offset is not None:
            kwargs["offset"] = self.offset
        result = await self.channel.bot.do_api_request(
            "getUpdates", api_kwargs=kwargs, read_timeout=self.timeout + 10.0
        )
        if not isinstance(result, list):
            return []
        return [item for item in result if isinstance(item, dict)]

    async def store(self, batch: Sequence[dict[str, Any]]) -> int:
        """Commit each update to the inbox, then move the offset past the batch; returns how
        many were new. The next `getUpdates` call sends that offset, confirming the batch."""
        new = 0
        highest: int | None = None
        for update in batch:
            update_id = update.get("update_id")
            if not isinstance(update_id, int) or isinstance(update_id, bool):
                log.warning("telegram: an update without an integer update_id was skipped")
                continue
            key = chat_key_for(self.channel, update)
            if key is not None and await ingest(
                self.db,
                channel=CHANNEL,
                platform_id=str(update_id),
                chat_key=key,
                payload=update,
            ):
                new += 1
            highest = update_id if highest is None else max(highest, update_id)
        if new and self.wakeup is not None:
            self.wakeup.set()
        if highest is not None:
            self.offset = highest + 1
        return new

    async def stop(self) -> None:
        """Stop polling; confirm the last stored batch so a restart does not fetch it again."""
        self._stopping.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        if self.offset is not None:
            with contextlib.suppress(TelegramError, RuntimeError):
                await self.channel.bot.do_api_request(
                    "getUpdates", api_kwargs={"offset": self.offset, "limit": 1, "timeout": 0}
                )
        await self.channel.shutdown()
