"""Inbox leases while an event takes long: its worker keeps it, a crashed worker does not."""

from __future__ import annotations

import asyncio
import inspect
from collections.abc import Callable, Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.conversation import Conversation
from bots.db import Database
from bots.messages import InboundMessage
from bots.pipeline.models import InboxRow, OutboxRow, WorkerRow
from bots.pipeline.store import STALE, heartbeat
from bots.pipeline.workers import InboxWorker, Reply
from tests.fakes.channel import FakeChannel
from tests.integration.test_pipeline import count, inbound, put
from tickets.config import default_config
from tickets.models import Ticket, utcnow
from tickets.service import Helpdesk

HELPDESK = Helpdesk(default_config())
# Short enough for a test, long enough that renewing every third of it keeps the lease on a
# loaded machine (a renewal may come up to two thirds of a lease late).
LEASE = timedelta(seconds=2)
WAIT = 30.0  # seconds: the most any condition below may take to come true


async def inbox_row(db: Database, chat: str = "c1") -> InboxRow:
    async with db.session() as session:
        row = await session.scalar(select(InboxRow).where(InboxRow.chat_key == f"fake:{chat}"))
    assert row is not None
    return row


async def until(condition: Callable[[], object], what: str) -> None:
    """Wait for `condition()` (sync or async) to come true, checking every 50 ms."""
    deadline = asyncio.get_running_loop().time() + WAIT
    while True:
        result = condition()
        if inspect.isawaitable(result):
            result = await result
        if result:
            return
        assert asyncio.get_running_loop().time() < deadline, f"timed out waiting: {what}"
        await asyncio.sleep(0.05)


class SlowConversation(Conversation):
    """Does the work, then takes as long as the test wants before its transaction commits (a
    language model or a database slower than the lease). Only messages with "slow" in them
    wait, and only with `wait`; `calls` counts every message handled."""

    def __init__(self, *, wait: bool = True) -> None:
        super().__init__(HELPDESK)
        self.wait = wait
        self.calls = 0
        self.entered = asyncio.Event()
        self.proceed = asyncio.Event()

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        self.calls += 1
        replies = await super().handle(session, message)
        if self.wait and "slow" in (message.text or ""):
            await session.flush()
            self.entered.set()
            await self.proceed.wait()
        return replies


def renewal_tasks() -> list[asyncio.Task[object]]:
    return [t for t in asyncio.all_tasks() if t.get_name() == "inbox-lease-renewal"]


async def test_a_slow_event_is_not_taken_over_while_its_worker_works_on_it(
    pg_db: Database,
) -> None:
    """Handling that outlasts the lease (a slow model or database) keeps its row: another
    replica neither handles the event a second time nor makes the first one's work void."""
    db = pg_db
    await put(db, inbound("slow: my parcel never arrived"))
    slow, other = SlowConversation(), SlowConversation(wait=False)
    first = InboxWorker(db, {"fake": FakeChannel()}, slow, lease=LEASE)
    second = InboxWorker(db, {"fake": FakeChannel()}, other, lease=LEASE, poll=0.05)
    task = asyncio.create_task(first.run_once())
    await asyncio.wait_for(slow.entered.wait(), WAIT)
    claimed = await inbox_row(db)
    assert claimed.lease_owner == first.owner and claimed.lease_until is not None
    # The other replica keeps looking while the claim's own lease runs out, and then a whole
    # lease more, with the first worker still at it.
    stop = asyncio.Event()
    looking = asyncio.create_task(second.run(stop))
    ran_out: datetime = claimed.lease_until + LEASE
    await until(lambda: utcnow() > ran_out, "two leases' time")
    assert (await inbox_row(db)).lease_owner == first.owner, "taken over from a live worker"

    slow.proceed.set()
    handled = await asyncio.wait_for(task, WAIT)
    await until(lambda: count(db, InboxRow.id, InboxRow.state == "done"), "the event done")
    stop.set()
    await asyncio.wait_for(looking, WAIT)
    assert (slow.calls, other.calls) == (1, 0), "the event was handled twice"
    assert handled == 1
    assert await count(db, Ticket.id) == 1
    assert await count(db, OutboxRow.id) == 1
    done = await inbox_row(db)
    assert (done.state, done.lease_owner, done.attempts) == ("done", None, 1)


