"""Curation on SQLite and PostgreSQL with a real Chroma index: import (idempotent), publish,
archive, versions, rollback, export round trip; only published articles are searchable."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.errors import ArticleFormatError, ArticleNotFoundError, KnowledgeError
from knowledge.evaluation import LabelledQuestion
from knowledge.service import KnowledgeService
from tests.integration.knowledge.conftest import write_articles


async def slugs_found(kb: KnowledgeService, text: str) -> list[str]:
    return [p.slug for p in await kb.search(text, "en", k=5)]


async def test_import_is_idempotent_and_reports(kb: KnowledgeService, articles: Path) -> None:
    first = await kb.import_path(articles, author="ann")
    assert sorted(first.added) == ["delivery-time", "gift-cards", "reset-hasla", "reset-password"]
    assert first.index.added and first.index.units > 0
    again = await kb.import_path(articles, author="ann")
    assert again.added == again.changed == []
    assert sorted(again.unchanged) == sorted(first.added)
    assert again.index.units == 0  # nothing re-embedded
    assert [v.version for v in await kb.history("reset-password")] == [1]


async def test_changed_file_is_a_new_version_and_reindexed(
    kb: KnowledgeService, articles: Path
) -> None:
    await kb.import_path(articles)
    path = articles / "delivery-time.md"
    path.write_text(
        path.read_text().replace("1–2 working days", "2–3 working days"), encoding="utf-8"
    )
    report = await kb.import_path(articles, author="bob")
    assert report.changed == ["delivery-time"] and report.index.updated == ["delivery-time"]
    history = await kb.history("delivery-time")
    assert [(v.version, v.author, v.change) for v in history] == [
        (1, "admin", "created"),
        (2, "bob", "changed: body"),
    ]
    found = await kb.search("how long does delivery take", "en", k=1)
    assert "2–3 working days" in found[0].text


async def test_only_published_articles_are_searchable(kb: KnowledgeService, articles: Path) -> None:
    await kb.import_path(articles)
    assert "gift-cards" not in await slugs_found(kb, "do you sell gift cards")
    assert await kb.publish("gift-cards", author="ann") is True
    assert await kb.publish("gift-cards") is False
    assert (await slugs_found(kb, "do you sell gift cards"))[0] == "gift-cards"
    assert await kb.archive("gift-cards", author="ann") is True
    assert "gift-cards" not in await slugs_found(kb, "do you sell gift cards")
    changes = [v.change for v in await kb.history("gift-cards")]
    assert changes == ["created", "status: draft -> published", "status: published -> archived"]


async def test_rollback_restores_content_as_a_new_version(
    kb: KnowledgeService, articles: Path
) -> None:
    await kb.import_path(articles)
    path = articles / "reset-password.md"
    path.write_text(path.read_text().replace("spam folder", "junk folder"), encoding="utf-8")
    await kb.import_path(articles)
    assert "junk folder" in (await kb.article("reset-password")).body
    version = await kb.rollback("reset-password", 1, author="carol")
    assert version == 3
    article = await kb.article("reset-password")
    assert "spam folder" in article.body and article.status == "published"
    last = (await kb.history("reset-password"))[-1]
    assert (last.author, last.change) == ("carol", "rolled back to version 1 (body)")
    indexed = " ".join(kb.index.load().documents)
    assert "spam folder" in indexed and "junk folder" not in indexed
    with pytest.raises(ArticleNotFoundError, match="has no version 9"):
        await kb.rollback("reset-password", 9)
    with pytest.raises(KnowledgeError, match="already the current version"):
        await kb.rollback("reset-password", 3)


async def test_export_round_trips_with_import(
    kb: KnowledgeService, articles: Path, tmp_path: Path
) -> None:
    await kb.import_path(articles)
    await kb.publish("gift-cards")
    written = await kb.export(tmp_path / "export")
    assert sorted(p.name for p in written) == sorted(
        ["delivery-time.md", "gift-cards.md", "reset-hasla.md", "reset-password.md"]
    )
    assert "translation_of: reset-password" in (tmp_path / "export" / "reset-hasla.md").read_text()
    again = await kb.import_path(tmp_path / "export")
    assert again.added == again.changed == [] and len(again.unchanged) == 4


async def test_bad_files_import_nothing(kb: KnowledgeService, articles: Path) -> None:
    (articles / "broken.md").write_text("---\ntitle: Broken\nstatus: live\n---\nbody\n")
    with pytest.raises(ArticleFormatError, match=r"broken\.md:3: field 'status'"):
        await kb.import_path(articles)
    assert await kb.articles() == []


async def test_csv_and_jsonl_imports(kb: KnowledgeService, tmp_path: Path) -> None:
    faq = tmp_path / "faq.csv"
    faq.write_text(
        "question,answer,language\n"
        '"Do you ship to Norway?","Yes, by courier in 3-7 days.",en\n'
        '"Czy wysyłacie do Norwegii?","Tak, kurierem w 3-7 dni.",pl\n',
        encoding="utf-8",
    )
    report = await kb.import_path(faq, publish=True)
    assert report.added == ["do-you-ship-to-norway", "czy-wysylacie-do-norwegii"]
    lines = tmp_path / "kb.jsonl"
    lines.write_text('{"slug": "hours", "title": "Opening hours", "body": "9 to 5."}\n')
    await kb.import_path(lines)
    stored = {a.slug: a.status for a in await kb.articles()}
    assert stored == {
        "do-you-ship-to-norway": "published",
        "czy-wysylacie-do-norwegii": "published",
        "hours": "draft",
    }


async def test_unknown_slugs_are_one_line_errors(kb: KnowledgeService) -> None:
    with pytest.raises(ArticleNotFoundError, match="no article with slug 'nope'"):
        await kb.publish("nope")


async def test_translation_links_are_checked(kb: KnowledgeService, tmp_path: Path) -> None:
    folder = write_articles(
        tmp_path / "orphan",
        {"a.md": "---\nslug: a\ntitle: A\nlanguage: pl\ntranslation_of: missing\n---\nTekst.\n"},
    )
    report = await kb.import_path(folder)
    assert report.warnings and "translation_of 'missing' is not an article" in report.warnings[0]


async def test_teach_adds_example_questions_as_a_new_version(
    kb: KnowledgeService, articles: Path
) -> None:
    await kb.import_path(articles)
    before, _ = await kb.rank("where has my parcel got to", "en")
    rows = [
        LabelledQuestion("where has my parcel got to", "delivery-time", "en", 2, "t.csv"),
        LabelledQuestion(
            "czy hasło mogę zmienić przez telefon", "reset-password", "pl", 3, "t.csv"
        ),
        LabelledQuestion("i FORGOT  my password", "reset-password", "en", 4, "t.csv"),
        LabelledQuestion("tell me a joke", None, "en", 5, "t.csv"),
    ]
    report = await kb.teach(rows, author="dana")
    # the Polish question goes to the Polish translation; the third is known already
    assert report.added == {
        "delivery-time": ["where has my parcel got to"],
        "reset-hasla": ["czy hasło mogę zmienić przez telefon"],
    }
    assert (report.known, report.out_of_scope, report.warnings) == (1, 1, [])
    assert sorted(report.index.updated) == ["delivery-time", "reset-hasla"]
    last = (await kb.history("delivery-time"))[-1]
    assert (last.version, last.author, last.change) == (2, "dana", "taught 1 example question")
    assert (await kb.article("delivery-time")).questions[-1] == "where has my parcel got to"
    assert "where has my parcel got to" in kb.index.load().documents
    after, _ = await kb.rank("where has my parcel got to", "en")
    assert after.hits[0].slug == "delivery-time"
    assert after.hits[0].dense > before.hits[0].dense + 0.2  # the question is now a unit

    again = await kb.teach(rows)
    assert (again.added, again.known, again.index.units) == ({}, 3, 0)
    assert len(await kb.history("delivery-time")) == 2  # nothing new, no new version


async def test_teach_is_all_or_nothing_and_warns_of_shared_questions(
    kb: KnowledgeService, articles: Path
) -> None:
    await kb.import_path(articles)
    bad = [
        LabelledQuestion("where has my parcel got to", "delivery-time", "en", 2, "t.csv"),
        LabelledQuestion("do you take cash", "payments", "en", 3, "t.csv"),
    ]
    with pytest.raises(ArticleNotFoundError, match=r"^t\.csv:3: no article with slug 'payments'$"):
        await kb.teach(bad)
    assert len(await kb.history("delivery-time")) == 1
    too_long = [LabelledQuestion("x" * 2001, "delivery-time")]
    with pytest.raises(KnowledgeError, match="longer than 2000 characters"):
        await kb.teach(too_long)

    shared = await kb.teach([LabelledQuestion("How long does delivery take?", "reset-password")])
    assert shared.added == {"reset-password": ["How long does delivery take?"]}
    assert shared.warnings == [
        "'How long does delivery take?' is also an example question of delivery-time"
    ]


async def test_teach_skips_a_translation_that_is_not_published(
    kb: KnowledgeService, articles: Path
) -> None:
    await kb.import_path(articles)
    await kb.archive("reset-hasla")
    question = LabelledQuestion("nie mogę się zalogować", "reset-password", "pl")
    report = await kb.teach([question])
    assert report.added == {"reset-password": ["nie mogę się zalogować"]}


async def test_text_a_database_cannot_store_is_refused_before_saving(
    kb: KnowledgeService, articles: Path, tmp_path: Path
) -> None:
    # on PostgreSQL each of these was a traceback from the database (NUL in text, a
    # department over its 64 characters), on SQLite it was stored
    (articles / "nul.md").write_bytes(b"---\ntitle: N\n---\nbody\x00\n")
    with pytest.raises(ArticleFormatError, match=r"nul\.md:4: contains a NUL character"):
        await kb.import_path(articles)
    (articles / "nul.md").write_text(f"---\ntitle: N\ndepartment: {'d' * 65}\n---\nbody\n")
    with pytest.raises(ArticleFormatError, match=r"nul\.md:3: field 'department': longer than"):
        await kb.import_path(articles)
    assert await kb.articles() == []
    (articles / "nul.md").unlink()
    await kb.import_path(articles)
    with pytest.raises(KnowledgeError, match=r"^t\.csv:2: field 'question': contains a NUL"):
        await kb.teach([LabelledQuestion("where\x00is it", "delivery-time", "en", 2, "t.csv")])
    assert len(await kb.history("delivery-time")) == 1


async def test_rollback_to_a_version_no_database_integer_holds(
    kb: KnowledgeService, articles: Path
) -> None:
    await kb.import_path(articles)
    # was OverflowError (SQLite) or a DBAPIError (PostgreSQL) from the version lookup
    with pytest.raises(ArticleNotFoundError, match=r"has no version 10{20} \(it has 1 to 1\)"):
        await kb.rollback("reset-password", 10**20)


async def test_export_writes_nothing_when_a_file_is_in_the_way(
    kb: KnowledgeService, articles: Path, tmp_path: Path
) -> None:
    await kb.import_path(articles)
    folder = tmp_path / "export"
    (folder / "reset-password.md").mkdir(parents=True)
    with pytest.raises(KnowledgeError, match=r"reset-password\.md is in the way \(not a file\)"):
        await kb.export(folder)
    assert [p.name for p in folder.iterdir()] == ["reset-password.md"]  # nothing half written
