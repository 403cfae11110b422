"""Inbox and outbox queries: store, dedupe, claim with leases (SKIP LOCKED on PostgreSQL)."""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, delete, exists, func, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import aliased

from bots.db import Database
from bots.messages import OutboundMessage
from bots.pipeline.models import InboxRow, OutboxRow, WorkerRow
from tickets.models import utcnow

UNSTORABLE = re.compile("[\x00\ud800-\udfff]")
"""NUL, which PostgreSQL text cannot hold, and UTF-16 surrogates left alone by a `\\udXXX`
escape or by bytes that are not UTF-8 read from a terminal, which no UTF-8 database can hold:
JSON allows both, but no text a person wrote has them."""


def storable(value: Any) -> Any:
    """`value` with NUL and lone surrogates in its strings (keys included) replaced by U+FFFD,
    one UTF-16 unit each, so Telegram's entity offsets stay right: such an event is stored and
    answered rather than refused on every redelivery."""
    if isinstance(value, str):
        return UNSTORABLE.sub("\ufffd", value)
    if isinstance(value, dict):
        return {storable(key): storable(item) for key, item in value.items()}
    if isinstance(value, list):
        return [storable(item) for item in value]
    return value


async def ingest(
    db: Database,
    *,
    channel: str,
    platform_id: str,
    chat_key: str,
    payload: dict[str, Any],
) -> bool:
    """Commit one platform event to the inbox (see `storable`). False when it was already
    there (redelivery)."""
    values = {
        "channel": channel,
        "platform_id": storable(platform_id)[:191],
        "chat_key": storable(chat_key)[:191],
        "payload": json.dumps(storable(payload), ensure_ascii=False),
        "state": "pending",
        "attempts": 0,
        "received_at": utcnow(),
    }
    insert = pg_insert if db.is_postgres else sqlite_insert
    statement = (
        insert(InboxRow)
        .values(**values)
        .on_conflict_do_nothing(index_elements=["channel", "platform_id"])
        .returning(InboxRow.id)
    )
    with db.gate.urgent():  # on SQLite, the workers stand aside for an acknowledgement
        async with db.session() as session:
            new_id = await session.scalar(statement)
            await session.commit()
    return new_id is not None


def enqueue(
    session: AsyncSession, message: OutboundMessage, *, ticket_id: int | None = None
) -> OutboxRow:
    """Add a message to the outbox in the caller's transaction (sent after it commits)."""
    row = OutboxRow(
        channel=message.chat.channel,
        chat_key=message.chat.key,
        payload=json.dumps(message.to_dict(), ensure_ascii=False),
        ticket_id=ticket_id if ticket_id is not None else None,
        state="pending",
        attempts=0,
        next_attempt_at=utcnow(),
    )
    session.add(row)
    return row


# A worker shows it is alive every HEARTBEAT; one silent for STALE is taken for dead and its
# leases are free to take (instead of when they run out: 30 s in the inbox, 120 s in the
# outbox). Rows of workers silent for FORGET are deleted.
HEARTBEAT = timedelta(seconds=5)
STALE = timedelta(seconds=15)
FORGET = timedelta(hours=1)


def _free(lease_owner: Any, lease_until: Any, now: datetime) -> Any:
    """Whether a row's lease may be taken: none, run out, or its owner's heartbeat stopped."""
    dead = select(WorkerRow.owner).where(WorkerRow.heartbeat_at < now - STALE)
    return lease_until.is_(None) | (lease_until < now) | lease_owner.in_(dead)


