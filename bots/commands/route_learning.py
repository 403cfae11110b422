"""`relaydesk route learn` and `route eval`: train the learned department router from a labelled
CSV and measure it on another.

The CSV has a header with the columns `text` and `department` (any order, other columns are
ignored), UTF-8 (a byte-order mark is fine). The trained classifier is a derived artifact saved
under `<data_dir>/routing/`, where routing rules with `learned` find it.
"""

from __future__ import annotations

import csv
import io
import json
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich.table import Table

from bots.commands.common import console, err_console
from bots.errors import ConfigError, InputError
from bots.helpdesk import embedder_for, load_helpdesk_config, routing_model_dir
from bots.settings import Settings
from knowledge.classifier import ExampleClassifier, Prediction
from knowledge.evaluation import csv_problem

TEXT, DEPARTMENT = "text", "department"
CONFIDENCE_LEVELS = (0.5, 0.7, 0.9)
PREDICT_BATCH = 256


@dataclass(frozen=True)
class Example:
    """One labelled row of the CSV and the line it starts on."""

    line: int
    text: str
    department: str


def read_examples(path: Path) -> list[Example]:
    """The rows of a labelled CSV (columns `text`, `department`).

    Raises `InputError` with one line naming the file, the line, the column and why.
    """
    try:
        data = path.read_bytes()
    except FileNotFoundError:
        raise InputError(f"{path}: no such file") from None
    except IsADirectoryError:
        raise InputError(f"{path}: is a folder, not a CSV file") from None
    except OSError as exc:
        raise InputError(f"{path}: cannot read ({exc.strerror or exc})") from None
    try:
        content = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise InputError(_encoding_problem(path, data, exc)) from None
    if "\x00" in content:
        line = content.count("\n", 0, content.index("\x00")) + 1
        raise InputError(f"{path}:{line}: contains a NUL byte; not a text CSV file")
    reader = csv.reader(io.StringIO(content, newline=""), strict=True)
    try:
        header = next(reader, None)
    except csv.Error as exc:
        raise InputError(f"{path}:1: {csv_problem(exc)}") from None
    if header is None or not any(cell.strip() for cell in header):
        raise InputError(f"{path}:1: empty file; expected a header with columns text, department")
    names = [cell.strip().lower() for cell in header]
    for column in (TEXT, DEPARTMENT):
        if column not in names:
            found = ", ".join(cell.strip() for cell in header if cell.strip()) or "none"
            raise InputError(f"{path}:1: missing column '{column}' (found: {found})")
    text_at, department_at = names.index(TEXT), names.index(DEPARTMENT)
    examples: list[Example] = []
    while True:
        line = reader.line_num + 1
        try:
            row = next(reader, None)
        except csv.Error as exc:
            raise InputError(f"{path}:{line}: {csv_problem(exc)}") from None
        if row is None:
            break
        if not any(cell.strip() for cell in row):
            continue  # blank line
        text = row[text_at].strip() if text_at < len(row) else ""
        department = row[department_at].strip() if department_at < len(row) else ""
        if not text:
            raise InputError(f"{path}:{line}: column 'text' is empty")
        if not department:
            raise InputError(f"{path}:{line}: column 'department' is empty")
        examples.append(Example(line, text, department))
    if not examples:
        raise InputError(f"{path}: no examples after the header")
    return examples


def _encoding_problem(path: Path, data: bytes, exc: UnicodeDecodeError) -> str:
    """One line naming where the first byte that is not UTF-8 sits: line and column."""
    byte = f"byte 0x{data[exc.start]:02x}"
    line_of_byte = data.count(b"\n", 0, exc.start) + 1
    where = f"{path}:{line_of_byte}"
    try:
        reader = csv.reader(io.StringIO(data.decode("utf-8-sig", errors="replace"), newline=""))
        header = [cell.strip() for cell in next(reader, [])]
        for i, cell in enumerate(header):
            if "\ufffd" in cell:
                return f"{path}:1: header column {i + 1}: unknown encoding ({byte} is not UTF-8)"
        while True:
            line = reader.line_num + 1
            row = next(reader, None)
            if row is None:
                break
            for i, cell in enumerate(row):
                if "\ufffd" in cell:
                    name = header[i] if i < len(header) and header[i] else f"{i + 1}"
                    return (
                        f"{path}:{line}: column '{name}': unknown encoding ({byte} is not "
                        "UTF-8; save the file as UTF-8)"
                    )
    except csv.Error:
        pass
    return f"{where}: unknown encoding ({byte} is not UTF-8; save the file as UTF-8)"


