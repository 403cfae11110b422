"""Ticket service speed: concurrent openings, the SLA tick, business-time arithmetic, routing.

Uses the documented `helpdesk.example.yaml` (round-robin assignment, Warsaw calendar, Polish
holidays) on a fresh database: a temporary SQLite file by default, or an empty PostgreSQL
database named with `--database-url`. On SQLite (one writer at a time; `serve` processes its
inbox one event at a time there) keep the concurrency low; on PostgreSQL 20 concurrent openers
stand for several replicas' workers.

    .venv/bin/python bench/tickets_bench.py [--tickets 500] [--concurrency 4]
    .venv/bin/python bench/tickets_bench.py --database-url postgresql+asyncpg://USER@HOST/DB

Prints a table and writes JSON to bench/out/tickets_bench.json. Checks while measuring: every
ticket number is distinct and every ticket's event log starts with `created`; each warning
fires once across two concurrent tickers.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import func, select  # noqa: E402

from bots.db import Database  # noqa: E402
from bots.schema import upgrade  # noqa: E402
from tickets import sla  # noqa: E402
from tickets.config import load_config  # noqa: E402
from tickets.models import Ticket, TicketEvent  # noqa: E402
from tickets.routing import Router, RouteRequest  # noqa: E402
from tickets.service import Helpdesk, find_or_create_customer  # noqa: E402

EXAMPLE = ROOT / "helpdesk.example.yaml"
OUT = ROOT / "bench" / "out" / "tickets_bench.json"
TEXTS = [
    "Where is my parcel? Order 4411 has not arrived",
    "Someone used my stolen card at a shop",
    "Chcę zwrot za zamówienie 1234",
    "I cannot log in to my account",
    "Please send me the invoice for March",
]
# Monday 2 March 2026, 08:00 in Warsaw: inside business hours.
START = datetime(2026, 3, 2, 7, 0, tzinfo=UTC)


def pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def open_tickets(db: Database, desk: Helpdesk, count: int, workers: int) -> dict[str, Any]:
    latencies: list[float] = []
    queue: asyncio.Queue[int] = asyncio.Queue()
    for i in range(count):
        queue.put_nowait(i)

    async def worker() -> None:
        while not queue.empty():
            i = queue.get_nowait()
            began = time.perf_counter()
            async with db.session() as session:
                who = await find_or_create_customer(
                    session, channel="bench", external_id=f"c{i}", chat_id=f"c{i}"
                )
                await desk.receive(
                    session,
                    customer=who,
                    channel="bench",
                    chat_id=f"c{i}",
                    text=TEXTS[i % len(TEXTS)],
                    now=START,
                )
                await session.commit()
            latencies.append(time.perf_counter() - began)

    began = time.perf_counter()
    await asyncio.gather(*(worker() for _ in range(workers)))
    elapsed = time.perf_counter() - began
    async with db.session() as session:
        numbers = (await session.scalars(select(Ticket.number))).all()
        created = await session.scalar(
            select(func.count(TicketEvent.id)).where(TicketEvent.kind == "created")
        )
    assert len(set(numbers)) == count == created, "ticket numbers or event logs are inconsistent"
    return {
        "tickets": count,
        "concurrency": workers,
        "seconds": round(elapsed, 3),
        "per_second": round(count / elapsed, 1),
        "latency_ms_p50": round(statistics.median(latencies) * 1000, 1),
        "latency_ms_p95": round(pct(latencies, 0.95) * 1000, 1),
    }


async def tick_costs(db: Database, desk: Helpdesk, count: int) -> dict[str, Any]:
    async def one_tick(now: datetime) -> tuple[float, int]:
        began = time.perf_counter()
        async with db.session() as session:
            fired = await sla.tick(session, desk.config, now, limit=count)
            await session.commit()
        return time.perf_counter() - began, len(fired)

    idle, none = await one_tick(START + timedelta(minutes=1))
    # Two tickers at once when every first-response warning is due.
    warn_at = START + timedelta(hours=3, minutes=30)
    began = time.perf_counter()
    (_, fired_a), (_, fired_b) = await asyncio.gather(one_tick(warn_at), one_tick(warn_at))
    both = time.perf_counter() - began
    async with db.session() as session:
        logged = await session.scalar(
            select(func.count(TicketEvent.id)).where(
                TicketEvent.kind.in_(["sla_warning", "sla_breach"])
            )
        )
        distinct = await session.scalar(
            select(func.count()).select_from(
                select(TicketEvent.ticket_id, TicketEvent.kind, TicketEvent.from_value)
                .where(TicketEvent.kind.in_(["sla_warning", "sla_breach"]))
                .distinct()
                .subquery()
            )
        )
    fired = fired_a + fired_b
    assert none == 0 and fired == logged == distinct, "an SLA event fired twice or was lost"
    return {
        "idle_tick_ms": round(idle * 1000, 1),
        "events_fired": fired,
        "split_between_tickers": [fired_a, fired_b],
        "two_tickers_seconds": round(both, 3),
        "events_per_second": round(fired / both, 1),
    }


def calendar_speed(desk: Helpdesk, rounds: int = 20000) -> dict[str, Any]:
    calendar = desk.config.calendar()
    began = time.perf_counter()
    moment = START
    for i in range(rounds):
        calendar.add(moment + timedelta(minutes=i * 37), timedelta(hours=16))
    add_us = (time.perf_counter() - began) / rounds * 1e6
    began = time.perf_counter()
    for i in range(rounds):
        calendar.elapsed(moment, moment + timedelta(hours=i % 200))
    elapsed_us = (time.perf_counter() - began) / rounds * 1e6
    return {"add_16h_us": round(add_us, 1), "elapsed_us": round(elapsed_us, 1)}


def routing_speed(desk: Helpdesk, rounds: int = 20000) -> dict[str, Any]:
    router = Router(desk.config)
    began = time.perf_counter()
    for i in range(rounds):
        router.route(RouteRequest(text=TEXTS[i % len(TEXTS)], channel="telegram", at=START))
    return {"decision_us": round((time.perf_counter() - began) / rounds * 1e6, 1)}


async def run(url: str, count: int, workers: int) -> dict[str, Any]:
    db = Database(url)
    try:
        await upgrade(db)
        desk = Helpdesk(load_config(EXAMPLE))
        async with db.session() as session:
            existing = await session.scalar(select(func.count(Ticket.id)))
        if existing:
            raise SystemExit("error: the database already has tickets; give an empty one")
        return {
            "database": db.dialect,
            "open": await open_tickets(db, desk, count, workers),
            "tick": await tick_costs(db, desk, count),
            "calendar": calendar_speed(desk),
            "routing": routing_speed(desk),
        }
    finally:
        await db.close()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=500)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="default: 4 on SQLite, 20 on PostgreSQL"
    )
    parser.add_argument("--database-url", default=None, help="an empty database (default: SQLite)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        url = args.database_url or f"sqlite+aiosqlite:///{Path(tmp) / 'bench.db'}"
        workers = args.concurrency or (20 if url.startswith("postgresql") else 4)
        result = asyncio.run(run(url, args.tickets, workers))
    o, t, c, r = result["open"], result["tick"], result["calendar"], result["routing"]
    print(f"database                 {result['database']}")
    print(f"openings                 {o['tickets']} at concurrency {o['concurrency']}")
    print(f"  per second             {o['per_second']}")
    print(f"  latency p50 / p95 ms   {o['latency_ms_p50']} / {o['latency_ms_p95']}")
    print(f"SLA tick, nothing due    {t['idle_tick_ms']} ms")
    print(
        f"SLA tick, 2 tickers      {t['events_fired']} warnings/breaches, once each "
        f"(split {t['split_between_tickers']}), in {t['two_tickers_seconds']} s "
        f"({t['events_per_second']}/s)"
    )
    print(f"calendar add(16h)        {c['add_16h_us']} µs   elapsed {c['elapsed_us']} µs")
    print(f"routing decision         {r['decision_us']} µs (rules only)")
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
