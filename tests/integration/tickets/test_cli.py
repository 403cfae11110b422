"""`relaydesk tickets …` and `relaydesk route` through the real command (in this process),
with the example helpdesk.yaml on a SQLite database."""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from bots.cli import app

EXAMPLE = Path(__file__).resolve().parents[3] / "helpdesk.example.yaml"


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def relaydesk(*args: str, env: dict[str, str | None]) -> Ran:
    result = CliRunner().invoke(app, list(args), env=env, catch_exceptions=False)
    return Ran(result.exit_code, result.stdout, result.stderr)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str | None]:
    # Unset every relaydesk, Slack, Telegram and model variable, then point at this test.
    environment: dict[str, str | None] = {
        key: None
        for key in os.environ
        if key.startswith(("RELAYDESK_", "SLACK_", "TELEGRAM_", "OPENAI_"))
    }
    environment["RELAYDESK_DATA_DIR"] = str(tmp_path / "data")
    environment["RELAYDESK_CONFIG"] = str(EXAMPLE)
    result = relaydesk("init", env=environment)
    assert result.returncode == 0, result.stderr
    return environment


def ok(*args: str, env: dict[str, str | None]) -> Any:
    result = relaydesk(*args, env=env)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout) if "--json" in args else result.stdout


def error(*args: str, env: dict[str, str | None], code: int = 1) -> str:
    result = relaydesk(*args, env=env)
    assert result.returncode == code, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    return lines[0]


def test_open_work_and_show_a_ticket(env: dict[str, str | None]) -> None:
    opened = ok(
        "tickets",
        "open",
        "--customer",
        "4711",
        "--channel",
        "telegram",
        "--text",
        "Someone used my stolen card",
        "--json",
        env=env,
    )
    assert (opened["number"], opened["department"], opened["priority"], opened["tier"]) == (
        1001,
        "payments",
        "urgent",
        "L2",
    )
    assert opened["routing"]["rule"] == "fraud"
    assert opened["sla"]["policy"] == "urgent"
    assert opened["assignee"] == "U0MAREK001"  # payments has no L2 agent: the L3 one
    second = ok(
        "tickets",
        "open",
        "--customer",
        "99",
        "--channel",
        "telegram",
        "--language",
        "pl",
        "--text",
        "Chcę zwrot za zamówienie",
        "--json",
        env=env,
    )
    assert (second["department"], second["tags"]) == ("orders", ["returns"])

    listed = ok("tickets", "list", "--department", "payments", "--json", env=env)
    assert [t["number"] for t in listed] == [1001]
    assert listed[0]["messages"][0]["author"] == "customer"
    assert ok("tickets", "list", "--status", "resolved", "--json", env=env) == []

    slack = {**env, "SLACK_BOT_TOKEN": "xoxb-test", "SLACK_SIGNING_SECRET": "test-secret"}
    line = ok(
        "tickets", "escalate", "1001", "--reason", "bank API outage", "--by", "Kasia", env=slack
    )
    assert line.strip() == "#1001 escalated: tier L2 -> L3 · assigned to U0MAREK001"
    ok("tickets", "assign", "1002", "Piotr", env=env)
    ok("tickets", "pending", "1001", "--reason", "asked for the receipt", env=env)
    paused = ok("tickets", "show", "1001", "--json", env=env)
    assert paused["status"] == "pending" and paused["sla"]["paused"] is True
    assert paused["sla"]["clocks"]["resolution"]["state"] == "paused"
    resolved = ok("tickets", "resolve", "1001", "--json", env=env)
    assert resolved["status"] == "resolved" and resolved["resolved_at"]

    shown = ok("tickets", "show", "1001", "--json", env=env)
    events = [(e["kind"], e["from"], e["to"], e["actor"]) for e in shown["events"]]
    assert events[0] == ("created", None, "1001", "cli")
    assert ("tier", "L2", "L3", "agent:U0KASIA001") in events
    assert [e[1:3] for e in events if e[0] == "status"] == [
        ("new", "pending"),
        ("pending", "resolved"),
    ]
    escalation = next(e for e in shown["events"] if e["kind"] == "tier")
    assert escalation["reason"] == "bank API outage"
    assert shown["csat"] is None

    # The escalation notice waits for the L3 channel, the CSAT question for the customer.
    database = Path(str(env["RELAYDESK_DATA_DIR"])) / "relaydesk.db"
    with sqlite3.connect(database) as connection:
        rows = connection.execute("SELECT chat_key, payload FROM outbox").fetchall()
    assert [key for key, _ in rows] == ["slack:C0PAYL3001", "telegram:4711"]
    notice = json.loads(rows[0][1])
    assert notice["kind"] == "notice"
    assert notice["text"] == (
        "Escalated: ticket #1001 (tier L2 -> L3, assigned to U0MAREK001): bank API outage"
    )
    question = json.loads(rows[1][1])
    assert [b["value"] for b in question["buttons"]] == [f"1001:{i}" for i in range(1, 6)]

    ok("tickets", "reopen", "1001", "--reason", "still broken", env=env)
    assert ok("tickets", "show", "1001", "--json", env=env)["reopen_count"] == 1
    human = ok("tickets", "show", "1001", env=env)
    assert "tier L2 -> L3 · bank API outage" in human


