"""Learned routing on banking77: department accuracy of the example classifier vs BM25.

Splits banking77 `train.csv` (stratified by intent, 80/20, per seed), maps the 77 intents to
8 departments with `departments.json`, trains `knowledge.classifier.ExampleClassifier` on the
80 % with department labels only, and measures on the held-out 20 %: accuracy, macro-F1,
per-department recall, confidence calibration (coverage and accuracy at confidence >= 0.5, 0.7,
0.9; expected calibration error), learning time and per-text prediction time. In the same run it
measures two nearest-neighbour baselines on the same split: BM25 (the department of the most
similar training text by Okapi BM25) and cosine kNN on the same sentence embeddings.

    .venv/bin/python bench/route_eval.py [--seeds 0 1] [--data ../shared/data]
    .venv/bin/python bench/route_eval.py --select      # choose options on training rows only
    .venv/bin/python bench/route_eval.py --export DIR  # the split as CSVs for `relaydesk route`

`--select` never looks at the held-out rows: it splits the first seed's training part again
(80/20 by department) and compares candidate options there. Results go to `bench/out/`.
"""

from __future__ import annotations

import argparse
import csv
import json
import math
import sys
import time
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bots.commands.route_learning import Example, evaluate  # noqa: E402
from knowledge.classifier import ExampleClassifier, Prediction, TrainingOptions  # noqa: E402
from knowledge.embeddings import USEEmbedder  # noqa: E402
from knowledge.features import tokens  # noqa: E402

OUT = ROOT / "bench" / "out"
LEVELS = (0.5, 0.7, 0.9)
CANDIDATES: dict[str, TrainingOptions] = {
    "default: comp/30 + lexical + 10-NN 0.5": TrainingOptions(),
    "no neighbour vote": TrainingOptions(neighbour_weight=0.0),
    "neighbour vote 0.25": TrainingOptions(neighbour_weight=0.25),
    "comp/15": TrainingOptions(examples_per_component=15),
    "comp/60": TrainingOptions(examples_per_component=60),
    "one component per label": TrainingOptions(examples_per_component=10**9),
    "l2 1e-3": TrainingOptions(l2=1e-3),
    "embeddings only (no lexical)": TrainingOptions(lexical=False),
}


class CachedEmbedder:
    """The real embedder, with every text embedded once up front (so learning time is the
    classifier's own, and both methods see identical vectors)."""

    def __init__(self, inner: USEEmbedder, texts: Sequence[str]) -> None:
        self.name = inner.name
        self.dim = inner.dim
        self.inner = inner
        vectors = [inner.embed(list(texts[i : i + 256])) for i in range(0, len(texts), 256)]
        self.matrix = np.vstack(vectors)
        self.row = {text: i for i, text in enumerate(texts)}

    def embed(self, texts: Sequence[str]) -> np.ndarray[Any, np.dtype[np.float32]]:
        return self.matrix[[self.row[t] for t in texts]]


class BM25:
    """Okapi BM25 over training texts (k1 = 1.5, b = 0.75), same tokens as the classifier."""

    def __init__(self, texts: Sequence[str], k1: float = 1.5, b: float = 0.75) -> None:
        docs = [tokens(t) for t in texts]
        self.n = len(docs)
        lengths = np.asarray([len(d) for d in docs], dtype=np.float64)
        norm = k1 * (1 - b + b * lengths / max(lengths.mean(), 1e-9))
        postings: dict[str, dict[int, int]] = defaultdict(dict)
        for i, doc in enumerate(docs):
            for term, count in Counter(doc).items():
                postings[term][i] = count
        self.index: dict[str, tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]] = {}
        for term, docs_tf in postings.items():
            ids = np.fromiter(docs_tf.keys(), dtype=np.int64)
            tf = np.fromiter(docs_tf.values(), dtype=np.float64)
            idf = math.log(1 + (self.n - len(ids) + 0.5) / (len(ids) + 0.5))
            self.index[term] = (ids, idf * tf * (k1 + 1) / (tf + norm[ids]))

    def best(self, text: str) -> int:
        """The training text with the highest score (-1 when no word is shared)."""
        scores = np.zeros(self.n)
        for term in set(tokens(text)):
            if term in self.index:
                ids, weights = self.index[term]
                scores[ids] += weights
        return int(scores.argmax()) if scores.any() else -1


