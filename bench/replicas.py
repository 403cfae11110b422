"""Several replicas on one PostgreSQL: throughput with one and with two `relaydesk serve`
processes, and proof that they share the inbox and outbox without double processing.

For each replica count, a scratch database is created on the server named by `--database-url`
(default: `RELAYDESK_TEST_DATABASE_URL`), `relaydesk init` runs once, and N replicas of
`relaydesk serve` start in Telegram webhook mode against the fake Bot API (limits off, so the
numbers are relaydesk's own). `--updates` updates, each from its own chat, are posted
round-robin across the replicas, and every tenth update is delivered to every replica (a
redelivery that lands on another machine). Reported: updates/s accepted, replies/s delivered
end to end, p50/p95 from webhook to `sendMessage`, and the checks: each update processed once
(inbox), each reply sent once (fake's log).

    .venv/bin/python bench/replicas.py [--updates 600] [--database-url URL]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import TOKEN, FakeTelegramApi  # noqa: E402
from tests.pg_admin import admin  # noqa: E402

SECRET = "replica-secret_0123456789"
CLI = [sys.executable, "-m", "bots.cli"]
HOOK = "/telegram/webhook"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def counts(url: str) -> tuple[int, int, int]:
    """(inbox rows, processed inbox rows, customer messages stored)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    parsed = make_url(url)
    conn = await asyncpg.connect(
        host=parsed.host,
        port=parsed.port or 5432,
        user=parsed.username,
        password=parsed.password,
        database=parsed.database,
    )
    try:
        inbox = await conn.fetchval("SELECT count(*) FROM inbox")
        done = await conn.fetchval("SELECT count(*) FROM inbox WHERE state = 'done'")
        stored = await conn.fetchval("SELECT count(*) FROM messages WHERE author_kind = 'customer'")
    finally:
        await conn.close()
    return int(inbox), int(done), int(stored)


def update(update_id: int, chat: int) -> dict[str, Any]:
    user = {"id": chat, "is_bot": False, "first_name": "Replica", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": update_id,
            "from": user,
            "chat": {"id": chat, "first_name": "Replica", "type": "private"},
            "date": int(time.time()),
            "text": f"/new question {update_id}",
        },
    }


def start(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    handle = log.open("ab")
    process = subprocess.Popen(
        [*CLI, "serve"],
        env={**env, "RELAYDESK_PORT": str(port)},
        cwd=ROOT,
        stdout=handle,
        stderr=handle,
    )
    deadline = time.monotonic() + 90
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"error: a replica exited with {process.returncode}; see {log}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}/healthz", timeout=1).is_success:
                return process, port
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("error: a replica did not become healthy in 90 s")


