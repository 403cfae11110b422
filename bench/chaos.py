"""Crash safety: SIGKILL `relaydesk serve` at random moments while customers write, then check
that nothing was lost, duplicates stayed within one per kill, and every chat kept its order.

Starts the fake Telegram Bot API (tests/fakes/telegram_api.py, enforcing ~1 msg/s per chat and
30/s overall with 429 + retry_after), the fake Slack Web API (tests/fakes/slack_api.py, 1
chat.postMessage/s per channel, 429 + Retry-After beyond) and `relaydesk serve` with Telegram
in webhook mode and Slack in HTTP mode, on SQLite (or on a scratch PostgreSQL database with
`--database-url`). A helpdesk.yaml routes by keyword to `--departments` departments, each with
its own Slack triage channel.

`--chats` Telegram customers each send `--messages` messages in order, alternating
`/new <text>` (opens a ticket: hand-off reply with its number, a card in the department's
channel, the message mirrored in the card's thread, an AI draft there) and a plain follow-up
(stored on that ticket, mirrored in its thread, replied "added to your ticket #N"), so every
message gets its own reply. Like Telegram, the sender redelivers an update until it gets a
200. Meanwhile the server is killed with SIGKILL `--kills` times at random moments and
restarted at once.

Afterwards, counted from the database and the fakes' recorded calls (nothing relaydesk says
about itself is trusted):
  * lost: customer messages not stored (must be 0); misfiled: stored on the wrong ticket;
  * unanswered: messages whose reply never reached the chat (must be 0);
  * duplicates: Telegram replies, Slack cards, mirrors and drafts posted more than once
    (allowed in all: at most one per kill, a send in flight when the process died);
  * out of order: chats whose messages or replies are not in the order the customer wrote,
    and tickets whose thread shows the messages in another order;
  * Slack: tickets without a card (or with it in another department's channel), messages not
    mirrored in their ticket's thread, tickets without a draft.

    .venv/bin/python bench/chaos.py [--chats 100] [--messages 10] [--kills 5] [--seed 7]
        [--departments 10] [--rate 4] [--database-url postgresql+asyncpg://USER@HOST/DB]

`RELAYDESK_OUTBOX_CONCURRENCY` in the environment reaches `serve` (sends in flight at once).
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
import subprocess
import sys
import tempfile
import time
import uuid
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import httpx

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from sqlalchemy import text  # noqa: E402
from sqlalchemy.engine import make_url  # noqa: E402
from sqlalchemy.ext.asyncio import create_async_engine  # noqa: E402

from bots.conversation import SUPPORTED_LANGUAGES  # noqa: E402
from bots.texts import say  # noqa: E402
from tests.fakes.slack_api import FakeSlackApi  # noqa: E402
from tests.fakes.telegram_api import TOKEN, FakeTelegramApi  # noqa: E402
from tests.pg_admin import admin  # noqa: E402

SECRET = "chaos-secret_0123456789"
SLACK_TOKEN = "xoxb-chaos-token"
SLACK_SECRET = "chaos-signing-secret"
PASSED_THROUGH = ("RELAYDESK_OUTBOX_CONCURRENCY",)
CLI = [sys.executable, "-m", "bots.cli"]
HOOK = "/telegram/webhook"
NUMBER = re.compile(r"#(\d+)")
MIRROR_HEAD = "*👤 Customer*"
DRAFT_HEAD = re.compile(r"^Draft for #(\d+):")
CARD_HEAD = re.compile(r"^Ticket #(\d+):")


@dataclass
class Outcome:
    chats: int
    messages: int
    kills: int
    departments: int
    database: str
    seconds: float
    tickets: int
    lost: int
    misfiled: int
    unanswered: int
    duplicates: int
    out_of_order: int
    telegram_duplicates: int
    slack_cards: int
    slack_mirrors: int
    slack_drafts: int
    slack_missing_cards: int
    slack_misplaced: int
    slack_unmirrored: int
    slack_missing_drafts: int
    slack_duplicates: int
    slack_out_of_order: int
    redeliveries: int
    restart_seconds: float
    telegram_429s: int
    slack_429s: int

    @property
    def ok(self) -> bool:
        return (
            self.lost == 0
            and self.misfiled == 0
            and self.unanswered == 0
            and self.out_of_order == 0
            and self.slack_missing_cards == 0
            and self.slack_misplaced == 0
            and self.slack_unmirrored == 0
            and self.slack_missing_drafts == 0
            and self.duplicates <= self.kills
        )


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def department_of(chat: int, departments: int) -> int:
    return chat % departments


def channel_of(department: int) -> str:
    return f"CCHAOS{department:03d}"


def text_of(chat: int, index: int, departments: int) -> str:
    """What the customer writes: the keyword routes it to the chat's department."""
    return f"desk{department_of(chat, departments):03d} chat {chat} message {index}"


