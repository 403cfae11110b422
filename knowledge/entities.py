"""The values in a text that say nothing about its topic, masked before matching.

"I need the invoice from Mr. Jones" and "I need the invoice #85632" ask the same thing, but a
person's name or an order number that happens to appear in one article's example questions
(or in its body) pulls the question towards that article, whatever it asks. So before a text
is embedded or searched, both on the question's side and on the articles', people named with
a title (Mr., Ms., Dr., Pan, Pani...), order, invoice and phone numbers, dates written in
digits and sums of money are replaced by a neutral word ("number", the currency's name). The
customer's text, the stored articles and the passages shown are never changed.
"""

from __future__ import annotations

import re

_CAPITAL = "A-ZĄĆĘŁŃÓŚŹŻ"
# A title followed by one or two capitalised words ("Mr. Jones", "Pani Anna Kowalska").
_TITLED_NAME = re.compile(
    r"\b(?:Mr|Mrs|Ms|Mx|Dr|Prof|Pan|Pani|Pana|Panu|Panią|Panem)\.?\s+"
    rf"[{_CAPITAL}][\w'’-]+(?:\s+[{_CAPITAL}][\w'’-]+)?"
)
_CURRENCY_WORDS = (
    r"dollars?|usd|euros?|eur|pounds?|gbp|złotych|zlotych|złote|zlote|złoty|zloty|zł|zl|pln"
)
_AMOUNT_THEN_CURRENCY = re.compile(
    rf"(?<![\w#])\d[\d,.]*(?:\s?(?:k|tys\.?))?\s?({_CURRENCY_WORDS})\b", re.IGNORECASE
)
_SYMBOL_THEN_AMOUNT = re.compile(r"([$€£])\s?\d[\d,.]*(?:\s?k\b)?")
_SYMBOL_NAMES = {"$": "dollars", "€": "euros", "£": "pounds"}
# "#85632", "#INV-2024-7", and four or more digits, maybe one space, dot, slash or dash
# between them ("113542617735902", "2024-03-01", "15.03.2024", "600 100 200").
_NUMBER = re.compile(r"#\s?[\w-]*\d[\w-]*|(?<![\w#])\d(?:[ ./-]?\d){3,}(?!\w)")
_NUMBER_WORD = {"pl": "numer"}
_SPACES = re.compile(r"[ \t]{2,}")


def neutral(text: str, language: str = "en") -> str:
    """`text` with names, numbers and amounts replaced by neutral words (in `language`);
    `text` itself when nothing but such values would be left."""
    masked = _TITLED_NAME.sub(" ", text)
    masked = _AMOUNT_THEN_CURRENCY.sub(lambda m: f" {m.group(1).lower()} ", masked)
    masked = _SYMBOL_THEN_AMOUNT.sub(lambda m: f" {_SYMBOL_NAMES[m.group(1)]} ", masked)
    masked = _NUMBER.sub(f" {_NUMBER_WORD.get(language, 'number')} ", masked)
    masked = _SPACES.sub(" ", masked).strip()
    return masked if any(ch.isalpha() for ch in masked) else text
