"""Rendering neutral messages for Telegram: 4096-char splitting, inline keyboards, callback data."""

from __future__ import annotations

import logging
from collections.abc import Sequence

from telegram import InlineKeyboardButton, InlineKeyboardMarkup

from bots.messages import Button

log = logging.getLogger(__name__)

MAX_TEXT = 4096
"""The Bot API's limit on one message's text, in characters."""

MAX_CALLBACK_DATA = 64
"""The Bot API's limit on a button's callback data, in bytes (UTF-8)."""

ROW_BUTTONS = 5
ROW_LABEL_CHARS = 32


def split_text(text: str, limit: int = MAX_TEXT) -> list[str]:
    """Split `text` into pieces of at most `limit` characters, in order.

    Characters are counted as Telegram counts them (UTF-16 code units: most emoji are two).
    Cuts at paragraph boundaries (blank lines) where possible, then at line ends, then at
    spaces, and only as a last resort in the middle of a word. Only the whitespace at a cut is
    dropped (Telegram trims it anyway); no piece is empty or blank.
    """
    if limit < 2:
        raise ValueError("limit must be at least 2")
    pieces: list[str] = []
    rest = text
    while utf16_len(rest) > limit:
        fits = _prefix_fitting(rest, limit)
        cut, skip = _cut_point(rest, fits)
        pieces.append(rest[:cut])
        rest = rest[cut + skip :]
    pieces.append(rest)
    return [piece.strip("\n") for piece in pieces if piece.strip()]


def utf16_len(text: str) -> int:
    """The length of `text` as Telegram counts it (UTF-16 code units)."""
    return len(text.encode("utf-16-le")) // 2


def _prefix_fitting(text: str, limit: int) -> int:
    """The longest prefix of `text` (in characters) that is at most `limit` UTF-16 units."""
    units = 0
    for index, char in enumerate(text):
        units += 2 if ord(char) > 0xFFFF else 1
        if units > limit:
            return index
    return len(text)


def _cut_point(text: str, fits: int) -> tuple[int, int]:
    """Where to cut so the head is at most `fits` characters: (head length, separator length)."""
    window = text[: fits + 1]
    for separator in ("\n\n", "\n", " "):
        at = window.rfind(separator, 0, fits + 1)
        if at > 0:
            return at, len(separator)
    return fits, 0


def encode_callback(action: str, value: str = "") -> str | None:
    """`action:value` as callback data, or None when it does not fit in 64 bytes."""
    data = f"{action}:{value}" if value else action
    if len(data.encode("utf-8")) > MAX_CALLBACK_DATA:
        return None
    return data


def decode_callback(data: str) -> tuple[str, str]:
    """Callback data back into (action, value); the value may itself contain colons."""
    action, _, value = data.partition(":")
    return action, value


def keyboard(buttons: Sequence[Button]) -> InlineKeyboardMarkup | None:
    """An inline keyboard for `buttons`, short labels sharing rows; None when there are none.

    A button whose callback data would not fit Telegram's limit is left out (and logged)
    rather than failing the whole message.
    """
    rows: list[list[InlineKeyboardButton]] = []
    row: list[InlineKeyboardButton] = []
    row_chars = 0
    for button in buttons:
        data = encode_callback(button.action, button.value)
        if data is None:
            log.warning("button %r left out: callback data over 64 bytes", button.action)
            continue
        width = len(button.label)
        if row and (len(row) >= ROW_BUTTONS or row_chars + width > ROW_LABEL_CHARS):
            rows.append(row)
            row, row_chars = [], 0
        row.append(InlineKeyboardButton(button.label, callback_data=data))
        row_chars += width
    if row:
        rows.append(row)
    return InlineKeyboardMarkup(rows) if rows else None
