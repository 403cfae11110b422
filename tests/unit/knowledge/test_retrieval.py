"""Hybrid scoring, fusion modes, translation groups and decision features, on hand-made
vectors (no model): what the retriever does with the scores is checked exactly."""

from __future__ import annotations

from typing import Any

import numpy as np
import pytest

from knowledge import retrieval
from knowledge.retrieval import Snapshot, UnitRecord, feature_vector


def unit(unit_id: str, slug: str, kind: str, text: str, **meta: Any) -> UnitRecord:
    base = {"slug": slug, "kind": kind, "language": "en", "group": slug, "title": slug}
    base.update(meta)
    if kind == "chunk":
        base.setdefault("passage", f"passage of {unit_id}")
        base.setdefault("position", int(unit_id[-1]))
    return UnitRecord(unit_id, text, base)


def axis(i: int, dim: int = 8) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    v[i] = 1.0
    return v


def mix(*parts: tuple[int, float], dim: int = 8) -> np.ndarray:
    v = np.zeros(dim, dtype=np.float32)
    for i, w in parts:
        v[i] = w
    return (v / np.linalg.norm(v)).astype(np.float32)


@pytest.fixture
def snapshot() -> Snapshot:
    records = [
        unit("refund#t", "refund", "title", "refund money back"),
        unit("refund#q1", "refund", "question", "where is my refund"),
        unit("refund#c1", "refund", "chunk", "refunds take five days"),
        unit("zwrot#t", "zwrot", "title", "zwrot pieniędzy", language="pl", group="refund"),
        unit("zwrot#c1", "zwrot", "chunk", "zwrot trwa pięć dni", language="pl", group="refund"),
        unit("invoice#t", "invoice", "title", "invoice download"),
        unit("invoice#c1", "invoice", "chunk", "download the invoice pdf"),
        unit("invoice#c2", "invoice", "chunk", "company invoice with tax number"),
    ]
    vectors = np.vstack(
        [
            axis(0),
            axis(0),
            mix((0, 1), (1, 1)),
            axis(0),
            mix((0, 1), (2, 1)),
            axis(3),
            axis(3),
            mix((3, 1), (4, 1)),
        ]
    )
    return Snapshot(records, vectors)


def test_articles_are_grouped_with_their_units(snapshot: Snapshot) -> None:
    assert [a.slug for a in snapshot.articles] == ["invoice", "refund", "zwrot"]
    refund = snapshot.article("refund")
    assert refund is not None
    assert (refund.end - refund.start, refund.passages) == (3, ("passage of refund#c1",))
    assert snapshot.groups["refund"] == [1, 2]


def test_unit_score_blends_best_and_second_best_unit(snapshot: Snapshot) -> None:
    dense, units = snapshot.unit_dense_scores(axis(3))
    second = float(mix((3, 1), (4, 1))[3])
    w = retrieval.SECOND_WEIGHT
    assert dense[0] == pytest.approx((1 - w) * 1.0 + w * 1.0)  # two units at 1.0
    assert dense[1] == pytest.approx(0.0)
    dense, _ = snapshot.unit_dense_scores(mix((3, 1), (4, 1)))
    assert dense[0] == pytest.approx((1 - w) * 1.0 + w * second)
    assert units.shape == (8,)


def test_dense_score_is_the_whitened_prototype(snapshot: Snapshot) -> None:
    invoice = snapshot.article("invoice")
    assert invoice is not None
    mean = snapshot.vectors[invoice.start : invoice.end].mean(axis=0)
    prototype = snapshot.prototype_scores(mean)
    assert prototype[0] == pytest.approx(1.0)  # the article's own mean, in any space
    assert int(np.argmax(prototype)) == 0
    dense, _ = snapshot.dense_scores(mean)
    unit_best, _ = snapshot.unit_dense_scores(mean)
    w = retrieval.PROTOTYPE_WEIGHT
    assert dense == pytest.approx(w * prototype + (1 - w) * unit_best, abs=1e-5)


def test_prototypes_discount_what_varies_within_an_article() -> None:
    records = [
        unit("a#t", "a", "title", "a"),
        unit("a#c1", "a", "chunk", "a"),
        unit("b#t", "b", "title", "b"),
        unit("b#c1", "b", "chunk", "b"),
    ]
    # a's units disagree along axis 2, b's along axis 3; they differ along axes 0 and 1
    vectors = np.vstack(
        [mix((0, 1), (2, 1)), mix((0, 1), (2, -1)), mix((1, 1), (3, 1)), mix((1, 1), (3, -1))]
    )
    snapshot = Snapshot(records, vectors)
    assert snapshot.whiten is not None
    # the question leans to b on the axes that separate them, but shares a's unit on axis 2
    question = mix((0, 0.5), (1, 0.6), (2, 1.0))
    unit_best, _ = snapshot.unit_dense_scores(question)
    assert unit_best[0] > unit_best[1]
    assert snapshot.prototype_scores(question)[1] > snapshot.prototype_scores(question)[0]


