"""Slack workspace state: which triage channel message is each ticket's card and thread root."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Integer, String, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bots.pipeline.models import PipelineBase
from tickets.models import UTCDateTime, utcnow


class SlackThread(PipelineBase):
    """A ticket's card in a Slack channel; the card's `ts` is also the ticket's thread."""

    __tablename__ = "slack_threads"
    __table_args__ = (UniqueConstraint("channel", "card_ts", name="uq_slack_threads_card"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_number: Mapped[int] = mapped_column(Integer, unique=True)
    channel: Mapped[str] = mapped_column(String(32))
    card_ts: Mapped[str] = mapped_column(String(32))
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


async def thread_for_ticket(session: AsyncSession, ticket_number: int) -> SlackThread | None:
    """The card/thread of a ticket, if its card was posted."""
    return await session.scalar(
        select(SlackThread).where(SlackThread.ticket_number == ticket_number)
    )


async def ticket_for_thread(session: AsyncSession, channel: str, thread_ts: str) -> int | None:
    """The ticket number whose card is the root of this Slack thread, if any."""
    number: int | None = await session.scalar(
        select(SlackThread.ticket_number).where(
            SlackThread.channel == channel, SlackThread.card_ts == thread_ts
        )
    )
    return number


async def remember_card(
    session: AsyncSession, *, ticket_number: int, channel: str, card_ts: str
) -> SlackThread:
    """Record (or move) a ticket's card, in the caller's transaction."""
    row = await thread_for_ticket(session, ticket_number)
    if row is None:
        row = SlackThread(ticket_number=ticket_number, channel=channel, card_ts=card_ts)
        session.add(row)
    else:
        row.channel = channel
        row.card_ts = card_ts
    await session.flush()
    return row
