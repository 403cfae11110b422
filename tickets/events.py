"""The append-only event log: every change to a ticket, who, when, from what, to what, why."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.models import Ticket, TicketEvent, utcnow

VALUE_MAX = 200

# Who acted, as written in `TicketEvent.actor`.
SYSTEM = "system"
SLA = "sla"

# At a hand-off: what the bot tried, one line each in `reason` (`to_value`: why it handed off).
BOT_TRIED_EVENT = "bot_tried"


def customer_actor(customer_id: int) -> str:
    return f"customer:{customer_id}"


def agent_actor(agent: str) -> str:
    return agent if ":" in agent else f"agent:{agent}"


def _text(value: Any) -> str | None:
    if value is None:
        return None
    text = value.astimezone(UTC).isoformat() if isinstance(value, datetime) else str(value)
    return text[:VALUE_MAX]


def record(
    session: AsyncSession,
    ticket: Ticket,
    kind: str,
    *,
    actor: str,
    from_value: Any = None,
    to_value: Any = None,
    reason: str = "",
    at: datetime | None = None,
) -> TicketEvent:
    """Append one event in the caller's transaction."""
    event = TicketEvent(
        ticket_id=ticket.id,
        at=at or utcnow(),
        actor=actor[:128],
        kind=kind,
        from_value=_text(from_value),
        to_value=_text(to_value),
        reason=reason,
    )
    session.add(event)
    return event


async def events_of(session: AsyncSession, ticket_id: int) -> Sequence[TicketEvent]:
    """A ticket's events, oldest first."""
    rows = await session.scalars(
        select(TicketEvent).where(TicketEvent.ticket_id == ticket_id).order_by(TicketEvent.id)
    )
    return rows.all()
