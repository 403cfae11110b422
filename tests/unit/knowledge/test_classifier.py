"""The example classifier and its lexical features, with a small deterministic embedder."""

from __future__ import annotations

import json
import zlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from knowledge.classifier import (
    ARRAYS_FILE,
    META_FILE,
    ClassifierError,
    ExampleClassifier,
    TrainingOptions,
)
from knowledge.embeddings import Vectors
from knowledge.features import HASH_SPACE, LexicalVocabulary, SparseRows, ngrams, tokens


class WordEmbedder:
    """Bag of words hashed into 64 dimensions, unit length: texts sharing words are close."""

    dim = 64

    def __init__(self, name: str = "words-64") -> None:
        self.name = name
        self.calls = 0

    def embed(self, texts: Sequence[str]) -> Vectors:
        self.calls += 1
        rows = np.zeros((len(texts), self.dim), dtype=np.float32)
        for i, text in enumerate(texts):
            for word in tokens(text):
                rows[i, zlib.crc32(word.encode()) % self.dim] += 1.0
        rows[rows.sum(axis=1) == 0, 0] = 1.0
        return rows / np.linalg.norm(rows, axis=1, keepdims=True)


EXAMPLES = {
    "cards": [
        "my card has not arrived",
        "card delivery is late",
        "where is my new card",
        "the card never came in the post",
        "activate the card please",
        "my card stopped working",
        "card blocked after wrong pin",
        "I want a plastic card",
    ],
    "refunds": [
        "I want my money back",
        "refund for a cancelled order",
        "the refund is missing",
        "money back for a faulty item",
        "when do I get the refund",
        "please refund the purchase",
        "no refund received yet",
        "return the money to me",
    ],
    "transfers": [
        "send money abroad",
        "the transfer has not reached my friend",
        "cancel a bank transfer",
        "transfer is still pending",
        "how long does a transfer take",
        "wire money to another account",
        "international transfer fees",
        "my transfer failed",
    ],
}
TEXTS = [text for texts in EXAMPLES.values() for text in texts]
LABELS = [label for label, texts in EXAMPLES.items() for _ in texts]


@pytest.fixture(scope="module")
def trained() -> ExampleClassifier:
    classifier = ExampleClassifier(WordEmbedder(), TrainingOptions(examples_per_component=4))
    classifier.learn(TEXTS, LABELS)
    return classifier


def test_predicts_the_label_of_new_wordings(trained: ExampleClassifier) -> None:
    assert trained.labels == ["cards", "refunds", "transfers"]
    assert trained.example_counts == {"cards": 8, "refunds": 8, "transfers": 8}
    assert trained.predict("has my card arrived yet").label == "cards"
    assert trained.predict("I am still waiting for the refund").label == "refunds"
    assert trained.predict("the transfer to my friend is pending").label == "transfers"


def test_ranking_is_a_probability_over_every_label(trained: ExampleClassifier) -> None:
    prediction = trained.predict("card not arrived")
    labels = [label for label, _ in prediction.ranking]
    scores = [score for _, score in prediction.ranking]
    assert sorted(labels) == trained.labels
    assert scores == sorted(scores, reverse=True)
    assert prediction.confidence == scores[0] and prediction.label == labels[0]
    assert sum(scores) == pytest.approx(1.0, abs=1e-4)
    assert all(0.0 <= s <= 1.0 for s in scores)


def test_clear_texts_are_surer_than_mixed_ones(trained: ExampleClassifier) -> None:
    clear = trained.predict("my new card has not arrived")
    mixed = trained.predict("refund the transfer")  # words of two labels
    unrelated = trained.predict("banana")  # no word of any example
    assert clear.confidence > mixed.confidence
    assert clear.confidence > unrelated.confidence


