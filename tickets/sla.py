"""SLA clocks in business time: start, pause while pending, resume, stop, warn and breach.

Three clocks run per ticket:

* **first response**: from opening until the first customer-visible agent reply (bot
  messages, internal notes and system messages do not stop it);
* **next response**: from a customer message that arrives after the first response until the
  next customer-visible agent reply;
* **resolution**: from opening until the ticket is resolved.

While a ticket is pending on the customer (and while it is resolved) the first-response and
resolution clocks are paused: the business time they had left is kept and, when the customer
replies (or the ticket is reopened), counted again from that moment. A pending ticket has no
next-response clock; the customer's reply starts a fresh one.

`tick()` fires each warning and each breach exactly once, even with several replicas ticking
at the same time: candidate rows are claimed with `FOR UPDATE SKIP LOCKED` on PostgreSQL, and
every firing is a guarded update (`... WHERE warned = false AND warn_at = <seen>`) whose row
count decides who fires.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import and_, false, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from tickets import escalation, events
from tickets.calendar import BusinessCalendar
from tickets.config import HelpdeskConfig, SlaPolicy, format_duration
from tickets.models import Ticket, utcnow

CLOCKS = ("first_response", "next_response", "resolution")
PAUSABLE = ("first_response", "resolution")
TICKING_STATUSES = ("new", "open")
CLOCK_NAMES = {
    "first_response": "first response",
    "next_response": "next response",
    "resolution": "resolution",
}


@dataclass(frozen=True)
class SlaEvent:
    """A warning or breach that fired; `notify` says whether to tell the department."""

    kind: str  # warning | breach
    clock: str  # first_response | next_response | resolution
    ticket_id: int
    ticket_number: int
    subject: str
    department: str | None
    tier: str
    priority: str
    assignee: str | None
    due: datetime
    notify: bool
    channel: str | None  # Slack channel for the notice (tier channel or triage channel)
    actions: tuple[str, ...] = ()  # what the breach changed, e.g. ("tier L1 -> L2",)

    def describe(self) -> str:
        """One line for a notice in the department's channel."""
        what = "SLA warning" if self.kind == "warning" else "SLA breached"
        clock = CLOCK_NAMES.get(self.clock, self.clock)
        line = (
            f"{what}: ticket #{self.ticket_number} {clock} due {self.due:%Y-%m-%d %H:%M} UTC"
            f" ({self.department or '-'}, {self.tier}, {self.priority}"
            f"{', ' + self.assignee if self.assignee else ''}): {self.subject}"
        )
        if self.actions:
            line += f" [{'; '.join(self.actions)}]"
        return line


# -- policies and calendars --------------------------------------------------------------------


def policy_for(
    config: HelpdeskConfig,
    *,
    priority: str,
    department: str | None,
    tier: str,
    channel: str,
    customer_tier: str,
) -> SlaPolicy | None:
    """The first policy in helpdesk.yaml whose `match` fits the ticket."""
    for policy in config.sla.policies:
        match = policy.match
        if match.priority is not None and priority not in match.priority:
            continue
        if match.department is not None and department not in match.department:
            continue
        if match.tier is not None and tier not in match.tier:
            continue
        if match.channel is not None and channel not in match.channel:
            continue
        if match.customer_tier is not None and customer_tier not in match.customer_tier:
            continue
        return policy
    return None


def calendar_for(config: HelpdeskConfig, ticket: Ticket) -> BusinessCalendar:
    """The policy's calendar, else the department's, else the business calendar."""
    policy = config.policy(ticket.sla_policy)
    if policy is not None and policy.calendar:
        return config.calendar(policy.calendar)
    return config.department_calendar(ticket.department)


# -- clock changes (pure: they change the ticket object, the caller flushes) -----------------


def _set(ticket: Ticket, clock: str, suffix: str, value: Any) -> None:
    setattr(ticket, f"{clock}_{suffix}", value)


def _get(ticket: Ticket, clock: str, suffix: str) -> Any:
    return getattr(ticket, f"{clock}_{suffix}")


def start_clock(
    ticket: Ticket,
    clock: str,
    policy: SlaPolicy,
    calendar: BusinessCalendar,
    now: datetime,
) -> datetime | None:
    """Start `clock` with the policy's full target; returns the due time (None: no target)."""
    target = policy.target(clock)
    if target is None:
        return None
    due = calendar.add(now, target)
    warn = calendar.add(now, target * policy.warn_at / 100) if policy.warn_at else None
    _set(ticket, clock, "due", due)
    _set(ticket, clock, "warn_at", warn)
    _set(ticket, clock, "warned", False)
    _set(ticket, clock, "breached", False)
    return due


