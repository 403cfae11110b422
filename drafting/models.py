"""Drafting tables: every AI or offline draft made for a ticket, and what the agent did with it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, ClassVar

from sqlalchemy import (
    JSON,
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Text,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column
from sqlalchemy.types import TypeDecorator

NAMING = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

OUTCOMES = ("sent_as_is", "edited", "regenerated", "discarded")
SENT_OUTCOMES = ("sent_as_is", "edited")


def utcnow() -> datetime:
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """A timestamp stored in UTC and always read back timezone-aware (SQLite keeps no zone)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            raise ValueError("naive datetime given to a UTC column")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


class DraftingBase(DeclarativeBase):
    metadata = MetaData(naming_convention=NAMING)
    type_annotation_map: ClassVar[dict[Any, Any]] = {list[str]: JSON}


class Draft(DraftingBase):
    """One draft shown to an agent. `ticket_id` is the ticket's row id (no foreign key: the
    drafting package stands apart from the helpdesk tables), `ticket_number` its public number.

    `outcome` is empty until the agent acts: `sent_as_is`, `edited` (then sent), `regenerated`
    (replaced by a newer draft, `parent_id` of which points here) or `discarded`.
    """

    __tablename__ = "drafts"
    __table_args__ = (
        Index("ix_drafts_ticket", "ticket_id", "id"),
        Index("ix_drafts_ticket_number", "ticket_number"),
        Index("ix_drafts_outcome", "outcome"),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    ticket_id: Mapped[int] = mapped_column(Integer)
    ticket_number: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(
        String(16)
    )  # reply | summary | tone | translation | kb_article
    parent_id: Mapped[int | None] = mapped_column(
        ForeignKey("drafts.id", ondelete="SET NULL"), default=None
    )
    language: Mapped[str] = mapped_column(String(8))
    tone: Mapped[str | None] = mapped_column(String(16), default=None)
    text: Mapped[str] = mapped_column(Text)
    title: Mapped[str | None] = mapped_column(String(200), default=None)
    cited: Mapped[list[str]] = mapped_column(JSON, default=list)
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    reason: Mapped[str | None] = mapped_column(Text, default=None)
    flags: Mapped[list[str]] = mapped_column(JSON, default=list)
    model: Mapped[str | None] = mapped_column(String(100), default=None)
    template: Mapped[str] = mapped_column(String(64))
    template_hash: Mapped[str] = mapped_column(String(64))
    prompt_tokens: Mapped[int] = mapped_column(Integer, default=0)
    completion_tokens: Mapped[int] = mapped_column(Integer, default=0)
    latency_ms: Mapped[int] = mapped_column(Integer, default=0)
    trimmed_messages: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str | None] = mapped_column(String(128), default=None)
    created_at: Mapped[datetime] = mapped_column(UTCDateTime(), default=utcnow)
    outcome: Mapped[str | None] = mapped_column(String(16), default=None)
    sent_text: Mapped[str | None] = mapped_column(Text, default=None)
    edit_distance: Mapped[int | None] = mapped_column(Integer, default=None)
    decided_by: Mapped[str | None] = mapped_column(String(128), default=None)
    decided_at: Mapped[datetime | None] = mapped_column(UTCDateTime(), default=None)
