"""The knowledge base as a service: answer-or-hand-off, search and passages for agents and
drafting, feedback and gaps, and the curation operations behind `relaydesk kb`.

Built from an `async_sessionmaker` (the SQL store is the source of truth), a data folder (the
embedded Chroma index lives in `<data_dir>/index`), an embedder and an optional Chroma server
URL. Blocking work (embedding, Chroma) runs in threads. Customer-facing calls never raise on
an unavailable index: they hand off and say why.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import numpy as np
from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker

from knowledge import calibration as calibration_module
from knowledge import demo, store
from knowledge.articles import ArticleData, storable
from knowledge.calibration import Calibration, Sample
from knowledge.chunking import units as article_units
from knowledge.embeddings import Embedder
from knowledge.entities import neutral
from knowledge.errors import (
    ArticleFormatError,
    ArticleNotFoundError,
    CalibrationError,
    KnowledgeError,
    KnowledgeIndexError,
)
from knowledge.evaluation import LabelledQuestion, Metrics, Prediction, summarise
from knowledge.gaps import Cluster, central, cluster
from knowledge.glossary import gloss
from knowledge.importer import parse_path, write_markdown
from knowledge.index import ChromaIndex, IndexedUnits
from knowledge.language import detect
from knowledge.models import AnswerLog, Article, Feedback
from knowledge.retrieval import Mode, Ranking, Snapshot, UnitRecord, feature_vector

log = logging.getLogger(__name__)

Progress = Callable[[str, int, int], None]
EMBED_BATCH = 256
# How units are made from articles (2: names, numbers and amounts masked before embedding).
UNITS_FORMAT = 2
MAX_QUESTION_CHARS = 2000


@dataclass(frozen=True)
class ArticleRef:
    """The article an answer comes from."""

    slug: str
    title: str
    language: str
    department: str | None
    body: str  # the passage shown to the customer (Markdown)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass(frozen=True)
class Decision:
    """Answer or hand off, with the evidence."""

    answered: bool
    confidence: float  # calibrated probability that `article` is the right answer
    language: str  # the question's language (given or detected)
    article: ArticleRef | None  # the best article (also when handing off), in `language` if any
    passage: str
    top: list[tuple[str, float]]
    reason: str  # why it was handed off ('' when answered)
    threshold: float = 1.0
    other_language: bool = False  # the article is not in the customer's language

    @property
    def slug(self) -> str | None:
        return self.article.slug if self.article else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "decision": "answer" if self.answered else "handoff",
            "answered": self.answered,
            "confidence": round(self.confidence, 4),
            "threshold": round(self.threshold, 4),
            "language": self.language,
            "article": self.article.to_dict() if self.article else None,
            "passage": self.passage,
            "other_language": self.other_language,
            "top": [{"slug": slug, "score": round(score, 4)} for slug, score in self.top],
            "reason": self.reason,
        }


@dataclass(frozen=True)
class Passage:
    """A piece of an article for agents and drafting."""

    slug: str
    title: str
    text: str
    score: float
    language: str = "en"

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class SyncReport:
    """What an index update did."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    units: int = 0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class ImportReport:
    """What an import did; `index` is the index update that followed."""

    added: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    index: SyncReport = field(default_factory=SyncReport)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        data["skipped"] = data.pop("unchanged")
        return data


@dataclass
class TeachReport:
    """What `teach` did: the example questions each article gained, the questions its article
    had already, the rows without an article (out of scope: nothing to teach) and the index
    update that followed."""

    added: dict[str, list[str]] = field(default_factory=dict)
    known: int = 0
    out_of_scope: int = 0
    warnings: list[str] = field(default_factory=list)
    index: SyncReport = field(default_factory=SyncReport)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Evaluation:
    """`kb eval`: metrics and one prediction per question."""

    metrics: Metrics
    predictions: list[Prediction]


def _handoff(language: str, reason: str) -> Decision:
    return Decision(
        answered=False,
        confidence=0.0,
        language=language,
        article=None,
        passage="",
        top=[],
        reason=reason,
    )


def _records(stored: IndexedUnits, rows: Sequence[int] | None = None) -> list[UnitRecord]:
    """The index's units (or those at `rows`) as the retriever takes them."""
    chosen = range(len(stored.ids)) if rows is None else rows
    return [UnitRecord(stored.ids[i], stored.documents[i], stored.metadatas[i]) for i in chosen]


