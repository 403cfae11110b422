"""A wrong helpdesk.yaml stops the real `relaydesk` process at start, in one line."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.test_cli_chat import clean_env, relaydesk

EXAMPLE = Path(__file__).resolve().parents[2] / "helpdesk.example.yaml"


def error(*args: str, env: dict[str, str], code: int = 1) -> str:
    result = relaydesk(*args, env=env)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_a_wrong_helpdesk_yaml_stops_every_command(tmp_path: Path) -> None:
    broken = tmp_path / "helpdesk.yaml"
    broken.write_text(
        EXAMPLE.read_text(encoding="utf-8").replace("min_confidence: 0.6", "min_confidence: 1.6"),
        encoding="utf-8",
    )
    env = clean_env(tmp_path)
    bad = {**env, "RELAYDESK_CONFIG": str(broken)}
    expected = (
        "error: helpdesk.yaml: routing[3].when.learned.min_confidence: must be between 0 and 1"
        " (rule 'learned')"
    )
    for command in (("serve",), ("tickets", "list")):
        assert error(*command, env=bad) == expected
    missing = {**env, "RELAYDESK_CONFIG": str(tmp_path / "nope.yaml")}
    assert error("tickets", "list", env=missing).endswith("nope.yaml does not exist")