async def claim_inbox(
    session: AsyncSession, *, owner: str, lease: timedelta, limit: int, postgres: bool
) -> Sequence[InboxRow]:
    """Lease the oldest pending event of each chat whose earlier events are all done."""
    now = utcnow()
    earlier = aliased(InboxRow)
    query = (
        select(InboxRow)
        .where(
            InboxRow.state == "pending",
            _free(InboxRow.lease_owner, InboxRow.lease_until, now),
            ~exists().where(
                and_(
                    earlier.chat_key == InboxRow.chat_key,
                    earlier.state == "pending",
                    earlier.id < InboxRow.id,
                )
            ),
        )
        .order_by(InboxRow.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=InboxRow)
    rows = (await session.scalars(query)).all()
    for row in rows:
        row.lease_owner = owner
        row.lease_until = now + lease
        row.attempts += 1
    await session.commit()
    return rows


async def claim_outbox(
    session: AsyncSession,
    *,
    owner: str,
    lease: timedelta,
    limit: int,
    postgres: bool,
    channels: Sequence[str],
) -> Sequence[OutboxRow]:
    """Lease the head message of each chat that is due, so every chat keeps its order."""
    now = utcnow()
    earlier = aliased(OutboxRow)
    query = (
        select(OutboxRow)
        .where(
            OutboxRow.state == "pending",
            OutboxRow.channel.in_(channels),
            OutboxRow.next_attempt_at <= now,
            _free(OutboxRow.lease_owner, OutboxRow.lease_until, now),
            ~exists().where(
                and_(
                    earlier.chat_key == OutboxRow.chat_key,
                    earlier.state == "pending",
                    earlier.id < OutboxRow.id,
                )
            ),
        )
        .order_by(OutboxRow.id)
        .limit(limit)
    )
    if postgres:
        query = query.with_for_update(skip_locked=True, of=OutboxRow)
    rows = (await session.scalars(query)).all()
    for row in rows:
        row.lease_owner = owner
        row.lease_until = now + lease
    await session.commit()
    return rows


async def renew_inbox(
    session: AsyncSession, row_ids: Sequence[int], *, owner: str, lease: timedelta
) -> set[int]:
    """Extend `owner`'s leases on events it is still working on, to `lease` from now; return
    the ids renewed. A row no longer pending under `owner`'s lease (finished, handed back,
    or taken over once its lease ran out) is left alone."""
    result = await session.execute(
        update(InboxRow)
        .where(
            InboxRow.id.in_(list(row_ids)),
            InboxRow.lease_owner == owner,
            InboxRow.state == "pending",
        )
        .values(lease_until=utcnow() + lease)
        .returning(InboxRow.id)
    )
    renewed = set(result.scalars())
    await session.commit()
    return renewed


async def finish_inbox(session: AsyncSession, row_id: int, owner: str) -> bool:
    """Mark an event processed in the caller's transaction; False if our lease was lost."""
    result = await session.execute(
        update(InboxRow)
        .where(InboxRow.id == row_id, InboxRow.lease_owner == owner, InboxRow.state == "pending")
        .values(state="done", processed_at=utcnow(), lease_owner=None, lease_until=None)
    )
    return bool(getattr(result, "rowcount", 0))


async def release_inbox(
    session: AsyncSession,
    row_id: int,
    *,
    owner: str,
    error: str,
    retry_at: datetime,
    give_up: bool,
    count_attempt: bool = True,
) -> None:
    """Hand a row `owner` claimed back: failed for good, or pending until `retry_at`; without
    `count_attempt` the claim that took it does not count towards its attempts. A row no
    longer pending under `owner`'s lease is left alone: its processing may have committed
    after all (the connection dropped under the commit), or another worker has it now."""
    await session.execute(
        update(InboxRow)
        .where(InboxRow.id == row_id, InboxRow.lease_owner == owner, InboxRow.state == "pending")
        .values(
            state="failed" if give_up else "pending",
            error=error[:500],
            lease_owner=None,
            lease_until=retry_at,
            **({} if count_attempt else {"attempts": InboxRow.attempts - 1}),
        )
    )
    await session.commit()


async def backlog(session: AsyncSession) -> dict[str, float]:
    """Queue depth and age of the oldest waiting row, for /metrics and /healthz."""
    now = utcnow()
    inbox_count, inbox_oldest = (
        await session.execute(
            select(func.count(InboxRow.id), func.min(InboxRow.received_at)).where(
                InboxRow.state == "pending"
            )
        )
    ).one()
    outbox_count, outbox_oldest = (
        await session.execute(
            select(func.count(OutboxRow.id), func.min(OutboxRow.created_at)).where(
                OutboxRow.state == "pending"
            )
        )
    ).one()
    return {
        "inbox_pending": float(inbox_count or 0),
        "inbox_lag_seconds": _age(now, inbox_oldest),
        "outbox_pending": float(outbox_count or 0),
        "outbox_lag_seconds": _age(now, outbox_oldest),
    }


def _age(now: datetime, oldest: datetime | None) -> float:
    if oldest is None:
        return 0.0
    if oldest.tzinfo is None:
        oldest = oldest.replace(tzinfo=now.tzinfo)
    return max(0.0, (now - oldest).total_seconds())


async def release_stale_leases(session: AsyncSession) -> None:
    """Free every lease: only for a database one process owns (SQLite), at its start."""
    await session.execute(
        update(InboxRow)
        .where(InboxRow.state == "pending")
        .values(lease_owner=None, lease_until=None)
    )
    await session.execute(
        update(OutboxRow)
        .where(OutboxRow.state == "pending")
        .values(lease_owner=None, lease_until=None)
    )
    await session.commit()


async def heartbeat(session: AsyncSession, owners: Sequence[str]) -> None:
    """Show that these workers are alive (registering them the first time), and forget
    workers long silent."""
    now = utcnow()
    for owner in owners:
        row = await session.get(WorkerRow, owner)
        if row is None:
            session.add(WorkerRow(owner=owner, started_at=now, heartbeat_at=now))
        else:
            row.heartbeat_at = now
    await session.execute(delete(WorkerRow).where(WorkerRow.heartbeat_at < now - FORGET))
    await session.commit()


async def retire(session: AsyncSession, owners: Sequence[str]) -> None:
    """Workers that stopped: their pending rows' leases are freed at once and their
    heartbeat rows deleted."""
    for table in (InboxRow, OutboxRow):
        await session.execute(
            update(table)
            .where(table.state == "pending", table.lease_owner.in_(list(owners)))
            .values(lease_owner=None, lease_until=None)
        )
    await session.execute(delete(WorkerRow).where(WorkerRow.owner.in_(list(owners))))
    await session.commit()