def test_ranking_prefers_the_customers_language_within_a_group(snapshot: Snapshot) -> None:
    english = snapshot.rank("where is my refund", axis(0), language="en")
    assert english.top is not None and english.top.slug == "refund"
    polish = snapshot.rank("gdzie mój zwrot", axis(0), language="pl")
    assert polish.top is not None and polish.top.slug == "zwrot"
    assert polish.top.group == "refund"
    assert [hit.group for hit in polish.hits] == ["refund", "invoice"]  # one hit per group
    assert polish.features["cross_lingual"] == 0.0
    german = snapshot.rank("wo ist meine Erstattung", axis(0), language="de")
    assert german.features["cross_lingual"] == 1.0


def test_passage_is_the_closest_chunk_of_the_chosen_article(snapshot: Snapshot) -> None:
    ranking = snapshot.rank("company invoice tax", mix((3, 1), (4, 2)), language="en")
    assert ranking.top is not None and ranking.top.slug == "invoice"
    assert ranking.passage == "passage of invoice#c2"


def test_lexical_evidence_breaks_dense_ties(
    snapshot: Snapshot, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(retrieval, "PROTOTYPE_WEIGHT", 0.0)  # unit scores: an exact tie
    tie = mix((0, 1), (3, 1))
    assert snapshot.rank("invoice pdf download", tie, language="en").top.slug == "invoice"  # type: ignore[union-attr]
    assert snapshot.rank("refund money", tie, language="en").top.slug == "refund"  # type: ignore[union-attr]


def test_modes(snapshot: Snapshot) -> None:
    vector = axis(0)
    dense = snapshot.rank("invoice", vector, language="en", mode="dense")
    bm25 = snapshot.rank("invoice", vector, language="en", mode="bm25")
    rrf = snapshot.rank("invoice", vector, language="en", mode="rrf")
    assert dense.top.slug == "refund"  # type: ignore[union-attr]
    assert bm25.top.slug == "invoice"  # type: ignore[union-attr]
    # rank fusion over articles: invoice is 1st lexically and 3rd densely (after refund and
    # its translation); refund is 1st densely and has no lexical match
    assert rrf.top.slug == "invoice"  # type: ignore[union-attr]
    assert rrf.top.score == pytest.approx(1 / 61 + 1 / 63)  # type: ignore[union-attr]


def test_features_describe_the_margin_to_the_runner_up(snapshot: Snapshot) -> None:
    ranking = snapshot.rank("where is my refund", axis(0), language="en")
    f = ranking.features
    assert f["dense"] == pytest.approx(ranking.hits[0].dense)
    # margin and score: the fusion over the units' closeness (as meaningful in any knowledge
    # base), not the prototypes' ranking score
    runner_up = ranking.hits[1].dense + retrieval.LEXICAL_WEIGHT * ranking.hits[1].lexical
    assert f["score"] == pytest.approx(f["dense"] + retrieval.LEXICAL_WEIGHT * f["lexical"])
    assert f["margin"] == pytest.approx(f["score"] - runner_up)
    assert f["dense_margin"] > 0
    # and the ranking's own margin, between the first two groups' fused scores
    assert f["rank_margin"] == pytest.approx(ranking.hits[0].score - ranking.hits[1].score)
    assert f["rank_margin"] > 0
    assert len(feature_vector(f)) == len(retrieval.FEATURES)


def test_gloss_is_used_only_for_articles_in_other_languages() -> None:
    records = [
        unit("en#t", "en", "title", "tracking an order"),
        unit("pl#t", "pl", "title", "reklamacja", language="pl"),
    ]
    snapshot = Snapshot(records, np.vstack([axis(0), axis(1)]))
    # the Polish question itself points nowhere; its English gloss points at the English article
    ranking = snapshot.rank(
        "gdzie moja paczka", axis(5), language="pl", gloss="where order", gloss_vector=axis(0)
    )
    assert ranking.top is not None and ranking.top.slug == "en"
    assert ranking.features["cross_lingual"] == 1.0


def test_a_group_with_the_customers_language_is_judged_by_that_article() -> None:
    records = [
        unit("refund#t", "refund", "title", "refund"),
        unit("zwrot#t", "zwrot", "title", "zwrot", language="pl", group="refund"),
        unit("invoice#t", "invoice", "title", "invoice"),  # no Polish translation
    ]
    snapshot = Snapshot(records, np.vstack([axis(0), axis(6), axis(3)]))
    question = mix((0, 1.0), (3, 0.8), (6, 0.1))
    ranking = snapshot.rank("pytanie", question, language="pl")
    # the English refund article is closest, but its group has a Polish article, which is far:
    # the English-only invoice group, matched across languages, comes first
    assert [hit.slug for hit in ranking.hits] == ["invoice", "zwrot"]
    assert ranking.hits[1].score == pytest.approx(0.1 / float(np.linalg.norm([1.0, 0.8, 0.1])))


def test_empty_snapshot_ranks_nothing() -> None:
    empty = Snapshot([], np.zeros((0, 8), dtype=np.float32))
    assert len(empty) == 0
    assert empty.rank("anything", axis(0), language="en").top is None
    assert empty.nearest(axis(0)) is None
