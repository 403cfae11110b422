"""A customer writing in another language than the agents: the thread gets a translation."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.db import Database
from tests.fakes.openai_server import FakeOpenAI, ok, openai_server  # noqa: F401
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.integration.slack.conftest import SlackDesk, running_with_model

TRANSLATED = "My parcel has not arrived; I want to talk to a person."


@pytest.fixture
async def with_model(
    tmp_path: Path,
    sqlite_db: Database,
    slack_api: FakeSlackApi,
    telegram_api: FakeTelegramApi,
    openai_server: FakeOpenAI,  # noqa: F811
) -> AsyncIterator[SlackDesk]:
    async with running_with_model(
        tmp_path, sqlite_db, slack_api, telegram_api, openai_server, ok(TRANSLATED)
    ) as relaydesk:
        yield relaydesk


async def test_polish_customer_message_gets_an_english_translation(with_model: SlackDesk) -> None:
    number = await with_model.hand_off(301, "Paczka nie dotarła, chcę rozmawiać z człowiekiem")
    thread = [c["text"] for c in with_model.thread(number)]
    assert any("Paczka nie dotarła" in t for t in thread)  # the customer's own words
    assert f"_Translation (en):_ {TRANSLATED}" in thread


async def test_without_a_model_no_translation_notes_are_posted(slack: SlackDesk) -> None:
    number = await slack.hand_off(302, "Paczka nie dotarła, chcę rozmawiać z człowiekiem")
    assert not any("Translation" in c["text"] for c in slack.thread(number))
