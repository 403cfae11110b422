"""bots.drafts on SQLite and PostgreSQL: drafts stored per ticket, outcomes, regenerate, tone."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bots import drafts
from bots.app import build
from bots.db import Database
from bots.pipeline.models import OutboxRow
from bots.settings import Settings
from drafting.drafter import Drafter
from drafting.errors import DraftingError, DraftNotFound, InvalidOutcome
from drafting.llm import OpenAIChatClient
from drafting.models import Draft
from drafting.offline import OFFLINE_HASH
from drafting.prompts import default_library
from tests.fakes.openai_server import FakeOpenAI, ok
from tickets.models import Customer, Message, Ticket


@dataclass
class Found:
    slug: str
    title: str
    text: str
    score: float


class ShopKnowledge:
    """A knowledge source with two articles; records what it was asked."""

    def __init__(self) -> None:
        self.asked: list[tuple[str, str, int]] = []

    async def passages(self, text: str, language: str, k: int = 3) -> Sequence[Found]:
        self.asked.append((text, language, k))
        return [
            Found("late_delivery", "Spóźniona paczka", "Po 5 dniach zgłaszamy reklamację.", 0.9),
            Found("returns", "Zwroty", "Zwrot w ciągu 30 dni.", 0.4),
        ][:k]


async def make_ticket(session: AsyncSession, number: int = 1001, *, language: str = "pl") -> Ticket:
    customer = Customer(name="Jan Kowalski", language=language, tags=[])
    session.add(customer)
    await session.flush()
    ticket = Ticket(
        number=number,
        customer_id=customer.id,
        subject="Paczka 4411",
        status="open",
        channel="console",
        chat_id="c1",
        language=language,
    )
    session.add(ticket)
    await session.flush()
    texts = [
        ("in", "customer", "Moja paczka 4411 nie dotarła, mail jan@example.com", False),
        ("out", "bot", "Przekazuję sprawę do zespołu (#1001).", False),
        ("out", "agent", "Sprawdzam u kuriera.", True),
    ]
    for direction, author, text, internal in texts:
        session.add(
            Message(
                ticket_id=ticket.id,
                direction=direction,
                author_kind=author,
                text=text,
                channel="console",
                internal=internal,
            )
        )
    await session.flush()
    return ticket


def offline_parts(knowledge: ShopKnowledge | None = None) -> drafts.DraftParts:
    return drafts.DraftParts(drafter=Drafter(None), knowledge=knowledge)


async def test_offline_draft_is_stored_with_template_and_hash(db: Database) -> None:
    knowledge = ShopKnowledge()
    async with db.session() as session:
        ticket = await make_ticket(session)
        result = await drafts.make_draft(offline_parts(knowledge), session, 1001)
        await session.commit()
    assert knowledge.asked == [("Moja paczka 4411 nie dotarła, mail jan@example.com", "pl", 3)]
    assert result.offline and result.output.language == "pl"
    assert result.text.startswith("Dzień dobry Jan Kowalski,")
    assert "Po 5 dniach zgłaszamy reklamację." in result.text
    assert result.meta() == {
        "ticket_number": 1001,
        "draft_id": result.draft_id,
        "text": result.text,
        "offline": True,
        "reason": "no model is configured: set OPENAI_API_KEY or OPENAI_BASE_URL",
    }
    async with db.session() as session:
        row = await session.get(Draft, result.draft_id)
        assert row is not None
        assert (row.ticket_id, row.ticket_number, row.kind) == (ticket.id, 1001, "reply")
        assert row.template == "offline:reply" and row.template_hash == OFFLINE_HASH
        assert row.cited == ["late_delivery"] and row.offline
        assert row.outcome is None and row.created_at.tzinfo is not None


async def test_model_draft_stores_model_tokens_and_prompt_version(
    db: Database, openai_server: FakeOpenAI
) -> None:
    openai_server.default = ok(
        "Dzień dobry,\nzgłosiliśmy reklamację.\nSOURCES: late_delivery",
        usage={"prompt_tokens": 420, "completion_tokens": 12},
    )
    llm = OpenAIChatClient(model="gpt-4o-mini", api_key="k", base_url=openai_server.base_url)
    parts = drafts.DraftParts(drafter=Drafter(llm), knowledge=ShopKnowledge())
    async with db.session() as session:
        await make_ticket(session)
        result = await drafts.make_draft(parts, session, 1001)
        await session.commit()
    await llm.aclose()
    assert "jan@example.com" not in openai_server.request_text()
    data = result.as_dict()
    assert data["offline"] is False and data["model"] == "gpt-4o-mini"
    assert data["cited"] == ["late_delivery"]
    assert data["tokens"] == {"prompt": 420, "completion": 12}
    expected_hash = default_library().fingerprint("system", "ticket_message", "reply_draft")
    assert data["template"] == "reply_draft" and data["template_hash"] == expected_hash
    assert data["prompt_version"] == f"reply_draft@{expected_hash[:12]}"
    async with db.session() as session:
        row = await session.get(Draft, result.draft_id)
        assert row is not None and row.model == "gpt-4o-mini" and row.prompt_tokens == 420
        assert row.template_hash == expected_hash


async def test_regenerate_and_tone_replace_the_previous_draft(db: Database) -> None:
    parts = offline_parts(ShopKnowledge())
    async with db.session() as session:
        await make_ticket(session)
        first = await drafts.make_draft(parts, session, 1001)
        second = await drafts.make_draft(parts, session, 1001, regenerate_of=first.draft_id)
        formal = await drafts.make_draft(
            parts, session, 1001, tone="formal", regenerate_of=second.draft_id
        )
        await session.commit()
    assert second.parent_id == first.draft_id and formal.parent_id == second.draft_id
    assert formal.output.kind == "tone" and formal.output.tone == "formal"
    assert formal.text.startswith("Szanowni Państwo,")
    assert formal.output.cited == ["late_delivery"]
    async with db.session() as session:
        rows = (await session.scalars(select(Draft).order_by(Draft.id))).all()
    assert [r.outcome for r in rows] == ["regenerated", "regenerated", None]


async def test_translate_keeps_the_original_and_links_it(db: Database) -> None:
    parts = offline_parts()
    async with db.session() as session:
        await make_ticket(session)
        result = await drafts.make_draft(parts, session, 1001, translate="en")
        await session.commit()
    assert result.output.kind == "translation" and result.offline
    assert "needs a language model" in (result.notice or "")
    assert result.source_text == result.text  # not translated, and says so
    async with db.session() as session:
        rows = (await session.scalars(select(Draft).order_by(Draft.id))).all()
    assert [(r.kind, r.parent_id) for r in rows] == [("reply", None), ("translation", rows[0].id)]
    assert rows[0].outcome is None  # the reply itself is still the one to send


async def test_outcomes_and_edit_distance(db: Database) -> None:
    parts = offline_parts()
    async with db.session() as session:
        await make_ticket(session)
        a = await drafts.make_draft(parts, session, 1001)
        b = await drafts.make_draft(parts, session, 1001)
        c = await drafts.make_draft(parts, session, 1001)
        as_is = await drafts.record_outcome(session, a.draft_id, "sent", a.text + "  ", agent="U1")
        edited = await drafts.record_outcome(
            session, b.draft_id, "sent", b.text.replace("Dzień dobry", "Cześć")
        )
        discarded = await drafts.record_outcome(session, c.draft_id, "discarded")
        again = await drafts.record_outcome(session, a.draft_id, "sent", a.text + "  ")
        await session.commit()
    assert (as_is.outcome, as_is.edit_distance, as_is.decided_by) == ("sent_as_is", 2, "U1")
    assert edited.outcome == "edited" and edited.edit_distance == 9  # "Dzień dobry" -> "Cześć"
    assert edited.sent_text is not None and edited.sent_text.startswith("Cześć")
    assert (discarded.outcome, discarded.sent_text, discarded.edit_distance) == (
        "discarded",
        None,
        None,
    )
    assert again.id == as_is.id and again.outcome == "sent_as_is"
    async with db.session() as session:
        with pytest.raises(InvalidOutcome, match="already sent"):
            await drafts.record_outcome(session, a.draft_id, "discarded")
        with pytest.raises(InvalidOutcome, match="unknown outcome"):
            await drafts.record_outcome(session, c.draft_id, "posted")
        with pytest.raises(DraftNotFound, match="draft 999 does not exist"):
            await drafts.record_outcome(session, 999, "discarded")


async def test_bad_requests_are_one_line_drafting_errors(db: Database) -> None:
    parts = offline_parts()
    async with db.session() as session:
        await make_ticket(session, 1001)
        await make_ticket(session, 1002)
        other = await drafts.make_draft(parts, session, 1002)
        with pytest.raises(DraftingError, match="belongs to ticket #1002, not #1001"):
            await drafts.make_draft(parts, session, 1001, regenerate_of=other.draft_id)
        with pytest.raises(DraftingError, match="unknown tone 'rude'"):
            await drafts.make_draft(parts, session, 1001, tone="rude")
        with pytest.raises(DraftingError, match="unknown language"):
            await drafts.make_draft(parts, session, 1001, translate="klingon!")


async def test_summary_and_kb_article_are_stored(db: Database) -> None:
    parts = offline_parts()
    async with db.session() as session:
        await make_ticket(session)
        summary = await drafts.make_summary(parts, session, 1001, reason="escalated to L2")
        article = await drafts.make_kb_article(parts, session, 1001)
        await session.commit()
    assert summary.output.kind == "summary" and "escalated to L2" in summary.text
    assert "Moja paczka 4411 nie dotarła" in summary.text
    assert article.output.kind == "kb_article" and "jan@example.com" not in article.text
    async with db.session() as session:
        kinds = [r.kind for r in (await session.scalars(select(Draft).order_by(Draft.id))).all()]
    assert kinds == ["summary", "kb_article"]


async def test_parts_from_settings_without_a_key_are_offline(settings: Settings) -> None:
    parts = drafts.parts_from_settings(settings)
    assert parts.drafter.llm is None and not parts.owns_llm
    keyed = drafts.parts_from_settings(
        Settings(OPENAI_BASE_URL="http://127.0.0.1:9/v1", RELAYDESK_LLM_MODEL="llama3.1")
    )
    assert keyed.drafter.llm is not None and keyed.drafter.llm.model == "llama3.1"
    assert isinstance(keyed.drafter.llm, OpenAIChatClient)
    assert keyed.drafter.llm.base_url == "http://127.0.0.1:9/v1"
    await keyed.aclose()


async def test_parts_of_the_services_use_their_knowledge_base(settings: Settings) -> None:
    services = build(settings)
    try:
        parts = drafts.parts_of(services)
        assert parts.knowledge is services.knowledge and parts.knowledge is not None
        assert parts.drafter.llm is None
        assert drafts.parts_of(parts) is parts
    finally:
        await services.close()


async def test_drafting_never_queues_anything_for_a_customer(db: Database) -> None:
    parts = offline_parts(ShopKnowledge())
    async with db.session() as session:
        await make_ticket(session)
        before = await session.scalar(select(func.count()).select_from(OutboxRow))
        first = await drafts.make_draft(parts, session, 1001)
        await drafts.make_draft(parts, session, 1001, tone="shorter", regenerate_of=first.draft_id)
        await drafts.make_summary(parts, session, 1001)
        await session.commit()
        after = await session.scalar(select(func.count()).select_from(OutboxRow))
        messages = await session.scalar(select(func.count()).select_from(Message))
    assert before == after == 0  # sending is the desk's job, after an agent acts
    assert messages == 3  # and nothing was added to the conversation
