"""Escalation (L1 -> L2 -> L3, between departments), priority changes and assignment.

Each change writes an event with who did it and why; the caller owns the transaction.
"""

from __future__ import annotations

from datetime import datetime

from sqlalchemy.ext.asyncio import AsyncSession

from tickets import events
from tickets.agents import pick_round_robin
from tickets.config import PRIORITIES, TIERS, HelpdeskConfig
from tickets.errors import TicketInputError, TicketStateError
from tickets.models import Ticket

FINAL_STATUSES = ("resolved", "closed")


def next_tier(tier: str) -> str | None:
    """The tier above `tier` (None at L3)."""
    index = TIERS.index(tier) if tier in TIERS else 0
    return TIERS[index + 1] if index + 1 < len(TIERS) else None


async def raise_priority(
    session: AsyncSession, ticket: Ticket, *, actor: str, reason: str, now: datetime
) -> bool:
    """One step up (low -> normal -> high -> urgent); False when already urgent."""
    index = PRIORITIES.index(ticket.priority) if ticket.priority in PRIORITIES else 1
    if index + 1 >= len(PRIORITIES):
        return False
    await set_priority(session, ticket, PRIORITIES[index + 1], actor=actor, reason=reason, now=now)
    return True


async def set_priority(
    session: AsyncSession, ticket: Ticket, priority: str, *, actor: str, reason: str, now: datetime
) -> None:
    if priority not in PRIORITIES:
        raise TicketInputError(
            f"unknown priority {priority!r} (use one of {', '.join(PRIORITIES)})"
        )
    if priority == ticket.priority:
        return
    events.record(
        session,
        ticket,
        "priority",
        actor=actor,
        from_value=ticket.priority,
        to_value=priority,
        reason=reason,
        at=now,
    )
    ticket.priority = priority


async def assign(
    session: AsyncSession,
    ticket: Ticket,
    agent: str | None,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> None:
    """Give the ticket to `agent` (a Slack user id), or to nobody; records the change."""
    if agent == ticket.assignee:
        return
    events.record(
        session,
        ticket,
        "assignee",
        actor=actor,
        from_value=ticket.assignee,
        to_value=agent,
        reason=reason,
        at=now,
    )
    ticket.assignee = agent


async def assign_round_robin(
    session: AsyncSession,
    config: HelpdeskConfig,
    ticket: Ticket,
    *,
    actor: str,
    reason: str,
    now: datetime,
) -> str | None:
    """Assign the next available agent of the ticket's department and tier (None: nobody)."""
    chosen = await pick_round_robin(session, config, ticket.department or "", ticket.tier, now)
    if chosen is None:
        return None
    await assign(session, ticket, chosen.slack_user_id, actor=actor, reason=reason, now=now)
    return chosen.slack_user_id


async def escalate(
    session: AsyncSession,
    config: HelpdeskConfig,
    ticket: Ticket,
    *,
    tier: str | None = None,
    department: str | None = None,
    reason: str,
    actor: str,
    now: datetime,
) -> list[str]:
    """Move a ticket up a tier and/or to another department, with a reason.

    Without `tier` or `department` it goes one tier up. Returns what changed
    (`["tier L1 -> L2", ...]`).
    """
    if not reason.strip():
        raise TicketInputError("an escalation needs a reason")
    if ticket.status in FINAL_STATUSES:
        raise TicketStateError(f"ticket #{ticket.number} is {ticket.status}; reopen it first")
    if tier is None and department is None:
        tier = next_tier(ticket.tier)
        if tier is None:
            raise TicketStateError(f"ticket #{ticket.number} is already at the top tier (L3)")
    changes: list[str] = []
    if tier is not None and tier != ticket.tier:
        if tier not in TIERS:
            raise TicketInputError(f"unknown tier {tier!r} (use L1, L2 or L3)")
        if TIERS.index(tier) < TIERS.index(ticket.tier if ticket.tier in TIERS else "L1"):
            raise TicketInputError(
                f"ticket #{ticket.number} is at {ticket.tier}; escalation goes L1 -> L2 -> L3"
            )
        events.record(
            session,
            ticket,
            "tier",
            actor=actor,
            from_value=ticket.tier,
            to_value=tier,
            reason=reason,
            at=now,
        )
        changes.append(f"tier {ticket.tier} -> {tier}")
        ticket.tier = tier
    if department is not None and department != ticket.department:
        if config.department(department) is None:
            known = ", ".join(config.department_names)
            raise TicketInputError(f"unknown department {department!r} (known: {known})")
        events.record(
            session,
            ticket,
            "department",
            actor=actor,
            from_value=ticket.department,
            to_value=department,
            reason=reason,
            at=now,
        )
        changes.append(f"department {ticket.department} -> {department}")
        ticket.department = department
    if not changes:
        raise TicketInputError(
            f"ticket #{ticket.number} is already at {ticket.tier} in {ticket.department}"
        )
    if config.escalation.reassign and config.agents_of(ticket.department or ""):
        chosen = await assign_round_robin(
            session, config, ticket, actor=actor, reason=f"escalated: {reason}", now=now
        )
        if chosen is None and ticket.assignee is not None:
            await assign(session, ticket, None, actor=actor, reason=f"escalated: {reason}", now=now)
    return changes