def helpdesk_yaml(departments: int) -> str:
    """Departments `d000…` each with its own triage channel, routed by keyword, open 24x7."""
    lines = ["default_department: d000", "business_calendar: 24x7", "departments:"]
    for d in range(departments):
        lines += [f"  - name: d{d:03d}", f"    slack_channel: {channel_of(d)}"]
    lines.append("routing:")
    for d in range(departments):
        lines += [
            f"  - name: r{d:03d}",
            f'    when: {{keywords: ["desk{d:03d}"]}}',
            f"    then: {{department: d{d:03d}}}",
        ]
    return "\n".join(lines) + "\n"


def update(update_id: int, chat: int, index: int, departments: int) -> dict[str, Any]:
    """Even messages open a ticket (`/new <text>`), odd ones follow up on it."""
    user = {"id": chat, "is_bot": False, "first_name": "Chaos", "language_code": "en"}
    body = text_of(chat, index, departments)
    message: dict[str, Any] = {
        "message_id": index + 1,
        "from": user,
        "chat": {"id": chat, "first_name": "Chaos", "type": "private"},
        "date": int(time.time()),
        "text": body,
    }
    if index % 2 == 0:
        message["text"] = f"/new {body}"
        message["entities"] = [{"type": "bot_command", "offset": 0, "length": 4}]
    return {"update_id": update_id, "message": message}


class Server:
    """`relaydesk serve` as a subprocess that can be killed and restarted."""

    def __init__(
        self,
        telegram: FakeTelegramApi,
        slack: FakeSlackApi,
        data: Path,
        database_url: str,
        departments: int,
    ) -> None:
        self.port = free_port()
        data.mkdir(parents=True, exist_ok=True)
        config = data.parent / "helpdesk.yaml"
        config.write_text(helpdesk_yaml(departments), encoding="utf-8")
        env = {k: v for k, v in os.environ.items() if not k.startswith(("RELAYDESK_", "SLACK_"))}
        for passed in PASSED_THROUGH:  # what a run may tune on the command line's environment
            if passed in os.environ:
                env[passed] = os.environ[passed]
        env.update(
            RELAYDESK_DATA_DIR=str(data),
            RELAYDESK_DATABASE_URL=database_url,
            RELAYDESK_CONFIG=str(config),
            RELAYDESK_PORT=str(self.port),
            RELAYDESK_LOG_LEVEL="WARNING",
            TELEGRAM_BOT_TOKEN=TOKEN,
            RELAYDESK_TELEGRAM_API_URL=telegram.url,
            RELAYDESK_TELEGRAM_WEBHOOK_URL=f"https://chaos.example.com{HOOK}",
            RELAYDESK_TELEGRAM_WEBHOOK_SECRET=SECRET,
            SLACK_BOT_TOKEN=SLACK_TOKEN,
            SLACK_SIGNING_SECRET=SLACK_SECRET,
            RELAYDESK_SLACK_API_URL=slack.url,
        )
        for key in ("OPENAI_API_KEY", "OPENAI_BASE_URL"):
            env.pop(key, None)
        self.env = env
        self.log = (data.parent / "serve.log").open("ab")
        self.process: subprocess.Popen[bytes] | None = None
        self.restarts: list[float] = []
        subprocess.run([*CLI, "init"], env=env, cwd=ROOT, check=True, capture_output=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}{HOOK}"

    def start(self) -> None:
        started = time.monotonic()
        self.process = subprocess.Popen(
            [*CLI, "serve"], env=self.env, cwd=ROOT, stdout=self.log, stderr=self.log
        )
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise SystemExit(f"error: serve exited with {self.process.returncode}")
            try:
                if httpx.get(f"http://127.0.0.1:{self.port}/healthz", timeout=1).is_success:
                    self.restarts.append(time.monotonic() - started)
                    return
            except httpx.HTTPError:
                time.sleep(0.05)
        raise SystemExit("error: serve did not become healthy in 90 s")

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
        self.log.close()


