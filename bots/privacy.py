"""A customer's data across every package: export it (GDPR art. 15) and erase it (art. 17).

Erasure removes what identifies or was written by the customer — messages and their
attachment metadata, channel identities, raw inbox/outbox payloads of their chats, the
knowledge base's log of their questions and feedback, AI drafts of their tickets, KB article
drafts saved from their tickets (and those articles' vectors) — and keeps anonymous ticket
shells (numbers, statuses, timestamps) so the helpdesk's KPIs stay true.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, or_, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.errors import InputError, NotFoundError
from bots.pipeline.models import InboxRow, OutboxRow
from bots.state import ConversationState
from drafting.models import Draft
from knowledge.models import AnswerLog, Article, Feedback
from tickets.models import (
    CsatRating,
    Customer,
    CustomerIdentity,
    Message,
    Ticket,
    TicketEvent,
)
from tickets.service import MAX_NUMBER

ERASED = "[erased]"
PURGED_PAYLOAD = '{"erased": true}'
ArticleRemover = Callable[[Sequence[str]], Awaitable[None]]


def ticket_tag(number: int) -> str:
    """The tag an article saved from a ticket carries, so erasure can find it."""
    return f"ticket:{number}"


async def resolve_customer(session: AsyncSession, ref: str) -> Customer:
    """A customer by numeric id or by `channel:external_id` (e.g. `telegram:12345`)."""
    ref = ref.strip()
    customer: Customer | None
    if ref.isdigit():
        number = int(ref)
        customer = await session.get(Customer, number) if number <= MAX_NUMBER else None
    elif ":" in ref:
        channel, _, external = ref.partition(":")
        customer = await session.scalar(
            select(Customer)
            .join(CustomerIdentity)
            .where(CustomerIdentity.channel == channel, CustomerIdentity.external_id == external)
        )
    else:
        raise InputError(f"{ref!r} is neither a customer id nor channel:user (telegram:12345)")
    if customer is None:
        raise NotFoundError(f"customer {ref} does not exist")
    return customer


@dataclass
class Footprint:
    """Where a customer's data lives: ids and keys used by export, erase and verification."""

    customer_id: int
    ticket_ids: list[int] = field(default_factory=list)
    ticket_numbers: list[int] = field(default_factory=list)
    chat_keys: list[str] = field(default_factory=list)
    chats: list[tuple[str, str]] = field(default_factory=list)

    @property
    def ref(self) -> str:
        return str(self.customer_id)


async def footprint(session: AsyncSession, customer: Customer) -> Footprint:
    rows = (
        await session.execute(
            select(Ticket.id, Ticket.number).where(Ticket.customer_id == customer.id)
        )
    ).all()
    identities = (
        await session.scalars(
            select(CustomerIdentity).where(CustomerIdentity.customer_id == customer.id)
        )
    ).all()
    states = (
        await session.scalars(
            select(ConversationState).where(ConversationState.customer_id == customer.id)
        )
    ).all()
    chats = {(i.channel, i.chat_id or i.external_id) for i in identities}
    chats |= {(s.channel, s.chat_id) for s in states}
    return Footprint(
        customer_id=customer.id,
        ticket_ids=[r.id for r in rows],
        ticket_numbers=[r.number for r in rows],
        chats=sorted(chats),
        chat_keys=sorted(f"{channel}:{chat}" for channel, chat in chats),
    )


def _chat_filter(column: Any, keys: Sequence[str]) -> Any:
    """Rows of these chats, threads included (`telegram:42` and `telegram:42:...`)."""
    if not keys:
        return column.is_(None) & column.is_not(None)  # matches nothing
    return or_(*(column == k for k in keys), *(column.like(f"{k}:%") for k in keys))


async def export(session: AsyncSession, customer: Customer) -> dict[str, Any]:
    """Everything relaydesk holds about one customer, as JSON-ready data."""
    where = await footprint(session, customer)
    tickets = (
        await session.scalars(
            select(Ticket).where(Ticket.customer_id == customer.id).order_by(Ticket.id)
        )
    ).all()
    out_tickets = []
    for ticket in tickets:
        messages = (
            await session.scalars(
                select(Message).where(Message.ticket_id == ticket.id).order_by(Message.id)
            )
        ).all()
        events = (
            await session.scalars(
                select(TicketEvent)
                .where(TicketEvent.ticket_id == ticket.id)
                .order_by(TicketEvent.id)
            )
        ).all()
        rating = await session.scalar(select(CsatRating).where(CsatRating.ticket_id == ticket.id))
        out_tickets.append(
            {
                "number": ticket.number,
                "subject": ticket.subject,
                "status": ticket.status,
                "department": ticket.department,
                "channel": ticket.channel,
                "language": ticket.language,
                "created_at": ticket.created_at.isoformat(),
                "messages": [
                    {
                        "direction": m.direction,
                        "author": m.author_kind,
                        "text": m.text,
                        "internal": m.internal,
                        "attachments": m.attachments,
                        "edits": m.edits,
                        "created_at": m.created_at.isoformat(),
                    }
                    for m in messages
                    if not m.internal
                ],
                "events": [
                    {"at": e.at.isoformat(), "kind": e.kind, "to": e.to_value} for e in events
                ],
                "csat": ({"score": rating.score, "comment": rating.comment} if rating else None),
            }
        )
    answers = (
        await session.scalars(select(AnswerLog).where(AnswerLog.customer_ref == where.ref))
    ).all()
    feedback = (
        await session.scalars(select(Feedback).where(Feedback.customer_ref == where.ref))
    ).all()
    return {
        "customer": {
            "id": customer.id,
            "name": customer.name,
            "language": customer.language,
            "tier": customer.tier,
            "tags": customer.tags,
            "created_at": customer.created_at.isoformat(),
            "identities": [
                {"channel": i.channel, "user": i.external_id, "chat": i.chat_id}
                for i in customer.identities
            ],
        },
        "tickets": out_tickets,
        "knowledge_base_questions": [
            {
                "question": a.question,
                "language": a.language,
                "answered": a.answered,
                "article": a.slug,
                "at": a.created_at.isoformat(),
            }
            for a in answers
        ],
        "feedback": [
            {"article": f.slug, "helpful": f.helpful, "at": f.created_at.isoformat()}
            for f in feedback
        ],
    }


