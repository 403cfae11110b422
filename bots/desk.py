"""The agent desk: what agents do in Slack (replies, notes, drafts, card buttons, /relaydesk).

Channel-agnostic like the conversation engine: one `InboundMessage(role="agent")` in, state
changes in the caller's transaction, and the messages to send out (`Reply`s the inbox worker
writes to the outbox in the same transaction). Only agents of a ticket's department may act on
it; anyone else gets a private refusal and nothing changes.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Collection, Sequence
from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from bots.messages import ChatRef, InboundMessage, OutboundMessage
from bots.pipeline.workers import Reply
from bots.slack import blocks
from bots.slack.models import thread_for_ticket, ticket_for_thread
from bots.views import ticket_view
from tickets import service as tickets
from tickets.errors import TicketError
from tickets.models import Ticket

log = logging.getLogger(__name__)

NOTE_PREFIX = "note:"
CARD_ACTIONS = {"assign", "escalate", "pending", "resolve", "save_kb"}
DRAFT_ACTIONS = {
    "send",
    "edit",
    "edit_send",
    "regenerate",
    "shorter",
    "friendlier",
    "formal",
    "translate",
}
ADMIN_COMMANDS = {"report", "gaps"}
USAGE = (
    "Usage: `/relaydesk ticket N` · `/relaydesk kb search TEXT` · "
    "`/relaydesk report [today|week|month]` · `/relaydesk gaps`"
)

GroupMembers = Callable[[str], Awaitable[Collection[str]]]


@dataclass(frozen=True)
class Department:
    """Who works a department's tickets: Slack user ids and/or a Slack user group."""

    name: str
    channel: str | None = None
    agents: frozenset[str] = frozenset()
    usergroup: str | None = None


class Refused(Exception):
    """The acting user may not do this; the message says why (shown only to them)."""


