"""`POST /telegram/webhook`: check the secret, commit the update to the inbox, then answer 200."""

from __future__ import annotations

import hmac
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from bots.pipeline.channel import Channel
from bots.pipeline.workers import Wakeup
from bots.telegram.parse import CHANNEL

log = logging.getLogger(__name__)

SECRET_HEADER = "X-Telegram-Bot-Api-Secret-Token"
MAX_BODY_BYTES = 1_048_576
"""Updates are a few kilobytes; anything past a megabyte is not from Telegram."""

PATH = "/telegram/webhook"

Endpoint = Callable[[Request], Awaitable[Response]]
Store = Callable[..., Awaitable[bool]]
"""Commits one event to the inbox: `IngestThread.ingest` in `serve`, keywords of
`bots.pipeline.store.ingest` without the database."""


def chat_key_for(channel: Channel, update: dict[str, Any]) -> str | None:
    """The inbox ordering key of an update (`telegram:<chat_id>[:<topic>]`), None to ignore it.

    The key is the parsed message's `chat.key`, so one chat's updates are processed in order.
    An update that cannot be parsed yet (e.g. a group message before the bot knows its name)
    is still kept, under its raw chat id, for the inbox to retry: nothing is lost.
    """
    try:
        message = channel.parse(update)
    except Exception as exc:
        log.warning("telegram update %s kept unparsed: %s", update.get("update_id"), exc)
        return f"{CHANNEL}:{_raw_chat_id(update)}"
    return None if message is None else message.chat.key


def _raw_chat_id(update: dict[str, Any]) -> str:
    for kind in ("message", "edited_message"):
        body = update.get(kind)
        if isinstance(body, dict) and isinstance(body.get("chat"), dict):
            return str(body["chat"].get("id", "unknown"))
    query = update.get("callback_query")
    if isinstance(query, dict):
        message = query.get("message")
        if isinstance(message, dict) and isinstance(message.get("chat"), dict):
            return str(message["chat"].get("id", "unknown"))
        if isinstance(query.get("from"), dict):
            return str(query["from"].get("id", "unknown"))
    return "unknown"


def _error(status: int, message: str) -> Response:
    return JSONResponse({"ok": False, "error": message}, status_code=status)


def webhook_endpoint(
    channel: Channel, store: Store, secret: str, wakeup: Wakeup | None = None
) -> Endpoint:
    """The Starlette endpoint for Telegram's webhook calls.

    403 without the right secret, 413 past the size limit, 400 for a body that is not an
    Update: nothing is stored in those cases. Otherwise the update is committed to the
    inbox (a redelivered `update_id` is a no-op) before the 200 that tells Telegram it is
    safe; 503 when the database cannot take it, so Telegram delivers it again later.
    """
    expected = secret.encode("utf-8")

    async def endpoint(request: Request) -> Response:
        given = request.headers.get(SECRET_HEADER, "").encode("utf-8")
        if not hmac.compare_digest(given, expected):
            return _error(403, "wrong or missing secret token")
        declared = request.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return _error(413, "update too large")
        body = bytearray()
        async for chunk in request.stream():
            body.extend(chunk)
            if len(body) > MAX_BODY_BYTES:
                return _error(413, "update too large")
        try:
            update = json.loads(bytes(body).decode("utf-8"))
        except (UnicodeDecodeError, ValueError, RecursionError):
            return _error(400, "body is not UTF-8 JSON")
        update_id = update.get("update_id") if isinstance(update, dict) else None
        if not isinstance(update_id, int) or isinstance(update_id, bool):
            return _error(400, "not a Telegram update: no integer update_id")
        key = chat_key_for(channel, update)
        if key is None:
            return Response(status_code=200)
        try:
            await store(channel=CHANNEL, platform_id=str(update_id), chat_key=key, payload=update)
        except Exception as exc:
            log.error("telegram update %s not stored: %s", update_id, type(exc).__name__)
            return _error(503, "could not store the update; deliver it again later")
        if wakeup is not None:
            wakeup.set()
        return Response(status_code=200)

    return endpoint
