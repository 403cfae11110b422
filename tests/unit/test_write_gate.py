"""SQLite's write gate: background writers stand aside while an acknowledgement's insert runs."""

from __future__ import annotations

import asyncio
import threading
import time
from pathlib import Path

from bots import db as db_module
from bots.db import Database, WriteGate


def hold_urgent(gate: WriteGate, seconds: float, started: threading.Event) -> threading.Thread:
    def run() -> None:
        with gate.urgent():
            started.set()
            time.sleep(seconds)

    thread = threading.Thread(target=run)
    thread.start()
    return thread


def give_way_during(gate: WriteGate, hold: float) -> tuple[float, bool]:
    """How long `give_way()` waited while another thread held an urgent write for `hold`
    seconds, and whether that write was still going when it returned."""
    started = threading.Event()
    thread = hold_urgent(gate, hold, started)
    started.wait(5)
    began = time.monotonic()
    asyncio.run(gate.give_way())
    waited = time.monotonic() - began
    still_urgent = thread.is_alive()
    thread.join()
    return waited, still_urgent


def test_a_background_writer_waits_for_an_urgent_write_on_another_thread() -> None:
    waited, still_urgent = give_way_during(WriteGate(enabled=True), 0.1)
    assert waited >= 0.05
    assert not still_urgent or waited >= db_module.URGENT_WAIT_LIMIT_S


def test_it_never_waits_longer_than_the_limit() -> None:
    waited, still_urgent = give_way_during(WriteGate(enabled=True), 1.0)
    assert db_module.URGENT_WAIT_LIMIT_S <= waited < 0.9  # gave up before the write ended
    assert still_urgent


def test_nothing_waits_without_urgent_writes_or_on_postgresql() -> None:
    idle = WriteGate(enabled=True)
    began = time.monotonic()
    asyncio.run(idle.give_way())
    assert time.monotonic() - began < 0.2
    waited, _ = give_way_during(WriteGate(enabled=False), 0.8)
    assert waited < db_module.URGENT_WAIT_LIMIT_S


def test_engines_on_one_sqlite_file_share_a_gate(tmp_path: Path) -> None:
    url = f"sqlite+aiosqlite:///{tmp_path / 'one.db'}"
    first, second = Database(url), Database(url)
    other = Database(f"sqlite+aiosqlite:///{tmp_path / 'two.db'}")
    try:
        assert first.gate is second.gate and first.gate.enabled
        assert other.gate is not first.gate
    finally:
        for database in (first, second, other):
            asyncio.run(database.close())
