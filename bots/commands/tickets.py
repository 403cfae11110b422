"""`relaydesk tickets …`: open, list, inspect and work tickets, for agents without Slack and
for scripts. Every change goes through the ticket service and lands in the event log."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import typer
from rich.table import Table
from sqlalchemy.ext.asyncio import AsyncSession

from bots.app import build
from bots.commands.common import console, fail, handle_errors, load_settings, print_json, run
from bots.helpdesk import load_helpdesk_config
from bots.messages import Button, ChatRef, OutboundMessage
from bots.pipeline.store import enqueue
from bots.schema import ensure_current
from bots.texts import say
from tickets import service
from tickets.config import PRIORITIES, TIERS
from tickets.models import CsatRating, Message, Ticket, TicketEvent
from tickets.service import STATUSES, Helpdesk

app = typer.Typer(help="Open, list, inspect and work tickets.", no_args_is_help=True)

BY_HELP = "Who is acting (agent Slack id or name); recorded in the event log."
JSON_HELP = "Print JSON."


# -- JSON shapes ---------------------------------------------------------------------------------


def _iso(value: Any) -> str | None:
    return value.isoformat() if value is not None else None


def ticket_dict(
    ticket: Ticket, *, messages: bool = False, desk: Helpdesk | None = None
) -> dict[str, Any]:
    """The stable JSON shape of a ticket (`tickets list/show --json`)."""
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
        "tags": list(ticket.tags or []),
        "summary": ticket.summary,
        "follow_up_of": ticket.follow_up_of,
        "reopen_count": ticket.reopen_count,
        "customer": {
            "id": ticket.customer_id,
            "name": ticket.customer.name,
            "tier": ticket.customer.tier,
        },
        "created_at": ticket.created_at.isoformat(),
        "updated_at": ticket.updated_at.isoformat(),
        "first_response_at": _iso(ticket.first_response_at),
        "resolved_at": _iso(ticket.resolved_at),
        "reopened_at": _iso(ticket.reopened_at),
        "closed_at": _iso(ticket.closed_at),
    }
    if desk is not None:
        data["sla"] = desk.sla_view(ticket)
    if messages:
        data["messages"] = [message_dict(m) for m in ticket.messages]
    return data


def message_dict(message: Message) -> dict[str, Any]:
    return {
        "id": message.id,
        "direction": message.direction,
        "author": message.author_kind,
        "author_id": message.author_id,
        "text": message.text,
        "internal": message.internal,
        "channel": message.channel,
        "attachments": list(message.attachments or []),
        "edited_at": _iso(message.edited_at),
        "created_at": message.created_at.isoformat(),
    }


def event_dict(event: TicketEvent) -> dict[str, Any]:
    return {
        "at": event.at.isoformat(),
        "actor": event.actor,
        "kind": event.kind,
        "from": event.from_value,
        "to": event.to_value,
        "reason": event.reason,
    }


def csat_dict(rating: CsatRating | None) -> dict[str, Any] | None:
    if rating is None:
        return None
    return {"score": rating.score, "comment": rating.comment, "at": rating.updated_at.isoformat()}


# -- plumbing ------------------------------------------------------------------------------------


def _actor(desk: Helpdesk, by: str) -> str:
    if by == "cli":
        return "cli"
    agent = desk.config.find_agent(by)
    return f"agent:{agent.slack_id if agent else by}"


def _change(
    number: int,
    work: Callable[[AsyncSession, Helpdesk, Ticket], Awaitable[str]],
    *,
    as_json: bool,
) -> None:
    """Load ticket `number`, apply `work` in one transaction, print its line (or the ticket).

    With Slack on, the ticket's card is refreshed in the same transaction."""

    async def _run() -> tuple[str, dict[str, Any]]:
        settings = load_settings()
        services = build(settings, knowledge=False)
        desk = services.helpdesk
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                ticket = await service.get_ticket(session, number)
                line = await work(session, desk, ticket)
                if settings.slack_enabled:
                    # The agents' card in Slack shows the change too (sent by `serve`).
                    from bots.slack.cards import card_update

                    update = await card_update(session, ticket)
                    if update is not None:
                        enqueue(session, update, ticket_id=ticket.id)
                await session.commit()
            async with services.db.session() as session:
                data = ticket_dict(await service.get_ticket(session, number), desk=desk)
            return line, data
        finally:
            await services.close()

    line, data = run(_run())
    if as_json:
        print_json(data)
    else:
        console.print(line, highlight=False)