async def customers(
    server: Server, chats: list[int], messages: int, rate: float, departments: int
) -> int:
    """Each chat writes its messages in order, redelivering until the webhook says 200."""
    redeliveries = 0
    update_ids = iter(range(1, 10_000_000))
    headers = {"X-Telegram-Bot-Api-Secret-Token": SECRET}
    async with httpx.AsyncClient(timeout=10) as http:

        async def one_chat(chat: int, delay: float) -> None:
            nonlocal redeliveries
            await asyncio.sleep(delay)
            for index in range(messages):
                body = update(next(update_ids), chat, index, departments)
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


# ---------------------------------------------------------------------- reading the outcome


@dataclass
class Stored:
    """One customer message as the database holds it."""

    message_id: int
    chat: str
    number: int
    department: str | None
    text: str


async def stored_messages(url: str) -> list[Stored]:
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            rows = (
                await conn.execute(
                    text(
                        """
                        SELECT m.id, t.chat_id, t.number, t.department, m.text FROM tickets t
                        JOIN messages m ON m.ticket_id = t.id
                        WHERE m.author_kind = 'customer' AND t.channel = 'telegram'
                        ORDER BY m.id
                        """
                    )
                )
            ).all()
    finally:
        await engine.dispose()
    return [Stored(int(r[0]), str(r[1]), int(r[2]), r[3], str(r[4])) for r in rows]


async def pending(url: str) -> int:
    """Inbox and outbox rows still waiting (only to know when the run is over)."""
    engine = create_async_engine(url)
    try:
        async with engine.connect() as conn:
            inbox = await conn.scalar(text("SELECT count(*) FROM inbox WHERE state = 'pending'"))
            outbox = await conn.scalar(text("SELECT count(*) FROM outbox WHERE state = 'pending'"))
    finally:
        await engine.dispose()
    return int(inbox or 0) + int(outbox or 0)


def reply_kinds() -> tuple[set[str], set[str]]:
    """The templates of the two replies (every language), with `{n}` for the number."""
    handoff = {say("handoff", lang, number="{n}") for lang in SUPPORTED_LANGUAGES}
    continued = {say("ticket_continued", lang, number="{n}") for lang in SUPPORTED_LANGUAGES}
    return handoff, continued


def classify(reply: str, handoff: set[str], continued: set[str]) -> tuple[str, int] | None:
    """("handoff"|"continued", ticket number) of a delivered text, None for anything else."""
    found = NUMBER.search(reply)
    if found is None:
        return None
    number = int(found.group(1))
    template = reply.replace(f"#{number}", "#{n}", 1)
    if template in continued:
        return "continued", number
    # A hand-off outside business hours carries a second line; the chaos desk is open 24x7.
    if template.split("\n", 1)[0] in handoff:
        return "handoff", number
    return None


def verify_telegram(
    stored: list[Stored],
    api: FakeTelegramApi,
    chats: list[int],
    messages: int,
    departments: int,
) -> dict[str, Any]:
    """Compare what the customers wrote with the database and what reached their chats."""
    by_chat: dict[str, list[Stored]] = defaultdict(list)
    for row in stored:
        by_chat[row.chat].append(row)
    handoff, continued = reply_kinds()
    lost = misfiled = unanswered = duplicates = out_of_order = 0
    ticket_of: dict[str, int] = {}
    for chat in chats:
        wanted = [text_of(chat, i, departments) for i in range(messages)]
        got = by_chat.get(str(chat), [])
        texts = [row.text for row in got]
        lost += sum(1 for t in wanted if t not in texts)
        if [t for t in texts if t in wanted] != [t for t in wanted if t in texts]:
            out_of_order += 1
        number = {row.text: row.number for row in got}
        ticket_of.update(number)
        # Message 2k opens a new ticket; message 2k+1 belongs to that same ticket.
        for i in range(1, messages, 2):
            if wanted[i] in number and number.get(wanted[i - 1]) != number[wanted[i]]:
                misfiled += 1
        opened = [number[wanted[i]] for i in range(0, messages, 2) if wanted[i] in number]
        misfiled += len(opened) - len(set(opened))
        expected = [
            ("handoff" if i % 2 == 0 else "continued", number.get(t, -1))
            for i, t in enumerate(wanted)
        ]
        delivered = [classify(r, handoff, continued) for r in api.texts(chat)]
        counts = Counter(d for d in delivered if d is not None)
        duplicates += sum(c - 1 for c in counts.values() if c > 1)
        unanswered += sum(1 for e in expected if e not in counts)
        unexpected = sum(1 for d in delivered if d is None or d not in expected)
        misfiled += unexpected
        first_seen = list(dict.fromkeys(d for d in delivered if d is not None))
        if first_seen != [e for e in expected if e in counts]:
            out_of_order += 1
    return {
        "lost": lost,
        "misfiled": misfiled,
        "unanswered": unanswered,
        "telegram_duplicates": duplicates,
        "telegram_out_of_order": out_of_order,
        "ticket_of": ticket_of,
    }


