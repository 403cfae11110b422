"""Answer or hand off on the demo knowledge base, in English and Polish; out-of-scope
questions are handed off; the decision carries its evidence."""

from __future__ import annotations

import asyncio
import shutil
from pathlib import Path

import pytest

from bots.db import Database
from knowledge import demo
from knowledge.calibration import default as default_calibration
from knowledge.embeddings import USEEmbedder
from knowledge.service import KnowledgeService

# Worded unlike the articles' example questions and unlike the calibration questions.
ANSWERED = [
    (
        "I typed my password wrong too many times and forgot it, how do I set a new one?",
        "en",
        "reset-password",
    ),
    ("Can I pay for my order using BLIK?", "en", "payment-methods"),
    ("Zapomniałam hasła, jak mogę ustawić nowe?", "pl", "reset-hasla"),
    ("Czy mogę zapłacić kartą?", "pl", "formy-platnosci"),
]
OUT_OF_SCOPE = [
    ("Who painted the Mona Lisa?", "en"),
    ("What is a good recipe for banana bread?", "en"),
    ("Ile waży dorosły słoń afrykański?", "pl"),
    ("Kto napisał Lalkę?", "pl"),
]


@pytest.fixture(scope="module")
def lenient_dir(demo_dir: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the demo calibrated for 90 % precision instead of the shipped 97 %, at which
    the demo answers only its surest questions (about six in ten plainly worded ones)."""
    folder = tmp_path_factory.mktemp("lenient") / "demo"
    shutil.copytree(demo_dir, folder)

    async def calibrate() -> None:
        db = Database(f"sqlite+aiosqlite:///{folder / 'kb.db'}")
        service = KnowledgeService(db.sessions, folder, USEEmbedder())
        await service.calibrate(demo.labelled(), target=0.9, source="lenient")
        await service.close()
        await db.close()

    asyncio.run(calibrate())
    return folder


@pytest.mark.parametrize(("question", "language", "slug"), ANSWERED)
async def test_answers_from_the_article_in_the_customers_language(
    lenient_dir: Path, use_embedder: USEEmbedder, question: str, language: str, slug: str
) -> None:
    db = Database(f"sqlite+aiosqlite:///{lenient_dir / 'kb.db'}")
    demo_kb = KnowledgeService(db.sessions, lenient_dir, use_embedder)
    decision = await demo_kb.answer(question, None)
    assert demo_kb.calibration.source == "lenient"
    assert decision.language == language  # detected
    assert decision.answered, decision.reason
    assert decision.article is not None and decision.article.slug == slug
    assert decision.article.language == language and not decision.other_language
    assert decision.confidence >= decision.threshold > 0
    assert decision.reason == ""
    assert decision.passage and decision.passage in (await demo_kb.article(slug)).body
    assert decision.top[0][0] == slug and len(decision.top) == 5
    await demo_kb.close()
    await db.close()


@pytest.mark.parametrize(("question", "language"), OUT_OF_SCOPE)
async def test_out_of_scope_questions_are_handed_off(
    demo_kb: KnowledgeService, question: str, language: str
) -> None:
    decision = await demo_kb.answer(question, language)
    assert not decision.answered
    assert decision.confidence < decision.threshold
    assert "below" in decision.reason


async def test_the_translation_in_the_customers_language_is_preferred(
    demo_kb: KnowledgeService,
) -> None:
    english = await demo_kb.answer("How do I reset my password?", "en")
    polish = await demo_kb.answer("How do I reset my password?", "pl")  # the customer reads Polish
    assert english.slug == "reset-password"
    assert polish.slug == "reset-hasla"


async def test_init_demo_calibrates_the_way_the_shipped_default_was_fitted(
    demo_kb: KnowledgeService,
) -> None:
    """If this fails after a retrieval change, refit the shipped default with
    bench/kb_default_calibration.py (its docstring says how)."""
    await demo_kb.start()
    stored, shipped = demo_kb.calibration, default_calibration()
    assert (stored.source, shipped.source) == ("demo", "default")
    assert set(stored.thresholds) == {"en", "pl", "*"} == set(shipped.thresholds)
    for language, threshold in shipped.thresholds.items():
        assert stored.thresholds[language] == pytest.approx(threshold, abs=1e-4), language


async def test_empty_text_is_handed_off(demo_kb: KnowledgeService) -> None:
    decision = await demo_kb.answer("   ", "en")
    assert not decision.answered and decision.reason == "the message has no text"


async def test_passages_for_drafting(demo_kb: KnowledgeService) -> None:
    passages = await demo_kb.passages("refund after a return has not arrived", "en", k=3)
    assert len(passages) == 3
    assert passages[0].slug == "refund-status"
    assert "5 working days" in passages[0].text
    assert passages[0].score >= passages[1].score >= passages[2].score


async def test_cross_lingual_answer_when_no_translation_exists(
    tmp_path: Path, use_embedder: USEEmbedder, sqlite_db: Database
) -> None:
    folder = tmp_path / "english-only"
    folder.mkdir()
    for name in ("track-order.md", "payment-methods.md", "reset-password.md", "return-policy.md"):
        (folder / name).write_text((demo.FOLDER / name).read_text(encoding="utf-8"))
    kb = KnowledgeService(sqlite_db.sessions, tmp_path / "data", use_embedder)
    await kb.import_path(folder)
    ranking, language = await kb.rank("Gdzie jest moja paczka? Nadal nie dotarła.", None)
    assert language == "pl"
    assert ranking.top is not None and ranking.top.slug == "track-order"
    assert ranking.features["cross_lingual"] == 1.0
    decision = await kb.answer("Zapomniałem hasła do konta", None)
    assert decision.article is not None and decision.article.slug == "reset-password"
    assert decision.other_language
    await kb.close()


async def test_init_demo_again_keeps_a_teams_own_calibration(
    lenient_dir: Path, use_embedder: USEEmbedder, tmp_path: Path
) -> None:
    """`make run` runs `relaydesk init --demo` at every start: it used to replace whatever
    `kb calibrate` had stored with the demo's calibration."""
    folder = tmp_path / "copy"
    shutil.copytree(lenient_dir, folder)
    db = Database(f"sqlite+aiosqlite:///{folder / 'kb.db'}")
    kb = KnowledgeService(db.sessions, folder, use_embedder)
    again = await kb.load_demo()
    assert (again.added, again.changed, again.warnings) == ([], [], [])
    assert kb.index.calibration()["source"] == "lenient"

    # an edited demo article comes back as the demo has it: still kept, and said to be stale
    edited = tmp_path / "edited.md"
    original = demo.FOLDER / "reset-password.md"
    edited.write_text(original.read_text(encoding="utf-8") + "\nOne more line.\n", "utf-8")
    await kb.import_path(edited, publish=True)
    restored = await kb.load_demo()
    assert restored.changed == ["reset-password"]
    assert restored.warnings == [
        "the calibration from lenient is kept, but the demo's articles changed the knowledge "
        "base: run relaydesk kb calibrate again"
    ]
    assert kb.index.calibration()["source"] == "lenient"
    await kb.close()
    await db.close()
