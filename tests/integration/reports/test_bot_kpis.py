"""Bot deflection, KB feedback per article, draft acceptance and re-contact through the bot,
from the hand-computed history in bot_history.py, on SQLite and PostgreSQL."""

from __future__ import annotations

from pathlib import Path

import pytest

from bots.db import Database
from bots.reporting import article_feedback, build_report, draft_kpis, kb_kpis
from tests.integration.reports.bot_history import NOW, BotHistory, at, build_bot_history
from tickets.reports import Window, ticket_report

PERIOD = Window(at(4, 0), at(21, 0))


@pytest.fixture
async def history(db: Database, tmp_path: Path) -> BotHistory:
    return await build_bot_history(db, tmp_path)


async def test_deflection_verified_apart_from_assumed(db: Database, history: BotHistory) -> None:
    async with db.session() as session:
        total = (await kb_kpis(session, PERIOD, now=NOW))["all"]
    assert (total.questions, total.answered, total.handed_off) == (11, 10, 1)
    assert (total.verified, total.assumed, total.pending) == (2, 3, 1)
    # Q4 got a 👎, Q3's 👍 was contradicted by a hand-off 3 hours later, Q5 and Q10 came back.
    assert (total.thumbs_down, total.handoff, total.new_contact) == (1, 1, 2)
    deflection = total.to_dict()["deflection"]
    assert deflection == {
        "verified": 2,
        "assumed": 3,
        "verified_rate": 0.2,
        "assumed_rate": 0.3,
        "judged": 10,
        "pending": 1,
    }


async def test_once_the_day_has_passed_a_pending_answer_is_judged(
    db: Database, history: BotHistory
) -> None:
    async with db.session() as session:
        later = (await kb_kpis(session, PERIOD, now=at(21, 0)))["all"]
    assert (later.pending, later.assumed, later.verified) == (0, 4, 2)


async def test_deflection_by_language_channel_and_department(
    db: Database, history: BotHistory
) -> None:
    async with db.session() as session:
        languages = await kb_kpis(session, PERIOD, by="language", now=NOW)
        channels = await kb_kpis(session, PERIOD, by="channel", now=NOW)
        departments = await kb_kpis(session, PERIOD, by="department", now=NOW)
        agents = await kb_kpis(session, PERIOD, by="agent", now=NOW)
    en, pl = languages["en"], languages["pl"]
    assert (en.questions, en.verified, en.assumed, en.handoff, en.pending) == (6, 2, 2, 1, 1)
    assert (pl.questions, pl.thumbs_down, pl.new_contact, pl.assumed, pl.handed_off) == (
        5,
        1,
        2,
        1,
        1,
    )
    assert {k: v.questions for k, v in channels.items()} == {"telegram": 9, "slack": 2}
    payments = departments["payments"]  # the refund article's department
    assert (payments.questions, payments.verified, payments.thumbs_down, payments.pending) == (
        4,
        2,
        1,
        1,
    )
    assert departments["-"].handed_off == 1  # no article: the hand-off
    assert agents == {}  # agents do not answer the bot's questions


async def test_feedback_per_article(db: Database, history: BotHistory) -> None:
    async with db.session() as session:
        articles = await article_feedback(session, PERIOD)
    assert [a.to_dict() for a in articles] == [
        {
            "slug": "refund",
            "title": "Refund",
            "answers": 4,
            "helpful": 2,
            "not_helpful": 1,
            "helpful_share": 0.6667,
        },
        {
            "slug": "delivery",
            "title": "Delivery",
            "answers": 4,
            "helpful": 1,
            "not_helpful": 0,
            "helpful_share": 1.0,
        },
        {
            "slug": "password",
            "title": "Password",
            "answers": 2,
            "helpful": 0,
            "not_helpful": 0,
            "helpful_share": None,
        },
    ]


async def test_draft_acceptance(db: Database, history: BotHistory) -> None:
    async with db.session() as session:
        total = (await draft_kpis(session, PERIOD))["all"]
        departments = await draft_kpis(session, PERIOD, by="department")
    assert total.to_dict() == {
        "key": "all",
        "drafts": 6,
        "sent_as_is": 1,
        "edited": 2,
        "regenerated": 1,
        "discarded": 1,
        "undecided": 1,
        "acceptance_rate": 0.6,
        "sent_as_is_rate": 0.2,
        "mean_edit_distance": 21.0,
    }
    payments, orders = departments["payments"], departments["orders"]
    assert (payments.drafts, payments.sent_as_is, payments.edited, payments.regenerated) == (
        3,
        1,
        1,
        1,
    )
    assert payments.mean_edit_distance == 12.0
    assert orders.to_dict()["acceptance_rate"] == 0.5


async def test_a_question_to_the_bot_counts_as_re_contact(
    db: Database, history: BotHistory
) -> None:
    async with db.session() as session:
        tickets_only = await ticket_report(session, PERIOD)
        report = await build_report(session, PERIOD, now=NOW)
    # E's ticket was resolved on the 4th; E asked the bot on the 5th.
    assert (tickets_only.totals.recontact_eligible, tickets_only.totals.recontacted) == (1, 0)
    totals = report.tickets.totals
    assert (totals.recontact_eligible, totals.recontacted, totals.recontact_rate) == (1, 1, 1.0)
    assert report.kb_totals.verified == 2
    assert report.draft_totals.drafts == 6
    document = report.to_dict()
    assert set(document) == {"period", "by", "generated_at", "tickets", "knowledge", "drafts"}
    assert document["knowledge"]["articles"][0]["slug"] == "refund"


async def test_grouped_report_lines_up_groups_across_sections(
    db: Database, history: BotHistory
) -> None:
    async with db.session() as session:
        report = await build_report(session, PERIOD, by="department", now=NOW)
    # Tickets: orders (G, H, L), payments (E); the bot also answered from the account article.
    assert report.keys() == ["orders", "payments", "account", "-"]
    assert [g.key for g in report.draft_groups] == ["orders", "payments"]
