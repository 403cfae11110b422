"""Inbox and outbox workers: claim rows, process or send them, retry with backoff, never drop."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import random
import socket
import uuid
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Protocol

from sqlalchemy import update
from sqlalchemy.exc import InterfaceError, OperationalError
from sqlalchemy.ext.asyncio import AsyncSession

from bots import metrics
from bots.db import Database
from bots.errors import RelaydeskError, RetryLater
from bots.messages import InboundMessage, OutboundMessage
from bots.pipeline import store
from bots.pipeline.channel import Channel, SendError
from bots.pipeline.models import OutboxRow
from bots.pipeline.ratelimit import Pacer
from tickets.models import utcnow

log = logging.getLogger(__name__)

INBOX_LEASE = timedelta(seconds=30)
OUTBOX_LEASE = timedelta(seconds=120)
MAX_INBOX_ATTEMPTS = 5
RETRY_LATER = 10.0  # seconds (at most) between tries of an event that cannot be handled yet
RECORD_ATTEMPTS = 6  # marking a delivered row sent; each try waits out SQLite's busy timeout


Reply = tuple[OutboundMessage, int | None]
"""A message to send, and the ticket id it belongs to (None when it belongs to none)."""


class Handler(Protocol):
    """The conversation engine (or the agent desk) as the inbox worker sees it."""

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        """Apply one inbound message to the state in `session`; return what to send."""


SentHook = Callable[[AsyncSession, OutboxRow, OutboundMessage, str | None], Awaitable[None]]
FailedHook = Callable[[AsyncSession, OutboxRow, OutboundMessage, str], Awaitable[None]]


def backoff(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: attempt 1 -> up to 1 s, 2 -> 2 s, ... capped."""
    return float(random.uniform(0.5, 1.0) * min(cap, base * 2 ** max(0, attempt - 1)))


def worker_id() -> str:
    return f"{socket.gethostname()}:{uuid.uuid4().hex[:8]}"


class MalformedPayload(RelaydeskError):
    """A stored payload its channel cannot read: kept as failed, never retried."""


def safe_parse(channel: Channel, payload: object) -> InboundMessage | None:
    """A channel's parse with one contract for the pipeline: a neutral message, None for
    kinds we ignore, `MalformedPayload` for anything unreadable. Our own errors (such as
    "retry later") pass through unchanged."""
    if not isinstance(payload, dict):
        raise MalformedPayload("the payload is not a JSON object")
    try:
        return channel.parse(payload)
    except RelaydeskError:
        raise
    except Exception as exc:  # a third-party parser's TypeError/KeyError on a bad shape
        raise MalformedPayload(f"unreadable {channel.name} payload ({type(exc).__name__})") from exc


class Wakeup:
    """Lets producers in this process wake a sleeping worker instead of waiting for its poll."""

    def __init__(self) -> None:
        self._event = asyncio.Event()

    def set(self) -> None:
        self._event.set()

    async def wait(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._event.wait(), seconds)
        self._event.clear()


