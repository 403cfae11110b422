"""Log records are scrubbed of secrets, and chatty clients stay at WARNING even at DEBUG."""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest
from pydantic import SecretStr

from bots import logs
from bots.settings import Settings


@pytest.fixture(autouse=True)
def _restore_logging() -> Iterator[None]:
    """`logs.configure` changes process-wide logging; put it back for the other tests."""
    root = logging.getLogger()
    factory = logging.getLogRecordFactory()
    handlers, level = list(root.handlers), root.level
    levels = {name: logging.getLogger(name).level for name in logs.CHATTY_LIBRARIES}
    yield
    logging.setLogRecordFactory(factory)
    for handler in list(root.handlers):
        root.removeHandler(handler)
    for handler in handlers:
        root.addHandler(handler)
    root.setLevel(level)
    for name, old in levels.items():
        logging.getLogger(name).setLevel(old)


class ListHandler(logging.Handler):
    def __init__(self) -> None:
        super().__init__()
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def test_secrets_are_masked_in_messages_and_arguments() -> None:
    settings = Settings(
        TELEGRAM_BOT_TOKEN=SecretStr("123456:ABCdefGHIjklMNOpqr"),
        SLACK_SIGNING_SECRET=SecretStr("slack-signing-secret-xyz"),
        RELAYDESK_DATABASE_URL="postgresql+asyncpg://desk:pa55w0rd-long@db/relaydesk",
    )
    assert "pa55w0rd-long" in settings.secret_values()
    logs.configure("DEBUG", settings.secret_values())
    log = logging.getLogger("bots.test")
    handler = ListHandler()
    log.addHandler(handler)
    try:
        log.warning("calling https://api/bot123456:ABCdefGHIjklMNOpqr/sendMessage")
        log.info("signed with %s", "slack-signing-secret-xyz")
        log.info("db %(url)s", {"url": "postgresql://desk:pa55w0rd-long@db"})
    finally:
        log.removeHandler(handler)
    text = "\n".join(handler.lines)
    assert len(handler.lines) == 3
    assert "ABCdefGHI" not in text and "slack-signing" not in text and "pa55w0rd" not in text
    assert text.count(logs.MASK) == 3


def test_third_party_clients_are_held_at_warning() -> None:
    logs.configure("DEBUG", [])
    assert logging.getLogger("bots").getEffectiveLevel() == logging.DEBUG
    for name in ("httpx", "telegram", "sqlalchemy", "slack_sdk", "openai"):
        assert logging.getLogger(name).getEffectiveLevel() == logging.WARNING
