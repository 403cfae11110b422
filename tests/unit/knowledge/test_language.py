"""Language detection on short Polish and English customer messages."""

from __future__ import annotations

import pytest

from knowledge.language import detect

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
