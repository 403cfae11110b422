"""Settings refuse values that would only fail later (or never): by name, in one line."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import ValidationError

from bots.settings import Settings


def problem(tmp_path: Path, **values: str) -> str:
    with pytest.raises(ValidationError) as caught:
        Settings(**{"RELAYDESK_DATA_DIR": str(tmp_path), **values})
    first = caught.value.errors()[0]
    return f"{'.'.join(map(str, first['loc']))}: {first['msg']}"


@pytest.mark.parametrize("number", ["inf", "nan", "-inf"])
def test_numbers_must_be_finite(tmp_path: Path, number: str) -> None:
    assert problem(tmp_path, RELAYDESK_WORKER_POLL=number) == (
        "RELAYDESK_WORKER_POLL: Input should be a finite number"
    )


@pytest.mark.parametrize(
    ("variable", "value", "expected"),
    [
        (
            "RELAYDESK_TELEGRAM_API_URL",
            "api.telegram.org",
            "must be an http:// or https:// URL, not 'api.telegram.org'",
        ),
        ("RELAYDESK_SLACK_API_URL", "", "must be an http:// or https:// URL, not ''"),
        ("OPENAI_BASE_URL", "localhost:11434/v1", "must be an http:// or https:// URL"),
        ("RELAYDESK_CHROMA_URL", "ftp://chroma", "must be an http:// or https:// URL"),
        (
            "RELAYDESK_TELEGRAM_WEBHOOK_URL",
            "http://desk.example.com/telegram/webhook",
            "must be an https:// URL (Telegram delivers only to https)",
        ),
    ],
)
def test_urls_must_be_http(tmp_path: Path, variable: str, value: str, expected: str) -> None:
    assert problem(tmp_path, **{variable: value}).startswith(f"{variable}: Value error, {expected}")


def test_empty_optional_urls_are_unset(tmp_path: Path) -> None:
    settings = Settings(
        RELAYDESK_DATA_DIR=tmp_path, OPENAI_BASE_URL="", RELAYDESK_TELEGRAM_WEBHOOK_URL=""
    )
    assert settings.openai_base_url is None and settings.telegram_webhook_url is None
    assert not settings.llm_enabled


def test_the_data_dir_must_be_a_folder(tmp_path: Path) -> None:
    file = tmp_path / "data"
    file.write_text("not a folder", encoding="utf-8")
    assert problem(tmp_path, RELAYDESK_DATA_DIR=str(file)) == (
        f"RELAYDESK_DATA_DIR: Value error, {file} is a file, not a folder"
    )
