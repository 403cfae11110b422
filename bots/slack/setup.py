"""Wires Slack into a running relaydesk: channel, `/slack/events`, Socket Mode, hooks, desk."""

from __future__ import annotations

import logging

from slack_sdk.web.async_client import AsyncWebClient
from starlette.routing import BaseRoute

from bots.app import Services
from bots.errors import ConfigError
from bots.slack.channel import SlackChannel
from bots.slack.directory import Directory
from bots.slack.ingress import SlackLifecycle, build_app, events_route

log = logging.getLogger(__name__)


def api_root(url: str) -> str:
    """The Web API root with the trailing slash slack_sdk needs."""
    return url if url.endswith("/") else url + "/"


def make_client(token: str, api_url: str) -> AsyncWebClient:
    """The Web API client every Slack call goes through (`RELAYDESK_SLACK_API_URL`)."""
    return AsyncWebClient(token=token, base_url=api_root(api_url), timeout=15)


def setup(services: Services) -> SlackChannel:
    """Add Slack to `services` when `SLACK_BOT_TOKEN` and a signing secret or app token are set.

    HTTP mode serves `POST /slack/events` (signatures always verified); with
    `SLACK_APP_TOKEN` a Socket Mode connection runs beside the workers. Both store every
    request in the inbox before acknowledging it. Agent actions go to the desk.
    """
    from bots.desk import Desk

    settings = services.settings
    if settings.slack_bot_token is None:
        raise ConfigError("SLACK_BOT_TOKEN is not set")
    token = settings.slack_bot_token.get_secret_value().strip()
    if not token or any(c.isspace() for c in token):
        raise ConfigError("SLACK_BOT_TOKEN: not a Slack token")
    secret = (
        settings.slack_signing_secret.get_secret_value()
        if settings.slack_signing_secret is not None
        else None
    )
    app_token = (
        settings.slack_app_token.get_secret_value()
        if settings.slack_app_token is not None
        else None
    )
    if secret is None and app_token is None:
        raise ConfigError("Slack needs SLACK_SIGNING_SECRET (HTTP mode) or SLACK_APP_TOKEN")
    client = make_client(token, settings.slack_api_url)
    directory = Directory(client)
    desk = Desk(
        services,
        admins=_ids(settings.slack_admins),
        group_members=directory.group_members,
        agent_language=settings.agent_language,
    )
    channel = SlackChannel(
        client,
        services.db,
        token=token,
        admin_channel=settings.slack_admin_channel,
        departments=desk.department_names,
        sources=services.channels,
    )
    app = build_app(
        client, services.ingest_thread(), signing_secret=secret, wakeup=services.inbox_wakeup
    )
    routes: list[BaseRoute] = [events_route(app, secret)] if secret is not None else []
    lifecycle = SlackLifecycle(app, client, app_token=app_token)
    services.add_channel(channel, routes, lifecycle)
    services.sent_hooks.append(channel.on_sent)
    services.failed_hooks.append(channel.on_failed)
    services.delayed_hooks.append(channel.on_delayed)
    services.desk = desk
    # The engine tells agents about tickets through these: card, mirrored messages, drafts.
    services.conversation.on_handoff.append(desk.on_handoff)
    services.conversation.on_follow_up.append(desk.on_follow_up)
    log.info("slack: %s", "Socket Mode" if app_token else "HTTP mode at /slack/events")
    return channel


def _ids(raw: str) -> frozenset[str]:
    return frozenset(part.strip() for part in raw.replace(";", ",").split(",") if part.strip())
