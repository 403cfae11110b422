"""Time of a full `relaydesk report` over 100,000 tickets, on SQLite and on PostgreSQL.

Generates a synthetic helpdesk (customers, tickets with messages, events, SLA breaches, CSAT;
knowledge base answers with 👍/👎; AI drafts with outcomes) over 90 days into a fresh,
migrated database, then times the report the command makes: totals, grouped by department,
and the chart series. Timings are the median of `--repeat` runs (the first is also shown: a
cold page cache and query plans).

    .venv/bin/python bench/report_scale.py [--tickets 100000] [--repeat 3] [--no-postgres]
        [--keep DIR] [--only CASE]

PostgreSQL runs when RELAYDESK_TEST_DATABASE_URL is set: a scratch database is created on that
server and dropped afterwards. With `--keep DIR` the SQLite file (`DIR/report_scale.db`) and the
PostgreSQL database (`relaydesk_bench_keep`) are kept and reused by the next run with the same
`--keep` (generation and loading are skipped; the schema is upgraded first, so new migrations
apply). Target: a full report under 2 s on SQLite.
Writes the numbers to bench/out/report_scale.json as well.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import insert, text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402

from bots.db import Database  # noqa: E402
from bots.reporting import build_report  # noqa: E402
from bots.schema import upgrade  # noqa: E402
from drafting.models import Draft  # noqa: E402
from knowledge.models import AnswerLog, Article, Feedback  # noqa: E402
from tests.pg_admin import admin  # noqa: E402
from tickets.config import parse_config  # noqa: E402
from tickets.models import (  # noqa: E402
    CsatRating,
    Customer,
    Message,
    Ticket,
    TicketEvent,
)
from tickets.reports import ReportRules, Window  # noqa: E402

PG_ENV = "RELAYDESK_TEST_DATABASE_URL"
DAYS = 90
# The data covers the 90 days up to now, and the report runs up to now, as
# `relaydesk report --since 90d` would.
END = datetime.now(UTC).replace(minute=0, second=0, microsecond=0)
START = END - timedelta(days=DAYS)
DEPARTMENTS = ("orders", "payments", "account", "general")
CHANNELS = ("telegram", "telegram", "telegram", "slack", "slack")
AGENTS = tuple(f"U0AGENT{i:03d}" for i in range(12))
SLUGS = tuple(f"article_{i:02d}" for i in range(30))
CONFIG = {
    "default_department": "general",
    "business_calendar": "office",
    "calendars": {
        "office": {
            "timezone": "Europe/Warsaw",
            "hours": {"mon-fri": "08:00-16:00"},
            "country_holidays": "PL",
        }
    },
    "departments": [
        {"name": "orders"},
        {"name": "payments", "calendar": "24x7"},
        {"name": "account"},
        {"name": "general"},
    ],
    "sla": {
        "policies": [
            {
                "name": "std",
                "first_response": "4h",
                "next_response": "4h",
                "resolution": "3d",
                "warn_at": None,
            }
        ]
    },
}
CHUNK = 5000
KEPT_DATABASE = "relaydesk_bench_keep"


def synthesize(tickets: int, seed: int = 8) -> dict[Any, list[dict[str, Any]]]:
    """Rows for every table, deterministic for a seed."""
    rng = random.Random(seed)
    customers = max(1, tickets * 2 // 5)
    rows: dict[Any, list[dict[str, Any]]] = {
        Customer: [
            {"id": i, "name": f"c{i}", "language": None, "tier": "standard", "tags": []}
            for i in range(1, customers + 1)
        ],
        Article: [
            {
                "slug": slug,
                "title": slug.replace("_", " "),
                "language": "en",
                "group_key": slug,
                "department": DEPARTMENTS[i % len(DEPARTMENTS)],
                "tags": [],
                "status": "published",
                "questions": [],
                "body": "text",
                "version": 1,
                "content_hash": slug,
                "created_at": START,
                "updated_at": START,
            }
            for i, slug in enumerate(SLUGS)
        ],
        Ticket: [],
        Message: [],
        TicketEvent: [],
        CsatRating: [],
        AnswerLog: [],
        Feedback: [],
        Draft: [],
    }

    def message(ticket: int, author: str, at: datetime, internal: bool = False) -> None:
        rows[Message].append(
            {
                "ticket_id": ticket,
                "direction": "in" if author == "customer" else "out",
                "author_kind": author,
                "text": "…",
                "internal": internal,
                "channel": "telegram",
                "attachments": [],
                "edits": [],
                "created_at": at,
            }
        )

    def event(ticket: int, kind: str, at: datetime, src: str | None, dst: str | None) -> None:
        rows[TicketEvent].append(
            {
                "ticket_id": ticket,
                "at": at,
                "actor": "system",
                "kind": kind,
                "from_value": src,
                "to_value": dst,
                "reason": "",
            }
        )

    # Rows get ids in time order, as a live helpdesk writes them.
    opened = sorted(START + timedelta(seconds=rng.uniform(0, DAYS * 86400)) for _ in range(tickets))
    for tid, created in enumerate(opened, start=1):
        status = rng.choices(("resolved", "closed", "open", "pending", "new"), (40, 35, 10, 5, 10))[
            0
        ]
        first = None if status == "new" else created + timedelta(hours=rng.lognormvariate(0, 1.2))
        resolved = (
            first + timedelta(hours=rng.lognormvariate(2.5, 1.0))
            if first and status in ("resolved", "closed")
            else None
        )
        fr_due = created + timedelta(hours=4)
        res_due = created + timedelta(days=3)
        fr_late = first is not None and first > fr_due
        res_late = resolved is not None and resolved > res_due
        rows[Ticket].append(
            {
                "id": tid,
                "number": tid,
                "customer_id": rng.randint(1, customers),
                "subject": "…",
                "status": status,
                "priority": "normal",
                "department": rng.choice(DEPARTMENTS),
                "tier": "L1",
                "assignee": None if status == "new" else rng.choice(AGENTS),
                "channel": rng.choice(CHANNELS),
                "chat_id": str(tid),
                "language": rng.choice(("en", "pl")),
                "summary": "",
                "tags": [],
                "reopen_count": 1 if rng.random() < 0.05 else 0,
                "sla_policy": "std",
                "first_response_due": fr_due,
                "first_response_breached": fr_late,
                "resolution_due": None if resolved else res_due,
                "resolution_breached": res_late,
                "sla_breached": fr_late or res_late,
                "first_response_at": first,
                "resolved_at": resolved,
                "closed_at": resolved + timedelta(days=7)
                if status == "closed" and resolved
                else None,
                "created_at": created,
                "updated_at": resolved or first or created,
            }
        )
        message(tid, "customer", created)
        message(tid, "bot", created + timedelta(seconds=1))
        event(tid, "created", created, None, str(tid))
        if rng.random() < 0.1:
            message(tid, "agent", created + timedelta(minutes=5), internal=True)
        if first is not None:
            message(tid, "agent", first)
            event(tid, "status", first, "new", "open")
            if rng.random() < 0.35:
                asked = first + timedelta(minutes=rng.uniform(5, 600))
                message(tid, "customer", asked)
                message(tid, "agent", asked + timedelta(hours=rng.lognormvariate(0, 1.0)))
            if rng.random() < 0.5:
                for outcome in rng.sample(("sent_as_is", "edited", "regenerated", "discarded"), 2):
                    rows[Draft].append(
                        {
                            "ticket_id": tid,
                            "ticket_number": tid,
                            "kind": "reply",
                            "language": "en",
                            "text": "…",
                            "cited": [],
                            "offline": False,
                            "flags": [],
                            "template": "reply_draft.j2",
                            "template_hash": "0" * 64,
                            "created_at": first - timedelta(minutes=1),
                            "outcome": outcome,
                            "edit_distance": rng.randint(1, 80) if outcome == "edited" else None,
                        }
                    )
        if fr_late:
            event(tid, "sla_breach", fr_due, "first_response", fr_due.isoformat())
        if res_late:
            event(tid, "sla_breach", res_due, "resolution", res_due.isoformat())
        if status == "pending":
            event(tid, "status", (first or created) + timedelta(minutes=30), "open", "pending")
        if resolved is not None:
            event(tid, "status", resolved, "open", "resolved")
            if rng.random() < 0.5:
                rows[CsatRating].append(
                    {
                        "ticket_id": tid,
                        "customer_id": rows[Ticket][-1]["customer_id"],
                        "score": rng.choices((1, 2, 3, 4, 5), (5, 5, 10, 30, 50))[0],
                        "created_at": resolved + timedelta(minutes=10),
                        "updated_at": resolved + timedelta(minutes=10),
                    }
                )
    questions = tickets * 3 // 5
    asked_at = sorted(
        START + timedelta(seconds=rng.uniform(0, DAYS * 86400)) for _ in range(questions)
    )
    for aid, asked in enumerate(asked_at, start=1):
        answered = rng.random() < 0.7
        rows[AnswerLog].append(
            {
                "id": aid,
                "question": "…",
                "language": rng.choice(("en", "pl")),
                "answered": answered,
                "slug": rng.choice(SLUGS) if answered else None,
                "confidence": rng.random(),
                "reason": "",
                "channel": rng.choice(CHANNELS),
                "customer_ref": str(rng.randint(1, customers)),
                "created_at": asked,
            }
        )
        if answered and rng.random() < 0.3:
            rows[Feedback].append(
                {
                    "answer_id": aid,
                    "slug": rows[AnswerLog][-1]["slug"],
                    "question": "…",
                    "language": "en",
                    "helpful": rng.random() < 0.7,
                    "customer_ref": rows[AnswerLog][-1]["customer_ref"],
                    "created_at": asked + timedelta(minutes=1),
                }
            )
    for model, when in ((Message, "created_at"), (TicketEvent, "at"), (Draft, "created_at")):
        rows[model].sort(key=lambda row: row[when])
        for number, row in enumerate(rows[model], start=1):
            row["id"] = number
    return rows


async def load(db: Database, rows: dict[Any, list[dict[str, Any]]]) -> None:
    async with db.session() as session:
        for model, items in rows.items():
            table = model.__table__
            for start in range(0, len(items), CHUNK):
                await session.execute(insert(table), items[start : start + CHUNK])
        if db.is_postgres:
            # Rows were given explicit ids: move the sequences past them.
            for model in (Customer, Ticket, Message, TicketEvent, AnswerLog, Draft):
                table = model.__tablename__
                await session.execute(
                    text(
                        f"SELECT setval(pg_get_serial_sequence('{table}', 'id'), "
                        f"(SELECT max(id) FROM {table}))"
                    )
                )
        await session.commit()
    if db.is_postgres:
        # What autovacuum does soon after a bulk load; SQLite is measured as shipped (no ANALYZE).
        async with db.engine.connect() as connection:
            await connection.exec_driver_sql("ANALYZE")
            await connection.commit()


CASES: dict[str, dict[str, Any]] = {
    "totals": {"by": None, "charts": False},
    "by department": {"by": "department", "charts": False},
    "by day": {"by": "day", "charts": False},
    "with charts": {"by": None, "charts": True},
}


async def time_reports(db: Database, repeat: int, only: list[str]) -> dict[str, Any]:
    rules = ReportRules.from_config(parse_config(CONFIG))
    cases = {name: options for name, options in CASES.items() if not only or name in only}
    out: dict[str, Any] = {}
    created = 0
    for name, options in cases.items():
        runs: list[float] = []
        cpu: list[float] = []
        for _ in range(repeat):
            started, started_cpu = time.perf_counter(), time.process_time()
            async with db.session() as session:
                now = datetime.now(UTC)
                report = await build_report(
                    session,
                    Window(START, now),
                    rules=rules,
                    now=now,
                    sessions=db.sessions,
                    **options,  # type: ignore[arg-type]
                )
            runs.append(time.perf_counter() - started)
            cpu.append(time.process_time() - started_cpu)
            created = report.tickets.totals.created
        out[name] = {
            "first_s": round(runs[0], 3),
            "median_s": round(statistics.median(runs), 3),
            "cpu_s": round(statistics.median(cpu), 3),
        }
    out["tickets_in_report"] = created
    return out


async def _exists(url: str, database: str) -> bool:
    found = await admin(url, f"SELECT 1 FROM pg_database WHERE datname = '{database}'")
    return bool(found)


async def _loaded(db: Database) -> bool:
    """The database already holds a generated helpdesk (a `--keep` run before)."""
    async with db.session() as session:
        return bool(await session.scalar(text("SELECT count(*) FROM tickets")))


async def run_backend(
    name: str, url: str, rows: Any, repeat: int, only: list[str]
) -> dict[str, Any]:
    """`rows`: the generated rows, or a callable making them (only called when the database
    is empty)."""
    db = Database(url)
    try:
        await upgrade(db)
        load_s = 0.0
        if not await _loaded(db):
            started = time.perf_counter()
            await load(db, rows() if callable(rows) else rows)
            load_s = time.perf_counter() - started
        result = await time_reports(db, repeat, only)
        result["load_s"] = round(load_s, 1)
        result["backend"] = name
        return result
    finally:
        await db.close()


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tickets", type=int, default=100_000)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--no-postgres", action="store_true")
    parser.add_argument("--no-sqlite", action="store_true")
    parser.add_argument(
        "--keep", type=Path, help="keep the databases (SQLite file in this folder) and reuse them"
    )
    parser.add_argument("--only", action="append", choices=sorted(CASES), default=[])
    args = parser.parse_args()
    generated: dict[Any, list[dict[str, Any]]] = {}
    counts: dict[str, int] = {}

    def rows() -> dict[Any, list[dict[str, Any]]]:
        if not generated:
            started = time.perf_counter()
            generated.update(synthesize(args.tickets))
            counts.update({model.__tablename__: len(items) for model, items in generated.items()})
            print(f"generated in {time.perf_counter() - started:.1f} s: {counts}", flush=True)
        return generated

    results = []
    if not args.no_sqlite:
        with contextlib.ExitStack() as stack:
            if args.keep:
                args.keep.mkdir(parents=True, exist_ok=True)
                folder = args.keep
            else:
                folder = Path(stack.enter_context(tempfile.TemporaryDirectory()))
            url = f"sqlite+aiosqlite:///{folder / 'report_scale.db'}"
            results.append(await run_backend("sqlite", url, rows, args.repeat, args.only))
            print(json.dumps(results[-1]), flush=True)
    base = os.environ.get(PG_ENV)
    if base and not args.no_postgres:
        scratch = KEPT_DATABASE if args.keep else f"relaydesk_bench_{uuid.uuid4().hex[:10]}"
        if not args.keep or not await _exists(base, scratch):
            await admin(base, f'CREATE DATABASE "{scratch}"')
        try:
            url = make_url(base).set(database=scratch).render_as_string(hide_password=False)
            results.append(await run_backend("postgresql", url, rows, args.repeat, args.only))
            print(json.dumps(results[-1]), flush=True)
        finally:
            if not args.keep:
                await admin(base, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    else:
        print(f"PostgreSQL skipped: {PG_ENV} is not set" if not base else "PostgreSQL skipped")
    load = os.getloadavg()[0]
    print()
    header = f"{'report over ' + format(args.tickets, ',') + ' tickets':<26}"
    print(header + "".join(f"{r['backend'] + ' wall':>18}{'cpu':>8}" for r in results))
    for case in (name for name in CASES if not args.only or name in args.only):
        cells = "".join(
            f"{r[case]['median_s']:>10.2f} s ({r[case]['first_s']:.1f}){r[case]['cpu_s']:>7.2f}s"
            for r in results
        )
        print(f"{case:<26}{cells}")
    print(
        "wall: median of the runs (the first in brackets); cpu: this process's processor time"
        f" (both threads); load average during the run: {load:.1f} on {os.cpu_count()} cores"
    )
    out = ROOT / "bench" / "out"
    out.mkdir(parents=True, exist_ok=True)
    (out / "report_scale.json").write_text(
        json.dumps(
            {"tickets": args.tickets, "counts": counts, "results": results, "load": load},
            indent=2,
        )
    )


if __name__ == "__main__":
    asyncio.run(main())
