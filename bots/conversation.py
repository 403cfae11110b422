"""The conversation engine: one customer message in -> state changes and messages to send.

Channel-agnostic: adapters hand it `InboundMessage`s; it answers with `OutboundMessage`s that
the inbox worker writes to the outbox in the same transaction as the state they announce.
The order of decisions for a text: an open ticket takes the message; else small talk
(greeting, thanks, "I want a person"); else the knowledge base answers when it is sure; else
a ticket is opened and handed to people.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots import intents, metrics
from bots.messages import Button, InboundMessage, OutboundMessage
from bots.pipeline.workers import Reply
from bots.state import ConversationState, load_state
from bots.texts import say, status_name
from knowledge.language import SURE, detect
from tickets import events
from tickets import service as tickets
from tickets.errors import TicketError
from tickets.models import Customer, Message, Ticket, utcnow
from tickets.service import Helpdesk

log = logging.getLogger(__name__)

SUPPORTED_LANGUAGES = ("en", "pl")


@dataclass(frozen=True)
class KbOutcome:
    """What the engine needs of a knowledge base decision."""

    answered: bool
    confidence: float
    answer_id: str | None = None
    slug: str | None = None
    title: str = ""
    passage: str = ""
    article_language: str | None = None
    reason: str = ""


class KnowledgePort(Protocol):
    """The knowledge base as the engine sees it (adapted in `bots.knowledge_glue`)."""

    async def decide(
        self, session: AsyncSession, text: str, language: str, *, customer_ref: str
    ) -> KbOutcome:
        """Answer or hand off; log the decision; never raise for an unavailable index."""

    async def feedback(self, session: AsyncSession, answer_id: str, *, helpful: bool) -> str | None:
        """Record 👍/👎 for an answer; return the question it answered, if known."""


@dataclass(frozen=True)
class Handoff:
    """Context of a hand-off, for hooks that tell agents (Slack card, draft request)."""

    ticket: Ticket
    customer: Customer
    question: str
    language: str
    reason: str
    bot_tried: tuple[str, ...] = ()


HandoffHook = Callable[[AsyncSession, Handoff], Awaitable[Sequence[Reply]]]
FollowUpHook = Callable[[AsyncSession, Ticket, InboundMessage], Awaitable[Sequence[Reply]]]


@dataclass
class Conversation:
    """Decides what happens with each customer message."""

    helpdesk: Helpdesk
    knowledge: KnowledgePort | None = None
    on_handoff: list[HandoffHook] = field(default_factory=list)
    on_follow_up: list[FollowUpHook] = field(default_factory=list)

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        customer = await tickets.find_or_create_customer(
            session,
            channel=message.chat.channel,
            external_id=message.user_id,
            chat_id=message.chat.chat_id,
            name=message.user_name,
            language=_supported(message.language_hint),
        )
        state = await load_state(
            session,
            channel=message.chat.channel,
            chat_id=message.chat.chat_id,
            customer_id=customer.id,
        )
        language = self._language(state, customer, message)
        if message.kind == "command":
            return await self._command(session, state, customer, message, language)
        if message.kind == "action":
            return await self._action(session, state, customer, message, language)
        if message.kind == "edit":
            return await self._edit(session, customer, message)
        if message.kind == "unsupported":
            return [self._text(message, say("unsupported", language))]
        return await self._text_message(session, state, customer, message, language)

    # -- language -----------------------------------------------------------------------

    @staticmethod
    def _language(state: ConversationState, customer: Customer, message: InboundMessage) -> str:
        if state.language_pinned and state.language:
            return state.language
        sure = weak = ""
        if message.text and message.kind in ("text", "edit"):
            # a short text's weak evidence ("modify purchase", "mam problem") yields to the
            # language the conversation already has; only a text that is clear overrides it
            sure = detect(message.text, default="", margin=SURE)
            weak = sure or detect(message.text, default="")
        language = (
            sure
            or _supported(message.language_hint)
            or state.language
            or _supported(customer.language)
            or weak
            or "en"
        )
        state.language = language
        return language

    # -- commands -----------------------------------------------------------------------

    async def _command(
        self,
        session: AsyncSession,
        state: ConversationState,
        customer: Customer,
        message: InboundMessage,
        language: str,
    ) -> Sequence[Reply]:
        command = (message.command or "").lower()
        if command == "lang":
            choice = message.command_args.strip().lower()
            if choice not in SUPPORTED_LANGUAGES:
                return [self._text(message, say("lang_usage", language))]
            state.language, state.language_pinned = choice, True
            customer.language = choice
            return [self._text(message, say("lang_set", choice))]
        if command == "start":
            name = f", {customer.name.split()[0]}" if customer.name.strip() else ""
            if not state.language_pinned:
                language = _supported(message.language_hint) or language
                state.language = language
            return [self._text(message, say("start", language, name=name))]
        if command == "help":
            return [self._text(message, say("help", language))]
        if command == "new":
            if message.command_args.strip():
                state.new_requested = True
                follow = InboundMessage(
                    chat=message.chat,
                    user_id=message.user_id,
                    user_name=message.user_name,
                    platform_id=message.platform_id,
                    text=message.command_args.strip(),
                    language_hint=message.language_hint,
                    meta=message.meta,
                )
                return await self._text_message(session, state, customer, follow, language)
            state.new_requested = True
            return [self._text(message, say("new_requested", language))]
        if command == "status":
            return [self._text(message, await self._status(session, customer, language))]
        if command == "human":
            question = message.command_args.strip() or state.last_question or ""
            return await self._handoff(
                session,
                state,
                customer,
                message,
                language,
                question=question,
                reason="the customer asked for a person",
            )
        return [self._text(message, say("unknown_command", language))]

    async def _status(self, session: AsyncSession, customer: Customer, language: str) -> str:
        open_tickets = [
            t
            for t in await tickets.customer_history(session, customer.id)
            if t.status in tickets.OPEN_STATUSES
        ]
        if not open_tickets:
            return say("status_none", language)
        lines = [say("status_header", language)]
        for ticket in open_tickets:
            lines.append(
                say(
                    "status_line",
                    language,
                    number=ticket.number,
                    status=status_name(ticket.status, language),
                    subject=ticket.subject,
                )
            )
        return "\n".join(lines)

    # -- buttons ------------------------------------------------------------------------

    async def _action(
        self,
        session: AsyncSession,
        state: ConversationState,
        customer: Customer,
        message: InboundMessage,
        language: str,
    ) -> Sequence[Reply]:
        action = message.action or ""
        ack = OutboundMessage(
            chat=message.chat,
            kind="action_ack",
            text=say("feedback_thanks", language),
            meta=dict(message.meta),
        )
        if action in {"kb_helped", "kb_human"} and self.knowledge is not None:
            helpful = action == "kb_helped"
            question = await self.knowledge.feedback(session, message.action_value, helpful=helpful)
            if helpful:
                return [(ack, None)]
            replies: list[Reply] = [(ack, None)]
            replies += await self._handoff(
                session,
                state,
                customer,
                message,
                language,
                question=question or state.last_question or "",
                reason="the knowledge base answer did not help",
                bot_tried=(f"answered with an article ({message.action_value})",),
            )
            return replies
        if action == "csat":
            number_text, _, rating_text = message.action_value.partition(":")
            try:
                number, rating = int(number_text), int(rating_text)
            except ValueError:
                log.info("csat button with a malformed value ignored")
                return [(ack, None)]
            try:
                await self.helpdesk.record_csat(session, number, rating, customer_id=customer.id)
            except TicketError as exc:
                log.info("csat for #%s not recorded: %s", number, type(exc).__name__)
                return [(ack, None)]
            thanks = OutboundMessage(
                chat=message.chat,
                kind="action_ack",
                text=say("csat_thanks", language),
                meta=dict(message.meta),
            )
            return [(thanks, None), self._text(message, say("csat_thanks", language))]
        log.info("button action %r ignored", action)
        return [(ack, None)]

    # -- edits --------------------------------------------------------------------------

    async def _edit(
        self, session: AsyncSession, customer: Customer, message: InboundMessage
    ) -> Sequence[Reply]:
        if message.ref is None:
            return ()
        edited = await self.helpdesk.edit_message(
            session, channel=message.chat.channel, platform_id=message.ref, text=message.text
        )
        if edited is None:
            log.info("edit of a message we do not keep (%s) ignored", message.platform_id)
            return ()
        ticket = await session.get(Ticket, edited.ticket_id)
        if ticket is None or ticket.customer_id != customer.id:
            return ()
        replies: list[Reply] = []
        for hook in self.on_follow_up:
            replies += await hook(session, ticket, message)
        return replies

    # -- texts --------------------------------------------------------------------------

    async def _text_message(
        self,
        session: AsyncSession,
        state: ConversationState,
        customer: Customer,
        message: InboundMessage,
        language: str,
    ) -> Sequence[Reply]:
        text = message.text.strip()
        if not state.new_requested and await self._has_live_ticket(session, customer):
            return await self._follow_up(session, customer, message, language)
        if not message.attachments:
            if intents.wants_a_person(text):
                return await self._handoff(
                    session,
                    state,
                    customer,
                    message,
                    language,
                    question=state.last_question or text,
                    reason="the customer asked for a person",
                    extra_texts=(text,) if state.last_question else (),
                )
            if intents.is_greeting(text):
                return [self._text(message, say("greeting", language))]
            if intents.is_thanks(text):
                return [self._text(message, say("thanks", language))]
            if intents.is_acknowledgement(text):
                return [self._text(message, say("acknowledged", language))]
        tried: tuple[str, ...] = ()
        reason = "no knowledge base is configured"
        if self.knowledge is not None and text and not message.attachments:
            outcome = await self.knowledge.decide(
                session, text, language, customer_ref=str(customer.id)
            )
            metrics.KB_DECISIONS.labels(decision="answer" if outcome.answered else "handoff").inc()
            metrics.KB_CONFIDENCE.observe(outcome.confidence)
            state.last_question = text
            if outcome.answered:
                state.last_answer_id = outcome.answer_id
                state.new_requested = False
                return [self._kb_answer(message, outcome, language)]
            reason = outcome.reason or "the knowledge base was not sure"
            if outcome.slug:
                tried = (
                    f"searched the knowledge base: best match “{outcome.title or outcome.slug}”"
                    f" at confidence {outcome.confidence:.2f}, below the threshold",
                )
        elif message.attachments:
            reason = "the customer sent a file"
        return await self._handoff(
            session,
            state,
            customer,
            message,
            language,
            question=text,
            reason=reason,
            bot_tried=tried,
        )

    def _kb_answer(self, message: InboundMessage, outcome: KbOutcome, language: str) -> Reply:
        key = (
            "kb_answer"
            if outcome.article_language in (None, language)
            else "kb_answer_other_language"
        )
        answer_id = outcome.answer_id or ""
        buttons = (
            Button(say("button_helped", language), "kb_helped", answer_id),
            Button(say("button_human", language), "kb_human", answer_id),
        )
        reply = OutboundMessage(
            chat=message.chat,
            text=say(key, language, passage=outcome.passage.strip(), title=outcome.title),
            buttons=buttons,
            meta={"kb_slug": outcome.slug, "confidence": round(outcome.confidence, 4)},
        )
        return (reply, None)

    async def _has_live_ticket(self, session: AsyncSession, customer: Customer) -> bool:
        """An open ticket, or a resolved one the customer may still reopen by writing."""
        if await tickets.current_ticket(session, customer.id) is not None:
            return True
        last = await tickets.last_ticket(session, customer.id)
        return last is not None and self.helpdesk.within_reopen_window(last, utcnow())

    async def _follow_up(
        self,
        session: AsyncSession,
        customer: Customer,
        message: InboundMessage,
        language: str,
    ) -> Sequence[Reply]:
        """A message on a live ticket: store it, tell agents, acknowledge once per turn."""
        current = await tickets.current_ticket(session, customer.id)
        previous = await _last_message(session, current.id) if current is not None else None
        received = await self._receive(session, customer, message, language, message.text)
        ticket = received.ticket
        replies: list[Reply] = []
        for hook in self.on_follow_up:
            replies += await hook(session, ticket, message)
        if received.outcome == "reopened":
            text = say("ticket_reopened", language, number=ticket.number)
        elif intents.wants_a_person(message.text):
            text = say("handoff", language, number=ticket.number)
        elif message.attachments:
            text = say("attachment_received", language, number=ticket.number)
        elif not _acknowledged(previous, ticket.number):
            text = say("ticket_continued", language, number=ticket.number)
        else:
            return replies  # already acknowledged this turn; agents see it in the thread
        await self._store_bot_message(session, ticket, text)
        replies.append((self._reply(message, text, ticket), ticket.id))
        return replies

    async def _receive(
        self,
        session: AsyncSession,
        customer: Customer,
        message: InboundMessage,
        language: str,
        text: str,
    ) -> tickets.Received:
        return await self.helpdesk.receive(
            session,
            customer=customer,
            channel=message.chat.channel,
            chat_id=message.chat.chat_id,
            text=text,
            language=language,
            platform_id=str(message.meta.get("message_ref") or message.platform_id),
            author_id=message.user_id,
            attachments=_attachments(message),
        )

    async def _handoff(
        self,
        session: AsyncSession,
        state: ConversationState,
        customer: Customer,
        message: InboundMessage,
        language: str,
        *,
        question: str,
        reason: str,
        bot_tried: tuple[str, ...] = (),
        extra_texts: tuple[str, ...] = (),
    ) -> Sequence[Reply]:
        """Open (or reuse) a ticket, tell the customer its number, and tell the agents."""
        if state.new_requested:
            current = await tickets.current_ticket(session, customer.id)
            if current is not None:
                # "/new" while a ticket is open: that one stays open, this starts another.
                received_ticket = await self.helpdesk.open_ticket(
                    session,
                    customer=customer,
                    channel=message.chat.channel,
                    chat_id=message.chat.chat_id,
                    text=question or message.text or "(no text)",
                    language=language,
                )
                await self._store_customer_message(session, received_ticket, message)
                ticket = received_ticket
            else:
                ticket = None
        else:
            ticket = None
        state.new_requested = False
        # the question now lives on the ticket: a later /human or "człowiek" must not file it
        # again as if the customer had repeated it (nor open a new request with it)
        state.last_question = None
        if ticket is None:
            first = question or message.text or _attachment_summary(message)
            received = await self._receive(session, customer, message, language, first)
            ticket = received.ticket
            if message.text and message.text != first:
                await self._store_customer_message(session, ticket, message)
        for extra in extra_texts:
            if extra not in (question, message.text):
                await self.helpdesk.add_message(
                    session,
                    ticket,
                    direction="in",
                    author_kind="customer",
                    author_id=message.user_id,
                    text=extra,
                    channel=message.chat.channel,
                )
        text = say("handoff", language, number=ticket.number)
        calendar = self.helpdesk.config.department_calendar(ticket.department)
        if not calendar.is_open(utcnow()):
            text = f"{text}\n{say('outside_hours', language, hours=calendar.describe(language))}"
        await self._store_bot_message(session, ticket, text)
        # What the bot tried is the agents' context on the card, also after the card is
        # updated: kept on the ticket, not only in this hand-off's hooks.
        events.record(
            session,
            ticket,
            events.BOT_TRIED_EVENT,
            actor=events.SYSTEM,
            to_value=reason,
            reason="\n".join(bot_tried),
        )
        log.info("ticket #%s: handed off (%s)", ticket.number, reason)
        replies: list[Reply] = [(self._reply(message, text, ticket), ticket.id)]
        context = Handoff(
            ticket=ticket,
            customer=customer,
            question=question,
            language=language,
            reason=reason,
            bot_tried=bot_tried,
        )
        for hook in self.on_handoff:
            replies += await hook(session, context)
        return replies

    # -- helpers ------------------------------------------------------------------------

    async def _store_customer_message(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> None:
        await self.helpdesk.add_message(
            session,
            ticket,
            direction="in",
            author_kind="customer",
            author_id=message.user_id,
            text=message.text,
            channel=message.chat.channel,
            platform_id=str(message.meta.get("message_ref") or message.platform_id),
            attachments=_attachments(message),
        )

    async def _store_bot_message(self, session: AsyncSession, ticket: Ticket, text: str) -> None:
        await self.helpdesk.add_message(
            session, ticket, direction="out", author_kind="bot", text=text, channel=ticket.channel
        )

    @staticmethod
    def _text(message: InboundMessage, text: str) -> Reply:
        return (OutboundMessage(chat=message.chat, text=text), None)

    @staticmethod
    def _reply(message: InboundMessage, text: str, ticket: Ticket) -> OutboundMessage:
        return OutboundMessage(chat=message.chat, text=text, ticket_number=ticket.number)


def _attachments(message: InboundMessage) -> list[dict[str, object]]:
    return [
        {
            "kind": a.kind,
            "file_id": a.file_id,
            "name": a.name,
            "size": a.size,
            "mime_type": a.mime_type,
            "caption": a.caption,
        }
        for a in message.attachments
    ]


def _attachment_summary(message: InboundMessage) -> str:
    kinds = ", ".join(sorted({a.kind for a in message.attachments}))
    return f"({kinds})" if kinds else "(no text)"


def _acknowledged(previous: Message | None, number: int) -> bool:
    """Whether the customer's turn was already acknowledged: the last message is theirs, or
    the bot's "added to your ticket" note."""
    if previous is None:
        return False
    if previous.author_kind == "customer":
        return True
    return previous.author_kind == "bot" and previous.text in {
        say("ticket_continued", lang, number=number) for lang in SUPPORTED_LANGUAGES
    }


async def _last_message(session: AsyncSession, ticket_id: int) -> Message | None:
    result: Message | None = await session.scalar(
        select(Message).where(Message.ticket_id == ticket_id).order_by(Message.id.desc()).limit(1)
    )
    return result


def _supported(language: str | None) -> str | None:
    if not language:
        return None
    short = language.lower()[:2]
    return short if short in SUPPORTED_LANGUAGES else None