def _check_choice(value: str | None, choices: tuple[str, ...], hint: str) -> None:
    if value is not None and value not in choices:
        fail(f"{hint}: must be one of {', '.join(choices)}, not {value!r}", 2)


@handle_errors
def check_config() -> None:
    """Fail at start, in one line, when RELAYDESK_CONFIG names a missing or wrong helpdesk.yaml."""
    settings = load_settings()
    if settings.config_path is not None:
        load_helpdesk_config(settings)


# -- commands ------------------------------------------------------------------------------------


@app.command("open")
@handle_errors
def open_(
    customer: str = typer.Option(..., "--customer", help="The customer's id on the channel."),
    channel: str = typer.Option(..., "--channel", help="Channel: telegram, slack, console, …"),
    text: str = typer.Option(..., "--text", help="The customer's message."),
    name: str = typer.Option("", "--name", help="The customer's name (first contact)."),
    language: str | None = typer.Option(None, "--language", help="Language code, e.g. pl."),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Open a ticket for a customer: routed, SLA clocks started, as from the chat."""
    for hint, value in (("--customer", customer), ("--channel", channel), ("--text", text)):
        if not value.strip():
            fail(f"{hint}: must not be empty", 2)
    for hint, value, limit in (
        ("--customer", customer, 128),
        ("--channel", channel, 32),
        ("--name", name, 200),
        ("--language", language or "", 8),
    ):
        if len(value) > limit:
            fail(f"{hint}: at most {limit} characters, not {len(value)}", 2)

    async def _open() -> dict[str, Any]:
        services = build(load_settings(), knowledge=False)
        desk = services.helpdesk
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                who = await service.find_or_create_customer(
                    session,
                    channel=channel,
                    external_id=customer,
                    chat_id=customer,
                    name=name,
                    language=language,
                )
                decision = await desk.route(text, channel=channel, language=language, customer=who)
                ticket = await desk.open_ticket(
                    session,
                    customer=who,
                    channel=channel,
                    chat_id=customer,
                    text=text,
                    language=language,
                    actor=_actor(desk, by),
                    decision=decision,
                )
                await desk.add_message(
                    session,
                    ticket,
                    direction="in",
                    author_kind="customer",
                    author_id=customer,
                    text=text,
                    channel=channel,
                )
                number = ticket.number
                await session.commit()
            async with services.db.session() as session:
                data = ticket_dict(await service.get_ticket(session, number), desk=desk)
            data["routing"] = decision.to_dict()
            return data
        finally:
            await services.close()

    data = run(_open())
    if as_json:
        print_json(data)
        return
    rule = data["routing"]["rule"]
    console.print(
        f"#{data['number']} opened: {data['department']} · {data['priority']} · {data['tier']}"
        + (f" (rule {rule!r})" if rule else " (default department)")
        + (f" · assigned to {data['assignee']}" if data["assignee"] else ""),
        highlight=False,
    )


@app.command("list")
@handle_errors
def list_(
    status: str | None = typer.Option(None, "--status", help="Only tickets in this status."),
    department: str | None = typer.Option(None, "--department", help="Only this department."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Tickets, newest first."""
    _check_choice(status, STATUSES, "--status")

    async def _list() -> list[dict[str, Any]]:
        services = build(load_settings(), knowledge=False)
        desk = services.helpdesk
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                tickets = await service.list_tickets(session, status=status, department=department)
                out = []
                for ticket in tickets:
                    full = await service.get_ticket(session, ticket.number)
                    out.append(ticket_dict(full, messages=True, desk=desk))
                return out
        finally:
            await services.close()

    rows = run(_list())
    if as_json:
        print_json(rows)
        return
    table = Table("#", "status", "priority", "department", "tier", "assignee", "SLA", "subject")
    for row in rows:
        table.add_row(
            str(row["number"]),
            row["status"],
            row["priority"],
            row["department"] or "-",
            row["tier"],
            row["assignee"] or "-",
            _sla_brief(row["sla"]),
            row["subject"],
        )
    console.print(table)


def _sla_brief(view: dict[str, Any]) -> str:
    states = {name: clock["state"] for name, clock in view["clocks"].items()}
    if "breached" in states.values():
        return "breached"
    if view["paused"]:
        return "paused"
    if "warning" in states.values():
        return "warning"
    for name, short in (
        ("first_response", "reply"),
        ("next_response", "reply"),
        ("resolution", "fix"),
    ):
        if states[name] == "running":
            return f"{short} by {view['clocks'][name]['due'][5:16].replace('T', ' ')} UTC"
    return "-"


@app.command("show")
@handle_errors
def show(
    number: int = typer.Argument(..., help="Ticket number."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """One ticket with its messages, event log, SLA dues and CSAT."""

    async def _show() -> dict[str, Any]:
        services = build(load_settings(), knowledge=False)
        desk = services.helpdesk
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                ticket = await service.get_ticket(session, number)
                data = ticket_dict(ticket, messages=True, desk=desk)
                data["events"] = [event_dict(e) for e in ticket.events]
                data["csat"] = csat_dict(await service.csat_of(session, ticket.id))
                return data
        finally:
            await services.close()

    data = run(_show())
    if as_json:
        print_json(data)
        return
    console.print(
        f"[bold]#{data['number']}[/bold] {data['subject']}  "
        f"[dim]{data['status']} · {data['priority']} · {data['department'] or '-'} · "
        f"{data['tier']} · {data['assignee'] or 'unassigned'} · {data['channel']}[/dim]",
        highlight=False,
    )
    sla = data["sla"]
    console.print(f"  SLA: {sla['policy'] or 'none'} · {sla['hours']}", highlight=False)
    for name, clock in sla["clocks"].items():
        if clock["state"] != "none":
            left = clock["paused_remaining"]
            due = clock["due"] or (f"paused, {left} left" if left else "-")
            console.print(
                f"    {name.replace('_', ' ')}: {clock['state']} · due {due}", highlight=False
            )
    for message in data["messages"]:
        who = message["author"] + (" (internal)" if message["internal"] else "")
        console.print(f"  [cyan]{who}[/cyan]: {message['text']}", highlight=False)
    console.print("  events:", highlight=False)
    for event in data["events"]:
        change = f"{event['from'] or ''} -> {event['to'] or ''}".strip()
        why = f" · {event['reason']}" if event["reason"] else ""
        console.print(
            f"    {event['at'][:19]} {event['actor']} {event['kind']} {change}{why}",
            highlight=False,
        )
    if data["csat"]:
        console.print(f"  CSAT: {data['csat']['score']}/5 {data['csat']['comment'] or ''}")


@app.command("assign")
@handle_errors
def assign(
    number: int = typer.Argument(..., help="Ticket number."),
    agent: str | None = typer.Argument(None, help="Agent Slack id or name (omit with --auto)."),
    auto: bool = typer.Option(False, "--auto", help="Round-robin among available agents."),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Assign a ticket to an agent, or round-robin with --auto."""
    if (agent is None) == (not auto):
        fail("give an AGENT or --auto (not both)", 2)

    async def work(session: AsyncSession, desk: Helpdesk, ticket: Ticket) -> str:
        if auto:
            chosen = await desk.assign_round_robin(session, ticket, actor=_actor(desk, by))
            if chosen is None:
                return f"#{ticket.number}: no available agent in {ticket.department}"
            return f"#{ticket.number} assigned to {chosen} (round-robin)"
        chosen = await desk.assign(session, ticket, agent, actor=_actor(desk, by))
        return f"#{ticket.number} assigned to {chosen}"

    _change(number, work, as_json=as_json)


@app.command("escalate")
@handle_errors
def escalate(
    number: int = typer.Argument(..., help="Ticket number."),
    reason: str = typer.Option(..., "--reason", help="Why (recorded in the event log)."),
    tier: str | None = typer.Option(None, "--tier", help="L2 or L3 (default: the next tier)."),
    department: str | None = typer.Option(None, "--department", help="Move to this department."),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Escalate a ticket up a tier (L1 -> L2 -> L3) and/or to another department."""
    _check_choice(tier, TIERS, "--tier")
    if not reason.strip():
        fail("--reason: must not be empty", 2)

    async def work(session: AsyncSession, desk: Helpdesk, ticket: Ticket) -> str:
        changes = await desk.escalate(
            session, ticket, reason=reason, actor=_actor(desk, by), tier=tier, department=department
        )
        who = f" · assigned to {ticket.assignee}" if ticket.assignee else ""
        channel = desk.config.notify_channel(ticket.department, ticket.tier)
        if desk.config.escalation.notify and channel and load_settings().slack_enabled:
            enqueue(
                session, escalation_notice(ticket, changes, reason, channel), ticket_id=ticket.id
            )
        return f"#{ticket.number} escalated: {', '.join(changes)}{who}"

    _change(number, work, as_json=as_json)


@app.command("priority")
@handle_errors
def priority(
    number: int = typer.Argument(..., help="Ticket number."),
    value: str = typer.Argument(..., help="low, normal, high or urgent."),
    reason: str = typer.Option("", "--reason", help="Why (recorded in the event log)."),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Set a ticket's priority."""
    _check_choice(value, PRIORITIES, "VALUE")

    async def work(session: AsyncSession, desk: Helpdesk, ticket: Ticket) -> str:
        await desk.set_priority(session, ticket, value, actor=_actor(desk, by), reason=reason)
        return f"#{ticket.number} priority {value}"

    _change(number, work, as_json=as_json)


@app.command("pending")
@handle_errors
def pending(
    number: int = typer.Argument(..., help="Ticket number."),
    reason: str = typer.Option("", "--reason", help="What you are waiting for."),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Wait for the customer: SLA clocks pause until they reply."""

    async def work(session: AsyncSession, desk: Helpdesk, ticket: Ticket) -> str:
        await desk.set_pending(session, ticket, actor=_actor(desk, by), reason=reason)
        return f"#{ticket.number} is pending on the customer (SLA clocks paused)"

    _change(number, work, as_json=as_json)


@app.command("resolve")
@handle_errors
def resolve(
    number: int = typer.Argument(..., help="Ticket number."),
    reason: str = typer.Option("", "--reason", help="How it was solved."),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Resolve a ticket; the customer is asked to rate the help (CSAT 1-5)."""

    async def work(session: AsyncSession, desk: Helpdesk, ticket: Ticket) -> str:
        ask = await desk.resolve(session, ticket, actor=_actor(desk, by), reason=reason)
        if not ask:
            return f"#{ticket.number} resolved"
        enqueue(session, csat_question(ticket), ticket_id=ticket.id)
        return f"#{ticket.number} resolved; the customer is asked to rate it"

    _change(number, work, as_json=as_json)


def escalation_notice(
    ticket: Ticket, changes: list[str], reason: str, channel: str
) -> OutboundMessage:
    """A notice in the new department's (or tier's) Slack channel about an escalation."""
    who = f", assigned to {ticket.assignee}" if ticket.assignee else ""
    return OutboundMessage(
        chat=ChatRef("slack", channel),
        text=f"Escalated: ticket #{ticket.number} ({', '.join(changes)}{who}): {reason}",
        kind="notice",
        ticket_number=ticket.number,
        meta={"escalation": {"changes": changes, "reason": reason, "tier": ticket.tier}},
    )


def csat_question(ticket: Ticket) -> OutboundMessage:
    """The CSAT question with 1-5 buttons (action `csat`, value `<number>:<score>`)."""
    buttons = tuple(Button(str(score), "csat", f"{ticket.number}:{score}") for score in range(1, 6))
    return OutboundMessage(
        chat=ChatRef(ticket.channel, ticket.chat_id),
        text=say("csat_ask", ticket.language, number=ticket.number),
        buttons=buttons,
        ticket_number=ticket.number,
    )


@app.command("reopen")
@handle_errors
def reopen(
    number: int = typer.Argument(..., help="Ticket number."),
    reason: str = typer.Option("", "--reason", help="Why it is reopened."),
    by: str = typer.Option("cli", "--by", help=BY_HELP),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Reopen a resolved ticket (its SLA clocks resume)."""

    async def work(session: AsyncSession, desk: Helpdesk, ticket: Ticket) -> str:
        await desk.reopen(
            session, ticket, actor=_actor(desk, by), reason=reason or "reopened by hand"
        )
        return f"#{ticket.number} reopened"

    _change(number, work, as_json=as_json)


@app.command("agents")
@handle_errors
def agents(
    away: str | None = typer.Option(None, "--away", help="Mark this agent away (no new tickets)."),
    back: str | None = typer.Option(None, "--back", help="Mark this agent available again."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """Agents from helpdesk.yaml with their availability for round-robin."""

    async def _agents() -> list[dict[str, Any]]:
        services = build(load_settings(), knowledge=False)
        desk = services.helpdesk
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                await desk.sync_agents(session)
                if away:
                    await desk.set_available(session, away, False)
                if back:
                    await desk.set_available(session, back, True)
                await session.commit()
                rows = await service.list_agents(session)
                return [
                    {
                        "slack_id": a.slack_user_id,
                        "name": a.name,
                        "departments": list(a.departments),
                        "tier": a.tier,
                        "available": a.available,
                        "last_assigned_at": _iso(a.last_assigned_at),
                    }
                    for a in rows
                    if a.active
                ]
        finally:
            await services.close()

    rows = run(_agents())
    if as_json:
        print_json(rows)
        return
    table = Table("Slack id", "name", "tier", "departments", "available")
    for row in rows:
        table.add_row(
            row["slack_id"],
            row["name"],
            row["tier"],
            ", ".join(row["departments"]),
            "yes" if row["available"] else "away",
        )
    console.print(table)


@app.command("customer")
@handle_errors
def customer(
    ref: str = typer.Argument(..., metavar="CUSTOMER", help="Customer id, or channel:user."),
    tier: str | None = typer.Option(None, "--tier", help="Set the tier, e.g. vip or standard."),
    tag: list[str] = typer.Option([], "--tag", help="Add a tag (repeatable)."),
    untag: list[str] = typer.Option([], "--untag", help="Remove a tag (repeatable)."),
    as_json: bool = typer.Option(False, "--json", help=JSON_HELP),
) -> None:
    """A customer's tier, tags, identities and ticket history; --tier/--tag change them."""
    from bots.privacy import resolve_customer

    async def _customer() -> dict[str, Any]:
        services = build(load_settings(), knowledge=False)
        try:
            await ensure_current(services.db)
            async with services.db.session() as session:
                found = await resolve_customer(session, ref)
                if tier is not None or tag or untag:
                    await service.update_customer(
                        session, found, tier=tier, add_tags=tag, remove_tags=untag
                    )
                    await session.commit()
                history = await service.customer_history(session, found.id)
                return {
                    "id": found.id,
                    "name": found.name,
                    "language": found.language,
                    "tier": found.tier,
                    "tags": list(found.tags or []),
                    "identities": [
                        {"channel": i.channel, "external_id": i.external_id}
                        for i in found.identities
                    ],
                    "tickets": [
                        {
                            "number": t.number,
                            "status": t.status,
                            "department": t.department,
                            "subject": t.subject,
                            "created_at": t.created_at.isoformat(),
                        }
                        for t in history
                    ],
                }
        finally:
            await services.close()

    data = run(_customer())
    if as_json:
        print_json(data)
        return
    tags = ", ".join(data["tags"]) or "no tags"
    console.print(
        f"[bold]customer {data['id']}[/bold] {data['name']} · {data['tier']} · {tags}",
        highlight=False,
    )
    for ticket in data["tickets"]:
        console.print(
            f"  #{ticket['number']} {ticket['status']} · {ticket['department'] or '-'} · "
            f"{ticket['subject']}",
            highlight=False,
        )
