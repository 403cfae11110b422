"""A word-for-word gloss of Polish helpdesk questions in English, for cross-lingual search.

When a Polish question meets an English-only article, the multilingual embedding alone often
misses ("gdzie jest moja paczka" vs "Tracking an order"). A gloss built from a helpdesk
vocabulary ("where is my package parcel") gives both the embedding and BM25 English words to
match. Words the vocabulary does not know are left out.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from functools import lru_cache
from importlib import resources

import yaml

from knowledge.lexical import STOP_WORDS, fold, polish_stem

_WORD = re.compile(r"[^\W_]+", re.UNICODE)
MAX_PHRASE = 3


def _key(words: list[str]) -> tuple[str, ...]:
    return tuple(polish_stem(w) for w in words)


def _shared_beginning(a: str, b: str) -> int:
    """How many leading characters `a` and `b` have in common."""
    for i, (x, y) in enumerate(zip(a, b, strict=False)):
        if x != y:
            return i
    return min(len(a), len(b))


@dataclass(frozen=True)
class Vocabulary:
    """Polish phrases (1 to 3 words) -> English words, found by their exact (folded) words
    first, then by their stems; where different entries cut to the same stem (``reklamacja``
    complaint and ``reklamowe`` marketing both become ``reklam``), the ones sharing the
    longest beginning with the text win (``reklamowych`` -> marketing)."""

    exact: dict[tuple[str, ...], str]
    stems: dict[tuple[str, ...], list[tuple[str, str]]]

    def get(self, words: list[str]) -> str | None:
        found = self.exact.get(tuple(words))
        if found is not None:
            return found
        entries = self.stems.get(_key(words))
        if not entries:
            return None
        text = " ".join(words)
        shared = [_shared_beginning(text, phrase) for phrase, _ in entries]
        longest = max(shared)
        return " ".join(
            english for (_, english), n in zip(entries, shared, strict=True) if n == longest
        )


@lru_cache(maxsize=4)
def vocabulary(source: str = "pl") -> Vocabulary:
    """The glossary `glossary_<source>_en.yaml`."""
    text = (
        resources.files("knowledge")
        .joinpath(f"data/glossary_{source}_en.yaml")
        .read_text(encoding="utf-8")
    )
    raw = yaml.safe_load(text) or {}
    exact: dict[tuple[str, ...], str] = {}
    stems: dict[tuple[str, ...], list[tuple[str, str]]] = {}
    for polish, english in raw.items():
        words = _WORD.findall(fold(str(polish)))
        if not words or len(words) > MAX_PHRASE:
            continue
        exact[tuple(words)] = str(english)
        stems.setdefault(_key(words), []).append((" ".join(words), str(english)))
    return Vocabulary(exact, stems)


def gloss(text: str, source: str = "pl") -> str:
    """English words for the Polish words of `text` that the vocabulary knows ('' if none)."""
    table = vocabulary(source)
    words = _WORD.findall(fold(text))
    out: list[str] = []
    i = 0
    while i < len(words):
        for size in range(min(MAX_PHRASE, len(words) - i), 0, -1):
            english = table.get(words[i : i + size])
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
