"""Per-chat conversation state the engine keeps between messages (language, last KB answer)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Boolean, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.orm import Mapped, mapped_column

from bots.pipeline.models import PipelineBase
from tickets.models import UTCDateTime, utcnow


class ConversationState(PipelineBase):
    __tablename__ = "conversations"
    __table_args__ = (UniqueConstraint("channel", "chat_id", name="uq_conversations_chat"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    channel: Mapped[str] = mapped_column(String(32))
    chat_id: Mapped[str] = mapped_column(String(128))
    customer_id: Mapped[int] = mapped_column(Integer)
    language: Mapped[str | None] = mapped_column(String(8), default=None)
    language_pinned: Mapped[bool] = mapped_column(Boolean, default=False)
    new_requested: Mapped[bool] = mapped_column(Boolean, default=False)
    last_answer_id: Mapped[str | None] = mapped_column(String(64), default=None)
    last_question: Mapped[str | None] = mapped_column(Text, default=None)
    updated_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow, onupdate=utcnow)


async def load_state(
    session: AsyncSession, *, channel: str, chat_id: str, customer_id: int
) -> ConversationState:
    """The chat's state row, created on first contact (in the caller's transaction)."""
    state = await session.scalar(
        select(ConversationState).where(
            ConversationState.channel == channel, ConversationState.chat_id == chat_id
        )
    )
    if state is None:
        state = ConversationState(channel=channel, chat_id=chat_id, customer_id=customer_id)
        session.add(state)
        await session.flush()
    return state
