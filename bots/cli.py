"""`relaydesk` command line: thin, parses arguments and calls services (Typer + Rich)."""

from __future__ import annotations

import sys

import typer
from rich.markup import escape
from typer.exceptions import TyperException

from bots.commands import customers, draft, kb, route, system, tickets
from bots.commands import report as report_command
from bots.commands.common import err_console

app = typer.Typer(
    name="relaydesk",
    help="Self-hosted, chat-first helpdesk.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
app.command()(system.init)
app.command()(system.serve)
app.command()(system.chat)
app.add_typer(tickets.app, name="tickets")
app.command("draft")(draft.draft)
app.add_typer(customers.app, name="customers")
app.command("report")(report_command.report)
app.add_typer(kb.app, name="kb")
app.command("route", cls=route.RouteCommand)(route.route)


@app.callback()
def _startup() -> None:
    # helpdesk.yaml is checked before any command runs: a wrong file stops it in one line.
    tickets.check_config()


def main() -> None:
    """Run a command; a usage mistake (unknown option, missing or wrong-typed argument) is
    one `error:` line naming the help to read, exit code 2, as every other bad input."""
    try:
        code = app(prog_name="relaydesk", standalone_mode=False)
    except (TyperException, typer.Abort) as exc:
        sys.exit(usage_error(exc))
    except KeyboardInterrupt:
        sys.exit(130)
    sys.exit(code if isinstance(code, int) else 0)


def usage_error(exc: Exception) -> int:
    """Print a Click usage error in one line; returns its exit code."""
    code = getattr(exc, "exit_code", 1)
    if type(exc).__name__ == "NoArgsIsHelpError":
        return int(code)  # the help has been printed already
    if isinstance(exc, typer.Abort):
        err_console.print("[red]error:[/red] interrupted", highlight=False)
        return 130
    format_message = getattr(exc, "format_message", None)
    message = format_message() if callable(format_message) else str(exc)
    message = " ".join(str(message).split())
    ctx = getattr(exc, "ctx", None)
    hint = f" (see `{ctx.command_path} --help`)" if ctx is not None else ""
    err_console.print(
        f"[red]error:[/red] {escape(message + hint)}", highlight=False, soft_wrap=True
    )
    return int(code)


if __name__ == "__main__":
    main()