def start(
    ticket: Ticket, policy: SlaPolicy | None, calendar: BusinessCalendar, now: datetime
) -> None:
    """Start the first-response and resolution clocks of a new ticket."""
    ticket.sla_policy = policy.name if policy else None
    for clock in CLOCKS:
        _set(ticket, clock, "due", None)
        _set(ticket, clock, "warn_at", None)
        _set(ticket, clock, "warned", False)
        _set(ticket, clock, "breached", False)
    if policy is None:
        return
    start_clock(ticket, "first_response", policy, calendar, now)
    start_clock(ticket, "resolution", policy, calendar, now)


def running(ticket: Ticket, clock: str) -> bool:
    """Whether `clock` is counting (not stopped, not paused)."""
    if ticket.status not in TICKING_STATUSES or _get(ticket, clock, "due") is None:
        return False
    if clock == "first_response":
        return ticket.first_response_at is None
    if clock == "resolution":
        return ticket.resolved_at is None
    return True


def counts_as_response(*, direction: str, author_kind: str, internal: bool) -> bool:
    """Only a customer-visible agent reply stops a response clock (not bots, notes, system)."""
    return direction == "out" and author_kind == "agent" and not internal


def on_customer_message(ticket: Ticket, config: HelpdeskConfig, now: datetime) -> datetime | None:
    """A customer wrote on an active ticket: start the next-response clock if one is owed.

    Returns the new next-response due time, if a clock started.
    """
    if ticket.first_response_at is None or ticket.status not in TICKING_STATUSES:
        return None  # the first-response clock already covers it
    if ticket.next_response_due is not None:
        return None  # already waiting for a reply
    policy = config.policy(ticket.sla_policy)
    if policy is None:
        return None
    return start_clock(ticket, "next_response", policy, calendar_for(config, ticket), now)


def on_agent_reply(ticket: Ticket, now: datetime) -> bool:
    """A customer-visible agent reply: stops the first-response (True if it was the first)
    and the next-response clocks."""
    first = ticket.first_response_at is None
    if first:
        ticket.first_response_at = now
    ticket.next_response_due = None
    ticket.next_response_warn_at = None
    return first


def pause(ticket: Ticket, calendar: BusinessCalendar, now: datetime) -> dict[str, Any]:
    """Stop counting: keep the business time each clock has left (a breached clock keeps 0)."""
    if ticket.sla_paused_at is not None:
        return dict(ticket.sla_remaining or {})
    remaining: dict[str, Any] = {}
    for clock in PAUSABLE:
        due = _get(ticket, clock, "due")
        if due is None or (clock == "first_response" and ticket.first_response_at is not None):
            continue
        warn = _get(ticket, clock, "warn_at")
        due_left = calendar.elapsed(now, due).total_seconds()
        warn_left = (
            calendar.elapsed(now, warn).total_seconds()
            if warn is not None and not _get(ticket, clock, "warned")
            else None
        )
        remaining[clock] = [due_left, warn_left]
        _set(ticket, clock, "due", None)
        _set(ticket, clock, "warn_at", None)
    ticket.next_response_due = None
    ticket.next_response_warn_at = None
    ticket.sla_paused_at = now
    ticket.sla_remaining = remaining
    return remaining


def resume(ticket: Ticket, calendar: BusinessCalendar, now: datetime) -> None:
    """Count again from `now` with the business time each paused clock had left."""
    if ticket.sla_paused_at is None:
        return
    for clock, (due_left, warn_left) in (ticket.sla_remaining or {}).items():
        _set(ticket, clock, "due", calendar.add(now, timedelta(seconds=due_left)))
        _set(
            ticket,
            clock,
            "warn_at",
            None if warn_left is None else calendar.add(now, timedelta(seconds=warn_left)),
        )
    ticket.sla_paused_at = None
    ticket.sla_remaining = None


