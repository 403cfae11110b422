"""Splitting long texts at 4096 characters, inline keyboards and callback data."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from bots.messages import Button
from bots.telegram.render import (
    decode_callback,
    encode_callback,
    keyboard,
    split_text,
    utf16_len,
)


def test_short_text_is_one_piece() -> None:
    assert split_text("Hello") == ["Hello"]
    assert split_text("x" * 4096) == ["x" * 4096]


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    one, two, three = "a" * 3000, "b" * 3000, "c" * 1000
    assert split_text(f"{one}\n\n{two}\n\n{three}") == [one, f"{two}\n\n{three}"]


def test_a_long_paragraph_is_cut_at_a_line_then_at_a_space() -> None:
    lines = "\n".join(["line " * 100] * 20)  # one paragraph, 10k chars
    pieces = split_text(lines)
    assert all(utf16_len(p) <= 4096 for p in pieces)
    assert all(p.startswith("line") for p in pieces)
    words = "word " * 2000
    assert all(p.startswith("word") and not p.endswith(" wo") for p in split_text(words))


def test_a_text_without_spaces_is_cut_hard() -> None:
    assert split_text("z" * 9000) == ["z" * 4096, "z" * 4096, "z" * 808]


def test_emoji_count_as_two_like_telegram_counts_them() -> None:
    text = "😀" * 3000  # 6000 UTF-16 units
    pieces = split_text(text)
    assert [utf16_len(p) for p in pieces] == [4096, 1904]
    assert "".join(pieces) == text


@given(
    st.lists(
        st.text(alphabet=st.sampled_from("ab 😀\n"), min_size=0, max_size=900),
        min_size=1,
        max_size=12,
    ),
    st.integers(min_value=2, max_value=700),
)
def test_pieces_fit_and_lose_nothing_but_whitespace_at_cuts(parts: list[str], limit: int) -> None:
    text = "\n\n".join(parts)
    pieces = split_text(text, limit)
    assert all(0 < utf16_len(p) <= limit for p in pieces)
    assert all(p.strip() for p in pieces)
    assert re.sub(r"\s", "", "".join(pieces)) == re.sub(r"\s", "", text)


def test_callback_data_round_trips_and_respects_64_bytes() -> None:
    assert encode_callback("csat", "12:5") == "csat:12:5"
    assert decode_callback("csat:12:5") == ("csat", "12:5")
    assert decode_callback("kb_helped") == ("kb_helped", "")
    assert encode_callback("kb_helped", "x" * 54) is not None  # 10 + 54 = 64 bytes
    assert encode_callback("kb_helped", "x" * 55) is None
    assert encode_callback("a", "ż" * 32) is None  # 2 + 64 bytes in UTF-8


def test_keyboard_rows_and_oversized_buttons() -> None:
    assert keyboard(()) is None
    csat = keyboard([Button(str(n), "csat", f"7:{n}") for n in range(1, 6)])
    assert csat is not None
    assert [[b.callback_data for b in row] for row in csat.inline_keyboard] == [
        ["csat:7:1", "csat:7:2", "csat:7:3", "csat:7:4", "csat:7:5"]
    ]
    long_labels = keyboard(
        [
            Button("👍 Pomogło", "kb_helped", "3"),
            Button("👎 Porozmawiam z człowiekiem", "kb_human", "3"),
        ]
    )
    assert long_labels is not None and len(long_labels.inline_keyboard) == 2
    partial = keyboard([Button("ok", "a", "1"), Button("too big", "b", "x" * 80)])
    assert partial is not None
    assert [b.text for row in partial.inline_keyboard for b in row] == ["ok"]