def test_bad_input_is_one_line(env: dict[str, str | None]) -> None:
    assert error("tickets", "show", "4242", env=env) == "error: ticket #4242 does not exist"
    ok("tickets", "open", "--customer", "1", "--channel", "console", "--text", "hi", env=env)
    assert error("tickets", "reopen", "1001", env=env) == (
        "error: ticket #1001 is new; only a resolved ticket can be reopened"
    )
    assert error("tickets", "assign", "1001", "Zenon", env=env) == (
        "error: unknown agent 'Zenon' (not in helpdesk.yaml)"
    )
    assert error(
        "tickets", "escalate", "1001", "--tier", "L9", "--reason", "x", env=env, code=2
    ) == ("error: --tier: must be one of L1, L2, L3, not 'L9'")
    assert error(
        "tickets", "escalate", "1001", "--department", "sales", "--reason", "x", env=env
    ) == ("error: unknown department 'sales' (known: orders, payments, account, general)")
    assert error("tickets", "list", "--status", "done", env=env, code=2).startswith(
        "error: --status: must be one of new, open, pending, resolved, closed"
    )
    assert error(
        "tickets", "open", "--customer", "1", "--channel", "x", "--text", " ", env=env, code=2
    ) == ("error: --text: must not be empty")


def test_route_explains_the_decision(env: dict[str, str | None]) -> None:
    data = ok("route", "my card was stolen", "--customer-tier", "vip", "--json", env=env)
    assert (data["department"], data["priority"], data["tier"], data["rule"]) == (
        "payments",
        "urgent",
        "L2",
        "fraud",
    )
    assert data["rules"] == ["vip-first", "fraud"] and data["tags"] == ["vip", "fraud"]
    assert data["learned"] is None  # nothing learned yet: the learned rule cannot match
    assert [c["failed"] for c in data["checks"]] == [None, None]
    # Saturday noon on Telegram: outside business hours.
    weekend = ok(
        "route",
        "hello there",
        "--channel",
        "telegram",
        "--at",
        "2026-03-07T12:00+01:00",
        "--json",
        env=env,
    )
    assert (weekend["rule"], weekend["tags"], weekend["department"]) == (
        "after-hours",
        ["after-hours"],
        "general",
    )
    weekday = ok(
        "route",
        "hello there",
        "--channel",
        "telegram",
        "--at",
        "2026-03-09T12:00+01:00",
        "--json",
        env=env,
    )
    assert weekday["rule"] is None and weekday["checks"][-1]["failed"] == "business_hours"
    text = ok("route", "Chcę", "zwrot", "pieniędzy", "--language", "pl", env=env)
    assert "department: orders  (rule 'polish-refunds')" in text
    assert error("route", "--json", " ", env=env, code=2) == "error: TEXT: must not be empty"


def test_a_wrong_helpdesk_yaml_stops_each_command(
    env: dict[str, str | None], tmp_path: Path
) -> None:
    broken = tmp_path / "helpdesk.yaml"
    broken.write_text("default_department: x\ndepartments: []\n", encoding="utf-8")
    bad = {**env, "RELAYDESK_CONFIG": str(broken)}
    expected = (
        "error: helpdesk.yaml: departments: list should have at least 1 item after validation,"
        " not 0"
    )
    for command in (
        ("init",),
        ("route", "hello"),
        ("tickets", "show", "1001"),
        ("tickets", "resolve", "1001"),
    ):
        assert error(*command, env=bad) == expected


def test_customer_tier_feeds_routing_and_sla(env: dict[str, str | None]) -> None:
    ok("tickets", "open", "--customer", "77", "--channel", "slack", "--text", "hello", env=env)
    data = ok("tickets", "customer", "slack:77", "--tier", "vip", "--tag", "b2b", "--json", env=env)
    assert (data["tier"], data["tags"]) == ("vip", ["b2b"])
    assert [t["number"] for t in data["tickets"]] == [1001]
    opened = ok(
        "tickets",
        "open",
        "--customer",
        "77",
        "--channel",
        "slack",
        "--text",
        "hello again",
        "--json",
        env=env,
    )
    assert opened["customer"]["tier"] == "vip"
    assert (opened["priority"], opened["tags"], opened["sla"]["policy"]) == ("high", ["vip"], "vip")
    untagged = ok("tickets", "customer", "1", "--untag", "b2b", "--json", env=env)
    assert untagged["tags"] == [] and len(untagged["tickets"]) == 2
    assert error("tickets", "customer", "nobody", env=env) == (
        "error: 'nobody' is neither a customer id nor channel:user (telegram:12345)"
    )