def _indexed_hash(article: ArticleData) -> str:
    """What the index records of an article's version: its content and how its units were
    made, so a release that makes them differently re-embeds every article on the next sync."""
    return f"{article.content_hash()}:{UNITS_FORMAT}"


class KnowledgeService:
    """Answers from the published knowledge base, and curates it."""

    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        data_dir: Path,
        embedder: Embedder,
        chroma_url: str | None = None,
        *,
        refresh_s: float = 2.0,
    ) -> None:
        self.sessions = sessions
        self.data_dir = data_dir
        self.embedder = embedder
        self.index = ChromaIndex(
            path=None if chroma_url else data_dir / "index",
            url=chroma_url,
            embedder=embedder.name,
            dim=embedder.dim,
        )
        self.refresh_s = refresh_s
        self._snapshot: Snapshot | None = None
        self._calibration: Calibration | None = None
        self._generation: int | None = None
        self._checked_at = 0.0
        self._load_lock = asyncio.Lock()

    # -- lifecycle ------------------------------------------------------------------------

    async def start(self) -> None:
        """Load the model and the index now rather than on the first question; problems are
        logged (questions are then handed off), not raised."""
        warm = getattr(self.embedder, "warm_up", None)
        try:
            if callable(warm):
                await asyncio.to_thread(warm)
            await self._current(force=True)
        except KnowledgeError as exc:
            log.warning("knowledge base not ready: %s", exc)

    async def close(self) -> None:
        """Release the index client (call on shutdown)."""
        await asyncio.to_thread(self.index.close)

    async def _read_generation(self) -> int:
        async with self.sessions() as session:
            return await store.generation(session)

    async def _load(self, *, reopen: bool) -> None:
        def load() -> tuple[Snapshot, dict[str, Any] | None]:
            if reopen:
                self.index.reopen()
            stored = self.index.load()
            snapshot = Snapshot(_records(stored), stored.vectors, ann=self.index.query)
            stale = {
                str(meta.get("slug"))
                for meta in stored.metadatas
                if not str(meta.get("hash", "")).endswith(f":{UNITS_FORMAT}")
            }
            if stale:
                log.warning(
                    "%d indexed article(s) were embedded by an earlier release; answers improve "
                    "after relaydesk kb reindex",
                    len(stale),
                )
            return snapshot, self.index.calibration()

        snapshot, stored_calibration = await asyncio.to_thread(load)
        calibration = None
        if stored_calibration is not None:
            try:
                calibration = Calibration.from_dict(stored_calibration)
            except (CalibrationError, KeyError, TypeError, ValueError) as exc:
                log.warning("ignoring the stored calibration: %s", exc)
        self._snapshot = snapshot
        self._calibration = calibration or calibration_module.default()

    async def _current(self, *, force: bool = False) -> Snapshot:
        """The in-memory knowledge base, reloaded when another process changed the index."""
        now = time.monotonic()
        if not force and self._snapshot is not None and now - self._checked_at < self.refresh_s:
            return self._snapshot
        async with self._load_lock:
            if not force and self._snapshot is not None and now - self._checked_at < self.refresh_s:
                return self._snapshot
            generation = await self._read_generation()
            if force or self._snapshot is None or generation != self._generation:
                await self._load(reopen=self._snapshot is not None)
                self._generation = generation
            self._checked_at = time.monotonic()
            assert self._snapshot is not None
            return self._snapshot

    async def check_index(self) -> None:
        """Raise KnowledgeIndexError when articles are published but the index holds none of
        them (it was deleted, or is a new Chroma server), which would otherwise look like a
        knowledge base without articles."""
        if len(await self._current()):
            return
        async with self.sessions() as session:
            published = (await store.count_articles(session)).get("published", 0)
        if published:
            raise KnowledgeIndexError(
                f"the index at {self.index.where} holds none of the {published} published "
                "articles: run `relaydesk kb reindex`"
            )

    @property
    def calibration(self) -> Calibration:
        """The calibration in use (the shipped default until `kb calibrate` stores one)."""
        return self._calibration or calibration_module.default()

    # -- answering ------------------------------------------------------------------------

    async def _embed(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return await asyncio.to_thread(self.embedder.embed, list(texts))

    def _rank(
        self,
        snapshot: Snapshot,
        text: str,
        language: str,
        vectors: np.ndarray[Any, np.dtype[np.float32]],
        gloss_text: str,
        *,
        mode: Mode = "hybrid",
        k: int = 5,
    ) -> Ranking:
        return snapshot.rank(
            text,
            vectors[0],
            language=language,
            gloss=gloss_text,
            gloss_vector=vectors[1] if gloss_text and len(vectors) > 1 else None,
            mode=mode,
            k=k,
        )

    @staticmethod
    def _gloss(text: str, language: str) -> str:
        return gloss(text) if language == "pl" else ""

    async def rank(
        self, text: str, language: str | None = None, *, mode: Mode = "hybrid", k: int = 5
    ) -> tuple[Ranking, str]:
        """The ranking for one question and its language (raises KnowledgeError)."""
        text = text.strip()[:MAX_QUESTION_CHARS]
        lang = language or detect(text)
        snapshot = await self._current()
        matched = neutral(text, lang)
        gloss_text = self._gloss(matched, lang)
        vectors = await self._embed([matched, gloss_text] if gloss_text else [matched])
        return self._rank(snapshot, matched, lang, vectors, gloss_text, mode=mode, k=k), lang

    def _decide(
        self,
        snapshot: Snapshot,
        ranking: Ranking,
        language: str,
        calibration: Calibration | None = None,
    ) -> Decision:
        top = ranking.top
        if top is None:
            return _handoff(language, "the knowledge base has no published articles")
        calibration = calibration or self.calibration
        confidence = calibration.confidence(feature_vector(ranking.features), language)
        threshold = calibration.threshold(language)
        entry = snapshot.article(top.slug)
        assert entry is not None
        article = ArticleRef(
            slug=entry.slug,
            title=entry.title,
            language=entry.language,
            department=entry.department,
            body=ranking.passage,
        )
        answered = confidence >= threshold
        reason = (
            ""
            if answered
            else f"confidence {confidence:.2f} is below the {threshold:.2f} needed to answer"
        )
        return Decision(
            answered=answered,
            confidence=confidence,
            language=language,
            article=article,
            passage=ranking.passage,
            top=[(hit.slug, hit.score) for hit in ranking.hits],
            reason=reason,
            threshold=threshold,
            other_language=entry.language != language,
        )

    async def answer(self, text: str, language: str | None = None) -> Decision:
        """Answer from a published article when the calibrated confidence is high enough,
        otherwise hand off. Never raises: an unavailable index is a hand-off with a reason."""
        clean = text.strip()
        lang = language or detect(clean)
        if not clean:
            return _handoff(lang, "the message has no text")
        try:
            snapshot = await self._current()
            ranking, lang = await self.rank(clean, lang)
            return self._decide(snapshot, ranking, lang)
        except KnowledgeError as exc:
            log.warning("knowledge base unavailable: %s", exc)
            return _handoff(lang, f"the knowledge base is unavailable: {exc}")
        except Exception as exc:  # the index or model failed in an unexpected way
            log.exception("knowledge base failed on a question")
            return _handoff(lang, f"the knowledge base failed: {type(exc).__name__}")

    async def search(self, text: str, language: str | None = None, k: int = 5) -> list[Passage]:
        """The `k` best articles for a question, each with its closest passage (for agents)."""
        if not text.strip():
            return []
        snapshot = await self._current()
        ranking, _ = await self.rank(text, language, k=k)
        out = []
        for hit in ranking.hits[:k]:
            entry = snapshot.article(hit.slug)
            if entry is None:
                continue
            out.append(
                Passage(
                    slug=hit.slug,
                    title=entry.title,
                    text=snapshot.passage(hit.slug, ranking.unit_scores),
                    score=hit.score,
                    language=entry.language,
                )
            )
        return out

    async def passages(self, text: str, language: str | None = None, k: int = 3) -> list[Passage]:
        """The best passages for drafting a reply (plain data: drafting imports nothing of
        ours). Empty when the index is unavailable."""
        try:
            return await self.search(text, language, k)
        except KnowledgeError as exc:
            log.warning("no passages for drafting: %s", exc)
            return []

    # -- answer log and feedback ----------------------------------------------------------

    async def log_answer(
        self,
        session: AsyncSession,
        decision: Decision,
        question: str,
        *,
        channel: str | None = None,
        customer_ref: str | None = None,
        ticket_ref: str | None = None,
    ) -> int:
        """Record a decision in the caller's transaction; returns the answer id that 👍/👎
        buttons carry."""
        row = AnswerLog(
            question=question[:MAX_QUESTION_CHARS],
            language=decision.language,
            answered=decision.answered,
            slug=decision.slug,
            confidence=float(decision.confidence),
            reason=decision.reason[:300],
            channel=channel,
            customer_ref=customer_ref,
            ticket_ref=ticket_ref,
        )
        session.add(row)
        await session.flush()
        return int(row.id)

    async def record_feedback(
        self,
        session: AsyncSession,
        *,
        helpful: bool,
        answer_id: int | None = None,
        slug: str | None = None,
        question: str | None = None,
        language: str | None = None,
        customer_ref: str | None = None,
    ) -> int:
        """Store a 👍 (helpful) or 👎 in the caller's transaction; the answer's question,
        article and language fill what is not given. Returns the feedback id."""
        if answer_id is not None:
            answer = await session.get(AnswerLog, answer_id)
            if answer is None:
                raise KnowledgeError(f"no answer with id {answer_id}")
            slug = slug or answer.slug
            question = question or answer.question
            language = language or answer.language
            customer_ref = customer_ref or answer.customer_ref
        if answer_id is None and slug is None:
            raise KnowledgeError("feedback needs an answer id or an article slug")
        row = Feedback(
            answer_id=answer_id,
            slug=slug,
            question=(question or "")[:MAX_QUESTION_CHARS],
            language=language,
            helpful=helpful,
            customer_ref=customer_ref,
        )
        session.add(row)
        await session.flush()
        return int(row.id)

    async def erase_question_texts(self, session: AsyncSession, customer_ref: str) -> int:
        """Delete a customer's logged questions and feedback (GDPR erasure), in the caller's
        transaction; returns the number of rows removed."""
        return await store.erase_customer(session, customer_ref)

    # -- curation -------------------------------------------------------------------------

    async def import_path(
        self,
        path: Path,
        *,
        author: str = "admin",
        publish: bool = False,
        progress: Progress | None = None,
    ) -> ImportReport:
        """Import a folder of Markdown, a .csv or a .jsonl: new articles are added, changed
        ones get a new version, identical ones are skipped. Nothing is imported if any file
        is bad. The index is updated afterwards."""
        parsed = await asyncio.to_thread(parse_path, path)
        parsed.raise_errors()
        report = ImportReport(warnings=list(parsed.warnings))
        total = len(parsed.articles)
        async with self.sessions() as session:
            for done, (article, _source) in enumerate(parsed.articles, start=1):
                data = article.with_status("published") if publish else article
                outcome = await store.save(session, data, author=author)
                {"added": report.added, "changed": report.changed}.get(
                    outcome, report.unchanged
                ).append(data.slug)
                if progress is not None:
                    progress("import", done, total)
            slugs = {a.slug for a in await store.list_articles(session)}
            for article, source in parsed.articles:
                if article.translation_of and article.translation_of not in slugs:
                    report.warnings.append(
                        f"{source}: translation_of {article.translation_of!r} is not an article"
                    )
            await session.commit()
        saved = len(report.added) + len(report.changed)
        report.index = await self._sync_saved(
            f"{saved} article{'' if saved == 1 else 's'} saved", progress=progress
        )
        return report

    async def teach(
        self, examples: Sequence[LabelledQuestion], *, author: str = "admin"
    ) -> TeachReport:
        """Add labelled questions to the example questions of the articles they expect, one
        new version per article. A question goes to the published translation in its own
        language when the article has one. All or nothing: an unknown article or an overlong
        question is reported (with its file and line) and nothing changes. The index is
        updated after."""
        report = TeachReport()
        wanted: dict[str, list[str]] = {}
        async with self.sessions() as session:
            # (expected slug, question's language) -> (slug taught, translation group)
            targets: dict[tuple[str, str], tuple[str, str]] = {}
            owners: dict[str, set[str]] = {}
            for stored in await store.list_articles(session):
                for question in stored.questions or ():
                    owners.setdefault(store.same_question(question), set()).add(stored.group_key)
            for row in examples:
                where = f"{row.where}: " if row.source else ""
                if row.expected is None:
                    report.out_of_scope += 1
                    continue
                if len(row.question) > MAX_QUESTION_CHARS:
                    raise KnowledgeError(
                        f"{where}the question is longer than {MAX_QUESTION_CHARS} characters"
                    )
                try:
                    storable(row.question, "question")
                except ArticleFormatError as exc:
                    raise KnowledgeError(f"{where}{exc}") from None
                language = row.language or detect(row.question)
                key = (row.expected, language)
                if key not in targets:
                    article = await store.find(session, row.expected)
                    if article is None:
                        raise ArticleNotFoundError(f"{where}no article with slug {row.expected!r}")
                    target = await store.translation(session, article, language)
                    targets[key] = (target.slug, article.group_key)
                slug, group = targets[key]
                wanted.setdefault(slug, []).append(row.question)
                others = owners.get(store.same_question(row.question), set()) - {group}
                if others:
                    report.warnings.append(
                        f"{where}{row.question!r} is also an example question of "
                        + ", ".join(sorted(others))
                    )
            for slug, questions in wanted.items():
                added = await store.add_questions(session, slug, questions, author=author)
                report.known += len(questions) - len(added)
                if added:
                    report.added[slug] = added
            await session.commit()
        if report.added:
            taught = sum(len(added) for added in report.added.values())
            report.index = await self._sync_saved(
                f"{taught} example question{'' if taught == 1 else 's'} saved"
            )
        return report

    async def _change_status(self, slug: str, status: str, author: str) -> bool:
        async with self.sessions() as session:
            changed = await store.set_status(session, slug, status, author=author)
            await session.commit()
        # also when nothing changed: an update that failed last time is made now
        await self._sync_saved(f"{slug!r} is {status}")
        return changed

    async def publish(self, slug: str, *, author: str = "admin") -> bool:
        """Make an article answerable; returns False if it already was published."""
        return await self._change_status(slug, "published", author)

    async def archive(self, slug: str, *, author: str = "admin") -> bool:
        """Take an article out of answers (kept with its history); False if already archived."""
        return await self._change_status(slug, "archived", author)

    async def rollback(self, slug: str, version: int, *, author: str = "admin") -> int:
        """Restore the content of an earlier version as a new version; returns its number."""
        async with self.sessions() as session:
            article = await store.rollback(session, slug, version, author=author)
            new_version = article.version
            await session.commit()
        await self._sync_saved(f"version {version} of {slug!r} restored as version {new_version}")
        return new_version

    async def history(self, slug: str) -> list[store.VersionInfo]:
        """Every version of an article, oldest first."""
        async with self.sessions() as session:
            return await store.history(session, slug)

    async def articles(
        self, *, status: str | None = None, language: str | None = None
    ) -> list[Article]:
        """Stored articles, by slug."""
        async with self.sessions() as session:
            return await store.list_articles(session, status=status, language=language)

    async def article(self, slug: str) -> Article:
        """One stored article (any status)."""
        async with self.sessions() as session:
            return await store.get(session, slug)

    async def export(self, folder: Path, *, status: str | None = None) -> list[Path]:
        """Write every article (or those in `status`) as Markdown that `import` reads back."""
        async with self.sessions() as session:
            rows = await store.list_articles(session, status=status)
            articles: list[ArticleData] = [store.to_data(a) for a in rows]

        def write() -> list[Path]:
            for article in articles:  # before writing any, so that none is half written
                target = folder / f"{article.slug}.md"
                if target.exists() and not target.is_file():
                    raise KnowledgeError(f"{target} is in the way (not a file): nothing exported")
            return [write_markdown(article, folder) for article in articles]

        return await asyncio.to_thread(write)

    async def load_demo(self, *, progress: Progress | None = None) -> ImportReport:
        """Import, publish and index the demo knowledge base, then calibrate it on its own
        labelled questions, unless a calibration of the team's own (`kb calibrate`) is
        stored: that one is kept. Running it again changes nothing."""
        report = await self.import_path(demo.FOLDER, author="demo", publish=True, progress=progress)
        current = await asyncio.to_thread(self.index.calibration)
        source = current.get("source") if current else None
        if source not in (None, "demo"):
            if report.added or report.changed:
                report.warnings.append(
                    f"the calibration from {source} is kept, but the demo's articles changed "
                    "the knowledge base: run relaydesk kb calibrate again"
                )
            return report
        if report.added or report.changed or source is None:
            await self.calibrate_demo(progress=progress)
        return report

    async def calibrate_demo(
        self, *, source: str = "demo", store_it: bool = True, progress: Progress | None = None
    ) -> Calibration:
        """Calibrate the loaded demo on its labelled questions, the way the shipped default is
        fitted (`bench/kb_default_calibration.py`): the default also serves knowledge bases
        without Polish articles, so the demo's Polish questions are asked a second time
        against its English articles alone and those samples join the fit."""
        rows = demo.labelled()
        polish = [row for row in rows if row.language == "pl"]
        across = await self.samples(polish, articles_in="en", progress=progress)
        return await self.calibrate(
            rows, source=source, extra=across, store_it=store_it, progress=progress
        )

    # -- index ----------------------------------------------------------------------------

    async def _embed_batches(
        self, texts: Sequence[str], progress: Progress | None
    ) -> np.ndarray[Any, np.dtype[np.float32]]:
        blocks = []
        for start in range(0, len(texts), EMBED_BATCH):
            blocks.append(await self._embed(texts[start : start + EMBED_BATCH]))
            if progress is not None:
                progress("embed", min(start + EMBED_BATCH, len(texts)), len(texts))
        if not blocks:
            return np.zeros((0, self.embedder.dim), dtype=np.float32)
        return np.vstack(blocks).astype(np.float32, copy=False)

    async def sync_index(
        self, *, progress: Progress | None = None, rebuild: bool = False
    ) -> SyncReport:
        """Bring the index in line with the published articles (only what changed is
        re-embedded; `rebuild` starts from an empty index, e.g. after changing embedder)."""
        async with self.sessions() as session:
            articles = await store.published(session)
        # a rebuild embeds everything before it drops the old index, so a failing embedder
        # leaves the old index (and its calibration) as it was
        indexed = {} if rebuild else await asyncio.to_thread(self.index.article_hashes)
        wanted = {a.slug: a for a in articles}
        report = SyncReport()
        for slug, content_hash in indexed.items():
            if slug not in wanted:
                report.removed.append(slug)
            elif _indexed_hash(wanted[slug]) != content_hash:
                report.updated.append(slug)
        for slug in wanted:
            if slug not in indexed:
                report.added.append(slug)
        todo = [wanted[s] for s in [*report.updated, *report.added]]
        ids: list[str] = []
        documents: list[str] = []
        metadatas: list[dict[str, Any]] = []
        for article in todo:
            for unit in article_units(article):
                ids.append(unit.id)
                documents.append(neutral(unit.text, article.language))
                meta: dict[str, Any] = {
                    "slug": article.slug,
                    "kind": unit.kind,
                    "language": article.language,
                    "group": article.group,
                    "title": article.title,
                    "department": article.department or "",
                    "hash": _indexed_hash(article),
                    "position": unit.position,
                }
                if unit.kind == "chunk":
                    meta["passage"] = unit.passage
                metadatas.append(meta)
        report.units = len(ids)
        if report.changed or rebuild:
            vectors = await self._embed_batches(documents, progress)

            def write() -> None:
                kept_calibration = self.index.reset() if rebuild else None
                self.index.replace(
                    [*report.removed, *report.updated],
                    ids,
                    vectors,
                    documents,
                    metadatas,
                    progress=(lambda n: progress("index", n, len(ids))) if progress else None,
                )
                if rebuild and kept_calibration is not None:
                    self.index.store_calibration(kept_calibration)

            await asyncio.to_thread(write)
            await self._changed()
        elif not await asyncio.to_thread(self.index.exists):
            await asyncio.to_thread(self.index.reset)
        return report

    async def _sync_saved(self, saved: str, *, progress: Progress | None = None) -> SyncReport:
        """`sync_index` after a change was committed: if it fails, the error says that the
        change is saved and the index is behind (running the command again, or
        `kb reindex`, brings it up to date)."""
        try:
            return await self.sync_index(progress=progress)
        except KnowledgeError as exc:
            hint = "" if "kb reindex" in str(exc) else "; run `relaydesk kb reindex` once it works"
            raise KnowledgeIndexError(
                f"{saved}, but the index was not updated (customers are still answered from "
                f"the old one): {exc}{hint}"
            ) from exc

    async def _changed(self) -> None:
        """Tell every process the index changed, and reload ours."""
        async with self.sessions() as session:
            generation = await store.bump_generation(session)
            await session.commit()
        await self._load(reopen=False)
        self._generation = generation
        self._checked_at = time.monotonic()

    async def remove_articles(self, slugs: Sequence[str]) -> None:
        """Drop articles from the index at once (e.g. erased with a customer's data), even
        before the transaction deleting their rows commits."""
        if not slugs:
            return
        await asyncio.to_thread(
            self.index.replace,
            list(slugs),
            [],
            np.zeros((0, self.embedder.dim), np.float32),
            [],
            [],
        )
        await self._changed()

    async def reindex(self, *, progress: Progress | None = None) -> SyncReport:
        """Rebuild the index from the published articles with the current embedder."""
        return await self.sync_index(progress=progress, rebuild=True)

    async def status(self) -> dict[str, Any]:
        """Counts of articles and indexed units, the embedder and the calibration in use."""
        async with self.sessions() as session:
            counts = await store.count_articles(session)
        snapshot = await self._current(force=True)
        return {
            "articles": counts,
            "indexed_articles": len(snapshot),
            "indexed_units": snapshot.unit_count,
            "embedder": self.embedder.name,
            "index": self.index.where,
            "calibration": self.calibration.source,
        }

    # -- calibration and evaluation -------------------------------------------------------

    async def _rank_many(
        self,
        rows: Sequence[LabelledQuestion],
        *,
        mode: Mode = "hybrid",
        progress: Progress | None = None,
        snapshot: Snapshot | None = None,
    ) -> tuple[Snapshot, list[tuple[Ranking, str]]]:
        snapshot = snapshot or await self._current()
        languages = [row.language or detect(row.question) for row in rows]
        matched = [neutral(row.question, lang) for row, lang in zip(rows, languages, strict=True)]
        glosses = [self._gloss(text, lang) for text, lang in zip(matched, languages, strict=True)]
        texts = [*matched, *(g for g in glosses if g)]
        vectors = await self._embed_batches(texts, progress)
        out: list[tuple[Ranking, str]] = []
        gloss_row = len(rows)
        for i, (text, lang, gloss_text) in enumerate(zip(matched, languages, glosses, strict=True)):
            if gloss_text:
                pair = np.vstack([vectors[i], vectors[gloss_row]])
                gloss_row += 1
            else:
                pair = vectors[i : i + 1]
            out.append((self._rank(snapshot, text, lang, pair, gloss_text, mode=mode, k=10), lang))
        return snapshot, out

    @staticmethod
    def _check_expected(snapshot: Snapshot, rows: Sequence[LabelledQuestion]) -> None:
        unknown = [r for r in rows if r.expected and snapshot.article(r.expected) is None]
        if unknown:
            first = unknown[0]
            raise CalibrationError(
                f"{first.where}: expected article {first.expected!r} is not published "
                f"({len(unknown)} row{'s' if len(unknown) != 1 else ''} name unknown articles)"
            )

    async def _only(self, language: str) -> Snapshot:
        """The published articles in `language` alone, as a knowledge base of their own."""

        def load() -> Snapshot:
            stored = self.index.load()
            keep = [i for i, m in enumerate(stored.metadatas) if m.get("language") == language]
            return Snapshot(_records(stored, keep), stored.vectors[keep])

        return await asyncio.to_thread(load)

    @staticmethod
    def _same_group(snapshot: Snapshot, slug: str | None, expected: str | None) -> bool:
        if slug is None or expected is None:
            return False
        a, b = snapshot.article(slug), snapshot.article(expected)
        return a is not None and b is not None and a.group == b.group

    async def samples(
        self,
        rows: Sequence[LabelledQuestion],
        *,
        mode: Mode = "hybrid",
        progress: Progress | None = None,
        articles_in: str | None = None,
    ) -> list[Sample]:
        """What calibration learns from: each labelled question's decision features and
        whether its best match is right (raises CalibrationError on unknown articles).
        `articles_in` asks them against the published articles in that language alone, as a
        knowledge base without translations would answer them."""
        await self.check_index()
        whole = await self._current()
        only = await self._only(articles_in) if articles_in else whole
        snapshot, ranked = await self._rank_many(rows, mode=mode, progress=progress, snapshot=only)
        if not len(snapshot):
            raise CalibrationError("the knowledge base has no published articles to calibrate")
        self._check_expected(whole, rows)
        samples = []
        for row, (ranking, lang) in zip(rows, ranked, strict=True):
            top = ranking.top
            # right means the expected article's translation group, whatever `articles_in` is
            correct = bool(row.expected) and self._same_group(
                whole, top.slug if top else None, row.expected
            )
            samples.append(
                Sample(lang, feature_vector(ranking.features), correct, bool(row.expected))
            )
        return samples

    async def calibrate(
        self,
        rows: Sequence[LabelledQuestion],
        *,
        target: float = calibration_module.DEFAULT_TARGET,
        source: str = "calibrated",
        mode: Mode = "hybrid",
        store_it: bool = True,
        progress: Progress | None = None,
        extra: Sequence[Sample] = (),
    ) -> Calibration:
        """Fit confidence and per-language thresholds on labelled questions (empty expected =
        out of scope) and store them with the index (`store_it=False` only returns them);
        `extra` adds samples taken elsewhere (e.g. from another knowledge base). A language
        none of them is in keeps the shipped default's model and threshold (fitted for hybrid
        retrieval, so only then)."""
        samples = await self.samples(rows, mode=mode, progress=progress)
        fitted = calibration_module.fit(
            [*samples, *extra],
            target=target,
            source=source,
            inherit=calibration_module.default() if mode == "hybrid" else None,
        )
        if store_it:
            await asyncio.to_thread(self.index.store_calibration, fitted.to_dict())
            await self._changed()
        return fitted

    async def evaluate(
        self,
        rows: Sequence[LabelledQuestion],
        *,
        mode: Mode = "hybrid",
        calibration: Calibration | None = None,
        progress: Progress | None = None,
    ) -> Evaluation:
        """Decisions for labelled questions, and the metrics of `kb eval` (`calibration`
        replaces the stored one, e.g. to compare retrieval modes)."""
        await self.check_index()
        snapshot, ranked = await self._rank_many(rows, mode=mode, progress=progress)
        self._check_expected(snapshot, rows)
        predictions = []
        for row, (ranking, lang) in zip(rows, ranked, strict=True):
            decision = self._decide(snapshot, ranking, lang, calibration)
            top = [hit.slug for hit in ranking.hits]
            rank = next(
                (
                    i
                    for i, s in enumerate(top, start=1)
                    if self._same_group(snapshot, s, row.expected)
                ),
                None,
            )
            predictions.append(
                Prediction(
                    question=row.question,
                    expected=row.expected,
                    language=lang,
                    decision="answer" if decision.answered else "handoff",
                    slug=decision.slug,
                    top=top[:5],
                    confidence=round(decision.confidence, 4),
                    correct_top1=rank == 1,
                    rank=rank,
                )
            )
        return Evaluation(summarise(predictions), predictions)

    # -- gaps -----------------------------------------------------------------------------

    async def gaps(
        self, *, since: datetime | None = None, limit: int = 5000, min_size: int = 1
    ) -> list[Cluster]:
        """Handed-off and 👎 questions grouped by meaning, largest group first, each with
        examples and the nearest article."""
        async with self.sessions() as session:
            handed = select(AnswerLog.question, AnswerLog.language).where(
                AnswerLog.answered.is_(False)
            )
            unhelpful = select(Feedback.question, Feedback.language).where(
                Feedback.helpful.is_(False)
            )
            if since is not None:
                handed = handed.where(AnswerLog.created_at >= since)
                unhelpful = unhelpful.where(Feedback.created_at >= since)
            handed_rows = (
                await session.execute(handed.order_by(AnswerLog.id.desc()).limit(limit))
            ).all()
            unhelpful_rows = (
                await session.execute(unhelpful.order_by(Feedback.id.desc()).limit(limit))
            ).all()
        items = [(q, lang or "", "handoff") for q, lang in handed_rows if q and q.strip()]
        items += [(q, lang or "", "unhelpful") for q, lang in unhelpful_rows if q and q.strip()]
        if not items:
            return []
        vectors = await self._embed_batches(
            [neutral(q, lang or "en") for q, lang, _ in items], None
        )
        try:
            snapshot: Snapshot | None = await self._current()
        except KnowledgeError:
            snapshot = None
        out = []
        for members in cluster(vectors):
            if len(members) < min_size:
                continue
            ordered = central(vectors, members, len(members))
            questions = list(dict.fromkeys((items[i][0].strip(), items[i][1]) for i in ordered))
            examples = list(dict.fromkeys(text for text, _ in questions))[:3]
            found = Cluster(
                size=len(members),
                examples=examples,
                languages=sorted({items[i][1] for i in members if items[i][1]}),
                handed_off=sum(1 for i in members if items[i][2] == "handoff"),
                unhelpful=sum(1 for i in members if items[i][2] == "unhelpful"),
                members=list(members),
                questions=questions,
            )
            if snapshot is not None and len(snapshot):
                centroid = vectors[list(members)].mean(axis=0)
                centroid = centroid / max(float(np.linalg.norm(centroid)), 1e-9)
                nearest = snapshot.nearest(centroid.astype(np.float32))
                if nearest is not None:
                    found.nearest_slug, found.nearest_similarity = nearest
            out.append(found)
        return out
