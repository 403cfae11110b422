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

INBOX_LEASE = timedelta(seconds=30)  # renewed every third of it while an event is handled
INBOX_TIME_LIMIT = timedelta(minutes=5)  # handling longer than this fails (and is retried)
OUTBOX_LEASE = timedelta(seconds=120)
MAX_INBOX_ATTEMPTS = 5
RETRY_LATER = 10.0  # seconds (at most) between tries of an event that cannot be handled yet
RECORD_ATTEMPTS = 6  # marking a delivered row sent; each try waits out SQLite's busy timeout
DATABASE_WAIT = 5.0  # seconds (at most) between tries while the database is unavailable
SEND_RETRY_WINDOW = timedelta(hours=24)  # a message that cannot be sent yet is tried this long
DELAYED_AFTER = 3  # retryable failures after which a delayed agent reply is announced (once)
UNEXPECTED_ATTEMPTS = 8  # tries of a message whose sending fails on a fault of our own (a bug)


Reply = tuple[OutboundMessage, int | None]
"""A message to send, and the ticket id it belongs to (None when it belongs to none)."""


class Handler(Protocol):
    """The conversation engine (or the agent desk) as the inbox worker sees it."""

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        """Apply one inbound message to the state in `session`; return what to send."""


SentHook = Callable[[AsyncSession, OutboxRow, OutboundMessage, str | None], Awaitable[None]]
FailedHook = Callable[[AsyncSession, OutboxRow, OutboundMessage, str], Awaitable[None]]
DelayedHook = Callable[[AsyncSession, OutboxRow, OutboundMessage, str, timedelta], Awaitable[None]]
"""Runs once per row, at its `DELAYED_AFTER`th retryable failure: the row, its message, the
failure's reason and how long the message is retried for (from when it was queued)."""


def backoff(attempt: int, *, base: float = 1.0, cap: float = 300.0) -> float:
    """Exponential backoff with full jitter: attempt 1 -> up to 1 s, 2 -> 2 s, ... capped.
    Any number of attempts (a message retried for days makes thousands)."""
    exponent = min(max(0, attempt - 1), 64)  # 2.0 ** 1024 and beyond is not a float
    return float(random.uniform(0.5, 1.0) * min(cap, base * 2.0**exponent))


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


