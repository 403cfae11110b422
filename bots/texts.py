"""What the bot says to customers, in each language it speaks."""

from __future__ import annotations

from typing import Any

DEFAULT_LANGUAGE = "en"

TEXTS: dict[str, dict[str, str]] = {
    "ticket_opened": {
        "en": "Thanks, we have your message. Your ticket number is #{number}; "
        "a person from our team will reply here.",
        "pl": "Dziękujemy, mamy Twoją wiadomość. Numer Twojego zgłoszenia to #{number}; "
        "odpowie Ci tutaj osoba z naszego zespołu.",
    },
    "ticket_continued": {
        "en": "Added to your ticket #{number}. We will reply here.",
        "pl": "Dodaliśmy to do zgłoszenia #{number}. Odpowiemy tutaj.",
    },
    "unsupported": {
        "en": "Sorry, I can only read text, photos, documents and voice messages.",
        "pl": "Przepraszam, rozumiem tylko tekst, zdjęcia, dokumenty i wiadomości głosowe.",
    },
}


def say(key: str, language: str | None, **values: Any) -> str:
    """The text `key` in `language` (falling back to English), with `values` filled in."""
    variants = TEXTS[key]
    template = variants.get(language or DEFAULT_LANGUAGE) or variants[DEFAULT_LANGUAGE]
    return template.format(**values)