class Desk:
    """Handles agents' actions on tickets; see the module docstring."""

    def __init__(
        self,
        *,
        departments: Sequence[Department] = (),
        admins: Collection[str] = (),
        group_members: GroupMembers | None = None,
    ) -> None:
        self.departments = {d.name: d for d in departments}
        self.admins = frozenset(admins)
        self.group_members = group_members

    def department_names(self) -> list[str]:
        """Departments a ticket can be escalated to."""
        return sorted(self.departments)

    # ------------------------------------------------------------------ entry point

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        """Apply one agent action; return what to send (refusals are private to the agent)."""
        try:
            if message.kind == "command":
                return await self._command(session, message)
            if message.kind == "action":
                return await self._action(session, message)
            if message.kind == "text":
                return await self._thread_reply(session, message)
        except Refused as exc:
            return [self._private(message, str(exc))]
        except TicketError as exc:
            return [self._private(message, f"Could not do that: {exc}")]
        return ()

    # ------------------------------------------------------------------ permissions

    async def may_act(self, user_id: str, ticket: Ticket) -> bool:
        """True for admins and for agents of the ticket's department (ids or user group)."""
        if user_id in self.admins:
            return True
        department = self.departments.get(ticket.department or "")
        if department is None:
            return False
        if user_id in department.agents:
            return True
        if department.usergroup and self.group_members is not None:
            return user_id in await self.group_members(department.usergroup)
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
            await tickets.add_message(
                session,
                ticket,
                direction="out",
                author_kind="agent",
                author_id=message.user_id,
                text=text[len(NOTE_PREFIX) :].strip(),
                channel="slack",
                platform_id=message.platform_id,
                internal=True,
            )
            return [self._react(message.chat.chat_id, ts, "memo", ticket)]
        if not text and not message.attachments:
            return ()
        return await self._relay(session, ticket, message, text, confirm_ts=ts)

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
        await tickets.add_message(
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
            meta["slack_confirm"] = {"channel": message.chat.chat_id, "ts": confirm_ts}
        out = OutboundMessage(
            chat=ChatRef(ticket.channel, ticket.chat_id),
            text=text,
            ticket_number=ticket.number,
            meta=meta,
        )
        log.info("desk: ticket #%s agent reply relayed to %s", ticket.number, ticket.channel)
        return [(out, ticket.id), *(await self._card_update(session, ticket))]

    # ------------------------------------------------------------------ buttons and modals

    async def _action(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        action = message.action or ""
        number = _ticket_number(message.action_value)
        if number is None:
            return ()
        ticket = await self._ticket_for(session, number, message.user_id)
        if action in ("send", "edit_send"):
            return await self._send_draft(session, ticket, message)
        if action == "edit":
            return [self._edit_modal(ticket, message)]
        log.info("desk: action %s on ticket #%s not handled", action, number)
        return ()

    async def _send_draft(
        self, session: AsyncSession, ticket: Ticket, message: InboundMessage
    ) -> list[Reply]:
        if message.action == "edit_send":
            text = message.text.strip()
            draft_ts = message.meta.get("draft_ts")
        else:
            text = str(message.meta.get("draft_text") or "").strip()
            draft_ts = message.meta.get("message_ts")
        if not text:
            raise Refused("The draft is empty: edit it before sending.")
        replies = await self._relay(session, ticket, message, text, confirm_ts=None)
        if draft_ts:
            channel = str(message.meta.get("channel") or message.chat.chat_id)
            done = OutboundMessage(
                chat=ChatRef("slack", channel),
                text=text,
                kind="draft",
                ticket_number=ticket.number,
                meta={
                    "ticket_number": ticket.number,
                    "draft_id": _draft_id(message.action_value),
                    "text": text,
                    "state": "sent",
                    "by": message.user_id,
                    "replace_ts": draft_ts,
                    "channel": channel,
                },
            )
            replies.append((done, ticket.id))
        return replies

    def _edit_modal(self, ticket: Ticket, message: InboundMessage) -> Reply:
        text = str(message.meta.get("draft_text") or "")
        metadata = {
            "ticket": ticket.number,
            "draft_id": _draft_id(message.action_value),
            "channel": message.meta.get("channel") or message.chat.chat_id,
            "thread_ts": message.chat.thread_id,
            "draft_ts": message.meta.get("message_ts"),
        }
        modal = OutboundMessage(
            chat=ChatRef("slack", f"views:{message.user_id}"),
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

    # ------------------------------------------------------------------ slash command

    async def _command(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        command = (message.command or "help").lower()
        if command in ADMIN_COMMANDS and message.user_id not in self.admins:
            raise Refused(f"`/relaydesk {command}` is for admins.")
        if command == "ticket":
            return await self._show_ticket(session, message)
        return [self._respond(message, USAGE)]

    async def _show_ticket(self, session: AsyncSession, message: InboundMessage) -> list[Reply]:
        raw = message.command_args.strip().lstrip("#")
        if not raw.isdigit():
            raise Refused("Usage: `/relaydesk ticket N` (a ticket number).")
        try:
            ticket = await tickets.get_ticket(session, int(raw))
        except TicketError:
            raise Refused(f"There is no ticket #{raw}.") from None
        view = await ticket_view(session, ticket)
        place = await thread_for_ticket(session, ticket.number)
        where = f"\nThread: <#{place.channel}>" if place is not None else ""
        card = blocks.card_blocks(view, departments=self.department_names())
        return [self._respond(message, blocks.card_text(view) + where, extra=card)]

    # ------------------------------------------------------------------ outputs

    async def _card_update(self, session: AsyncSession, ticket: Ticket) -> list[Reply]:
        place = await thread_for_ticket(session, ticket.number)
        if place is None:
            return []
        view = await ticket_view(session, ticket)
        update = OutboundMessage(
            chat=ChatRef("slack", place.channel),
            text=blocks.card_text(view),
            kind="card_update",
            ticket_number=ticket.number,
            meta={"ticket": view},
        )
        return [(update, ticket.id)]

    @staticmethod
    def _react(channel: str, ts: str, name: str, ticket: Ticket) -> Reply:
        reaction = OutboundMessage(
            chat=ChatRef("slack", channel),
            text="",
            kind="reaction",
            meta={"ts": ts, "name": name, "system": True},
        )
        return reaction, ticket.id

    @staticmethod
    def _respond(message: InboundMessage, text: str, extra: Any = None) -> Reply:
        meta: dict[str, Any] = {"response_url": message.meta.get("response_url"), "system": True}
        if extra is not None:
            meta["blocks"] = extra
        return OutboundMessage(chat=message.chat, text=text, kind="notice", meta=meta), None

    @staticmethod
    def _private(message: InboundMessage, text: str) -> Reply:
        """A message only the acting user sees, where they acted."""
        meta: dict[str, Any] = {"system": True}
        if message.kind == "command" and message.meta.get("response_url"):
            meta["response_url"] = message.meta["response_url"]
        else:
            meta["ephemeral_user"] = message.user_id
        chat = ChatRef(
            "slack",
            str(message.meta.get("channel") or message.chat.chat_id),
            message.chat.thread_id,
        )
        return OutboundMessage(chat=chat, text=text, kind="notice", meta=meta), None


def _ticket_number(value: str) -> int | None:
    head = value.split(":", 1)[0].strip().lstrip("#")
    return int(head) if head.isdigit() else None


def _draft_id(value: str) -> str | None:
    parts = value.split(":")
    return parts[1] if len(parts) > 1 and parts[1] else None
