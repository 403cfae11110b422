"""`relaydesk` command line: thin, parses arguments and calls services (Typer + Rich)."""

from __future__ import annotations

import typer

from bots.commands import customers, draft, kb, route, system, tickets
from bots.commands import report as report_command

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
    app()


if __name__ == "__main__":
    main()
