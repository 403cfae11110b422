"""The Slack channel as the pipeline sees it: parse stored bodies, send outbound messages.

Holds a slack_sdk `AsyncWebClient` (composed, not inherited) pointed at
`RELAYDESK_SLACK_API_URL`. Slack errors are translated here: 429 and 5xx become
`TransientSendError` (honouring `Retry-After`), refusals such as `channel_not_found` or
`not_in_channel` become `PermanentSendError`, which the outbox records and the failure hook
reports to admins.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import logging
from collections.abc import Awaitable, Callable, Mapping, Sequence
from datetime import timedelta
from typing import Any, Protocol, TypeVar

import aiohttp
from slack_sdk.errors import SlackApiError, SlackRequestError
from slack_sdk.web.async_client import AsyncWebClient
from slack_sdk.web.async_slack_response import AsyncSlackResponse
from slack_sdk.webhook.async_client import AsyncWebhookClient
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.db import Database
from bots.messages import IMAGE_META_KEY, ChatRef, InboundMessage, OutboundMessage
from bots.pipeline.channel import Pacing, PermanentSendError, SendError, TransientSendError
from bots.pipeline.models import OutboxRow
from bots.pipeline.store import enqueue
from bots.pipeline.workers import hours
from bots.relayed import CHANGE_KEY, CHANGE_KINDS, deleted_text, still_sees
from bots.slack import blocks
from bots.slack.cards import card_update
from bots.slack.models import remember_card, thread_for_ticket
from bots.slack.parse import CHANNEL, TASK_TYPE, parse, task_message
from tickets import events
from tickets.models import Ticket

log = logging.getLogger(__name__)

T = TypeVar("T")

# Slack answers ok=false with these when trying again later may work; any other error is a
# refusal that retrying will not change.
TRANSIENT_ERRORS = {
    "ratelimited",
    "rate_limited",
    "internal_error",
    "fatal_error",
    "service_unavailable",
    "request_timeout",
    "team_added_to_org",
}
# The token is wrong, expired or revoked: nothing can be sent until an admin fixes it, and then
# what waited should still go (as with Telegram's rejected token), so these are retried too.
AUTH_ERRORS = {"invalid_auth", "not_authed", "token_expired", "token_revoked", "account_inactive"}
IGNORED_ERRORS = {"already_reacted", "no_reaction"}
DELIVERED = "white_check_mark"
NOT_DELIVERED = "x"
EDITED = "pencil2"  # the customer's copy of an agent's reply now has the agent's edit
CARD_KINDS = {"ticket_card", "card_update"}
NO_CARD = "its card was not posted"


class FileSource(Protocol):
    """A channel that can hand over the bytes of a file a customer sent through it."""

    async def fetch_file(self, file_id: str) -> bytes:
        """The file's content; raises `SendError` when it cannot be had."""