def verify_slack(
    stored: list[Stored], api: FakeSlackApi, chats: list[int], departments: int
) -> dict[str, int]:
    """Each ticket's card in its department's channel, every message of the ticket mirrored
    once in its thread in the order written, and a draft there."""
    cards: dict[int, list[tuple[str, str]]] = defaultdict(list)  # number -> (channel, ts)
    thread_of: dict[tuple[str, str], int] = {}
    posts = api.answered("chat.postMessage")
    for params, answer in posts:
        found = CARD_HEAD.match(str(params.get("text", "")))
        if found and not params.get("thread_ts"):
            number = int(found.group(1))
            place = (str(answer.get("channel")), str(answer.get("ts")))
            cards[number].append(place)
            thread_of[place] = number
    mirrors: dict[int, list[str]] = defaultdict(list)  # number -> texts, in posting order
    drafts: Counter[int] = Counter()
    misplaced = 0
    for params, _answer in posts:
        thread = params.get("thread_ts")
        if not thread:
            continue
        body = str(params.get("text", ""))
        owner = thread_of.get((str(params.get("channel")), str(thread)))
        draft = DRAFT_HEAD.match(body)
        if draft:
            drafts[int(draft.group(1))] += 1
            if owner != int(draft.group(1)):
                misplaced += 1
        elif body.startswith(MIRROR_HEAD):
            if owner is None:
                misplaced += 1
                continue
            mirrors[owner].append(body.split("\n", 1)[1] if "\n" in body else "")
    wanted_by_ticket: dict[int, list[str]] = defaultdict(list)
    channel_by_ticket: dict[int, str] = {}
    for row in stored:
        wanted_by_ticket[row.number].append(row.text)
        chat = int(row.chat)
        channel_by_ticket[row.number] = channel_of(department_of(chat, departments))
    missing_cards = unmirrored = missing_drafts = duplicates = out_of_order = 0
    for number, wanted in wanted_by_ticket.items():
        placed = cards.get(number, [])
        if not placed:
            missing_cards += 1
        misplaced += sum(1 for channel, _ts in placed if channel != channel_by_ticket[number])
        duplicates += max(0, len(placed) - 1)
        got = mirrors.get(number, [])
        counts = Counter(got)
        unmirrored += sum(1 for t in wanted if t not in counts)
        duplicates += sum(c - 1 for c in counts.values() if c > 1)
        misplaced += sum(1 for t in counts if t not in wanted)
        if list(dict.fromkeys(got)) != [t for t in wanted if t in counts]:
            out_of_order += 1
        if drafts[number] == 0:
            missing_drafts += 1
        duplicates += max(0, drafts[number] - 1)
    misplaced += sum(1 for number in drafts if number not in wanted_by_ticket)
    return {
        "slack_cards": sum(len(v) for v in cards.values()),
        "slack_mirrors": sum(len(v) for v in mirrors.values()),
        "slack_drafts": sum(drafts.values()),
        "slack_missing_cards": missing_cards,
        "slack_misplaced": misplaced,
        "slack_unmirrored": unmirrored,
        "slack_missing_drafts": missing_drafts,
        "slack_duplicates": duplicates,
        "slack_out_of_order": out_of_order,
    }


async def wait_done(
    url: str, telegram: FakeTelegramApi, slack: FakeSlackApi, total: int, within: float
) -> None:
    """Until every reply and Slack post can have arrived, the queues are empty, and nothing
    more comes for a few seconds."""
    tickets = (total + 1) // 2
    deadline = time.monotonic() + within
    last: tuple[int, int] = (-1, -1)
    while time.monotonic() < deadline:
        now = (len(telegram.calls_to("sendMessage")), len(slack.answered("chat.postMessage")))
        waiting = await pending(url)
        if now[0] >= total and now[1] >= tickets * 2 + total and not waiting and now == last:
            return
        last = now
        await asyncio.sleep(3.0)
    print("warning: still waiting when the time ran out; checking what arrived", file=sys.stderr)


# ---------------------------------------------------------------------- databases


# ---------------------------------------------------------------------- the run


