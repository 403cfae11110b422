"""Metrics of `kb eval` and the labelled-question file format."""

from __future__ import annotations

from pathlib import Path

import pytest

from knowledge.errors import CalibrationError
from knowledge.evaluation import LabelledQuestion, Prediction, read_labelled, summarise


def prediction(expected: str | None, decision: str, top: list[str], lang: str = "en") -> Prediction:
    rank = next((i for i, s in enumerate(top, start=1) if s == expected), None)
    return Prediction(
        question="q",
        expected=expected,
        language=lang,
        decision=decision,
        slug=top[0] if top else None,
        top=top,
        confidence=0.5,
        correct_top1=rank == 1,
        rank=rank,
    )


def test_metrics() -> None:
    predictions = [
        prediction("a", "answer", ["a", "b"]),  # right, answered
        prediction("a", "handoff", ["b", "a"]),  # rank 2, handed off
        prediction("b", "answer", ["a", "c", "d", "e", "f", "b"]),  # wrong answer, rank 6
        prediction(None, "answer", ["a"]),  # out of scope, answered: a false answer
        prediction(None, "handoff", ["b"], lang="pl"),
    ]
    m = summarise(predictions)
    assert (m.questions, m.in_scope, m.out_of_scope, m.answered) == (5, 3, 2, 3)
    assert m.top1 == round(1 / 3, 4)
    assert m.recall_at_5 == round(2 / 3, 4)
    assert m.mrr == round((1 + 1 / 2 + 1 / 6) / 3, 4)
    assert m.coverage == round(2 / 3, 4)
    assert m.precision_answered == round(1 / 3, 4)
    assert m.out_of_scope_answered == 0.5
    assert m.by_language["pl"]["out_of_scope_answered"] == 0.0
    assert m.by_language["en"]["questions"] == 4


def test_read_labelled(tmp_path: Path) -> None:
    path = tmp_path / "q.csv"
    path.write_text(
        "question,expected,language\nWhere is my parcel?,track-order,\n\nWeather?,,en\n",
        encoding="utf-8",
    )
    rows = read_labelled(path)
    assert [(r.question, r.expected, r.language, r.line) for r in rows] == [
        ("Where is my parcel?", "track-order", None, 2),
        ("Weather?", None, "en", 4),
    ]


def test_read_labelled_takes_other_names_for_its_columns(tmp_path: Path) -> None:
    # a labelled set's own header (bitext's): instruction and intent, among other columns
    path = tmp_path / "dev.csv"
    path.write_text(
        "flags,instruction,category,intent,response\n"
        'B,how do I cancel order 123?,ORDER,cancel_order,"Sure.\nFirst, log in."\n'
        "B,what's the weather,,,\n",
        encoding="utf-8",
    )
    assert [(r.question, r.expected, r.line) for r in read_labelled(path)] == [
        ("how do I cancel order 123?", "cancel_order", 2),
        ("what's the weather", None, 4),
    ]
    # our own names win over the other ones
    both = tmp_path / "both.csv"
    both.write_text("text,question,expected,label\nno,yes,right,wrong\n", encoding="utf-8")
    [row] = read_labelled(both)
    assert (row.question, row.expected) == ("yes", "right")


def test_read_labelled_errors(tmp_path: Path) -> None:
    with pytest.raises(CalibrationError, match="no such file"):
        read_labelled(tmp_path / "missing.csv")
    wrong = tmp_path / "wrong.csv"
    wrong.write_text("words,answer\na,b\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"wrong\.csv:1: needs the columns question and"):
        read_labelled(wrong)
    empty = tmp_path / "empty.csv"
    empty.write_text("question,expected\n", encoding="utf-8")
    with pytest.raises(CalibrationError, match="no questions"):
        read_labelled(empty)
    latin = tmp_path / "latin.csv"
    latin.write_bytes("question,expected\nok,a\nZażółć,b\n".encode("cp1250"))
    with pytest.raises(CalibrationError, match=r"latin\.csv:3: not UTF-8 text \(byte 0xbf\)"):
        read_labelled(latin)
    with pytest.raises(CalibrationError, match="is a folder, not a CSV file"):
        read_labelled(tmp_path)
    huge = tmp_path / "huge.csv"
    huge.write_text(f'question,expected\nok,a\n"{"x" * 200_000}",a\n', encoding="utf-8")
    with pytest.raises(CalibrationError, match=r"huge\.csv:3: malformed CSV \(field larger"):
        read_labelled(huge)


def test_labelled_rows_know_where_they_came_from(tmp_path: Path) -> None:
    path = tmp_path / "mine.csv"
    path.write_text("question,expected\nWhere is my parcel?,track-order\n", encoding="utf-8")
    [row] = read_labelled(path)
    assert row.where == f"{path}:2"
    assert LabelledQuestion("q", None, "en", 7).where == "line 7"


@pytest.mark.parametrize(
    ("text", "message"),
    [
        # an unclosed quote read the rest of the file as one question, and eval went on
        (
            'question,expected\n"where is it,track-order\nhello,\n',
            ":2: a quoted value is not closed",
        ),
        ("question,expected,expected\nhi,a,b\n", ":1: the column 'expected' is there twice"),
        ("question,expected,language\nhi,a,english\n", ":2: language 'english' is not a two"),
    ],
)
def test_read_labelled_refuses_what_it_would_misread(
    tmp_path: Path, text: str, message: str
) -> None:
    path = tmp_path / "q.csv"
    path.write_text(text, encoding="utf-8")
    with pytest.raises(CalibrationError) as error:
        read_labelled(path)
    assert str(error.value).startswith(f"{path}{message}")