def clock_state(ticket: Ticket, clock: str, now: datetime) -> str:
    """`running`, `warning`, `breached`, `paused`, `met`, `missed` or `none`."""
    breached = bool(_get(ticket, clock, "breached"))
    paused = ticket.sla_paused_at is not None and clock in (ticket.sla_remaining or {})
    due = _get(ticket, clock, "due")
    if clock == "first_response" and ticket.first_response_at is not None:
        return "missed" if breached else "met"
    if clock == "resolution" and ticket.resolved_at is not None and not paused:
        return "missed" if breached else "met"
    if paused:
        return "breached" if breached else "paused"
    if due is None:
        return "missed" if breached else "none"
    if breached or due <= now:
        return "breached"
    warn = _get(ticket, clock, "warn_at")
    if _get(ticket, clock, "warned") or (warn is not None and warn <= now):
        return "warning"
    return "running"


def view(ticket: Ticket, config: HelpdeskConfig, now: datetime | None = None) -> dict[str, Any]:
    """The SLA part of `tickets show --json`: policy, calendar, each clock's due and state."""
    now = now or utcnow()
    calendar = calendar_for(config, ticket)
    policy = config.policy(ticket.sla_policy)
    clocks: dict[str, Any] = {}
    for clock in CLOCKS:
        due = _get(ticket, clock, "due")
        warn = _get(ticket, clock, "warn_at")
        left = (ticket.sla_remaining or {}).get(clock) if ticket.sla_paused_at else None
        target = policy.target(clock) if policy else None
        clocks[clock] = {
            "target": format_duration(target) if target else None,
            "due": due.isoformat() if due else None,
            "warn_at": warn.isoformat() if warn else None,
            "state": clock_state(ticket, clock, now),
            "warned": bool(_get(ticket, clock, "warned")),
            "breached": bool(_get(ticket, clock, "breached")),
            "paused_remaining": format_duration(timedelta(seconds=left[0])) if left else None,
        }
    return {
        "policy": ticket.sla_policy,
        "calendar": calendar.name,
        "hours": calendar.describe(),
        "paused": ticket.sla_paused_at is not None,
        "breached": bool(ticket.sla_breached),
        "first_response_due": clocks["first_response"]["due"],
        "next_response_due": clocks["next_response"]["due"],
        "resolution_due": clocks["resolution"]["due"],
        "clocks": clocks,
    }


# -- the tick ----------------------------------------------------------------------------------


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


def _column(clock: str, suffix: str) -> Any:
    return getattr(Ticket, f"{clock}_{suffix}")


async def _candidates(
    session: AsyncSession, clock: str, now: datetime, limit: int
) -> list[tuple[int, datetime | None, datetime | None, bool, bool]]:
    due, warn = _column(clock, "due"), _column(clock, "warn_at")
    warned, breached = _column(clock, "warned"), _column(clock, "breached")
    conditions = [Ticket.status.in_(TICKING_STATUSES), due.is_not(None)]
    if clock == "first_response":
        conditions.append(Ticket.first_response_at.is_(None))
    if clock == "resolution":
        conditions.append(Ticket.resolved_at.is_(None))
    due_soon = or_(
        and_(warn.is_not(None), warn <= now, warned == false()),
        and_(due <= now, breached == false()),
    )
    query = (
        select(Ticket.id, due, warn, warned, breached)
        .where(*conditions, due_soon)
        .order_by(due)
        .limit(limit)
    )
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=Ticket)
    return [tuple(row) for row in (await session.execute(query)).all()]


