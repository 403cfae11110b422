"""The conversation engine: one customer message in -> state changes and messages to send.

Channel-agnostic: adapters hand it `InboundMessage`s; it answers with `OutboundMessage`s that
the inbox worker writes to the outbox in the same transaction as the state they announce.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence

from sqlalchemy.ext.asyncio import AsyncSession

from bots.messages import InboundMessage, OutboundMessage
from bots.pipeline.workers import Reply
from bots.texts import say
from knowledge.language import detect
from tickets import service as tickets

log = logging.getLogger(__name__)


class Conversation:
    """Decides what happens with each customer message."""

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        customer = await tickets.find_or_create_customer(
            session,
            channel=message.chat.channel,
            external_id=message.user_id,
            chat_id=message.chat.chat_id,
            name=message.user_name,
            language=message.language_hint,
        )
        language = message.language_hint or customer.language or detect(message.text)
        if message.kind == "unsupported":
            return [(OutboundMessage(chat=message.chat, text=say("unsupported", language)), None)]

        ticket = await tickets.current_ticket(session, customer.id)
        created = ticket is None
        if ticket is None:
            ticket = await tickets.open_ticket(
                session,
                customer=customer,
                channel=message.chat.channel,
                chat_id=message.chat.chat_id,
                text=message.text,
                language=language,
            )
        await tickets.add_message(
            session,
            ticket,
            direction="in",
            author_kind="customer",
            author_id=message.user_id,
            text=message.text,
            channel=message.chat.channel,
            platform_id=message.platform_id,
        )
        key = "ticket_opened" if created else "ticket_continued"
        text = say(key, language, number=ticket.number)
        await tickets.add_message(
            session, ticket, direction="out", author_kind="bot", text=text, channel=ticket.channel
        )
        log.info("ticket #%s: customer message %s", ticket.number, message.platform_id)
        reply = OutboundMessage(chat=message.chat, text=text, ticket_number=ticket.number)
        return [(reply, ticket.id)]
