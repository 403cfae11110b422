"""The offline drafter: replies, summaries and tone changes by rules, with no language model.

Used when no model is configured and whenever the model fails or its draft is withheld. A reply
is a greeting and closing in the customer's language (Polish or English), the best knowledge
passage (with any sentence that tries to instruct an AI left out) and the agent's signature.
It never repeats what the customer wrote, so hostile instructions in a message cannot travel
into a draft. Every offline draft carries a notice saying it is one.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Sequence

from drafting.guard import looks_like_injection, sentences, without_instructions
from drafting.redaction import Redactor
from drafting.types import DraftContext, DraftOutput, Passage, TicketMessage, Tone

SUPPORTED = ("en", "pl")
STYLES = ("plain", "shorter", "friendlier", "formal")

PHRASES: dict[str, dict[str, dict[str, str]]] = {
    "en": {
        "greeting": {
            "plain": "Hello{name},",
            "shorter": "Hello{name},",
            "friendlier": "Hi{first}!",
            "formal": "Dear{name_or_customer},",
        },
        "thanks": {
            "plain": "Thank you for your message.",
            "shorter": "",
            "friendlier": "Thanks so much for getting in touch!",
            "formal": "Thank you for contacting us.",
        },
        "passage": {
            "plain": "Here is what our help centre says about this ({title}):",
            "shorter": "",
            "friendlier": "Good news, our help centre covers this ({title}):",
            "formal": "Please find below the relevant information from our help centre ({title}):",
        },
        "no_passage": {
            "plain": "We are looking into your request and will get back to you shortly.",
            "shorter": "We are looking into it and will reply shortly.",
            "friendlier": "We're on it and will get back to you very soon.",
            "formal": "We are reviewing your request and will respond as soon as possible.",
        },
        "follow_up": {
            "plain": "If this does not solve the problem, just reply to this message.",
            "shorter": "",
            "friendlier": "If anything is still unclear, just reply here and we'll help!",
            "formal": "Should you require any further assistance, please reply to this message.",
        },
        "closing": {
            "plain": "Best regards,",
            "shorter": "Best regards,",
            "friendlier": "Have a great day!",
            "formal": "Kind regards,",
        },
        "team": {"plain": "Customer Support"},
    },
    "pl": {
        "greeting": {
            "plain": "Dzień dobry{name},",
            "shorter": "Dzień dobry{name},",
            "friendlier": "Cześć{first}!",
            "formal": "Szanowni Państwo,",
        },
        "thanks": {
            "plain": "Dziękujemy za wiadomość.",
            "shorter": "",
            "friendlier": "Dzięki za wiadomość!",
            "formal": "Dziękujemy za kontakt z nami.",
        },
        "passage": {
            "plain": "Oto, co mówi na ten temat nasze centrum pomocy ({title}):",
            "shorter": "",
            "friendlier": "Dobra wiadomość: nasze centrum pomocy opisuje tę sprawę ({title}):",
            "formal": "Poniżej przekazujemy informacje z naszego centrum pomocy ({title}):",
        },
        "no_passage": {
            "plain": "Sprawdzamy zgłoszenie i wkrótce wrócimy z odpowiedzią.",
            "shorter": "Sprawdzamy zgłoszenie i wkrótce odpowiemy.",
            "friendlier": "Już się tym zajmujemy i niedługo się odezwiemy.",
            "formal": "Analizujemy zgłoszenie i udzielimy odpowiedzi najszybciej, jak to możliwe.",
        },
        "follow_up": {
            "plain": "Jeśli to nie rozwiąże problemu, prosimy odpowiedzieć na tę wiadomość.",
            "shorter": "",
            "friendlier": "Gdyby coś było niejasne, napisz śmiało, chętnie pomożemy!",
            "formal": "W razie dalszych pytań prosimy o odpowiedź na tę wiadomość.",
        },
        "closing": {
            "plain": "Pozdrawiamy,",
            "shorter": "Pozdrawiamy,",
            "friendlier": "Miłego dnia!",
            "formal": "Z wyrazami szacunku,",
        },
        "team": {"plain": "Zespół obsługi klienta"},
    },
}

OFFLINE_TEMPLATE = "offline"
OFFLINE_HASH = hashlib.sha256(
    json.dumps(PHRASES, sort_keys=True, ensure_ascii=False).encode("utf-8")
).hexdigest()

NEEDS_MODEL = (
    "translation needs a language model: set OPENAI_API_KEY or OPENAI_BASE_URL "
    "(the text is not translated)"
)

PASSAGE_CHARS = 700
SHORT_SENTENCES = 2

_EN_CONTRACTIONS = [
    ("do not", "don't"),
    ("does not", "doesn't"),
    ("did not", "didn't"),
    ("cannot", "can't"),
    ("will not", "won't"),
    ("is not", "isn't"),
    ("are not", "aren't"),
    ("we are", "we're"),
    ("you are", "you're"),
    ("I am", "I'm"),
    ("it is", "it's"),
    ("we will", "we'll"),
    ("you will", "you'll"),
    ("we have", "we've"),
    ("let us", "let's"),
]
_EMOJI = re.compile("[\U0001f300-\U0001faff\u2600-\u27bf\ufe0f]")
_HEADING = re.compile(r"^\s{0,3}#{1,6}\s+.*$", re.MULTILINE)
_EMPHASIS = re.compile(r"\*\*(.+?)\*\*|__(.+?)__")
_LIST_ITEM = re.compile(r"^(?:\d{1,2}[.)]|[-*•])\s+")
_STOPWORDS = frozenset(
    "a an the and or but if of to in on at for with from by is are was were be been it this "
    "that i you we my your our me us please hello hi thanks thank can could would will do "
    "does did not no have has had so as about just also there here what when how why "
    "i w z na nie się że do to jest jak co czy mam moje mój moja ale po o od dla przez "
    "jestem proszę dzień dobry dziękuję już tak bo go mi mnie ten ta te tego tej są był "
    "była".split()
)


def offline_notice(reason: str) -> str:
    """The line that tells the agent a draft was written without a model, and why."""
    return (
        f"Offline draft: written by rules, without an AI model ({reason}). Review before sending."
    )


def _language(code: str) -> str:
    return code if code in SUPPORTED else "en"


def _phrase(language: str, key: str, style: str, **values: str) -> str:
    table = PHRASES[_language(language)][key]
    return table.get(style, table["plain"]).format(**values)


def _name_values(name: str) -> dict[str, str]:
    clean = " ".join(name.split())
    if looks_like_injection(clean) or len(clean) > 60:
        clean = ""
    first = clean.split(" ")[0] if clean else ""
    return {
        "name": f" {clean}" if clean else "",
        "first": f" {first}" if first else "",
        "name_or_customer": f" {clean}" if clean else " Customer",
    }


def passage_text(passage: Passage, *, max_sentences: int | None = None) -> str:
    """A passage made fit for a reply: no headings, no Markdown emphasis, no instructions,
    bounded length; list items stay on their own lines."""
    body = _EMPHASIS.sub(lambda m: m.group(1) or m.group(2), _HEADING.sub("", passage.text))
    lines: list[str] = []
    for raw in body.splitlines():
        line = without_instructions(raw.strip())
        if not line or _is_heading(line):
            continue
        lines.append(line)
    out: list[str] = []
    used = count = 0
    for line in lines:
        parts = [line] if _LIST_ITEM.match(line) else sentences(line)
        kept: list[str] = []
        for part in parts:
            if max_sentences is not None and count >= max_sentences:
                break
            if out and used + len(part) + 1 > PASSAGE_CHARS:
                break
            kept.append(part)
            used += len(part) + 1
            count += 1
        if kept:
            out.append(" ".join(kept))
        if len(kept) < len(parts):
            break
    return "\n".join(out)


def _is_heading(line: str) -> bool:
    """A short line with no closing punctuation and no list marker reads as a heading."""
    return len(line) < 70 and not _LIST_ITEM.match(line) and not re.search(r"[.!?:;)\]]$", line)


def best_passage(passages: Sequence[Passage]) -> Passage | None:
    """The passage with the highest score (the first one on ties)."""
    best: Passage | None = None
    for passage in passages:
        if best is None or passage.score > best.score:
            best = passage
    return best


def reply(ctx: DraftContext, *, tone: Tone | None = None, reason: str) -> DraftOutput:
    """A reply by rules in the customer's language (English unless it is Polish)."""
    style = tone or "plain"
    language = _language(ctx.language)
    names = _name_values(ctx.customer_name)
    parts: list[str] = [_phrase(language, "greeting", style, **names)]
    body: list[str] = []
    thanks = _phrase(language, "thanks", style)
    if thanks:
        body.append(thanks)
    passage = best_passage(ctx.passages)
    cited: list[str] = []
    text = ""
    if passage is not None:
        limit = SHORT_SENTENCES if style == "shorter" else None
        text = passage_text(passage, max_sentences=limit)
    if passage is not None and text:
        intro = _phrase(language, "passage", style, title=passage.title)
        body.append(f"{intro}\n{text}" if intro else text)
        cited.append(passage.slug)
    else:
        body.append(_phrase(language, "no_passage", style))
    follow_up = _phrase(language, "follow_up", style)
    if follow_up:
        body.append(follow_up)
    parts.append("\n\n".join(body))
    signature = ctx.signature.strip() or _phrase(language, "team", "plain")
    parts.append(f"{_phrase(language, 'closing', style)}\n{signature}")
    notes = [reason]
    if ctx.language not in SUPPORTED:
        notes.append(f"offline drafts are in English or Polish; the customer writes {ctx.language}")
    return DraftOutput(
        kind="reply",
        text="\n\n".join(parts),
        language=language,
        offline=True,
        template=f"{OFFLINE_TEMPLATE}:reply",
        template_hash=OFFLINE_HASH,
        cited=cited,
        tone=tone,
        notice=offline_notice("; ".join(notes)),
        reason=reason,
    )


