"""The index: embedder recorded and mixing refused, rebuilt by reindex, unavailable index
means a hand-off, another process's changes are picked up."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest

from bots.db import Database
from knowledge.embeddings import USEEmbedder, Vectors
from knowledge.errors import KnowledgeIndexError
from knowledge.service import KnowledgeService


class HashEmbedder:
    """A different (tiny, deterministic) embedder, to check the index refuses to mix."""

    name = "hash-test"
    dim = 16

    def embed(self, texts: Sequence[str]) -> Vectors:
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in text.lower().split():
                rows[i, hash(word) % self.dim] += 1.0
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
