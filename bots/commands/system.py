"""`relaydesk init`, `serve` and `chat`: set up the database, run the service, talk locally."""

from __future__ import annotations

import asyncio
import io
import logging
import socket
import sys
import time

import typer
from sqlalchemy import func, select

from bots.app import Runner, Services, build
from bots.commands.common import console, handle_errors, load_settings, run, setup_logging
from bots.console.adapter import CHANNEL, ConsoleChannel, console_message
from bots.errors import ConfigError
from bots.messages import OutboundMessage
from bots.pipeline.models import InboxRow, OutboxRow
from bots.pipeline.store import ingest
from bots.schema import ensure_current, upgrade
from bots.settings import CHANNEL_VARIABLES

log = logging.getLogger(__name__)

CHAT_REPLY_TIMEOUT_S = 60.0


@handle_errors
def init(
    demo: bool = typer.Option(False, "--demo", help="Also load the sample knowledge base."),
) -> None:
    """Create or upgrade the database schema (safe to run again)."""
    settings = load_settings()

    async def _init() -> None:
        services = build(settings)
        try:
            before, after = await upgrade(services.db)
            if before == after:
                console.print(f"database schema is current ({after})")
            else:
                console.print(f"database schema upgraded: {before or 'empty'} -> {after}")
            if demo:
                await load_demo(services)
        finally:
            await services.close()

    run(_init())


async def load_demo(services: Services) -> None:
    """Import, publish, index and calibrate the demo knowledge base (a fictional shop, in
    English and Polish); running it again changes nothing."""
    from bots.commands.kb import knowledge_service, print_warnings

    report = await knowledge_service(services.settings, services.db).load_demo()
    print_warnings(report.warnings)
    console.print(
        f"demo knowledge base: {len(report.added)} articles added, {len(report.changed)} "
        f"changed, {len(report.unchanged)} unchanged; {report.index.units} units indexed",
        highlight=False,
        soft_wrap=True,
    )


def configure_channels(services: Services) -> list[str]:
    """Attach every channel whose settings are present; return their names."""
    if services.settings.telegram_enabled:
        from bots.telegram import setup as setup_telegram

        setup_telegram(services)
    if services.settings.slack_enabled:
        from bots.slack.setup import setup as setup_slack

        setup_slack(services)
    # The SLA clocks tick beside the channels; breaches are announced in Slack when it is on.
    from bots.sla_runner import SlaRunner

    services.lifecycles.append(
        SlaRunner(
            services.db,
            services.helpdesk,
            interval=services.settings.sla_tick_s,
            notices_to="slack" if "slack" in services.channels else None,
            outbox_wakeup=services.outbox_wakeup,
        )
    )
    if services.settings.retention_days:
        from bots.pipeline.retention import RetentionJob

        services.lifecycles.append(RetentionJob(services.db, services.settings.retention_days))
    if services.settings.report_digest_channel and "slack" in services.channels:
        from bots.reporting import WeeklyDigest
        from tickets.reports import ReportRules

        services.lifecycles.append(
            WeeklyDigest(
                services.db,
                services.settings.report_digest_channel,
                ReportRules.from_config(services.helpdesk.config),
            )
        )
    return sorted(services.channels)


async def _schema_is_current(services: Services) -> None:
    """Check the schema, then close the pool: its connections belong to this event loop, and
    the server runs in another one (asyncpg connections cannot move between loops)."""
    try:
        await ensure_current(services.db)
    finally:
        await services.db.engine.dispose()


@handle_errors
def serve() -> None:
    """Run the HTTP server, the workers and every configured channel."""
    import uvicorn

    from bots.server import create_app

    settings = load_settings()
    setup_logging(settings)
    for line in settings.retired_variables():
        log.warning(line)
    # Bound before anything starts: an address in use is one line, not a started-and-stopped
    # service.
    listener = listen(settings.host, settings.port)
    services = build(settings)
    run(_schema_is_current(services))
    enabled = configure_channels(services)
    if not enabled:
        console.print("no chat channel is configured; relaydesk serves /healthz and /metrics only.")
        for name, variables in CHANNEL_VARIABLES.items():
            console.print(f"  to enable {name}, set: {', '.join(variables)}")
    else:
        console.print(f"channels: {', '.join(enabled)}")
    config = uvicorn.Config(
        create_app(services),
        host=settings.host,
        port=settings.port,
        log_level=settings.log_level.lower(),
        access_log=False,
    )
    console.print(f"listening on http://{settings.host}:{settings.port}")
    uvicorn.Server(config).run(sockets=[listener])


def listen(host: str, port: int) -> socket.socket:
    """The server's listening socket (as uvicorn binds it); `ConfigError` when it cannot be."""
    sock = socket.socket(family=socket.AF_INET6 if ":" in host else socket.AF_INET)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    try:
        sock.bind((host, port))
    except OSError as exc:
        sock.close()
        raise ConfigError(
            f"cannot listen on {host}:{port} (RELAYDESK_HOST, RELAYDESK_PORT): "
            f"{exc.strerror or exc}"
        ) from None
    sock.set_inheritable(True)
    return sock


@handle_errors
def chat(
    lang: str | None = typer.Option(None, "--lang", help="Your language: en or pl."),
    user: str = typer.Option("local", "--user", help="Who you are to the bot."),
) -> None:
    """Talk to the bot as a customer, in this terminal, through the real pipeline."""
    if lang is not None and lang not in {"en", "pl"}:
        raise typer.BadParameter("must be en or pl", param_hint="--lang")
    settings = load_settings()
    run(_chat(build(settings), lang, user))


async def _chat(services: Services, lang: str | None, user: str) -> None:
    await upgrade(services.db)

    def show(message: OutboundMessage) -> None:
        console.print(f"[bold cyan]bot>[/bold cyan] {message.text}", highlight=False)
        for button in message.buttons:
            console.print(f"      [dim]\\[{button.label}][/dim]", highlight=False)

    services.add_channel(ConsoleChannel(show))
    if isinstance(sys.stdin, io.TextIOWrapper):
        # bytes that are not UTF-8 are kept (and stored as U+FFFD), whatever the locale says,
        # rather than ending the chat with a UnicodeDecodeError
        sys.stdin.reconfigure(errors="surrogateescape")
    runner = Runner(services)
    await runner.start()
    console.print("Type your message (Ctrl-D to leave).", style="dim")
    try:
        while True:
            try:
                line = await asyncio.to_thread(input, "you> ")
            except EOFError:
                break
            if not line.strip():
                continue
            message = console_message(line, user=user, language=lang)
            await ingest(
                services.db,
                channel=CHANNEL,
                platform_id=message.platform_id,
                chat_key=message.chat.key,
                payload=message.to_dict(),
            )
            services.inbox_wakeup.set()
            await _wait_for_replies(services, message.chat.key)
    finally:
        await runner.stop()
        await services.close()


async def _wait_for_replies(services: Services, chat_key: str) -> None:
    deadline = time.monotonic() + CHAT_REPLY_TIMEOUT_S
    while time.monotonic() < deadline:
        async with services.db.session() as session:
            waiting = await session.scalar(
                select(func.count(InboxRow.id)).where(
                    InboxRow.chat_key == chat_key, InboxRow.state == "pending"
                )
            )
            waiting = (waiting or 0) + (
                await session.scalar(
                    select(func.count(OutboxRow.id)).where(
                        OutboxRow.chat_key == chat_key, OutboxRow.state == "pending"
                    )
                )
                or 0
            )
        if not waiting:
            return
        await asyncio.sleep(0.05)
    console.print("(still working on it; the reply will show up here)", style="dim")
