"""The relaydesk command end to end: init, chat through the pipeline, tickets as JSON."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

RELAYDESK = [sys.executable, "-m", "bots.cli"]


def relaydesk(
    *args: str, env: dict[str, str], stdin: str | None = None
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*RELAYDESK, *args],
        input=stdin,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )


def clean_env(tmp_path: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAYDESK_", "SLACK_"))}
    for key in ("TELEGRAM_BOT_TOKEN", "OPENAI_API_KEY", "OPENAI_BASE_URL"):
        env.pop(key, None)
    env["RELAYDESK_DATA_DIR"] = str(tmp_path / "data")
    return env


def test_chat_opens_a_ticket_that_tickets_list_shows(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    first = relaydesk("init", env=env)
    assert first.returncode == 0, first.stderr
    again = relaydesk("init", env=env)
    assert again.returncode == 0, again.stderr
    assert "current" in again.stdout

    chat = relaydesk("chat", env=env, stdin="My parcel 4411 never arrived, please help\n")
    assert chat.returncode == 0, chat.stderr
    assert "#1001" in chat.stdout

    listed = relaydesk("tickets", "list", "--json", env=env)
    assert listed.returncode == 0, listed.stderr
    tickets = json.loads(listed.stdout)
    assert [t["number"] for t in tickets] == [1001]
    texts = [(m["author"], m["text"]) for m in tickets[0]["messages"]]
    assert texts[0] == ("customer", "My parcel 4411 never arrived, please help")
    assert texts[1][0] == "bot" and "#1001" in texts[1][1]


@pytest.mark.parametrize("encoding", ["utf-8:surrogateescape", "utf-8:strict"])
def test_chat_keeps_a_line_with_bytes_that_are_not_utf8_or_a_nul(
    tmp_path: Path, encoding: str
) -> None:
    env = clean_env(tmp_path)
    # Under the C locale bytes that are not UTF-8 reach input() as lone surrogates; under a
    # strict UTF-8 locale they used to end the chat with a UnicodeDecodeError.
    env["PYTHONIOENCODING"] = encoding
    assert relaydesk("init", env=env).returncode == 0
    chat = subprocess.run(
        [*RELAYDESK, "chat"],
        input=b"my card \xff\xfe was charged\x00 twice\n",
        capture_output=True,
        env=env,
        timeout=120,
        check=False,
    )
    stderr = chat.stderr.decode("utf-8", "replace")
    assert chat.returncode == 0, stderr
    assert "Traceback" not in stderr
    assert b"#1001" in chat.stdout
    shown = relaydesk("tickets", "show", "1001", "--json", env=env)
    assert shown.returncode == 0, shown.stderr
    first = json.loads(shown.stdout)["messages"][0]
    assert first["text"] == "my card \ufffd\ufffd was charged\ufffd twice"


def test_bad_input_is_one_line_and_non_zero(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    assert relaydesk("init", env=env).returncode == 0
    missing = relaydesk("tickets", "show", "4242", env=env)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: ticket #4242 does not exist"
    assert "Traceback" not in missing.stderr

    env_bad = {**env, "RELAYDESK_PORT": "eighty"}
    bad_port = relaydesk("serve", env=env_bad)
    assert bad_port.returncode == 1
    assert bad_port.stderr.startswith("error: configuration: RELAYDESK_PORT")
    assert len(bad_port.stderr.strip().splitlines()) == 1

    not_a_number = relaydesk("tickets", "show", "abc", env=env)
    assert not_a_number.returncode == 2
    assert "Traceback" not in not_a_number.stderr


def test_commands_refuse_an_uninitialised_database(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    result = relaydesk("tickets", "list", env=env)
    assert result.returncode == 1
    assert "run `relaydesk init`" in result.stderr