def load(data: Path) -> tuple[list[str], list[str], list[str]]:
    """(texts, intents, departments) of banking77 train.csv."""
    folder = data / "banking77"
    mapping = json.loads((folder / "departments.json").read_text(encoding="utf-8"))
    department_of = {i: d for d, intents in mapping["departments"].items() for i in intents}
    with (folder / "train.csv").open(encoding="utf-8", newline="") as handle:
        rows = list(csv.DictReader(handle))
    texts = [r["text"] for r in rows]
    intents = [r["category"] for r in rows]
    return texts, intents, [department_of[i] for i in intents]


def stratified_split(
    strata: Sequence[str], fraction: float, seed: int
) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
    """(kept, held-out) row indices: `fraction` of every stratum held out."""
    rng = np.random.default_rng(seed)
    labels = np.asarray(strata)
    held: list[int] = []
    for value in sorted(set(strata)):
        rows = np.flatnonzero(labels == value)
        rng.shuffle(rows)
        held.extend(int(r) for r in rows[: round(len(rows) * fraction)])
    held_out = np.asarray(sorted(held), dtype=np.int64)
    kept = np.setdiff1d(np.arange(len(strata)), held_out)
    return kept, held_out


def label_predictions(labels: Sequence[str], confidence: float = 1.0) -> list[Prediction]:
    return [Prediction(label, confidence, [(label, confidence)]) for label in labels]


def measure(
    examples: list[Example], guesses: list[Prediction], learned: list[str]
) -> dict[str, Any]:
    report = evaluate(examples, guesses, learned)
    conf = np.asarray([g.confidence for g in guesses])
    ok = np.asarray([g.label == e.department for g, e in zip(guesses, examples, strict=True)])
    bins = np.minimum((conf * 10).astype(int), 9)
    report["ece"] = round(
        float(
            sum(
                abs(ok[bins == b].mean() - conf[bins == b].mean()) * (bins == b).sum()
                for b in range(10)
                if (bins == b).any()
            )
            / len(ok)
        ),
        4,
    )
    return report


def run_split(
    texts: list[str],
    departments: list[str],
    train: np.ndarray[Any, Any],
    test: np.ndarray[Any, Any],
    embedder: CachedEmbedder,
    options: TrainingOptions,
    intents: list[str],
) -> dict[str, Any]:
    examples = [Example(int(i) + 2, texts[i], departments[i]) for i in test]
    train_texts = [texts[i] for i in train]
    train_labels = [departments[i] for i in train]

    classifier = ExampleClassifier(embedder, options)
    started = time.perf_counter()
    classifier.learn(train_texts, train_labels)
    learn_s = time.perf_counter() - started
    started = time.perf_counter()
    guesses = classifier.predict_many([e.text for e in examples])
    batch_ms = 1000 * (time.perf_counter() - started) / len(examples)
    learned = measure(examples, guesses, classifier.labels)
    learned.update(learn_seconds=round(learn_s, 1), predict_ms_per_text_batch=round(batch_ms, 3))

    started = time.perf_counter()
    bm25 = BM25(train_texts)
    nearest = [bm25.best(e.text) for e in examples]
    bm25_ms = 1000 * (time.perf_counter() - started) / len(examples)
    bm25_labels = [
        train_labels[j] if j >= 0 else Counter(train_labels).most_common(1)[0][0] for j in nearest
    ]
    baseline = measure(examples, label_predictions(bm25_labels), sorted(set(train_labels)))
    baseline["ms_per_text"] = round(bm25_ms, 3)

    train_vectors = embedder.embed(train_texts)
    test_vectors = embedder.embed([e.text for e in examples])
    similarity = test_vectors @ train_vectors.T
    top = np.argsort(-similarity, axis=1)[:, :10]
    knn_labels = []
    for r, row in enumerate(top):
        votes: dict[str, float] = defaultdict(float)
        for j in row:
            votes[train_labels[j]] += float(np.exp(similarity[r, j] / 0.05))
        knn_labels.append(max(votes, key=lambda label: votes[label]))
    knn = measure(examples, label_predictions(knn_labels), sorted(set(train_labels)))
    results = {"classifier": learned, "bm25_1nn": baseline, "embedding_knn10": knn}
    # banking77's own test split has 40 queries per intent: weight held-out rows the same way.
    weights = 1.0 / np.asarray([Counter(intents[i] for i in test)[intents[i]] for i in test])
    for report, labels in (
        (learned, [g.label for g in guesses]),
        (baseline, bm25_labels),
        (knn, knn_labels),
    ):
        right = np.asarray([p == e.department for p, e in zip(labels, examples, strict=True)])
        report["intent_balanced_accuracy"] = round(
            float((weights * right).sum() / weights.sum()), 4
        )
    return results