class InboxWorker:
    """Processes stored events through the conversation engine, one transaction each."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        handler: Handler,
        *,
        poll: float = 0.2,
        concurrency: int | None = None,
        wakeup: Wakeup | None = None,
        outbox_wakeup: Wakeup | None = None,
        lease: timedelta = INBOX_LEASE,
    ) -> None:
        self.db = db
        self.lease = lease
        self.channels = channels
        self.handler = handler
        self.poll = poll
        self.owner = worker_id()
        self.concurrency = concurrency or (4 if db.is_postgres else 1)
        self.wakeup = wakeup or Wakeup()
        self.outbox_wakeup = outbox_wakeup

    async def run_once(self) -> int:
        """Claim and process one batch; return how many events were processed."""
        await self.db.gate.give_way()
        async with self.db.session() as session:
            rows = await store.claim_inbox(
                session,
                owner=self.owner,
                lease=self.lease,
                limit=self.concurrency * 4,
                postgres=self.db.is_postgres,
            )
            claimed = [(row.id, row.channel, row.payload, row.attempts) for row in rows]
        if not claimed:
            return 0
        semaphore = asyncio.Semaphore(self.concurrency)

        async def guarded(item: tuple[int, str, str, int]) -> bool:
            async with semaphore:
                return await self._process(*item)

        results = await asyncio.gather(*(guarded(item) for item in claimed))
        if self.outbox_wakeup is not None:
            self.outbox_wakeup.set()
        return sum(results)

    async def _process(self, row_id: int, channel_name: str, raw: str, attempts: int) -> bool:
        channel = self.channels.get(channel_name)
        try:
            message = self._parse(channel, channel_name, raw)
            await self.db.gate.give_way()
            async with self.db.session() as session:
                replies: Sequence[tuple[OutboundMessage, int | None]] = ()
                if message is not None:
                    replies = await self.handler.handle(session, message)
                for reply, ticket_id in replies:
                    store.enqueue(session, reply, ticket_id=ticket_id)
                if not await store.finish_inbox(session, row_id, self.owner):
                    await session.rollback()
                    log.warning("inbox row %s: lease lost, left for its new owner", row_id)
                    return False
                await session.commit()
        except RetryLater as exc:
            delay = random.uniform(0.5, 1.0) * RETRY_LATER
            log.warning("inbox row %s (%s) waits %.0f s: %s", row_id, channel_name, delay, exc)
            async with self.db.session() as session:
                await store.release_inbox(
                    session,
                    row_id,
                    error=str(exc),
                    retry_at=utcnow() + timedelta(seconds=delay),
                    give_up=False,
                    count_attempt=False,
                )
            return False
        except MalformedPayload as exc:
            log.warning("inbox row %s (%s) ignored: %s", row_id, channel_name, exc)
            async with self.db.session() as session:
                await store.release_inbox(
                    session, row_id, error=str(exc), retry_at=utcnow(), give_up=True
                )
            return False
        except Exception as exc:
            give_up = attempts >= MAX_INBOX_ATTEMPTS
            log.exception(
                "inbox row %s (%s) failed on attempt %s%s",
                row_id,
                channel_name,
                attempts,
                "; giving up, row kept as failed" if give_up else "; will retry",
            )
            async with self.db.session() as session:
                await store.release_inbox(
                    session,
                    row_id,
                    error=type(exc).__name__,
                    retry_at=utcnow() + timedelta(seconds=backoff(attempts)),
                    give_up=give_up,
                )
            return False
        metrics.MESSAGES_IN.labels(channel=channel_name).inc()
        return True

    @staticmethod
    def _parse(channel: Channel | None, channel_name: str, raw: str) -> InboundMessage | None:
        if channel is None:
            raise LookupError(f"no adapter for channel {channel_name!r} in this process")
        try:
            payload = json.loads(raw)
        except ValueError:
            raise MalformedPayload("the stored payload is not JSON") from None
        message = safe_parse(channel, payload)
        if message is None:
            log.info("ignored an event of a kind %s does not handle", channel_name)
        return message

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("inbox worker: claim failed, retrying")
                done = 0
                await asyncio.sleep(1.0)
            if not done:
                await self.wakeup.wait(self.poll)


class OutboxWorker:
    """Sends outbox rows per chat in order, paced per platform, retried until sent or refused."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        poll: float = 0.2,
        max_attempts: int = 8,
        concurrency: int = 16,
        wakeup: Wakeup | None = None,
        on_sent: Sequence[SentHook] = (),
        on_failed: Sequence[FailedHook] = (),
        lease: timedelta = OUTBOX_LEASE,
    ) -> None:
        self.db = db
        self.lease = lease
        self.channels = channels
        self.poll = poll
        self.max_attempts = max_attempts
        self.concurrency = concurrency
        self.owner = worker_id()
        self.wakeup = wakeup or Wakeup()
        self.pacers = {name: Pacer(channel.pacing) for name, channel in channels.items()}
        self.on_sent = list(on_sent)
        self.on_failed = list(on_failed)

    async def run_once(self) -> int:
        if not self.channels:
            return 0
        await self.db.gate.give_way()
        async with self.db.session() as session:
            rows = await store.claim_outbox(
                session,
                owner=self.owner,
                lease=self.lease,
                limit=self.concurrency,
                postgres=self.db.is_postgres,
                channels=list(self.channels),
            )
        if not rows:
            return 0
        results = await asyncio.gather(*(self._send(row) for row in rows))
        return sum(results)

    async def _send(self, row: OutboxRow) -> bool:
        channel = self.channels[row.channel]
        message = OutboundMessage.from_dict(json.loads(row.payload))
        await self.pacers[row.channel].acquire(row.chat_key)
        try:
            platform_id = await channel.send(message)
        except SendError as exc:
            await self._failed(row, message, exc)
            return False
        except Exception as exc:
            log.exception("outbox row %s: unexpected send error", row.id)
            await self._failed(row, message, SendError(type(exc).__name__))
            return False
        await self._record_sent(row, message, platform_id)
        metrics.MESSAGES_OUT.labels(channel=row.channel).inc()
        return True

    async def _record_sent(
        self, row: OutboxRow, message: OutboundMessage, platform_id: str | None
    ) -> None:
        """Mark a delivered row sent, with its sent hooks, in one transaction. The platform
        already has the message, so a busy or briefly unreachable database is waited out
        here: a row left pending would be sent again once its lease ran out."""
        for attempt in range(1, RECORD_ATTEMPTS + 1):
            try:
                # Until this commits, a crash means sending the message again: on SQLite the
                # workers' other writes stand aside for it, as they do for acknowledgements.
                with self.db.gate.urgent():
                    async with self.db.session() as session:
                        await session.execute(
                            update(OutboxRow)
                            .where(OutboxRow.id == row.id)
                            .values(
                                state="sent",
                                sent_at=utcnow(),
                                platform_message_id=platform_id,
                                attempts=row.attempts + 1,
                                lease_owner=None,
                                lease_until=None,
                                error=None,
                            )
                        )
                        for hook in self.on_sent:
                            await hook(session, row, message, platform_id)
                        await session.commit()
                return
            except (OperationalError, InterfaceError) as exc:
                if attempt == RECORD_ATTEMPTS:
                    raise
                log.warning(
                    "outbox row %s: sent, but recording it failed (%s); retrying",
                    row.id,
                    type(exc.orig).__name__ if exc.orig is not None else type(exc).__name__,
                )
                await asyncio.sleep(backoff(attempt, base=0.2, cap=5.0))

    async def _failed(self, row: OutboxRow, message: OutboundMessage, exc: SendError) -> None:
        attempts = row.attempts + 1
        give_up = exc.permanent or attempts >= self.max_attempts
        if exc.retry_after:
            self.pacers[row.channel].hold(row.chat_key, exc.retry_after)
        delay = max(exc.retry_after or 0.0, backoff(attempts))
        log.warning(
            "outbox row %s (%s) attempt %s failed: %s%s",
            row.id,
            row.channel,
            attempts,
            exc.reason,
            "; not retried" if give_up else f"; retry in {delay:.1f}s",
        )
        async with self.db.session() as session:
            await session.execute(
                update(OutboxRow)
                .where(OutboxRow.id == row.id)
                .values(
                    state="failed" if give_up else "pending",
                    attempts=attempts,
                    error=exc.reason[:500],
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    lease_owner=None,
                    lease_until=None,
                )
            )
            if give_up:
                for hook in self.on_failed:
                    await hook(session, row, message, exc.reason)
            await session.commit()

    async def run(self, stop: asyncio.Event) -> None:
        while not stop.is_set():
            try:
                done = await self.run_once()
            except Exception:
                log.exception("outbox worker: claim failed, retrying")
                done = 0
                await asyncio.sleep(1.0)
            if not done:
                await self.wakeup.wait(self.poll)
