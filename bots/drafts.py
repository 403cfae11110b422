"""Drafts for a ticket: what the agent desk and `relaydesk draft` call (no Slack in here).

Reads the ticket and its messages, asks the knowledge base for passages when a knowledge
service is available, makes the draft through `drafting.Drafter` (a model when configured,
the offline drafter otherwise) and stores it. Nothing is ever sent to a customer from here:
sending is the desk's job, after an agent acts, and it reports back with `record_outcome`.

Functions take the caller's session and flush; the caller commits.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING, Any, Protocol

from sqlalchemy.ext.asyncio import AsyncSession

from bots.metrics import LLM_ERRORS, LLM_LATENCY
from bots.settings import Settings
from drafting import store
from drafting.chat import LLMCall, LLMClient
from drafting.drafter import Budget, Drafter
from drafting.errors import DraftingError
from drafting.models import Draft
from drafting.types import (
    TONES,
    Author,
    DraftContext,
    DraftOutput,
    Passage,
    TicketMessage,
    Tone,
)
from tickets import service as tickets
from tickets.models import Ticket

if TYPE_CHECKING:
    from bots.app import Services

log = logging.getLogger(__name__)

_LANGUAGE = re.compile(r"^[a-z]{2,3}(?:-[A-Za-z]{2,4})?$")
QUERY_MESSAGES = 3


class PassageSource(Protocol):
    """What drafting needs from the knowledge base (`KnowledgeService.passages`)."""

    async def passages(self, text: str, language: str | None = None, k: int = 3) -> Sequence[Any]:
        """Top passages for `text`: objects with `slug`, `title`, `text`, `score`."""
        ...


@dataclass
class DraftParts:
    """What making a draft needs; build it with `parts_from_settings` or pass your own."""

    drafter: Drafter
    knowledge: PassageSource | None = None
    guidelines: Mapping[str, str] = field(default_factory=dict)
    passages_k: int = 3
    owns_llm: bool = False

    async def aclose(self) -> None:
        """Close the model client if these parts created it."""
        if self.owns_llm and self.drafter.llm is not None:
            await self.drafter.llm.aclose()


@dataclass(frozen=True)
class DraftResult:
    """A stored draft as the desk and the command show it."""

    draft_id: int
    ticket_number: int
    output: DraftOutput
    parent_id: int | None = None
    source_text: str | None = None

    @property
    def text(self) -> str:
        return self.output.text

    @property
    def offline(self) -> bool:
        return self.output.offline

    @property
    def notice(self) -> str | None:
        return self.output.notice

    @property
    def reason(self) -> str | None:
        return self.output.reason

    def as_dict(self) -> dict[str, Any]:
        """The stable JSON shape of `relaydesk draft --json` (documented in the README)."""
        out = self.output
        return {
            "draft_id": self.draft_id,
            "ticket": self.ticket_number,
            "kind": out.kind,
            "language": out.language,
            "tone": out.tone,
            "text": out.text,
            "title": out.title,
            "offline": out.offline,
            "notice": out.notice,
            "reason": out.reason,
            "cited": list(out.cited),
            "flags": list(out.flags),
            "model": out.model,
            "template": out.template,
            "template_hash": out.template_hash,
            "prompt_version": out.prompt_version,
            "tokens": {"prompt": out.prompt_tokens, "completion": out.completion_tokens},
            "latency_ms": out.latency_ms,
            "trimmed_messages": out.trimmed_messages,
            "parent_id": self.parent_id,
            "source_text": self.source_text,
        }

    def meta(self) -> dict[str, Any]:
        """`meta` of the `draft` outbound message (see docs/messages.md)."""
        return {
            "ticket_number": self.ticket_number,
            "draft_id": self.draft_id,
            "text": self.output.text,
            "offline": self.output.offline,
            "reason": self.output.reason,
        }


def observe_llm_call(call: LLMCall) -> None:
    """Metrics of one model call: its latency (answered or not) and, when it failed, an
    error of its kind (`timeout`, `unavailable`, `rate_limited`, `quota`, `auth`, ...)."""
    LLM_LATENCY.observe(call.seconds)
    if call.error is not None:
        LLM_ERRORS.labels(kind=call.error.kind).inc()


def llm_from_settings(settings: Settings) -> LLMClient | None:
    """The model client the settings describe (its calls feed the `relaydesk_llm_*`
    metrics), or None when no model is configured."""
    if not settings.llm_enabled:
        return None
    # Imported here: the model library is slow to load and offline drafts never need it.
    from drafting.llm import OpenAIChatClient

    key = settings.openai_api_key.get_secret_value() if settings.openai_api_key else None
    return OpenAIChatClient(
        model=settings.llm_model,
        api_key=key,
        base_url=settings.openai_base_url,
        timeout_s=settings.llm_timeout_s,
        observer=observe_llm_call,
    )


def parts_from_settings(
    settings: Settings,
    *,
    knowledge: PassageSource | None = None,
    guidelines: Mapping[str, str] | None = None,
) -> DraftParts:
    """Draft parts for these settings; close them with `aclose()` when done."""
    llm = llm_from_settings(settings)
    budget = Budget(prompt_tokens=settings.llm_prompt_budget)
    return DraftParts(
        drafter=Drafter(llm, budget=budget),
        knowledge=knowledge,
        guidelines=dict(guidelines or {}),
        owns_llm=llm is not None,
    )


def parts_of(services_or_parts: Services | DraftParts) -> DraftParts:
    """`DraftParts` as given, or new ones from the services (settings, knowledge base,
    department guidelines from helpdesk.yaml); parts made here are closed after use."""
    if isinstance(services_or_parts, DraftParts):
        return services_or_parts
    services = services_or_parts
    guidelines = {
        department.name: department.guidelines.strip()
        for department in services.helpdesk.config.departments
        if department.guidelines.strip()
    }
    return parts_from_settings(
        services.settings, knowledge=services.knowledge, guidelines=guidelines
    )


_AUTHORS: dict[str, Author] = {a: a for a in ("customer", "bot", "agent", "system")}


def _author(kind: str) -> Author:
    return _AUTHORS.get(kind, "system")


async def kb_passages(
    knowledge: PassageSource | None, text: str, language: str, k: int
) -> list[Passage]:
    """Passages for `text` from the knowledge base; none when it is absent or fails."""
    if knowledge is None or not text.strip():
        return []
    try:
        found = await knowledge.passages(text, language, k)
    except Exception:
        log.exception("knowledge passages failed; drafting without them")
        return []
    passages: list[Passage] = []
    for item in found:
        slug = getattr(item, "slug", None)
        body = getattr(item, "text", None)
        if not slug or not body or any(p.slug == slug for p in passages):
            continue  # one passage per article: the best-ranked one
        passages.append(
            Passage(
                slug=str(slug),
                title=str(getattr(item, "title", "") or slug),
                text=str(body),
                score=float(getattr(item, "score", 0.0) or 0.0),
            )
        )
    return passages


async def ticket_context(
    parts: DraftParts, ticket: Ticket, *, signature: str | None = None
) -> DraftContext:
    """The data a draft of `ticket` is made from (its messages, language, passages)."""
    messages = [
        TicketMessage(
            author=_author(m.author_kind),
            text=m.text,
            internal=m.internal,
            created_at=m.created_at,
        )
        for m in ticket.messages
    ]
    language = ticket.language or ticket.customer.language or "en"
    customer_texts = [m.text for m in messages if m.author == "customer"]
    query = "\n".join(customer_texts[-QUERY_MESSAGES:]) or ticket.subject
    passages = await kb_passages(parts.knowledge, query, language, parts.passages_k)
    return DraftContext(
        ticket_number=ticket.number,
        language=language,
        messages=messages,
        passages=passages,
        customer_name=ticket.customer.name,
        subject=ticket.subject,
        department=ticket.department,
        guidelines=parts.guidelines.get(ticket.department or "", ""),
        signature=signature or "",
    )


def _check_options(tone: str | None, translate: str | None) -> None:
    if tone is not None and tone not in TONES:
        raise DraftingError(f"unknown tone {tone!r}: use one of {', '.join(TONES)}")
    if translate is not None and not _LANGUAGE.match(translate):
        raise DraftingError(
            f"unknown language {translate!r}: use a language code such as en, pl or de"
        )


async def _save(
    session: AsyncSession,
    ticket: Ticket,
    output: DraftOutput,
    *,
    parent_id: int | None = None,
    created_by: str | None = None,
) -> Draft:
    return await store.save_draft(
        session,
        output,
        ticket_id=ticket.id,
        ticket_number=ticket.number,
        parent_id=parent_id,
        created_by=created_by,
    )


async def make_draft(
    services_or_parts: Services | DraftParts,
    session: AsyncSession,
    ticket_number: int,
    *,
    tone: Tone | str | None = None,
    translate: str | None = None,
    regenerate_of: int | None = None,
    signature: str | None = None,
    agent: str | None = None,
) -> DraftResult:
    """Make, store and return a draft reply for a ticket.

    * plain: a reply to the conversation so far;
    * `tone`: a reply in that tone, or with `regenerate_of` that draft rewritten in it;
    * `regenerate_of` alone: a fresh reply replacing that draft;
    * `translate`: the reply (or the `regenerate_of` draft) translated into that language,
      stored as its own draft whose `parent_id` is the draft translated.

    A replaced draft gets the outcome `regenerated`. Without a model, or when the model fails,
    the draft is an offline one and says why (`offline`, `notice`, `reason`).
    """
    _check_options(tone, translate)
    chosen: Tone | None = next((t for t in TONES if t == tone), None)
    parts = parts_of(services_or_parts)
    try:
        ticket = await tickets.get_ticket(session, ticket_number)
        ctx = await ticket_context(parts, ticket, signature=signature)
        previous: Draft | None = None
        if regenerate_of is not None:
            previous = await store.get_draft(session, regenerate_of)
            if previous.ticket_id != ticket.id:
                raise DraftingError(
                    f"draft {regenerate_of} belongs to ticket #{previous.ticket_number}, "
                    f"not #{ticket_number}"
                )
        if previous is not None and translate is not None and chosen is None:
            base = previous
        else:
            if previous is not None and chosen is not None:
                output = await parts.drafter.retone(
                    ctx, previous.text, chosen, cited=list(previous.cited)
                )
            else:
                output = await parts.drafter.reply(ctx, tone=chosen)
            base = await _save(
                session,
                ticket,
                output,
                parent_id=previous.id if previous is not None else None,
                created_by=agent,
            )
            if previous is not None:
                await store.set_outcome(session, previous.id, "regenerated", decided_by=agent)
            if translate is None:
                return DraftResult(base.id, ticket.number, output, parent_id=base.parent_id)
        assert translate is not None
        translated = await parts.drafter.translate(ctx, base.text, translate, source=base.language)
        translated = replace(translated, cited=list(base.cited))
        saved = await _save(session, ticket, translated, parent_id=base.id, created_by=agent)
        return DraftResult(
            saved.id, ticket.number, translated, parent_id=base.id, source_text=base.text
        )
    finally:
        if parts is not services_or_parts:
            await parts.aclose()


async def make_summary(
    services_or_parts: Services | DraftParts,
    session: AsyncSession,
    ticket_number: int,
    *,
    reason: str = "",
    language: str = "en",
) -> DraftResult:
    """A stored hand-off or escalation summary of the ticket, for agents."""
    parts = parts_of(services_or_parts)
    try:
        ticket = await tickets.get_ticket(session, ticket_number)
        ctx = await ticket_context(parts, ticket)
        output = await parts.drafter.summary(ctx, reason=reason, language=language)
        saved = await _save(session, ticket, output)
        return DraftResult(saved.id, ticket.number, output)
    finally:
        if parts is not services_or_parts:
            await parts.aclose()


async def make_kb_article(
    services_or_parts: Services | DraftParts, session: AsyncSession, ticket_number: int
) -> DraftResult:
    """A stored knowledge base article draft (Markdown, front matter) from a resolved ticket."""
    parts = parts_of(services_or_parts)
    try:
        ticket = await tickets.get_ticket(session, ticket_number)
        ctx = await ticket_context(parts, ticket)
        output = await parts.drafter.kb_article(ctx)
        saved = await _save(session, ticket, output)
        return DraftResult(saved.id, ticket.number, output)
    finally:
        if parts is not services_or_parts:
            await parts.aclose()


async def record_outcome(
    session: AsyncSession,
    draft_id: int,
    outcome: str,
    sent_text: str | None = None,
    *,
    agent: str | None = None,
) -> Draft:
    """Record what the agent did with a draft: `sent` (stored as sent_as_is or edited by
    comparing texts), `sent_as_is`, `edited`, `regenerated` or `discarded`. Sent outcomes keep
    the text that went out and its edit distance from the draft."""
    return await store.set_outcome(session, draft_id, outcome, sent_text, decided_by=agent)
