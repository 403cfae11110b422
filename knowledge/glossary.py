"""A word-for-word gloss of Polish helpdesk questions in English, for cross-lingual search.

When a Polish question meets an English-only article, the multilingual embedding alone often
misses ("gdzie jest moja paczka" vs "Tracking an order"). A gloss built from a helpdesk
vocabulary ("where is my package parcel") gives both the embedding and BM25 English words to
match. Words the vocabulary does not know are left out.
"""

from __future__ import annotations

import re
from functools import lru_cache
from importlib import resources

import yaml

from knowledge.lexical import STOP_WORDS, fold, polish_stem

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_PHRASE = 3


def _key(words: list[str]) -> tuple[str, ...]:
    return tuple(polish_stem(w) for w in words)


@lru_cache(maxsize=4)
def vocabulary(source: str = "pl") -> dict[tuple[str, ...], str]:
    """Stemmed Polish phrases (1 to 3 words) -> English words."""
    text = (
        resources.files("knowledge")
        .joinpath(f"data/glossary_{source}_en.yaml")
        .read_text(encoding="utf-8")
    )
    raw = yaml.safe_load(text) or {}
    table: dict[tuple[str, ...], str] = {}
    for polish, english in raw.items():
        words = _WORD.findall(fold(str(polish)))
        if not words or len(words) > MAX_PHRASE:
            continue
        key = _key(words)
        table[key] = f"{table[key]} {english}" if key in table else str(english)
    return table


def gloss(text: str, source: str = "pl") -> str:
    """English words for the Polish words of `text` that the vocabulary knows ('' if none)."""
    table = vocabulary(source)
    words = _WORD.findall(fold(text))
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(MAX_PHRASE, len(words) - i), 0, -1):
            key = _key(words[i : i + size])
            english = table.get(key)
            if english is not None:
                out.append(english)
                i += size
                break
        else:
            word = words[i]
            if word not in STOP_WORDS and word.isascii() and word.isalpha() and _brand(word):
                out.append(word)
            i += 1
    return " ".join(dict.fromkeys(" ".join(out).split()))


_BRANDS = frozenset(
    {"paypal", "visa", "mastercard", "blik", "apple", "google", "dhl", "ups", "dpd"}
)


def _brand(word: str) -> bool:
    return word in _BRANDS
