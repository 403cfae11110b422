"""Answer-quality metrics over labelled questions (what `kb eval` and the bench report)."""

from __future__ import annotations

import csv
import io
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from knowledge.articles import LANGUAGE
from knowledge.errors import CalibrationError


@dataclass(frozen=True)
class LabelledQuestion:
    """A question and the slug that should answer it (None: out of scope, hand it off)."""

    question: str
    expected: str | None
    language: str | None = None
    line: int = 0
    source: str = ""  # the file it was read from, for error messages

    @property
    def where(self) -> str:
        """`file:line` (or `line N`) for error messages."""
        return f"{self.source}:{self.line}" if self.source else f"line {self.line}"


@dataclass(frozen=True)
class Prediction:
    """What the knowledge base did with one labelled question."""

    question: str
    expected: str | None
    language: str
    decision: str  # answer | handoff
    slug: str | None  # the top article (also when handed off)
    top: list[str]
    confidence: float
    correct_top1: bool  # the top article is the expected one (its translation counts)
    rank: int | None  # 1-based rank of the expected article in `top`, None if absent

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


@dataclass
class Metrics:
    """Retrieval and decision quality."""

    questions: int = 0
    in_scope: int = 0
    out_of_scope: int = 0
    top1: float = 0.0
    recall_at_5: float = 0.0
    mrr: float = 0.0
    coverage: float = 0.0
    precision_answered: float = 0.0
    out_of_scope_answered: float = 0.0
    answered: int = 0
    by_language: dict[str, dict[str, float]] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def _rate(numerator: int, denominator: int) -> float:
    return round(numerator / denominator, 4) if denominator else 0.0


def _metrics(predictions: Sequence[Prediction]) -> Metrics:
    in_scope = [p for p in predictions if p.expected]
    out_scope = [p for p in predictions if not p.expected]
    answered = [p for p in predictions if p.decision == "answer"]
    right_answers = [p for p in answered if p.expected and p.correct_top1]
    return Metrics(
        questions=len(predictions),
        in_scope=len(in_scope),
        out_of_scope=len(out_scope),
        top1=_rate(sum(p.correct_top1 for p in in_scope), len(in_scope)),
        recall_at_5=_rate(sum(p.rank is not None and p.rank <= 5 for p in in_scope), len(in_scope)),
        mrr=round(sum(1.0 / p.rank for p in in_scope if p.rank) / len(in_scope), 4)
        if in_scope
        else 0.0,
        coverage=_rate(sum(p.decision == "answer" for p in in_scope), len(in_scope)),
        precision_answered=_rate(len(right_answers), len(answered)),
        out_of_scope_answered=_rate(sum(p.decision == "answer" for p in out_scope), len(out_scope)),
        answered=len(answered),
    )


def summarise(predictions: Sequence[Prediction]) -> Metrics:
    """Metrics over all predictions, and per detected language."""
    overall = _metrics(predictions)
    for language in sorted({p.language for p in predictions}):
        part = _metrics([p for p in predictions if p.language == language])
        overall.by_language[language] = {
            k: v for k, v in part.to_dict().items() if k != "by_language"
        }
    return overall


def row_line(reader: csv.DictReader[str], row: dict[str, Any]) -> int:
    """The line a CSV record starts on (records may span lines; blank lines are skipped)."""
    inner = sum(str(v).count("\n") for v in row.values() if v is not None)
    return reader.line_num - inner


def csv_problem(exc: csv.Error) -> str:
    """What a `csv.Error` from a strict reader means, for a person."""
    if "unexpected end of data" in str(exc):
        return "a quoted value is not closed (a '\"' is missing)"
    return f"malformed CSV ({exc})"


def repeated_column(columns: list[str], wanted: set[str]) -> str | None:
    """The first of the `wanted` columns that the header names more than once."""
    return next((c for c in columns if c in wanted and columns.count(c) > 1), None)


# Other names the two columns go by in labelled data sets (bitext's `instruction` and
# `intent`, for one); the first present is used when the file has no column of our own name.
COLUMN_ALIASES = {
    "question": ("instruction", "text", "utterance", "query"),
    "expected": ("intent", "slug", "label", "article"),
}


def _column(columns: list[str], name: str) -> str | None:
    for candidate in (name, *COLUMN_ALIASES[name]):
        if candidate in columns:
            return candidate
    return None


def read_labelled(path: Path) -> list[LabelledQuestion]:
    """Rows of a CSV with `question` and `expected` columns (optional `language`; each also
    found under a common other name, see `COLUMN_ALIASES`); an empty `expected` marks a
    question the knowledge base must not answer."""
    if not path.exists():
        raise CalibrationError(f"{path}: no such file")
    if path.is_dir():
        raise CalibrationError(f"{path}: is a folder, not a CSV file")
    data = path.read_bytes()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = data.count(b"\n", 0, exc.start) + 1
        raise CalibrationError(
            f"{path}:{line}: not UTF-8 text (byte 0x{data[exc.start]:02x}); save the file as UTF-8"
        ) from None
    rows: list[LabelledQuestion] = []
    reader = csv.DictReader(io.StringIO(text, newline=""), strict=True)
    start = 1  # the line the record being read starts on
    try:
        columns = [c.strip() for c in reader.fieldnames or []]
        reader.fieldnames = columns
        question_column = _column(columns, "question")
        expected_column = _column(columns, "expected")
        if question_column is None or expected_column is None:
            raise CalibrationError(
                f"{path}:1: needs the columns question and expected "
                f"(found: {', '.join(columns) or 'none'})"
            )
        twice = repeated_column(columns, {question_column, expected_column, "language"})
        if twice is not None:
            raise CalibrationError(f"{path}:1: the column {twice!r} is there twice")
        while True:
            start = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            question = (row.get(question_column) or "").strip()
            if not question:
                continue
            expected = (row.get(expected_column) or "").strip() or None
            language = (row.get("language") or "").strip().lower() or None
            if language is not None and not LANGUAGE.match(language):
                raise CalibrationError(
                    f"{path}:{row_line(reader, row)}: language {language!r} is not a "
                    "two-letter code (e.g. en, pl)"
                )
            rows.append(
                LabelledQuestion(question, expected, language, row_line(reader, row), str(path))
            )
    except csv.Error as exc:
        raise CalibrationError(f"{path}:{start}: {csv_problem(exc)}") from None
    if not rows:
        raise CalibrationError(f"{path}: no questions")
    return rows
