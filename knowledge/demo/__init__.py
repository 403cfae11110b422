"""The demo knowledge base: articles for the fictional online shop Brightcart, in English and
Polish (our own writing), and labelled questions that calibrate it (`relaydesk init --demo`)."""

from __future__ import annotations

from pathlib import Path

from knowledge.evaluation import LabelledQuestion

FOLDER = Path(__file__).resolve().parent
QUESTIONS = FOLDER / "questions.yaml"


def questions() -> list[tuple[str, str | None, str]]:
    """(question, expected slug or None for out of scope, language) from questions.yaml."""
    import yaml

    out: list[tuple[str, str | None, str]] = []
    for entry in yaml.safe_load(QUESTIONS.read_text(encoding="utf-8")) or []:
        expected = entry.get("expected")
        for language in ("en", "pl"):
            for question in entry.get(language) or []:
                out.append((str(question), str(expected) if expected else None, language))
    return out


def labelled() -> list[LabelledQuestion]:
    """The same questions as labelled rows for calibration (numbered from 1)."""
    return [
        LabelledQuestion(question, expected, language, number)
        for number, (question, expected, language) in enumerate(questions(), start=1)
    ]
