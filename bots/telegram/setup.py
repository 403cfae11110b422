"""Wires the Telegram channel into a running relaydesk: channel, webhook route, lifecycle."""

from __future__ import annotations

import logging
import re

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import Route

from bots.app import Lifecycle, Services
from bots.errors import ConfigError
from bots.messages import OutboundMessage
from bots.pipeline.models import OutboxRow
from bots.settings import Settings
from bots.telegram.channel import TelegramChannel, make_bot
from bots.telegram.lifecycle import Poller, WebhookRegistration
from bots.telegram.parse import CHANNEL
from bots.telegram.webhook import PATH, webhook_endpoint
from tickets import events
from tickets.models import Ticket

_SECRET = re.compile(r"^[A-Za-z0-9_-]{1,256}$")


class RedactToken(logging.Filter):
    """Replaces the bot token in log records of the HTTP and Telegram libraries (request URLs
    carry it: `/bot<token>/sendMessage`)."""

    def __init__(self, token: str) -> None:
        super().__init__()
        self.token = token

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        if self.token in message:
            record.msg = message.replace(self.token, "<token>")
            record.args = ()
        return True


def _quiet_libraries(token: str) -> None:
    for name in ("httpx", "httpcore", "telegram", "telegram.ext"):
        logger = logging.getLogger(name)
        # Request lines and parameters (message bodies) only at WARNING and up.
        logger.setLevel(max(logger.getEffectiveLevel(), logging.WARNING))
        if not any(isinstance(f, RedactToken) for f in logger.filters):
            logger.addFilter(RedactToken(token))


def _webhook_secret(settings: Settings) -> str:
    if settings.telegram_webhook_secret is None:
        raise ConfigError(
            "RELAYDESK_TELEGRAM_WEBHOOK_SECRET is required with RELAYDESK_TELEGRAM_WEBHOOK_URL"
        )
    secret = settings.telegram_webhook_secret.get_secret_value()
    if not _SECRET.match(secret):
        raise ConfigError(
            "RELAYDESK_TELEGRAM_WEBHOOK_SECRET: 1-256 characters of A-Z, a-z, 0-9, _ and -"
        )
    return secret


async def record_failure(
    session: AsyncSession, row: OutboxRow, message: OutboundMessage, reason: str
) -> None:
    """After a permanent send failure (blocked bot, chat gone): note it on the ticket."""
    if row.channel != CHANNEL or row.ticket_id is None:
        return
    ticket = await session.get(Ticket, row.ticket_id)
    if ticket is not None:
        events.record(
            session,
            ticket,
            "delivery_failed",
            actor=CHANNEL,
            to_value=message.chat.chat_id,
            reason=f"not delivered on Telegram: {reason}",
        )


def setup(services: Services) -> None:
    """Add the Telegram channel to `services` when `TELEGRAM_BOT_TOKEN` is set.

    Webhook mode (`RELAYDESK_TELEGRAM_WEBHOOK_URL`, with its secret) serves
    `POST /telegram/webhook` and registers the webhook at start; otherwise a long-polling
    loop runs beside the workers. Both register the command menus in English and Polish.
    Raises `ConfigError` naming the variable when the configuration cannot work.
    """
    settings = services.settings
    if settings.telegram_bot_token is None:
        raise ConfigError("TELEGRAM_BOT_TOKEN is not set")
    token = settings.telegram_bot_token.get_secret_value()
    if not token.strip() or any(c.isspace() or c == "/" for c in token):
        raise ConfigError("TELEGRAM_BOT_TOKEN: not a bot token (no spaces or slashes)")
    _quiet_libraries(token)
    channel = TelegramChannel(
        make_bot(token, settings.telegram_api_url),
        groups=settings.telegram_groups,
        send_rate=settings.telegram_send_rate,
    )
    lifecycle: Lifecycle
    routes: list[Route] = []
    if settings.telegram_webhook_url:
        secret = _webhook_secret(settings)
        endpoint = webhook_endpoint(
            channel, services.ingest_thread().ingest, secret, services.inbox_wakeup
        )
        routes.append(Route(PATH, endpoint, methods=["POST"]))
        lifecycle = WebhookRegistration(channel, url=settings.telegram_webhook_url, secret=secret)
    else:
        lifecycle = Poller(channel, services.db, wakeup=services.inbox_wakeup)
    services.add_channel(channel, routes, lifecycle)
    services.failed_hooks.append(record_failure)
