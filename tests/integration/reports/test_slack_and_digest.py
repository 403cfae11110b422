"""The Slack summary (text and chart) and the weekly digest, on SQLite and PostgreSQL."""

from __future__ import annotations

import base64
import json
import struct
from pathlib import Path

import pytest
from sqlalchemy import select

from bots.db import Database
from bots.pipeline.models import OutboxRow
from bots.reporting import IMAGE_META_KEY, WeeklyDigest, slack_summary
from tests.integration.reports.bot_history import NOW, at, build_bot_history
from tickets.reports import ReportError


def png_size(data: bytes) -> tuple[int, int]:
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    width, height = struct.unpack(">II", data[16:24])
    return width, height


async def test_slack_summary_text_and_chart(db: Database, tmp_path: Path) -> None:
    await build_bot_history(db, tmp_path)
    async with db.session() as session:
        text, png = await slack_summary(session, "2024-03-04..2024-03-20", now=NOW)
    lines = text.splitlines()
    assert lines[0] == "*relaydesk report* 2024-03-04 00:00 – 2024-03-21 00:00 UTC"
    # The backlog counts every ticket still waiting at the end, K's older one included.
    assert "• Tickets: 4 created, 1 resolved; backlog 4 new / 0 open / 0 pending" in lines
    assert "• Bot: 11 questions, 10 answered; deflection 2 verified (20%), 3 assumed (30%)" in lines
    assert "• Drafts: 6 shown, 60% sent (1 as is, 2 edited, mean edit distance 21.0)" in lines
    assert png_size(png) == (1200, 900)


async def test_slack_summary_refuses_a_period_it_cannot_read(db: Database) -> None:
    async with db.session() as session:
        with pytest.raises(ReportError, match="period: 'fortnight' is not a date"):
            await slack_summary(session, "fortnight", now=NOW)


async def test_weekly_digest_is_queued_once_a_week(db: Database, tmp_path: Path) -> None:
    await build_bot_history(db, tmp_path)
    digest = WeeklyDigest(db, "C0REPORTS")
    monday = at(11, 8)
    assert await digest.run_once(monday) is True
    assert await digest.run_once(at(11, 9)) is False  # another replica, same week
    async with db.session() as session:
        rows = (await session.scalars(select(OutboxRow))).all()
    assert len(rows) == 1
    assert (rows[0].channel, rows[0].chat_key) == ("slack", "slack:C0REPORTS")
    payload = json.loads(rows[0].payload)
    assert payload["kind"] == "notice"
    assert payload["text"].startswith("*relaydesk report* 2024-03-04 08:00 – 2024-03-11 08:00")
    assert png_size(base64.b64decode(payload["meta"][IMAGE_META_KEY])) == (1200, 900)
    assert payload["meta"]["image_filename"] == "relaydesk-report-2024-03-11.png"
    # The next week's digest goes out again.
    assert await digest.run_once(at(18, 8)) is True
    async with db.session() as session:
        assert len((await session.scalars(select(OutboxRow))).all()) == 2
