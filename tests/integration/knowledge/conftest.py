"""Fixtures for knowledge tests: the real model (loaded once), small knowledge bases written
here, the demo knowledge base built once, real Chroma in temporary folders."""

from __future__ import annotations

import asyncio
import textwrap
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from bots.db import Database
from bots.schema import upgrade
from knowledge.embeddings import USEEmbedder
from knowledge.service import KnowledgeService

ARTICLES = {
    "reset-password.md": """
        ---
        slug: reset-password
        title: Resetting your password
        language: en
        department: account
        status: published
        questions: ["I forgot my password", "How do I reset my password?"]
        ---
        # Resetting your password

        Press **Forgot your password?** on the sign-in page and open the link we e-mail you.

        ## No e-mail?

        Check the spam folder; you can ask for a new link after 5 minutes.
        """,
    "reset-hasla.md": """
        ---
        slug: reset-hasla
        title: Resetowanie hasła
        language: pl
        translation_of: reset-password
        department: account
        status: published
        questions: ["Zapomniałem hasła", "Jak zresetować hasło?"]
        ---
        # Resetowanie hasła

        Na stronie logowania naciśnij **Nie pamiętasz hasła?** i otwórz link z e-maila.
        """,
    "delivery-time.md": """
        ---
        slug: delivery-time
        title: How long delivery takes
        language: en
        department: delivery
        status: published
        questions: ["How long does delivery take?", "When will my parcel arrive?"]
        ---
        # How long delivery takes

        Orders placed before 14:00 leave the same day; couriers deliver in 1–2 working days.
        """,
    "gift-cards.md": """
        ---
        slug: gift-cards
        title: Gift cards
        language: en
        status: draft
        questions: ["Do you sell gift cards?"]
        ---
        # Gift cards

        Gift cards are sold in amounts from 50 to 500 and never expire.
        """,
}


def write_articles(folder: Path, articles: dict[str, str] | None = None) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for name, text in (articles or ARTICLES).items():
        (folder / name).write_text(textwrap.dedent(text).lstrip(), encoding="utf-8")
    return folder


@pytest.fixture(scope="session")
def use_embedder() -> USEEmbedder:
    """The real multilingual model, loaded once for the whole run."""
    embedder = USEEmbedder(cache_size=50_000)
    embedder.warm_up()
    return embedder


@pytest.fixture
def articles(tmp_path: Path) -> Path:
    """A folder with three published articles (one a Polish translation) and one draft."""
    return write_articles(tmp_path / "articles")


@pytest.fixture
async def kb(
    db: Database, tmp_path: Path, use_embedder: USEEmbedder
) -> AsyncIterator[KnowledgeService]:
    """A knowledge service on the `db` fixture (SQLite and PostgreSQL) with its own index."""
    service = KnowledgeService(db.sessions, tmp_path / "data", use_embedder, refresh_s=0.0)
    yield service
    await service.close()


@pytest.fixture(scope="session")
def demo_dir(tmp_path_factory: pytest.TempPathFactory, use_embedder: USEEmbedder) -> Path:
    """A data folder with the demo knowledge base loaded and calibrated (built once)."""
    folder = tmp_path_factory.mktemp("demo")

    async def build() -> None:
        db = Database(f"sqlite+aiosqlite:///{folder / 'kb.db'}")
        await upgrade(db)
        service = KnowledgeService(db.sessions, folder, use_embedder)
        await service.load_demo()
        await service.close()
        await db.close()

    asyncio.run(build())
    return folder


@pytest.fixture
async def demo_kb(demo_dir: Path, use_embedder: USEEmbedder) -> AsyncIterator[KnowledgeService]:
    """A knowledge service over the demo knowledge base."""
    db = Database(f"sqlite+aiosqlite:///{demo_dir / 'kb.db'}")
    service = KnowledgeService(db.sessions, demo_dir, use_embedder)
    yield service
    await service.close()
    await db.close()
