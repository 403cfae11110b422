"""Drafting speed and prompt budget: offline draft latency, prompt building, a 200-message ticket.

Customer questions and agent answers come from the shared Bitext set (`bitext/dev.csv`, the
`instruction` and `response` columns) and passages from its 27 articles (`bitext/kb/`), read
from `../shared/data` relative to the repository (or `--data`).

    .venv/bin/python bench/draft_bench.py [--tickets 400] [--data ../shared/data]

Prints:
* offline drafter latency (reply, each tone, hand-off summary): p50 / p95 / max in ms;
* model-path work done in this process (redaction, prompt rendering, budget trimming, output
  check, restore), without the network: p50 / p95 in ms;
* the token budget on a 200-message ticket: estimated prompt tokens against the budget, how many
  messages were kept and left out, for several budgets. Tokens are estimated by the documented
  rule in `drafting/tokens.py` (conservative: +18 to +21 % on the recorded OpenAI exchanges).

Writes JSON to bench/out/draft_bench.json. Checks while measuring: every offline draft carries
its notice, no prompt holds the e-mail or phone number planted in the ticket, every trimmed
prompt fits its budget and keeps the first customer message and the newest one.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import random
import re
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from drafting.drafter import Budget, Drafter  # noqa: E402
from drafting.guard import check_output  # noqa: E402
from drafting.types import DraftContext, Passage, TicketMessage  # noqa: E402

OUT = ROOT / "bench" / "out" / "draft_bench.json"
DEFAULT_DATA = ROOT.parent / "shared" / "data"
PLANTED = ("anna.nowak@example.com", "+48 601 202 303")
BUDGETS = (4000, 6000, 16000)


def load(data: Path) -> tuple[list[dict[str, str]], dict[str, Passage]]:
    rows = list(csv.DictReader((data / "bitext" / "dev.csv").open(encoding="utf-8")))
    passages: dict[str, Passage] = {}
    for path in sorted((data / "bitext" / "kb").glob("*.md")):
        text = path.read_text(encoding="utf-8")
        _, front, body = text.split("---", 2)
        title = re.search(r'^title:\s*"?(.*?)"?\s*$', front, re.MULTILINE)
        passages[path.stem] = Passage(path.stem, title.group(1) if title else path.stem, body)
    return rows, passages


def fill(text: str) -> str:
    """Bitext answers carry {{Placeholders}}; give them ordinary values."""
    return re.sub(r"\{\{[^}]*\}\}", "our website", text)


def ticket_for(
    row: dict[str, str], passages: dict[str, Passage], rng: random.Random, n_follow: int
) -> DraftContext:
    messages = [
        TicketMessage("customer", f"{row['instruction']} My e-mail is {PLANTED[0]}."),
        TicketMessage("bot", "I'm passing this to a person from our team (#1001)."),
    ]
    for _ in range(n_follow):
        messages.append(TicketMessage("customer", f"Any news? Call me on {PLANTED[1]}."))
    best = passages.get(row["intent"])
    others = rng.sample(sorted(passages.values(), key=lambda p: p.slug), 2)
    ranked = [Passage(p.slug, p.title, p.text, 0.3) for p in others]
    if best is not None:
        ranked.insert(0, Passage(best.slug, best.title, best.text, 0.8))
    return DraftContext(
        ticket_number=1001,
        language="en",
        messages=messages,
        passages=ranked,
        customer_name="Anna Nowak",
        subject=row["instruction"][:80],
    )


def long_ticket(rows: list[dict[str, str]], n: int = 200) -> DraftContext:
    messages: list[TicketMessage] = []
    for i in range(n):
        row = rows[i // 2 % len(rows)]
        if i % 2 == 0:
            text = row["instruction"] + (f" Reach me at {PLANTED[0]}." if i == 0 else "")
            messages.append(TicketMessage("customer", text))
        else:
            messages.append(TicketMessage("agent", fill(row["response"]), internal=i % 10 == 9))
    return DraftContext(
        ticket_number=1001,
        language="en",
        messages=messages,
        passages=[],
        customer_name="Anna Nowak",
        subject=rows[0]["instruction"][:80],
    )


def percentiles(values: list[float]) -> dict[str, float]:
    ordered = sorted(values)
    p95 = ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))]
    return {
        "n": len(ordered),
        "p50_ms": round(statistics.median(ordered), 3),
        "p95_ms": round(p95, 3),
        "max_ms": round(ordered[-1], 3),
    }


async def offline_latency(tickets: list[DraftContext]) -> dict[str, dict[str, float]]:
    drafter = Drafter(None)
    results: dict[str, dict[str, float]] = {}
    for label, tone in (("reply", None), ("shorter", "shorter"), ("friendlier", "friendlier"),
                        ("formal", "formal")):  # fmt: skip
        times = []
        for ctx in tickets:
            started = time.perf_counter()
            out = await drafter.reply(ctx, tone=tone)  # type: ignore[arg-type]
            times.append((time.perf_counter() - started) * 1000)
            assert out.offline and out.notice and "Offline draft" in out.notice
        results[label] = percentiles(times)
    times = []
    for ctx in tickets:
        started = time.perf_counter()
        out = await drafter.summary(ctx, reason="hand-off")
        times.append((time.perf_counter() - started) * 1000)
        assert out.offline and out.notice
    results["summary"] = percentiles(times)
    return results


def model_path_work(tickets: list[DraftContext]) -> dict[str, float]:
    """Everything the model path does in process, around the network call."""
    drafter = Drafter(None)
    times = []
    for ctx in tickets:
        started = time.perf_counter()
        prep = drafter._prepare(ctx)
        prompt = drafter.reply_prompt(ctx, prep=prep)
        answer = "Hello Anna, we have written to [EMAIL_1] about it.\nSOURCES: " + (
            ctx.passages[0].slug if ctx.passages else "none"
        )
        verdict = check_output(
            answer,
            redactor=prep.redactor,
            system_prompt=prompt.system,
            canary=prompt.canary,
            support=[p.text for p in ctx.passages],
        )
        restored = prep.redactor.restore(answer)
        times.append((time.perf_counter() - started) * 1000)
        sent = "\n".join(m.content for m in prompt.messages)
        assert not any(value in sent for value in PLANTED), "personal data in a prompt"
        assert PLANTED[0] in restored and not verdict.withheld
    return percentiles(times)


def budget_on_long_ticket(ctx: DraftContext) -> list[dict[str, Any]]:
    unlimited = Drafter(None, budget=Budget(prompt_tokens=10_000_000)).reply_prompt(ctx)
    out = []
    for budget in BUDGETS:
        started = time.perf_counter()
        prompt = Drafter(None, budget=Budget(prompt_tokens=budget)).reply_prompt(ctx)
        elapsed = (time.perf_counter() - started) * 1000
        history = prompt.messages[1:-1]
        numbers = [int(re.search(r'n="(\d+)"', m.content).group(1)) for m in history]  # type: ignore[union-attr]
        assert prompt.tokens <= budget, (prompt.tokens, budget)
        assert numbers[0] == 1 and numbers[-1] == len(ctx.messages)
        sent = "\n".join(m.content for m in prompt.messages)
        assert PLANTED[0] not in sent
        out.append(
            {
                "budget_tokens": budget,
                "prompt_tokens": prompt.tokens,
                "messages": len(ctx.messages),
                "kept": len(history),
                "left_out": prompt.omitted,
                "whole_ticket_tokens": unlimited.tokens,
                "build_ms": round(elapsed, 1),
            }
        )
    return out


async def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tickets", type=int, default=400)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA)
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args()
    if not (args.data / "bitext" / "dev.csv").is_file():
        sys.exit(f"error: shared data not found: {args.data / 'bitext' / 'dev.csv'}")
    rng = random.Random(args.seed)
    rows, passages = load(args.data)
    sample = rng.sample(rows, min(args.tickets, len(rows)))
    tickets = [ticket_for(row, passages, rng, rng.randint(0, 3)) for row in sample]

    offline = await offline_latency(tickets)
    model_path = model_path_work(tickets)
    budget = budget_on_long_ticket(long_ticket(rows))

    print(f"offline drafter, {len(tickets)} tickets from bitext/dev.csv (ms)")
    print(f"  {'kind':<12}{'p50':>9}{'p95':>9}{'max':>9}")
    for label, stats in offline.items():
        print(f"  {label:<12}{stats['p50_ms']:>9.2f}{stats['p95_ms']:>9.2f}{stats['max_ms']:>9.2f}")
    print(
        f"model path in process (redact, render, trim, check, restore; no network): "
        f"p50 {model_path['p50_ms']:.2f} ms, p95 {model_path['p95_ms']:.2f} ms"
    )
    print("prompt budget on a 200-message ticket (tokens estimated, see drafting/tokens.py)")
    print(f"  {'budget':>8}{'prompt':>8}{'kept':>6}{'left out':>10}{'whole ticket':>14}{'ms':>7}")
    for row in budget:
        print(
            f"  {row['budget_tokens']:>8}{row['prompt_tokens']:>8}{row['kept']:>6}"
            f"{row['left_out']:>10}{row['whole_ticket_tokens']:>14}{row['build_ms']:>7}"
        )
    OUT.parent.mkdir(parents=True, exist_ok=True)
    OUT.write_text(
        json.dumps({"offline": offline, "model_path": model_path, "budget": budget}, indent=2)
    )
    print(f"wrote {OUT.relative_to(ROOT)}")


if __name__ == "__main__":
    asyncio.run(main())
