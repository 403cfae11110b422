"""Example-based text classifier: learns labelled texts, predicts a label with a confidence.

Used by routing (texts labelled with departments) and by anything else that learns labels from
examples. The model is a softmax over *components*: each label gets one component per about
`examples_per_component` of its examples (seeded by spherical k-means on the sentence
embeddings), so a label that covers several kinds of request ("card arrival", "card PIN",
"contactless" in one department) is learned as several simple regions rather than one. A label's
probability is the sum of its components' probabilities; training maximises the likelihood of the
right label (the component within it is latent). Each component scores the text's sentence
embedding (the shared `Embedder`) and each label adds a weight for every word, word pair and
character n-gram of the text (TF-IDF, `knowledge.features`), which catches wording the embedding
blurs. Training is full-batch Adam on numpy with L2 regularisation.

The components' probabilities are mixed with a similarity-weighted vote of the nearest learned
examples, and the mixture is calibrated by a temperature fitted on folds of the examples held out
of training, so the confidence tracks the share of right guesses (`bench/route_eval.py`).
"""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from knowledge.embeddings import Embedder
from knowledge.errors import KnowledgeError
from knowledge.features import LexicalVocabulary, SparseRows

FORMAT = "relaydesk-example-classifier"
FORMAT_VERSION = 1
META_FILE = "classifier.json"
ARRAYS_FILE = "classifier.npz"
EMBED_BATCH = 256
NEIGHBOUR_BATCH = 512

Floats = npt.NDArray[np.float32]
Ints = npt.NDArray[np.int64]


class ClassifierError(KnowledgeError):
    """The classifier cannot learn these examples, or a saved one cannot be used."""


@dataclass(frozen=True)
class Prediction:
    """The most likely label, its probability, and every label with its probability."""

    label: str
    confidence: float
    ranking: list[tuple[str, float]]


@dataclass(frozen=True)
class TrainingOptions:
    """How the classifier learns; the defaults were chosen by validation on training data."""

    examples_per_component: int = 30
    lexical: bool = True
    lexical_weight: float = 1.0  # lexical inputs are scaled by this times sqrt(embedding dim)
    epochs: int = 200
    learning_rate: float = 0.01
    l2: float = 1e-4
    min_df: int = 2
    seed: int = 0
    # The final probability mixes the components' with a vote of the nearest examples (cosine
    # similarity of embeddings, votes weighted by exp(similarity / temperature)).
    neighbours: int = 10
    neighbour_temperature: float = 0.05
    neighbour_weight: float = 0.5
    # Confidence calibration: a temperature fitted on examples held out of the training (one
    # model per fold, all folds up to `calibrate_all_folds_up_to` examples, else the first
    # only); fewer than 2 folds turns it off.
    calibration_folds: int = 5
    calibrate_all_folds_up_to: int = 2000


@dataclass
class _Model:
    """The learned arrays."""

    labels: list[str]
    owner: Ints  # label index of each component
    component_weights: Floats  # (embedding dim, components)
    component_bias: Floats  # (components,)
    lexical_weights: Floats  # (lexical features, labels), applied to TF-IDF rows as they are
    vocabulary: LexicalVocabulary
    prior: Floats  # share of examples per label
    counts: list[int] = field(default_factory=list)
    examples: npt.NDArray[np.float16] = field(default_factory=lambda: np.zeros((0, 0), np.float16))
    example_labels: Ints = field(default_factory=lambda: np.zeros(0, np.int64))
    temperature: float = 1.0  # log-probabilities are divided by it (fitted on held-out folds)


