"""Drafts for agents: replies, hand-off summaries, tone changes, translations, KB articles.

`Drafter` builds each prompt from the templates in `prompts/` (redacted, delimited, within a
token budget), asks the model, checks and restores what comes back, and falls back to the
offline drafter whenever there is no model, the model fails, or its draft is withheld.
"""

from __future__ import annotations

import html
import re
import secrets
import time
from collections.abc import Sequence
from dataclasses import dataclass, replace

from drafting import offline
from drafting.chat import ChatMessage, Completion, LLMClient
from drafting.errors import LLMError
from drafting.guard import check_output, looks_like_injection, without_instructions
from drafting.prompts import PromptLibrary, default_library
from drafting.redaction import PLACEHOLDER, Redactor, find_pii
from drafting.tokens import clip_to_tokens, estimate_message_tokens
from drafting.types import DraftContext, DraftOutput, Passage, Tone, language_name

NO_MODEL = "no model is configured: set OPENAI_API_KEY or OPENAI_BASE_URL"

_SOURCES = re.compile(
    r"^[ \t*_]*(?:sources?|źródła|zrodla|quellen)[ \t*_]*:[ \t]*(.*?)[ \t]*$",
    re.IGNORECASE | re.MULTILINE,
)
_TITLE = re.compile(r'^title:\s*"?(.*?)"?\s*$', re.MULTILINE)


@dataclass(frozen=True)
class Budget:
    """Token limits of one prompt (estimated, see `drafting.tokens`)."""

    prompt_tokens: int = 6000
    completion_tokens: int = 700
    message_tokens: int = 1200
    passage_tokens: int = 400


@dataclass(frozen=True)
class BuiltPrompt:
    """A prompt ready to send, and what keeping it within the budget cost."""

    messages: list[ChatMessage]
    template: str
    template_hash: str
    canary: str
    omitted: int
    tokens: int
    budget: int

    @property
    def system(self) -> str:
        return self.messages[0].content


@dataclass
class _Prepared:
    redactor: Redactor
    history: list[str]
    passages: list[Passage]
    guidelines: str
    signature: str


def _passage_body(text: str) -> str:
    """A passage without the sentences that try to instruct an AI (line breaks kept)."""
    if not looks_like_injection(text):
        return text
    return "\n".join(without_instructions(line) for line in text.split("\n"))


def split_sources(text: str) -> tuple[str, list[str]]:
    """The draft without its "SOURCES:" line(s), and the slugs listed there."""
    slugs: list[str] = []
    for match in _SOURCES.finditer(text):
        for item in re.split(r"[,;\s]+", match.group(1)):
            slug = item.strip("`'\"[]().")
            if slug and slug.lower() not in {"none", "brak", "n/a", "-"} and slug not in slugs:
                slugs.append(slug)
    return _SOURCES.sub("", text).strip(), slugs