def _known_departments(settings: Settings) -> list[str] | None:
    """Departments of helpdesk.yaml, or None when no file is configured."""
    if settings.config_path is None:
        return None
    try:
        return list(load_helpdesk_config(settings).department_names)
    except ConfigError:
        return None


@dataclass(frozen=True)
class LearnSummary:
    """What `route learn` did."""

    file: str
    examples: int
    departments: dict[str, int]
    saved_to: str
    embedder: str
    seconds: float
    not_in_helpdesk: list[str]


def learn_routing(path: Path, settings: Settings) -> LearnSummary:
    """Train the department classifier on the CSV at `path` and save it under the data dir."""
    examples = read_examples(path)
    departments = sorted({e.department for e in examples})
    if len(departments) < 2:
        raise InputError(
            f"{path}: examples of at least two departments are needed (found only "
            f"{departments[0]!r})"
        )
    classifier = ExampleClassifier(embedder_for(settings))
    started = time.perf_counter()
    classifier.learn([e.text for e in examples], [e.department for e in examples])
    seconds = time.perf_counter() - started
    folder = routing_model_dir(settings)
    classifier.save(folder)
    known = _known_departments(settings)
    return LearnSummary(
        file=str(path),
        examples=len(examples),
        departments=classifier.example_counts,
        saved_to=str(folder),
        embedder=classifier.embedder.name,
        seconds=round(seconds, 2),
        not_in_helpdesk=[d for d in departments if known is not None and d not in known],
    )


def learn_command(path: Path, settings: Settings) -> None:
    """`relaydesk route learn FILE.csv`: train, save, and print what was learned."""
    with err_console.status("learning departments from examples…"):
        summary = learn_routing(path, settings)
    table = Table("department", "examples")
    for department, count in summary.departments.items():
        table.add_row(department, str(count))
    console.print(table)
    console.print(
        f"learned {len(summary.departments)} departments from {summary.examples} examples "
        f"in {summary.seconds:.1f} s; saved to {summary.saved_to}",
        highlight=False,
    )
    if summary.not_in_helpdesk:
        console.print(
            "note: not departments in helpdesk.yaml (tickets cannot be routed there): "
            + ", ".join(summary.not_in_helpdesk),
            highlight=False,
        )


def load_router(settings: Settings) -> ExampleClassifier:
    """The trained classifier under the data dir; `InputError` when none has been trained."""
    folder = routing_model_dir(settings)
    if not folder.exists() or not any(folder.iterdir()):
        raise InputError(
            "no learned routing model yet: train one with `relaydesk route learn FILE.csv`"
        )
    return ExampleClassifier.load(folder, embedder_for(settings))


def evaluate(
    examples: list[Example], predictions: list[Prediction], learned: list[str]
) -> dict[str, Any]:
    """Accuracy, macro-F1, per-department precision/recall/F1 and confidence coverage."""
    expected = [e.department for e in examples]
    predicted = [p.label for p in predictions]
    confidence = [p.confidence for p in predictions]
    correct = [a == b for a, b in zip(expected, predicted, strict=True)]
    n = len(examples)
    departments: dict[str, dict[str, Any]] = {}
    for department in sorted(set(expected) | set(predicted)):
        support = sum(1 for e in expected if e == department)
        guessed = sum(1 for p in predicted if p == department)
        hits = sum(1 for e, p in zip(expected, predicted, strict=True) if e == p == department)
        precision = hits / guessed if guessed else 0.0
        recall = hits / support if support else 0.0
        f1 = 2 * precision * recall / (precision + recall) if precision + recall else 0.0
        departments[department] = {
            "support": support,
            "predicted": guessed,
            "precision": round(precision, 4),
            "recall": round(recall, 4),
            "f1": round(f1, 4),
        }
    scored = [d for d in departments.values() if d["support"]]
    levels = []
    for level in CONFIDENCE_LEVELS:
        chosen = [ok for ok, c in zip(correct, confidence, strict=True) if c >= level]
        levels.append(
            {
                "min_confidence": level,
                "coverage": round(len(chosen) / n, 4),
                "accuracy": round(sum(chosen) / len(chosen), 4) if chosen else None,
            }
        )
    return {
        "examples": n,
        "correct": sum(correct),
        "accuracy": round(sum(correct) / n, 4),
        "macro_f1": round(sum(d["f1"] for d in scored) / len(scored), 4),
        "departments": departments,
        "confidence": levels,
        "not_learned": sorted(set(expected) - set(learned)),
    }


