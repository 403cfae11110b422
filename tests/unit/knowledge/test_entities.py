"""Names, numbers and amounts masked before matching: what goes, what stays."""

from __future__ import annotations

import pytest

from knowledge.entities import neutral


@pytest.mark.parametrize(
    ("text", "language", "expected"),
    [
        ("I want the invoice from Mr. Jones", "en", "I want the invoice from"),
        ("see bill #00108 from Ms. Hawkings", "en", "see bill number from"),
        ("track purchase 113542617735902", "en", "track purchase number"),
        ("call me at 600 100 200", "en", "call me at number"),
        ("ordered on 2024-03-01", "en", "ordered on number"),
        ("invoice #INV-2024-7 please", "en", "invoice number please"),
        ("refunding 1200 dollars", "en", "refunding dollars"),
        ("rebate $1,499.00 now", "en", "rebate dollars now"),
        ("a compensation of$1499", "en", "a compensation of dollars"),
        ("faktura dla Pani Anny Kowalskiej", "pl", "faktura dla"),
        ("zwrot 150 zł za zamówienie 48213678", "pl", "zwrot zł za zamówienie numer"),
        ("zamówienie z 15.03.2024", "pl", "zamówienie z numer"),
    ],
)
def test_values_are_masked(text: str, language: str, expected: str) -> None:
    assert neutral(text, language) == expected


@pytest.mark.parametrize(
    "text",
    [
        "I have 2 items in order 12",  # short numbers can be quantities
        "Where is the Order History page?",  # capitalised words without a title stay
        "Miss my parcel, where is it?",
        "jak zmienić adres dostawy?",
        "line one\n\nline two",  # paragraphs are kept
    ],
)
def test_ordinary_text_is_left_alone(text: str) -> None:
    assert neutral(text) == text


def test_a_text_of_nothing_but_values_keeps_something_to_match() -> None:
    assert neutral("#123456") == "number"
    assert neutral("48213678 48213679") == "number"  # digits with one space between: one value
    assert neutral("Mrs Smith") == "Mrs Smith"  # nothing would be left: the text as it was
