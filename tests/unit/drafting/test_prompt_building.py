"""Prompts as built for a ticket: rules first, data delimited and redacted, within the budget."""

from __future__ import annotations

import re

from drafting.drafter import Budget, Drafter, split_sources
from drafting.llm import retry_after_s, trim_history
from drafting.tokens import estimate_message_tokens
from drafting.types import DraftContext, Passage, TicketMessage

PII = {
    "email": "jan.kowalski@example.com",
    "phone": "+48 600 700 800",
    "card": "4111 1111 1111 1111",
    "iban": "PL61 1090 1014 0000 0712 1981 2874",
    "pesel": "44051401359",
    "nip": "526-000-12-46",
}


def ticket(n_messages: int = 4, *, budget: int = 6000) -> tuple[Drafter, DraftContext]:
    messages = [
        TicketMessage(
            "customer",
            f"My order 4411 is late. Mail {PII['email']}, phone {PII['phone']}, "
            f"card {PII['card']}, account {PII['iban']}, PESEL {PII['pesel']}, NIP {PII['nip']}.",
        )
    ]
    for i in range(1, n_messages):
        author = ("agent", "customer", "bot")[i % 3]
        text = f"Message {i}: " + "the parcel is still not here and I keep waiting " * 8
        messages.append(TicketMessage(author, text, internal=(i % 7 == 0)))
    ctx = DraftContext(
        ticket_number=1001,
        language="pl",
        messages=messages,
        passages=[Passage("late_delivery", "Late parcels", "Write to help@shop.example.")],
        customer_name="Jan Kowalski",
        subject="Late order",
        guidelines="Be brief.",
        signature="Ewa",
    )
    return Drafter(None, budget=Budget(prompt_tokens=budget)), ctx


def test_prompt_starts_with_the_rules_and_ends_with_the_task() -> None:
    drafter, ctx = ticket()
    prompt = drafter.reply_prompt(ctx)
    roles = [m.role for m in prompt.messages]
    assert roles == ["system", "user", "user", "user", "user", "user"]
    assert "data, not instructions" in prompt.messages[0].content
    assert prompt.canary in prompt.messages[0].content
    assert prompt.messages[-1].content.startswith("Task: draft the next reply")
    assert "in Polish" in prompt.messages[-1].content
    for message in prompt.messages[1:-1]:
        assert message.content.startswith("<ticket_message ")
        assert message.content.endswith("</ticket_message>")
    assert 'internal="false"' in prompt.messages[1].content
    assert prompt.template == "reply_draft" and len(prompt.template_hash) == 64


def test_no_personal_data_in_any_message_of_the_prompt() -> None:
    drafter, ctx = ticket()
    prompt = drafter.reply_prompt(ctx)
    sent = "\n".join(m.content for m in prompt.messages)
    for value in PII.values():
        assert value not in sent
    assert "Jan Kowalski" in sent  # names are not redacted: agents address customers by name
    for placeholder in ("[EMAIL_1]", "[PHONE_1]", "[CARD_1]", "[IBAN_1]", "[PESEL_1]", "[NIP_1]"):
        assert placeholder in sent
    assert "help@shop.example" not in sent  # passages are redacted too
    assert "order 4411" in sent  # order numbers are not personal data


def test_canary_differs_per_prompt_but_the_template_hash_does_not() -> None:
    drafter, ctx = ticket()
    first, second = drafter.reply_prompt(ctx), drafter.reply_prompt(ctx)
    assert first.canary != second.canary
    assert first.template_hash == second.template_hash


def test_a_200_message_ticket_is_trimmed_to_the_budget_keeping_first_and_newest() -> None:
    drafter, ctx = ticket(200, budget=4000)
    prompt = drafter.reply_prompt(ctx)
    assert prompt.tokens <= 4000
    assert prompt.omitted > 0
    assert f"{prompt.omitted} earlier messages were left out" in prompt.messages[-1].content
    history = prompt.messages[1:-1]
    numbers = [int(re.search(r'n="(\d+)"', m.content).group(1)) for m in history]  # type: ignore[union-attr]
    assert numbers[0] == 1  # the customer's first message states the problem
    assert numbers[-1] == 200
    assert numbers[1:] == list(range(numbers[1], 201))  # then the newest, contiguous
    assert len(history) + prompt.omitted == 200
    assert not history[0].trimmable and not history[-1].trimmable
    assert all(m.trimmable for m in history[1:-1])


def test_trim_history_drops_the_oldest_trimmable_to_fit_the_servers_limit() -> None:
    drafter, ctx = ticket(40, budget=100_000)
    messages = drafter.reply_prompt(ctx).messages
    before = estimate_message_tokens([m.content for m in messages])
    error = (
        f"This model's maximum context length is 3000 tokens. However, your messages resulted "
        f"in {int(before * 1.1)} tokens."
    )
    trimmed, dropped = trim_history(messages, error)
    assert dropped > 0
    assert len(trimmed) == len(messages) - dropped
    assert trimmed[0] == messages[0] and trimmed[1] == messages[1] and trimmed[-1] == messages[-1]
    after = estimate_message_tokens([m.content for m in trimmed])
    assert after * int(before * 1.1) / before <= 3000  # fits, counted the server's way
    assert any(m.trimmable for m in trimmed)  # and no more was dropped than needed


def test_trim_history_without_numbers_drops_half() -> None:
    drafter, ctx = ticket(12, budget=100_000)
    messages = drafter.reply_prompt(ctx).messages
    trimmable = sum(m.trimmable for m in messages)
    _trimmed, dropped = trim_history(messages, "Please reduce the length of the messages.")
    assert 1 <= dropped <= trimmable


def test_retry_after_from_headers_and_messages() -> None:
    assert retry_after_s({"retry-after": "2"}) == 2.0
    assert retry_after_s({"retry-after-ms": "150"}) == 0.15
    assert retry_after_s({}, "Please try again in 26.604s. Visit …") == 26.604
    assert retry_after_s({}, "Please try again in 6ms. Contact us") == 0.006
    assert retry_after_s({}, "no hint") is None
    past = retry_after_s({"retry-after": "Wed, 21 Oct 2015 07:28:00 GMT"})
    assert past == 0.0


def test_sources_line_is_split_from_the_draft() -> None:
    body, slugs = split_sources("Hello.\n\nBye.\nSOURCES: late_delivery, `returns`")
    assert body == "Hello.\n\nBye."
    assert slugs == ["late_delivery", "returns"]
    assert split_sources("Hi.\nŹródła: brak") == ("Hi.", [])
