"""Ticket operations on a caller's session; the caller owns the transaction and commits once."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import selectinload

from tickets.errors import TicketNotFound
from tickets.models import Counter, Customer, CustomerIdentity, Message, Ticket

OPEN_STATUSES = ("new", "open", "pending")
SUBJECT_MAX = 80


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


async def open_ticket(
    session: AsyncSession,
    *,
    customer: Customer,
    channel: str,
    chat_id: str,
    text: str,
    language: str | None = None,
) -> Ticket:
    number = await next_ticket_number(session)
    ticket = Ticket(
        number=number,
        customer_id=customer.id,
        subject=subject_from(text),
        status="new",
        channel=channel,
        chat_id=chat_id,
        language=language,
    )
    session.add(ticket)
    await session.flush()
    return ticket


async def current_ticket(session: AsyncSession, customer_id: int) -> Ticket | None:
    """The customer's most recent ticket that is still open, if any."""
    result: Ticket | None = await session.scalar(
        select(Ticket)
        .where(Ticket.customer_id == customer_id, Ticket.status.in_(OPEN_STATUSES))
        .order_by(Ticket.id.desc())
        .limit(1)
    )
    return result


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
    message = Message(
        ticket_id=ticket.id,
        direction=direction,
        author_kind=author_kind,
        author_id=author_id,
        text=text,
        channel=channel,
        platform_id=platform_id,
        internal=internal,
    )
    session.add(message)
    await session.flush()
    return message


async def get_ticket(session: AsyncSession, number: int) -> Ticket:
    ticket = await session.scalar(
        select(Ticket).where(Ticket.number == number).options(selectinload(Ticket.messages))
    )
    if ticket is None:
        raise TicketNotFound(number)
    return ticket


async def list_tickets(
    session: AsyncSession, *, status: str | None = None, limit: int = 200
) -> Sequence[Ticket]:
    query = select(Ticket).order_by(Ticket.number.desc()).limit(limit)
    if status:
        query = query.where(Ticket.status == status)
    return (await session.scalars(query)).all()