class SlackChannel:
    """Slack for the pipeline: customer DMs and the agents' triage channels."""

    name = CHANNEL
    pacing = Pacing(per_chat_interval=1.0)

    def __init__(
        self,
        client: AsyncWebClient,
        db: Database,
        *,
        token: str,
        admin_channel: str | None = None,
        departments: Callable[[], Sequence[str]] = tuple,
        sources: Mapping[str, object] | None = None,
    ) -> None:
        self.client = client
        self.db = db
        self._token = token
        self.admin_channel = admin_channel
        self.departments = departments
        self.sources: Mapping[str, object] = sources if sources is not None else {}

    # ------------------------------------------------------------------ inbound

    def parse(self, payload: dict[str, Any]) -> InboundMessage | None:
        """A stored Slack body as a neutral message (None for kinds relaydesk ignores).

        Besides Slack's own bodies the inbox holds the desk's deferred work (drafts and
        translations after a hand-off), which only relaydesk itself writes.
        """
        if payload.get("type") == TASK_TYPE:
            return task_message(payload)
        return parse(payload)

    # ------------------------------------------------------------------ outbound

    async def send(self, message: OutboundMessage) -> str | None:
        """Render and deliver one message; returns the Slack `ts` of what was posted."""
        kind = message.kind
        if kind == "action_ack":
            return None  # Slack has no toast for button presses; the reply itself answers
        if kind == "ticket_card":
            return await self._post_card(message)
        if kind == "card_update":
            return await self._update_card(message)
        if kind == "ticket_mirror":
            return await self._mirror(message)
        if kind == "draft":
            return await self._draft(message)
        if kind == "reaction":
            return await self._react(message)
        if kind == "modal":
            return await self._open_modal(message)
        if kind == "notice":
            return await self._notice(message)
        if kind in CHANGE_KINDS:
            return await self._change(message)
        return await self._text(message)

    async def _change(self, message: OutboundMessage) -> str:
        """Edit (`chat.update`) or delete (`chat.delete`) a message the bot sent to a
        customer's DM, `meta["target"]` (the `channel:ts` its send returned)."""
        target = str(message.meta.get("target") or "")
        channel, ts = split_id(target)
        if not channel or not ts:
            raise PermanentSendError(f"not a Slack message id: {target!r}")
        try:
            if message.kind == "delete":
                await guarded(self.client.chat_delete(channel=channel, ts=ts))
            else:
                await guarded(
                    self.client.chat_update(
                        channel=channel,
                        ts=ts,
                        text=blocks.clip(message.text, blocks.FALLBACK_MAX),
                        blocks=blocks.customer_blocks(message.text, ()),
                    )
                )
        except PermanentSendError as exc:
            if exc.reason != "message_not_found":
                raise
            raise PermanentSendError(
                "the message is no longer in the customer's Slack DM (message_not_found)"
            ) from None
        return target

    async def _text(self, message: OutboundMessage) -> str | None:
        thread = message.chat.thread_id
        response = await guarded(
            self.client.chat_postMessage(
                channel=message.chat.chat_id,
                text=blocks.clip(message.text, blocks.FALLBACK_MAX),
                blocks=blocks.customer_blocks(message.text, message.buttons),
                thread_ts=thread if thread and not thread.startswith("command:") else None,
                unfurl_links=False,
            )
        )
        return _ts(response)

    async def _post_card(self, message: OutboundMessage) -> str | None:
        view = _view(message)
        response = await guarded(
            self.client.chat_postMessage(
                channel=message.chat.chat_id,
                text=blocks.card_text(view),
                blocks=blocks.card_blocks(view, departments=self.departments()),
                unfurl_links=False,
            )
        )
        return _ts(response)

    async def _update_card(self, message: OutboundMessage) -> str | None:
        view = _view(message)
        card = message.meta.get("card")
        if isinstance(card, dict) and card.get("channel") and card.get("ts"):
            place: tuple[str, str] | None = (str(card["channel"]), str(card["ts"]))
        else:
            place = await self._thread(_ticket_number(message))
        if place is None:
            # No card yet (e.g. the hand-off card failed): post one; the sent hook stores it.
            return await self._post_card(message)
        channel, ts = place
        await guarded(
            self.client.chat_update(
                channel=channel,
                ts=ts,
                text=blocks.card_text(view),
                blocks=blocks.card_blocks(view, departments=self.departments()),
            )
        )
        return f"{channel}:{ts}"

    async def _thread(self, number: int | None) -> tuple[str, str] | None:
        if number is None:
            return None
        async with self.db.session() as session:
            row = await thread_for_ticket(session, number)
            return (row.channel, row.card_ts) if row is not None else None

    async def _thread_or_wait(self, message: OutboundMessage) -> tuple[str, str]:
        number = _ticket_number(message)
        place = await self._thread(number)
        if place is None:
            # A card is sent before the messages of its thread (same chat, in order, across
            # replicas too), so no card now means it was refused: these cannot go anywhere.
            raise PermanentSendError(f"ticket #{number} has no card in Slack ({NO_CARD})")
        return place

    async def _mirror(self, message: OutboundMessage) -> str | None:
        channel, thread = await self._thread_or_wait(message)
        response = await guarded(
            self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread,
                text=blocks.mirror_text(message.meta),
                unfurl_links=False,
            )
        )
        for item in message.meta.get("attachments") or []:
            if isinstance(item, dict):
                await self._copy_file(item, message.meta, channel, thread)
        return _ts(response)

    async def _copy_file(
        self, item: dict[str, Any], meta: dict[str, Any], channel: str, thread: str
    ) -> None:
        """Upload a customer's attachment to the ticket's thread, or say why it could not be."""
        name = str(item.get("name") or item.get("kind") or "file")
        source_name = str(item.get("channel") or meta.get("source_channel") or "")
        if not source_name:
            source_name = CHANNEL if str(item.get("file_id", "")).startswith("F") else ""
        source = self if source_name == CHANNEL else self.sources.get(source_name)
        fetch = getattr(source, "fetch_file", None)
        reason = f"{source_name or 'its channel'} cannot hand over files"
        if fetch is not None:
            try:
                content = await fetch(str(item.get("file_id")))
            except SendError as exc:
                reason = exc.reason
            else:
                await guarded(
                    self.client.files_upload_v2(
                        channel=channel,
                        thread_ts=thread,
                        content=content,
                        filename=name,
                        title=name,
                    )
                )
                return
        await guarded(
            self.client.chat_postMessage(
                channel=channel,
                thread_ts=thread,
                text=f"📎 {blocks.escape(name)} (not copied here: {blocks.escape(reason)})",
            )
        )

    async def fetch_file(self, file_id: str) -> bytes:
        """The content of a file shared with the bot in Slack (for mirroring it elsewhere)."""
        info = await guarded(self.client.files_info(file=file_id))
        file = info.get("file") or {}
        url = file.get("url_private_download") or file.get("url_private")
        if not url:
            raise PermanentSendError(f"file {file_id} has no download URL")
        headers = {"Authorization": f"Bearer {self._token}"}
        try:
            async with (
                aiohttp.ClientSession() as http,
                http.get(url, headers=headers, timeout=aiohttp.ClientTimeout(total=60)) as resp,
            ):
                if resp.status != 200:
                    raise TransientSendError(f"file download answered HTTP {resp.status}")
                return await resp.read()
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientSendError(f"file download failed: {type(exc).__name__}") from None

    async def _draft(self, message: OutboundMessage) -> str | None:
        meta = message.meta
        draft_blocks = blocks.draft_blocks(meta)
        fallback = blocks.clip(f"Draft for #{meta.get('ticket_number')}: {meta.get('text', '')}")
        replace = meta.get("replace_ts")
        if replace:
            channel = str(meta.get("channel") or message.chat.chat_id)
            await guarded(
                self.client.chat_update(
                    channel=channel, ts=str(replace), text=fallback, blocks=draft_blocks
                )
            )
            return f"{channel}:{replace}"
        channel, thread = await self._thread_or_wait(message)
        response = await guarded(
            self.client.chat_postMessage(
                channel=channel, thread_ts=thread, text=fallback, blocks=draft_blocks
            )
        )
        return _ts(response)

    async def _react(self, message: OutboundMessage) -> str | None:
        # already reacted: the message shows what it should
        with contextlib.suppress(_Harmless):
            await guarded(
                self.client.reactions_add(
                    channel=message.chat.chat_id,
                    timestamp=str(message.meta.get("ts")),
                    name=str(message.meta.get("name") or DELIVERED),
                )
            )
        return None

    async def _open_modal(self, message: OutboundMessage) -> str | None:
        response = await guarded(
            self.client.views_open(
                trigger_id=str(message.meta.get("trigger_id")), view=message.meta["view"]
            )
        )
        view = response.get("view") or {}
        return str(view.get("id")) if view.get("id") else None

    async def _notice(self, message: OutboundMessage) -> str | None:
        meta = message.meta
        text = blocks.clip(message.text, blocks.FALLBACK_MAX)
        if meta.get(IMAGE_META_KEY):
            return await self._post_chart(message, text)
        if meta.get("response_url"):
            return await self._respond(
                str(meta["response_url"]),
                text,
                meta.get("blocks"),
                replace=bool(meta.get("replace_original")),
            )
        thread = message.chat.thread_id
        if thread and thread.startswith("command:"):
            thread = None
        if meta.get("ephemeral_user"):
            response = await guarded(
                self.client.chat_postEphemeral(
                    channel=message.chat.chat_id,
                    user=str(meta["ephemeral_user"]),
                    text=text,
                    blocks=meta.get("blocks") or None,
                    thread_ts=thread,
                )
            )
            return str(response.get("message_ts") or "") or None
        if thread is None and message.ticket_number is not None and meta.get("in_thread"):
            place = await self._thread(message.ticket_number)
            if place is not None:
                thread = place[1]
        response = await guarded(
            self.client.chat_postMessage(
                channel=message.chat.chat_id,
                text=text,
                blocks=meta.get("blocks") or None,
                thread_ts=thread,
                unfurl_links=False,
            )
        )
        return _ts(response)

    async def _post_chart(self, message: OutboundMessage, text: str) -> str | None:
        """A notice with a PNG chart (reports): the image uploaded to the channel with the text
        as its comment. Where the bot may not post (a slash command typed in a channel it is
        not in), the text still reaches the user through the command's response_url."""
        meta = message.meta
        try:
            png = base64.b64decode(str(meta[IMAGE_META_KEY]), validate=True)
        except (binascii.Error, ValueError):
            raise PermanentSendError("the chart attached to the notice is not base64") from None
        thread = message.chat.thread_id
        if thread and thread.startswith("command:"):
            thread = None
        try:
            response = await guarded(
                self.client.files_upload_v2(
                    channel=message.chat.chat_id,
                    thread_ts=thread,
                    content=png,
                    filename=str(meta.get("image_filename") or "chart.png"),
                    title=str(meta.get("image_title") or "chart"),
                    initial_comment=text,
                )
            )
        except PermanentSendError as exc:
            if not meta.get("response_url"):
                raise
            note = (
                f"{text}\n_The chart could not be posted here ({exc.reason}): invite the bot to "
                "this channel to get it._"
            )
            return await self._respond(str(meta["response_url"]), note, None)
        files = response.get("files") or [response.get("file") or {}]
        first = files[0] if files and isinstance(files[0], dict) else {}
        return str(first.get("id") or "") or None

    async def _respond(
        self, url: str, text: str, extra: Any, *, replace: bool = False
    ) -> str | None:
        """A private answer through a response_url; `replace`: in place of the private
        message the interaction came from."""
        webhook = AsyncWebhookClient(url, timeout=10)
        try:
            response = await webhook.send(
                text=text,
                blocks=extra or None,
                response_type="ephemeral",
                replace_original=True if replace else None,
            )
        except (aiohttp.ClientError, TimeoutError) as exc:
            raise TransientSendError(f"response_url: {type(exc).__name__}") from None
        if response.status_code == 429 or response.status_code >= 500:
            raise TransientSendError(f"response_url answered HTTP {response.status_code}")
        if response.status_code >= 400:
            raise PermanentSendError(f"response_url answered HTTP {response.status_code}")
        return None

    # ------------------------------------------------------------------ outbox hooks

    async def on_sent(
        self,
        session: AsyncSession,
        row: OutboxRow,
        message: OutboundMessage,
        platform_id: str | None,
    ) -> None:
        """After a send: remember card ts; confirm an agent's relayed reply with a reaction."""
        if row.channel == CHANNEL and message.kind in CARD_KINDS and platform_id:
            number = _ticket_number(message)
            channel, ts = split_id(platform_id)
            # A card_update posts a card only when there was none: remember that one too.
            first = message.kind == "ticket_card" or (
                number is not None and await thread_for_ticket(session, number) is None
            )
            if number is not None and first and ts:
                await remember_card(session, ticket_number=number, channel=channel, card_ts=ts)
        confirm = message.meta.get("slack_confirm")
        if isinstance(confirm, dict) and confirm.get("ts"):
            enqueue(session, _reaction(confirm, DELIVERED), ticket_id=row.ticket_id)
        change = message.meta.get(CHANGE_KEY)
        if isinstance(change, dict) and change.get("ts") and message.kind in CHANGE_KINDS:
            done = (
                _reaction(change, EDITED)
                if message.kind == "edit"
                else _thread_notice(change, message, deleted_text(str(change.get("agent"))))
            )
            enqueue(session, done, ticket_id=row.ticket_id)
        if row.channel == CHANNEL and message.kind == "notice" and message.meta.get("sla"):
            await self._refresh_card(session, message.ticket_number)

    async def _refresh_card(self, session: AsyncSession, number: int | None) -> None:
        """An SLA warning or breach (and what its actions changed) shows on the card too."""
        if number is None:
            return
        ticket = await session.scalar(select(Ticket).where(Ticket.number == number))
        update = await card_update(session, ticket) if ticket is not None else None
        if ticket is not None and update is not None:
            enqueue(session, update, ticket_id=ticket.id)

    async def on_failed(
        self, session: AsyncSession, row: OutboxRow, message: OutboundMessage, reason: str
    ) -> None:
        """After a permanent failure: mark the agent's reply as not delivered and tell admins."""
        confirm = message.meta.get("slack_confirm")
        if isinstance(confirm, dict) and confirm.get("ts"):
            enqueue(session, _reaction(confirm, NOT_DELIVERED), ticket_id=row.ticket_id)
            text = f"⚠️ Not delivered to the customer ({row.channel}): {reason}"
            enqueue(session, _thread_notice(confirm, message, text), ticket_id=row.ticket_id)
        change = message.meta.get(CHANGE_KEY)
        if isinstance(change, dict) and change.get("ts") and message.kind in CHANGE_KINDS:
            before = str(message.meta.get("before") or "")
            why = still_sees(message.kind, str(change.get("agent")), blocks.escape(reason), before)
            enqueue(session, _thread_notice(change, message, why), ticket_id=row.ticket_id)
        await self._record_on_ticket(session, row, message, reason)
        if row.channel != CHANNEL or message.meta.get("system") or message.kind == "reaction":
            return
        if message.kind in CHANGE_KINDS:
            return  # the thread was told
        if NO_CARD in reason:
            return  # the card's own failure was reported
        if not self.admin_channel or message.chat.chat_id == self.admin_channel:
            return
        number = _ticket_number(message)
        where = f"<#{message.chat.chat_id}>" if message.chat.chat_id[:1] in "CG" else "a chat"
        about = f" for ticket #{number}" if number is not None else ""
        enqueue(
            session,
            OutboundMessage(
                chat=ChatRef(CHANNEL, self.admin_channel),
                text=f"⚠️ Slack refused a {message.kind} message{about} to {where}: {reason}",
                kind="notice",
                ticket_number=number,
                meta={"system": True},
            ),
            ticket_id=row.ticket_id,
        )

    async def on_delayed(
        self,
        session: AsyncSession,
        row: OutboxRow,
        message: OutboundMessage,
        reason: str,
        window: timedelta,
    ) -> None:
        """An agent's reply still not delivered after a few tries: say so in the thread, once
        (the outbox calls this once per row); ✅ or ❌ follows when it is settled."""
        confirm = message.meta.get("slack_confirm")
        if not isinstance(confirm, dict) or not confirm.get("ts"):
            return
        text = (
            f"⏳ Not delivered to the customer yet ({row.channel}: {blocks.escape(reason)}); "
            f"still trying for up to {hours(window)}."
        )
        enqueue(session, _thread_notice(confirm, message, text), ticket_id=row.ticket_id)

    @staticmethod
    async def _record_on_ticket(
        session: AsyncSession, row: OutboxRow, message: OutboundMessage, reason: str
    ) -> None:
        """The failure goes in the ticket's event log (append-only, with the reason)."""
        if row.ticket_id is None or message.kind == "reaction":
            return
        ticket = await session.get(Ticket, row.ticket_id)
        if ticket is None:
            return
        events.record(
            session,
            ticket,
            "send_failed",
            actor="system",
            to_value=f"{row.channel}:{message.kind}",
            reason=reason,
        )


