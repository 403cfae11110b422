"""The agent desk: what agents do in Slack (replies, notes, drafts, card buttons, /relaydesk).

Works like the conversation engine: one `InboundMessage(role="agent")` in, state changes in
the caller's transaction, and the messages to send (`Reply`s the inbox worker writes to the
outbox in the same transaction). Only agents of a ticket's department (Slack user ids in
helpdesk.yaml, or its Slack user group) and admins may act on it; anyone else gets a private
refusal and nothing changes. It also tells agents about tickets: the conversation engine's
hand-off and follow-up hooks post the card, mirror the customer's messages into the ticket's
thread and ask for a draft.
"""

from __future__ import annotations

import asyncio
import json
import logging
import tempfile
import uuid
from collections.abc import Awaitable, Callable, Collection, Sequence
from pathlib import Path
from typing import Any

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots import drafts, relayed
from bots.app import Services
from bots.conversation import Handoff
from bots.errors import RetryLater
from bots.messages import Button, ChatRef, InboundMessage, OutboundMessage, image_meta
from bots.pipeline.models import InboxRow
from bots.pipeline.workers import Reply
from bots.slack import blocks
from bots.slack.cards import card_update
from bots.slack.models import thread_for_ticket, ticket_for_thread
from bots.slack.parse import TASK_TYPE, TASK_USER
from bots.texts import say, status_name
from bots.views import ticket_view
from drafting import store as draft_store
from drafting.errors import DraftingError
from drafting.models import SENT_OUTCOMES
from knowledge import store as kb_store
from knowledge.errors import KnowledgeError
from knowledge.evaluation import LabelledQuestion
from knowledge.importer import parse_markdown
from tickets import events
from tickets import service as tickets
from tickets.config import HelpdeskConfig
from tickets.errors import TicketError
from tickets.models import Message, Ticket, utcnow

log = logging.getLogger(__name__)

SLACK = "slack"
NOTE_PREFIX = "note:"
TONE_ACTIONS = {"shorter": "shorter", "friendlier": "friendlier", "formal": "formal"}
ADMIN_COMMANDS = {"report", "gaps"}
TEACH_CHOICES = 5  # articles offered when an admin teaches the bot a ticket's question
NUMBER_DIGITS_MAX = 18  # ticket numbers and draft ids are far shorter; longer is no id at all
FILES_NOT_RELAYED = (
    "{what}, but files shared in Slack are not: the customer cannot open Slack files. "
    "Paste a link the customer can open, or describe the file."
)
REPORT_USAGE = "Usage: `/relaydesk report [today|week|month|7d|YYYY-MM-DD|A..B]`."
KB_USAGE = "Usage: `/relaydesk kb search TEXT` · `/relaydesk kb teach SLUG QUESTION` (admins)."
USAGE = (
    "Usage: `/relaydesk ticket N` · `/relaydesk kb search TEXT` · "
    "`/relaydesk kb teach SLUG QUESTION` · `/relaydesk report [period]` · `/relaydesk gaps`"
)

NOT_A_NOTE = (
    "Your edit was not sent: a reply the customer has cannot become a note. They still see it "
    "as it was; delete it in the thread to delete it from their chat too."
)
CHANGE_REASONS = {
    ("edit", False): "edited in Slack: the customer's copy is being corrected",
    ("edit", True): "edited in Slack before it was sent: the customer gets the new text",
    ("delete", False): "deleted in Slack: the customer's copy is being deleted",
    ("delete", True): "deleted in Slack before it was sent: it is not sent",
}

GroupMembers = Callable[[str], Awaitable[Collection[str]]]


class Refused(Exception):
    """The acting user may not do this, or it cannot be done; the message says why."""