def eval_routing(path: Path, settings: Settings, predictions: Path | None = None) -> dict[str, Any]:
    """Measure the trained classifier on the CSV at `path`; optionally write every prediction
    to `predictions` as JSON lines. Returns the report `route eval --json` prints."""
    examples = read_examples(path)
    classifier = load_router(settings)
    started = time.perf_counter()
    guesses: list[Prediction] = []
    for start in range(0, len(examples), PREDICT_BATCH):
        batch = examples[start : start + PREDICT_BATCH]
        guesses.extend(classifier.predict_many([e.text for e in batch]))
    seconds = time.perf_counter() - started
    report: dict[str, Any] = {"file": str(path)}
    report.update(evaluate(examples, guesses, classifier.labels))
    report["model"] = {
        "embedder": classifier.embedder.name,
        "departments": classifier.labels,
        "examples": sum(classifier.example_counts.values()),
    }
    report["ms_per_text"] = round(1000 * seconds / len(examples), 3)
    report["predictions"] = str(predictions) if predictions is not None else None
    if predictions is not None:
        _write_predictions(predictions, examples, guesses)
    return report


def _write_predictions(path: Path, examples: list[Example], guesses: list[Prediction]) -> None:
    try:
        with path.open("w", encoding="utf-8") as handle:
            for example, guess in zip(examples, guesses, strict=True):
                record = {
                    "line": example.line,
                    "text": example.text,
                    "expected": example.department,
                    "predicted": guess.label,
                    "confidence": round(guess.confidence, 4),
                    "correct": guess.label == example.department,
                    "ranking": [[label, round(p, 4)] for label, p in guess.ranking[:3]],
                }
                handle.write(json.dumps(record, ensure_ascii=False) + "\n")
    except OSError as exc:
        raise InputError(f"{path}: cannot write predictions ({exc.strerror or exc})") from None


def eval_command(
    path: Path, settings: Settings, as_json: bool, predictions: Path | None
) -> dict[str, Any] | None:
    """`relaydesk route eval FILE.csv [--json] [--predictions OUT.jsonl]`.

    Returns the report for `--json` (printed by the caller); otherwise prints tables.
    """
    report = eval_routing(path, settings, predictions)
    if as_json:
        return report
    table = Table("department", "examples", "precision", "recall", "F1")
    for department, row in report["departments"].items():
        table.add_row(
            department,
            str(row["support"]),
            f"{row['precision']:.3f}",
            f"{row['recall']:.3f}",
            f"{row['f1']:.3f}",
        )
    console.print(table)
    console.print(
        f"accuracy {report['accuracy']:.4f} ({report['correct']}/{report['examples']}), "
        f"macro-F1 {report['macro_f1']:.4f}, {report['ms_per_text']:.2f} ms per text",
        highlight=False,
    )
    for level in report["confidence"]:
        accuracy = "-" if level["accuracy"] is None else f"{level['accuracy']:.4f}"
        console.print(
            f"confidence >= {level['min_confidence']}: {level['coverage']:.1%} of texts, "
            f"accuracy {accuracy}",
            highlight=False,
        )
    if report["not_learned"]:
        console.print(
            "note: departments the model never learned: " + ", ".join(report["not_learned"]),
            highlight=False,
        )
    if predictions is not None:
        console.print(f"predictions written to {predictions}", highlight=False)
    return None