async def test_leases_are_renewed_only_while_their_events_are_handled(pg_db: Database) -> None:
    db = pg_db
    await put(db, inbound("slow: my parcel never arrived", chat="slow"))
    await put(db, inbound("hello", chat="fast"))
    slow = SlowConversation()
    worker = InboxWorker(db, {"fake": FakeChannel()}, slow, lease=LEASE, concurrency=2)
    task = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(slow.entered.wait(), WAIT)
    claimed = await inbox_row(db, "slow")
    assert claimed.lease_until is not None
    first_lease = claimed.lease_until

    async def renewed() -> bool:
        row = await inbox_row(db, "slow")
        return row.lease_until is not None and row.lease_until > first_lease

    await until(renewed, "the slow event's lease renewed")
    fast = await inbox_row(db, "fast")
    assert (fast.state, fast.lease_owner, fast.lease_until) == ("done", None, None)
    assert len(renewal_tasks()) == 1

    slow.proceed.set()
    assert await asyncio.wait_for(task, WAIT) == 2
    assert renewal_tasks() == []  # stopped with the batch
    done = await inbox_row(db, "slow")
    assert (done.state, done.lease_owner, done.lease_until) == ("done", None, None)


async def test_a_row_taken_over_anyway_is_not_renewed_and_its_result_not_recorded(
    pg_db: Database,
) -> None:
    """If the lease is lost all the same (the database was unreachable for longer than a
    lease), the new owner keeps the row and the old owner's work is rolled back."""
    db = pg_db
    await put(db, inbound("slow: my parcel never arrived"))
    slow = SlowConversation()
    worker = InboxWorker(db, {"fake": FakeChannel()}, slow, lease=LEASE)
    task = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(slow.entered.wait(), WAIT)
    taken_until = utcnow() + timedelta(minutes=10)
    async with db.session() as session:
        await session.execute(
            update(InboxRow).values(lease_owner="another-replica", lease_until=taken_until)
        )
        await session.commit()
    await until(lambda: not renewal_tasks(), "renewal stopped for the lost row")
    taken = await inbox_row(db)
    assert (taken.lease_owner, taken.lease_until) == ("another-replica", taken_until)

    slow.proceed.set()
    assert await asyncio.wait_for(task, WAIT) == 0
    assert await count(db, Ticket.id) == 0
    assert await count(db, OutboxRow.id) == 0
    kept = await inbox_row(db)
    assert (kept.state, kept.lease_owner) == ("pending", "another-replica")


async def crashed_mid_handling(db: Database) -> InboxWorker:
    """A worker (with a heartbeat) that claimed an event, renewed its lease while handling it
    slowly, and then died."""
    await put(db, inbound("slow: my parcel never arrived"))
    slow = SlowConversation()
    doomed = InboxWorker(db, {"fake": FakeChannel()}, slow, lease=LEASE)
    async with db.session() as session:
        await heartbeat(session, [doomed.owner])
    task = asyncio.create_task(doomed.run_once())
    await asyncio.wait_for(slow.entered.wait(), WAIT)
    first_lease = (await inbox_row(db)).lease_until
    assert first_lease is not None

    async def renewed() -> bool:
        lease_until = (await inbox_row(db)).lease_until
        return lease_until is not None and lease_until > first_lease

    await until(renewed, "the lease renewed")
    task.cancel()  # the process dies: its transaction is rolled back, its renewals stop
    await asyncio.gather(task, return_exceptions=True)
    assert renewal_tasks() == []
    return doomed