class Drafter:
    """Makes drafts with a model when there is one, and by rules otherwise."""

    def __init__(
        self,
        llm: LLMClient | None = None,
        *,
        library: PromptLibrary | None = None,
        budget: Budget | None = None,
        no_model_reason: str = NO_MODEL,
    ) -> None:
        self.llm = llm
        self.library = library or default_library()
        self.budget = budget or Budget()
        self.no_model_reason = no_model_reason

    # -- prompts ---------------------------------------------------------------------------

    def _prepare(self, ctx: DraftContext) -> _Prepared:
        """Redact everything of the ticket in a fixed order, so placeholders are stable."""
        redactor = Redactor()
        history = [redactor.redact(m.text, "ticket") for m in ctx.messages]
        # Curated passages have no business instructing the model: such sentences are cut.
        passages = [
            Passage(
                slug=p.slug,
                title=redactor.redact(p.title, "reference"),
                text=clip_to_tokens(
                    redactor.redact(_passage_body(p.text), "reference"),
                    self.budget.passage_tokens,
                ),
                score=p.score,
            )
            for p in ctx.passages
        ]
        return _Prepared(
            redactor=redactor,
            history=history,
            passages=passages,
            guidelines=redactor.redact(ctx.guidelines, "reference"),
            signature=redactor.redact(ctx.signature, "reference"),
        )

    def _system(self, canary: str) -> str:
        return self.library.render("system", canary=canary)

    def _with_history(
        self, ctx: DraftContext, prep: _Prepared, task: str, **variables: object
    ) -> BuiltPrompt:
        canary = f"R-{secrets.token_hex(4)}"
        system = self._system(canary)
        rendered = [
            self.library.render(
                "ticket_message",
                n=i + 1,
                author=m.author,
                internal=m.internal,
                text=clip_to_tokens(prep.history[i], self.budget.message_tokens),
            )
            for i, m in enumerate(ctx.messages)
        ]
        draft_task = self.library.render(task, omitted=len(rendered), **variables)
        fixed = estimate_message_tokens([system, draft_task])
        available = self.budget.prompt_tokens - fixed
        costs = [estimate_message_tokens([r]) - 3 for r in rendered]
        keep: set[int] = set()
        if rendered:
            last = len(rendered) - 1
            pinned = next((i for i, m in enumerate(ctx.messages) if m.author == "customer"), 0)
            keep.add(last)
            used = costs[last]
            if pinned != last and used + costs[pinned] <= available:
                keep.add(pinned)
                used += costs[pinned]
            for i in range(last - 1, -1, -1):
                if i in keep:
                    continue
                if used + costs[i] > available:
                    break
                keep.add(i)
                used += costs[i]
        omitted = len(rendered) - len(keep)
        task_text = self.library.render(task, omitted=omitted, **variables)
        # The first customer message (it states the problem) and the newest one are kept;
        # the client may drop the others, oldest first, if the server says it is too long.
        protected = {len(rendered) - 1}
        customers = sorted(i for i in keep if ctx.messages[i].author == "customer")
        protected.update(customers[:1])
        history = [
            ChatMessage("user", rendered[i], trimmable=i not in protected) for i in sorted(keep)
        ]
        messages = [ChatMessage("system", system), *history, ChatMessage("user", task_text)]
        return BuiltPrompt(
            messages=messages,
            template=task,
            template_hash=self.library.fingerprint("system", "ticket_message", task),
            canary=canary,
            omitted=omitted,
            tokens=estimate_message_tokens([m.content for m in messages]),
            budget=self.budget.prompt_tokens,
        )

    def reply_prompt(
        self, ctx: DraftContext, *, tone: Tone | None = None, prep: _Prepared | None = None
    ) -> BuiltPrompt:
        """The prompt of a reply draft for `ctx` (exposed for tests and the budget bench)."""
        prep = prep or self._prepare(ctx)
        return self._with_history(
            ctx,
            prep,
            "reply_draft",
            ticket_number=ctx.ticket_number,
            subject=prep.redactor.redact(ctx.subject, "ticket"),
            language_name=language_name(ctx.language),
            customer_name=prep.redactor.redact(ctx.customer_name, "ticket"),
            tone=tone,
            passages=prep.passages,
            guidelines=prep.guidelines,
            signature=prep.signature,
        )

    def _single(self, task: str, **variables: object) -> BuiltPrompt:
        canary = f"R-{secrets.token_hex(4)}"
        system = self._system(canary)
        task_text = self.library.render(task, **variables)
        messages = [ChatMessage("system", system), ChatMessage("user", task_text)]
        return BuiltPrompt(
            messages=messages,
            template=task,
            template_hash=self.library.fingerprint("system", task),
            canary=canary,
            omitted=0,
            tokens=estimate_message_tokens([m.content for m in messages]),
            budget=self.budget.prompt_tokens,
        )

    # -- calls -----------------------------------------------------------------------------

    async def _complete(self, prompt: BuiltPrompt) -> Completion:
        assert self.llm is not None
        return await self.llm.complete(prompt.messages, max_tokens=self.budget.completion_tokens)

    @staticmethod
    def _elapsed_ms(started: float) -> int:
        return int((time.perf_counter() - started) * 1000)

    @staticmethod
    def _injection_flags(ctx: DraftContext) -> list[str]:
        hostile = any(looks_like_injection(m.text) for m in ctx.customer_messages)
        hostile = hostile or any(looks_like_injection(p.text) for p in ctx.passages)
        return ["injection_attempt"] if hostile else []

    def _offline_reply(
        self, ctx: DraftContext, tone: Tone | None, reason: str, started: float
    ) -> DraftOutput:
        out = offline.reply(ctx, tone=tone, reason=reason)
        return replace(out, flags=self._injection_flags(ctx), latency_ms=self._elapsed_ms(started))

    async def reply(self, ctx: DraftContext, *, tone: Tone | None = None) -> DraftOutput:
        """The agent's next reply, in the customer's language, citing the passages it used."""
        started = time.perf_counter()
        if self.llm is None:
            return self._offline_reply(ctx, tone, self.no_model_reason, started)
        prep = self._prepare(ctx)
        prompt = self.reply_prompt(ctx, tone=tone, prep=prep)
        try:
            completion = await self._complete(prompt)
        except LLMError as exc:
            return self._offline_reply(ctx, tone, f"the model failed: {exc.reason}", started)
        body, listed = split_sources(completion.text)
        slugs = [p.slug for p in ctx.passages]
        support = [p.text for p in ctx.passages] + [ctx.guidelines]
        support += [m.text for m in ctx.messages if m.author == "agent"]
        verdict = check_output(
            body,
            redactor=prep.redactor,
            system_prompt=prompt.system,
            canary=prompt.canary,
            support=support,
        )
        flags = self._injection_flags(ctx) + verdict.flags
        if verdict.withheld:
            reason = "the model's draft was withheld: " + "; ".join(verdict.reasons)
            out = self._offline_reply(ctx, tone, reason, started)
            return replace(
                out,
                flags=flags,
                model=completion.model,
                prompt_tokens=completion.prompt_tokens,
                completion_tokens=completion.completion_tokens,
            )
        unknown = [s for s in listed if s not in slugs]
        if unknown:
            flags.append("unknown_citation")
        return DraftOutput(
            kind="reply",
            text=html.unescape(prep.redactor.restore(body)),
            language=ctx.language,
            offline=False,
            template=prompt.template,
            template_hash=prompt.template_hash,
            cited=[s for s in listed if s in slugs],
            model=completion.model,
            tone=tone,
            flags=flags,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=self._elapsed_ms(started),
            trimmed_messages=prompt.omitted + completion.trimmed,
        )

    async def summary(
        self, ctx: DraftContext, *, reason: str = "", language: str = "en"
    ) -> DraftOutput:
        """A short summary for the agent taking the ticket over (hand-off, escalation)."""
        started = time.perf_counter()

        def fallback(why: str) -> DraftOutput:
            out = offline.summary(ctx, reason=why, handoff_reason=reason)
            return replace(out, latency_ms=self._elapsed_ms(started))

        if self.llm is None:
            return fallback(self.no_model_reason)
        prep = self._prepare(ctx)
        prompt = self._with_history(
            ctx,
            prep,
            "summary",
            ticket_number=ctx.ticket_number,
            subject=prep.redactor.redact(ctx.subject, "ticket"),
            language_name=language_name(language),
            reason=reason,
        )
        try:
            completion = await self._complete(prompt)
        except LLMError as exc:
            return fallback(f"the model failed: {exc.reason}")
        verdict = check_output(
            completion.text,
            redactor=prep.redactor,
            system_prompt=prompt.system,
            canary=prompt.canary,
            support=[m.text for m in ctx.messages],
        )
        if verdict.withheld:
            return fallback("the model's summary was withheld: " + "; ".join(verdict.reasons))
        return DraftOutput(
            kind="summary",
            text=html.unescape(prep.redactor.restore(completion.text.strip())),
            language=language,
            offline=False,
            template=prompt.template,
            template_hash=prompt.template_hash,
            model=completion.model,
            flags=self._injection_flags(ctx) + verdict.flags,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=self._elapsed_ms(started),
            trimmed_messages=prompt.omitted + completion.trimmed,
        )

    async def retone(
        self, ctx: DraftContext, text: str, tone: Tone, *, cited: Sequence[str] = ()
    ) -> DraftOutput:
        """`text` (a draft) rewritten shorter, friendlier or more formal."""
        started = time.perf_counter()

        def fallback(why: str) -> DraftOutput:
            out = offline.retone_output(text, tone, ctx, reason=why, cited=cited)
            return replace(out, latency_ms=self._elapsed_ms(started))

        if self.llm is None:
            return fallback(self.no_model_reason)
        prep = self._prepare(ctx)
        prompt = self._single(
            "tone",
            tone=tone,
            language_name=language_name(ctx.language),
            draft=prep.redactor.redact(text, "ticket"),
        )
        try:
            completion = await self._complete(prompt)
        except LLMError as exc:
            return fallback(f"the model failed: {exc.reason}")
        body, _listed = split_sources(completion.text)
        verdict = check_output(
            body,
            redactor=prep.redactor,
            system_prompt=prompt.system,
            canary=prompt.canary,
            support=[text],
        )
        if verdict.withheld:
            return fallback("the model's rewrite was withheld: " + "; ".join(verdict.reasons))
        return DraftOutput(
            kind="tone",
            text=html.unescape(prep.redactor.restore(body)),
            language=ctx.language,
            offline=False,
            template=prompt.template,
            template_hash=prompt.template_hash,
            cited=list(cited),
            model=completion.model,
            tone=tone,
            flags=verdict.flags,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=self._elapsed_ms(started),
        )

    async def translate(
        self, ctx: DraftContext, text: str, target: str, *, source: str | None = None
    ) -> DraftOutput:
        """`text` translated into `target`; without a model, the text untouched and why."""
        started = time.perf_counter()
        if self.llm is None:
            return replace(
                offline.untranslated(text, ctx, target), latency_ms=self._elapsed_ms(started)
            )
        prep = self._prepare(ctx)
        prompt = self._single(
            "translate",
            source_language_name=language_name(source or ctx.language),
            target_language_name=language_name(target),
            draft=prep.redactor.redact(text, "ticket"),
        )
        try:
            completion = await self._complete(prompt)
        except LLMError as exc:
            out = offline.untranslated(text, ctx, target, reason=f"the model failed: {exc.reason}")
            return replace(out, latency_ms=self._elapsed_ms(started))
        verdict = check_output(
            completion.text,
            redactor=prep.redactor,
            system_prompt=prompt.system,
            canary=prompt.canary,
            support=[text],
        )
        if verdict.withheld:
            why = "the model's translation was withheld: " + "; ".join(verdict.reasons)
            out = offline.untranslated(text, ctx, target, reason=why)
            return replace(out, flags=verdict.flags, latency_ms=self._elapsed_ms(started))
        return DraftOutput(
            kind="translation",
            text=html.unescape(prep.redactor.restore(completion.text.strip())),
            language=target,
            offline=False,
            template=prompt.template,
            template_hash=prompt.template_hash,
            model=completion.model,
            flags=verdict.flags,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=self._elapsed_ms(started),
        )

    async def kb_article(self, ctx: DraftContext) -> DraftOutput:
        """A knowledge base article draft (Markdown with front matter) from a resolved ticket.

        Personal data never reaches an article: placeholders the model leaves are blanked,
        not restored.
        """
        started = time.perf_counter()

        def fallback(why: str) -> DraftOutput:
            return replace(
                offline.kb_article(ctx, reason=why), latency_ms=self._elapsed_ms(started)
            )

        if self.llm is None:
            return fallback(self.no_model_reason)
        prep = self._prepare(ctx)
        prompt = self._with_history(
            ctx,
            prep,
            "kb_article",
            ticket_number=ctx.ticket_number,
            subject=prep.redactor.redact(ctx.subject, "ticket"),
            language_name=language_name(ctx.language),
            language=ctx.language,
            passages=prep.passages,
        )
        try:
            completion = await self._complete(prompt)
        except LLMError as exc:
            return fallback(f"the model failed: {exc.reason}")
        verdict = check_output(
            completion.text,
            redactor=prep.redactor,
            system_prompt=prompt.system,
            canary=prompt.canary,
            support=[m.text for m in ctx.messages],
        )
        if verdict.flags and "system_prompt_leak" in verdict.flags:
            return fallback("the model's article was withheld: " + "; ".join(verdict.reasons))
        flags = list(verdict.flags)
        text = completion.text.strip()
        if PLACEHOLDER.search(text) or find_pii(text):
            flags.append("personal_data_removed")
            text = PLACEHOLDER.sub("…", text)
            for finding in reversed(find_pii(text)):
                text = text[: finding.start] + "…" + text[finding.end :]
        title_match = _TITLE.search(text)
        return DraftOutput(
            kind="kb_article",
            text=html.unescape(text) + "\n",
            language=ctx.language,
            offline=False,
            template=prompt.template,
            template_hash=prompt.template_hash,
            model=completion.model,
            flags=flags,
            prompt_tokens=completion.prompt_tokens,
            completion_tokens=completion.completion_tokens,
            latency_ms=self._elapsed_ms(started),
            trimmed_messages=prompt.omitted + completion.trimmed,
            title=title_match.group(1).strip() if title_match else None,
        )