async def _flip(
    session: AsyncSession, ticket_id: int, clock: str, flag: str, seen: Any, **extra: Any
) -> bool:
    """Set `<clock>_<flag>` once: only if still false and the time we saw has not moved."""
    stamp = "due" if flag == "breached" else "warn_at"
    result = await session.execute(
        update(Ticket)
        .where(
            Ticket.id == ticket_id,
            _column(clock, flag) == false(),
            _column(clock, stamp) == seen,
            Ticket.status.in_(TICKING_STATUSES),
        )
        .values({f"{clock}_{flag}": True, **extra})
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def _load(session: AsyncSession, ticket_id: int) -> Ticket:
    ticket = await session.get(Ticket, ticket_id, populate_existing=True)
    assert ticket is not None
    return ticket


async def tick(
    session: AsyncSession,
    config: HelpdeskConfig,
    now: datetime | None = None,
    *,
    limit: int = 200,
) -> list[SlaEvent]:
    """Fire due warnings and breaches once each, apply breach actions; the caller commits."""
    now = now or utcnow()
    fired: list[SlaEvent] = []
    for clock in CLOCKS:
        for ticket_id, due, warn, warned, breached in await _candidates(session, clock, now, limit):
            assert due is not None
            if not breached and due <= now:
                if await _flip(
                    session,
                    ticket_id,
                    clock,
                    "breached",
                    due,
                    sla_breached=True,
                    **{f"{clock}_warned": True},
                ):
                    fired.append(await _breach(session, config, ticket_id, clock, due, now))
            elif (
                warn is not None
                and not warned
                and warn <= now
                and await _flip(session, ticket_id, clock, "warned", warn)
            ):
                fired.append(await _warning(session, config, ticket_id, clock, due, now))
    return fired


def _event(
    config: HelpdeskConfig,
    ticket: Ticket,
    kind: str,
    clock: str,
    due: datetime,
    notify: bool,
    actions: tuple[str, ...] = (),
) -> SlaEvent:
    return SlaEvent(
        kind=kind,
        clock=clock,
        ticket_id=ticket.id,
        ticket_number=ticket.number,
        subject=ticket.subject,
        department=ticket.department,
        tier=ticket.tier,
        priority=ticket.priority,
        assignee=ticket.assignee,
        due=due,
        notify=notify,
        channel=config.notify_channel(ticket.department, ticket.tier),
        actions=actions,
    )


async def _warning(
    session: AsyncSession,
    config: HelpdeskConfig,
    ticket_id: int,
    clock: str,
    due: datetime,
    now: datetime,
) -> SlaEvent:
    ticket = await _load(session, ticket_id)
    left = calendar_for(config, ticket).elapsed(now, due)
    events.record(
        session,
        ticket,
        "sla_warning",
        actor=events.SLA,
        from_value=clock,
        to_value=due,
        reason=f"{CLOCK_NAMES[clock]} due in {format_duration(left)} of business time",
        at=now,
    )
    return _event(config, ticket, "warning", clock, due, notify=True)


async def _breach(
    session: AsyncSession,
    config: HelpdeskConfig,
    ticket_id: int,
    clock: str,
    due: datetime,
    now: datetime,
) -> SlaEvent:
    ticket = await _load(session, ticket_id)
    policy = config.policy(ticket.sla_policy)
    wanted = policy.on_breach if policy else []
    reason = f"{CLOCK_NAMES[clock]} SLA breached (due {due:%Y-%m-%d %H:%M} UTC)"
    events.record(
        session,
        ticket,
        "sla_breach",
        actor=events.SLA,
        from_value=clock,
        to_value=due,
        reason=reason,
        at=now,
    )
    actions: list[str] = []
    if "raise_priority" in wanted:
        before = ticket.priority
        if await escalation.raise_priority(
            session, ticket, actor=events.SLA, reason=reason, now=now
        ):
            actions.append(f"priority {before} -> {ticket.priority}")
    if "escalate_tier" in wanted and escalation.next_tier(ticket.tier) is not None:
        before = ticket.tier
        await escalation.escalate(session, config, ticket, reason=reason, actor=events.SLA, now=now)
        actions.append(f"tier {before} -> {ticket.tier}")
    return _event(config, ticket, "breach", clock, due, "notify" in wanted, tuple(actions))


async def close_expired(
    session: AsyncSession, config: HelpdeskConfig, now: datetime | None = None, *, limit: int = 200
) -> list[int]:
    """Close resolved tickets whose reopen window has passed; returns their numbers."""
    now = now or utcnow()
    cutoff = now - config.reopen_window
    query = (
        select(Ticket.id)
        .where(Ticket.status == "resolved", Ticket.resolved_at <= cutoff)
        .order_by(Ticket.id)
        .limit(limit)
    )
    if _is_postgres(session):
        query = query.with_for_update(skip_locked=True, of=Ticket)
    closed: list[int] = []
    for ticket_id in (await session.scalars(query)).all():
        result = await session.execute(
            update(Ticket)
            .where(Ticket.id == ticket_id, Ticket.status == "resolved")
            .values(status="closed", closed_at=now)
            .execution_options(synchronize_session=False)
        )
        if not getattr(result, "rowcount", 0):
            continue
        ticket = await _load(session, ticket_id)
        events.record(
            session,
            ticket,
            "status",
            actor=events.SYSTEM,
            from_value="resolved",
            to_value="closed",
            at=now,
            reason=f"reopen window of {format_duration(config.reopen_window)} passed",
        )
        closed.append(ticket.number)
    return closed
