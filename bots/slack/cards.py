"""The ticket card's refresh: one `card_update` message for the outbox, from any process."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from bots.messages import ChatRef, OutboundMessage
from bots.slack import blocks
from bots.slack.models import thread_for_ticket
from bots.slack.parse import CHANNEL
from bots.views import ticket_view
from tickets.models import Ticket


async def card_update(session: AsyncSession, ticket: Ticket) -> OutboundMessage | None:
    """The ticket's card as it is now, to replace the posted one (`chat.update`); None when
    the ticket has no card in Slack."""
    place = await thread_for_ticket(session, ticket.number)
    if place is None:
        return None
    view = await ticket_view(session, ticket)
    return OutboundMessage(
        chat=ChatRef(CHANNEL, place.channel),
        text=blocks.card_text(view),
        kind="card_update",
        ticket_number=ticket.number,
        meta={"ticket": view, "card": {"channel": place.channel, "ts": place.card_ts}},
    )
