"""Telegram throughput: webhook -> sendMessage for `relaydesk serve` and a bare PTB echo bot.

Starts the fake Bot API (tests/fakes/telegram_api.py, enforcing Telegram's flood limits:
~1 message/s per chat, 30/s overall, answered with 429 + retry_after), then for each bot:

* relaydesk: `relaydesk init --demo` + `relaydesk serve` in webhook mode (SQLite in a temp
  dir) as a subprocess; every update is committed to the inbox before the 200, goes through
  the conversation engine and the paced outbox. Updates alternate between a question the demo
  knowledge base answers (article + buttons) and one it hands off (ticket opened and routed);
* a bare python-telegram-bot echo bot: a minimal Starlette webhook handler in a subprocess
  that calls `bot.send_message` before answering (no storage, no pacing, no retries).

Each bot gets N updates, each from a new private chat, twice: `steady` posts them at a fixed
rate (default 20/s, under Telegram's 30/s) and `burst` posts them all at once (32 in flight).
A webhook call that is not answered 200 is posted again after 1, 2, 4, 8 s, as Telegram does.
Reported per run: replies delivered, webhook answers/s and answer time, delivered messages/s
(first POST to last reply), p50/p95 latency from the first webhook POST to the fake receiving
`sendMessage`, the 429s the bot provoked and the webhook refusals.

    .venv/bin/python bench/telegram_throughput.py [--updates 300] [--rate 20] [--no-limits]
        [--database-url postgresql+asyncpg://postgres@127.0.0.1:5432/postgres]

`--no-limits` turns the fake's flood limits off, to see the pipeline's own capacity.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import socket
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import TOKEN, FakeTelegramApi  # noqa: E402

SECRET = "bench-secret_0123456789"
REDELIVERIES = 4
CLI = [sys.executable, "-m", "bots.cli"]
HOOK = "/telegram/webhook"
QUESTIONS = (
    "How do I cancel my order?",  # the demo knowledge base answers this one
    "My invoice from 12 March shows the wrong VAT number for my company",  # handed off
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def update(update_id: int, chat_id: int, text: str) -> dict[str, Any]:
    user = {"id": chat_id, "is_bot": False, "first_name": "Bench", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": 1,
            "from": user,
            "chat": {"id": chat_id, "first_name": "Bench", "type": "private"},
            "date": int(time.time()),
            "text": text,
        },
    }


@dataclass
class Result:
    sent: int
    delivered: int
    posting_s: float
    total_s: float
    latencies_ms: list[float]
    refused_429: int
    answer_ms: list[float]
    failures: dict[str, int]

    def pct(self, p: float, values: list[float] | None = None) -> float:
        ordered = sorted(self.latencies_ms if values is None else values)
        if not ordered:
            return float("nan")
        return ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))]


async def drive(
    api: FakeTelegramApi, url: str, first_chat: int, count: int, rate: float | None, wait_s: float
) -> Result:
    """Post `count` updates (one per chat) at `rate`/s (None: all at once) and collect replies."""
    chats = range(first_chat, first_chat + count)
    posted: dict[int, float] = {}
    answers: list[float] = []
    failures: dict[str, int] = {}
    limit = asyncio.Semaphore(32)
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient(timeout=30, limits=httpx.Limits(max_connections=32)) as http:

        async def post(index: int, chat_id: int) -> None:
            if rate:
                await asyncio.sleep(max(0.0, start + index / rate - time.monotonic()))
            body = update(first_chat + index, chat_id, QUESTIONS[index % len(QUESTIONS)])
            for attempt in range(REDELIVERIES + 1):
                async with limit:
                    began = time.monotonic()
                    posted.setdefault(chat_id, began)
                    try:
                        response = await http.post(url, json=body, headers=headers)
                        outcome = str(response.status_code)
                    except httpx.HTTPError as exc:
                        outcome = type(exc).__name__
                    answers.append((time.monotonic() - began) * 1000)
                if outcome == "200":
                    return
                failures[outcome] = failures.get(outcome, 0) + 1
                await asyncio.sleep(2**attempt)  # Telegram delivers a refused update again

        start = time.monotonic()
        await asyncio.gather(*(post(i, chat) for i, chat in enumerate(chats)))
        posting = time.monotonic() - start
    wanted = set(chats)
    deadline = time.monotonic() + wait_s
    while time.monotonic() < deadline:
        replies = {
            c.params["chat_id"]: c.at
            for c in reversed(api.calls_to("sendMessage"))
            if c.params.get("chat_id") in wanted
        }
        if len(replies) >= count:
            break
        await asyncio.sleep(0.1)
    latencies = [(at - posted[chat]) * 1000 for chat, at in replies.items() if chat in posted]
    refused = sum(
        1
        for c in api.attempts("sendMessage")
        if c.status == 429 and c.params.get("chat_id") in wanted
    )
    last = max(replies.values(), default=start)
    return Result(count, len(replies), posting, last - start, latencies, refused, answers, failures)


def wait_healthy(port: int, process: subprocess.Popen[bytes], path: str = "/healthz") -> None:
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"error: the server exited with {process.returncode}")
        try:
            if httpx.get(f"http://127.0.0.1:{port}{path}", timeout=1).status_code < 500:
                return
        except httpx.HTTPError:
            time.sleep(0.1)
    raise SystemExit("error: the server did not become healthy in 60 s")


DATABASE_URL: str | None = None  # --database-url: a fresh PostgreSQL database for this run


def start_relaydesk(api: FakeTelegramApi, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAYDESK_", "SLACK_"))}
    env.update(
        RELAYDESK_DATA_DIR=str(tmp / "data"),
        RELAYDESK_PORT=str(port),
        RELAYDESK_LOG_LEVEL="WARNING",
        TELEGRAM_BOT_TOKEN=TOKEN,
        RELAYDESK_TELEGRAM_API_URL=api.url,
        RELAYDESK_TELEGRAM_WEBHOOK_URL=f"https://bench.example.com{HOOK}",
        RELAYDESK_TELEGRAM_WEBHOOK_SECRET=SECRET,
    )
    env.pop("OPENAI_API_KEY", None)
    env.pop("OPENAI_BASE_URL", None)
    if DATABASE_URL:
        env["RELAYDESK_DATABASE_URL"] = DATABASE_URL
    subprocess.run([*CLI, "init", "--demo"], env=env, cwd=ROOT, check=True, capture_output=True)
    log = (tmp / "serve.log").open("wb")
    process = subprocess.Popen([*CLI, "serve"], env=env, cwd=ROOT, stdout=log, stderr=log)
    wait_healthy(port, process)
    deadline = time.monotonic() + 120
    while not api.calls_to("setWebhook") and time.monotonic() < deadline:
        time.sleep(0.1)  # registered (after the knowledge base warmed up)
    return process, port


def start_echo(api: FakeTelegramApi, tmp: Path) -> tuple[subprocess.Popen[bytes], int]:
    port = free_port()
    log = (tmp / "echo.log").open("wb")
    command = [sys.executable, __file__, "--echo-server", str(port), api.url]
    process = subprocess.Popen(command, cwd=ROOT, stdout=log, stderr=log)
    wait_healthy(port, process, "/ready")
    return process, port


def stop(process: subprocess.Popen[bytes]) -> None:
    process.terminate()
    try:
        process.wait(15)
    except subprocess.TimeoutExpired:
        process.kill()


def echo_server(port: int, api_url: str) -> None:
    """The comparison bot: PTB's Bot in a minimal Starlette webhook handler."""
    import contextlib
    import hmac
    from collections.abc import AsyncIterator
    from contextlib import asynccontextmanager

    import uvicorn
    from starlette.applications import Starlette
    from starlette.requests import Request
    from starlette.responses import Response
    from starlette.routing import Route
    from telegram import Bot, Update
    from telegram.error import TelegramError

    bot = Bot(TOKEN, base_url=f"{api_url}/bot", base_file_url=f"{api_url}/file/bot")

    async def webhook(request: Request) -> Response:
        given = request.headers.get("X-Telegram-Bot-Api-Secret-Token", "")
        if not hmac.compare_digest(given, SECRET):
            return Response(status_code=403)
        incoming = Update.de_json(await request.json(), bot)
        if incoming.message is not None and incoming.message.text:
            # A bare bot has nowhere to keep a reply that failed: it is lost.
            with contextlib.suppress(TelegramError):
                await bot.send_message(incoming.message.chat.id, incoming.message.text)
        return Response(status_code=200)

    async def ready(_request: Request) -> Response:
        return Response(status_code=200)

    @asynccontextmanager
    async def lifespan(_app: Starlette) -> AsyncIterator[None]:
        async with bot:
            yield

    app = Starlette(
        routes=[Route(HOOK, webhook, methods=["POST"]), Route("/ready", ready)],
        lifespan=lifespan,
    )
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", access_log=False)


