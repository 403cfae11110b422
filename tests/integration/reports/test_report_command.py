"""`relaydesk report` in every format, through the real command line (SQLite)."""

from __future__ import annotations

import asyncio
import csv
import io
import json
import struct
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bots.cli import app
from bots.db import Database
from bots.report_charts import HEIGHT_PX, WIDTH_PX
from bots.report_format import CSV_COLUMNS
from bots.schema import upgrade
from tests.integration.reports.history import build_history

PERIOD = ["--since", "2024-03-04", "--until", "2024-03-17"]


@pytest.fixture(scope="module")
def history_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with helpdesk.yaml and a data folder holding the hand-computed history."""
    root = tmp_path_factory.mktemp("report_cli")
    folder = root / "data"
    folder.mkdir()

    async def _prepare() -> None:
        db = Database(f"sqlite+aiosqlite:///{folder / 'relaydesk.db'}")
        await upgrade(db)
        await build_history(db, root)
        await db.close()

    asyncio.run(_prepare())
    return root


@pytest.fixture
def data_dir(history_dir: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """The environment pointing at the history; the working folder is the test's own."""
    monkeypatch.setenv("RELAYDESK_DATA_DIR", str(history_dir / "data"))
    monkeypatch.setenv("RELAYDESK_CONFIG", str(history_dir / "helpdesk.yaml"))
    monkeypatch.delenv("RELAYDESK_DATABASE_URL", raising=False)
    monkeypatch.chdir(tmp_path)
    return history_dir / "data"


def invoke(*args: str) -> tuple[int, str, str]:
    result = CliRunner().invoke(app, ["report", *args])
    return result.exit_code, result.stdout, result.stderr


def test_json_has_every_section(data_dir: Path) -> None:
    code, out, err = invoke(*PERIOD, "--format", "json", "--by", "department")
    assert code == 0, err
    document = json.loads(out)
    assert set(document) == {"period", "by", "generated_at", "tickets", "knowledge", "drafts"}
    assert document["period"] == {
        "since": "2024-03-04T00:00:00+00:00",
        "until": "2024-03-18T00:00:00+00:00",
    }
    assert document["by"] == "department"
    totals = document["tickets"]["totals"]
    assert {
        "created",
        "resolved",
        "backlog",
        "first_response",
        "first_response_business",
        "next_response",
        "resolution_time_business",
        "sla",
        "csat",
        "recontact",
        "first_contact_resolution",
    } <= set(totals)
    assert totals["created"] == 5
    assert totals["first_response_business"] == {
        "count": 4,
        "mean_s": 7200.0,
        "p50_s": 1800.0,
        "p90_s": 18000.0,
    }
    assert [g["key"] for g in document["tickets"]["groups"]] == ["orders", "payments"]
    assert set(document["knowledge"]["totals"]["deflection"]) == {
        "verified",
        "assumed",
        "verified_rate",
        "assumed_rate",
        "judged",
        "pending",
    }
    assert document["drafts"]["totals"]["drafts"] == 0


def test_csv_has_the_documented_header_and_a_row_per_group(data_dir: Path) -> None:
    code, out, err = invoke(*PERIOD, "--format", "csv", "--by", "channel")
    assert code == 0, err
    rows = list(csv.reader(io.StringIO(out)))
    assert tuple(rows[0]) == CSV_COLUMNS
    table = {row[0]: dict(zip(rows[0], row, strict=True)) for row in rows[1:]}
    assert list(table) == ["all", "telegram", "slack"]
    assert table["all"]["tickets_created"] == "5"
    assert table["all"]["frt_p90_s"] == "237600.0"
    assert table["slack"]["backlog_pending"] == "1"
    assert table["slack"]["csat_average"] == ""  # no rating: empty, not zero


def test_csv_to_a_file(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "out.csv"
    code, out, err = invoke(*PERIOD, "--format", "csv", "--out", str(target))
    assert code == 0, err
    assert "wrote" in out
    assert target.read_text(encoding="utf-8").splitlines()[0].startswith("group,tickets_created")


def test_png_is_a_chart_of_the_documented_size(data_dir: Path, tmp_path: Path) -> None:
    target = tmp_path / "report.png"
    code, _out, err = invoke(*PERIOD, "--format", "png", "--out", str(target))
    assert code == 0, err
    data = target.read_bytes()
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    assert data[12:16] == b"IHDR"
    width, height = struct.unpack(">II", data[16:24])
    assert (width, height) == (WIDTH_PX, HEIGHT_PX) == (1200, 900)
    assert len(data) > 20_000  # four charts, not a blank canvas


def test_png_without_out_goes_to_the_working_folder(data_dir: Path, tmp_path: Path) -> None:
    code, out, err = invoke(*PERIOD, "--format", "png")
    assert code == 0, err
    assert "wrote relaydesk-report.png" in out
    assert (tmp_path / "relaydesk-report.png").stat().st_size > 0


def test_table_in_the_terminal(data_dir: Path) -> None:
    code, out, err = invoke(*PERIOD, "--by", "department")
    assert code == 0, err
    assert "relaydesk report" in out
    line = next(row for row in out.splitlines() if "Tickets created" in row)
    assert [cell.strip() for cell in line.split("│")[2:5]] == ["5", "3", "2"]
    business = next(row for row in out.splitlines() if "First response median (business)" in row)
    assert "30m" in business


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--since", "7x"], "error: --since: '7x' is not a date"),
        (["--since", "2024-02-30"], "error: --since: '2024-02-30' is not a real date"),
        (["--until", "yesterday"], "error: --until: 'yesterday' is not a date"),
        (["--since", "2024-03-10", "--until", "2024-03-01"], "must be after --since"),
        (["--by", "tier"], "error: --by: 'tier' is not one of department, agent, channel"),
        (["--format", "xml"], "error: --format: 'xml' is not one of table, csv, json, png"),
        (["--format", "csv", "--out", "missing/x.csv"], "error: --out: the folder missing"),
    ],
)
def test_bad_input_is_one_line(data_dir: Path, args: list[str], message: str) -> None:
    code, out, err = invoke(*args)
    assert code == 1
    assert message in err
    assert len(err.strip().splitlines()) == 1
    assert "Traceback" not in out + err


def test_a_database_that_was_never_initialised(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RELAYDESK_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.delenv("RELAYDESK_CONFIG", raising=False)
    monkeypatch.delenv("RELAYDESK_DATABASE_URL", raising=False)
    code, _out, err = invoke("--format", "json")
    assert code == 1
    assert err.startswith("error: the database schema is empty")
    assert err.strip().endswith("run `relaydesk init`")
    assert len(err.strip().splitlines()) == 1