def print_report(seed: int, result: dict[str, Any]) -> None:
    methods = [
        ("example classifier", result["classifier"]),
        ("BM25 1-NN", result["bm25_1nn"]),
        ("embedding 10-NN", result["embedding_knn10"]),
    ]
    departments = list(result["classifier"]["departments"])
    print(f"\nseed {seed}: {result['classifier']['examples']} held-out texts")
    print(f"{'method':<20}{'accuracy':>10}{'macro-F1':>10}{'intent-balanced':>17}")
    for name, report in methods:
        print(
            f"{name:<20}{report['accuracy']:>10.4f}{report['macro_f1']:>10.4f}"
            f"{report['intent_balanced_accuracy']:>17.4f}"
        )
    print(f"{'recall by department':<24}" + "".join(f"{n[:12]:>14}" for n, _ in methods))
    for department in departments:
        print(
            f"  {department:<22}"
            + "".join(
                f"{r['departments'].get(department, {}).get('recall', 0.0):>14.4f}"
                for _, r in methods
            )
        )
    clf = result["classifier"]
    print(f"classifier calibration (ECE {clf['ece']:.4f}):")
    for level in clf["confidence"]:
        print(
            f"  confidence >= {level['min_confidence']}: coverage {level['coverage']:.4f}, "
            f"accuracy {level['accuracy']:.4f}"
        )
    print(
        f"classifier learning {clf['learn_seconds']} s (embeddings precomputed), "
        f"prediction {clf['predict_ms_per_text_batch']} ms/text in a batch (embedding excluded)"
    )


def select(
    texts: list[str],
    intents: list[str],
    departments: list[str],
    embedder: CachedEmbedder,
    seed: int,
    inner_seeds: Sequence[int],
) -> dict[str, Any]:
    """Compare CANDIDATES on validation splits of the training part of `seed` only."""
    train, _ = stratified_split(intents, 0.2, seed)
    results: dict[str, Any] = {
        name: {"options": asdict(o), "runs": []} for name, o in CANDIDATES.items()
    }
    for inner in inner_seeds:
        inner_train_pos, validation_pos = stratified_split(
            [departments[i] for i in train], 0.2, inner
        )
        inner_train, validation = train[inner_train_pos], train[validation_pos]
        examples = [Example(int(i) + 2, texts[i], departments[i]) for i in validation]
        print(
            f"\nselection split {inner} (training part of seed {seed}): {len(inner_train)} to "
            f"learn, {len(validation)} to validate; held-out rows untouched"
        )
        print(f"{'candidate':<42}{'accuracy':>10}{'macro-F1':>10}{'ECE':>8}{'learn s':>9}")
        for name, options in CANDIDATES.items():
            classifier = ExampleClassifier(embedder, options)
            started = time.perf_counter()
            classifier.learn([texts[i] for i in inner_train], [departments[i] for i in inner_train])
            seconds = time.perf_counter() - started
            report = measure(
                examples, classifier.predict_many([e.text for e in examples]), classifier.labels
            )
            results[name]["runs"].append(
                {
                    "split": inner,
                    "accuracy": report["accuracy"],
                    "macro_f1": report["macro_f1"],
                    "ece": report["ece"],
                    "learn_seconds": round(seconds, 1),
                }
            )
            print(
                f"{name:<42}{report['accuracy']:>10.4f}{report['macro_f1']:>10.4f}"
                f"{report['ece']:>8.4f}{seconds:>9.1f}",
                flush=True,
            )
    print(f"\nmean over {len(inner_seeds)} validation split(s):")
    for name, result in results.items():
        runs = result["runs"]
        result["mean_accuracy"] = round(float(np.mean([r["accuracy"] for r in runs])), 4)
        result["mean_ece"] = round(float(np.mean([r["ece"] for r in runs])), 4)
        print(f"{name:<42}{result['mean_accuracy']:>10.4f}{result['mean_ece']:>18.4f}")
    return results