def _reaction(confirm: dict[str, Any], name: str) -> OutboundMessage:
    return OutboundMessage(
        chat=ChatRef(CHANNEL, str(confirm.get("channel"))),
        text="",
        kind="reaction",
        meta={"ts": confirm.get("ts"), "name": name, "system": True},
    )


def _thread_notice(confirm: dict[str, Any], message: OutboundMessage, text: str) -> OutboundMessage:
    """A system notice in the thread of the agent's reply `message` (`confirm`: where it is)."""
    return OutboundMessage(
        chat=ChatRef(CHANNEL, str(confirm.get("channel"))),
        text=text,
        kind="notice",
        ticket_number=message.ticket_number,
        meta={"in_thread": True, "system": True},
    )


def _view(message: OutboundMessage) -> dict[str, Any]:
    view = message.meta.get("ticket")
    if not isinstance(view, dict):
        raise PermanentSendError(f"{message.kind} without a ticket view")
    return view


def _ticket_number(message: OutboundMessage) -> int | None:
    if message.ticket_number is not None:
        return message.ticket_number
    view = message.meta.get("ticket")
    candidates = [
        view.get("number") if isinstance(view, dict) else None,
        message.meta.get("ticket_number"),
    ]
    for value in candidates:
        if isinstance(value, int):
            return value
        if isinstance(value, str) and value.isdigit():
            return int(value)
    return None


