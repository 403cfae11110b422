"""`relaydesk route "TEXT"`: where a ticket with this text would go and why; `route learn` and
`route eval` train and measure the learned department classifier.

Typer cannot give one command both a positional TEXT and subcommands, so `RouteCommand`
looks at the first word: `learn` and `eval` go to their own commands, anything else is text.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping
from dataclasses import asdict, is_dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import typer
from typer.core import TyperCommand

from bots.commands.common import console, fail, handle_errors, load_settings, print_json, run
from bots.helpdesk import build_helpdesk
from tickets.models import Customer

SUBCOMMANDS = ("learn", "eval")


def _learning(word: str) -> Any:
    try:
        return importlib.import_module("bots.commands.route_learning")
    except ImportError:
        fail(f"`relaydesk route {word}` is not available in this build")


def _show(summary: Any) -> None:
    if summary is None:
        return
    if isinstance(summary, str):
        console.print(summary, highlight=False)
    elif isinstance(summary, Mapping):
        print_json(dict(summary))
    elif is_dataclass(summary) and not isinstance(summary, type):
        print_json(asdict(summary))
    else:
        console.print(str(summary), highlight=False)


@handle_errors
def learn(
    file: Path = typer.Argument(
        ..., metavar="FILE.csv", help="Labelled examples: columns text, department."
    ),
) -> None:
    """Train the department classifier that `learned` routing rules use."""
    _show(_learning("learn").learn_command(file, load_settings()))


@handle_errors
def evaluate(
    file: Path = typer.Argument(
        ..., metavar="FILE.csv", help="Labelled examples to measure on: columns text, department."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
    predictions: Path | None = typer.Option(
        None, "--predictions", metavar="OUT.jsonl", help="Write every prediction here."
    ),
) -> None:
    """Measure the trained department classifier on labelled examples."""
    _show(_learning("eval").eval_command(file, load_settings(), as_json, predictions))


SUBCOMMAND_FUNCTIONS: dict[str, Callable[..., None]] = {"learn": learn, "eval": evaluate}


def _dispatch(word: str, argv: list[str]) -> None:
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    sub.command()(SUBCOMMAND_FUNCTIONS[word])
    command = typer.main.get_command(sub)
    # Not standalone: a usage error reaches `bots.cli.main`, which prints it in one line.
    code = command.main(args=argv, prog_name=f"relaydesk route {word}", standalone_mode=False)
    if isinstance(code, int) and code:
        raise typer.Exit(code)


class RouteCommand(TyperCommand):
    """`route TEXT …`, or `route learn …` / `route eval …` handed to their own commands."""

    def parse_args(self, ctx: Any, args: list[str]) -> list[str]:
        if args and args[0] in SUBCOMMANDS:
            ctx.meta["route_subcommand"] = list(args)
            return []
        result: list[str] = super().parse_args(ctx, args)
        return result

    def invoke(self, ctx: Any) -> Any:
        sub = ctx.meta.get("route_subcommand")
        if sub is not None:
            return _dispatch(sub[0], sub[1:])
        return super().invoke(ctx)


@handle_errors
def route(
    text: list[str] = typer.Argument(
        ...,
        metavar="TEXT | learn FILE.csv | eval FILE.csv",
        help="A customer's message (quote it), or `learn`/`eval` with a labelled CSV "
        "(columns: text, department; see `relaydesk route learn --help`).",
    ),
    channel: str = typer.Option("", "--channel", help="The channel it arrives on."),
    language: str | None = typer.Option(None, "--language", help="Its language, e.g. pl."),
    customer_tier: str = typer.Option(
        "standard", "--customer-tier", help="The customer's tier, e.g. vip."
    ),
    at: datetime | None = typer.Option(
        None, "--at", help="When it arrives (ISO time with offset; default: now)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Explain where a ticket would go, and why (or: route learn / route eval).

    Shows the department, priority and tier, the rule that fired, and the learned
    classifier's guess with its confidence.
    """
    message = " ".join(text).strip()
    if not message:
        fail("TEXT: must not be empty", 2)
    if at is not None and at.tzinfo is None:
        fail("--at: needs a UTC offset, e.g. 2026-03-02T09:00+01:00", 2)

    async def _route() -> dict[str, Any]:
        desk = build_helpdesk(load_settings(), learned=True)
        customer = Customer(name="", tier=customer_tier, tags=[])
        decision = await desk.route(
            message, channel=channel, language=language, customer=customer, at=at
        )
        data = {"text": message, "channel": channel, "language": language}
        data.update(decision.to_dict())
        return data

    data = run(_route())
    if as_json:
        print_json(data)
        return
    rule = f"rule {data['rule']!r}" if data["rule"] else "no rule: default department"
    console.print(f"department: {data['department']}  ({rule})", highlight=False)
    console.print(f"priority:   {data['priority']}", highlight=False)
    console.print(f"tier:       {data['tier']}", highlight=False)
    if data["tags"]:
        console.print(f"tags:       {', '.join(data['tags'])}", highlight=False)
    if data["assignee"]:
        console.print(f"assignee:   {data['assignee']}", highlight=False)
    learned = data["learned"]
    if learned is None:
        console.print("learned:    no model (train one with `relaydesk route learn`)")
    else:
        unknown = "" if learned["known"] else " (not a department in helpdesk.yaml)"
        console.print(
            f"learned:    {learned['department']} ({learned['confidence']:.2f}){unknown}",
            highlight=False,
        )
    for check in data["checks"]:
        verdict = "matched" if check["matched"] else f"no ({check['failed']})"
        console.print(f"  rule {check['rule']!r}: {verdict}", highlight=False)
