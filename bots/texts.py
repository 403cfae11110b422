"""What the bot says to customers, in each language it speaks."""

from __future__ import annotations

from typing import Any

DEFAULT_LANGUAGE = "en"

TEXTS: dict[str, dict[str, str]] = {
    "start": {
        "en": "Hi{name}! I'm the support assistant. Ask me about orders, delivery, returns, "
        "payments, invoices or your account: I answer from our help articles, and a person "
        "from our team takes over whenever you need one.\n\n"
        "/help what I can do · /new start a new request · /status your open tickets · "
        "/human talk to a person · /lang pl|en change language",
        "pl": "Cześć{name}! Jestem asystentem obsługi klienta. Zapytaj mnie o zamówienia, "
        "dostawę, zwroty, płatności, faktury lub konto: odpowiadam na podstawie naszych "
        "artykułów pomocy, a osoba z zespołu przejmie rozmowę, kiedy tylko zechcesz.\n\n"
        "/help co potrafię · /new nowe zgłoszenie · /status Twoje otwarte zgłoszenia · "
        "/human rozmowa z człowiekiem · /lang pl|en zmiana języka",
    },
    "help": {
        "en": "Write your question in your own words; I will answer from our help articles "
        "when I am sure, and otherwise pass it to a person with a ticket number.\n"
        "/new start a new request · /status your open tickets · /human talk to a person · "
        "/lang pl|en change language",
        "pl": "Napisz pytanie własnymi słowami; odpowiem na podstawie artykułów pomocy, gdy "
        "będę pewien, a w przeciwnym razie przekażę je osobie z zespołu z numerem zgłoszenia.\n"
        "/new nowe zgłoszenie · /status Twoje otwarte zgłoszenia · /human rozmowa z człowiekiem"
        " · /lang pl|en zmiana języka",
    },
    "greeting": {
        "en": "Hello! How can I help you today?",
        "pl": "Dzień dobry! W czym mogę pomóc?",
    },
    "thanks": {
        "en": "You're welcome! Write any time you need help.",
        "pl": "Nie ma za co! Pisz śmiało, gdy będziesz potrzebować pomocy.",
    },
    "acknowledged": {
        "en": "Great! Write any time you need help.",
        "pl": "Świetnie! Pisz śmiało, gdy będziesz potrzebować pomocy.",
    },
    "kb_answer": {
        "en": "{passage}\n\n— from our help article “{title}”",
        "pl": "{passage}\n\n— z artykułu pomocy „{title}”",
    },
    "kb_answer_other_language": {
        "en": "{passage}\n\n— from our help article “{title}” (only available in another language)",
        "pl": "{passage}\n\n— z artykułu pomocy „{title}” (dostępny tylko w innym języku)",
    },
    "button_helped": {"en": "👍 Helped", "pl": "👍 Pomogło"},
    "button_human": {"en": "👎 Talk to a person", "pl": "👎 Porozmawiam z człowiekiem"},
    "feedback_thanks": {
        "en": "Thanks for letting us know!",
        "pl": "Dziękujemy za informację!",
    },
    "ticket_opened": {
        "en": "Thanks, we have your message. Your ticket number is #{number}; "
        "a person from our team will reply here.",
        "pl": "Dziękujemy, mamy Twoją wiadomość. Numer Twojego zgłoszenia to #{number}; "
        "odpowie Ci tutaj osoba z naszego zespołu.",
    },
    "handoff": {
        "en": "I'm passing this to a person from our team. Your ticket number is #{number}; "
        "you will get the reply here. You can add details or files any time.",
        "pl": "Przekazuję to osobie z naszego zespołu. Numer Twojego zgłoszenia to #{number}; "
        "odpowiedź dostaniesz tutaj. W każdej chwili możesz dopisać szczegóły lub dodać pliki.",
    },
    "outside_hours": {
        "en": "Our team works {hours}; we will get back to you then.",
        "pl": "Nasz zespół pracuje {hours}; odezwiemy się w tych godzinach.",
    },
    "ticket_continued": {
        "en": "Added to your ticket #{number}. We will reply here.",
        "pl": "Dodaliśmy to do zgłoszenia #{number}. Odpowiemy tutaj.",
    },
    "ticket_reopened": {
        "en": "I have reopened your ticket #{number}; we will reply here.",
        "pl": "Otworzyłem ponownie zgłoszenie #{number}; odpowiemy tutaj.",
    },
    "new_requested": {
        "en": "Sure. What is your new request about?",
        "pl": "Jasne. Czego dotyczy nowe zgłoszenie?",
    },
    "status_none": {
        "en": "You have no open tickets.",
        "pl": "Nie masz otwartych zgłoszeń.",
    },
    "status_header": {"en": "Your open tickets:", "pl": "Twoje otwarte zgłoszenia:"},
    "status_line": {
        "en": "#{number} · {status} · {subject}",
        "pl": "#{number} · {status} · {subject}",
    },
    "lang_set": {
        "en": "From now on I will write in English.",
        "pl": "Od teraz piszę po polsku.",
    },
    "lang_usage": {
        "en": "Use /lang pl or /lang en.",
        "pl": "Użyj /lang pl lub /lang en.",
    },
    "unknown_command": {
        "en": "I don't know that command. /help lists what I can do.",
        "pl": "Nie znam tego polecenia. /help pokazuje, co potrafię.",
    },
    "unsupported": {
        "en": "Sorry, I can only read text, photos, documents and voice messages.",
        "pl": "Przepraszam, rozumiem tylko tekst, zdjęcia, dokumenty i wiadomości głosowe.",
    },
    "attachment_received": {
        "en": "Got your file; it is attached to ticket #{number}.",
        "pl": "Mamy Twój plik; jest dołączony do zgłoszenia #{number}.",
    },
    "csat_thanks": {
        "en": "Thank you for rating our help!",
        "pl": "Dziękujemy za ocenę naszej pomocy!",
    },
    "csat_ask": {
        "en": "Your ticket #{number} is resolved. How would you rate our help? (1 = poor, "
        "5 = excellent)",
        "pl": "Zgłoszenie #{number} zostało rozwiązane. Jak oceniasz naszą pomoc? (1 = słabo, "
        "5 = świetnie)",
    },
    "status_changed": {
        "en": "Your ticket #{number} is now {status}.",
        "pl": "Twoje zgłoszenie #{number} ma teraz status: {status}.",
    },
}

STATUS_NAMES: dict[str, dict[str, str]] = {
    "new": {"en": "new", "pl": "nowe"},
    "open": {"en": "open", "pl": "otwarte"},
    "pending": {"en": "waiting for you", "pl": "czeka na Ciebie"},
    "resolved": {"en": "resolved", "pl": "rozwiązane"},
    "closed": {"en": "closed", "pl": "zamknięte"},
}


def say(key: str, language: str | None, **values: Any) -> str:
    """The text `key` in `language` (falling back to English), with `values` filled in."""
    variants = TEXTS[key]
    template = variants.get(language or DEFAULT_LANGUAGE) or variants[DEFAULT_LANGUAGE]
    return template.format(**values)


def status_name(status: str, language: str | None) -> str:
    names = STATUS_NAMES.get(status)
    if names is None:
        return status
    return names.get(language or DEFAULT_LANGUAGE) or names[DEFAULT_LANGUAGE]
