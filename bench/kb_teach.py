"""What teaching customers' own wordings buys: answers on questions never seen, before and after
`relaydesk kb teach`.

    .venv/bin/python bench/kb_teach.py [--data ../shared/data] [--json]

Knowledge base: the 27 bitext articles (`bitext/kb/`), as `bench/kb_eval.py` imports them.
Questions: our own sets in `bench/data/`, worded the way customers write, split in halves by
the same hash as `kb_eval`: the first half of each is taught (`KnowledgeService.teach`, what
`kb teach --file` runs), the second half is measured and never taught. Cases: nothing taught;
the English half taught; the Polish halves taught; both. Each case starts from a fresh
knowledge base. Answers are decided with the shipped default calibration, as on an install
that teaches but never runs `kb calibrate` (our Polish questions are too few to both teach and
calibrate on); top-1 does not depend on it. Out of scope: the second halves of our
out-of-scope sets and every near miss (`kb_eval`'s `near`).

The measured Polish questions are reported per file: `pl_questions_2.csv` was written by the
same person, on the same topics, as `en_questions_2.csv` (partly parallel), so teaching the
English half helps it more than an unrelated wording would; `pl_questions.csv` has no English
counterpart and shows the transfer from one language to the other more fairly.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bench.kb_eval import BENCH_DATA, bucket, near_misses  # noqa: E402
from bots.db import Database  # noqa: E402
from bots.schema import upgrade  # noqa: E402
from knowledge.calibration import default  # noqa: E402
from knowledge.embeddings import USEEmbedder  # noqa: E402
from knowledge.evaluation import LabelledQuestion  # noqa: E402
from knowledge.service import KnowledgeService  # noqa: E402

TAUGHT_FILES = {"en": ("en_questions_2.csv",), "pl": ("pl_questions.csv", "pl_questions_2.csv")}
CASES = {"nothing": (), "en": ("en",), "pl": ("pl",), "en+pl": ("en", "pl")}
MEASURED = ("en2", "pl", "pl1", "pl2", "near")


def halves(name: str, language: str) -> tuple[list[LabelledQuestion], list[LabelledQuestion]]:
    """(taught, measured) halves of one of our question files."""
    with (BENCH_DATA / name).open(encoding="utf-8", newline="") as handle:
        rows = [
            LabelledQuestion(
                r["question"].strip(), (r.get("expected") or "").strip() or None, language
            )
            for r in csv.DictReader(handle)
        ]
    return (
        [r for r in rows if bucket(r.question, 2) == 0],
        [r for r in rows if bucket(r.question, 2) == 1],
    )


def question_sets() -> dict[str, list[LabelledQuestion]]:
    """The measured sets (`MEASURED`) and the taught ones (`teach_<language>`)."""
    sets = {
        "en2": halves("en_questions_2.csv", "en")[1] + halves("en_out_of_scope_2.csv", "en")[1],
        "pl1": halves("pl_questions.csv", "pl")[1],
        "pl2": halves("pl_questions_2.csv", "pl")[1],
        "near": near_misses(),
    }
    sets["pl"] = [
        *sets["pl1"],
        *sets["pl2"],
        *halves("pl_out_of_scope.csv", "pl")[1],
        *halves("pl_out_of_scope_2.csv", "pl")[1],
    ]
    for language, files in TAUGHT_FILES.items():
        sets[f"teach_{language}"] = [r for f in files for r in halves(f, language)[0]]
    return sets


async def case(
    data: Path,
    languages: tuple[str, ...],
    sets: dict[str, list[LabelledQuestion]],
    embedder: USEEmbedder,
) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        db = Database(f"sqlite+aiosqlite:///{Path(tmp) / 'kb.db'}")
        await upgrade(db)
        service = KnowledgeService(db.sessions, Path(tmp), embedder)
        await service.import_path(data / "bitext" / "kb")
        taught = 0
        for language in languages:
            report = await service.teach(sets[f"teach_{language}"], author="bench")
            taught += sum(len(added) for added in report.added.values())
        result: dict[str, Any] = {"taught": taught}
        for name in MEASURED:
            metrics = (await service.evaluate(sets[name], calibration=default())).metrics
            result[name] = {
                "questions": metrics.questions,
                "top1": metrics.top1,
                "coverage": metrics.coverage,
                "precision": metrics.precision_answered,
                "oos_answered": metrics.out_of_scope_answered,
            }
        await db.close()
    return result


async def run(data: Path) -> dict[str, Any]:
    sets = question_sets()
    embedder = USEEmbedder(cache_size=100_000)
    return {name: await case(data, languages, sets, embedder) for name, languages in CASES.items()}


def table(results: dict[str, Any]) -> str:
    head = (
        f"{'taught':8s} {'n':>4s} | {'en2 top1':>8s} {'cover':>6s} {'prec':>6s} {'OOS':>6s} | "
        f"{'pl top1':>7s} {'pl1':>6s} {'pl2':>6s} {'cover':>6s} {'prec':>6s} {'OOS':>6s} | "
        f"{'near':>6s}"
    )
    lines = [head, "-" * len(head)]
    for name, r in results.items():
        en2, pl = r["en2"], r["pl"]
        lines.append(
            f"{name:8s} {r['taught']:4d} | {en2['top1']:8.3f} {en2['coverage']:6.3f} "
            f"{en2['precision']:6.3f} {en2['oos_answered']:6.3f} | {pl['top1']:7.3f} "
            f"{r['pl1']['top1']:6.3f} {r['pl2']['top1']:6.3f} {pl['coverage']:6.3f} "
            f"{pl['precision']:6.3f} {pl['oos_answered']:6.3f} | {r['near']['oos_answered']:6.3f}"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    parser.add_argument("--json", action="store_true", help="print the results as JSON")
    args = parser.parse_args()
    if not (args.data / "bitext" / "kb").is_dir():
        sys.exit(f"error: {args.data}: no bitext/kb folder (use --data)")
    results = asyncio.run(run(args.data))
    print(json.dumps(results, indent=2) if args.json else table(results))


if __name__ == "__main__":
    main()
