"""Crash safety: SIGKILL `relaydesk serve` at random moments while customers write, then check
that nothing was lost, duplicates stayed within one per kill, and every chat kept its order.

Starts the fake Telegram Bot API (tests/fakes/telegram_api.py, enforcing ~1 msg/s per chat and
30/s overall with 429 + retry_after) and `relaydesk serve` in webhook mode on SQLite.
`--chats` customers each send `--messages` messages in order, each as `/new <text>` so every
message opens its own ticket and gets its own reply (the ticket number). Like Telegram, the
sender redelivers an update until it gets a 200. Meanwhile the server is killed with SIGKILL
`--kills` times at random moments and restarted at once.

Afterwards (read from the database and the fake's call log):
  * lost: customer messages not on a ticket (must be 0);
  * unanswered: messages whose reply never reached the chat (must be 0);
  * duplicates: replies delivered more than once (allowed: at most one per kill, for a send
    in flight when the process died);
  * out of order: chats whose tickets or replies are not in the order the customer wrote.

    .venv/bin/python bench/chaos.py [--chats 100] [--messages 10] [--kills 5] [--seed 7]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import re
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections import Counter
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from tests.fakes.telegram_api import TOKEN, FakeTelegramApi  # noqa: E402

SECRET = "chaos-secret_0123456789"
CLI = [sys.executable, "-m", "bots.cli"]
HOOK = "/telegram/webhook"
NUMBER = re.compile(r"#(\d+)")


@dataclass
class Outcome:
    chats: int
    messages: int
    kills: int
    seconds: float
    lost: int
    unanswered: int
    duplicates: int
    out_of_order: int
    redeliveries: int

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.unanswered == 0
            and self.out_of_order == 0
            and self.duplicates <= self.kills
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def text_of(chat: int, index: int) -> str:
    return f"chat {chat} message {index}"


def update(update_id: int, chat: int, index: int) -> dict[str, Any]:
    user = {"id": chat, "is_bot": False, "first_name": "Chaos", "language_code": "en"}
    return {
        "update_id": update_id,
        "message": {
            "message_id": index + 1,
            "from": user,
            "chat": {"id": chat, "first_name": "Chaos", "type": "private"},
            "date": int(time.time()),
            "text": f"/new {text_of(chat, index)}",
            "entities": [{"type": "bot_command", "offset": 0, "length": 4}],
        },
    }


class Server:
    """`relaydesk serve` as a subprocess that can be killed and restarted."""

    def __init__(self, api: FakeTelegramApi, data: Path) -> None:
        self.port = free_port()
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAYDESK_", "SLACK_"))}
        env.update(
            RELAYDESK_DATA_DIR=str(data),
            RELAYDESK_PORT=str(self.port),
            RELAYDESK_LOG_LEVEL="WARNING",
            TELEGRAM_BOT_TOKEN=TOKEN,
            RELAYDESK_TELEGRAM_API_URL=api.url,
            RELAYDESK_TELEGRAM_WEBHOOK_URL=f"https://chaos.example.com{HOOK}",
            RELAYDESK_TELEGRAM_WEBHOOK_SECRET=SECRET,
        )
        for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(key, None)
        self.env = env
        self.log = (data.parent / "serve.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None
        subprocess.run([*CLI, "init"], env=env, cwd=ROOT, check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [*CLI, "serve"], env=self.env, cwd=ROOT, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"error: serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SystemExit("error: serve did not become healthy in 60 s")

    def kill(self) -> None:
        if self.process is not None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait()

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(20)
            except subprocess.TimeoutExpired:
                self.process.kill()


async def customers(server: Server, chats: list[int], messages: int, rate: float) -> int:
    """Each chat writes its messages in order, redelivering until the webhook says 200."""
    redeliveries = 0
    update_ids = iter(range(1, 10_000_000))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient(timeout=10) as http:

        async def one_chat(chat: int, delay: float) -> None:
            nonlocal redeliveries
            await asyncio.sleep(delay)
            for index in range(messages):
                body = update(next(update_ids), chat, index)
                while True:
                    try:
                        response = await http.post(server.url, json=body, headers=headers)
                        if response.status_code == 200:
                            break
                    except httpx.HTTPError:
                        pass
                    redeliveries += 1
                    await asyncio.sleep(0.2)
                await asyncio.sleep(len(chats) / rate)

        await asyncio.gather(*(one_chat(c, i / rate) for i, c in enumerate(chats)))
    return redeliveries


async def killer(server: Server, kills: int, window: float, rng: random.Random) -> None:
    moments = sorted(rng.uniform(0.5, window) for _ in range(kills))
    started = time.monotonic()
    for moment in moments:
        await asyncio.sleep(max(0.0, started + moment - time.monotonic()))
        await asyncio.to_thread(server.kill)
        await asyncio.to_thread(server.start)


def verify(db_path: Path, api: FakeTelegramApi, chats: list[int], messages: int) -> dict[str, int]:
    """Compare what the customers wrote with the database and what reached their chats."""
    connection = sqlite3.connect(db_path)
    rows = connection.execute(
        """
        SELECT t.chat_id, t.number, m.text FROM tickets t
        JOIN messages m ON m.ticket_id = t.id
        WHERE m.author_kind = 'customer' AND t.channel = 'telegram'
        ORDER BY t.number, m.id
        """
    ).fetchall()
    connection.close()
    stored: dict[str, list[tuple[int, str]]] = {}
    for chat_id, number, text in rows:
        stored.setdefault(str(chat_id), []).append((int(number), text))
    lost = unanswered = duplicates = out_of_order = 0
    for chat in chats:
        wanted = [text_of(chat, i) for i in range(messages)]
        got = stored.get(str(chat), [])
        texts = [text for _, text in got]
        lost += sum(1 for text in wanted if text not in texts)
        if [t for t in texts if t in wanted] != [t for t in wanted if t in texts]:
            out_of_order += 1
        numbers = {text: number for number, text in got}
        replies = [int(n) for t in api.texts(chat) for n in NUMBER.findall(t)[:1]]
        counts = Counter(replies)
        duplicates += sum(c - 1 for c in counts.values() if c > 1)
        unanswered += sum(1 for text in wanted if numbers.get(text) not in counts)
        first_seen = list(dict.fromkeys(replies))
        if first_seen != sorted(first_seen):
            out_of_order += 1
    return {
        "lost": lost,
        "unanswered": unanswered,
        "duplicates": duplicates,
        "out_of_order": out_of_order,
    }


async def wait_quiet(api: FakeTelegramApi, expected: int, within: float) -> None:
    """Until every expected reply arrived and nothing more comes for a moment."""
    deadline = time.monotonic() + within
    last = -1
    while time.monotonic() < deadline:
        count = len(api.calls_to("sendMessage"))
        if count >= expected and count == last:
            return
        last = count
        await asyncio.sleep(2.0)


async def run(args: argparse.Namespace) -> Outcome:
    rng = random.Random(args.seed)
    chats = [700_000 + i for i in range(args.chats)]
    total = args.chats * args.messages
    with tempfile.TemporaryDirectory() as tmp, FakeTelegramApi(enforce_limits=True) as api:
        data = Path(tmp) / "data"
        server = Server(api, data)
        server.start()
        started = time.monotonic()
        try:
            window = max(2.0, total / args.rate * 0.9)
            results = await asyncio.gather(
                customers(server, chats, args.messages, args.rate),
                killer(server, args.kills, window, rng),
            )
            await wait_quiet(api, total, within=max(120.0, total / 10))
            seconds = time.monotonic() - started
            found = verify(data / "relaydesk.db", api, chats, args.messages)
        finally:
            server.stop()
    return Outcome(
        chats=args.chats,
        messages=total,
        kills=args.kills,
        seconds=round(seconds, 1),
        redeliveries=results[0],
        **found,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10)
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--rate", type=float, default=50.0, help="updates per second, all chats")
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    outcome = asyncio.run(run(args))
    print(json.dumps({**asdict(outcome), "ok": outcome.ok}))
    print(
        f"chaos: {outcome.messages} messages from {outcome.chats} chats, {outcome.kills} SIGKILLs"
        f" in {outcome.seconds}s: lost {outcome.lost}, unanswered {outcome.unanswered},"
        f" duplicates {outcome.duplicates} (allowed {outcome.kills}), out of order"
        f" {outcome.out_of_order}, webhook redeliveries {outcome.redeliveries}"
    )
    raise SystemExit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
