"""relaydesk_llm_latency_seconds and relaydesk_llm_errors{kind}: drafts through the real model
client, built by the bots glue, against the fake OpenAI server."""

from __future__ import annotations

from prometheus_client import generate_latest
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy.ext.asyncio import AsyncSession

from bots import drafts
from bots.db import Database
from bots.metrics import REGISTRY
from bots.settings import Settings
from drafting.chat import ChatMessage, LLMCall, RetryPolicy
from drafting.drafter import Drafter
from drafting.errors import LLMError
from drafting.llm import OpenAIChatClient
from tests.fakes.openai_server import FakeOpenAI, hang, ok, server_error
from tickets.models import Customer, Message, Ticket


def scraped() -> dict[str, float]:
    """The LLM samples as /metrics serves them (the registry's text exposition, parsed)."""
    samples: dict[str, float] = {}
    for family in text_string_to_metric_families(generate_latest(REGISTRY).decode()):
        for sample in family.samples:
            if sample.name.startswith("relaydesk_llm_"):
                labels = ",".join(f"{k}={v}" for k, v in sorted(sample.labels.items()))
                samples[f"{sample.name}{{{labels}}}"] = sample.value
    return samples


def delta(before: dict[str, float], after: dict[str, float], name: str) -> float:
    return after.get(name, 0.0) - before.get(name, 0.0)


HELLO = [ChatMessage("user", "Say hello.")]
LATENCY_COUNT = "relaydesk_llm_latency_seconds_count{}"
LATENCY_SUM = "relaydesk_llm_latency_seconds_sum{}"


async def make_ticket(session: AsyncSession, number: int) -> None:
    customer = Customer(name="Jan", language="en", tags=[])
    session.add(customer)
    await session.flush()
    ticket = Ticket(
        number=number,
        customer_id=customer.id,
        subject="Parcel 4411",
        status="open",
        channel="console",
        chat_id=f"c{number}",
        language="en",
    )
    session.add(ticket)
    await session.flush()
    session.add(
        Message(
            ticket_id=ticket.id,
            direction="in",
            author_kind="customer",
            text="My parcel 4411 did not arrive.",
            channel="console",
        )
    )
    await session.flush()


async def test_a_model_draft_observes_its_latency_and_no_error(
    db: Database, openai_server: FakeOpenAI
) -> None:
    openai_server.default = ok("Hello,\nwe asked the courier.\nSOURCES:")
    settings = Settings(OPENAI_BASE_URL=openai_server.base_url, RELAYDESK_LLM_MODEL="gpt-4o-mini")
    parts = drafts.parts_from_settings(settings)  # the glue `relaydesk serve` uses
    before = scraped()
    try:
        async with db.session() as session:
            await make_ticket(session, 2001)
            result = await drafts.make_draft(parts, session, 2001)
            await session.commit()
    finally:
        await parts.aclose()
    after = scraped()
    assert result.output.offline is False and len(openai_server.requests) == 1
    assert delta(before, after, LATENCY_COUNT) == 1
    assert delta(before, after, LATENCY_SUM) > 0
    errors = {k: v for k, v in after.items() if k.startswith("relaydesk_llm_errors_total")}
    assert errors == {k: v for k, v in before.items() if k.startswith("relaydesk_llm_errors_total")}


async def test_a_failing_model_counts_an_error_of_its_kind(
    db: Database, openai_server: FakeOpenAI
) -> None:
    openai_server.script(server_error(), server_error())
    llm = OpenAIChatClient(
        model="gpt-4o-mini",
        api_key="k",
        base_url=openai_server.base_url,
        retry=RetryPolicy(max_attempts=2, backoff_base_s=0.01),
        observer=drafts.observe_llm_call,
    )
    parts = drafts.DraftParts(drafter=Drafter(llm))
    before = scraped()
    async with db.session() as session:
        await make_ticket(session, 2002)
        result = await drafts.make_draft(parts, session, 2002)  # falls back to offline
        await session.commit()
    await llm.aclose()
    after = scraped()
    assert result.output.offline is True and len(openai_server.requests) == 2
    # One call (its two attempts inside), one latency observation, one error.
    assert delta(before, after, LATENCY_COUNT) == 1
    assert delta(before, after, "relaydesk_llm_errors_total{kind=unavailable}") == 1
    assert delta(before, after, "relaydesk_llm_errors_total{kind=timeout}") == 0


async def test_a_model_that_does_not_answer_counts_a_timeout(openai_server: FakeOpenAI) -> None:
    openai_server.default = hang(2.0)
    calls: list[LLMCall] = []

    def observer(call: LLMCall) -> None:
        calls.append(call)
        drafts.observe_llm_call(call)

    llm = OpenAIChatClient(
        model="gpt-4o-mini",
        api_key="k",
        base_url=openai_server.base_url,
        timeout_s=0.3,
        observer=observer,
    )
    before = scraped()
    try:
        await llm.complete(HELLO)
    except LLMError as exc:
        assert exc.kind == "timeout"
    else:
        raise AssertionError("the hanging server answered")
    finally:
        await llm.aclose()
    after = scraped()
    assert len(calls) == 1 and calls[0].error is not None and not calls[0].ok
    assert 0.25 <= calls[0].seconds < 2.0
    assert delta(before, after, "relaydesk_llm_errors_total{kind=timeout}") == 1
    assert delta(before, after, LATENCY_COUNT) == 1
    # The 0.3 s call lands in the 0.5 s bucket, not in the 0.25 s one.
    le_half = "relaydesk_llm_latency_seconds_bucket{le=0.5}"
    le_quarter = "relaydesk_llm_latency_seconds_bucket{le=0.25}"
    assert delta(before, after, le_half) == 1 and delta(before, after, le_quarter) == 0


async def test_an_observer_that_raises_does_not_break_the_call(openai_server: FakeOpenAI) -> None:
    openai_server.default = ok("Hi")

    def broken(call: LLMCall) -> None:
        raise RuntimeError("metrics backend down")

    llm = OpenAIChatClient(
        model="gpt-4o-mini", api_key="k", base_url=openai_server.base_url, observer=broken
    )
    try:
        completion = await llm.complete(HELLO)
    finally:
        await llm.aclose()
    assert completion.text == "Hi"
