"""Composition root: builds every service from Settings and runs their lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from sqlalchemy.ext.asyncio import AsyncSession
from starlette.routing import BaseRoute

from bots.conversation import Conversation
from bots.db import Database
from bots.helpdesk import build_helpdesk, embedder_for
from bots.knowledge_glue import KnowledgeGlue
from bots.messages import InboundMessage
from bots.pipeline.channel import Channel
from bots.pipeline.ingest_thread import IngestLifecycle, IngestThread
from bots.pipeline.store import HEARTBEAT, heartbeat, release_stale_leases, retire
from bots.pipeline.workers import (
    DelayedHook,
    FailedHook,
    Handler,
    InboxWorker,
    OutboxWorker,
    Reply,
    SentHook,
    Wakeup,
)
from bots.settings import Settings
from knowledge.service import KnowledgeService
from tickets.service import Helpdesk

log = logging.getLogger(__name__)


class Lifecycle(Protocol):
    """Something a channel runs beside the workers (polling, webhook registration, sockets)."""

    async def start(self) -> None:
        """Begin; called once when the service starts."""

    async def stop(self) -> None:
        """End; called once on shutdown."""


class Dispatcher:
    """Sends customer messages to the conversation engine and agent actions to the desk."""

    def __init__(self, conversation: Handler, desk: Handler | None = None) -> None:
        self.conversation = conversation
        self.desk = desk

    async def handle(self, session: AsyncSession, message: InboundMessage) -> Sequence[Reply]:
        if message.role == "agent":
            if self.desk is None:
                log.warning("agent action %s ignored: no agent desk configured", message.kind)
                return ()
            return await self.desk.handle(session, message)
        return await self.conversation.handle(session, message)


@dataclass
class Services:
    """Everything a running relaydesk holds; built once by `build()`."""

    settings: Settings
    db: Database
    helpdesk: Helpdesk
    conversation: Conversation
    channels: dict[str, Channel] = field(default_factory=dict)
    routes: list[BaseRoute] = field(default_factory=list)
    lifecycles: list[Lifecycle] = field(default_factory=list)
    knowledge: KnowledgeService | None = None
    remove_articles: Callable[[Sequence[str]], Awaitable[None]] | None = None
    desk: Handler | None = None
    sent_hooks: list[SentHook] = field(default_factory=list)  # channels' after-send hooks
    failed_hooks: list[FailedHook] = field(default_factory=list)  # after a permanent failure
    delayed_hooks: list[DelayedHook] = field(default_factory=list)  # once, while still retrying
    inbox_wakeup: Wakeup = field(default_factory=Wakeup)
    outbox_wakeup: Wakeup = field(default_factory=Wakeup)
    ingester: IngestThread | None = None  # webhooks' inbox commits, off the workers' loop

    def ingest_thread(self) -> IngestThread:
        """The thread every webhook of this process commits its events on (made once, started
        and stopped with the service)."""
        if self.ingester is None:
            self.ingester = IngestThread(self.db.url)
            self.lifecycles.append(IngestLifecycle(self.ingester))
        return self.ingester

    def add_channel(
        self,
        channel: Channel,
        routes: Sequence[BaseRoute] = (),
        lifecycle: Lifecycle | None = None,
    ) -> None:
        self.channels[channel.name] = channel
        self.routes.extend(routes)
        if lifecycle is not None:
            self.lifecycles.append(lifecycle)

    def workers(self) -> tuple[InboxWorker, OutboxWorker]:
        poll = self.settings.worker_poll_s
        inbox = InboxWorker(
            self.db,
            self.channels,
            Dispatcher(self.conversation, self.desk),
            poll=poll,
            wakeup=self.inbox_wakeup,
            outbox_wakeup=self.outbox_wakeup,
        )
        outbox = OutboxWorker(
            self.db,
            self.channels,
            poll=poll,
            retry_window=self.settings.send_retry_window,
            concurrency=self.settings.outbox_concurrency,
            wakeup=self.outbox_wakeup,
            on_sent=self.sent_hooks,
            on_failed=self.failed_hooks,
            on_delayed=self.delayed_hooks,
        )
        return inbox, outbox

    async def close(self) -> None:
        await self.db.close()


def build(settings: Settings, *, knowledge: bool = True) -> Services:
    """Create the services for `settings` (no I/O yet); a bad helpdesk.yaml fails here.

    `knowledge=False` leaves the knowledge base out (commands that never answer questions).
    """
    db = Database(settings.effective_database_url)
    helpdesk = build_helpdesk(settings)
    kb = make_knowledge(settings, db) if knowledge else None
    conversation = Conversation(helpdesk, knowledge=KnowledgeGlue(kb) if kb else None)
    services = Services(
        settings=settings,
        db=db,
        helpdesk=helpdesk,
        conversation=conversation,
        knowledge=kb,
    )
    if kb is not None:
        services.lifecycles.append(KnowledgeWarmUp(kb))
        services.remove_articles = kb.remove_articles
    return services


def make_knowledge(settings: Settings, db: Database) -> KnowledgeService:
    """The knowledge service on the configured embedder and index (lazy: nothing loads yet)."""
    return KnowledgeService(
        db.sessions, settings.data_dir, embedder_for(settings), settings.chroma_url
    )


class KnowledgeWarmUp:
    """Loads the embedding model and the index when serving starts, not on the first question."""

    def __init__(self, knowledge: KnowledgeService) -> None:
        self.knowledge = knowledge

    async def start(self) -> None:
        await self.knowledge.start()

    async def stop(self) -> None:
        return None


class Runner:
    """Runs the workers as background tasks until stopped."""

    def __init__(self, services: Services) -> None:
        self.services = services
        self.stop_event = asyncio.Event()
        self.tasks: list[asyncio.Task[None]] = []
        self.owners: list[str] = []

    async def start(self) -> None:
        db = self.services.db
        if not db.is_postgres:
            # One process owns a SQLite database: leases left by a crash are ours to take back.
            async with db.session() as session:
                await release_stale_leases(session)
        inbox, outbox = self.services.workers()
        self.owners = [inbox.owner, outbox.owner]
        self.tasks = []
        if db.is_postgres:
            # Replicas share the database: our heartbeat tells them we hold our leases, and
            # when it stops (a crash) they take them over within seconds.
            async with db.session() as session:
                await heartbeat(session, self.owners)
            self.tasks.append(asyncio.create_task(self._beat(), name="worker-heartbeat"))
        self.tasks += [
            asyncio.create_task(inbox.run(self.stop_event), name="inbox-worker"),
            asyncio.create_task(outbox.run(self.stop_event), name="outbox-worker"),
        ]
        for lifecycle in self.services.lifecycles:
            await lifecycle.start()

    async def stop(self) -> None:
        for lifecycle in reversed(self.services.lifecycles):
            try:
                await lifecycle.stop()
            except Exception:
                log.exception("a channel failed to stop cleanly")
        self.stop_event.set()
        self.services.inbox_wakeup.set()
        self.services.outbox_wakeup.set()
        for task in self.tasks:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(task, timeout=10)
        self.tasks = []
        if self.owners:
            # whatever our workers had claimed and not finished is free for another replica
            # now, not when its lease runs out
            try:
                async with self.services.db.session() as session:
                    await retire(session, self.owners)
            except Exception:
                log.exception("could not release the workers' leases; they run out by themselves")
            self.owners = []

    async def _beat(self) -> None:
        while not self.stop_event.is_set():
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.stop_event.wait(), HEARTBEAT.total_seconds())
            if self.stop_event.is_set():
                return
            try:
                async with self.services.db.session() as session:
                    await heartbeat(session, self.owners)
            except Exception as exc:
                log.warning("worker heartbeat failed (%s); retrying", type(exc).__name__)