async def run(args: argparse.Namespace) -> Outcome:
    rng = random.Random(args.seed)
    chats = [700_000 + i for i in range(args.chats)]
    total = args.chats * args.messages
    scratch = f"relaydesk_chaos_{uuid.uuid4().hex[:10]}" if args.database_url else None
    with tempfile.TemporaryDirectory() as tmp, FakeTelegramApi(enforce_limits=True) as telegram:
        slack = FakeSlackApi(pace_per_channel=1.0).start()
        data = Path(tmp) / "data"
        if scratch is not None:
            await admin(args.database_url, f'CREATE DATABASE "{scratch}"')
            url = make_url(args.database_url).set(database=scratch)
            database_url = url.render_as_string(hide_password=False)
        else:
            database_url = f"sqlite+aiosqlite:///{data / 'relaydesk.db'}"
        server: Server | None = None
        try:
            server = Server(telegram, slack, data, database_url, args.departments)
            server.start()
            started = time.monotonic()
            window = max(2.0, total / args.rate * 0.95)
            results = await asyncio.gather(
                customers(server, chats, args.messages, args.rate, args.departments),
                killer(server, args.kills, window, rng),
            )
            await wait_done(database_url, telegram, slack, total, within=max(180.0, total / 2))
            seconds = time.monotonic() - started
            stored = await stored_messages(database_url)
            found = verify_telegram(stored, telegram, chats, args.messages, args.departments)
            on_slack = verify_slack(stored, slack, chats, args.departments)
            telegram_429s = len(telegram.attempts("sendMessage")) - len(
                telegram.calls_to("sendMessage")
            )
            slack_429s = sum(
                1
                for call in slack.calls
                if call.method == "chat.postMessage" and call.answer is None
            )
            restarts = server.restarts[1:]
        finally:
            if server is not None:
                server.stop()
            slack.stop()
            if scratch is not None:
                await admin(args.database_url, f'DROP DATABASE IF EXISTS "{scratch}" WITH (FORCE)')
    duplicates = found["telegram_duplicates"] + on_slack["slack_duplicates"]
    return Outcome(
        chats=args.chats,
        messages=total,
        kills=args.kills,
        departments=args.departments,
        database="postgresql" if scratch else "sqlite",
        seconds=round(seconds, 1),
        tickets=len(set(found["ticket_of"].values())),
        lost=found["lost"],
        misfiled=found["misfiled"],
        unanswered=found["unanswered"],
        duplicates=duplicates,
        out_of_order=found["telegram_out_of_order"] + on_slack["slack_out_of_order"],
        telegram_duplicates=found["telegram_duplicates"],
        redeliveries=results[0],
        restart_seconds=round(sum(restarts) / len(restarts), 1) if restarts else 0.0,
        telegram_429s=telegram_429s,
        slack_429s=slack_429s,
        **on_slack,
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chats", type=int, default=100)
    parser.add_argument("--messages", type=int, default=10, help="per chat; even: /new")
    parser.add_argument("--kills", type=int, default=5)
    parser.add_argument("--departments", type=int, default=10, help="each its own channel")
    parser.add_argument("--rate", type=float, default=4.0, help="updates per second, all chats")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (postgresql+asyncpg://…): a scratch database is created on it"
        " and dropped afterwards; default SQLite",
    )
    args = parser.parse_args()
    outcome = asyncio.run(run(args))
    print(json.dumps({**asdict(outcome), "ok": outcome.ok}))
    print(
        f"chaos ({outcome.database}): {outcome.messages} messages from {outcome.chats} chats"
        f" ({outcome.tickets} tickets), {outcome.kills} SIGKILLs in {outcome.seconds}s:"
        f" lost {outcome.lost}, misfiled {outcome.misfiled}, unanswered {outcome.unanswered},"
        f" duplicates {outcome.duplicates} (allowed {outcome.kills}; Telegram"
        f" {outcome.telegram_duplicates}, Slack {outcome.slack_duplicates}), out of order"
        f" {outcome.out_of_order}; Slack: {outcome.slack_cards} cards, {outcome.slack_mirrors}"
        f" mirrors, {outcome.slack_drafts} drafts, missing cards {outcome.slack_missing_cards},"
        f" unmirrored {outcome.slack_unmirrored}, missing drafts {outcome.slack_missing_drafts},"
        f" misplaced {outcome.slack_misplaced}; webhook redeliveries {outcome.redeliveries}"
        f" (restart to healthy: {outcome.restart_seconds}s on average),"
        f" 429s Telegram {outcome.telegram_429s} / Slack {outcome.slack_429s}"
    )
    raise SystemExit(0 if outcome.ok else 1)


if __name__ == "__main__":
    main()
