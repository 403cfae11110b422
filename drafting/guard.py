"""Prompt-injection defences we control: spotting instructions in data, checking model output.

The model is never trusted to obey: customer text and passages go out delimited and escaped
(see `prompts/`), and what comes back is checked here before an agent sees it. A draft that
leaks the instructions, carries personal data that is not this ticket's, or promises money
back that no passage or agent offered is withheld (the offline draft is shown instead).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from drafting.redaction import PLACEHOLDER, SENSITIVE, Redactor, find_pii

# Each rule: words that must occur (a cheap test on the lower-cased text), then the pattern.
_INJECTION_RULES: list[tuple[tuple[str, ...], str]] = [
    (
        ("ignor", "disregard", "forget", "override", "bypass"),
        r"\b(?:ignore|disregard|forget|override|bypass)\b[^.!?\n]{0,40}"
        r"\b(?:instructions?|rules|prompts?|guidelines|polic(?:y|ies)|directives?)\b",
    ),
    (
        ("system", "developer", "hidden", "initial"),
        r"\b(?:system|developer|hidden|initial)\s+(?:prompt|instructions?)\b",
    ),
    (
        ("reveal", "print", "show", "repeat", "output", "leak"),
        r"\b(?:reveal|print|show|repeat|output|leak)\b[^.!?\n]{0,30}"
        r"\b(?:prompt|instructions?|rules|configuration)\b",
    ),
    (("now",), r"\byou\s+are\s+now\b"),
    (("act",), r"\bact\s+as\s+(?:an?\s+)?(?:admin|developer|system|dan)\b"),
    (("jailbreak",), r"jailbreak"),
    (("mode",), r"\b(?:dan|developer)\s+mode\b"),
    (("instruction",), r"\bnew\s+instructions?\s*:"),
    (("im_", "[inst]", "[/inst]", "<"), r"<\|?im_(?:start|end)\|?>|\[/?inst\]"),
    (("<",), r"</?(?:system|ticket_message|kb_passage|draft|agent_signature)\b"),
    (("system", "assistant"), r"(?m)^\s*(?:system|assistant)\s*:"),
    (
        ("ignoruj", "pomiń", "pomin", "zapomnij"),
        r"\b(?:z?ignoruj|pomiń|pomin|zapomnij)\b[^.!?\n]{0,40}"
        r"\b(?:instrukcj\w*|polece\w*|zasad\w*|reguł\w*|regul\w*)",
    ),
    (("prompt",), r"\bprompt\w*\s+systemow\w*"),
    (("teraz",), r"\bjeste[śs]\s+teraz\b"),
    (
        ("ujawnij", "pokaż", "pokaz", "wypisz"),
        r"\b(?:ujawnij|pokaż|pokaz|wypisz)\b[^.!?\n]{0,30}\b(?:prompt|instrukcj|zasad)",
    ),
    # asking for someone else's data
    (
        ("customer", "client", "user"),
        r"\b(?:previous|other|another|last)\s+(?:customer|client|user)",
    ),
    (
        (" of ",),
        r"\b(?:data|details|e-?mail|phone|address)\w*\s+of\s+(?:the\s+)?"
        r"(?:previous|other|another)",
    ),
    (("klient",), r"\bdane\w*\s+(?:poprzedni\w*|inn\w*)\s+klient"),
]
_INJECTION = [(words, re.compile(pattern)) for words, pattern in _INJECTION_RULES]

# Money back or something for free: a draft may offer it only when a passage or agent did.
PROMISES = {
    "refund": re.compile(
        r"(?i)\brefund\w*|\breimburs\w*|\bmoney\s+back\b|\bzwrot\w*\s+(?:pieniędzy|pieniedzy|"
        r"środków|srodkow|kosztów|kosztow|należności|naleznosci|płatności|platnosci)"
        r"|\bzwrócimy\s+(?:pieniądze|pieniadze|środki|srodki|koszt\w*)|\boddamy\s+pieniądze"
    ),
    "compensation": re.compile(
        r"(?i)\bcompensat\w*|\brekompensat\w*|\bodszkodowani\w*|\bzadośćuczynieni\w*"
    ),
    "discount": re.compile(
        r"(?i)\bdiscount\w*|\bvoucher\w*|\bcoupon\w*|\bgift\s+card\w*|\bstore\s+credit\b"
        r"|\brabat\w*|\bzniżk\w*|\bznizk\w*|\bkupon\w*|\bbon\w*\s+(?:rabatow\w*|podarunkow\w*)"
    ),
    "free": re.compile(
        r"(?i)\bfree\s+of\s+charge\b|\bat\s+no\s+(?:extra\s+)?cost\b|\bfor\s+free\b"
        r"|\bza\s+darmo\b|\bbezpłatn\w*|\bbezplatn\w*|\bgratis\w*"
    ),
}
_NEGATION = re.compile(
    r"(?i)\b(?:not|cannot|can't|can ?not|unable|no|never|unfortunately|won't|isn't|aren't)\b"
    r"|\b(?:nie|niestety|brak)\b"
)
_SENTENCE = re.compile(r"[^.!?\n]+[.!?]*")
_WORD = re.compile(r"[^\W_]+", re.UNICODE)

WITHHOLD = frozenset(
    {"system_prompt_leak", "foreign_personal_data", "unsupported_promise", "sensitive_reference"}
)


def looks_like_injection(text: str) -> bool:
    """True when `text` tries to instruct an AI (ignore the rules, reveal the prompt, …)."""
    lowered = text.lower()
    return any(
        pattern.search(lowered) is not None
        for words, pattern in _INJECTION
        if any(word in lowered for word in words)
    )


def sentences(text: str) -> list[str]:
    """`text` cut into sentences (by . ! ? and line breaks), trimmed, empty ones dropped."""
    return [s.strip() for s in _SENTENCE.findall(text) if s.strip()]


def without_instructions(text: str) -> str:
    """`text` with every sentence that tries to instruct an AI left out."""
    if not looks_like_injection(text):
        return text
    kept = [s for s in sentences(text) if not looks_like_injection(s)]
    return " ".join(kept)


def promises(text: str) -> set[str]:
    """Kinds of promise (refund, compensation, discount, free) made in `text`, not negated."""
    found: set[str] = set()
    for sentence in sentences(text):
        for kind, pattern in PROMISES.items():
            if pattern.search(sentence) and not _NEGATION.search(sentence):
                found.add(kind)
    return found


# What counts as a passage or agent offering it: looser than a promise, any wording will do.
GROUNDS = {
    "refund": re.compile(r"(?i)\brefund|\breimburs|\bmoney\s+back|\bzwrot|\bzwróc|\bzwroc"),
    "compensation": re.compile(r"(?i)\bcompensat|\brekompensat|\bodszkodow|\bzadośćuczyn"),
    "discount": re.compile(
        r"(?i)\bdiscount|\bvoucher|\bcoupon|\bgift\s+card|\bcredit|\brabat|\bzniżk|\bznizk"
        r"|\bkupon|\bbon\b"
    ),
    "free": re.compile(
        r"(?i)\bfree\b|\bno\s+(?:extra\s+)?(?:cost|charge)|\bbezpłatn|\bbezplatn|\bza\s+darmo"
        r"|\bgratis|\bnie\s+płacisz|\bnic\s+nie\s+kosztuje|\bna\s+nasz\s+koszt|\bat\s+our\s+cost"
    ),
}


def mentions(texts: Iterable[str]) -> set[str]:
    """Kinds of promise a supporting text offers (in any wording, negated or not)."""
    joined = "\n".join(texts)
    return {kind for kind, pattern in GROUNDS.items() if pattern.search(joined)}


def _shingles(text: str, size: int = 8) -> set[tuple[str, ...]]:
    words = [w.lower() for w in _WORD.findall(text)]
    return {tuple(words[i : i + size]) for i in range(len(words) - size + 1)}


@dataclass
class Verdict:
    """What the output check found; `withheld` drafts must not be shown as the model's."""

    flags: list[str] = field(default_factory=list)
    reasons: list[str] = field(default_factory=list)

    @property
    def withheld(self) -> bool:
        return any(flag in WITHHOLD for flag in self.flags)

    def add(self, flag: str, reason: str) -> None:
        if flag not in self.flags:
            self.flags.append(flag)
            self.reasons.append(reason)


