"""`relaydesk tickets …`: what happened, for agents without Slack and for scripts."""

from __future__ import annotations

from typing import Any

import typer
from rich.table import Table

from bots.app import build
from bots.commands.common import console, handle_errors, load_settings, print_json, run
from bots.schema import ensure_current
from tickets import service
from tickets.models import Message, Ticket

app = typer.Typer(help="List and inspect tickets.", no_args_is_help=True)


def ticket_dict(ticket: Ticket, *, messages: bool = False) -> dict[str, Any]:
    data: dict[str, Any] = {
        "number": ticket.number,
        "subject": ticket.subject,
        "status": ticket.status,
        "priority": ticket.priority,
        "department": ticket.department,
        "tier": ticket.tier,
        "assignee": ticket.assignee,
        "channel": ticket.channel,
        "language": ticket.language,
        "customer": {"id": ticket.customer_id, "name": ticket.customer.name},
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
    }
    if messages:
        data["messages"] = [message_dict(m) for m in ticket.messages]
    return data


def message_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "author": message.author_kind,
        "text": message.text,
        "internal": message.internal,
        "channel": message.channel,
        "created_at": message.created_at.isoformat(),
    }


@app.command("list")
@handle_errors
def list_(
    status: str | None = typer.Option(None, "--status", help="Only tickets in this status."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """Tickets, newest first."""

    async def _list() -> list[dict[str, Any]]:
        services = build(load_settings())
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                tickets = await service.list_tickets(session, status=status)
                out = []
                for ticket in tickets:
                    item = ticket_dict(ticket)
                    item["messages"] = [
                        message_dict(m)
                        for m in (await service.get_ticket(session, ticket.number)).messages
                    ]
                    out.append(item)
                return out
        finally:
            await services.close()

    rows = run(_list())
    if as_json:
        print_json(rows)
        return
    table = Table("#", "status", "priority", "department", "channel", "subject")
    for row in rows:
        table.add_row(
            str(row["number"]),
            row["status"],
            row["priority"],
            row["department"] or "-",
            row["channel"],
            row["subject"],
        )
    console.print(table)


@app.command("show")
@handle_errors
def show(
    number: int = typer.Argument(..., help="Ticket number."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON."),
) -> None:
    """One ticket with its messages."""

    async def _show() -> dict[str, Any]:
        services = build(load_settings())
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                return ticket_dict(await service.get_ticket(session, number), messages=True)
        finally:
            await services.close()

    data = run(_show())
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]#{data['number']}[/bold] {data['subject']}  "
        f"[dim]{data['status']} · {data['priority']} · {data['channel']}[/dim]",
        highlight=False,
    )
    for message in data["messages"]:
        who = message["author"] + (" (internal)" if message["internal"] else "")
        console.print(f"  [cyan]{who}[/cyan]: {message['text']}", highlight=False)
