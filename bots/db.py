"""Async database engine and sessions for SQLite (WAL, busy timeout) and PostgreSQL."""

from __future__ import annotations

import asyncio
import threading
import time
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.engine import make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

from bots.errors import ConfigError

SQLITE_BUSY_TIMEOUT_MS = 15_000
URGENT_WAIT_LIMIT_S = 0.25  # the longest a background writer stands aside for acknowledgements


class WriteGate:
    """Lets the writes a platform is waiting on go before background writes, on SQLite.

    SQLite has one writer at a time, and its busy handler is not fair: it sleeps and retries,
    so a worker that commits and at once begins its next transaction can keep a webhook's
    inbox insert waiting for seconds, and the platform times the acknowledgement out. Inserts
    that acknowledge an event run inside `urgent()`; the workers call `give_way()` before
    each transaction and wait (at most `URGENT_WAIT_LIMIT_S`) while any is in progress. One
    gate per database file, shared by every engine on it in this process (the ingest thread
    has an engine of its own). On PostgreSQL, row locks make this unnecessary: no-ops.
    """

    def __init__(self, *, enabled: bool) -> None:
        self.enabled = enabled
        self._waiting = 0
        self._lock = threading.Lock()

    @contextmanager
    def urgent(self) -> Iterator[None]:
        """Mark a write that an acknowledgement waits for (any thread)."""
        if not self.enabled:
            yield
            return
        with self._lock:
            self._waiting += 1
        try:
            yield
        finally:
            with self._lock:
                self._waiting -= 1

    async def give_way(self) -> None:
        """Before a background transaction: let waiting urgent writes finish first."""
        if not self.enabled or not self._waiting:
            return
        deadline = time.monotonic() + URGENT_WAIT_LIMIT_S
        # Urgent writes run on other threads and loops, so an asyncio.Event cannot tell us;
        # a 2 ms poll for at most a quarter of a second is simpler than a cross-loop signal.
        while self._waiting and time.monotonic() < deadline:  # noqa: ASYNC110
            await asyncio.sleep(0.002)


_GATES: dict[str, WriteGate] = {}
_GATES_LOCK = threading.Lock()


def _gate_for(url: str, *, sqlite: bool) -> WriteGate:
    if not sqlite:
        return WriteGate(enabled=False)
    with _GATES_LOCK:
        return _GATES.setdefault(url, WriteGate(enabled=True))


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


class Database:
    """One engine and session factory; services open transactions with `session()`."""

    def __init__(self, url: str, *, echo: bool = False) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise ConfigError(f"RELAYDESK_DATABASE_URL is not a database URL: {exc}") from None
        self.url = url
        self.dialect = parsed.get_backend_name()
        if self.dialect not in {"sqlite", "postgresql"}:
            raise ConfigError(
                f"RELAYDESK_DATABASE_URL: unsupported database '{self.dialect}' "
                "(use sqlite+aiosqlite:// or postgresql+asyncpg://)"
            )
        driver = parsed.get_driver_name()
        if driver not in {"aiosqlite", "asyncpg"}:
            raise ConfigError(
                f"RELAYDESK_DATABASE_URL: driver '{driver}' is not supported "
                "(use sqlite+aiosqlite:// or postgresql+asyncpg://)"
            )
        kwargs: dict[str, Any] = {"echo": echo}
        if self.dialect == "sqlite":
            if parsed.database and parsed.database != ":memory:":
                folder = Path(parsed.database).parent
                try:
                    folder.mkdir(parents=True, exist_ok=True)
                except OSError as exc:
                    reason = "a file is in the way" if folder.exists() else exc.strerror
                    raise ConfigError(
                        f"cannot create the database folder {folder}: {reason}"
                    ) from None
            kwargs["connect_args"] = {"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}
        else:
            kwargs.update(pool_size=10, max_overflow=10, pool_pre_ping=True)
        self.engine: AsyncEngine = create_async_engine(url, **kwargs)
        if self.dialect == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)
        self.gate = _gate_for(url, sqlite=self.dialect == "sqlite")

    @property
    def is_postgres(self) -> bool:
        return self.dialect == "postgresql"

    @asynccontextmanager
    async def session(self) -> AsyncIterator[AsyncSession]:
        """A session; the caller commits. Rolled back on error, always closed."""
        async with self.sessions() as session:
            try:
                yield session
            except BaseException:
                await session.rollback()
                raise

    async def close(self) -> None:
        await self.engine.dispose()