def _replace_first_line(text: str, language: str, style: str, names: dict[str, str]) -> str:
    lines = text.split("\n")
    if lines and re.match(r"^\s*\S.{0,60}[,!]\s*$", lines[0]):
        lines[0] = _phrase(language, "greeting", style, **names)
    return "\n".join(lines)


def _replace_closing(text: str, language: str, style: str) -> str:
    closings = {p for lang in PHRASES.values() for p in lang["closing"].values()}
    closings |= {"Best wishes,", "Regards,", "Cheers,", "Pozdrawiam,", "Serdecznie pozdrawiam,"}
    lines = text.split("\n")
    for i in range(len(lines) - 1, max(-1, len(lines) - 5), -1):
        if lines[i].strip() in closings:
            lines[i] = _phrase(language, "closing", style)
            break
    return "\n".join(lines)


def _match_case(word: str, replacement: str) -> str:
    return replacement[0].upper() + replacement[1:] if word[0].isupper() else replacement


def _swap(text: str, pairs: Sequence[tuple[str, str]]) -> str:
    for source, target in pairs:
        pattern = re.compile(rf"\b{re.escape(source)}\b", re.IGNORECASE)

        def swap(match: re.Match[str], target: str = target) -> str:
            return _match_case(match.group(0), target)

        text = pattern.sub(swap, text)
    return text


