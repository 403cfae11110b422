"""Drafts in the database: save, fetch, list, and record what the agent did (no commits here)."""

from __future__ import annotations

from collections.abc import Sequence

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from drafting.edits import edit_distance
from drafting.errors import DraftNotFound, InvalidOutcome
from drafting.models import OUTCOMES, SENT_OUTCOMES, Draft, utcnow
from drafting.types import DraftOutput

# "sent" lets the caller say the draft went out; it is stored as sent_as_is or edited.
SENT = "sent"


def _normalise(text: str) -> str:
    return " ".join(text.split())


async def save_draft(
    session: AsyncSession,
    output: DraftOutput,
    *,
    ticket_id: int,
    ticket_number: int,
    parent_id: int | None = None,
    created_by: str | None = None,
) -> Draft:
    """Store `output` as a new draft of the ticket; flushed so it has an id."""
    draft = Draft(
        ticket_id=ticket_id,
        ticket_number=ticket_number,
        kind=output.kind,
        parent_id=parent_id,
        language=output.language[:8],
        tone=output.tone,
        text=output.text,
        title=output.title[:200] if output.title else None,
        cited=list(output.cited),
        offline=output.offline,
        reason=output.reason,
        flags=list(output.flags),
        model=output.model[:100] if output.model else None,
        template=output.template[:64],
        template_hash=output.template_hash,
        prompt_tokens=output.prompt_tokens,
        completion_tokens=output.completion_tokens,
        latency_ms=output.latency_ms,
        trimmed_messages=output.trimmed_messages,
        created_by=created_by,
    )
    session.add(draft)
    await session.flush()
    return draft


async def get_draft(session: AsyncSession, draft_id: int) -> Draft:
    """The draft with this id, or `DraftNotFound`."""
    draft = await session.get(Draft, draft_id)
    if draft is None:
        raise DraftNotFound(draft_id)
    return draft


async def drafts_for_ticket(session: AsyncSession, ticket_id: int) -> Sequence[Draft]:
    """Every draft of a ticket (by its row id), oldest first."""
    result = await session.scalars(
        select(Draft).where(Draft.ticket_id == ticket_id).order_by(Draft.id)
    )
    return result.all()


async def set_outcome(
    session: AsyncSession,
    draft_id: int,
    outcome: str,
    sent_text: str | None = None,
    *,
    decided_by: str | None = None,
) -> Draft:
    """Record what the agent did with a draft.

    `outcome` is one of sent_as_is, edited, regenerated, discarded, or `sent` (stored as
    sent_as_is when `sent_text` equals the draft up to white space, edited otherwise). Sent
    outcomes store the text that went out and its edit distance from the draft. Recording the
    same outcome twice is a no-op; a draft that was sent cannot be given another outcome.
    """
    if outcome not in (*OUTCOMES, SENT):
        raise InvalidOutcome(
            f"unknown outcome {outcome!r}: use one of {', '.join((*OUTCOMES, SENT))}"
        )
    draft = await get_draft(session, draft_id)
    if outcome in (*SENT_OUTCOMES, SENT):
        text = draft.text if sent_text is None else sent_text
        if outcome == "edited" and sent_text is None:
            raise InvalidOutcome("an edited draft needs the text that was sent")
        if outcome == SENT:
            outcome = "sent_as_is" if _normalise(text) == _normalise(draft.text) else "edited"
        distance = edit_distance(draft.text, text)
    else:
        text, distance = None, None
    if draft.outcome in SENT_OUTCOMES:
        if draft.outcome == outcome and draft.sent_text == text:
            return draft
        raise InvalidOutcome(f"draft {draft_id} was already sent ({draft.outcome})")
    draft.outcome = outcome
    draft.sent_text = text
    draft.edit_distance = distance
    draft.decided_by = decided_by
    draft.decided_at = utcnow()
    await session.flush()
    return draft
