"""Ticket operations on a caller's session; the caller owns the transaction and commits once.

`Helpdesk` is the service: built once from helpdesk.yaml (and, optionally, the learned
router), it opens, routes, replies, escalates, assigns, pauses, resolves, reopens and rates
tickets, keeping SLA clocks and the event log in step. The module-level functions kept from the
first version (`open_ticket`, `add_message`, ...) run with the built-in default configuration.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Literal

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from tickets import agents as agent_store
from tickets import escalation, events, sla
from tickets.config import PRIORITIES, HelpdeskConfig, default_config
from tickets.errors import TicketInputError, TicketNotFound, TicketStateError
from tickets.models import (
    Agent,
    Counter,
    CsatRating,
    Customer,
    CustomerIdentity,
    Message,
    Ticket,
    utcnow,
)
from tickets.routing import LearnedRouter, RouteDecision, Router, RouteRequest

OPEN_STATUSES = ("new", "open", "pending")
STATUSES = ("new", "open", "pending", "resolved", "closed")
SUBJECT_MAX = 80
ASSIGNEE_MAX = 64
MAX_NUMBER = 2**31 - 1  # ticket numbers and customer ids are 32-bit integer columns
TRANSITIONS: dict[str, tuple[str, ...]] = {
    "new": ("open", "pending", "resolved"),
    "open": ("pending", "resolved"),
    "pending": ("open", "resolved"),
    "resolved": ("open", "closed"),
    "closed": (),
}

Outcome = Literal["created", "continued", "reopened", "follow_up"]


@dataclass(frozen=True)
class Received:
    """What a customer message did: which ticket it went to and how."""

    ticket: Ticket
    message: Message
    outcome: Outcome  # created | continued | reopened | follow_up (new ticket linked to old)
    previous: Ticket | None = None  # for follow_up: the older ticket it links to
    resumed: bool = False  # the ticket was pending on the customer and is open again
    decision: RouteDecision | None = None  # for created/follow_up: how it was routed


# -- customers and lookups (no configuration needed) ----------------------------------------


async def find_or_create_customer(
    session: AsyncSession,
    *,
    channel: str,
    external_id: str,
    chat_id: str = "",
    name: str = "",
    language: str | None = None,
) -> Customer:
    """The customer behind a channel identity, created on first contact."""
    identity = await session.scalar(
        select(CustomerIdentity)
        .where(CustomerIdentity.channel == channel, CustomerIdentity.external_id == external_id)
        .options(selectinload(CustomerIdentity.customer))
    )
    if identity is not None:
        if chat_id and identity.chat_id != chat_id:
            identity.chat_id = chat_id
        return identity.customer
    customer = Customer(name=name, language=language, tags=[])
    customer.identities.append(
        CustomerIdentity(
            channel=channel, external_id=external_id, chat_id=chat_id, display_name=name
        )
    )
    session.add(customer)
    await session.flush()
    return customer


async def next_ticket_number(session: AsyncSession) -> int:
    """Allocate the next ticket number; the counter row lock makes it unique under concurrency."""
    value = await session.scalar(
        update(Counter)
        .where(Counter.name == "ticket")
        .values(value=Counter.value + 1)
        .returning(Counter.value)
    )
    if value is None:
        raise RuntimeError("the ticket counter row is missing: run `relaydesk init`")
    return int(value)


def subject_from(text: str) -> str:
    """A one-line subject from the first customer message."""
    line = " ".join(text.split())
    return line if len(line) <= SUBJECT_MAX else line[: SUBJECT_MAX - 1].rstrip() + "…"


async def current_ticket(session: AsyncSession, customer_id: int) -> Ticket | None:
    """The customer's most recent ticket that is still open, if any."""
    result: Ticket | None = await session.scalar(
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    return result


async def last_ticket(session: AsyncSession, customer_id: int) -> Ticket | None:
    """The customer's most recent ticket in any status."""
    result: Ticket | None = await session.scalar(
        select(Ticket).where(Ticket.customer_id == customer_id).order_by(Ticket.id.desc()).limit(1)
    )
    return result


async def customer_history(
    session: AsyncSession, customer_id: int, limit: int = 50
) -> Sequence[Ticket]:
    """The customer's tickets, newest first."""
    rows = await session.scalars(
        select(Ticket)
        .where(Ticket.customer_id == customer_id)
        .order_by(Ticket.id.desc())
        .limit(limit)
    )
    return rows.all()


async def get_ticket(session: AsyncSession, number: int) -> Ticket:
    """A ticket with its messages and events; `TicketNotFound` when there is none."""
    if not 0 < number <= MAX_NUMBER:
        raise TicketNotFound(number)  # beyond the column's range: no such ticket can exist
    ticket = await session.scalar(
        select(Ticket)
        .where(Ticket.number == number)
        .options(selectinload(Ticket.messages), selectinload(Ticket.events))
    )
    if ticket is None:
        raise TicketNotFound(number)
    return ticket


async def list_tickets(
    session: AsyncSession,
    *,
    status: str | None = None,
    department: str | None = None,
    limit: int = 200,
) -> Sequence[Ticket]:
    """Tickets, newest first, optionally of one status and one department."""
    query = select(Ticket).order_by(Ticket.number.desc()).limit(limit)
    if status:
        query = query.where(Ticket.status == status)
    if department:
        query = query.where(Ticket.department == department)
    return (await session.scalars(query)).all()


async def update_customer(
    session: AsyncSession,
    customer: Customer,
    *,
    tier: str | None = None,
    add_tags: Sequence[str] = (),
    remove_tags: Sequence[str] = (),
    name: str | None = None,
    language: str | None = None,
) -> Customer:
    """Change what routing and SLA policies look at: tier (standard, vip, ...) and tags."""
    if tier is not None:
        if not tier.strip() or len(tier) > 32:
            raise TicketInputError("a customer tier is a short word such as standard or vip")
        customer.tier = tier.strip()
    if add_tags or remove_tags:
        tags = [t for t in (customer.tags or []) if t not in set(remove_tags)]
        tags.extend(t for t in add_tags if t and t not in tags)
        customer.tags = tags
    if name is not None:
        customer.name = name
    if language is not None:
        customer.language = language
    await session.flush()
    return customer


async def list_agents(session: AsyncSession) -> Sequence[Agent]:
    """Every agent row (helpdesk.yaml's agents once synced), by Slack id."""
    return await agent_store.list_agents(session)


async def csat_of(session: AsyncSession, ticket_id: int) -> CsatRating | None:
    result: CsatRating | None = await session.scalar(
        select(CsatRating).where(CsatRating.ticket_id == ticket_id)
    )
    return result


# -- the service -------------------------------------------------------------------------------


class Helpdesk:
    """Ticket lifecycle, routing, SLA and escalation under one helpdesk.yaml.

    Every method works in the caller's session and transaction and never commits. `now` is
    the moment the change happens (defaults to the current time; tests pass their own).
    """

    def __init__(self, config: HelpdeskConfig, learned: LearnedRouter | None = None) -> None:
        self.config = config
        self.router = Router(config, learned)

    # -- routing ----------------------------------------------------------------------------

    async def route(
        self,
        text: str,
        *,
        channel: str = "",
        language: str | None = None,
        customer: Customer | None = None,
        at: datetime | None = None,
    ) -> RouteDecision:
        """Where a new ticket with this text would go (the learned model runs in a thread)."""
        request = RouteRequest(
            text=text,
            channel=channel,
            language=language,
            customer_tier=customer.tier if customer else "standard",
            customer_tags=tuple(customer.tags or ()) if customer else (),
            at=at or utcnow(),
        )
        if self.router.learned is None:
            return self.router.route(request)
        return await asyncio.to_thread(self.router.route, request)

    # -- opening and messages ---------------------------------------------------------------

    async def open_ticket(
        self,
        session: AsyncSession,
        *,
        customer: Customer,
        channel: str,
        chat_id: str,
        text: str,
        language: str | None = None,
        actor: str | None = None,
        decision: RouteDecision | None = None,
        follow_up_of: int | None = None,
        now: datetime | None = None,
    ) -> Ticket:
        """Open a ticket: number, routing, SLA clocks, assignment, and their events."""
        now = now or utcnow()
        actor = actor or events.customer_actor(customer.id)
        if decision is None:
            decision = await self.route(
                text, channel=channel, language=language, customer=customer, at=now
            )
        number = await next_ticket_number(session)
        ticket = Ticket(
            number=number,
            customer_id=customer.id,
            subject=subject_from(text),
            status="new",
            priority=decision.priority,
            department=decision.department,
            tier=decision.tier,
            channel=channel,
            chat_id=chat_id,
            language=language,
            tags=list(decision.tags),
            follow_up_of=follow_up_of,
            created_at=now,
            updated_at=now,
        )
        session.add(ticket)
        await session.flush()
        events.record(
            session,
            ticket,
            "created",
            actor=actor,
            to_value=number,
            at=now,
            reason=f"opened via {channel}"
            + (f", follow-up of #{follow_up_of}" if follow_up_of else ""),
        )
        events.record(
            session,
            ticket,
            "routed",
            actor=events.SYSTEM,
            to_value=decision.department,
            reason=f"{decision.reason()}; priority {decision.priority}, tier {decision.tier}",
            at=now,
        )
        policy = sla.policy_for(
            self.config,
            priority=ticket.priority,
            department=ticket.department,
            tier=ticket.tier,
            channel=channel,
            customer_tier=customer.tier,
        )
        ticket.sla_policy = policy.name if policy else None
        sla.start(ticket, policy, sla.calendar_for(self.config, ticket), now)
        if policy is not None:
            events.record(
                session,
                ticket,
                "sla",
                actor=events.SYSTEM,
                to_value=policy.name,
                at=now,
                reason=_due_text(ticket),
            )
        if decision.assignee:
            agent = self.config.find_agent(decision.assignee)
            await escalation.assign(
                session,
                ticket,
                agent.slack_id if agent else decision.assignee,
                actor=events.SYSTEM,
                reason=f"routing rule {decision.rule!r}",
                now=now,
            )
        elif self.config.assignment == "round_robin":
            await escalation.assign_round_robin(
                session, self.config, ticket, actor=events.SYSTEM, reason="round-robin", now=now
            )
        await session.flush()
        return ticket

    async def receive(
        self,
        session: AsyncSession,
        *,
        customer: Customer,
        channel: str,
        chat_id: str,
        text: str,
        language: str | None = None,
        platform_id: str | None = None,
        author_id: str | None = None,
        attachments: Sequence[dict[str, Any]] = (),
        now: datetime | None = None,
    ) -> Received:
        """File a customer message: on the open ticket; else reopen the last one when it was
        resolved within the reopen window; else a new ticket (linked to the last one, if any)."""
        now = now or utcnow()
        ticket = await current_ticket(session, customer.id)
        outcome: Outcome = "continued"
        previous: Ticket | None = None
        decision: RouteDecision | None = None
        if ticket is None:
            last = await last_ticket(session, customer.id)
            if last is not None and self.within_reopen_window(last, now):
                await self.reopen(
                    session,
                    last,
                    actor=events.customer_actor(customer.id),
                    reason="the customer wrote within the reopen window",
                    now=now,
                )
                ticket, outcome = last, "reopened"
            else:
                decision = await self.route(
                    text, channel=channel, language=language, customer=customer, at=now
                )
                ticket = await self.open_ticket(
                    session,
                    customer=customer,
                    channel=channel,
                    chat_id=chat_id,
                    text=text,
                    language=language,
                    decision=decision,
                    follow_up_of=last.number if last else None,
                    now=now,
                )
                if last is not None:
                    outcome, previous = "follow_up", last
                    events.record(
                        session,
                        last,
                        "follow_up",
                        actor=events.customer_actor(customer.id),
                        to_value=ticket.number,
                        at=now,
                        reason="the customer wrote after the reopen window",
                    )
                else:
                    outcome = "created"
        resumed = ticket.status == "pending"
        message = await self.add_message(
            session,
            ticket,
            direction="in",
            author_kind="customer",
            text=text,
            channel=channel,
            platform_id=platform_id,
            author_id=author_id,
            attachments=attachments,
            now=now,
        )
        return Received(ticket, message, outcome, previous, resumed, decision)

    def within_reopen_window(self, ticket: Ticket, now: datetime) -> bool:
        """Whether a customer message now would reopen this (resolved) ticket."""
        return (
            ticket.status == "resolved"
            and ticket.resolved_at is not None
            and now - ticket.resolved_at <= self.config.reopen_window
        )

    async def add_message(
        self,
        session: AsyncSession,
        ticket: Ticket,
        *,
        direction: str,
        author_kind: str,
        text: str,
        channel: str,
        platform_id: str | None = None,
        author_id: str | None = None,
        internal: bool = False,
        attachments: Sequence[dict[str, Any]] = (),
        now: datetime | None = None,
    ) -> Message:
        """Store a message and move the SLA clocks it affects.

        A customer message resumes a pending ticket and starts the next-response clock; only
        a customer-visible agent message (`author_kind="agent"`, `direction="out"`,
        `internal=False`) counts as a response. Bot and system messages change no clock.
        """
        now = now or utcnow()
        message = Message(
            ticket_id=ticket.id,
            direction=direction,
            author_kind=author_kind,
            author_id=author_id,
            text=text,
            channel=channel,
            platform_id=platform_id,
            internal=internal,
            attachments=list(attachments),
            edits=[],
            created_at=now,
        )
        session.add(message)
        if author_kind == "customer" and direction == "in":
            await self._customer_wrote(session, ticket, now)
        elif sla.counts_as_response(
            direction=direction, author_kind=author_kind, internal=internal
        ):
            await self._agent_replied(session, ticket, author_id, now)
        await session.flush()
        return message

    async def _customer_wrote(self, session: AsyncSession, ticket: Ticket, now: datetime) -> None:
        actor = events.customer_actor(ticket.customer_id)
        if ticket.status == "pending":
            sla.resume(ticket, sla.calendar_for(self.config, ticket), now)
            self._status(
                session, ticket, "open", actor=actor, reason="the customer replied", now=now
            )
        due = sla.on_customer_message(ticket, self.config, now)
        if due is not None:
            events.record(
                session,
                ticket,
                "sla_clock",
                actor=actor,
                from_value="next_response",
                to_value=due,
                reason="the customer is waiting for a reply",
                at=now,
            )

    async def _agent_replied(
        self, session: AsyncSession, ticket: Ticket, agent: str | None, now: datetime
    ) -> None:
        actor = events.agent_actor(agent or "unknown")
        if sla.on_agent_reply(ticket, now):
            events.record(
                session,
                ticket,
                "first_response",
                actor=actor,
                to_value=now,
                at=now,
                reason="first customer-visible agent reply",
            )
        if ticket.status == "new":
            self._status(session, ticket, "open", actor=actor, reason="an agent replied", now=now)

    async def edit_message(
        self,
        session: AsyncSession,
        *,
        channel: str,
        platform_id: str,
        text: str,
        now: datetime | None = None,
    ) -> Message | None:
        """Record an edit of a stored message (keeping the earlier text); None if unknown."""
        now = now or utcnow()
        message = await session.scalar(
            select(Message)
            .where(Message.channel == channel, Message.platform_id == platform_id)
            .order_by(Message.id.desc())
            .limit(1)
        )
        if message is None or message.text == text:
            return message
        until = now.astimezone(UTC).isoformat()
        message.edits = [*message.edits, {"text": message.text, "until": until}]
        message.text = text
        message.edited_at = now
        await session.flush()
        return message

    # -- agents' actions --------------------------------------------------------------------

    async def assign(
        self,
        session: AsyncSession,
        ticket: Ticket,
        agent: str | None,
        *,
        actor: str,
        reason: str = "",
        now: datetime | None = None,
        allowed: bool = False,
    ) -> str | None:
        """Assign by hand (Slack id or name from helpdesk.yaml; None unassigns).

        An id helpdesk.yaml does not list is refused unless `allowed` says the caller has
        checked it may work the ticket (a member of the department's Slack user group, or an
        admin, taking it in Slack)."""
        now = now or utcnow()
        self._not_final(ticket, "assign")
        slack_id = agent
        if agent is not None:
            found = self.config.find_agent(agent)
            if found is None and self.config.all_agents() and not allowed:
                raise TicketInputError(f"unknown agent {agent!r} (not in helpdesk.yaml)")
            slack_id = found.slack_id if found else agent
            if len(slack_id) > ASSIGNEE_MAX:
                raise TicketInputError(f"an agent id has at most {ASSIGNEE_MAX} characters")
        await escalation.assign(
            session, ticket, slack_id, actor=actor, reason=reason or "assigned by hand", now=now
        )
        if ticket.status == "new" and slack_id is not None:
            self._status(session, ticket, "open", actor=actor, reason="assigned", now=now)
        await session.flush()
        return slack_id

    async def assign_round_robin(
        self, session: AsyncSession, ticket: Ticket, *, actor: str, now: datetime | None = None
    ) -> str | None:
        """Assign the next available agent of the ticket's department (None: nobody free)."""
        now = now or utcnow()
        self._not_final(ticket, "assign")
        chosen = await escalation.assign_round_robin(
            session, self.config, ticket, actor=actor, reason="round-robin", now=now
        )
        await session.flush()
        return chosen

    async def escalate(
        self,
        session: AsyncSession,
        ticket: Ticket,
        *,
        reason: str,
        actor: str,
        tier: str | None = None,
        department: str | None = None,
        now: datetime | None = None,
    ) -> list[str]:
        """Up a tier (default: the next one) and/or to another department, with a reason."""
        changes = await escalation.escalate(
            session,
            self.config,
            ticket,
            tier=tier,
            department=department,
            reason=reason,
            actor=actor,
            now=now or utcnow(),
        )
        await session.flush()
        return changes

    async def set_priority(
        self,
        session: AsyncSession,
        ticket: Ticket,
        priority: str,
        *,
        actor: str,
        reason: str = "",
        now: datetime | None = None,
    ) -> None:
        if priority not in PRIORITIES:
            raise TicketInputError(
                f"unknown priority {priority!r} (use one of {', '.join(PRIORITIES)})"
            )
        await escalation.set_priority(
            session, ticket, priority, actor=actor, reason=reason, now=now or utcnow()
        )
        await session.flush()

    async def set_pending(
        self,
        session: AsyncSession,
        ticket: Ticket,
        *,
        actor: str,
        reason: str = "",
        now: datetime | None = None,
    ) -> None:
        """Waiting on the customer: the SLA clocks pause until they reply."""
        now = now or utcnow()
        self._check(ticket, "pending")
        sla.pause(ticket, sla.calendar_for(self.config, ticket), now)
        self._status(
            session,
            ticket,
            "pending",
            actor=actor,
            reason=reason or "waiting for the customer",
            now=now,
        )
        await session.flush()

    async def set_open(
        self,
        session: AsyncSession,
        ticket: Ticket,
        *,
        actor: str,
        reason: str = "",
        now: datetime | None = None,
    ) -> None:
        """Back from pending (or out of new) by hand; paused clocks resume."""
        now = now or utcnow()
        self._check(ticket, "open")
        if ticket.status == "resolved":
            raise TicketStateError(f"ticket #{ticket.number} is resolved; reopen it instead")
        sla.resume(ticket, sla.calendar_for(self.config, ticket), now)
        self._status(session, ticket, "open", actor=actor, reason=reason or "opened", now=now)
        await session.flush()

    async def resolve(
        self,
        session: AsyncSession,
        ticket: Ticket,
        *,
        actor: str,
        reason: str = "",
        now: datetime | None = None,
    ) -> bool:
        """Resolve; returns whether to ask the customer for a CSAT rating."""
        now = now or utcnow()
        self._check(ticket, "resolved")
        sla.pause(ticket, sla.calendar_for(self.config, ticket), now)
        ticket.resolved_at = now
        self._status(session, ticket, "resolved", actor=actor, reason=reason, now=now)
        await session.flush()
        return self.config.csat.enabled and await csat_of(session, ticket.id) is None

    async def reopen(
        self,
        session: AsyncSession,
        ticket: Ticket,
        *,
        actor: str,
        reason: str = "",
        now: datetime | None = None,
    ) -> None:
        """Resolved -> open: paused clocks resume; counted in `reopen_count`."""
        now = now or utcnow()
        if ticket.status != "resolved":
            raise TicketStateError(
                f"ticket #{ticket.number} is {ticket.status}; only a resolved ticket can be "
                "reopened"
                + (
                    " (a closed one is final: a new message opens a follow-up)"
                    if ticket.status == "closed"
                    else ""
                )
            )
        ticket.resolved_at = None
        ticket.reopened_at = now
        ticket.reopen_count = (ticket.reopen_count or 0) + 1
        sla.resume(ticket, sla.calendar_for(self.config, ticket), now)
        self._status(session, ticket, "open", actor=actor, reason=reason or "reopened", now=now)
        events.record(
            session,
            ticket,
            "reopened",
            actor=actor,
            to_value=ticket.reopen_count,
            reason=reason or "reopened",
            at=now,
        )
        await session.flush()

    async def close(
        self,
        session: AsyncSession,
        ticket: Ticket,
        *,
        actor: str,
        reason: str = "",
        now: datetime | None = None,
    ) -> None:
        """Resolved -> closed (final); the SLA tick also closes tickets past the window."""
        now = now or utcnow()
        self._check(ticket, "closed")
        ticket.closed_at = now
        self._status(session, ticket, "closed", actor=actor, reason=reason, now=now)
        await session.flush()

    # -- CSAT -------------------------------------------------------------------------------

    async def record_csat(
        self,
        session: AsyncSession,
        number: int,
        score: int,
        *,
        comment: str | None = None,
        customer_id: int | None = None,
        now: datetime | None = None,
    ) -> CsatRating:
        """Store the customer's 1-5 rating of a resolved ticket (a new rating replaces one)."""
        now = now or utcnow()
        if not isinstance(score, int) or not 1 <= score <= 5:
            raise TicketInputError("a rating is a whole number from 1 to 5")
        ticket = await get_ticket(session, number)
        if customer_id is not None and ticket.customer_id != customer_id:
            raise TicketInputError(f"ticket #{number} belongs to another customer")
        if ticket.status not in ("resolved", "closed"):
            raise TicketStateError(f"ticket #{number} is {ticket.status}, not resolved yet")
        rating = await csat_of(session, ticket.id)
        before = rating.score if rating else None
        if rating is None:
            rating = CsatRating(
                ticket_id=ticket.id,
                customer_id=ticket.customer_id,
                score=score,
                comment=comment,
                created_at=now,
                updated_at=now,
            )
            session.add(rating)
        else:
            rating.score = score
            rating.updated_at = now
            if comment is not None:
                rating.comment = comment
        events.record(
            session,
            ticket,
            "csat",
            actor=events.customer_actor(ticket.customer_id),
            from_value=before,
            to_value=score,
            reason=comment or "",
            at=now,
        )
        await session.flush()
        return rating

    async def add_csat_comment(
        self, session: AsyncSession, number: int, comment: str, *, now: datetime | None = None
    ) -> CsatRating:
        """Attach the optional comment that follows a rating."""
        ticket = await get_ticket(session, number)
        rating = await csat_of(session, ticket.id)
        if rating is None:
            raise TicketStateError(f"ticket #{number} has no rating to comment on")
        rating.comment = comment.strip()[:2000]
        rating.updated_at = now or utcnow()
        events.record(
            session,
            ticket,
            "csat_comment",
            actor=events.customer_actor(ticket.customer_id),
            to_value=rating.score,
            reason=rating.comment,
            at=rating.updated_at,
        )
        await session.flush()
        return rating

    async def set_summary(self, session: AsyncSession, ticket: Ticket, summary: str) -> None:
        """Store the ticket's summary (written for agents, e.g. by the drafter at hand-off)."""
        ticket.summary = summary.strip()
        await session.flush()

    # -- agents, SLA tick -------------------------------------------------------------------

    async def sync_agents(self, session: AsyncSession) -> int:
        """Make the agents table match helpdesk.yaml."""
        return await agent_store.sync_agents(session, self.config)

    async def set_available(self, session: AsyncSession, agent: str, available: bool) -> Agent:
        """An agent comes back (True) or goes away (False) for round-robin."""
        return await agent_store.set_available(session, self.config, agent, available)

    async def tick(self, session: AsyncSession, now: datetime | None = None) -> list[sla.SlaEvent]:
        """Fire due SLA warnings and breaches (once each) and close expired resolved tickets."""
        now = now or utcnow()
        fired = await sla.tick(session, self.config, now)
        await sla.close_expired(session, self.config, now)
        await session.flush()
        return fired

    def sla_view(self, ticket: Ticket, now: datetime | None = None) -> dict[str, Any]:
        """SLA policy, calendar and each clock's due time and state, for display."""
        return sla.view(ticket, self.config, now)

    # -- internals --------------------------------------------------------------------------

    def _check(self, ticket: Ticket, target: str) -> None:
        if target == ticket.status:
            raise TicketStateError(f"ticket #{ticket.number} is already {target}")
        if target not in TRANSITIONS.get(ticket.status, ()):
            raise TicketStateError(
                f"ticket #{ticket.number} is {ticket.status} and cannot become {target}"
            )

    def _not_final(self, ticket: Ticket, what: str) -> None:
        if ticket.status == "closed":
            raise TicketStateError(f"ticket #{ticket.number} is closed; cannot {what} it")

    def _status(
        self,
        session: AsyncSession,
        ticket: Ticket,
        status: str,
        *,
        actor: str,
        reason: str,
        now: datetime,
    ) -> None:
        events.record(
            session,
            ticket,
            "status",
            actor=actor,
            from_value=ticket.status,
            to_value=status,
            reason=reason,
            at=now,
        )
        ticket.status = status


def _due_text(ticket: Ticket) -> str:
    parts = []
    for clock in sla.CLOCKS:
        due = getattr(ticket, f"{clock}_due")
        if due is not None:
            parts.append(f"{sla.CLOCK_NAMES[clock]} due {due:%Y-%m-%d %H:%M} UTC")
    return ", ".join(parts) or "no targets"


# -- the first version's functions, on the built-in configuration ---------------------------

_DEFAULT_DESK: Helpdesk | None = None


def _default_desk() -> Helpdesk:
    global _DEFAULT_DESK
    if _DEFAULT_DESK is None:
        _DEFAULT_DESK = Helpdesk(default_config())
    return _DEFAULT_DESK


async def open_ticket(
    session: AsyncSession,
    *,
    customer: Customer,
    channel: str,
    chat_id: str,
    text: str,
    language: str | None = None,
) -> Ticket:
    """Open a ticket under the built-in configuration (use `Helpdesk.open_ticket` for yours)."""
    return await _default_desk().open_ticket(
        session,
        customer=customer,
        channel=channel,
        chat_id=chat_id,
        text=text,
        language=language,
    )


async def add_message(
    session: AsyncSession,
    ticket: Ticket,
    *,
    direction: str,
    author_kind: str,
    text: str,
    channel: str,
    platform_id: str | None = None,
    author_id: str | None = None,
    internal: bool = False,
) -> Message:
    """Store a message under the built-in configuration (see `Helpdesk.add_message`)."""
    return await _default_desk().add_message(
        session,
        ticket,
        direction=direction,
        author_kind=author_kind,
        text=text,
        channel=channel,
        platform_id=platform_id,
        author_id=author_id,
        internal=internal,
    )
