"""Personal data out of prompts: stable placeholders per ticket, restored in what agents see.

Before any text leaves for a language model, e-mail addresses, phone numbers (Polish and
international), payment card numbers (Luhn-valid only), IBANs and Polish account numbers
(mod-97 valid), PESEL and NIP numbers (valid checksums only) are replaced by placeholders such
as `[EMAIL_1]`. One `Redactor` serves one ticket: the same value always gets the same
placeholder, and `restore()` puts the originals back into the model's draft.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import date

KINDS = ("EMAIL", "IBAN", "CARD", "PESEL", "NIP", "PHONE")
PLACEHOLDER = re.compile(r"\[(EMAIL|IBAN|CARD|PESEL|NIP|PHONE)_(\d{1,4})\]")

# Kinds that never belong in a curated knowledge passage: a draft repeating one taken from a
# passage carries someone else's identity or payment data.
SENSITIVE = frozenset({"CARD", "PESEL"})

IBAN_LENGTHS = {
    "AD": 24, "AE": 23, "AL": 28, "AT": 20, "AZ": 28, "BA": 20, "BE": 16, "BG": 22, "BH": 22,
    "BR": 29, "BY": 28, "CH": 21, "CR": 22, "CY": 28, "CZ": 24, "DE": 22, "DK": 18, "DO": 28,
    "EE": 20, "EG": 29, "ES": 24, "FI": 18, "FO": 18, "FR": 27, "GB": 22, "GE": 22, "GI": 23,
    "GL": 18, "GR": 27, "GT": 28, "HR": 21, "HU": 28, "IE": 22, "IL": 23, "IQ": 23, "IS": 26,
    "IT": 27, "JO": 30, "KW": 30, "KZ": 20, "LB": 28, "LC": 32, "LI": 21, "LT": 20, "LU": 20,
    "LV": 21, "MC": 27, "MD": 24, "ME": 22, "MK": 19, "MR": 27, "MT": 31, "MU": 30, "NL": 18,
    "NO": 15, "PK": 24, "PL": 28, "PS": 29, "PT": 25, "QA": 29, "RO": 24, "RS": 22, "SA": 24,
    "SC": 31, "SE": 24, "SI": 19, "SK": 24, "SM": 27, "ST": 25, "SV": 28, "TL": 23, "TN": 24,
    "TR": 26, "UA": 29, "VA": 22, "VG": 24, "XK": 20,
}  # fmt: skip


def luhn_valid(digits: str) -> bool:
    """True when `digits` (13-19 of them) pass the Luhn check used by payment cards."""
    if not digits.isdigit() or not 13 <= len(digits) <= 19:
        return False
    total = 0
    for i, ch in enumerate(reversed(digits)):
        n = int(ch)
        if i % 2 == 1:
            n = n * 2 - 9 if n > 4 else n * 2
        total += n
    return total % 10 == 0


def iban_valid(iban: str) -> bool:
    """True for an IBAN of its country's length whose mod-97 check gives 1."""
    compact = re.sub(r"[\s-]", "", iban).upper()
    country = compact[:2]
    if IBAN_LENGTHS.get(country) != len(compact) or not compact[2:4].isdigit():
        return False
    if not compact.isalnum():
        return False
    rearranged = compact[4:] + compact[:4]
    number = "".join(str(int(ch, 36)) for ch in rearranged)
    return int(number) % 97 == 1


