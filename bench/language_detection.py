"""How often language detection guesses wrong on labelled customer texts.

    .venv/bin/python bench/language_detection.py [--data ../shared/data]

English: bitext `dev.csv` questions, banking77 queries, clinc150 `train` and `oos_val`, our
own `bench/data/en_*.csv`; Polish: our own `bench/data/pl_*.csv` and the BARF-o-bot chat
utterances (`polish/barf_o_bot_rasa_pl`, many of them one word: "ok", "haha"). Each set is
guessed at the two margins of `knowledge.language` (TIE: no signal below it; SURE: the margin
the conversation engine needs before a text overrides the language it already has), once with
the right language as the fallback (a conversation that knows the customer's language) and
once with the other (one that knows nothing, or the wrong thing).
"""

from __future__ import annotations

import argparse
import csv
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from knowledge.language import SURE, TIE, detect  # noqa: E402

BENCH_DATA = ROOT / "bench" / "data"
_ITEM = re.compile(r"^\s*-\s+(.+)$")
_ENTITY = re.compile(r"\[([^\]]+)\]\([^)]+\)")


def sets(data: Path) -> dict[str, tuple[str, list[str]]]:
    """name -> (language, texts)."""
    with (data / "bitext" / "dev.csv").open(encoding="utf-8", newline="") as handle:
        bitext = [r["instruction"] for r in csv.DictReader(handle)]
    with (data / "banking77" / "train.csv").open(encoding="utf-8", newline="") as handle:
        banking = [r["text"] for r in csv.DictReader(handle)]
    clinc = json.loads((data / "clinc150" / "train_val_oos.json").read_text(encoding="utf-8"))
    barf: list[str] = []
    for path in sorted((data / "polish" / "barf_o_bot_rasa_pl" / "nlu").rglob("*.md")):
        for line in path.read_text(encoding="utf-8").splitlines():
            match = _ITEM.match(line)
            if match and ":" not in match.group(1)[:20]:  # list items, not "- intent: x"
                text = _ENTITY.sub(r"\1", match.group(1)).strip()
                if text:
                    barf.append(text)
    return {
        "bitext dev": ("en", bitext),
        "banking77": ("en", banking),
        "clinc150": ("en", [t for t, _ in clinc["train"] + clinc["oos_val"]]),
        "our English": ("en", own("en_*.csv")),
        "our Polish": ("pl", own("pl_*.csv")),
        "BARF Polish chat": ("pl", barf),
    }


def own(pattern: str) -> list[str]:
    """The questions of our own CSV files in bench/data matching `pattern`."""
    out: list[str] = []
    for path in sorted(BENCH_DATA.glob(pattern)):
        with path.open(encoding="utf-8", newline="") as handle:
            out += [r["question"] for r in csv.DictReader(handle) if r["question"].strip()]
    return out


def wrong(texts: list[str], language: str, fallback: str, margin: float) -> float:
    return sum(detect(t, default=fallback, margin=margin) != language for t in texts) / len(texts)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared" / "data")
    args = parser.parse_args()
    if not (args.data / "bitext" / "dev.csv").is_file():
        sys.exit(f"error: {args.data}: no bitext/dev.csv (use --data)")
    head = f"{'set':18s} {'texts':>6s}  " + "  ".join(
        f"{name}={margin} right/other" for name, margin in (("TIE", TIE), ("SURE", SURE))
    )
    print(head)
    print("-" * len(head))
    for name, (language, texts) in sets(args.data).items():
        other = "pl" if language == "en" else "en"
        cells = []
        for margin in (TIE, SURE):
            right = wrong(texts, language, language, margin)
            worse = wrong(texts, language, other, margin)
            cells.append(f"{right:7.2%} / {worse:6.2%}")
        print(f"{name:18s} {len(texts):6d}  " + "       ".join(cells))


if __name__ == "__main__":
    main()
