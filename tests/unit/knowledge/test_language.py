"""Language detection on short Polish and English customer messages."""

from __future__ import annotations

import pytest

from knowledge.language import SURE, detect

POLISH = [
    "gdzie jest moja paczka?",
    "Zapomniałem hasła",
    "chce zwrot pieniedzy",
    "nie dostałem faktury",
    "jak anulowac zamowienie",
    "dzień dobry",
    "przesyłka nie dotarła",
    "czy mogę zapłacić BLIKIEM",
]
ENGLISH = [
    "where is my parcel?",
    "I forgot my password",
    "refund please",
    "I did not get my invoice",
    "how do I cancel my order",
    "hello there",
    "the package never arrived",
    "can I pay with PayPal",
]


@pytest.mark.parametrize("text", POLISH)
def test_short_polish(text: str) -> None:
    assert detect(text) == "pl"


@pytest.mark.parametrize("text", ENGLISH)
def test_short_english(text: str) -> None:
    assert detect(text, default="pl") == "en"


def test_no_signal_gives_the_default() -> None:
    assert detect("12345 ???", default="pl") == "pl"
    assert detect("", default="en") == "en"


def test_weak_evidence_yields_to_a_margin() -> None:
    # keyword queries lean the wrong way on spelling alone ("purchase" has Polish "ch")
    assert detect("modify purchase 3707955617") == "pl"
    assert detect("modify purchase 3707955617", default="en", margin=SURE) == "en"
    # "mam" is Polish, "problem" English: no signal at all
    assert detect("mam problem", default="") == ""
    # a clear text keeps its language whatever the default
    for text in POLISH:
        assert detect(text, default="en", margin=SURE) == "pl", text
    for text in ENGLISH:
        assert detect(text, default="pl", margin=SURE) == "en", text
