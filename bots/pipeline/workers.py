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
from sqlalchemy.exc import DBAPIError, InterfaceError, OperationalError
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
DATABASE_WAIT = 5.0  # seconds (at most) between tries while the database is unavailable


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


def database_unavailable(exc: BaseException) -> bool:
    """Whether `exc` says the database refused, dropped or could not take a connection (or
    SQLite stayed locked): no fault of the work in hand, and over once the database is back.
    asyncpg raises a refused or failed connect as it is, not wrapped by SQLAlchemy."""
    if isinstance(exc, DBAPIError):
        return exc.connection_invalidated or isinstance(exc, (OperationalError, InterfaceError))
    if isinstance(exc, (ConnectionRefusedError, ConnectionResetError, ConnectionAbortedError)):
        return True
    return type(exc).__module__.split(".")[0] == "asyncpg"


def describe(exc: BaseException) -> str:
    """A one-line account of a database error: its kind, never the statement or its values."""
    original = exc.orig if isinstance(exc, DBAPIError) and exc.orig is not None else exc
    return type(original).__name__


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
            await self._release(row_id, str(exc), delay, give_up=False, count_attempt=False)
            return False
        except MalformedPayload as exc:
            log.warning("inbox row %s (%s) ignored: %s", row_id, channel_name, exc)
            await self._release(row_id, str(exc), 0.0, give_up=True)
            return False
        except Exception as exc:
            if database_unavailable(exc):
                # Not the event's fault: it waits for the database without using up its
                # attempts (a database dropping connections would otherwise fail it for good).
                delay = random.uniform(0.5, 1.0) * DATABASE_WAIT
                log.warning(
                    "inbox row %s (%s) waits %.1f s: the database is unavailable (%s)",
                    row_id,
                    channel_name,
                    delay,
                    describe(exc),
                )
                await self._release(
                    row_id,
                    f"database unavailable: {describe(exc)}",
                    delay,
                    give_up=False,
                    count_attempt=False,
                )
                return False
            give_up = attempts >= MAX_INBOX_ATTEMPTS
            log.exception(
                "inbox row %s (%s) failed on attempt %s%s",
                row_id,
                channel_name,
                attempts,
                "; giving up, row kept as failed" if give_up else "; will retry",
            )
            await self._release(row_id, type(exc).__name__, backoff(attempts), give_up=give_up)
            return False
        metrics.MESSAGES_IN.labels(channel=channel_name).inc()
        return True

    async def _release(
        self, row_id: int, error: str, delay: float, *, give_up: bool, count_attempt: bool = True
    ) -> None:
        """Hand a row back; when the database cannot take even that, its lease runs out."""
        try:
            async with self.db.session() as session:
                await store.release_inbox(
                    session,
                    row_id,
                    owner=self.owner,
                    error=error,
                    retry_at=utcnow() + timedelta(seconds=delay),
                    give_up=give_up,
                    count_attempt=count_attempt,
                )
        except Exception as exc:
            if not database_unavailable(exc):
                raise
            log.warning(
                "inbox row %s: could not be handed back (%s); retried when its lease runs out",
                row_id,
                describe(exc),
            )

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
        await run_loop("inbox", self.run_once, self.wakeup, self.poll, stop)


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
            await self._record_failure(row, message, exc)
            return False
        except Exception as exc:
            log.exception("outbox row %s: unexpected send error", row.id)
            await self._record_failure(row, message, SendError(type(exc).__name__))
            return False
        await self._record_sent(row, message, platform_id)
        metrics.MESSAGES_OUT.labels(channel=row.channel).inc()
        return True

    async def _record_failure(
        self, row: OutboxRow, message: OutboundMessage, exc: SendError
    ) -> None:
        """`_failed`, or, when the database cannot take even that, one line: the message was
        not delivered, and the row is tried again when its lease runs out."""
        try:
            await self._failed(row, message, exc)
        except Exception as error:
            if not database_unavailable(error):
                raise
            log.warning(
                "outbox row %s: not sent (%s), and the database is unavailable (%s); "
                "retried when its lease runs out",
                row.id,
                exc.reason,
                describe(error),
            )

    async def _record_sent(
        self, row: OutboxRow, message: OutboundMessage, platform_id: str | None
    ) -> None:
        """Mark a delivered row sent, with its sent hooks, in one transaction. The platform
        already has the message, so a busy or unreachable database is waited out here, for
        as long as our lease on the row lasts: a row left pending would be sent again once
        its lease ran out (after that, another worker may take it anyway)."""
        deadline = asyncio.get_running_loop().time() + self.lease.total_seconds()
        attempt = 0
        while True:
            attempt += 1
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
            except Exception as exc:
                pause = backoff(attempt, base=0.2, cap=DATABASE_WAIT)
                left = deadline - asyncio.get_running_loop().time()
                if not database_unavailable(exc) or (attempt >= RECORD_ATTEMPTS and pause >= left):
                    raise
                log.warning(
                    "outbox row %s: sent, but recording it failed (%s); retrying",
                    row.id,
                    describe(exc),
                )
                await asyncio.sleep(pause)

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
                .where(
                    OutboxRow.id == row.id,
                    OutboxRow.state == "pending",
                    OutboxRow.lease_owner == self.owner,
                )
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
        await run_loop("outbox", self.run_once, self.wakeup, self.poll, stop)


async def run_loop(
    name: str,
    run_once: Callable[[], Awaitable[int]],
    wakeup: Wakeup,
    poll: float,
    stop: asyncio.Event,
) -> None:
    """A worker's loop: never ends before `stop`, whatever a round raises. While the
    database is unavailable each failed round is one log line, and the pauses grow (to
    `DATABASE_WAIT`) rather than retrying every second."""
    failures = 0
    while not stop.is_set():
        try:
            done = await run_once()
        except Exception as exc:
            failures += 1
            pause = min(DATABASE_WAIT, float(failures))
            if database_unavailable(exc):
                log.warning(
                    "%s worker: the database is unavailable (%s); trying again in %.0f s",
                    name,
                    describe(exc),
                    pause,
                )
            else:
                log.exception("%s worker: a round failed; trying again in %.0f s", name, pause)
            done = 0
            await wakeup.wait(pause)
            continue
        if failures:
            log.info("%s worker: working again", name)
            failures = 0
        if not done:
            await wakeup.wait(poll)