async def pipeline_stages(path: Path) -> dict[str, tuple[float, float]]:
    """p50/p95 (ms) of relaydesk's own stages, from the timestamps its queues keep."""
    inbox_sql = "SELECT received_at, processed_at FROM inbox WHERE processed_at IS NOT NULL"
    outbox_sql = "SELECT created_at, sent_at FROM outbox WHERE sent_at IS NOT NULL"
    if DATABASE_URL:
        import asyncpg

        conn = await asyncpg.connect(DATABASE_URL.replace("+asyncpg", ""))
        try:
            inbox = [tuple(r) for r in await conn.fetch(inbox_sql)]
            outbox = [tuple(r) for r in await conn.fetch(outbox_sql)]
        finally:
            await conn.close()
    else:
        import sqlite3

        with sqlite3.connect(path) as sqlite:
            inbox = sqlite.execute(inbox_sql).fetchall()
            outbox = sqlite.execute(outbox_sql).fetchall()

    def ms(a: Any, b: Any) -> float:
        if isinstance(a, str):
            a, b = datetime.fromisoformat(a), datetime.fromisoformat(b)
        return float((b - a).total_seconds() * 1000)

    stages = {
        "inbox: stored -> processed": sorted(ms(a, b) for a, b in inbox),
        "outbox: queued -> sent": sorted(ms(a, b) for a, b in outbox),
    }
    return {
        name: (values[len(values) // 2], values[int(0.95 * (len(values) - 1))])
        for name, values in stages.items()
        if values
    }


async def fresh_database(server: str) -> tuple[str, str]:
    """A new, empty database on the PostgreSQL server `server`; returns (url, name)."""
    import asyncpg
    from sqlalchemy.engine import make_url

    name = f"relaydesk_bench_{uuid.uuid4().hex[:10]}"
    conn = await asyncpg.connect(server.replace("+asyncpg", ""))
    try:
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return make_url(server).set(database=name).render_as_string(hide_password=False), name


async def drop_database(server: str, name: str) -> None:
    import asyncpg

    conn = await asyncpg.connect(server.replace("+asyncpg", ""))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
    finally:
        await conn.close()


def _failures(counts: dict[str, int]) -> str:
    return ", ".join(f"{n}x {what}" for what, n in sorted(counts.items())) or "0"


def row(label: str, values: list[str]) -> str:
    return f"{label:<34}" + "".join(f"{v:>22}" for v in values)


async def run(updates: int, rate: float, limits: bool) -> None:
    api = FakeTelegramApi(enforce_limits=limits).start()
    wait_s = 30 + updates / 10
    results: dict[str, dict[str, Result]] = {}
    with tempfile.TemporaryDirectory() as tmp_name:
        tmp = Path(tmp_name)
        try:
            for name, starter, base in (
                ("relaydesk serve", start_relaydesk, 1_000_000),
                ("bare PTB echo bot", start_echo, 5_000_000),
            ):
                process, port = starter(api, tmp)
                url = f"http://127.0.0.1:{port}{HOOK}"
                try:
                    await drive(api, url, base - 1000, 20, None, 30)  # warm-up, not counted
                    await asyncio.sleep(2)  # let Telegram's 1-second window empty
                    steady = await drive(api, url, base, updates, rate, wait_s)
                    await asyncio.sleep(2)
                    burst = await drive(api, url, base + 100_000, updates, None, wait_s)
                finally:
                    stop(process)
                results[name] = {"steady": steady, "burst": burst}
            stages = await pipeline_stages(tmp / "data" / "relaydesk.db")
        finally:
            api.stop()
    names = list(results)
    print(f"Telegram webhook -> sendMessage, {updates} updates (one new chat each), fake Bot API")
    print(f"relaydesk on {'PostgreSQL' if DATABASE_URL else 'SQLite'}")
    if limits:
        print("enforcing ~1 msg/s per chat and 30 msg/s overall (429 + retry_after)")
    else:
        print("with no flood limits (relaydesk still paces itself at 30/s)")
    print(f"load average at the end: {os.getloadavg()[0]:.1f} on {os.cpu_count()} cores\n")
    print(row("", names))
    for scenario, title in (("steady", f"steady, posted at {rate:g}/s"), ("burst", "burst")):
        print(f"-- {title}")
        runs = [results[n][scenario] for n in names]
        print(row("replies delivered", [f"{r.delivered}/{r.sent}" for r in runs]))
        print(row("webhook answers/s", [f"{r.sent / r.posting_s:.1f}" for r in runs]))
        print(
            row(
                "p50 / p95 / p99 webhook answer (ms)",
                [
                    f"{r.pct(50, r.answer_ms):.0f} / {r.pct(95, r.answer_ms):.0f} / "
                    f"{r.pct(99, r.answer_ms):.0f}"
                    for r in runs
                ],
            )
        )
        print(row("delivered msgs/s", [f"{r.delivered / r.total_s:.1f}" for r in runs]))
        print(row("p50 webhook->sendMessage (ms)", [f"{r.pct(50):.0f}" for r in runs]))
        print(row("p95 webhook->sendMessage (ms)", [f"{r.pct(95):.0f}" for r in runs]))
        print(row("429s provoked", [str(r.refused_429) for r in runs]))
        print(row("webhook refusals (redelivered)", [_failures(r.failures) for r in runs]))
    print("\nrelaydesk's stages over all its runs (p50 / p95 ms):")
    for name, (p50, p95) in stages.items():
        print(f"  {name:<32}{p50:>8.0f} / {p95:.0f}")


def main() -> None:
    if len(sys.argv) == 4 and sys.argv[1] == "--echo-server":
        echo_server(int(sys.argv[2]), sys.argv[3])
        return
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--updates", type=int, default=300, help="updates per run (default 300)")
    parser.add_argument("--rate", type=float, default=20.0, help="steady posting rate per second")
    parser.add_argument("--no-limits", action="store_true", help="the fake enforces no limits")
    parser.add_argument(
        "--database-url",
        help="run relaydesk on a fresh database on this PostgreSQL server "
        "(postgresql+asyncpg://user@host:5432/postgres) instead of SQLite",
    )
    args = parser.parse_args()
    if args.updates < 1 or args.rate <= 0:
        print("error: --updates and --rate must be positive", file=sys.stderr)
        raise SystemExit(2)
    asyncio.run(main_async(args.updates, args.rate, not args.no_limits, args.database_url))


async def main_async(updates: int, rate: float, limits: bool, server: str | None) -> None:
    global DATABASE_URL
    if server is None:
        await run(updates, rate, limits)
        return
    DATABASE_URL, name = await fresh_database(server)
    try:
        await run(updates, rate, limits)
    finally:
        await drop_database(server, name)


if __name__ == "__main__":
    main()