def _shorten(text: str) -> str:
    paragraphs = [p for p in text.split("\n\n") if p.strip()]
    if len(paragraphs) <= 2:
        kept = sentences(text)
        return " ".join(kept[: SHORT_SENTENCES + 1])
    head, *body, tail = paragraphs
    body_sentences = [s for p in body for s in sentences(p)]
    return "\n\n".join([head, " ".join(body_sentences[: SHORT_SENTENCES + 1]), tail])


def retone(text: str, tone: Tone, language: str, *, customer_name: str = "") -> str:
    """`text` rewritten by rules: shorter, friendlier or more formal."""
    lang = _language(language)
    names = _name_values(customer_name)
    if tone == "shorter":
        return _shorten(text)
    out = _replace_first_line(text, lang, tone, names)
    out = _replace_closing(out, lang, tone)
    if tone == "friendlier":
        if lang == "en":
            out = _swap(out, _EN_CONTRACTIONS)
        return out
    # formal
    if lang == "en":
        out = _swap(out, [(short, long) for long, short in _EN_CONTRACTIONS])
    else:
        out = _swap(
            out, [("dzięki", "dziękujemy"), ("cześć", "dzień dobry"), ("hej", "dzień dobry")]
        )
    out = _EMOJI.sub("", out)
    out = re.sub(r"!+", ".", out)
    return re.sub(r"[ \t]+\n", "\n", out)


def retone_output(
    text: str, tone: Tone, ctx: DraftContext, *, reason: str, cited: Sequence[str] = ()
) -> DraftOutput:
    """A tone change by rules, as a draft."""
    return DraftOutput(
        kind="tone",
        text=retone(text, tone, ctx.language, customer_name=ctx.customer_name),
        language=ctx.language,
        offline=True,
        template=f"{OFFLINE_TEMPLATE}:tone",
        template_hash=OFFLINE_HASH,
        cited=list(cited),
        tone=tone,
        notice=offline_notice(reason),
        reason=reason,
    )


def untranslated(
    text: str, ctx: DraftContext, target: str, *, reason: str = NEEDS_MODEL
) -> DraftOutput:
    """What translation gives without a model: the text as it is, saying why."""
    return DraftOutput(
        kind="translation",
        text=text,
        language=ctx.language,
        offline=True,
        template=f"{OFFLINE_TEMPLATE}:translate",
        template_hash=OFFLINE_HASH,
        notice=f"Not translated into {target}: {reason}.",
        reason=reason,
        flags=["not_translated"],
    )


