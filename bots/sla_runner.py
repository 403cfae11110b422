"""The SLA clock runner of `relaydesk serve`: ticks the ticket service every few seconds and
turns the warnings and breaches it fires into notices for the department's Slack channel.

Safe with several replicas: the tick claims tickets with `FOR UPDATE SKIP LOCKED` on
PostgreSQL and fires each warning or breach through a guarded update, so only one replica
announces it; the notice is written to the outbox in the same transaction. The replica whose
transaction committed counts it in `relaydesk_sla_warnings` / `relaydesk_sla_breaches`.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from datetime import datetime

from bots.db import Database
from bots.messages import ChatRef, OutboundMessage
from bots.metrics import SLA_BREACHES, SLA_WARNINGS
from bots.pipeline.store import enqueue
from bots.pipeline.workers import Wakeup
from tickets.models import utcnow
from tickets.service import Helpdesk
from tickets.sla import SlaEvent

log = logging.getLogger(__name__)


def notice_for(event: SlaEvent, channel: str) -> OutboundMessage:
    """The `notice` message announcing a warning or breach in a Slack channel."""
    return OutboundMessage(
        chat=ChatRef(channel, event.channel or ""),
        text=event.describe(),
        kind="notice",
        ticket_number=event.ticket_number,
        meta={
            "sla": {
                "kind": event.kind,
                "clock": event.clock,
                "due": event.due.isoformat(),
                "department": event.department,
                "tier": event.tier,
                "priority": event.priority,
                "assignee": event.assignee,
                "actions": list(event.actions),
            }
        },
    )


class SlaRunner:
    """Ticks SLA clocks every `interval` seconds until stopped (a `bots.app.Lifecycle`).

    `notices_to` is the channel that carries notices (`slack`); when it is None (Slack is not
    configured) warnings and breaches are still recorded on the tickets and only logged.
    """

    def __init__(
        self,
        db: Database,
        desk: Helpdesk,
        *,
        interval: float = 30.0,
        notices_to: str | None = "slack",
        outbox_wakeup: Wakeup | None = None,
        clock: Callable[[], datetime] = utcnow,
    ) -> None:
        self.db = db
        self.desk = desk
        self.interval = interval
        self.notices_to = notices_to
        self.outbox_wakeup = outbox_wakeup
        self.clock = clock
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def start(self) -> None:
        """Sync agents from helpdesk.yaml, then tick in the background."""
        async with self.db.session() as session:
            await self.desk.sync_agents(session)
            await session.commit()
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="sla-runner")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(asyncio.CancelledError, TimeoutError):
                await asyncio.wait_for(self._task, timeout=10)
            self._task = None

    async def run_once(self) -> list[SlaEvent]:
        """One tick: fire what is due, enqueue the notices, commit once."""
        async with self.db.session() as session:
            fired = await self.desk.tick(session, self.clock())
            queued = 0
            for event in fired:
                if not event.notify:
                    continue
                if self.notices_to and event.channel:
                    enqueue(session, notice_for(event, self.notices_to), ticket_id=event.ticket_id)
                    queued += 1
                else:
                    log.warning(
                        "SLA %s on ticket #%s (%s): no channel to announce it",
                        event.kind,
                        event.ticket_number,
                        event.clock,
                    )
            await session.commit()
        # Counted once committed: a tick that rolled back fired nothing (the next one will).
        for event in fired:
            (SLA_BREACHES if event.kind == "breach" else SLA_WARNINGS).inc()
            log.info("SLA %s: ticket #%s %s", event.kind, event.ticket_number, event.clock)
        if queued and self.outbox_wakeup is not None:
            self.outbox_wakeup.set()
        return fired

    async def _run(self) -> None:
        while not self._stop.is_set():
            try:
                await self.run_once()
            except Exception:
                log.exception("SLA tick failed; retrying at the next tick")
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), self.interval)
