"""Bad settings and bad arguments stop the real `relaydesk` process in one line, non-zero."""

from __future__ import annotations

import socket
from pathlib import Path

from tests.e2e.test_cli_chat import clean_env, relaydesk
from tests.e2e.test_helpdesk_config import error


def test_usage_mistakes_are_one_line_naming_the_help(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    assert error("tickets", "show", "-5", env=env, code=2) == (
        "error: No such option: -5 (see `relaydesk tickets show --help`)"
    )
    assert error("route", "learn", env=env, code=2) == (
        "error: Missing argument 'FILE.csv'. (see `relaydesk route learn --help`)"
    )
    assert error("tickets", "show", "abc", env=env, code=2).startswith(
        "error: Invalid value for 'number': "
    )
    too_long = ("--customer", "1", "--channel", "telegram", "--text", "hi", "--language", "x" * 9)
    assert error("tickets", "open", *too_long, env=env, code=2) == (
        "error: --language: at most 8 characters, not 9"
    )


def test_serve_on_a_port_in_use_stops_in_one_line(tmp_path: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        env = {**clean_env(tmp_path), "RELAYDESK_PORT": str(port)}
        assert error("serve", env=env) == (
            f"error: cannot listen on 127.0.0.1:{port} (RELAYDESK_HOST, RELAYDESK_PORT):"
            " Address already in use"
        )


def test_a_database_that_cannot_be_used_is_one_line(tmp_path: Path) -> None:
    env = clean_env(tmp_path)
    sync = {**env, "RELAYDESK_DATABASE_URL": f"sqlite:///{tmp_path / 'x.db'}"}
    assert error("init", env=sync) == (
        "error: RELAYDESK_DATABASE_URL: driver 'pysqlite' is not supported"
        " (use sqlite+aiosqlite:// or postgresql+asyncpg://)"
    )
    refused = {**env, "RELAYDESK_DATABASE_URL": "postgresql+asyncpg://u@127.0.0.1:1/x"}
    for command in ("init", "tickets list"):
        assert error(*command.split(), env=refused).startswith(
            "error: cannot reach the database: ConnectionRefusedError: "
        )
    file = tmp_path / "data"
    file.write_text("not a folder", encoding="utf-8")
    assert error("tickets", "list", env={**env, "RELAYDESK_DATA_DIR": str(file)}) == (
        f"error: configuration: RELAYDESK_DATA_DIR: {file} is a file, not a folder"
    )


def test_serve_says_once_that_max_send_attempts_is_no_longer_used(tmp_path: Path) -> None:
    with socket.socket() as free:
        free.bind(("127.0.0.1", 0))
        port = free.getsockname()[1]
    env = {**clean_env(tmp_path), "RELAYDESK_PORT": str(port), "RELAYDESK_SEND_RETRY_HOURS": "48"}
    # No `relaydesk init`: serve stops at the schema check, after what it logs at start.
    retired = relaydesk("serve", env={**env, "RELAYDESK_MAX_SEND_ATTEMPTS": "20"})
    assert retired.returncode == 1 and "Traceback" not in retired.stderr
    *logged, last = retired.stderr.strip().splitlines()
    assert last.startswith("error: the database schema is empty")
    assert len(logged) == 1
    assert logged[0].endswith(
        " WARNING bots.commands.system: RELAYDESK_MAX_SEND_ATTEMPTS is no longer used: a message"
        " that cannot be sent yet is retried for RELAYDESK_SEND_RETRY_HOURS (48 h), not a number"
        " of attempts"
    )
    quiet = relaydesk("serve", env=env)
    assert quiet.returncode == 1
    assert quiet.stderr.strip().splitlines() == [last]