def _content_words(sentence: str) -> list[str]:
    return [
        w for w in re.findall(r"[^\W\d_]+", sentence.lower()) if len(w) > 2 and w not in _STOPWORDS
    ]


def key_sentences(messages: Sequence[TicketMessage], limit: int = 3) -> list[str]:
    """The `limit` most telling sentences the customer wrote, in the order written.

    Scores each sentence by how often its content words recur across the customer's messages;
    the opening sentence gets a bonus (it usually states the problem); sentences that try to
    instruct an AI are never picked.
    """
    candidates: list[tuple[int, str]] = []
    for message in messages:
        if message.author != "customer":
            continue
        for sentence in sentences(message.text):
            if len(sentence.split()) >= 3 and not looks_like_injection(sentence):
                candidates.append((len(candidates), sentence))
    if not candidates:
        return []
    freq = Counter(w for _, s in candidates for w in set(_content_words(s)))
    scored = []
    for index, sentence in candidates:
        words = _content_words(sentence)
        score = sum(freq[w] for w in words) / max(1.0, len(words) ** 0.5)
        if index == 0:
            score *= 1.5
        scored.append((score, index, sentence))
    top = sorted(scored, key=lambda t: (-t[0], t[1]))[:limit]
    return [sentence for _, _, sentence in sorted(top, key=lambda t: t[1])]


def summary(ctx: DraftContext, *, reason: str, handoff_reason: str = "") -> DraftOutput:
    """An extractive hand-off summary for agents (in English)."""
    lines = []
    if handoff_reason:
        lines.append(f"- Handed over: {handoff_reason}")
    picked = key_sentences(ctx.messages)
    if picked:
        lines.append("- Customer wrote: " + " … ".join(f"“{s}”" for s in picked))
    counts = Counter(m.author for m in ctx.messages if not m.internal)
    notes = sum(1 for m in ctx.messages if m.internal)
    lines.append(
        f"- Messages: {counts['customer']} from the customer, {counts['bot']} from the bot, "
        f"{counts['agent']} from agents, {notes} internal notes"
    )
    agent_replies = [m for m in ctx.messages if m.author == "agent" and not m.internal]
    if agent_replies:
        first = sentences(agent_replies[-1].text)
        if first:
            lines.append(f"- Last agent reply: “{first[0]}”")
    flagged = [m for m in ctx.customer_messages if looks_like_injection(m.text)]
    if flagged:
        lines.append(
            f"- Caution: {len(flagged)} customer message(s) try to instruct the AI; "
            "left out of this summary"
        )
    # The bot's own messages ("passing this to a person") answer no one: who waits is
    # whoever did not write last of the customer and the agents.
    people = [m for m in ctx.messages if not m.internal and m.author in ("customer", "agent")]
    if people:
        waiting = "an agent" if people[-1].author == "customer" else "the customer"
        lines.append(f"- Waiting for: {waiting}")
    return DraftOutput(
        kind="summary",
        text="\n".join(lines),
        language="en",
        offline=True,
        template=f"{OFFLINE_TEMPLATE}:summary",
        template_hash=OFFLINE_HASH,
        notice=offline_notice(reason),
        reason=reason,
    )


def kb_article(ctx: DraftContext, *, reason: str, redact: bool = True) -> DraftOutput:
    """A skeleton article from a resolved ticket: the question asked and the agent's answer."""
    scrub = Redactor()

    def clean(text: str) -> str:
        return re.sub(r"\[[A-Z]+_\d+\]", "…", scrub.redact(text)) if redact else text

    question = ""
    picked = key_sentences(ctx.messages, limit=1)
    if picked:
        question = clean(picked[0])
    answers = [m for m in ctx.messages if m.author == "agent" and not m.internal]
    answer = clean(without_instructions(answers[-1].text)) if answers else ""
    title = ctx.subject.strip() or (question[:80] if question else f"Ticket {ctx.ticket_number}")
    title = clean(title).replace('"', "'")
    body = answer or "(no agent reply to build the answer from)"
    text = (
        "---\n"
        f'title: "{title}"\n'
        f"language: {ctx.language}\n"
        "questions:\n"
        f'  - "{question.replace(chr(34), chr(39))}"\n'
        "---\n"
        f"{body}\n"
    )
    return DraftOutput(
        kind="kb_article",
        text=text,
        language=ctx.language,
        offline=True,
        template=f"{OFFLINE_TEMPLATE}:kb_article",
        template_hash=OFFLINE_HASH,
        notice=offline_notice(reason),
        reason=reason,
        title=title,
    )
