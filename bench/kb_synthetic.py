"""Index N synthetic knowledge chunks into the configured data dir (for scale benchmarks).

    RELAYDESK_DATA_DIR=... .venv/bin/python bench/kb_synthetic.py 10000

Articles are stitched from clinc150 training sentences (public data, `--data`): eight sections
of four sentences each, published, so the index holds N body chunks plus their titles and
example questions. The database must exist (`relaydesk init`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import random
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

SECTIONS = 8
SENTENCES = 4


def write_articles(n_chunks: int, data: Path, folder: Path, seed: int = 7) -> Path:
    """A .jsonl of synthetic published articles holding `n_chunks` body chunks."""
    clinc = json.loads((data / "clinc150" / "train_val_oos.json").read_text(encoding="utf-8"))
    sentences = [text for text, _ in clinc["train"]]
    rng = random.Random(seed)
    path = folder / "synthetic.jsonl"
    with path.open("w", encoding="utf-8") as handle:
        made = 0
        number = 0
        while made < n_chunks:
            number += 1
            sections = []
            for s in range(min(SECTIONS, n_chunks - made)):
                heading = rng.choice(sentences).capitalize()
                text = ". ".join(rng.choice(sentences) for _ in range(SENTENCES)) + "."
                sections.append(f"## {heading} ({s + 1})\n\n{text.capitalize()}")
                made += 1
            article = {
                "slug": f"synthetic-{number:05d}",
                "title": f"Synthetic article {number}: {rng.choice(sentences)}",
                "language": "en",
                "status": "published",
                "questions": [rng.choice(sentences), rng.choice(sentences)],
                "body": "\n\n".join(sections),
            }
            handle.write(json.dumps(article) + "\n")
    return path


async def index(n_chunks: int, data: Path) -> dict[str, float]:
    from bots.commands.kb import knowledge_service
    from bots.db import Database
    from bots.schema import ensure_current
    from bots.settings import Settings

    settings = Settings()
    db = Database(settings.effective_database_url)
    await ensure_current(db)
    service = knowledge_service(settings, db)
    with tempfile.TemporaryDirectory() as tmp:
        path = write_articles(n_chunks, data, Path(tmp))
        started = time.perf_counter()
        report = await service.import_path(path)
        seconds = time.perf_counter() - started
    await service.close()
    await db.close()
    return {"articles": len(report.added), "units": report.index.units, "seconds": seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("chunks", type=int, help="body chunks to index")
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    result = asyncio.run(index(args.chunks, args.data))
    print(
        f"indexed {result['articles']} synthetic articles, {result['units']} units, "
        f"in {result['seconds']:.0f} s"
    )


if __name__ == "__main__":
    main()
