"""Agents' replies relayed to customers, found again by the agent's Slack message.

The desk relays a reply typed in a ticket's thread as an outbox row for the customer's chat
whose meta names the agent's message (`slack_confirm`: channel and ts). When the agent edits
or deletes that message, the customer's copy follows: an `edit` or `delete` outbound message
for the customer's chat, aimed at the platform id the original send stored, queued in the
same chat's order (so after the original and any earlier change, retried like any send).
A reply not sent yet is changed in place instead: its row gets the new text, or is withdrawn.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, replace
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.ext.asyncio import AsyncSession

from bots.messages import ChatRef, OutboundMessage
from bots.pipeline.models import OutboxRow
from tickets.models import Ticket

CONFIRM_KEY = "slack_confirm"  # meta of a relayed reply: the agent's Slack message
CHANGE_KEY = "slack_change"  # meta of an edit or delete of one: the agent's Slack message
CHANGE_KINDS = frozenset({"edit", "delete"})
CHANGEABLE_CHANNELS = frozenset({"telegram", "slack"})  # adapters that edit and delete
WITHDRAWN = "withdrawn: deleted in Slack before it was sent"


@dataclass(frozen=True)
class Sent:
    """One outbox row of a relayed reply (the original or a change of it), read back."""

    row: OutboxRow
    message: OutboundMessage


@dataclass(frozen=True)
class Relayed:
    """A relayed reply: its original outbox row, then the edits and deletes queued after it."""

    original: Sent
    changes: tuple[Sent, ...]

    @property
    def latest(self) -> Sent:
        """The newest row that was not refused: what the customer sees, or will see."""
        live = [s for s in (self.original, *self.changes) if s.row.state != "failed"]
        return live[-1] if live else self.original

    @property
    def deleted(self) -> bool:
        return self.latest.message.kind == "delete"


def _source(message: OutboundMessage) -> Any:
    return message.meta.get(CONFIRM_KEY) or message.meta.get(CHANGE_KEY)


async def find(session: AsyncSession, ticket: Ticket, channel: str, ts: str) -> Relayed | None:
    """The relayed reply that the Slack message `channel`/`ts` became, if it was relayed.

    Only the ticket's own chat is searched, and only rows whose payload names the ts (rows
    whose payload retention purged are not found)."""
    if not ts:
        return None
    rows = await session.scalars(
        select(OutboxRow)
        .where(
            OutboxRow.ticket_id == ticket.id,
            OutboxRow.chat_key == ChatRef(ticket.channel, ticket.chat_id).key,
            OutboxRow.payload.contains(f'"{ts}"', autoescape=True),
        )
        .order_by(OutboxRow.id)
    )
    found: list[Sent] = []
    for row in rows:
        try:
            message = OutboundMessage.from_dict(json.loads(row.payload))
        except (ValueError, TypeError, KeyError):
            continue
        source = _source(message)
        if isinstance(source, dict) and (source.get("channel"), source.get("ts")) == (channel, ts):
            found.append(Sent(row, message))
    originals = [s for s in found if s.message.kind not in CHANGE_KINDS]
    if not originals:
        return None
    first = originals[0]
    return Relayed(first, tuple(s for s in found if s.row.id > first.row.id))


def change(relayed: Relayed, kind: str, text: str, agent: str) -> OutboundMessage:
    """An `edit` (to `text`) or `delete` of the customer's copy, for the outbox."""
    original = relayed.original
    source = original.message.meta.get(CONFIRM_KEY) or {}
    return OutboundMessage(
        chat=original.message.chat,
        text=text,
        kind=kind,
        ticket_number=original.message.ticket_number,
        meta={
            "target": original.row.platform_message_id,
            "before": relayed.latest.message.text,
            CHANGE_KEY: {"channel": source.get("channel"), "ts": source.get("ts"), "agent": agent},
        },
    )


async def rewrite_pending(session: AsyncSession, sent: Sent, text: str) -> bool:
    """Give a row not sent yet the new text; False when a worker is sending it right now."""
    payload = json.dumps(replace(sent.message, text=text).to_dict(), ensure_ascii=False)
    return await _if_waiting(session, sent.row, payload=payload)


async def withdraw_pending(session: AsyncSession, sent: Sent) -> bool:
    """Keep a row not sent yet from being sent; False when a worker is sending it now."""
    return await _if_waiting(session, sent.row, state="failed", error=WITHDRAWN)


async def _if_waiting(session: AsyncSession, row: OutboxRow, **values: Any) -> bool:
    """Update `row` only while it waits unclaimed: a claimed row may be on its way already."""
    result = await session.execute(
        update(OutboxRow)
        .where(
            OutboxRow.id == row.id,
            OutboxRow.state == "pending",
            OutboxRow.lease_owner.is_(None),
        )
        .values(**values)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


def unchangeable(channel: str, target: str | None) -> str:
    """Why the customer's copy on `channel` cannot be changed, or "" when it can."""
    if channel not in CHANGEABLE_CHANNELS:
        return f"relaydesk cannot change {channel} messages once they are sent"
    if not target:
        return f"{channel} gave no id for the message it delivered"
    return ""


# Thread notices (Slack mrkdwn), also used by the Slack channel's outbox hooks.


def still_sees(kind: str, agent: str, why: str, before: str) -> str:
    """The customer's copy could not follow an edit or a deletion, and why."""
    if kind == "delete":
        quoted = "".join(f"\n> {line}" for line in before.splitlines()[:5])
        return f"⚠️ The customer still sees the reply <@{agent}> deleted here ({why}).{quoted}"
    return f"⚠️ The customer still sees <@{agent}>'s reply as it was before the edit ({why})."


def deleted_text(agent: str) -> str:
    return f"🗑️ The reply <@{agent}> deleted here was deleted from the customer's chat too."


def withdrawn_text(agent: str) -> str:
    return f"🗑️ <@{agent}> deleted a reply before it reached the customer: it will not be sent."
