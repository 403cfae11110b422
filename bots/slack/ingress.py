"""Slack requests in: a slack-bolt `AsyncApp` that commits every request to the inbox, then acks.

Why Bolt runs no listeners here: Bolt acknowledges from memory, so a crash after the ack loses
the event and Slack will not resend it. Instead one middleware, placed after Bolt's signature
check (5-minute window, constant-time compare) and before authorization, stores the verified
body in the inbox (`bots.pipeline.store.ingest`, unique on the event id or interaction id) and
only then returns the 200 (HTTP) or lets Bolt ack the envelope (Socket Mode). The inbox worker
does the rest. Redeliveries (`X-Slack-Retry-Num`) hit the unique id and are no-ops.

The commit runs on the shared ingest thread (`bots.pipeline.ingest_thread.IngestThread`, with
its own event loop and connection pool): the workers share the server's event loop, and a busy
worker would otherwise hold every acknowledgement back behind its own steps.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import AsyncSlackRequestHandler
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

from bots.pipeline.ingest_thread import IngestThread
from bots.pipeline.workers import Wakeup
from bots.slack.parse import CHANNEL, parse

log = logging.getLogger(__name__)

PATH = "/slack/events"


class InboxMiddleware(AsyncMiddleware):
    """Stores each verified Slack request in the inbox before it is acknowledged."""

    def __init__(self, ingester: IngestThread, wakeup: Wakeup | None = None) -> None:
        self.ingester = ingester
        self.wakeup = wakeup

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse | None:
        body = req.body
        if body.get("type") == "url_verification":
            return await next()  # Bolt answers the challenge
        message = parse(body)
        if message is None:
            log.debug("slack: %s not handled, acknowledged", body.get("type"))
            return BoltResponse(status=200, body="")
        try:
            stored = await self.ingester.ingest(
                channel=CHANNEL,
                platform_id=message.platform_id,
                chat_key=message.chat.key,
                payload=body,
            )
        except Exception as exc:
            # Not stored: answer an error so Slack retries (events) or the user sees it failed.
            log.error("slack: could not store %s: %s", message.platform_id, type(exc).__name__)
            return BoltResponse(status=503, body="")
        if stored:
            if self.wakeup is not None:
                self.wakeup.set()
        else:
            retry = req.headers.get("x-slack-retry-num")
            log.info(
                "slack: %s already stored (retry %s)", message.platform_id, retry[0] if retry else 0
            )
        return BoltResponse(status=200, body="")


def build_app(
    client: AsyncWebClient,
    ingester: IngestThread,
    *,
    signing_secret: str | None,
    wakeup: Wakeup | None = None,
) -> AsyncApp:
    """The Bolt app: signature check (HTTP), url_verification and ssl_check, then the inbox."""
    return AsyncApp(
        name="relaydesk",
        client=client,  # carries the bot token
        signing_secret=signing_secret,
        process_before_response=True,
        request_verification_enabled=signing_secret is not None,
        ignoring_self_events_enabled=False,  # done by parsing: bot posts are not stored
        before_authorize=InboxMiddleware(ingester, wakeup),
    )


def events_route(app: AsyncApp) -> Route:
    """`POST /slack/events`: events, interactivity and the slash command on one endpoint."""
    handler = AsyncSlackRequestHandler(app)

    async def endpoint(request: Request) -> Response:
        return await handler.handle(request)

    return Route(PATH, endpoint, methods=["POST"])


class SlackLifecycle:
    """Runs beside the workers: one HTTP session for every Web API call (connections reused),
    and the Socket Mode connection when `SLACK_APP_TOKEN` is set."""

    def __init__(
        self,
        app: AsyncApp,
        client: AsyncWebClient,
        *,
        app_token: str | None = None,
    ) -> None:
        self.app = app
        self.client = client
        self.app_token = app_token
        self.socket: AsyncSocketModeHandler | None = None

    async def start(self) -> None:
        """Open the HTTP session; connect Socket Mode (apps.connections.open, then the
        WebSocket)."""
        if self.client.session is None or self.client.session.closed:
            self.client.session = aiohttp.ClientSession(
                timeout=aiohttp.ClientTimeout(total=self.client.timeout)
            )
        if self.app_token is not None:
            self.socket = AsyncSocketModeHandler(
                self.app, app_token=self.app_token, web_client=self.client
            )
            await self.socket.connect_async()
            log.info("slack: Socket Mode connected")

    async def stop(self) -> None:
        """Close the WebSocket and the HTTP session."""
        if self.socket is not None:
            await self.socket.close_async()
            self.socket = None
        if self.client.session is not None:
            await self.client.session.close()
            self.client.session = None
