"""Adapts the knowledge service to the conversation engine's `KnowledgePort`."""

from __future__ import annotations

import logging

from sqlalchemy.ext.asyncio import AsyncSession

from bots.conversation import KbOutcome
from knowledge.errors import KnowledgeError
from knowledge.models import AnswerLog
from knowledge.service import KnowledgeService

log = logging.getLogger(__name__)


class KnowledgeGlue:
    """Asks the knowledge base, logs every decision, and records 👍/👎 on answers."""

    def __init__(self, service: KnowledgeService) -> None:
        self.service = service

    async def decide(
        self, session: AsyncSession, text: str, language: str, *, customer_ref: str
    ) -> KbOutcome:
        decision = await self.service.answer(text, language)
        answer_id = await self.service.log_answer(
            session, decision, text, customer_ref=customer_ref
        )
        article = decision.article
        return KbOutcome(
            answered=decision.answered,
            confidence=decision.confidence,
            answer_id=str(answer_id),
            slug=article.slug if article else None,
            title=article.title if article else "",
            passage=decision.passage,
            article_language=article.language if article else None,
            reason=decision.reason,
        )

    async def feedback(self, session: AsyncSession, answer_id: str, *, helpful: bool) -> str | None:
        try:
            key = int(answer_id)
        except ValueError:
            log.info("feedback for a malformed answer id ignored")
            return None
        try:
            await self.service.record_feedback(session, helpful=helpful, answer_id=key)
        except KnowledgeError:
            log.info("feedback for an unknown answer %s ignored", key)
            return None
        answer = await session.get(AnswerLog, key)
        return answer.question if answer is not None else None
