"""Bot API errors become transient or permanent send errors; bad settings fail in one line."""

from __future__ import annotations

import logging
from pathlib import Path

import pytest
from pydantic import ValidationError
from telegram.error import (
    BadRequest,
    ChatMigrated,
    Forbidden,
    InvalidToken,
    NetworkError,
    RetryAfter,
    TimedOut,
)

from bots.app import build
from bots.errors import ConfigError
from bots.pipeline.channel import PermanentSendError, TransientSendError
from bots.pipeline.ingest_thread import IngestLifecycle
from bots.settings import Settings
from bots.telegram import setup
from bots.telegram.channel import TelegramChannel, translate_error
from bots.telegram.lifecycle import Poller, WebhookRegistration
from bots.telegram.setup import RedactToken

TOKEN = "123456:ABC-secret-token"


def test_retry_after_keeps_the_wait() -> None:
    error = translate_error(RetryAfter(14))
    assert isinstance(error, TransientSendError)
    assert error.retry_after == 14.0


@pytest.mark.parametrize(
    ("exc", "kind", "says"),
    [
        (Forbidden("Forbidden: bot was blocked by the user"), PermanentSendError, "blocked"),
        (BadRequest("Bad Request: chat not found"), PermanentSendError, "chat not found"),
        (ChatMigrated(-1001), PermanentSendError, "-1001"),
        (TimedOut(), TransientSendError, "timed out"),
        (NetworkError("Bad Gateway"), TransientSendError, "Bad Gateway"),
        (NetworkError("Internal Server Error"), TransientSendError, "Internal"),
        (InvalidToken(), TransientSendError, "TELEGRAM_BOT_TOKEN"),
    ],
)
def test_error_kinds(exc: Exception, kind: type, says: str) -> None:
    error = translate_error(exc)  # type: ignore[arg-type]
    assert type(error) is kind
    assert says.lower() in error.reason.lower()


def test_reasons_never_carry_the_token() -> None:
    error = translate_error(NetworkError(f"httpx.ConnectError: /bot{TOKEN}/sendMessage"), TOKEN)
    assert TOKEN not in error.reason and "<token>" in error.reason


def test_token_is_redacted_from_library_logs() -> None:
    record = logging.LogRecord(
        "httpx", logging.WARNING, __file__, 1, "POST %s failed", (f"/bot{TOKEN}/x",), None
    )
    assert RedactToken(TOKEN).filter(record)
    assert record.getMessage() == "POST /bot<token>/x failed"


def settings(tmp_path: Path, **values: object) -> Settings:
    return Settings(RELAYDESK_DATA_DIR=tmp_path, TELEGRAM_BOT_TOKEN=TOKEN, **values)


def test_polling_mode_adds_the_channel_without_a_route(tmp_path: Path) -> None:
    services = build(settings(tmp_path), knowledge=False)
    setup(services)
    assert isinstance(services.channels["telegram"], TelegramChannel)
    assert services.routes == []
    assert [type(x) for x in services.lifecycles] == [Poller]


def test_the_send_rate_is_a_setting_for_replicas_sharing_a_bot(tmp_path: Path) -> None:
    services = build(settings(tmp_path, RELAYDESK_TELEGRAM_SEND_RATE="15"), knowledge=False)
    setup(services)
    pacing = services.channels["telegram"].pacing
    assert (pacing.per_second, pacing.per_chat_interval) == (15.0, 1.0)
    default = build(settings(tmp_path), knowledge=False)
    setup(default)
    assert default.channels["telegram"].pacing.per_second == 30.0
    for wrong in ("0", "31", "fast"):
        with pytest.raises(ValidationError, match="RELAYDESK_TELEGRAM_SEND_RATE"):
            settings(tmp_path, RELAYDESK_TELEGRAM_SEND_RATE=wrong)


def test_webhook_mode_adds_the_route(tmp_path: Path) -> None:
    services = build(
        settings(
            tmp_path,
            RELAYDESK_TELEGRAM_WEBHOOK_URL="https://desk.example.com/telegram/webhook",
            RELAYDESK_TELEGRAM_WEBHOOK_SECRET="abc_DEF-123",
        ),
        knowledge=False,
    )
    setup(services)
    assert [getattr(r, "path", None) for r in services.routes] == ["/telegram/webhook"]
    # The webhook commits on the shared ingest thread, started before the registration.
    assert [type(x) for x in services.lifecycles] == [IngestLifecycle, WebhookRegistration]


@pytest.mark.parametrize(
    ("values", "says"),
    [
        (
            {"RELAYDESK_TELEGRAM_WEBHOOK_URL": "https://desk.example.com/hook"},
            "RELAYDESK_TELEGRAM_WEBHOOK_SECRET is required",
        ),
        (
            {
                "RELAYDESK_TELEGRAM_WEBHOOK_URL": "https://desk.example.com/hook",
                "RELAYDESK_TELEGRAM_WEBHOOK_SECRET": "has spaces!",
            },
            "1-256 characters",
        ),
        ({"TELEGRAM_BOT_TOKEN": "two words"}, "not a bot token"),
    ],
)
def test_unusable_settings_fail_with_the_variable_named(
    tmp_path: Path, values: dict[str, object], says: str
) -> None:
    merged: dict[str, object] = {"RELAYDESK_DATA_DIR": tmp_path, "TELEGRAM_BOT_TOKEN": TOKEN}
    merged.update(values)
    services = build(Settings(**merged), knowledge=False)  # type: ignore[arg-type]
    with pytest.raises(ConfigError, match=says):
        setup(services)