def pesel_valid(pesel: str) -> bool:
    """True for an 11-digit PESEL with a valid check digit and a real date of birth."""
    if len(pesel) != 11 or not pesel.isdigit():
        return False
    weights = (1, 3, 7, 9, 1, 3, 7, 9, 1, 3)
    check = (10 - sum(int(d) * w for d, w in zip(pesel, weights, strict=False)) % 10) % 10
    if check != int(pesel[10]):
        return False
    year, month, day = int(pesel[0:2]), int(pesel[2:4]), int(pesel[4:6])
    century = {0: 1900, 20: 2000, 40: 2100, 60: 2200, 80: 1800}.get((month - 1) // 20 * 20)
    if century is None:
        return False
    try:
        date(century + year, (month - 1) % 20 + 1, day)
    except ValueError:
        return False
    return True


def nip_valid(nip: str) -> bool:
    """True for a 10-digit Polish NIP whose weighted checksum matches its last digit."""
    digits = re.sub(r"\D", "", nip)
    if len(digits) != 10:
        return False
    weights = (6, 5, 7, 2, 3, 4, 5, 6, 7)
    check = sum(int(d) * w for d, w in zip(digits, weights, strict=False)) % 11
    return check != 10 and check == int(digits[9])


@dataclass(frozen=True)
class Finding:
    """One piece of personal data found in a text."""

    kind: str
    start: int
    end: int
    value: str

    @property
    def key(self) -> str:
        """The value normalised, so different spellings of one number share a placeholder."""
        if self.kind == "EMAIL":
            return self.value.lower()
        if self.kind == "IBAN":
            compact = re.sub(r"[\s-]", "", self.value).upper()
            return "PL" + compact if compact[:2].isdigit() else compact
        return re.sub(r"\D", "", self.value)


_EMAIL = re.compile(r"(?<![\w.+-])[\w.%+-]+@[A-Za-z0-9-]+(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}")
_IBAN_START = re.compile(r"(?<![A-Za-z0-9])([A-Za-z]{2})(\d{2})")
_NRB = re.compile(r"(?<![\w+])\d{2}(?:[ ]?\d{4}){6}(?![\w])")
# A card number stands alone: not glued to other digit groups (part of a longer number).
_CARD = re.compile(r"(?<![\w+])(?<!\d[ -])[1-9](?:[ -]?\d){12,18}(?![\w])(?![ -]\d)")
_PHONE_INTL = re.compile(r"(?<![\w+])(?:\+|00)[1-9]\d{0,2}(?:[ .-]?\(?\d{1,4}\)?){2,6}(?![\w])")
_PESEL = re.compile(r"(?<![\w+])\d{11}(?![\w])")
_NIP = re.compile(
    r"(?<![\w+-])(?:PL ?)?(?:\d{3}-?\d{3}-?\d{2}-?\d{2}|\d{3}-\d{2}-\d{2}-\d{3})(?![\w-])"
)
_PHONE_PL = re.compile(
    r"(?<![\w+-])(?:\(?\d{2}\)?[ -]\d{3}[ -]\d{2}[ -]\d{2}|\d{3}[ -]\d{3}[ -]\d{3})(?![\w-])"
)
_PHONE_CONTEXT = re.compile(
    r"(?i:tel\.?|telefon\w*|phone|mobile|cell|komórk\w*|komork\w*|zadzwo\w*|call me)"
    r"[^\d\n]{0,12}(?<![\w+])(\d{9})(?![\w])"
)


def _iban_candidates(text: str) -> Iterator[tuple[int, int]]:
    for match in _IBAN_START.finditer(text):
        length = IBAN_LENGTHS.get(match.group(1).upper())
        if length is None:
            continue
        pos, taken = match.start(), 0
        while pos < len(text) and taken < length:
            ch = text[pos]
            if ch.isalnum() and ch.isascii():
                taken += 1
            elif not (ch == " " and taken % 4 == 0 and taken > 0):
                break
            pos += 1
        if taken == length and (pos == len(text) or not text[pos].isalnum()):
            yield match.start(), pos


def find_pii(text: str) -> list[Finding]:
    """Every piece of personal data in `text`, in order, non-overlapping (first kind wins)."""
    findings: list[Finding] = []
    taken: list[tuple[int, int]] = []

    def free(start: int, end: int) -> bool:
        return all(end <= s or start >= e for s, e in taken)

    def add(kind: str, start: int, end: int) -> None:
        if free(start, end):
            findings.append(Finding(kind, start, end, text[start:end]))
            taken.append((start, end))

    def scan(
        kind: str, pattern: re.Pattern[str], check: Callable[[str], bool], group: int = 0
    ) -> None:
        for m in pattern.finditer(text):
            if check(m.group(group)):
                add(kind, m.start(group), m.end(group))

    scan("EMAIL", _EMAIL, lambda _v: True)
    for start, end in _iban_candidates(text):
        if iban_valid(text[start:end]):
            add("IBAN", start, end)
    scan("IBAN", _NRB, lambda v: iban_valid("PL" + re.sub(r"\D", "", v)))
    scan("PHONE", _PHONE_INTL, lambda v: 8 <= len(re.sub(r"\D", "", v)) <= 15)
    scan("CARD", _CARD, lambda v: luhn_valid(re.sub(r"\D", "", v)))
    scan("PESEL", _PESEL, pesel_valid)
    scan("NIP", _NIP, nip_valid)
    scan("PHONE", _PHONE_PL, lambda _v: True)
    scan("PHONE", _PHONE_CONTEXT, lambda _v: True, group=1)
    findings.sort(key=lambda f: f.start)
    return findings


@dataclass
class Redactor:
    """Placeholders for one ticket: `redact()` text going out, `restore()` text coming back."""

    _by_key: dict[tuple[str, str], str] = field(default_factory=dict)
    _originals: dict[str, str] = field(default_factory=dict)
    _origins: dict[str, set[str]] = field(default_factory=dict)
    _counters: dict[str, int] = field(default_factory=dict)

    def redact(self, text: str, origin: str = "ticket") -> str:
        """`text` with each piece of personal data replaced by its stable placeholder.

        `origin` records where the value was seen ("ticket" for the conversation, "reference"
        for knowledge passages, guidelines and signatures) so output checks can tell them apart.
        """
        findings = find_pii(text)
        if not findings:
            return text
        out: list[str] = []
        last = 0
        for finding in findings:
            out.append(text[last : finding.start])
            out.append(self._placeholder(finding, origin))
            last = finding.end
        out.append(text[last:])
        return "".join(out)

    def _placeholder(self, finding: Finding, origin: str) -> str:
        key = (finding.kind, finding.key)
        placeholder = self._by_key.get(key)
        if placeholder is None:
            number = self._counters.get(finding.kind, 0) + 1
            self._counters[finding.kind] = number
            placeholder = f"[{finding.kind}_{number}]"
            self._by_key[key] = placeholder
            self._originals[placeholder] = finding.value
        self._origins.setdefault(placeholder, set()).add(origin)
        return placeholder

    def restore(self, text: str) -> str:
        """`text` with this ticket's placeholders replaced by the original values.

        Placeholders this ticket never issued are left as they are (see `unknown_placeholders`).
        """
        return PLACEHOLDER.sub(lambda m: self._originals.get(m.group(0), m.group(0)), text)

    def unknown_placeholders(self, text: str) -> list[str]:
        """Placeholders in `text` that this ticket never issued (invented or someone else's)."""
        return [m.group(0) for m in PLACEHOLDER.finditer(text) if m.group(0) not in self._originals]

    def origins(self, placeholder: str) -> set[str]:
        """Where the value behind `placeholder` was seen ("ticket", "reference")."""
        return set(self._origins.get(placeholder, set()))

    def known_keys(self) -> set[tuple[str, str]]:
        """(kind, normalised value) of everything redacted so far."""
        return set(self._by_key)

    @property
    def mapping(self) -> dict[str, str]:
        """Placeholder -> original value, for tests and audits (never sent anywhere)."""
        return dict(self._originals)