@dataclass
class Erasure:
    customer_id: int
    counts: dict[str, int]
    leftovers: list[str]


async def erase(
    session: AsyncSession, customer: Customer, *, remove_articles: ArticleRemover | None = None
) -> Erasure:
    """Erase one customer's personal data in the caller's transaction (the caller commits),
    then verify that nothing is left. `remove_articles` drops derived articles from the index."""
    where = await footprint(session, customer)
    counts: dict[str, int] = {}

    async def run(name: str, statement: Any) -> None:
        result = await session.execute(statement)
        counts[name] = int(getattr(result, "rowcount", 0) or 0)

    tickets_filter = Ticket.id.in_(where.ticket_ids)
    await run("messages", delete(Message).where(Message.ticket_id.in_(where.ticket_ids)))
    await run("drafts", delete(Draft).where(Draft.ticket_id.in_(where.ticket_ids)))
    await run(
        "csat_comments",
        update(CsatRating).where(CsatRating.ticket_id.in_(where.ticket_ids)).values(comment=None),
    )
    # The event log is append-only for the helpdesk; erasure is the one exception, and it
    # only blanks the free text a customer may have written (rating comments).
    await run(
        "event_texts",
        update(TicketEvent)
        .where(TicketEvent.ticket_id.in_(where.ticket_ids), TicketEvent.kind == "csat_comment")
        .values(reason=""),
    )
    await run(
        "tickets",
        update(Ticket).where(tickets_filter).values(subject=ERASED, summary="", chat_id=""),
    )
    await run(
        "inbox",
        update(InboxRow)
        .where(_chat_filter(InboxRow.chat_key, where.chat_keys))
        .values(payload=PURGED_PAYLOAD),
    )
    await run(
        "outbox",
        update(OutboxRow)
        .where(
            or_(
                _chat_filter(OutboxRow.chat_key, where.chat_keys),
                OutboxRow.ticket_id.in_(where.ticket_ids),
            )
        )
        .values(payload=PURGED_PAYLOAD),
    )
    await run(
        "kb_questions",
        update(AnswerLog).where(AnswerLog.customer_ref == where.ref).values(question=ERASED),
    )
    await run(
        "kb_feedback",
        update(Feedback).where(Feedback.customer_ref == where.ref).values(question=ERASED),
    )
    derived = await _derived_articles(session, where.ticket_numbers)
    if derived:
        slugs = [a.slug for a in derived]
        await run("kb_articles", delete(Article).where(Article.slug.in_(slugs)))
        if remove_articles is not None:
            await remove_articles(slugs)
    await run(
        "conversations",
        delete(ConversationState).where(ConversationState.customer_id == customer.id),
    )
    await run(
        "identities",
        delete(CustomerIdentity).where(CustomerIdentity.customer_id == customer.id),
    )
    customer.name = ""
    customer.tags = []
    customer.language = None
    await session.flush()
    return Erasure(customer.id, counts, await verify(session, where))


async def _derived_articles(session: AsyncSession, numbers: Sequence[int]) -> list[Article]:
    if not numbers:
        return []
    wanted = {ticket_tag(n) for n in numbers}
    articles = (await session.scalars(select(Article))).all()
    return [a for a in articles if wanted.intersection(a.tags or [])]


async def verify(session: AsyncSession, where: Footprint) -> list[str]:
    """What is still stored about the customer; empty when the erasure is complete."""
    left: list[str] = []

    async def check(name: str, statement: Any) -> None:
        if (await session.execute(statement.limit(1))).first() is not None:
            left.append(name)

    await check("messages", select(Message.id).where(Message.ticket_id.in_(where.ticket_ids)))
    await check("drafts", select(Draft.id).where(Draft.ticket_id.in_(where.ticket_ids)))
    await check(
        "ticket texts",
        select(Ticket.id).where(Ticket.id.in_(where.ticket_ids), Ticket.subject != ERASED),
    )
    await check(
        "identities",
        select(CustomerIdentity.id).where(CustomerIdentity.customer_id == where.customer_id),
    )
    await check(
        "inbox payloads",
        select(InboxRow.id).where(
            _chat_filter(InboxRow.chat_key, where.chat_keys), InboxRow.payload != PURGED_PAYLOAD
        ),
    )
    await check(
        "outbox payloads",
        select(OutboxRow.id).where(
            or_(
                _chat_filter(OutboxRow.chat_key, where.chat_keys),
                OutboxRow.ticket_id.in_(where.ticket_ids),
            ),
            OutboxRow.payload != PURGED_PAYLOAD,
        ),
    )
    await check(
        "knowledge base questions",
        select(AnswerLog.id).where(
            AnswerLog.customer_ref == where.ref, AnswerLog.question != ERASED
        ),
    )
    await check(
        "feedback questions",
        select(Feedback.id).where(Feedback.customer_ref == where.ref, Feedback.question != ERASED),
    )
    await check(
        "conversation state",
        select(ConversationState.id).where(ConversationState.customer_id == where.customer_id),
    )
    if await _derived_articles(session, where.ticket_numbers):
        left.append("articles saved from their tickets")
    return left