def test_small_data_is_not_overconfident(trained: ExampleClassifier) -> None:
    # 24 separable examples: the raw model is close to certain about anything. The temperature
    # fitted on held-out folds softens it, without changing which label comes first.
    raw = ExampleClassifier(
        WordEmbedder(), TrainingOptions(examples_per_component=4, calibration_folds=0)
    )
    raw.learn(TEXTS, LABELS)
    assert raw.temperature == 1.0 and trained.temperature > 1.2
    for text in ("pin", "banana", "refund the transfer"):
        calibrated, uncalibrated = trained.predict(text), raw.predict(text)
        assert calibrated.label == uncalibrated.label
        assert calibrated.confidence < uncalibrated.confidence - 0.05


def test_blank_text_gets_the_shares_of_examples(trained: ExampleClassifier) -> None:
    for blank in ("", "   \n"):
        prediction = trained.predict(blank)
        assert prediction.confidence == pytest.approx(1 / 3, abs=1e-4)
        assert {label for label, _ in prediction.ranking} == set(trained.labels)


def test_predict_many_matches_predict(trained: ExampleClassifier) -> None:
    texts = ["card is late", "", "refund please", "send money to my sister"]
    many = trained.predict_many(texts)
    assert [p.label for p in many] == [trained.predict(t).label for t in texts]
    for one, text in zip(many, texts, strict=True):
        assert one.confidence == pytest.approx(trained.predict(text).confidence, abs=1e-5)
    assert trained.predict_many([]) == []


def test_embeddings_only_option_still_learns() -> None:
    classifier = ExampleClassifier(
        WordEmbedder(), TrainingOptions(lexical=False, examples_per_component=4)
    )
    classifier.learn(TEXTS, LABELS)
    assert classifier.predict("the card never arrived").label == "cards"


def test_save_and_load_give_the_same_predictions(
    trained: ExampleClassifier, tmp_path: Path
) -> None:
    folder = tmp_path / "routing"
    trained.save(folder)
    assert sorted(p.name for p in folder.iterdir()) == sorted([ARRAYS_FILE, META_FILE])
    meta = json.loads((folder / META_FILE).read_text())
    assert meta["embedder"] == "words-64" and meta["labels"] == trained.labels
    loaded = ExampleClassifier.load(folder, WordEmbedder())
    texts = ["card is late", "refund missing", "transfer abroad", ""]
    assert loaded.labels == trained.labels
    assert loaded.example_counts == trained.example_counts
    np.testing.assert_allclose(
        loaded.probabilities(texts), trained.probabilities(texts), rtol=0, atol=1e-6
    )
    trained.save(folder)  # saving again replaces the model in place
    assert sorted(p.name for p in folder.iterdir()) == sorted([ARRAYS_FILE, META_FILE])


def test_load_refuses_another_embedder(trained: ExampleClassifier, tmp_path: Path) -> None:
    trained.save(tmp_path)
    with pytest.raises(ClassifierError, match="trained with embedder 'words-64'"):
        ExampleClassifier.load(tmp_path, WordEmbedder(name="other-model"))


def test_load_refuses_missing_or_damaged_files(trained: ExampleClassifier, tmp_path: Path) -> None:
    with pytest.raises(ClassifierError, match="no trained classifier"):
        ExampleClassifier.load(tmp_path / "nothing", WordEmbedder())
    trained.save(tmp_path)
    (tmp_path / ARRAYS_FILE).write_bytes(b"not an npz file")
    with pytest.raises(ClassifierError, match="damaged"):
        ExampleClassifier.load(tmp_path, WordEmbedder())
    (tmp_path / META_FILE).write_text("{")
    with pytest.raises(ClassifierError, match="unreadable"):
        ExampleClassifier.load(tmp_path, WordEmbedder())
    (tmp_path / META_FILE).write_text(json.dumps({"format": "something else"}))
    with pytest.raises(ClassifierError, match="not a relaydesk classifier"):
        ExampleClassifier.load(tmp_path, WordEmbedder())


@pytest.mark.parametrize(
    ("texts", "labels", "message"),
    [
        (["a", "b"], ["x"], "2 texts but 1 labels"),
        ([], [], "no examples"),
        (["card", "  "], ["x", "y"], "example 2: the text is empty"),
        (["card", "refund"], ["x", ""], "example 2: the label is empty"),
        (["card", "refund"], ["x", "x"], "at least two labels"),
        ("card", "x", "not a string"),
    ],
)
def test_learn_rejects_unusable_examples(texts: list[str], labels: list[str], message: str) -> None:
    with pytest.raises(ClassifierError, match=message):
        ExampleClassifier(WordEmbedder()).learn(texts, labels)


