"""PII redaction: each kind found only when its checksum holds, stable placeholders, restore."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from drafting.redaction import (
    Redactor,
    find_pii,
    iban_valid,
    luhn_valid,
    nip_valid,
    pesel_valid,
)


def pesel_with_check(first10: str) -> str:
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(int(d) * w for d, w in zip(first10, weights, strict=True)) % 10) % 10
    return first10 + str(check)


def luhn_complete(prefix: str) -> str:
    for last in "0123456789":
        if luhn_valid(prefix + last):
            return prefix + last
    raise AssertionError("unreachable")


def kinds(text: str) -> list[tuple[str, str]]:
    return [(f.kind, f.value) for f in find_pii(text)]


@pytest.mark.parametrize(
    "number",
    ["4111111111111111", "5555555555554444", "378282246310005", "6011111111111117"],
)
def test_luhn_accepts_real_test_card_numbers(number: str) -> None:
    assert luhn_valid(number)


@pytest.mark.parametrize("number", ["4111111111111112", "1234567812345678", "411111111111"])
def test_luhn_rejects_wrong_check_digits_and_lengths(number: str) -> None:
    assert not luhn_valid(number)


def test_card_numbers_are_redacted_only_when_luhn_valid() -> None:
    assert kinds("card 4111 1111 1111 1111 please") == [("CARD", "4111 1111 1111 1111")]
    assert kinds("card 4111-1111-1111-1111.") == [("CARD", "4111-1111-1111-1111")]
    assert kinds("tracking 4111 1111 1111 1112") == []


@pytest.mark.parametrize(
    "iban",
    [
        "PL61 1090 1014 0000 0712 1981 2874",
        "PL61109010140000071219812874",
        "DE89 3704 0044 0532 0130 00",
        "GB82 WEST 1234 5698 7654 32",
        "pl61109010140000071219812874",
    ],
)
def test_valid_ibans_are_found(iban: str) -> None:
    assert iban_valid(iban)
    assert kinds(f"pay to {iban} today") == [("IBAN", iban)]


def test_ibans_failing_mod97_or_length_are_left_alone() -> None:
    assert not iban_valid("PL61 1090 1014 0000 0712 1981 2875")
    assert not iban_valid("DE89 3704 0044 0532 0130 0")
    assert kinds("account PL61 1090 1014 0000 0712 1981 2875") == []


def test_polish_account_number_without_country_is_an_iban() -> None:
    assert kinds("nr konta 61 1090 1014 0000 0712 1981 2874") == [
        ("IBAN", "61 1090 1014 0000 0712 1981 2874")
    ]
    assert kinds("nr konta 62 1090 1014 0000 0712 1981 2874") == []


def test_pesel_needs_checksum_and_a_real_birth_date() -> None:
    assert pesel_valid("44051401359")
    assert not pesel_valid("44051401358")  # check digit off by one
    assert pesel_valid(pesel_with_check("0227080362"))  # born 2002 (month + 20)
    assert not pesel_valid(pesel_with_check("8913450000"))  # month 13 does not exist
    assert not pesel_valid(pesel_with_check("9902300000"))  # 30 February
    assert kinds("PESEL: 44051401359") == [("PESEL", "44051401359")]
    assert kinds("PESEL: 44051401358") == []


def test_nip_needs_its_checksum() -> None:
    assert nip_valid("526-000-12-46")
    assert nip_valid("5260001246")
    assert not nip_valid("5260001247")
    assert kinds("NIP 526-000-12-46") == [("NIP", "526-000-12-46")]
    assert kinds("NIP 526-00-01-246") == [("NIP", "526-00-01-246")]
    assert kinds("NIP 5260001247") == []


@pytest.mark.parametrize(
    "phone",
    [
        "+48 600 700 800",
        "+48600700800",
        "600-700-800",
        "600 700 800",
        "(22) 123 45 67",
        "+1 (415) 555-0100",
        "+44 20 7946 0958",
        "0048 600 700 800",
    ],
)
def test_phone_numbers_in_polish_and_international_formats(phone: str) -> None:
    assert kinds(f"call me on {phone} tomorrow") == [("PHONE", phone)]


def test_a_bare_nine_digit_number_is_a_phone_only_next_to_a_phone_word() -> None:
    assert kinds("mój telefon: 600700800") == [("PHONE", "600700800")]
    assert kinds("zamówienie 600700800 nie dotarło") == []
    assert kinds("order 4411 shipped on 2024-05-14") == []


def test_emails() -> None:
    assert kinds("write to Jan.Kowalski+shop@example.co.uk.") == [
        ("EMAIL", "Jan.Kowalski+shop@example.co.uk")
    ]


def test_placeholders_are_stable_per_ticket_and_restored() -> None:
    redactor = Redactor()
    first = redactor.redact("I am jan@example.com, phone 600 700 800")
    second = redactor.redact("Again: JAN@example.com, phone 600-700-800, or ola@example.com")
    assert first == "I am [EMAIL_1], phone [PHONE_1]"
    assert second == "Again: [EMAIL_1], phone [PHONE_1], or [EMAIL_2]"
    assert redactor.restore("Write to [EMAIL_2] or call [PHONE_1].") == (
        "Write to ola@example.com or call 600 700 800."
    )


def test_same_account_with_and_without_country_code_shares_a_placeholder() -> None:
    redactor = Redactor()
    a = redactor.redact("PL61 1090 1014 0000 0712 1981 2874")
    b = redactor.redact("61109010140000071219812874")
    assert a == b == "[IBAN_1]"


def test_unknown_placeholders_are_reported_and_left_as_they_are() -> None:
    redactor = Redactor()
    redactor.redact("jan@example.com")
    text = "Contact [EMAIL_1] and [EMAIL_7] and [PESEL_1]."
    assert redactor.unknown_placeholders(text) == ["[EMAIL_7]", "[PESEL_1]"]
    assert redactor.restore(text) == "Contact jan@example.com and [EMAIL_7] and [PESEL_1]."


def test_origins_tell_ticket_data_from_reference_data() -> None:
    redactor = Redactor()
    redactor.redact("my mail jan@example.com", "ticket")
    redactor.redact("write to help@shop.example", "reference")
    assert redactor.origins("[EMAIL_1]") == {"ticket"}
    assert redactor.origins("[EMAIL_2]") == {"reference"}


_pesels = st.from_regex(r"[0-9]{2}(0[1-9]|1[0-2])(0[1-9]|1[0-9]|2[0-8])[0-9]{4}", fullmatch=True)
_cards = st.from_regex(r"4[0-9]{14}", fullmatch=True).map(luhn_complete)
_emails = st.from_regex(r"[a-z]{1,8}\.[a-z]{1,8}@[a-z]{2,8}\.(pl|com|eu)", fullmatch=True)
_words = st.lists(
    st.sampled_from(["my", "order", "is", "late", "proszę", "o", "zwrot"]), max_size=4
)


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.one_of(
            _words.map(" ".join),
            _pesels.map(pesel_with_check),
            _cards,
            _emails,
        ),
        min_size=1,
        max_size=8,
    )
)
def test_redaction_removes_every_value_and_restores_the_text(pieces: list[str]) -> None:
    text = " , ".join(pieces)
    redactor = Redactor()
    redacted = redactor.redact(text)
    for value in redactor.mapping.values():
        assert value not in redacted
    for piece in pieces:
        if piece[:1].isdigit() or "@" in piece:
            assert piece not in redacted
    assert redactor.restore(redacted) == text