async def run_once(base: str, replicas: int, updates: int) -> dict[str, Any]:
    name = f"relaydesk_bench_{uuid.uuid4().hex[:10]}"
    await admin(base, f'CREATE DATABASE "{name}"')
    from sqlalchemy.engine import make_url

    url = make_url(base).set(database=name).render_as_string(hide_password=False)
    processes: list[subprocess.Popen[bytes]] = []
    try:
        with tempfile.TemporaryDirectory() as tmp, FakeTelegramApi() as api:
            env = {
                k: v for k, v in os.environ.items() if not k.startswith(("RELAYDESK_", "SLACK_"))
            }
            env.update(
                RELAYDESK_DATA_DIR=str(Path(tmp) / "data"),
                RELAYDESK_DATABASE_URL=url,
                RELAYDESK_LOG_LEVEL="WARNING",
                TELEGRAM_BOT_TOKEN=TOKEN,
                RELAYDESK_TELEGRAM_API_URL=api.url,
                RELAYDESK_TELEGRAM_WEBHOOK_URL=f"https://replicas.example.com{HOOK}",
                RELAYDESK_TELEGRAM_WEBHOOK_SECRET=SECRET,
            )
            for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
                env.pop(key, None)
            await asyncio.to_thread(
                subprocess.run, [*CLI, "init"], env=env, cwd=ROOT, check=True, capture_output=True
            )
            ports = []
            for _ in range(replicas):
                process, port = start(env, Path(tmp) / "serve.log")
                processes.append(process)
                ports.append(port)
            posted: dict[int, float] = {}
            headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
            limit = asyncio.Semaphore(32)
            async with httpx.AsyncClient(timeout=30) as http:

                async def post(update_id: int) -> None:
                    body = update(update_id, 800_000 + update_id)
                    targets = ports if update_id % 10 == 0 else [ports[update_id % len(ports)]]
                    async with limit:
                        posted.setdefault(update_id, time.monotonic())
                        for port in targets:
                            response = await http.post(
                                f"http://127.0.0.1:{port}{HOOK}", json=body, headers=headers
                            )
                            response.raise_for_status()

                started = time.monotonic()
                await asyncio.gather(*(post(i) for i in range(1, updates + 1)))
                accepted_s = time.monotonic() - started
            deadline = time.monotonic() + max(120.0, updates / 5)
            while time.monotonic() < deadline:
                if len(api.calls_to("sendMessage")) >= updates:
                    break
                await asyncio.sleep(0.2)
            await asyncio.sleep(2.0)  # anything sent twice would arrive now
            sends = api.calls_to("sendMessage")
            delivered_s = (max((c.at for c in sends), default=started)) - started
            texts = Counter(c.params.get("text", "") for c in sends)
            latencies = [
                (call.at - posted[int(call.params["chat_id"]) - 800_000]) * 1000
                for call in sends
                if int(call.params.get("chat_id", 0)) - 800_000 in posted
            ]
            inbox, done, stored = await counts(url)
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(20)
            except subprocess.TimeoutExpired:
                process.kill()
        await admin(base, f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    ordered = sorted(latencies)

    def pct(p: float) -> float:
        return (
            round(ordered[min(len(ordered) - 1, int(p * (len(ordered) - 1)))], 1)
            if ordered
            else 0.0
        )

    return {
        "replicas": replicas,
        "updates": updates,
        "accepted_per_s": round(updates / accepted_s, 1),
        "replies_per_s": round(len(sends) / delivered_s, 1) if delivered_s > 0 else 0.0,
        "p50_ms": pct(0.5),
        "p95_ms": pct(0.95),
        "inbox_rows": inbox,
        "processed": done,
        "stored_messages": stored,
        "replies": len(sends),
        "replies_sent_twice": sum(c - 1 for c in texts.values() if c > 1),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=600)
    parser.add_argument("--replicas", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--database-url", default=os.environ.get("RELAYDESK_TEST_DATABASE_URL"))
    args = parser.parse_args()
    if not args.database_url:
        raise SystemExit(
            "error: needs PostgreSQL: pass --database-url or set RELAYDESK_TEST_DATABASE_URL"
        )
    results = [asyncio.run(run_once(args.database_url, n, args.updates)) for n in args.replicas]
    ok = all(
        r["inbox_rows"] == r["updates"] == r["processed"] == r["stored_messages"] == r["replies"]
        and r["replies_sent_twice"] == 0
        for r in results
    )
    for result in results:
        print(json.dumps(result))
    print(
        f"{'replicas':>8} {'accepted/s':>11} {'replies/s':>10} {'p50 ms':>8} {'p95 ms':>8}"
        f" {'processed once':>15}"
    )
    for r in results:
        once = r["processed"] == r["updates"] and r["replies_sent_twice"] == 0
        print(
            f"{r['replicas']:>8} {r['accepted_per_s']:>11} {r['replies_per_s']:>10}"
            f" {r['p50_ms']:>8} {r['p95_ms']:>8} {('yes' if once else 'NO'):>15}"
        )
    raise SystemExit(0 if ok else 1)


if __name__ == "__main__":
    main()