class Desk:
    """Handles agents' actions on tickets; see the module docstring."""

    def __init__(
        self,
        services: Services,
        *,
        admins: Collection[str] = (),
        group_members: GroupMembers | None = None,
        agent_language: str = "en",
    ) -> None:
        self.services = services
        self.admins = frozenset(admins)
        self.group_members = group_members
        self.agent_language = agent_language

    @property
    def config(self) -> HelpdeskConfig:
        return self.services.helpdesk.config

    def department_names(self) -> list[str]:
        """Departments a ticket can be escalated to."""
        return list(self.config.department_names)

    def triage_channel(self, department: str | None) -> str | None:
        """The Slack channel where a department's ticket cards live."""
        found = self.config.department(department)
        return found.slack_channel if found is not None else None

    # ------------------------------------------------------------------ entry point

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        """Apply one agent action; return what to send (refusals are private to the agent)."""
        try:
            if message.user_id == TASK_USER and message.platform_id.startswith("task:"):
                return await self._task(session, message)
            if message.kind == "command":
                return await self._command(session, message)
            if message.kind == "action":
                return await self._action(session, message)
            if message.kind == "text":
                return await self._thread_reply(session, message)
            if message.kind in relayed.CHANGE_KINDS:
                return await self._reply_changed(session, message)
        except Refused as exc:
            return [self._private(message, str(exc))]
        except (TicketError, DraftingError, KnowledgeError) as exc:
            log.info(
                "desk: %s on %s refused: %s",
                message.action or message.kind,
                message.platform_id,
                type(exc).__name__,
            )
            return [self._private(message, f"That did not work: {exc}")]
        return ()

    # ------------------------------------------------------------------ permissions

    async def may_act(self, user_id: str, ticket: Ticket) -> bool:
        """True for admins and for agents of the ticket's department (ids or user group)."""
        if user_id in self.admins:
            return True
        department = self.config.department(ticket.department)
        if department is None:
            return False
        if any(a.slack_id == user_id for a in self.config.agents_of(department.name)):
            return True
        if department.slack_user_group and self.group_members is not None:
            return user_id in await self.group_members(department.slack_user_group)
        return False

    async def _ticket_for(self, session: AsyncSession, number: int, user_id: str) -> Ticket:
        try:
            ticket = await tickets.get_ticket(session, number)
        except TicketError:
            raise Refused(f"There is no ticket #{number}.") from None
        if not await self.may_act(user_id, ticket):
            log.info("desk: %s refused on ticket #%s", user_id, number)
            raise Refused(
                f"Only agents of the {ticket.department or 'ticket’s'} department can act on "
                f"ticket #{number}."
            )
        return ticket

    # ------------------------------------------------------------------ hooks for the engine

    async def on_handoff(self, session: AsyncSession, handoff: Handoff) -> list[Reply]:
        """A ticket was handed to people: its card, its messages so far, and a draft."""
        ticket = handoff.ticket
        channel = self.triage_channel(ticket.department)
        if channel is None:
            log.warning(
                "ticket #%s: department %s has no Slack channel", ticket.number, ticket.department
            )
            return []
        place = await thread_for_ticket(session, ticket.number)
        if place is not None:
            return await self._card_update(session, ticket)  # handed off again: refresh it
        view = await ticket_view(
            session,
            ticket,
            summary=ticket.summary or handoff.question or ticket.subject,
            bot_tried=list(handoff.bot_tried),
        )
        card = _card(channel, view, "ticket_card")
        replies: list[Reply] = [(card, ticket.id)]
        rows = await session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.author_kind == "customer")
            .order_by(Message.id)
        )
        for row in rows:
            replies += self._mirror(ticket, channel, row.text, row.attachments)
        self._queue_task(session, channel, "draft", ticket.number)
        if self._needs_translation(ticket):
            self._queue_task(session, channel, "translate", ticket.number)
        return replies

    async def on_follow_up(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        """A customer wrote on a live ticket: mirror it into the ticket's thread."""
        place = await thread_for_ticket(session, ticket.number)
        channel = place.channel if place is not None else self.triage_channel(ticket.department)
        if channel is None:
            return []
        attachments = [
            {
                "kind": a.kind,
                "file_id": a.file_id,
                "name": a.name,
                "mime_type": a.mime_type,
                "channel": message.chat.channel,
            }
            for a in message.attachments
        ]
        replies = self._mirror(ticket, channel, message.text, attachments)
        if message.text.strip() and self._needs_translation(ticket):
            self._queue_task(session, channel, "translate", ticket.number, text=message.text)
        return replies + await self._card_update(session, ticket)

    def _mirror(
        self,
        ticket: Ticket,
        channel: str,
        text: str,
        attachments: Sequence[dict[str, Any]],
        *,
        author: str = "customer",
        author_name: str | None = None,
    ) -> list[Reply]:
        items = [{**a, "channel": a.get("channel") or ticket.channel} for a in attachments]
        if author == "customer":
            author_name = ticket.customer.name or None
        mirror = OutboundMessage(
            chat=ChatRef(SLACK, channel),
            text=text,
            kind="ticket_mirror",
            ticket_number=ticket.number,
            meta={
                "ticket_number": ticket.number,
                "author": author,
                "author_name": author_name,
                "text": text,
                "translation": None,
                "attachments": items,
                "source_channel": ticket.channel,
            },
        )
        return [(mirror, ticket.id)]

    def _needs_translation(self, ticket: Ticket) -> bool:
        """Only with a model: the offline drafter cannot translate, and saying so under every
        message would be noise (the draft's own Translate button says why)."""
        return (
            self.services.settings.llm_enabled
            and bool(ticket.language)
            and ticket.language != self.agent_language
        )

    @staticmethod
    def _queue_task(
        session: AsyncSession, channel: str, kind: str, number: int, **data: Any
    ) -> None:
        """Work for later (drafts, translations) through the inbox, so the customer's reply
        does not wait for a language model; committed with the caller's transaction."""
        payload = {"type": TASK_TYPE, "task": kind, "ticket": number, "channel": channel, **data}
        session.add(
            InboxRow(
                channel=SLACK,
                platform_id=f"task:{kind}:{number}:{uuid.uuid4().hex}",
                chat_key=f"{SLACK}:{channel}:ticket:{number}",
                payload=json.dumps(payload, ensure_ascii=False),
                state="pending",
                attempts=0,
                received_at=utcnow(),
            )
        )

    async def _task(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        number = _ticket_number(message.action_value)
        if number is None:
            return ()
        ticket = await tickets.get_ticket(session, number)
        if message.action == "task:draft":
            replies = await self._summarise(session, ticket, message.chat.chat_id)
            result = await drafts.make_draft(self.services, session, number)
            draft = self._draft_message(ticket, result.meta(), language=result.output.language)
            return [*replies, draft]
        if message.action == "task:translate":
            return await self._translation(session, ticket, message.meta.get("text"))
        return ()

    async def _summarise(self, session: AsyncSession, ticket: Ticket, channel: str) -> list[Reply]:
        """The hand-off summary for the card (the model's, or an extractive one without it).

        The card may not be in Slack yet (queued ahead of this in `channel`, or held up by an
        outage), and its posting commits independently of this task: an update without the
        card's ts, in the card's channel, finds the card when it is sent, after it."""
        result = await drafts.make_summary(
            self.services, session, ticket.number, language=self.agent_language
        )
        text = result.output.text.strip()
        if not text or text == ticket.summary:
            return []
        ticket.summary = text
        replies = await self._card_update(session, ticket)
        if replies or not channel:
            return replies
        update = _card(channel, await ticket_view(session, ticket), "card_update")
        return [(update, ticket.id)]

    async def _translation(self, session: AsyncSession, ticket: Ticket, text: Any) -> list[Reply]:
        if not isinstance(text, str) or not text.strip():
            first = await session.scalar(
                select(Message.text)
                .where(Message.ticket_id == ticket.id, Message.author_kind == "customer")
                .order_by(Message.id)
                .limit(1)
            )
            text = first or ""
        if not text.strip():
            return []
        parts = drafts.parts_of(self.services)
        try:
            context = await drafts.ticket_context(parts, ticket)
            output = await parts.drafter.translate(
                context, text, self.agent_language, source=ticket.language
            )
        finally:
            if parts is not getattr(self.services, "drafting", None):
                await parts.aclose()
        note = (
            f"_Translation ({self.agent_language}):_ {blocks.escape(output.text)}"
            if not output.offline
            else f"_No translation: {blocks.escape(output.reason or 'it needs a language model')}_"
        )
        return [self._thread_notice(ticket, note)]

    # ------------------------------------------------------------------ thread replies

    async def _thread_reply(
        self, session: AsyncSession, message: InboundMessage
    ) -> Sequence[Reply]:
        thread = message.chat.thread_id
        if thread is None:
            return ()
        number = await ticket_for_thread(session, message.chat.chat_id, thread)
        if number is None:
            return ()  # a thread that is not a ticket's: not ours to relay
        ticket = await self._ticket_for(session, number, message.user_id)
        text = message.text.strip()
        ts = str(message.meta.get("ts") or "")
        if text.lower().startswith(NOTE_PREFIX):
            if not text[len(NOTE_PREFIX) :].strip():
                raise Refused("The note is empty; nothing was saved.")
            await self.services.helpdesk.add_message(
                session,
                ticket,
                direction="out",
                author_kind="agent",
                author_id=message.user_id,
                text=text[len(NOTE_PREFIX) :].strip(),
                channel=SLACK,
                platform_id=message.platform_id,
                internal=True,
            )
            return [self._react(message.chat.chat_id, ts, "memo", ticket)]
        if not text:
            if message.attachments:
                raise Refused(FILES_NOT_RELAYED.format(what="Nothing was sent to the customer"))
            return ()
        replies = await self._relay(session, ticket, message, text, confirm_ts=ts)
        if message.attachments:
            note = FILES_NOT_RELAYED.format(what="Your text was sent to the customer")
            replies.append(self._private(message, note))
        return replies

    async def _relay(
        self,
        session: AsyncSession,
        ticket: Ticket,
        message: InboundMessage,
        text: str,
        *,
        confirm_ts: str | None,
    ) -> list[Reply]:
        """Send an agent's words to the customer, on whatever channel the customer uses."""
        if ticket.status == "closed":
            raise Refused(f"Ticket #{ticket.number} is closed; the customer was not messaged.")
        stored = await self.services.helpdesk.add_message(
            session,
            ticket,
            direction="out",
            author_kind="agent",
            author_id=message.user_id,
            text=text,
            channel=ticket.channel,
            platform_id=message.platform_id,
        )
        meta: dict[str, Any] = {"agent": message.user_id}
        if confirm_ts:
            meta[relayed.CONFIRM_KEY] = {"channel": message.chat.chat_id, "ts": confirm_ts}
            meta["message_id"] = stored.id  # the ticket's copy, corrected when it is edited
        out = OutboundMessage(
            chat=ChatRef(ticket.channel, ticket.chat_id),
            text=text,
            ticket_number=ticket.number,
            meta=meta,
        )
        log.info("desk: ticket #%s agent reply relayed to %s", ticket.number, ticket.channel)
        return [(out, ticket.id), *(await self._card_update(session, ticket))]

    # ------------------------------------------------------------------ edited and deleted replies

    async def _reply_changed(
        self, session: AsyncSession, message: InboundMessage
    ) -> Sequence[Reply]:
        """An agent edited or deleted their message in a ticket's thread: the customer's copy
        of a relayed reply follows (`bots.relayed`), also on a closed ticket (the customer
        has that reply either way); whatever cannot follow is said, in the thread."""
        thread = message.chat.thread_id
        channel = message.chat.chat_id
        number = await ticket_for_thread(session, channel, thread) if thread else None
        if number is None:
            return ()  # not a ticket's thread: nothing of ours changed
        ticket = await tickets.get_ticket(session, number)
        deleting = message.kind == "delete"
        found = await relayed.find(session, ticket, channel, str(message.meta.get("ts") or ""))
        if found is None:
            return [self._private(message, self._not_relayed(message))]
        original = found.original.row
        if original.state == "failed":
            why = original.error or "refused"
            text = (
                f"The customer never received this reply ({why}), so nothing was deleted in "
                "their chat."
                if deleting
                else f"Your edit was not sent: the customer never received this reply ({why}). "
                "Reply in the thread to send the corrected text."
            )
            return [self._private(message, text)]
        latest = found.latest
        text = message.text.strip()
        if found.deleted or (not deleting and (not text or text == latest.message.text)):
            return ()  # nothing the customer sees would change
        if not deleting and text.lower().startswith(NOTE_PREFIX):
            return [self._private(message, NOT_A_NOTE)]
        if latest.row.state == "pending" and not (deleting and latest.row.id != original.id):
            # Not sent yet: the waiting row takes the change (a change queued behind it
            # would aim at a message id that does not exist yet).
            if deleting:
                done = await relayed.withdraw_pending(session, latest)
            else:
                done = await relayed.rewrite_pending(session, latest, text)
            if not done:
                raise RetryLater(f"ticket #{number}: a reply is being sent; its change waits")
            await self._record_change(session, ticket, message, found, before_send=True)
            if deleting:
                note = relayed.withdrawn_text(message.user_id)
                return [self._thread_notice(ticket, note)]
            return ()
        why = relayed.unchangeable(ticket.channel, original.platform_message_id)
        if why:
            note = relayed.still_sees(message.kind, message.user_id, why, latest.message.text)
            return [self._thread_notice(ticket, note)]
        await self._record_change(session, ticket, message, found, before_send=False)
        new_text = latest.message.text if deleting else text
        return [(relayed.change(found, message.kind, new_text, message.user_id), ticket.id)]

    def _not_relayed(self, message: InboundMessage) -> str:
        """Why an edited or deleted thread message changes nothing for the customer."""
        before = str(message.meta.get("previous_text") or "").strip()
        if before.lower().startswith(NOTE_PREFIX):
            if message.kind == "delete":
                return "That was an internal note: the customer never saw it (the ticket keeps it)."
            return (
                "This is an internal note: the customer never saw it, so nothing changed for "
                "them (the ticket keeps the note as first written)."
            )
        days = self.services.settings.retention_days
        kept = (
            f" (or more than {days} days ago: relaydesk keeps no record of it after that)"
            if days
            else ""
        )
        if message.kind == "delete":
            return (
                f"This message was never relayed to the customer{kept}, so nothing was deleted "
                "in their chat."
            )
        return (
            f"Your edit was not sent: this message was never relayed to the customer{kept}. "
            "Reply in the thread to send them something."
        )

    async def _record_change(
        self,
        session: AsyncSession,
        ticket: Ticket,
        message: InboundMessage,
        found: relayed.Relayed,
        *,
        before_send: bool,
    ) -> None:
        """The ticket's event log records the change; an edit also corrects the ticket's copy
        of the reply (its earlier text kept, as for customers' edits)."""
        deleting = message.kind == "delete"
        events.record(
            session,
            ticket,
            "reply_deleted" if deleting else "reply_edited",
            actor=events.agent_actor(message.user_id),
            to_value=ticket.channel,
            reason=CHANGE_REASONS[(message.kind, before_send)],
        )
        stored_id = found.original.message.meta.get("message_id")
        stored = await session.get(Message, stored_id) if isinstance(stored_id, int) else None
        if not deleting and stored is not None and stored.platform_id:
            await self.services.helpdesk.edit_message(
                session,
                channel=stored.channel,
                platform_id=stored.platform_id,
                text=message.text.strip(),
            )

    # ------------------------------------------------------------------ buttons and modals

    async def _action(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        action = message.action or ""
        number = _ticket_number(message.action_value)
        if number is None:
            log.info("desk: action %s with an unreadable ticket number", action)
            raise Refused("That button does not name a ticket; nothing was changed.")
        ticket = await self._ticket_for(session, number, message.user_id)
        actor = f"agent:{message.user_id}"
        helpdesk = self.services.helpdesk
        if action in ("send", "edit_send"):
            return await self._send_draft(session, ticket, message)
        if action == "edit":
            return [await self._edit_modal(session, ticket, message)]
        if action in ("regenerate", "translate", *TONE_ACTIONS):
            return await self._redraft(session, ticket, message)
        if action == "assign":
            if ticket.assignee == message.user_id:
                raise Refused(f"Ticket #{ticket.number} is already assigned to you.")
            previous = ticket.assignee
            # may_act() let this user act on the ticket (a listed agent, a member of the
            # department's user group, or an admin): they may take it.
            await helpdesk.assign(
                session,
                ticket,
                message.user_id,
                actor=actor,
                reason="took it in Slack",
                allowed=True,
            )
            replies = await self._card_update(session, ticket)
            if previous:
                # The card alone changes silently: the agent who had the ticket is told.
                replies.append(
                    self._thread_notice(
                        ticket,
                        f"🙋 <@{message.user_id}> took ticket #{ticket.number} from <@{previous}>.",
                    )
                )
            return replies
        if action == "escalate":
            return await self._escalate(session, ticket, message)
        if action == "pending":
            await helpdesk.set_pending(session, ticket, actor=actor, reason="set in Slack")
            return [
                *self._tell_customer(ticket, "pending"),
                *(await self._card_update(session, ticket)),
            ]
        if action == "resolve":
            ask_csat = await helpdesk.resolve(
                session, ticket, actor=actor, reason="resolved in Slack"
            )
            return [
                *self._tell_customer(ticket, "resolved", csat=ask_csat),
                *(await self._card_update(session, ticket)),
            ]
        if action == "save_kb":
            return await self._save_kb(session, ticket, message)
        if action == "teach_pick":
            return await self._teach_pick(session, ticket, message)
        if action == "teach":
            return await self._teach(session, ticket, message)
        log.info("desk: action %s on ticket #%s not handled", action, number)
        return ()

    async def _escalate(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        _number, _, choice = message.action_value.partition(":")
        kind, _, target = choice.partition(":")
        if kind not in ("tier", "department") or not target:
            raise Refused("Choose a tier or a department to escalate to.")
        old_channel = self.triage_channel(ticket.department)
        old_place = await thread_for_ticket(session, ticket.number)
        changes = await self.services.helpdesk.escalate(
            session,
            ticket,
            reason=f"escalated in Slack by {message.user_id}",
            actor=f"agent:{message.user_id}",
            tier=target if kind == "tier" else None,
            department=target if kind == "department" else None,
        )
        replies = await self._card_update(session, ticket)
        what = ", ".join(changes) if changes else f"{kind} {target}"
        notice = f"⬆️ Escalated by <@{message.user_id}>: {what}"
        new_channel = self.triage_channel(ticket.department)
        if kind != "department" or new_channel is None or new_channel == old_channel:
            replies.append(self._thread_notice(ticket, notice))
        else:
            if old_place is not None:
                # Said in the thread the agents were working in (named by its ts: the
                # ticket's thread moves when the new card is posted), with where it went.
                told = OutboundMessage(
                    chat=ChatRef(SLACK, old_place.channel, old_place.card_ts),
                    text=f"{notice}. The ticket's thread is now in <#{new_channel}>: "
                    "replies here no longer reach the customer.",
                    kind="notice",
                    ticket_number=ticket.number,
                    meta={"system": True},
                )
                replies.append((told, ticket.id))
            card = _card(new_channel, await ticket_view(session, ticket), "ticket_card")
            replies.append((card, ticket.id))
            replies += await self._conversation(session, ticket, new_channel)
            replies.append(self._thread_notice(ticket, notice))
            self._queue_task(session, new_channel, "draft", ticket.number)
        tier_channel = self.config.notify_channel(ticket.department, ticket.tier)
        if kind == "tier" and tier_channel and tier_channel != new_channel:
            announce = OutboundMessage(
                chat=ChatRef(SLACK, tier_channel),
                text=f"⬆️ Ticket #{ticket.number} ({ticket.subject}) escalated to {ticket.tier}"
                f" by <@{message.user_id}>; its thread is in <#{new_channel}>.",
                kind="notice",
                ticket_number=ticket.number,
            )
            replies.append((announce, ticket.id))
        return replies

    async def _conversation(
        self, session: AsyncSession, ticket: Ticket, channel: str
    ) -> list[Reply]:
        """The ticket's conversation so far, mirrored into a new thread (a ticket moved to
        another department): the customer's messages, agents' replies and notes."""
        rows = await session.scalars(
            select(Message)
            .where(Message.ticket_id == ticket.id, Message.author_kind.in_(("customer", "agent")))
            .order_by(Message.id)
        )
        replies: list[Reply] = []
        for row in rows:
            if row.author_kind == "customer":
                replies += self._mirror(ticket, channel, row.text, row.attachments)
                continue
            name = "internal note" if row.internal else None
            replies += self._mirror(ticket, channel, row.text, (), author="agent", author_name=name)
        return replies

    def _tell_customer(self, ticket: Ticket, status: str, *, csat: bool = False) -> list[Reply]:
        """The customer hears about pending and resolved, and is asked for a rating."""
        language = ticket.language
        if csat:
            text = say("csat_ask", language, number=ticket.number)
            buttons = tuple(
                Button("⭐" * score, "csat", f"{ticket.number}:{score}") for score in range(1, 6)
            )
        else:
            text = say(
                "status_changed",
                language,
                number=ticket.number,
                status=status_name(status, language),
            )
            buttons = ()
        out = OutboundMessage(
            chat=ChatRef(ticket.channel, ticket.chat_id),
            text=text,
            buttons=buttons,
            ticket_number=ticket.number,
        )
        return [(out, ticket.id)]

    async def _draft_text(
        self,
        session: AsyncSession,
        message: InboundMessage,
        draft_id: int | None,
        ticket: Ticket | None = None,
    ) -> str:
        if draft_id is not None:
            try:
                draft = await draft_store.get_draft(session, draft_id)
            except DraftingError:
                pass
            else:
                if ticket is not None and draft.ticket_number != ticket.number:
                    raise Refused(f"Draft {draft_id} is not a draft of ticket #{ticket.number}.")
                return draft.text
        return str(message.meta.get("draft_text") or "")

    async def _not_sent_yet(
        self, session: AsyncSession, ticket: Ticket, draft_id: int | None, edited: str = ""
    ) -> None:
        """Refuse to send a draft that already went to the customer (a second press on a
        stale draft message, or two agents at once): the customer would get it twice. An
        edited text the agent typed is given back, so it is not lost."""
        if draft_id is None:
            return
        try:
            draft = await draft_store.get_draft(session, draft_id)
        except DraftingError:
            return
        if draft.ticket_number != ticket.number:
            raise Refused(f"Draft {draft_id} is not a draft of ticket #{ticket.number}.")
        if draft.outcome not in SENT_OUTCOMES:
            return
        by = f" by <@{draft.decided_by}>" if draft.decided_by else ""
        keep = (
            f" Your text was not sent; reply in the thread to send it:\n{blocks.escape(edited)}"
            if edited and edited != (draft.sent_text or "").strip()
            else ""
        )
        raise Refused(
            f"This draft was already sent to the customer{by}; it was not sent again.{keep}"
        )

    async def _send_draft(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        draft_id = _draft_id(message.action_value)
        if message.action == "edit_send":
            text = message.text.strip()
            draft_ts = message.meta.get("draft_ts")
        else:
            text = (await self._draft_text(session, message, draft_id, ticket)).strip()
            draft_ts = message.meta.get("message_ts")
        await self._not_sent_yet(session, ticket, draft_id, text)
        if not text:
            raise Refused("The draft is empty: edit it before sending.")
        replies = await self._relay(session, ticket, message, text, confirm_ts=None)
        if draft_id is not None:
            try:
                await drafts.record_outcome(session, draft_id, "sent", text, agent=message.user_id)
            except DraftingError as exc:
                log.info("draft %s outcome not recorded: %s", draft_id, type(exc).__name__)
        if draft_ts:
            channel = str(message.meta.get("channel") or message.chat.chat_id)
            meta = {
                "ticket_number": ticket.number,
                "draft_id": draft_id,
                "text": text,
                "state": "sent",
                "by": message.user_id,
                "replace_ts": draft_ts,
                "channel": channel,
            }
            done = OutboundMessage(
                chat=ChatRef(SLACK, channel),
                text=text,
                kind="draft",
                ticket_number=ticket.number,
                meta=meta,
            )
            replies.append((done, ticket.id))
        return replies

    async def _edit_modal(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> Reply:
        draft_id = _draft_id(message.action_value)
        text = await self._draft_text(session, message, draft_id)
        metadata = {
            "ticket": ticket.number,
            "draft_id": draft_id,
            "channel": message.meta.get("channel") or message.chat.chat_id,
            "thread_ts": message.chat.thread_id,
            "draft_ts": message.meta.get("message_ts"),
        }
        modal = OutboundMessage(
            chat=ChatRef(SLACK, f"views:{message.user_id}"),
            text="",
            kind="modal",
            ticket_number=ticket.number,
            meta={
                "trigger_id": message.meta.get("trigger_id"),
                "view": blocks.edit_modal(text, metadata),
                "system": True,
            },
        )
        return modal, ticket.id

    async def _redraft(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        """Regenerate, re-tone or translate the draft; the draft message is replaced."""
        if ticket.status == "closed":
            raise Refused(
                f"Ticket #{ticket.number} is closed; a new draft could not be sent to the customer."
            )
        action = message.action or ""
        draft_id = _draft_id(message.action_value)
        previous = int(draft_id) if draft_id is not None else None
        target = ticket.language or self.agent_language
        if action == "translate":
            source = None
            if previous is not None:
                source = (await draft_store.get_draft(session, previous)).language
            if source == target and target != self.agent_language:
                # Already in the customer's language: show the agent what it says instead.
                text = await self._draft_text(session, message, previous)
                parts = drafts.parts_of(self.services)
                try:
                    context = await drafts.ticket_context(parts, ticket)
                    output = await parts.drafter.translate(
                        context, text, self.agent_language, source=source
                    )
                finally:
                    if parts is not getattr(self.services, "drafting", None):
                        await parts.aclose()
                note = (
                    f"_The draft in {self.agent_language}, for reference:_ "
                    f"{blocks.escape(output.text)}"
                    if not output.offline
                    else f"_No translation: {blocks.escape(output.reason or 'needs a model')}_"
                )
                return [self._thread_notice(ticket, note)]
        result = await drafts.make_draft(
            self.services,
            session,
            ticket.number,
            tone=TONE_ACTIONS.get(action),
            translate=target if action == "translate" else None,
            regenerate_of=previous,
            agent=message.user_id,
        )
        return [
            self._draft_message(
                ticket,
                result.meta(),
                language=result.output.language,
                replace_ts=message.meta.get("message_ts"),
                channel=str(message.meta.get("channel") or message.chat.chat_id),
            )
        ]

    async def _save_kb(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        result = await drafts.make_kb_article(self.services, session, ticket.number)
        try:
            article = await asyncio.to_thread(_parse_article, result.text, ticket.number)
        except KnowledgeError as exc:
            raise Refused(f"The article draft could not be read: {exc}") from None
        article = article.with_status("draft")
        outcome = await kb_store.save(session, article, author=f"slack:{message.user_id}")
        done = "saved" if outcome != "unchanged" else "already saved"
        note = (
            f"📚 Knowledge base draft `{article.slug}` {done} by <@{message.user_id}>"
            f"{' (offline draft)' if result.offline else ''}: an admin publishes it with "
            f"`relaydesk kb publish {article.slug}`."
        )
        return [self._thread_notice(ticket, note)]

    async def _customer_question(self, session: AsyncSession, ticket: Ticket) -> str:
        """The customer's first words on the ticket: the question the bot handed off."""
        text = await session.scalar(
            select(Message.text)
            .where(
                Message.ticket_id == ticket.id,
                Message.author_kind == "customer",
                Message.text != "",
            )
            .order_by(Message.id)
            .limit(1)
        )
        if not text or not text.strip():
            raise Refused(f"Ticket #{ticket.number} has no customer question to teach.")
        return str(text).strip()

    def _admin_only(self, message: InboundMessage, what: str) -> None:
        if message.user_id not in self.admins:
            raise Refused(f"{what} is for admins.")

    async def _teach_pick(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        """Show the admin who pressed "Teach the bot" the articles nearest to the ticket's
        question, to pick the one that answers it."""
        self._admin_only(message, "Teaching the bot")
        question = await self._customer_question(session, ticket)
        found = await self._knowledge().search(question, ticket.language, TEACH_CHOICES)
        if not found:
            raise Refused("No published article to teach: publish one first.")
        picker = blocks.teach_picker(
            ticket.number, question, [(str(hit.slug), str(hit.title)) for hit in found]
        )
        if not picker:
            raise Refused("The nearest articles' slugs are too long for a menu: use `kb teach`.")
        text = f"Which article answers ticket #{ticket.number}?"
        return [self._private(message, text, extra=picker, in_thread=False)]

    async def _teach(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        """The admin picked the article that answers the ticket's question: teach it."""
        self._admin_only(message, "Teaching the bot")
        _number, _, slug = message.action_value.partition(":")
        if not slug:
            raise Refused("Pick the article that answers the question.")
        question = await self._customer_question(session, ticket)
        report = await self._knowledge().teach(
            [LabelledQuestion(question, slug, ticket.language)],
            author=f"slack:{message.user_id}",
        )
        if not report.added:
            return [self._in_place(message, _already_taught(question, slug))]
        done = _taught(report, question, f"<@{message.user_id}>")
        return [self._thread_notice(ticket, done), self._in_place(message, done)]

    def _in_place(self, message: InboundMessage, text: str) -> Reply:
        """`text` instead of the private message the user acted on (through its
        response_url), or beside it when there is none."""
        if message.meta.get("response_url"):
            return self._respond(message, text, replace=True)
        return self._private(message, text, in_thread=False)

    # ------------------------------------------------------------------ slash command

    async def _command(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        command = (message.command or "help").lower()
        if command in ADMIN_COMMANDS and message.user_id not in self.admins:
            raise Refused(f"`/relaydesk {command}` is for admins.")
        if command == "ticket":
            return await self._show_ticket(session, message)
        if command == "kb":
            sub, _, text = message.command_args.strip().partition(" ")
            if sub.lower() == "search" and text.strip():
                return await self._kb_search(message, text.strip())
            if sub.lower() == "teach":
                return await self._kb_teach(message, text.strip())
            raise Refused(KB_USAGE)
        if command == "report":
            return await self._report(session, message)
        if command == "gaps":
            return await self._gaps(message)
        return [self._respond(message, USAGE)]

    async def _show_ticket(self, session: AsyncSession, message: InboundMessage) -> list[Reply]:
        raw = message.command_args.strip().lstrip("#")
        number = _whole_number(raw)
        if number is None:
            if raw.isascii() and raw.isdigit():
                raise Refused(f"There is no ticket #{blocks.clip(raw, 20)}.")
            raise Refused("Usage: `/relaydesk ticket N` (a ticket number).")
        # the card names the customer and quotes them: only those who may work the ticket
        # see it (in an internal helpdesk, customers use the same Slack workspace)
        ticket = await self._ticket_for(session, number, message.user_id)
        view = await ticket_view(session, ticket)
        place = await thread_for_ticket(session, ticket.number)
        where = f"\nThread: <#{place.channel}>" if place is not None else ""
        card = blocks.card_blocks(view, departments=self.department_names())
        return [self._respond(message, blocks.card_text(view) + where, extra=card)]

    def _knowledge(self) -> Any:
        knowledge = getattr(self.services, "knowledge", None)
        if knowledge is None:
            raise Refused("The knowledge base is not available in this relaydesk.")
        return knowledge

    async def _kb_search(self, message: InboundMessage, text: str) -> list[Reply]:
        found = await self._knowledge().search(text, None, 5)
        if not found:
            return [self._respond(message, f"No article matches “{text}”.")]
        lines = [f"*Knowledge base: {blocks.escape(text)}*"]
        for hit in found:
            passage = blocks.clip(" ".join(str(hit.text).split()), 200)
            lines.append(
                f"• *{blocks.escape(str(hit.title))}* (`{hit.slug}`, {hit.language}, "
                f"score {float(hit.score):.2f})\n  {blocks.escape(passage)}"
            )
        return [self._respond(message, "\n".join(lines))]

    async def _report(self, session: AsyncSession, message: InboundMessage) -> list[Reply]:
        """The KPI summary and its chart, posted where the command was typed."""
        from bots.reporting import slack_summary
        from tickets.reports import ReportError, ReportRules

        period = message.command_args.strip()
        try:
            text, png = await slack_summary(
                session,
                period,
                rules=ReportRules.from_config(self.config),
                sessions=self.services.db.sessions,
            )
        except ReportError as exc:
            raise Refused(f"{exc}. {REPORT_USAGE}") from None
        meta: dict[str, Any] = {
            "system": True,
            "response_url": message.meta.get("response_url"),
            **image_meta(png, title="relaydesk report", filename="relaydesk-report.png"),
        }
        report = OutboundMessage(chat=message.chat, text=text, kind="notice", meta=meta)
        return [(report, None)]

    async def _kb_teach(self, message: InboundMessage, text: str) -> list[Reply]:
        """An admin adds a customer's wording to the example questions of the article that
        answers it (what `relaydesk kb teach` does), e.g. after `/relaydesk gaps`."""
        self._admin_only(message, "`/relaydesk kb teach`")
        slug, _, question = text.partition(" ")
        question = question.strip()
        if not slug or not question:
            raise Refused(
                "Usage: `/relaydesk kb teach SLUG QUESTION`: the article that answers the "
                "question, then the question as customers word it."
            )
        try:
            report = await self._knowledge().teach(
                [LabelledQuestion(question, slug)], author=f"slack:{message.user_id}"
            )
        except KnowledgeError as exc:
            raise Refused(f"Nothing was taught: {exc}.") from None
        if not report.added:
            return [self._respond(message, _already_taught(question, slug))]
        return [self._respond(message, _taught(report, question))]

    async def _gaps(self, message: InboundMessage) -> list[Reply]:
        clusters = await self._knowledge().gaps()
        if not clusters:
            return [self._respond(message, "No knowledge gaps: nothing was handed off or 👎.")]
        lines = ["*Questions the knowledge base did not answer*"]
        for cluster in clusters[:10]:
            data = cluster.to_dict()
            examples = "; ".join(blocks.escape(str(e)) for e in data.get("examples", [])[:2])
            nearest = data.get("nearest_article")
            near = f" (nearest article `{nearest}`)" if nearest else ""
            lines.append(f"• {data.get('size', '?')}× {examples}{near}")
        lines.append(
            "Where an article answers them, `/relaydesk kb teach SLUG QUESTION` adds the wording."
        )
        return [self._respond(message, "\n".join(lines))]

    # ------------------------------------------------------------------ outputs

    async def _card_update(self, session: AsyncSession, ticket: Ticket) -> list[Reply]:
        update = await card_update(session, ticket)
        return [(update, ticket.id)] if update is not None else []

    def _draft_message(
        self,
        ticket: Ticket,
        meta: dict[str, Any],
        *,
        language: str | None = None,
        replace_ts: Any = None,
        channel: str | None = None,
    ) -> Reply:
        target = channel or self.triage_channel(ticket.department) or ""
        full = {**meta, "language": language}
        if replace_ts:
            full.update(replace_ts=replace_ts, channel=target)
        draft = OutboundMessage(
            chat=ChatRef(SLACK, target),
            text=str(meta.get("text") or ""),
            kind="draft",
            ticket_number=ticket.number,
            meta=full,
        )
        return draft, ticket.id

    def _thread_notice(self, ticket: Ticket, text: str) -> Reply:
        channel = self.triage_channel(ticket.department) or ""
        notice = OutboundMessage(
            chat=ChatRef(SLACK, channel),
            text=text,
            kind="notice",
            ticket_number=ticket.number,
            meta={"in_thread": True, "system": True},
        )
        return notice, ticket.id

    @staticmethod
    def _react(channel: str, ts: str, name: str, ticket: Ticket) -> Reply:
        reaction = OutboundMessage(
            chat=ChatRef(SLACK, channel),
            text="",
            kind="reaction",
            meta={"ts": ts, "name": name, "system": True},
        )
        return reaction, ticket.id

    @staticmethod
    def _respond(
        message: InboundMessage, text: str, extra: Any = None, *, replace: bool = False
    ) -> Reply:
        """An answer through the interaction's response_url (`replace`: instead of the
        private message the interaction came from)."""
        meta: dict[str, Any] = {"response_url": message.meta.get("response_url"), "system": True}
        if extra is not None:
            meta["blocks"] = extra
        if replace:
            meta["replace_original"] = True
        return OutboundMessage(chat=message.chat, text=text, kind="notice", meta=meta), None

    @staticmethod
    def _private(
        message: InboundMessage, text: str, extra: Any = None, *, in_thread: bool = True
    ) -> Reply:
        """A message only the acting user sees, where they acted (`extra`: its blocks;
        `in_thread` False: in the channel even when they acted in a thread or on a card)."""
        meta: dict[str, Any] = {"system": True}
        if extra is not None:
            meta["blocks"] = extra
        if message.kind == "command" and message.meta.get("response_url"):
            meta["response_url"] = message.meta["response_url"]
        else:
            meta["ephemeral_user"] = message.user_id
        chat = ChatRef(
            SLACK,
            str(message.meta.get("channel") or message.chat.chat_id),
            message.chat.thread_id if in_thread else None,
        )
        return OutboundMessage(chat=chat, text=text, kind="notice", meta=meta), None


def _taught(report: Any, question: str, by: str = "") -> str:
    """What a teaching did, with its warnings (a question another article also has)."""
    [target] = report.added
    who = f" by {by}" if by else ""
    lines = [
        f"📚 Taught “{blocks.escape(question)}” to `{target}`{who}: questions worded like it "
        "now find that article."
    ]
    lines += [f"⚠️ {blocks.escape(warning)}" for warning in report.warnings]
    return "\n".join(lines)


def _already_taught(question: str, slug: str) -> str:
    return f"“{blocks.escape(question)}” is already an example question of `{slug}`."


def _parse_article(text: str, number: int) -> Any:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"ticket-{number}.md"
        path.write_text(text, encoding="utf-8")
        return parse_markdown(path)


def _whole_number(text: str) -> int | None:
    """A positive whole number written in ASCII digits (`str.isdigit` also accepts "²", which
    `int` refuses), or None; numbers longer than any id are None rather than a huge int."""
    text = text.strip()
    if not text or len(text) > NUMBER_DIGITS_MAX or not (text.isascii() and text.isdigit()):
        return None
    return int(text)


def _card(channel: str, view: dict[str, Any], kind: str) -> OutboundMessage:
    """A ticket's card (`ticket_card`), or an update of it (`card_update`, found by the
    ticket's number when it is sent), in `channel`."""
    return OutboundMessage(
        chat=ChatRef(SLACK, channel),
        text=blocks.card_text(view),
        kind=kind,
        ticket_number=int(view["number"]),
        meta={"ticket": view},
    )


def _ticket_number(value: str) -> int | None:
    return _whole_number(value.split(":", 1)[0].strip().lstrip("#"))


def _draft_id(value: str) -> int | None:
    parts = value.split(":")
    return _whole_number(parts[1]) if len(parts) > 1 else None
