"""Logging that never carries secrets or message bodies.

Our own modules log ids, never texts. Third-party clients log request URLs (the Telegram bot
token is part of every Bot API URL) and, at DEBUG, whole request bodies: they are held at
WARNING whatever the level, and every record is scrubbed of the configured secrets.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterable
from typing import Any

CHATTY_LIBRARIES = (
    "httpx",
    "httpcore",
    "telegram",
    "slack_sdk",
    "slack_bolt",
    "openai",
    "chromadb",
    "aiohttp",
    "asyncio",
    "urllib3",
    "sqlalchemy",  # statement parameters carry message texts
    "aiosqlite",
    "asyncpg",
    "alembic",
    "multipart",
    "websockets",
    "matplotlib",
    "PIL",
)
MASK = "***"


class SecretScrubber:
    """A record factory wrapper that replaces secret values in messages and arguments."""

    def __init__(self, secrets: Iterable[str], factory: Any) -> None:
        self.secrets = sorted({s for s in secrets if len(s) >= 6}, key=len, reverse=True)
        self.factory = factory

    def _clean(self, value: Any) -> Any:
        if isinstance(value, str):
            for secret in self.secrets:
                if secret in value:
                    value = value.replace(secret, MASK)
        return value

    def __call__(self, *args: Any, **kwargs: Any) -> logging.LogRecord:
        record: logging.LogRecord = self.factory(*args, **kwargs)
        if self.secrets:
            record.msg = self._clean(record.msg)
            if isinstance(record.args, tuple):
                record.args = tuple(self._clean(a) for a in record.args)
            elif isinstance(record.args, dict):
                record.args = {k: self._clean(v) for k, v in record.args.items()}
        return record


_ORIGINAL_FACTORY = logging.getLogRecordFactory()


def configure(level: str, secrets: Iterable[str]) -> None:
    """Log to stderr at `level`, third-party clients at WARNING or above, secrets masked."""
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
        force=True,
    )
    floor = max(logging.WARNING, logging.getLevelName(level))
    for name in CHATTY_LIBRARIES:
        logging.getLogger(name).setLevel(floor)
    logging.setLogRecordFactory(SecretScrubber(secrets, _ORIGINAL_FACTORY))
