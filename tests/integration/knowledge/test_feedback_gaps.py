"""The answer log, 👍/👎, knowledge gaps and erasure, on SQLite and PostgreSQL."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from sqlalchemy import func, select

from bots.commands.kb import write_gaps_csv
from bots.db import Database
from knowledge.errors import KnowledgeError
from knowledge.evaluation import read_labelled
from knowledge.models import AnswerLog, Feedback
from knowledge.service import KnowledgeService

UNANSWERED = [
    "Do you sell gift vouchers?",
    "Can I buy a gift voucher for my friend?",
    "Is there a gift voucher I can give someone?",
    "Can I pick up my order in your shop in Krakow?",
    "Do you have a shop in Krakow where I can collect?",
]


async def log(kb: KnowledgeService, db: Database, question: str, customer: str) -> int:
    decision = await kb.answer(question, "en")
    async with db.session() as session:
        answer_id = await kb.log_answer(session, decision, question, customer_ref=customer)
        await session.commit()
    return answer_id


async def test_answers_are_logged_and_feedback_recorded(
    kb: KnowledgeService, db: Database, articles: Path
) -> None:
    await kb.import_path(articles)
    answer_id = await log(kb, db, "I forgot my password", "telegram:1")
    async with db.session() as session:
        row = await session.get(AnswerLog, answer_id)
        assert row is not None
        assert (row.slug, row.language, row.customer_ref) == ("reset-password", "en", "telegram:1")
        feedback_id = await kb.record_feedback(session, helpful=False, answer_id=answer_id)
        await session.commit()
        stored = await session.get(Feedback, feedback_id)
        assert stored is not None
        assert (stored.slug, stored.question, stored.helpful) == (
            "reset-password",
            "I forgot my password",
            False,
        )
        assert stored.customer_ref == "telegram:1"
        with pytest.raises(KnowledgeError, match="no answer with id 999"):
            await kb.record_feedback(session, helpful=True, answer_id=999)


async def test_gaps_cluster_handoffs_and_unhelpful_answers(
    kb: KnowledgeService, db: Database, articles: Path
) -> None:
    await kb.import_path(articles)
    for n, question in enumerate(UNANSWERED):
        await log(kb, db, question, f"slack:U{n}")
    async with db.session() as session:
        handed_off = await session.scalar(
            select(func.count(AnswerLog.id)).where(AnswerLog.answered.is_(False))
        )
        await kb.record_feedback(
            session,
            helpful=False,
            slug="delivery-time",
            question="Can I collect my order at your Krakow shop?",
        )
        await session.commit()
    assert handed_off == len(UNANSWERED)
    clusters = await kb.gaps()
    assert [c.size for c in clusters][:2] == [3, 3]
    sizes = {frozenset(c.examples[:1]): c for c in clusters}
    vouchers = next(c for c in clusters if any("voucher" in e for e in c.examples))
    assert vouchers.handed_off == 3 and vouchers.unhelpful == 0
    shop = next(c for c in clusters if any("Krakow" in e for e in c.examples))
    assert (shop.handed_off, shop.unhelpful) == (2, 1)
    assert shop.nearest_slug is not None
    assert len(sizes) == len(clusters)
    assert clusters[0].to_dict()["nearest_article"] is not None


async def test_erasing_a_customers_questions(
    kb: KnowledgeService, db: Database, articles: Path
) -> None:
    await kb.import_path(articles)
    first = await log(kb, db, "I forgot my password", "telegram:7")
    await log(kb, db, "How long does delivery take?", "telegram:8")
    async with db.session() as session:
        await kb.record_feedback(session, helpful=True, answer_id=first)
        removed = await kb.erase_question_texts(session, "telegram:7")
        await session.commit()
        left = (await session.scalars(select(AnswerLog.customer_ref))).all()
        feedback = await session.scalar(select(func.count(Feedback.id)))
    assert removed == 2
    assert left == ["telegram:8"]
    assert feedback == 0


async def test_gaps_csv_filled_in_teaches_the_articles(
    kb: KnowledgeService, db: Database, articles: Path, tmp_path: Path
) -> None:
    await kb.import_path(articles)
    for n, question in enumerate([*UNANSWERED, UNANSWERED[0]]):
        await log(kb, db, question, f"slack:U{n}")
    path = tmp_path / "gaps.csv"
    assert write_gaps_csv(path, await kb.gaps()) == len(UNANSWERED)  # each question once
    rows = read_labelled(path)
    assert {r.question for r in rows} == set(UNANSWERED)
    assert all(r.expected is None and r.language == "en" for r in rows)
    unread = await kb.teach(rows)  # nothing filled in yet: nothing is taught
    assert (unread.added, unread.out_of_scope) == ({}, len(UNANSWERED))

    await kb.publish("gift-cards")
    before = await kb.answer("Could I get a gift voucher?", "en")
    with path.open(encoding="utf-8", newline="") as handle:
        table = list(csv.DictReader(handle))
    for row in table:
        row["expected"] = "gift-cards" if "voucher" in row["question"] else ""
    with path.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=list(table[0]))
        writer.writeheader()
        writer.writerows(table)
    report = await kb.teach(read_labelled(path))
    assert sorted(report.added["gift-cards"]) == sorted(q for q in UNANSWERED if "voucher" in q)
    assert report.out_of_scope == 2
    after = await kb.answer("Could I get a gift voucher?", "en")
    assert after.slug == "gift-cards"
    assert after.confidence > before.confidence
