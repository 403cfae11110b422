"""Hybrid retrieval over the knowledge base held in memory: dense + BM25, fused, per article
and per translation group, with the features the calibrated decision uses.

Dense: cosine between the question and every unit (title, example questions, body chunks);
an article scores a fifth by its nearest units (mostly its best, partly its second best: one
lucky unit is weaker evidence than two) and four fifths by its prototype, the mean of its units
in a space whitened by how units vary within articles (shrunk linear discriminant analysis, learned
from the knowledge base itself), which separates near-duplicate topics better. Across
languages (the whitening knows only the articles' own) the nearest units alone count. The
decision features use the units' closeness, which means the same in any knowledge base, and
the ranking's margin between its first two groups.
Lexical: BM25 over whole articles, normalised by the best score the question could reach.
Fusion: `dense + LEXICAL_WEIGHT * lexical` (measured better than reciprocal rank fusion, which
throws the scores' margins away; `mode="rrf"` keeps it for comparison). Polish questions
against articles in another language also use an English gloss of the question. Names,
numbers and amounts are masked on both sides before any of this (`knowledge.entities`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import numpy.typing as npt

from knowledge.lexical import BM25

Mode = Literal["hybrid", "dense", "bm25", "rrf"]
MODES: tuple[Mode, ...] = ("hybrid", "dense", "bm25", "rrf")
LEXICAL_WEIGHT = 0.4
RRF_K = 60
SECOND_WEIGHT = 0.2  # an article scores (1 - w) * its best unit + w * its second best
# The dense article score is mostly the article's prototype (see `_prototypes`), partly that.
PROTOTYPE_WEIGHT = 0.8
# Shrinkage of the within-article scatter towards a sphere when whitening the prototypes.
WHITEN_SHRINK = 0.3
WHITEN_SAMPLE = 20_000
# Above this many units, dense candidates come from the HNSW index instead of an exact scan.
EXACT_LIMIT = 60_000
HNSW_CANDIDATES = 400
FEATURES = (
    "dense",
    "dense_margin",
    "margin",
    "lexical",
    "score",
    "cross_lingual",
    "rank_margin",
)

Vector = npt.NDArray[np.float32]
Matrix = npt.NDArray[np.float32]


@dataclass(frozen=True)
class ArticleEntry:
    """What the retriever knows about one indexed article."""

    slug: str
    title: str
    language: str
    group: str
    department: str | None
    content_hash: str
    start: int  # its units are rows start:end of the matrix
    end: int
    chunks: tuple[int, ...]  # rows of its body chunks
    passages: tuple[str, ...]  # the Markdown of each chunk, in the same order


@dataclass(frozen=True)
class Hit:
    """One translation group in a ranking, represented by the article a customer would get."""

    slug: str
    group: str
    language: str
    score: float
    dense: float  # closeness of its nearest units (the decision's absolute evidence)
    lexical: float


@dataclass
class Ranking:
    """The ranked groups for one question, and what the decision needs to know."""

    hits: list[Hit]
    features: dict[str, float] = field(default_factory=dict)
    passage: str = ""
    best_match: str = ""  # slug of the article that matched best (maybe another language)
    unit_scores: npt.NDArray[Any] | None = None

    @property
    def top(self) -> Hit | None:
        return self.hits[0] if self.hits else None


@dataclass
class UnitRecord:
    """One unit as stored in the index."""

    id: str
    text: str
    meta: dict[str, Any]


def _bm25_text(texts: Sequence[str], title: str) -> str:
    return " ".join([title, title, *texts])


class Snapshot:
    """The published knowledge base in memory: unit vectors grouped by article, BM25 over
    articles, translation groups. Immutable once built; a new one replaces it on change."""

    def __init__(
        self,
        records: Sequence[UnitRecord],
        vectors: Matrix,
        *,
        ann: Callable[[Vector, int], list[tuple[str, float]]] | None = None,
    ) -> None:
        order = sorted(
            range(len(records)),
            key=lambda i: (str(records[i].meta.get("slug", "")), records[i].id),
        )
        self.ids = [records[i].id for i in order]
        self.vectors: Matrix = (
            vectors[order].astype(np.float32, copy=False)
            if len(order)
            else np.zeros((0, vectors.shape[1] if vectors.ndim == 2 else 0), dtype=np.float32)
        )
        self._row_of_id = {unit_id: row for row, unit_id in enumerate(self.ids)}
        self.ann = ann
        self.articles: list[ArticleEntry] = []
        texts: list[str] = []
        start = 0
        while start < len(order):
            slug = str(records[order[start]].meta.get("slug", ""))
            end = start
            while end < len(order) and str(records[order[end]].meta.get("slug", "")) == slug:
                end += 1
            group_records = [records[order[i]] for i in range(start, end)]
            title_meta = next((r.meta for r in group_records if r.meta.get("kind") == "title"), {})
            meta = title_meta or group_records[0].meta
            chunks = [
                (start + offset, r)
                for offset, r in enumerate(group_records)
                if r.meta.get("kind") == "chunk"
            ]
            chunks.sort(key=lambda item: int(item[1].meta.get("position", 0)))
            self.articles.append(
                ArticleEntry(
                    slug=slug,
                    title=str(meta.get("title", slug)),
                    language=str(meta.get("language", "en")),
                    group=str(meta.get("group", slug)),
                    department=str(meta.get("department") or "") or None,
                    content_hash=str(meta.get("hash", "")),
                    start=start,
                    end=end,
                    chunks=tuple(row for row, _ in chunks),
                    passages=tuple(str(r.meta.get("passage", "")) for _, r in chunks),
                )
            )
            texts.append(
                _bm25_text(
                    [r.text for r in group_records if r.meta.get("kind") != "title"],
                    str(meta.get("title", "")),
                )
            )
            start = end
        self.by_slug = {a.slug: i for i, a in enumerate(self.articles)}
        self.groups: dict[str, list[int]] = {}
        for index, article in enumerate(self.articles):
            self.groups.setdefault(article.group, []).append(index)
        self.languages = np.array([a.language for a in self.articles])
        self._translated: dict[str, npt.NDArray[np.bool_]] = {}
        self.starts = np.array([a.start for a in self.articles], dtype=np.int64)
        self.lengths = np.array([a.end - a.start for a in self.articles], dtype=np.int64)
        self.unit_article = (
            np.repeat(np.arange(len(self.articles)), self.lengths)
            if self.articles
            else np.zeros(0, dtype=np.int64)
        )
        self.bm25 = BM25(texts)
        self._prototypes()

    def __len__(self) -> int:
        return len(self.articles)

    def _prototypes(self) -> None:
        """Each article's prototype: the mean of its units' vectors, in a space whitened by
        the spread of units within articles (shrunk towards a sphere), so directions along
        which one article's own units already differ count less than those that tell
        articles apart (linear discriminant analysis on the knowledge base itself)."""
        dim = self.vectors.shape[1] if self.vectors.ndim == 2 else 0
        self.whiten: Matrix | None = None
        self.prototypes: Matrix = np.zeros((len(self.articles), dim), dtype=np.float32)
        if not self.articles or dim == 0:
            return
        sums = np.add.reduceat(self.vectors, self.starts, axis=0, dtype=np.float64)
        means = (sums / self.lengths[:, None]).astype(np.float32)
        rows = np.arange(0, self.unit_count, max(1, self.unit_count // WHITEN_SAMPLE + 1))
        scatter = np.zeros((dim, dim), dtype=np.float64)
        for block in range(0, len(rows), 4096):  # a block at a time: no copy of every vector
            chosen = rows[block : block + 4096]
            residual = self.vectors[chosen] - means[self.unit_article[chosen]]
            scatter += residual.T @ residual
        scatter /= len(rows)
        spread = float(np.trace(scatter)) / dim
        prototypes = means.astype(np.float64)
        if spread > 1e-9 and len(self.articles) > 1:
            sigma = (1 - WHITEN_SHRINK) * scatter + WHITEN_SHRINK * spread * np.eye(dim)
            values, basis = np.linalg.eigh(sigma)
            values = np.maximum(values, 1e-6 * spread)
            self.whiten = ((basis / np.sqrt(values)) @ basis.T).astype(np.float32)
            prototypes = prototypes @ self.whiten
        norms = np.maximum(np.linalg.norm(prototypes, axis=1, keepdims=True), 1e-9)
        self.prototypes = (prototypes / norms).astype(np.float32)

    def prototype_scores(self, vector: Vector) -> npt.NDArray[np.float32]:
        """Cosine between the question and each article's prototype (same whitened space)."""
        query = vector.astype(np.float32, copy=False)
        if self.whiten is not None:
            query = query @ self.whiten
        norm = float(np.linalg.norm(query))
        if norm < 1e-9:
            return np.zeros(len(self.articles), dtype=np.float32)
        result: npt.NDArray[np.float32] = self.prototypes @ (query / norm)
        return result

    @property
    def unit_count(self) -> int:
        return len(self.ids)

    # -- scoring --------------------------------------------------------------------------

    def _unit_scores(self, vector: Vector) -> npt.NDArray[np.float32]:
        if self.ann is not None and self.unit_count > EXACT_LIMIT:
            scores = np.full(self.unit_count, -1.0, dtype=np.float32)
            for unit_id, similarity in self.ann(vector, HNSW_CANDIDATES):
                row = self._row_of_id.get(unit_id)
                if row is not None:
                    scores[row] = similarity
            return scores
        result: npt.NDArray[np.float32] = self.vectors @ vector.astype(np.float32, copy=False)
        return result

    def dense_scores(self, vector: Vector) -> tuple[npt.NDArray[np.float32], npt.NDArray[Any]]:
        """(per-article score: its prototype mixed with its two best units; per-unit
        similarities)."""
        units = self._unit_scores(vector)
        units_best, _ = self.unit_dense_scores(vector, units)
        return self._mixed(vector, units_best), units

    def _mixed(
        self, vector: Vector, units_best: npt.NDArray[np.float32]
    ) -> npt.NDArray[np.float32]:
        if not self.articles or PROTOTYPE_WEIGHT == 0:
            return units_best
        prototype = self.prototype_scores(vector)
        mixed = PROTOTYPE_WEIGHT * prototype + (1 - PROTOTYPE_WEIGHT) * units_best
        return mixed.astype(np.float32)

    def unit_dense_scores(
        self, vector: Vector, units: npt.NDArray[Any] | None = None
    ) -> tuple[npt.NDArray[np.float32], npt.NDArray[Any]]:
        """(per-article score from its two best units; per-unit similarities, which a caller
        that has them already may pass as `units`)."""
        if units is None:
            units = self._unit_scores(vector)
        if not self.articles:
            return np.zeros(0, dtype=np.float32), units
        best = np.maximum.reduceat(units, self.starts)
        if SECOND_WEIGHT == 0:
            return best.astype(np.float32), units
        is_best = units == np.repeat(best, self.lengths)
        rows = np.flatnonzero(is_best)
        owners = self.unit_article[rows]
        _, first = np.unique(owners, return_index=True)
        masked = units.copy()
        masked[rows[first]] = -np.inf
        second = np.maximum.reduceat(masked, self.starts)
        second = np.where(self.lengths > 1, second, best)
        return ((1 - SECOND_WEIGHT) * best + SECOND_WEIGHT * second).astype(np.float32), units

    def lexical_scores(self, text: str) -> npt.NDArray[np.float32]:
        """BM25 per article, divided by the best score `text` could reach (0..1)."""
        ceiling = self.bm25.max_score(text)
        if ceiling <= 0:
            return np.zeros(len(self.articles), dtype=np.float32)
        result: npt.NDArray[np.float32] = (self.bm25.scores(text) / ceiling).astype(np.float32)
        return result

    def rank(
        self,
        text: str,
        vector: Vector,
        *,
        language: str,
        gloss: str = "",
        gloss_vector: Vector | None = None,
        mode: Mode = "hybrid",
        k: int = 5,
    ) -> Ranking:
        """Translation groups ranked for a question, with decision features."""
        if not self.articles:
            return Ranking(hits=[])
        units = self._unit_scores(vector)
        # closeness to each article's nearest units: absolute evidence, comparable across
        # knowledge bases, for the decision; the ranking uses the prototypes
        closeness, _ = self.unit_dense_scores(vector, units)
        dense = self._mixed(vector, closeness)
        lexical = self.lexical_scores(text)
        other = self.languages != language
        if other.any():
            # the whitening is learned on the articles' own language: across languages the
            # plain unit similarities (and the English gloss, where there is one) are surer
            cross = closeness
            if gloss and gloss_vector is not None:
                cross_gloss, _ = self.unit_dense_scores(gloss_vector)
                cross = ((cross + cross_gloss) / 2).astype(np.float32)
                lexical = np.where(other, self.lexical_scores(gloss), lexical).astype(np.float32)
            dense = np.where(other, cross, dense).astype(np.float32)
            closeness = np.where(other, cross, closeness).astype(np.float32)
        fused = _fuse(dense, lexical, mode)
        evidence = _fuse(closeness, lexical, mode)
        if other.any():
            # a group with an article in the customer's language is judged by that article:
            # its other translations would only add the weaker cross-lingual evidence
            fused = np.where(other & self.translated(language), -np.inf, fused).astype(np.float32)
        return self._groups(fused, closeness, lexical, evidence, units, language, k)

    def translated(self, language: str) -> npt.NDArray[np.bool_]:
        """For each article, whether its translation group has an article in `language`."""
        found = self._translated.get(language)
        if found is None:
            groups = {a.group for a in self.articles if a.language == language}
            found = np.array([a.group in groups for a in self.articles], dtype=bool)
            self._translated[language] = found
        return found

    def _groups(
        self,
        fused: npt.NDArray[np.float32],
        dense: npt.NDArray[np.float32],
        lexical: npt.NDArray[np.float32],
        evidence: npt.NDArray[np.float32],
        units: npt.NDArray[Any],
        language: str,
        k: int,
    ) -> Ranking:
        """Groups in the order of `fused`; the decision features come mostly from `evidence`
        (the same fusion over the units' closeness, which means the same in any knowledge
        base, where the prototypes' whitened scores depend on the articles around them), plus
        the ranking's own margin between the first two groups: when the prototypes and the
        units disagree, that margin is small and the answer less sure."""
        order = np.argsort(-fused, kind="stable")
        seen: dict[str, int] = {}
        ranked: list[tuple[str, int]] = []
        for index in order:
            group = self.articles[int(index)].group
            if group not in seen:
                seen[group] = int(index)
                ranked.append((group, int(index)))
        hits: list[Hit] = []
        for group, best in ranked[: max(k, 2)]:
            chosen = best
            for member in self.groups[group]:
                if self.articles[member].language == language:
                    chosen = member
                    break
            article = self.articles[chosen]
            hits.append(
                Hit(
                    slug=article.slug,
                    group=group,
                    language=article.language,
                    score=float(fused[best]),
                    dense=float(dense[best]),
                    lexical=float(lexical[best]),
                )
            )
        top_best = ranked[0][1]
        others_dense = [float(dense[i]) for g, i in ranked[1:]]
        second_dense = max(others_dense) if others_dense else 0.0
        top_evidence = float(evidence[top_best])
        second_evidence = float(evidence[ranked[1][1]]) if len(ranked) > 1 else 0.0
        second_fused = float(fused[ranked[1][1]]) if len(ranked) > 1 else 0.0
        top = hits[0]
        features = {
            "dense": top.dense,
            "dense_margin": top.dense - second_dense,
            "margin": top_evidence - second_evidence,
            "lexical": top.lexical,
            "score": top_evidence,
            "cross_lingual": 0.0 if top.language == language else 1.0,
            "rank_margin": float(fused[top_best]) - second_fused,
        }
        return Ranking(
            hits=hits[:k],
            features=features,
            passage=self.passage(top.slug, units),
            best_match=self.articles[top_best].slug,
            unit_scores=units,
        )

    def passage(self, slug: str, unit_scores: npt.NDArray[Any] | None = None) -> str:
        """The body chunk of `slug` closest to the question (its first chunk without one)."""
        index = self.by_slug.get(slug)
        if index is None:
            return ""
        article = self.articles[index]
        if not article.chunks:
            return ""
        if unit_scores is None:
            return article.passages[0]
        similarities = unit_scores[list(article.chunks)]
        return article.passages[int(np.argmax(similarities))]

    def article(self, slug: str) -> ArticleEntry | None:
        index = self.by_slug.get(slug)
        return None if index is None else self.articles[index]

    def nearest(self, vector: Vector) -> tuple[str, float] | None:
        """The article whose units are closest to `vector` (for the gap report)."""
        if not self.articles:
            return None
        dense, _ = self.dense_scores(vector)
        best = int(np.argmax(dense))
        return self.articles[best].slug, float(dense[best])


def _ranks(scores: npt.NDArray[np.float32]) -> npt.NDArray[np.float64]:
    order = np.argsort(-scores, kind="stable")
    ranks = np.empty(len(scores), dtype=np.float64)
    ranks[order] = np.arange(1, len(scores) + 1)
    return ranks


def _fuse(
    dense: npt.NDArray[np.float32], lexical: npt.NDArray[np.float32], mode: Mode
) -> npt.NDArray[np.float32]:
    if mode == "dense":
        return dense
    if mode == "bm25":
        # ties (no shared word) fall back to the dense order, far below any lexical match
        return (lexical + 1e-3 * dense).astype(np.float32)
    if mode == "rrf":
        dense_part = 1.0 / (RRF_K + _ranks(dense))
        lexical_part = np.where(lexical > 0, 1.0 / (RRF_K + _ranks(lexical)), 0.0)
        return (dense_part + lexical_part).astype(np.float32)
    return (dense + LEXICAL_WEIGHT * lexical).astype(np.float32)


def feature_vector(features: dict[str, float]) -> list[float]:
    """The decision features in a fixed order."""
    return [float(features.get(name, 0.0)) for name in FEATURES]