def check_output(
    output: str,
    *,
    redactor: Redactor,
    system_prompt: str,
    canary: str,
    support: Iterable[str],
) -> Verdict:
    """Check a model's draft (still in placeholder form) before anyone sees it.

    `support` holds the texts that may ground a promise: the knowledge passages, the
    department guidelines and the agents' own messages (minus any sentence in them that
    tries to instruct the model).
    """
    verdict = Verdict()
    leaked = bool(canary) and canary in output
    if leaked or len(_shingles(system_prompt) & _shingles(output)) >= 2:
        verdict.add("system_prompt_leak", "it repeats the hidden instructions")
    unknown = redactor.unknown_placeholders(output)
    if unknown:
        verdict.add(
            "foreign_personal_data",
            f"it refers to personal data that is not this ticket's ({', '.join(unknown[:3])})",
        )
    raw = [f for f in find_pii(output) if (f.kind, f.key) not in redactor.known_keys()]
    if raw:
        verdict.add(
            "foreign_personal_data",
            f"it contains personal data that is not this ticket's ({raw[0].kind.lower()})",
        )
    for match in PLACEHOLDER.finditer(output):
        if match.group(1) in SENSITIVE and redactor.origins(match.group(0)) == {"reference"}:
            verdict.add(
                "sensitive_reference",
                f"it repeats a {match.group(1).lower()} number found in a knowledge passage",
            )
    # A sentence that tries to instruct the model supports nothing.
    unsupported = promises(output) - mentions(without_instructions(t) for t in support)
    if unsupported:
        verdict.add(
            "unsupported_promise",
            f"it offers {', '.join(sorted(unsupported))} that no passage or agent offered",
        )
    return verdict
