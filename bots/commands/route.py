"""`relaydesk route "TEXT"`: where a ticket with this text would go and why; `route learn` and
`route eval` train and measure the learned department classifier.

Typer cannot give one command both a positional TEXT and subcommands, so `RouteCommand`
looks at the first word: `learn` and `eval` go to their own commands, anything else is text.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from datetime import datetime
from typing import Any

import typer
from typer.core import TyperCommand

from bots.commands.common import console, fail, handle_errors, load_settings, print_json, run
from bots.helpdesk import build_helpdesk
from tickets.models import Customer

SUBCOMMANDS = ("learn", "eval")


def _subcommand(word: str) -> Callable[..., Any]:
    try:
        module = importlib.import_module("bots.commands.route_learning")
    except ImportError:
        fail(f"`relaydesk route {word}` is not available in this build")
    command: Callable[..., Any] = getattr(module, f"{word}_command")
    return command


def _dispatch(word: str, argv: list[str]) -> None:
    sub = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    sub.command()(_subcommand(word))
    command = typer.main.get_command(sub)
    command.main(args=argv, prog_name=f"relaydesk route {word}", standalone_mode=True)


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
