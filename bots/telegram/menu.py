"""The bot's command menu in each language it speaks (registered with `setMyCommands`)."""

from __future__ import annotations

from telegram import BotCommand

MENU: dict[str, list[tuple[str, str]]] = {
    "en": [
        ("start", "What this bot can do"),
        ("help", "How to get help"),
        ("new", "Start a new request"),
        ("status", "Your open tickets"),
        ("human", "Talk to a person"),
        ("lang", "Language: /lang pl or /lang en"),
    ],
    "pl": [
        ("start", "Co potrafi ten bot"),
        ("help", "Jak uzyskać pomoc"),
        ("new", "Nowe zgłoszenie"),
        ("status", "Twoje otwarte zgłoszenia"),
        ("human", "Rozmowa z człowiekiem"),
        ("lang", "Język: /lang pl lub /lang en"),
    ],
}
"""Command names and descriptions per language; English is also the default menu."""


def commands(language: str) -> list[BotCommand]:
    """The menu for `language` as Bot API commands."""
    return [BotCommand(name, description) for name, description in MENU[language]]