def _ts(response: AsyncSlackResponse) -> str | None:
    """The platform id of a posted message: `channel id:ts` (the channel as Slack resolved
    it, also when it was given as #name)."""
    ts = response.get("ts")
    return f"{response.get('channel')}:{ts}" if ts else None


def split_id(platform_id: str) -> tuple[str, str]:
    """(channel id, ts) of a platform id made by `_ts`."""
    channel, _, ts = platform_id.partition(":")
    return channel, ts


async def guarded(call: Awaitable[T]) -> T:
    """Await a Web API call, translating Slack's failures into the pipeline's send errors."""
    try:
        return await call
    except SlackApiError as exc:
        raise _translate(exc) from None
    except (aiohttp.ClientError, TimeoutError, SlackRequestError) as exc:
        raise TransientSendError(f"Slack unreachable: {type(exc).__name__}") from None


def _translate(exc: SlackApiError) -> SendError:
    response = exc.response
    # A body that is not JSON leaves slack_sdk holding aiohttp's response (`status`), not its
    # own (`status_code`).
    status = int(getattr(response, "status_code", None) or getattr(response, "status", 200) or 200)
    error = ""
    try:
        error = str(response.get("error") or "")
    except (AttributeError, TypeError):
        error = ""
    if error in IGNORED_ERRORS:
        return _Harmless(error)
    if status == 429 or error in {"ratelimited", "rate_limited"}:
        retry_after = _retry_after(getattr(response, "headers", {}) or {})
        return TransientSendError(
            f"rate limited by Slack: {error or status}", retry_after=retry_after
        )
    if error in AUTH_ERRORS:
        return TransientSendError(f"Slack rejected SLACK_BOT_TOKEN ({error})")
    if not error:
        # Slack names every refusal; a body without `error` (not JSON, a proxy's page) is
        # not one, and trying again may well work.
        return TransientSendError(f"Slack answered HTTP {status} without a readable body")
    if status >= 500 or error in TRANSIENT_ERRORS:
        return TransientSendError(f"Slack error: {error}")
    return PermanentSendError(error)


class _Harmless(SendError):
    """An error that means the desired state already holds (e.g. already reacted)."""


def _retry_after(headers: Mapping[str, Any]) -> float | None:
    for key, value in headers.items():
        if key.lower() == "retry-after":
            raw = value[0] if isinstance(value, list) and value else value
            try:
                return max(0.0, float(raw))
            except (TypeError, ValueError):
                return None
    return None