def test_predict_rejects_what_is_not_text(trained: ExampleClassifier) -> None:
    with pytest.raises(ClassifierError, match="texts must be strings, got NoneType"):
        trained.predict(None)  # type: ignore[arg-type]
    with pytest.raises(ClassifierError, match="not a string"):
        trained.predict_many("card")


def test_predict_before_learning_is_an_error() -> None:
    classifier = ExampleClassifier(WordEmbedder())
    assert classifier.labels == [] and not classifier.trained
    with pytest.raises(ClassifierError, match="not learned anything"):
        classifier.predict("card")


def test_one_example_labels_are_learned() -> None:
    classifier = ExampleClassifier(WordEmbedder())
    classifier.learn(["card arrived late", "refund missing"], ["cards", "refunds"])
    assert classifier.predict("late card").label == "cards"
    assert classifier.predict("missing refund").label == "refunds"


# lexical features ------------------------------------------------------------------------------


def test_features_cover_words_pairs_and_character_ngrams() -> None:
    assert tokens("Nie pamiętam HASŁA, pomóż!") == ["nie", "pamiętam", "hasła", "pomóż"]
    features = ngrams("Card late")
    assert {"card", "late", "card late", "# ca", "#card", "#ard l"} <= set(features)


def test_vocabulary_keeps_shared_features_and_weights_rare_ones_higher() -> None:
    texts = ["card late", "card lost", "refund late", "card refund"]
    vocabulary, rows = LexicalVocabulary.fit_transform(texts)
    assert rows.count == 4 and rows.width == vocabulary.size
    for r in range(rows.count):
        values = rows.values[rows.starts[r] : rows.starts[r + 1]]
        assert float(np.sum(values**2)) == pytest.approx(1.0, abs=1e-5)
    unseen = vocabulary.transform(["zebra quartz"])
    assert unseen.starts.tolist() == [0, 0]  # nothing it knows: an empty row
    # "lost" occurs in one text only: dropped (min_df 2); "card" (3 texts) weighs less than
    # "late" (2 texts)
    idf = dict(zip(vocabulary.buckets.tolist(), vocabulary.idf.tolist(), strict=True))
    assert bucket("lost") not in idf
    assert idf[bucket("card")] < idf[bucket("late")]


def bucket(feature: str) -> int:
    return zlib.crc32(feature.encode()) % HASH_SPACE


@settings(max_examples=40, deadline=None)
@given(
    st.lists(st.lists(st.floats(-2, 2, width=32), min_size=6, max_size=6), min_size=1, max_size=5),
    st.integers(1, 3),
)
def test_sparse_products_match_dense_ones(dense_rows: list[list[float]], k: int) -> None:
    dense = np.asarray(dense_rows, dtype=np.float32)
    dense[np.abs(dense) < 0.5] = 0.0  # make it sparse, with some empty rows
    columns, values, starts = [], [], [0]
    for row in dense:
        nonzero = np.flatnonzero(row)
        columns.extend(nonzero.tolist())
        values.extend(row[nonzero].tolist())
        starts.append(len(columns))
    sparse = SparseRows(
        np.asarray(columns, dtype=np.int64),
        np.asarray(values, dtype=np.float32),
        np.asarray(starts, dtype=np.int64),
        dense.shape[1],
    )
    weights = np.arange(dense.shape[1] * k, dtype=np.float32).reshape(dense.shape[1], k) / 7
    grad = np.arange(dense.shape[0] * k, dtype=np.float32).reshape(dense.shape[0], k) / 5
    np.testing.assert_allclose(sparse.dot(weights), dense @ weights, rtol=1e-4, atol=1e-4)
    np.testing.assert_allclose(sparse.transpose_dot(grad), dense.T @ grad, rtol=1e-4, atol=1e-4)