def export(
    texts: list[str], intents: list[str], departments: list[str], seed: int, folder: Path
) -> None:
    train, test = stratified_split(intents, 0.2, seed)
    folder.mkdir(parents=True, exist_ok=True)
    for name, rows in (("train", train), ("heldout", test)):
        with (folder / f"banking77_departments_seed{seed}_{name}.csv").open(
            "w", encoding="utf-8", newline=""
        ) as handle:
            writer = csv.writer(handle)
            writer.writerow(["text", "department"])
            writer.writerows([texts[i], departments[i]] for i in rows)
    print(f"wrote {folder}/banking77_departments_seed{seed}_{{train,heldout}}.csv")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument(
        "--data",
        type=Path,
        default=ROOT.parent / "shared" / "data",
        help="folder holding banking77/ (default: ../shared/data)",
    )
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1])
    parser.add_argument("--select", action="store_true", help="compare options on training rows")
    parser.add_argument(
        "--inner-seeds",
        type=int,
        nargs="+",
        default=[123, 7, 99],
        help="validation splits of the training part for --select",
    )
    parser.add_argument("--export", type=Path, help="write the first seed's split as CSVs here")
    args = parser.parse_args()
    if not (args.data / "banking77" / "train.csv").exists():
        sys.exit(f"error: {args.data / 'banking77' / 'train.csv'}: not found (see --data)")
    texts, intents, departments = load(args.data)
    if args.export:
        export(texts, intents, departments, args.seeds[0], args.export)
        return

    real = USEEmbedder()
    started = time.perf_counter()
    real.warm_up()
    warm_s = time.perf_counter() - started
    started = time.perf_counter()
    embedder = CachedEmbedder(real, texts)
    embed_ms = 1000 * (time.perf_counter() - started) / len(texts)
    print(
        f"{len(texts)} texts, {len(set(intents))} intents, {len(set(departments))} departments;"
        f" embedder {real.name}: load {warm_s:.1f} s, {embed_ms:.2f} ms/text in batches"
    )
    OUT.mkdir(parents=True, exist_ok=True)
    if args.select:
        results = select(texts, intents, departments, embedder, args.seeds[0], args.inner_seeds)
        (OUT / "route_select.json").write_text(json.dumps(results, indent=2))
        print(f"\nwritten: {OUT / 'route_select.json'}")
        return

    summary: dict[str, Any] = {"embed_ms_per_text": round(embed_ms, 3), "seeds": {}}
    for seed in args.seeds:
        train, test = stratified_split(intents, 0.2, seed)
        result = run_split(texts, departments, train, test, embedder, TrainingOptions(), intents)
        summary["seeds"][str(seed)] = result
        print_report(seed, result)

    # One text at a time through the real embedder: what a routed ticket costs.
    train, test = stratified_split(intents, 0.2, args.seeds[0])
    classifier = ExampleClassifier(embedder, TrainingOptions())
    classifier.learn([texts[i] for i in train], [departments[i] for i in train])
    fresh = USEEmbedder()  # nothing cached: every probe text is embedded for real
    fresh.warm_up()
    classifier.embedder = fresh
    probe = [texts[i] for i in test[:200]]
    started = time.perf_counter()
    for text in probe:
        classifier.predict(text)
    single_ms = 1000 * (time.perf_counter() - started) / len(probe)
    summary["predict_ms_per_text_single"] = round(single_ms, 2)
    print(f"\none text at a time, embedding included: {single_ms:.2f} ms/text")

    accuracies = [summary["seeds"][str(s)]["classifier"]["accuracy"] for s in args.seeds]
    bm25 = [summary["seeds"][str(s)]["bm25_1nn"]["accuracy"] for s in args.seeds]
    print(
        f"department accuracy over seeds {args.seeds}: classifier "
        f"{', '.join(f'{a:.4f}' for a in accuracies)}; BM25 1-NN "
        f"{', '.join(f'{a:.4f}' for a in bm25)}"
    )
    (OUT / "route_eval.json").write_text(json.dumps(summary, indent=2))
    print(f"written: {OUT / 'route_eval.json'}")


if __name__ == "__main__":
    main()