class UnexpectedSendError(SendError):
    """Sending failed on something no channel translated (a bug rather than an outage): tried
    `UNEXPECTED_ATTEMPTS` times, not for the whole retry window, so that it does not hold up
    its chat's later messages for a day."""


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
        time_limit: timedelta = INBOX_TIME_LIMIT,
    ) -> None:
        self.db = db
        self.lease = lease
        self.time_limit = time_limit
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
        held = {item[0] for item in claimed}

        async def guarded(item: tuple[int, str, str, int]) -> bool:
            try:
                async with semaphore:
                    return await self._process(*item)
            finally:
                held.discard(item[0])

        # On SQLite this process is the only worker, and it claims nothing more until the
        # batch is done: only replicas on PostgreSQL could take a row whose lease ran out.
        renewal = (
            asyncio.create_task(self._renew(held), name="inbox-lease-renewal")
            if self.db.is_postgres
            else None
        )
        try:
            results = await asyncio.gather(*(guarded(item) for item in claimed))
        finally:
            if renewal is not None:
                renewal.cancel()
                await asyncio.wait([renewal])
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
                    # A handler that hangs (alive, but its lease renewed for ever) would keep
                    # its event, the chat's later events and this batch waiting.
                    async with asyncio.timeout(self.time_limit.total_seconds()):
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

    async def _renew(self, held: set[int]) -> None:
        """Renew the leases on `held` (the batch's rows not yet finished) every third of a
        lease, so that handling which outlasts one (a slow model or database) is not taken
        over by another replica while this one is alive and at it. A crash stops the
        renewals with everything else: the rows are taken over once the heartbeat is stale
        (or the lease runs out), as before. A row taken over anyway (the database was
        unreachable for longer than a lease) is no longer renewed, and its result is not
        recorded: `finish_inbox` and `release_inbox` only touch rows still ours."""
        period = self.lease.total_seconds() / 3
        while held:
            await asyncio.sleep(period)
            ids = sorted(held)
            if not ids:
                return
            try:
                async with self.db.session() as session:
                    renewed = await store.renew_inbox(
                        session, ids, owner=self.owner, lease=self.lease
                    )
            except Exception as exc:
                if not database_unavailable(exc):
                    log.exception("inbox leases: renewing them failed; trying again")
                else:
                    log.warning(
                        "inbox leases: the database is unavailable (%s); trying again in %.0f s",
                        describe(exc),
                        period,
                    )
                continue
            for row_id in ids:
                if row_id not in renewed and row_id in held:
                    log.debug("inbox row %s: no longer ours; its lease is not renewed", row_id)
                    held.discard(row_id)

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
    """Sends outbox rows per chat in order, paced per platform, retried until sent, refused,
    or older than `retry_window` (counted from when the row was queued, so that an outage of
    minutes or hours loses nothing)."""

    def __init__(
        self,
        db: Database,
        channels: Mapping[str, Channel],
        *,
        poll: float = 0.2,
        retry_window: timedelta = SEND_RETRY_WINDOW,
        concurrency: int = 16,
        wakeup: Wakeup | None = None,
        on_sent: Sequence[SentHook] = (),
        on_failed: Sequence[FailedHook] = (),
        on_delayed: Sequence[DelayedHook] = (),
        lease: timedelta = OUTBOX_LEASE,
    ) -> None:
        self.db = db
        self.lease = lease
        self.channels = channels
        self.poll = poll
        self.retry_window = retry_window
        self.concurrency = concurrency
        self.owner = worker_id()
        self.wakeup = wakeup or Wakeup()
        self.pacers = {name: Pacer(channel.pacing) for name, channel in channels.items()}
        self.on_sent = list(on_sent)
        self.on_failed = list(on_failed)
        self.on_delayed = list(on_delayed)

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
            kind = SendError if database_unavailable(exc) else UnexpectedSendError
            await self._record_failure(row, message, kind(type(exc).__name__))
            return False
        metrics.MESSAGES_OUT.labels(channel=row.channel).inc()
        return await self._record_sent(row, message, platform_id)

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
    ) -> bool:
        """Mark a delivered row sent, with its sent hooks, in one transaction. The platform
        already has the message, so a busy or unreachable database is waited out here, for
        as long as our lease on the row lasts: a row left pending would be sent again once
        its lease ran out (after that, another worker may take it anyway). A row another
        worker has taken meanwhile is its to record (False): its hooks run once, not twice."""
        deadline = asyncio.get_running_loop().time() + self.lease.total_seconds()
        attempt = 0
        while True:
            attempt += 1
            try:
                # Until this commits, a crash means sending the message again: on SQLite the
                # workers' other writes stand aside for it, as they do for acknowledgements.
                with self.db.gate.urgent():
                    async with self.db.session() as session:
                        result = await session.execute(
                            update(OutboxRow)
                            .where(
                                OutboxRow.id == row.id,
                                OutboxRow.state == "pending",
                                OutboxRow.lease_owner == self.owner,
                            )
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
                        if not getattr(result, "rowcount", 0):
                            log.warning(
                                "outbox row %s: sent, but no longer ours to record (another "
                                "worker took it over, or an earlier try was recorded)",
                                row.id,
                            )
                            await session.rollback()
                            return False
                        for hook in self.on_sent:
                            await hook(session, row, message, platform_id)
                        await session.commit()
                return True
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
        unexpected = isinstance(exc, UnexpectedSendError)
        expired = not exc.permanent and utcnow() - row.created_at >= self.retry_window
        give_up = exc.permanent or expired or (unexpected and attempts >= UNEXPECTED_ATTEMPTS)
        reason = exc.reason
        if expired:
            reason = f"retried for {hours(self.retry_window)}; last error: {exc.reason}"
        if exc.retry_after:
            self.pacers[row.channel].hold(row.chat_key, exc.retry_after)
        delay = max(exc.retry_after or 0.0, backoff(attempts))
        outcome = "; not retried" if give_up else f"; retry in {delay:.1f}s"
        if expired:
            outcome = f"; given up, queued over {hours(self.retry_window)} ago"
        log.warning(
            "outbox row %s (%s) attempt %s failed: %s%s",
            row.id,
            row.channel,
            attempts,
            exc.reason,
            outcome,
        )
        async with self.db.session() as session:
            result = await session.execute(
                update(OutboxRow)
                .where(
                    OutboxRow.id == row.id,
                    OutboxRow.state == "pending",
                    OutboxRow.lease_owner == self.owner,
                )
                .values(
                    state="failed" if give_up else "pending",
                    attempts=attempts,
                    error=reason[:500],
                    next_attempt_at=utcnow() + timedelta(seconds=delay),
                    lease_owner=None,
                    lease_until=None,
                )
            )
            if not getattr(result, "rowcount", 0):
                # Another worker took the row over (our lease ran out): the failure, and
                # what it announces, are its to record.
                log.warning("outbox row %s: lease lost, failure left to its new owner", row.id)
                await session.rollback()
                return
            if give_up:
                for hook in self.on_failed:
                    await hook(session, row, message, reason)
            elif attempts == DELAYED_AFTER and not unexpected:
                # `attempts` counts this row's failures in the database, so this happens once
                # per row, whichever replica sends it and however often they restart.
                for delayed in self.on_delayed:
                    await delayed(session, row, message, exc.reason, self.retry_window)
            await session.commit()

    async def run(self, stop: asyncio.Event) -> None:
        await run_loop("outbox", self.run_once, self.wakeup, self.poll, stop)


def hours(window: timedelta) -> str:
    """A retry window as people read it: `24 h`, `0.5 h`."""
    return f"{window.total_seconds() / 3600:g} h"


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
