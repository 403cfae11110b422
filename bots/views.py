"""The ticket view: the JSON object agents' cards are drawn from (see `docs/messages.md`)."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from tickets.events import BOT_TRIED_EVENT
from tickets.models import Message, Ticket, TicketEvent

BOT_TRIED_MAX = 3
BOT_TRIED_CHARS = 200


def _iso(value: Any) -> str | None:
    return value.isoformat() if isinstance(value, datetime) else None


def sla_state(ticket: Ticket) -> str:
    """`breached`, `warning`, `paused`, `met`, `ok`, or `none` when no clock runs."""
    flags = {name: bool(getattr(ticket, name, False)) for name in _SLA_FLAGS}
    if flags["sla_breached"] or any(flags[n] for n in _SLA_FLAGS if n.endswith("_breached")):
        return "breached"
    if ticket.status in ("resolved", "closed"):
        return "met" if _has_clock(ticket) else "none"
    if getattr(ticket, "sla_paused_at", None) is not None:
        return "paused"
    if any(flags[n] for n in _SLA_FLAGS if n.endswith("_warned")):
        return "warning"
    return "ok" if _has_clock(ticket) else "none"


_SLA_FLAGS = (
    "sla_breached",
    "first_response_breached",
    "next_response_breached",
    "resolution_breached",
    "first_response_warned",
    "next_response_warned",
    "resolution_warned",
)


def _has_clock(ticket: Ticket) -> bool:
    return any(
        getattr(ticket, name, None) is not None
        for name in ("first_response_due", "next_response_due", "resolution_due")
    )


async def ticket_view(
    session: AsyncSession,
    ticket: Ticket,
    *,
    summary: str | None = None,
    bot_tried: Sequence[str] | None = None,
) -> dict[str, Any]:
    """The ticket as agents see it: who, what, state, SLA clock, summary, what the bot tried.

    `summary` and `bot_tried` override what the ticket itself records (the hand-off knows
    what the bot answered); by default the summary is the ticket's and the bot's attempts are
    those recorded at its latest hand-off.
    """
    customer = ticket.customer
    previous = await session.scalar(
        select(func.count(Ticket.id)).where(
            Ticket.customer_id == ticket.customer_id, Ticket.id != ticket.id
        )
    )
    if bot_tried is None:
        bot_tried = await _bot_tried(session, ticket)
    first_response_due = getattr(ticket, "first_response_due", None)
    if getattr(ticket, "first_response_at", None) is not None:
        first_response_due = getattr(ticket, "next_response_due", None)
    return {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "department": ticket.department,
        "tier": ticket.tier,
        "assignee": ticket.assignee,
        "channel": ticket.channel,
        "language": ticket.language,
        "follow_up_of": getattr(ticket, "follow_up_of", None),
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "tier": customer.tier,
            "previous_tickets": int(previous or 0),
        },
        "sla": {
            "first_response_due": _iso(first_response_due),
            "resolution_due": _iso(getattr(ticket, "resolution_due", None)),
            "state": sla_state(ticket),
        },
        "summary": summary if summary is not None else str(getattr(ticket, "summary", "") or ""),
        "bot_tried": list(bot_tried),
    }


async def _bot_tried(session: AsyncSession, ticket: Ticket) -> list[str]:
    """What the bot tried before the latest hand-off, as recorded then; for a ticket handed
    off before that was recorded, its last few bot messages."""
    recorded = await session.scalar(
        select(TicketEvent.reason)
        .where(TicketEvent.ticket_id == ticket.id, TicketEvent.kind == BOT_TRIED_EVENT)
        .order_by(TicketEvent.id.desc())
        .limit(1)
    )
    if recorded is not None:
        return [_short(line) for line in recorded.splitlines() if line.strip()]
    rows = (
        await session.scalars(
            select(Message.text)
            .where(Message.ticket_id == ticket.id, Message.author_kind == "bot")
            .order_by(Message.id.desc())
            .limit(BOT_TRIED_MAX)
        )
    ).all()
    return [_short(text) for text in reversed(rows) if text.strip()]


def _short(text: str) -> str:
    line = " ".join(text.split())
    return line if len(line) <= BOT_TRIED_CHARS else line[: BOT_TRIED_CHARS - 1] + "…"
