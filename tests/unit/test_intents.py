"""Small-talk rules: requests for a person (Polish and English), greetings, thanks."""

from __future__ import annotations

import pytest

from bots.intents import is_acknowledgement, is_greeting, is_thanks, wants_a_person
from tests.conftest import DATA, requires_shared

POLISH_WANTS = (
    DATA / "polish" / "barf_o_bot_rasa_pl" / "nlu" / "chitchat" / "nlu_chitchat_user_wants.md"
)


def _intents() -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    current = ""
    for line in POLISH_WANTS.read_text(encoding="utf-8").splitlines():
        if line.startswith("## intent"):
            current = line.split(":", 1)[1].strip()
        elif line.startswith("- ") and current:
            found.setdefault(current, []).append(line[2:].strip())
    return found


@requires_shared(POLISH_WANTS)
def test_polish_requests_for_a_person_are_recognised_and_help_requests_are_not() -> None:
    intents = _intents()
    human = intents["chitchat/need_human"]
    recognised = sum(map(wants_a_person, human))
    assert recognised / len(human) >= 0.95, f"{recognised}/{len(human)}"
    others = [t for k, v in intents.items() if k != "chitchat/need_human" for t in v]
    assert len(others) >= 40
    assert [t for t in others if wants_a_person(t)] == []


@pytest.mark.parametrize(
    "text",
    [
        "I want to talk to a human",
        "can I speak to an agent please",
        "human",
        "real person please",
        "connect me to customer service",
        "I don't want a bot",
        "daj konsultanta",
        "czy mogę porozmawiać z człowiekiem?",
        "czlowiek",  # without diacritics
    ],
)
def test_requests_for_a_person(text: str) -> None:
    assert wants_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "my payment failed, the agent said to wait",
        "I need support modifying the shipping address",
        "edit personal information",
        "where is my parcel?",
        "kiedy dostanę zwrot pieniędzy za zamówienie 1234?",
    ],
)
def test_problem_descriptions_are_not_requests_for_a_person(text: str) -> None:
    assert not wants_a_person(text)


@pytest.mark.parametrize(
    "text",
    [
        "thank you for your help",
        "Thank you very much!",
        "ok thanks",
        "thanks, that helped",
        "many thanks",
        "dzięki za pomoc",
        "ok, dzięki",
        "dziękuję, to wszystko",
        "dzieki wielkie",  # without diacritics
    ],
)
def test_thanks_in_the_words_customers_wrap_it_in(text: str) -> None:
    assert is_thanks(text)


@pytest.mark.parametrize(
    "text", ["thanks for nothing", "dzięki, ale nie pomogło", "thank you, where is my refund?"]
)
def test_thanks_with_something_more_to_say_is_not_small_talk(text: str) -> None:
    assert not is_thanks(text)


def test_acknowledgements() -> None:
    assert is_acknowledgement("ok") and is_acknowledgement("Got it.")
    assert is_acknowledgement("jasne") and is_acknowledgement("super!")
    assert not is_acknowledgement("ok where is my parcel")
    assert not is_acknowledgement("?")


def test_greetings_and_thanks() -> None:
    assert is_greeting("hi") and is_greeting("Dzień dobry") and is_greeting("hej!")
    assert not is_greeting("hi, where is my order?")
    assert is_thanks("Thanks a lot!") and is_thanks("dziękuję") and is_thanks("dzieki")
    assert not is_thanks("thanks, but the parcel never came")
