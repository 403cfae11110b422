"""`kb ask` latency, HNSW recall and memory with 10,000 chunks indexed.

    .venv/bin/python bench/kb_latency.py [--chunks 10000] [--questions 300] [--fresh]

Builds (once, kept in `bench/out/kb_scale/`) a knowledge base of the demo articles plus N
synthetic chunks (`bench/kb_synthetic.py`), starts a knowledge service as `relaydesk serve`
does (model warmed, index loaded), then:

- asks distinct questions (bitext and our Polish ones; no embedding cache hits) and prints
  the p50/p95/p99 of `answer()`, with the exact in-memory search and with Chroma's HNSW;
- measures recall@5 of Chroma's HNSW against exact search on the same vectors, with our
  parameters and with Chroma's defaults;
- prints the process's resident memory after loading.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kb_synthetic import write_articles  # noqa: E402
from bots.db import Database  # noqa: E402
from bots.schema import upgrade  # noqa: E402
from knowledge import retrieval  # noqa: E402
from knowledge.embeddings import USEEmbedder  # noqa: E402
from knowledge.index import HNSW, ChromaIndex  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402


def rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


def percentiles(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)

    def at(q: float) -> float:
        return ordered[min(len(ordered) - 1, round(q * (len(ordered) - 1)))] * 1000

    return {
        "p50_ms": round(at(0.50), 1),
        "p95_ms": round(at(0.95), 1),
        "p99_ms": round(at(0.99), 1),
        "max_ms": round(max(ordered) * 1000, 1),
        "mean_ms": round(statistics.fmean(ordered) * 1000, 1),
    }


def questions(data: Path, count: int) -> list[str]:
    rng = random.Random(11)
    with (data / "bitext" / "dev.csv").open(encoding="utf-8", newline="") as handle:
        english = list(dict.fromkeys(r["instruction"].strip() for r in csv.DictReader(handle)))
    with (ROOT / "bench" / "data" / "pl_questions.csv").open(encoding="utf-8") as handle:
        polish = [r["question"] for r in csv.DictReader(handle)]
    picked = rng.sample(english, count - min(len(polish), count // 3))
    return picked + polish[: count - len(picked)]


async def build(folder: Path, chunks: int, data: Path, embedder: USEEmbedder) -> None:
    db = Database(f"sqlite+aiosqlite:///{folder / 'relaydesk.db'}")
    await upgrade(db)
    service = KnowledgeService(db.sessions, folder, embedder)
    await service.load_demo()
    with tempfile.TemporaryDirectory() as tmp:
        started = time.perf_counter()
        report = await service.import_path(write_articles(chunks, data, Path(tmp)))
        seconds = time.perf_counter() - started
        print(f"indexed {report.index.units} synthetic units in {seconds:.0f} s", flush=True)
    await service.close()
    await db.close()


async def measure(folder: Path, asked: list[str], embedder: USEEmbedder) -> dict[str, Any]:
    db = Database(f"sqlite+aiosqlite:///{folder / 'relaydesk.db'}")
    service = KnowledgeService(db.sessions, folder, embedder, refresh_s=3600)
    before = rss_mb()
    started = time.perf_counter()
    await service.start()
    startup = time.perf_counter() - started
    loaded = rss_mb()
    snapshot = await service._current()
    result: dict[str, Any] = {
        "articles": len(snapshot),
        "units": snapshot.unit_count,
        "body_chunks": int(sum(len(a.chunks) for a in snapshot.articles)),
        "startup_s": round(startup, 2),
        "rss_before_mb": round(before, 1),
        "rss_loaded_mb": round(loaded, 1),
    }
    for warm in asked[:5]:  # first calls pay for lazy imports and numpy buffers
        await service.answer(warm + " ?")

    async def timed(texts: list[str]) -> list[float]:
        out = []
        for text in texts:
            t = time.perf_counter()
            await service.answer(text)
            out.append(time.perf_counter() - t)
        return out

    half = len(asked) // 2
    result["exact"] = percentiles(await timed(asked[:half]))
    limit = retrieval.EXACT_LIMIT
    retrieval.EXACT_LIMIT = 0  # dense candidates from Chroma's HNSW instead
    try:
        result["hnsw"] = percentiles(await timed(asked[half:]))
    finally:
        retrieval.EXACT_LIMIT = limit
    embed = []
    for text in asked[:half]:
        t = time.perf_counter()
        embedder.embed([text + " ."])  # not cached
        embed.append(time.perf_counter() - t)
    result["embedding_only"] = percentiles(embed)
    result["rss_after_mb"] = round(rss_mb(), 1)

    vectors = embedder.embed(asked)
    result["recall_at_5"] = {"ours": recall(service.index, snapshot, vectors)}
    with tempfile.TemporaryDirectory() as tmp:
        defaults = ChromaIndex(
            path=Path(tmp), embedder=embedder.name, dim=embedder.dim, hnsw={"space": "cosine"}
        )
        stored = service.index.load()
        defaults.replace([], stored.ids, stored.vectors, stored.documents, stored.metadatas)
        result["recall_at_5"]["chroma_defaults"] = recall(defaults, snapshot, vectors)
        defaults.close()
    result["hnsw_params"] = HNSW
    await service.close()
    await db.close()
    return result


def recall(index: ChromaIndex, snapshot: retrieval.Snapshot, vectors: np.ndarray) -> float:
    """Mean share of the exact top-5 units that the HNSW query also returns."""
    hits = []
    for vector in vectors:
        exact = np.argsort(-(snapshot.vectors @ vector))[:5]
        expected = {snapshot.ids[i] for i in exact}
        found = {unit_id for unit_id, _ in index.query(vector, 5)}
        hits.append(len(expected & found) / 5)
    return round(float(np.mean(hits)), 4)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunks", type=int, default=10_000)
    parser.add_argument("--questions", type=int, default=300)
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--out", type=Path, default=ROOT / "bench" / "out" / "kb_scale")
    parser.add_argument("--fresh", action="store_true", help="rebuild the knowledge base")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    folder = args.out / f"{args.chunks}"
    embedder = USEEmbedder(cache_size=16)
    if args.fresh and folder.exists():
        shutil.rmtree(folder)
    if not (folder / "relaydesk.db").exists():
        folder.mkdir(parents=True, exist_ok=True)
        asyncio.run(build(folder, args.chunks, args.data, embedder))
    result = asyncio.run(measure(folder, questions(args.data, args.questions), embedder))
    if args.json:
        print(json.dumps(result, indent=2))
        return
    print(
        f"{result['articles']} articles, {result['units']} units "
        f"({result['body_chunks']} body chunks); start-up {result['startup_s']} s"
    )
    for name in ("exact", "hnsw", "embedding_only"):
        p = result[name]
        print(
            f"  {name:15s} p50 {p['p50_ms']:6.1f} ms  p95 {p['p95_ms']:6.1f} ms  "
            f"p99 {p['p99_ms']:6.1f} ms  max {p['max_ms']:6.1f} ms"
        )
    r = result["recall_at_5"]
    print(f"  recall@5 vs exact: ours {r['ours']:.4f}, Chroma defaults {r['chroma_defaults']:.4f}")
    print(
        f"  RSS: {result['rss_before_mb']} MB before, {result['rss_loaded_mb']} MB loaded, "
        f"{result['rss_after_mb']} MB after the questions"
    )


if __name__ == "__main__":
    main()