async def test_a_crashed_workers_event_is_taken_over_once_its_heartbeat_is_stale(
    pg_db: Database,
) -> None:
    db = pg_db
    doomed = await crashed_mid_handling(db)
    async with db.session() as session:
        row = await session.get(WorkerRow, doomed.owner)
        assert row is not None
        row.heartbeat_at = utcnow() - STALE - timedelta(seconds=1)
        await session.commit()
    other = InboxWorker(db, {"fake": FakeChannel()}, SlowConversation(wait=False))
    renewed_until = (await inbox_row(db)).lease_until
    assert renewed_until is not None and renewed_until > utcnow()
    assert await other.run_once() == 1  # at once, not when the renewed lease runs out
    assert await count(db, Ticket.id) == 1
    assert (await inbox_row(db)).state == "done"


async def test_a_crashed_workers_event_is_taken_over_when_its_lease_runs_out(
    pg_db: Database,
) -> None:
    """Without a stale heartbeat to go by (it died a moment ago), the last renewed lease
    runs out by itself: nothing renews it any more."""
    db = pg_db
    await crashed_mid_handling(db)
    other = InboxWorker(db, {"fake": FakeChannel()}, SlowConversation(wait=False))
    taken = 0

    async def taken_over() -> bool:
        nonlocal taken
        taken += await other.run_once()
        return taken > 0

    await until(taken_over, "the dead worker's event taken over")
    assert await count(db, Ticket.id) == 1
    assert (await inbox_row(db)).state == "done"


class HangingConversation(Conversation):
    """Never answers (a peer that accepts the connection and then says nothing)."""

    def __init__(self) -> None:
        super().__init__(HELPDESK)
        self.entered = asyncio.Event()

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        await super().handle(session, message)
        await session.flush()
        self.entered.set()
        await asyncio.Event().wait()
        raise AssertionError("unreachable")


async def test_handling_that_hangs_fails_after_the_time_limit_and_is_retried(
    db: Database,
) -> None:
    await put(db, inbound("my parcel never arrived"))
    hanging = HangingConversation()
    worker = InboxWorker(
        db, {"fake": FakeChannel()}, hanging, lease=LEASE, time_limit=timedelta(seconds=1)
    )
    assert await asyncio.wait_for(worker.run_once(), WAIT) == 0
    assert hanging.entered.is_set()
    row = await inbox_row(db)
    assert (row.state, row.lease_owner, row.attempts) == ("pending", None, 1)
    assert row.error == "TimeoutError"
    assert await count(db, Ticket.id) == 0
    assert renewal_tasks() == []

    async with db.session() as session:  # make the retry due now
        await session.execute(update(InboxRow).values(lease_until=None))
        await session.commit()
    retried = InboxWorker(db, {"fake": FakeChannel()}, Conversation(HELPDESK))
    assert await retried.run_once() == 1
    assert await count(db, Ticket.id) == 1


async def test_a_slow_event_is_recorded_by_its_worker_after_its_first_lease_ran_out(
    db: Database,
) -> None:
    """One worker alone (as on SQLite, where a single process does it all): handling that
    outlasts the lease still finishes and is recorded once."""
    await put(db, inbound("slow: my parcel never arrived"))
    slow = SlowConversation()
    lease = timedelta(milliseconds=300)
    worker = InboxWorker(db, {"fake": FakeChannel()}, slow, lease=lease)
    task = asyncio.create_task(worker.run_once())
    await asyncio.wait_for(slow.entered.wait(), WAIT)
    claimed = await inbox_row(db)
    assert claimed.lease_until is not None
    ran_out = claimed.lease_until + lease
    await until(lambda: utcnow() > ran_out, "the first lease run out")
    slow.proceed.set()
    assert await asyncio.wait_for(task, WAIT) == 1
    assert await count(db, Ticket.id) == 1
    assert (await inbox_row(db)).state == "done"
    assert await worker.run_once() == 0
