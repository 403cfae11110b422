"""The ingest thread: webhooks commit their events to the inbox on a thread of their own.

`relaydesk serve` runs the HTTP server and the workers on one event loop. A worker's step (the
conversation engine, a knowledge base lookup, a send) holds that loop for milliseconds at a
time, and under load the acknowledgements that platforms time (Slack wants one within 3 s,
Telegram redelivers what is not answered) would queue behind them. So the one thing an
acknowledgement waits for, the inbox insert and its commit, runs here: its own thread, its own
event loop and its own connection pool. Every channel of a process shares one.
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from bots.db import Database
from bots.pipeline.store import ingest


class IngestThread:
    """Commits inbox rows on a thread of its own, so acks never queue behind the workers."""

    def __init__(self, url: str) -> None:
        self.url = url
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._db: Database | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread (idempotent)."""
        with self._lock:
            if self._thread is not None:
                return
            ready = threading.Event()

            def serve() -> None:
                loop = asyncio.new_event_loop()
                asyncio.set_event_loop(loop)
                self._loop = loop
                self._db = Database(self.url)
                ready.set()
                loop.run_forever()
                loop.run_until_complete(self._db.close())
                loop.close()

            self._thread = threading.Thread(target=serve, name="inbox-ingest", daemon=True)
            self._thread.start()
            ready.wait(10)

    def stop(self) -> None:
        """Close its connections and end the thread."""
        with self._lock:
            if self._thread is None or self._loop is None:
                return
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(10)
            self._thread = None
            self._loop = None

    async def ingest(self, **values: Any) -> bool:
        """`bots.pipeline.store.ingest` on the ingest thread; awaited from any loop."""
        self.start()
        assert self._loop is not None and self._db is not None
        future = asyncio.run_coroutine_threadsafe(ingest(self._db, **values), self._loop)
        return await asyncio.wrap_future(future)


class IngestLifecycle:
    """Starts the ingest thread with the service and ends it (connections closed) after."""

    def __init__(self, ingester: IngestThread) -> None:
        self.ingester = ingester

    async def start(self) -> None:
        self.ingester.start()

    async def stop(self) -> None:
        await asyncio.to_thread(self.ingester.stop)
