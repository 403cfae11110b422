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

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

import aiohttp
from slack_bolt.adapter.socket_mode.aiohttp import AsyncSocketModeHandler
from slack_bolt.adapter.starlette.async_handler import (
    to_async_bolt_request,
    to_starlette_response,
)
from slack_bolt.async_app import AsyncApp
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.signature import SignatureVerifier
from slack_sdk.web.async_client import AsyncWebClient
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route

from bots.pipeline.ingest_thread import IngestThread
from bots.pipeline.store import storable
from bots.pipeline.workers import Wakeup
from bots.slack.parse import CHANNEL, parse

log = logging.getLogger(__name__)

PATH = "/slack/events"
UNREADABLE_CHAT = f"{CHANNEL}:unreadable"


def _unreadable_id(body: dict[str, Any]) -> str:
    """The inbox id of a verified body `parse` cannot read: Slack's own id when it has one
    (so a retry is still a no-op), else a digest of the body."""
    for key, prefix in (("event_id", ""), ("trigger_id", "interaction:")):
        value = body.get(key)
        if isinstance(value, str) and value:
            return f"{prefix}{value}"
    raw = json.dumps(body, sort_keys=True, ensure_ascii=False, default=str)
    return "unreadable:" + hashlib.sha256(raw.encode("utf-8")).hexdigest()[:32]


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
        if req.body.get("type") == "url_verification":
            return await next()  # Bolt answers the challenge
        body = storable(req.body)  # also before parsing: the id of an unreadable one hashes it
        try:
            message = parse(body)
        except Exception as exc:
            # A shape `parse` cannot read: kept, and marked failed by the inbox worker like
            # every unreadable payload, rather than a 500 that Slack retries.
            platform_id, chat_key = _unreadable_id(body), UNREADABLE_CHAT
            log.warning("slack: %s kept unparsed: %s", platform_id, type(exc).__name__)
        else:
            if message is None:
                log.debug("slack: %s not handled, acknowledged", body.get("type"))
                return BoltResponse(status=200, body="")
            platform_id, chat_key = message.platform_id, message.chat.key
        try:
            stored = await self.ingester.ingest(
                channel=CHANNEL, platform_id=platform_id, chat_key=chat_key, payload=body
            )
        except Exception as exc:
            # Not stored: answer an error so Slack retries (events) or the user sees it failed.
            log.error("slack: could not store %s: %s", platform_id, type(exc).__name__)
            return BoltResponse(status=503, body="")
        if stored:
            if self.wakeup is not None:
                self.wakeup.set()
        else:
            retry = req.headers.get("x-slack-retry-num")
            log.info("slack: %s already stored (retry %s)", platform_id, retry[0] if retry else 0)
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


def _refused(status: int, error: str) -> Response:
    return JSONResponse({"error": error}, status_code=status)


def events_route(app: AsyncApp, signing_secret: str) -> Route:
    """`POST /slack/events`: events, interactivity and the slash command on one endpoint.

    Bolt reads the body before it checks the signature and lets a body it cannot read, or a
    timestamp that is not a number, out as a 500 with a traceback. Those are answered here:
    401 unless the request is really signed, then 400; nothing is stored.
    """
    verifier = SignatureVerifier(signing_secret)

    async def endpoint(request: Request) -> Response:
        body = await request.body()
        try:
            int(request.headers.get("x-slack-request-timestamp", "0"))
        except ValueError:
            return _refused(401, "invalid request")
        try:
            bolt_request = to_async_bolt_request(request, body)
        except Exception as exc:  # Bolt's parse of an untrusted body: any error means unreadable
            if not verifier.is_valid_request(body, dict(request.headers)):
                return _refused(401, "invalid request")
            log.warning("slack: a signed request with an unreadable body: %s", type(exc).__name__)
            return _refused(400, "not a Slack request body")
        return to_starlette_response(await app.async_dispatch(bolt_request))

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
