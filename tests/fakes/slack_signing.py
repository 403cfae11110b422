"""Signs requests the way Slack does (`v0=` HMAC-SHA256 over `v0:{timestamp}:{body}`).

Independent of slack_sdk on purpose, so a test can check the library's verifier against it and
against the official test vector.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from typing import Any
from urllib.parse import urlencode


def signature(secret: str, timestamp: str, body: str) -> str:
    """The `X-Slack-Signature` value of `body` sent at `timestamp`."""
    base = f"v0:{timestamp}:{body}".encode()
    return "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()


def signed_headers(
    secret: str, body: str, *, timestamp: int | None = None, content_type: str | None = None
) -> dict[str, str]:
    """Headers of a request Slack would send with `body` (now, unless `timestamp` is given)."""
    ts = str(int(time.time()) if timestamp is None else timestamp)
    headers = {
        "X-Slack-Request-Timestamp": ts,
        "X-Slack-Signature": signature(secret, ts, body),
    }
    if content_type is None:
        content_type = (
            "application/json"
            if body.lstrip().startswith("{")
            else "application/x-www-form-urlencoded"
        )
    headers["Content-Type"] = content_type
    return headers


def event_body(payload: dict[str, Any]) -> str:
    """An Events API request body (JSON)."""
    return json.dumps(payload)


def interactivity_body(payload: dict[str, Any]) -> str:
    """An interactivity request body: form-encoded `payload=<JSON>`."""
    return urlencode({"payload": json.dumps(payload)})


def command_body(**fields: str) -> str:
    """A slash command request body (form-encoded)."""
    return urlencode(fields)
