"""A model server that answers nonsense: the ticket still gets its card and an offline draft
that says why, and the draft task is done once, not retried with tracebacks."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.db import Database
from bots.pipeline.models import InboxRow
from drafting.models import Draft
from tests.fakes.openai_server import FakeOpenAI, malformed, openai_server  # noqa: F401
from tests.fakes.slack_api import FakeSlackApi
from tests.fakes.telegram_api import FakeTelegramApi
from tests.integration.slack.conftest import SlackDesk, running_with_model


@pytest.fixture
async def broken_model(
    tmp_path: Path,
    sqlite_db: Database,
    slack_api: FakeSlackApi,
    telegram_api: FakeTelegramApi,
    openai_server: FakeOpenAI,  # noqa: F811
) -> AsyncIterator[SlackDesk]:
    async with running_with_model(
        tmp_path, sqlite_db, slack_api, telegram_api, openai_server, malformed()
    ) as relaydesk:
        yield relaydesk


async def test_a_model_answering_malformed_json_still_gets_the_ticket_an_offline_draft(
    broken_model: SlackDesk, caplog: pytest.LogCaptureFixture
) -> None:
    number = await broken_model.hand_off(401, "My parcel is late, I want to talk to a person")
    assert broken_model.card_ts(number)
    draft, _ts = broken_model.draft_post(number)
    shown = json.dumps(draft["blocks"], ensure_ascii=False)
    assert "offline draft" in shown and "not a chat completion" in shown
    async with broken_model.db.session() as session:
        tasks = (
            await session.scalars(select(InboxRow).where(InboxRow.platform_id.like("task:%")))
        ).all()
        drafts = (await session.scalars(select(Draft).where(Draft.ticket_number == number))).all()
    assert [(t.state, t.attempts) for t in tasks] == [("done", 1)]
    assert sorted(d.kind for d in drafts) == ["reply", "summary"]
    assert all(d.offline for d in drafts)
    assert not [r for r in caplog.records if r.exc_info], "a traceback was logged"