class ExampleClassifier:
    """Learns labelled texts and predicts the label of a new text with a confidence.

    >>> clf = ExampleClassifier(embedder)
    >>> clf.learn(["my card never came", "refund please"], ["cards", "payments"])
    >>> clf.predict("where is my new card?").label
    'cards'
    """

    def __init__(self, embedder: Embedder, options: TrainingOptions | None = None) -> None:
        self.embedder = embedder
        self.options = options or TrainingOptions()
        self._model: _Model | None = None

    @property
    def labels(self) -> list[str]:
        """The labels learned, sorted; empty before `learn`."""
        return list(self._model.labels) if self._model else []

    @property
    def trained(self) -> bool:
        """Whether `learn` (or `load`) has given the classifier a model."""
        return self._model is not None

    @property
    def temperature(self) -> float:
        """The calibration temperature fitted when learning (1.0: none; > 1: softened)."""
        return self._model.temperature if self._model else 1.0

    @property
    def example_counts(self) -> dict[str, int]:
        """How many examples each label was learned from."""
        if self._model is None:
            return {}
        return dict(zip(self._model.labels, self._model.counts, strict=True))

    # learning -------------------------------------------------------------------------------

    def learn(self, texts: Sequence[str], labels: Sequence[str]) -> None:
        """Learn from `texts` labelled with `labels` (replacing anything learned before).

        Raises `ClassifierError` for mismatched lengths, blank texts or labels, or fewer than
        two distinct labels.
        """
        if isinstance(texts, str) or isinstance(labels, str):
            raise ClassifierError("texts and labels must be sequences of strings, not a string")
        if len(texts) != len(labels):
            raise ClassifierError(f"{len(texts)} texts but {len(labels)} labels")
        if not texts:
            raise ClassifierError("nothing to learn: no examples")
        for i, (text, label) in enumerate(zip(texts, labels, strict=True)):
            if not isinstance(text, str) or not text.strip():
                raise ClassifierError(f"example {i + 1}: the text is empty")
            if not isinstance(label, str) or not label.strip():
                raise ClassifierError(f"example {i + 1}: the label is empty")
        names = sorted({label.strip() for label in labels})
        if len(names) < 2:
            raise ClassifierError(f"needs at least two labels to tell apart, got {names}")
        index = {name: i for i, name in enumerate(names)}
        y = np.asarray([index[label.strip()] for label in labels], dtype=np.int64)
        embeddings = self._embed(texts)
        text_list = list(texts)
        temperature = _calibrate(text_list, embeddings, y, names, self.options)
        model = _train(text_list, embeddings, y, names, self.options)
        model.temperature = temperature
        self._model = model

    # predicting -----------------------------------------------------------------------------

    def predict(self, text: str) -> Prediction:
        """The most likely label for `text`; a blank text gets the labels' shares of examples."""
        return self.predict_many([text])[0]

    def predict_many(self, texts: Sequence[str]) -> list[Prediction]:
        """`predict` for many texts at once (faster: one embedding batch)."""
        if isinstance(texts, str):
            raise ClassifierError("predict_many takes a sequence of texts, not a string")
        return [self._prediction(row) for row in self.probabilities(texts)]

    def probabilities(self, texts: Sequence[str]) -> Floats:
        """(len(texts), len(labels)) label probabilities, columns in `labels` order."""
        model = self._require()
        if not texts:
            return np.zeros((0, len(model.labels)), dtype=np.float32)
        for text in texts:
            if not isinstance(text, str):
                raise ClassifierError(f"texts must be strings, got {type(text).__name__}")
        blank = np.asarray([not t.strip() for t in texts], dtype=bool)
        filled = [t for t in texts if t.strip()]
        out = np.empty((len(texts), len(model.labels)), dtype=np.float32)
        out[blank] = model.prior
        if filled:
            embeddings = self._embed(filled)
            lexical = model.vocabulary.transform(filled)
            out[~blank] = _label_probabilities(model, embeddings, lexical, self.options)
        return out

    def _prediction(self, row: Floats) -> Prediction:
        model = self._require()
        order = np.argsort(-row, kind="stable")
        ranking = [(model.labels[i], round(float(row[i]), 6)) for i in order]
        return Prediction(label=ranking[0][0], confidence=ranking[0][1], ranking=ranking)

    # storage --------------------------------------------------------------------------------

    def save(self, path: Path) -> None:
        """Write the model into the folder `path` (created if needed), replacing what is there.

        Two files: `classifier.json` (labels, embedder, options) and `classifier.npz` (arrays);
        each is written to a temporary file and renamed, so a reader never sees half a model.
        """
        model = self._require()
        path.mkdir(parents=True, exist_ok=True)
        meta = {
            "format": FORMAT,
            "version": FORMAT_VERSION,
            "embedder": self.embedder.name,
            "dim": int(self.embedder.dim),
            "labels": model.labels,
            "counts": model.counts,
            "temperature": model.temperature,
            "options": asdict(self.options),
        }
        _atomic_write(
            path / ARRAYS_FILE,
            lambda f: np.savez(
                f,
                owner=model.owner,
                component_weights=model.component_weights,
                component_bias=model.component_bias,
                lexical_weights=model.lexical_weights,
                buckets=model.vocabulary.buckets,
                idf=model.vocabulary.idf,
                prior=model.prior,
                examples=model.examples,
                example_labels=model.example_labels,
            ),
        )
        data = json.dumps(meta, ensure_ascii=False, indent=2).encode("utf-8")
        _atomic_write(path / META_FILE, lambda f: f.write(data))

    @classmethod
    def load(cls, path: Path, embedder: Embedder) -> ExampleClassifier:
        """A classifier saved by `save` in the folder `path`, using `embedder`.

        Raises `ClassifierError` when the folder holds no model, the files are damaged, or the
        model was trained with another embedder (its vectors would mean something else).
        """
        meta_path, arrays_path = path / META_FILE, path / ARRAYS_FILE
        if not meta_path.is_file() or not arrays_path.is_file():
            raise ClassifierError(f"no trained classifier in {path}")
        try:
            meta = json.loads(meta_path.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise ClassifierError(f"{meta_path}: unreadable ({exc})") from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise ClassifierError(f"{meta_path}: not a relaydesk classifier")
        if meta.get("version") != FORMAT_VERSION:
            raise ClassifierError(
                f"{meta_path}: format version {meta.get('version')} is not supported "
                f"(expected {FORMAT_VERSION}); train it again"
            )
        if meta.get("embedder") != embedder.name or meta.get("dim") != embedder.dim:
            raise ClassifierError(
                f"{path}: trained with embedder {meta.get('embedder')!r} "
                f"({meta.get('dim')}-d), not {embedder.name!r} ({embedder.dim}-d); train it again"
            )
        try:
            with np.load(arrays_path, allow_pickle=False) as arrays:
                loaded = {name: arrays[name] for name in arrays.files}
            options = TrainingOptions(**meta.get("options", {}))
            labels = [str(label) for label in meta["labels"]]
            model = _Model(
                labels=labels,
                owner=loaded["owner"].astype(np.int64),
                component_weights=loaded["component_weights"].astype(np.float32),
                component_bias=loaded["component_bias"].astype(np.float32),
                lexical_weights=loaded["lexical_weights"].astype(np.float32),
                vocabulary=LexicalVocabulary(
                    loaded["buckets"].astype(np.int64), loaded["idf"].astype(np.float32)
                ),
                prior=loaded["prior"].astype(np.float32),
                counts=[int(c) for c in meta.get("counts", [])],
                examples=loaded["examples"].astype(np.float16),
                example_labels=loaded["example_labels"].astype(np.int64),
                temperature=float(meta.get("temperature", 1.0)),
            )
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise ClassifierError(f"{arrays_path}: damaged ({exc})") from None
        _check_shapes(model, embedder.dim, arrays_path)
        classifier = cls(embedder, options)
        classifier._model = model
        return classifier

    # helpers --------------------------------------------------------------------------------

    def _require(self) -> _Model:
        if self._model is None:
            raise ClassifierError("the classifier has not learned anything yet")
        return self._model

    def _embed(self, texts: Sequence[str]) -> Floats:
        # In batches: an embedder's cache stays useful and memory stays flat on big files.
        parts = [
            np.asarray(self.embedder.embed(list(texts[i : i + EMBED_BATCH])), dtype=np.float32)
            for i in range(0, len(texts), EMBED_BATCH)
        ]
        vectors = np.vstack(parts) if parts else np.zeros((0, self.embedder.dim), np.float32)
        if vectors.shape != (len(texts), self.embedder.dim):
            raise ClassifierError(
                f"the embedder returned {vectors.shape}, expected ({len(texts)}, "
                f"{self.embedder.dim})"
            )
        return vectors


# training ------------------------------------------------------------------------------------


def _scale(dim: int) -> np.float32:
    """Unit embeddings have coordinates of about 1/sqrt(dim); scaling gives them unit variance."""
    return np.float32(math.sqrt(dim))


def _softmax(scores: npt.NDArray[np.floating[Any]]) -> Floats:
    shifted = scores - scores.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    result: Floats = (exp / exp.sum(axis=1, keepdims=True)).astype(np.float32)
    return result


def _spherical_kmeans(vectors: Floats, k: int, rng: np.random.Generator) -> Ints:
    """Cluster unit vectors by cosine similarity (k-means++ seeding); returns assignments."""
    n = len(vectors)
    if k <= 1 or n <= k:
        return np.arange(n, dtype=np.int64) if n <= k else np.zeros(n, dtype=np.int64)
    centres = [vectors[int(rng.integers(n))]]
    for _ in range(1, k):
        distance = np.maximum(1.0 - np.max(vectors @ np.asarray(centres).T, axis=1), 0.0)
        total = float(distance.sum())
        pick = int(rng.choice(n, p=distance / total)) if total > 0 else int(rng.integers(n))
        centres.append(vectors[pick])
    centre_matrix = np.asarray(centres, dtype=np.float32)
    assignment = np.argmax(vectors @ centre_matrix.T, axis=1)
    for _ in range(20):
        for j in range(k):
            members = vectors[assignment == j]
            if len(members):
                total_vector = members.sum(axis=0)
                centre_matrix[j] = total_vector / max(float(np.linalg.norm(total_vector)), 1e-12)
        new_assignment = np.argmax(vectors @ centre_matrix.T, axis=1)
        if np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
    result: Ints = assignment.astype(np.int64)
    return result


class _Adam:
    """Adam updates for a list of arrays, in place."""

    def __init__(self, params: list[Floats], rate: float) -> None:
        self.params = params
        self.rate = rate
        self.first = [np.zeros_like(p) for p in params]
        self.second = [np.zeros_like(p) for p in params]
        self.step = 0

    def update(self, grads: list[Floats]) -> None:
        self.step += 1
        correction1 = 1.0 - 0.9**self.step
        correction2 = 1.0 - 0.999**self.step
        for param, grad, m, v in zip(self.params, grads, self.first, self.second, strict=True):
            m *= 0.9
            m += 0.1 * grad
            v *= 0.999
            v += 0.001 * grad * grad
            param -= self.rate * (m / correction1) / (np.sqrt(v / correction2) + 1e-8)


def _train(
    texts: list[str], embeddings: Floats, y: Ints, labels: list[str], options: TrainingOptions
) -> _Model:
    rng = np.random.default_rng(options.seed)
    n, dim = embeddings.shape
    n_labels = len(labels)
    scaled = embeddings * _scale(dim)

    owner_list: list[int] = []
    initial: list[Floats] = []
    for label in range(n_labels):
        members = np.flatnonzero(y == label)
        if not len(members):
            continue  # a label missing from a calibration fold's training part
        k = max(1, round(len(members) / max(options.examples_per_component, 1)))
        assignment = _spherical_kmeans(embeddings[members], k, rng)
        for j in np.unique(assignment):
            initial.append(scaled[members[assignment == j]].mean(axis=0))
            owner_list.append(label)
    owner = np.asarray(owner_list, dtype=np.int64)
    membership = (owner[:, None] == np.arange(n_labels)[None, :]).astype(np.float32)
    own_label = (owner[None, :] == y[:, None]).astype(np.float32)  # (n, components)

    # Start each component near its cluster: a small multiple of the cluster's mean.
    weights: Floats = (np.asarray(initial, dtype=np.float32).T * np.float32(0.1)).copy()
    bias: Floats = np.zeros(len(owner), dtype=np.float32)
    vocabulary, lexical_rows = LexicalVocabulary.fit_transform(
        texts if options.lexical else [], min_df=options.min_df
    )
    lexical = lexical_rows if options.lexical else None
    rows = lexical.row_ids() if lexical is not None else None
    lexical_weights: Floats = np.zeros((vocabulary.size, n_labels), dtype=np.float32)
    lexical_scale = _scale(dim) * np.float32(options.lexical_weight)
    l2 = np.float32(options.l2)

    params = [weights, bias, lexical_weights]
    adam = _Adam(params, options.learning_rate)
    for _ in range(options.epochs):
        scores = scaled @ weights + bias
        if lexical is not None:
            scores += (lexical_scale * lexical.dot(lexical_weights)) @ membership.T
        prob = _softmax(scores)
        # Gradient of -log P(label) where P(label) sums its components: the posterior over
        # the right label's components is the target.
        target = prob * own_label
        target /= np.maximum(target.sum(axis=1, keepdims=True), 1e-30)
        grad = (prob - target) / np.float32(n)
        grads: list[Floats] = [scaled.T @ grad + l2 * weights, grad.sum(axis=0)]
        if lexical is not None:
            label_grad = (grad @ membership).astype(np.float32)
            grads.append(
                lexical_scale * lexical.transpose_dot(label_grad, rows) + l2 * lexical_weights
            )
        else:
            grads.append(np.zeros_like(lexical_weights))
        adam.update(grads)

    counts = np.bincount(y, minlength=n_labels)
    lexical_weights *= lexical_scale  # stored ready to multiply unscaled TF-IDF rows
    return _Model(
        labels=labels,
        owner=owner,
        component_weights=weights,
        component_bias=bias,
        lexical_weights=lexical_weights,
        vocabulary=vocabulary,
        prior=(counts / counts.sum()).astype(np.float32),
        counts=[int(c) for c in counts],
        examples=embeddings.astype(np.float16),
        example_labels=y.astype(np.int64),
    )


def _component_scores(model: _Model, embeddings: Floats, lexical: SparseRows) -> Floats:
    dim = embeddings.shape[1]
    scores = (embeddings * _scale(dim)) @ model.component_weights + model.component_bias
    if model.vocabulary.size:
        membership = _membership(model.owner, len(model.labels))
        scores += lexical.dot(model.lexical_weights) @ membership.T
    result: Floats = scores.astype(np.float32, copy=False)
    return result


def _membership(owner: Ints, n_labels: int) -> Floats:
    """(components, labels): 1 where the component belongs to the label."""
    result: Floats = (owner[:, None] == np.arange(n_labels)[None, :]).astype(np.float32)
    return result


def _mixed_probabilities(
    model: _Model, embeddings: Floats, lexical: SparseRows, options: TrainingOptions
) -> Floats:
    """Label probabilities before calibration: components mixed with the neighbours' vote."""
    membership = _membership(model.owner, len(model.labels))
    result: Floats = (_softmax(_component_scores(model, embeddings, lexical)) @ membership).astype(
        np.float32
    )
    weight = options.neighbour_weight
    if weight > 0 and options.neighbours > 0 and len(model.example_labels):
        votes = _neighbour_votes(model, embeddings, options)
        result = ((1.0 - weight) * result + weight * votes).astype(np.float32)
    return result


def _neighbour_votes(model: _Model, embeddings: Floats, options: TrainingOptions) -> Floats:
    """Each label's share of the similarity-weighted votes of the nearest learned examples."""
    k = min(options.neighbours, len(model.example_labels))
    n_labels = len(model.labels)
    votes = np.zeros((len(embeddings), n_labels), dtype=np.float32)
    examples = model.examples.astype(np.float32)
    for start in range(0, len(embeddings), NEIGHBOUR_BATCH):
        part = embeddings[start : start + NEIGHBOUR_BATCH]
        similarity = part @ examples.T
        nearest = np.argpartition(-similarity, k - 1, axis=1)[:, :k]
        top = np.take_along_axis(similarity, nearest, axis=1)
        weights = np.exp((top - top.max(axis=1, keepdims=True)) / options.neighbour_temperature)
        rows = np.repeat(np.arange(len(part)), k)
        flat = np.bincount(
            rows * n_labels + model.example_labels[nearest].ravel(),
            weights=weights.ravel(),
            minlength=len(part) * n_labels,
        )
        votes[start : start + len(part)] = flat.reshape(len(part), n_labels)
    votes /= np.maximum(votes.sum(axis=1, keepdims=True), 1e-30)
    return votes


def _temper(probabilities: Floats, temperature: float) -> Floats:
    """Probabilities raised to 1/T and renormalised (T > 1 softens, T < 1 sharpens)."""
    logs = np.log(np.maximum(probabilities, 1e-12)) / np.float32(temperature)
    return _softmax(logs)


def _label_probabilities(
    model: _Model, embeddings: Floats, lexical: SparseRows, options: TrainingOptions
) -> Floats:
    return _temper(_mixed_probabilities(model, embeddings, lexical, options), model.temperature)


TEMPERATURES = np.exp(np.linspace(math.log(0.05), math.log(20.0), 161))


def _calibrate(
    texts: list[str], embeddings: Floats, y: Ints, labels: list[str], options: TrainingOptions
) -> float:
    """The temperature that makes held-out probabilities most likely (1.0 without data).

    Examples are dealt into stratified folds; a model trained without a fold scores it, and the
    temperature minimising the held-out negative log-likelihood of the right label is chosen
    from a log-spaced grid. An over-confident model (few examples, separable data) gets T > 1.
    """
    if options.calibration_folds < 2:
        return 1.0  # calibration turned off
    folds = options.calibration_folds
    rng = np.random.default_rng(options.seed + 1)
    fold_of = np.empty(len(y), dtype=np.int64)
    for label in range(len(labels)):
        members = np.flatnonzero(y == label)
        rng.shuffle(members)
        fold_of[members] = np.arange(len(members)) % folds
    rounds = folds if len(y) <= options.calibrate_all_folds_up_to else 1
    held_out: list[tuple[Floats, Ints]] = []  # (uncalibrated probabilities, right labels)
    for fold in range(rounds):
        test = np.flatnonzero(fold_of == fold)
        train = np.flatnonzero(fold_of != fold)
        if not len(test) or len(np.unique(y[train])) < 2:
            continue
        model = _train([texts[i] for i in train], embeddings[train], y[train], labels, options)
        test = test[np.isin(y[test], model.owner)]  # labels the fold's model has seen
        if not len(test):
            continue
        lexical = model.vocabulary.transform([texts[i] for i in test])
        mixed = _mixed_probabilities(model, embeddings[test], lexical, options)
        held_out.append((mixed, y[test]))
    if not held_out:
        return 1.0
    losses = []
    for temperature in TEMPERATURES:
        loss = 0.0
        for mixed, right in held_out:
            prob = _temper(mixed, float(temperature))
            loss -= float(np.log(np.maximum(prob[np.arange(len(right)), right], 1e-12)).sum())
        losses.append(loss)
    return round(float(TEMPERATURES[int(np.argmin(losses))]), 4)


def _check_shapes(model: _Model, dim: int, where: Path) -> None:
    components = len(model.owner)
    n_labels = len(model.labels)
    problems = [
        model.component_weights.shape != (dim, components),
        model.component_bias.shape != (components,),
        model.lexical_weights.shape != (model.vocabulary.size, n_labels),
        model.vocabulary.idf.shape != model.vocabulary.buckets.shape,
        model.prior.shape != (n_labels,),
        model.examples.ndim != 2 or (len(model.examples) and model.examples.shape[1] != dim),
        model.example_labels.shape != (len(model.examples),),
        n_labels < 2,
        components > 0 and (model.owner.min() < 0 or model.owner.max() >= n_labels),
    ]
    if any(problems):
        raise ClassifierError(f"{where}: damaged (array shapes do not match the labels)")


def _atomic_write(target: Path, write: Any) -> None:
    fd, temporary = tempfile.mkstemp(prefix=f".{target.name}.", dir=target.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            write(handle)
        os.chmod(temporary, 0o644)  # a derived artifact, readable like the rest of the data dir
        os.replace(temporary, target)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
