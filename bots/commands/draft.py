"""`relaydesk draft TICKET`: an AI (or offline) reply draft for a ticket, stored for the agent."""

from __future__ import annotations

from typing import Any

import typer

from bots import drafts
from bots.app import build
from bots.commands.common import (
    console,
    handle_errors,
    load_settings,
    print_json,
    register_user_errors,
    run,
)
from bots.schema import ensure_current
from drafting.errors import DraftingError

register_user_errors(DraftingError)


@handle_errors
def draft(
    ticket: int = typer.Argument(..., metavar="TICKET", help="Ticket number."),
    tone: str | None = typer.Option(
        None, "--tone", metavar="TONE", help="Tone of the reply: shorter, friendlier or formal."
    ),
    translate: str | None = typer.Option(
        None, "--translate", metavar="LANG", help="Also translate the draft into LANG (e.g. de)."
    ),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Draft a reply to a ticket (with a model when one is configured, offline otherwise).

    The draft is stored for the agent; nothing is sent to the customer.
    """
    settings = load_settings()

    async def _draft() -> dict[str, Any]:
        services = build(settings)
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                result = await drafts.make_draft(
                    services,
                    session,
                    ticket,
                    tone=tone,
                    translate=translate,
                )
                await session.commit()
                return result.as_dict()
        finally:
            await services.close()

    data = run(_draft())
    if as_json:
        print_json(data)
        return
    mode = "offline" if data["offline"] else f"model {data['model']}"
    console.print(
        f"[bold]draft {data['draft_id']}[/bold] for ticket #{data['ticket']} "
        f"[dim]· {data['kind']} · {data['language']} · {mode}[/dim]",
        highlight=False,
    )
    if data["notice"]:
        console.print(f"[yellow]{data['notice']}[/yellow]", highlight=False, soft_wrap=True)
    if data["source_text"] is not None and not data["offline"]:
        console.print("[dim]original:[/dim]", highlight=False)
        console.print(data["source_text"], highlight=False, markup=False, soft_wrap=True)
        console.print(f"[dim]translation ({data['language']}):[/dim]", highlight=False)
    console.print("")
    console.print(data["text"], highlight=False, markup=False, soft_wrap=True)
    console.print("")
    details = [f"prompt {data['prompt_version']}"]
    if data["cited"]:
        details.insert(0, f"sources {', '.join(data['cited'])}")
    if not data["offline"] or data["tokens"]["prompt"]:
        details.append(f"tokens {data['tokens']['prompt']}+{data['tokens']['completion']}")
    details.append(f"{data['latency_ms']} ms")
    if data["trimmed_messages"]:
        details.append(f"{data['trimmed_messages']} oldest messages left out")
    console.print(f"[dim]{' · '.join(details)}[/dim]", highlight=False)
    if data["flags"]:
        console.print(f"[red]flags: {', '.join(data['flags'])}[/red]", highlight=False)
