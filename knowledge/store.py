"""SQL access to articles and their versions (the source of truth); callers own transactions."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace
from typing import Literal

from sqlalchemy import delete, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from knowledge.articles import STATUSES, ArticleData
from knowledge.errors import ArticleNotFoundError, KnowledgeError
from knowledge.models import (
    AnswerLog,
    Article,
    ArticleVersion,
    Feedback,
    IndexState,
    utcnow,
)

Outcome = Literal["added", "changed", "unchanged"]
GENERATION = "generation"


@dataclass(frozen=True)
class VersionInfo:
    """One entry of an article's history."""

    version: int
    author: str
    change: str
    created_at: str
    content: ArticleData


def to_data(article: Article) -> ArticleData:
    """The content of a stored article as plain data."""
    return ArticleData(
        slug=article.slug,
        title=article.title,
        body=article.body,
        language=article.language,
        translation_of=article.translation_of,
        department=article.department,
        tags=tuple(article.tags or ()),
        status=article.status,
        questions=tuple(article.questions or ()),
    )


def _from_content(content: dict[str, object]) -> ArticleData:
    def text(name: str) -> str | None:
        value = content.get(name)
        return None if value is None else str(value)

    tags = content.get("tags") or []
    questions = content.get("questions") or []
    return ArticleData(
        slug=str(content["slug"]),
        title=str(content["title"]),
        body=str(content["body"]),
        language=str(content.get("language") or "en"),
        translation_of=text("translation_of"),
        department=text("department"),
        tags=tuple(str(t) for t in tags) if isinstance(tags, list) else (),
        status=str(content.get("status") or "draft"),
        questions=tuple(str(q) for q in questions) if isinstance(questions, list) else (),
    )


def _apply(article: Article, data: ArticleData) -> None:
    article.title = data.title
    article.language = data.language
    article.translation_of = data.translation_of
    article.group_key = data.group
    article.department = data.department
    article.tags = list(data.tags)
    article.status = data.status
    article.questions = list(data.questions)
    article.body = data.body
    article.content_hash = data.content_hash()
    article.updated_at = utcnow()


async def find(session: AsyncSession, slug: str) -> Article | None:
    """The article called `slug`, or None."""
    result: Article | None = await session.scalar(select(Article).where(Article.slug == slug))
    return result


async def get(session: AsyncSession, slug: str) -> Article:
    """The article called `slug`; ArticleNotFoundError names it when there is none."""
    article = await find(session, slug)
    if article is None:
        raise ArticleNotFoundError(f"no article with slug {slug!r}")
    return article


async def list_articles(
    session: AsyncSession, *, status: str | None = None, language: str | None = None
) -> list[Article]:
    """Articles ordered by slug, optionally only one status or language."""
    if status is not None and status not in STATUSES:
        raise KnowledgeError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    query = select(Article).order_by(Article.slug)
    if status is not None:
        query = query.where(Article.status == status)
    if language is not None:
        query = query.where(Article.language == language)
    return list((await session.scalars(query)).all())


async def _record(
    session: AsyncSession, article: Article, *, author: str, change: str
) -> ArticleVersion:
    version = ArticleVersion(
        article_id=article.id,
        version=article.version,
        author=author[:64],
        change=change[:300],
        content=to_data(article).to_dict(),
        created_at=article.updated_at,
    )
    session.add(version)
    return version


async def save(session: AsyncSession, data: ArticleData, *, author: str) -> Outcome:
    """Create or update an article; an identical article is left alone (no new version)."""
    article = await find(session, data.slug)
    if article is None:
        article = Article(slug=data.slug, version=1, created_at=utcnow())
        _apply(article, data)
        session.add(article)
        await session.flush()
        await _record(session, article, author=author, change="created")
        return "added"
    if article.content_hash == data.content_hash():
        return "unchanged"
    changed = data.changed_fields(to_data(article))
    _apply(article, data)
    article.version += 1
    await _record(session, article, author=author, change="changed: " + ", ".join(changed))
    return "changed"


async def set_status(session: AsyncSession, slug: str, status: str, *, author: str) -> bool:
    """Move an article to `status`; returns False when it already was there."""
    if status not in STATUSES:
        raise KnowledgeError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")
    article = await get(session, slug)
    if article.status == status:
        return False
    before = article.status
    _apply(article, to_data(article).with_status(status))
    article.version += 1
    await _record(session, article, author=author, change=f"status: {before} -> {status}")
    return True


def same_question(text: str) -> str:
    """The form in which two example questions count as the same (case and spacing aside)."""
    return " ".join(text.casefold().split())


async def translation(session: AsyncSession, article: Article, language: str) -> Article:
    """The published article of `article`'s translation group written in `language`
    (`article` itself when it is in that language or the group has no such translation)."""
    if article.language == language:
        return article
    found: Article | None = await session.scalar(
        select(Article)
        .where(
            Article.group_key == article.group_key,
            Article.language == language,
            Article.status == "published",
        )
        .order_by(Article.slug)
        .limit(1)
    )
    return found or article


async def add_questions(
    session: AsyncSession, slug: str, questions: Sequence[str], *, author: str
) -> list[str]:
    """Add example questions to an article, as one new version; returns the ones it did not
    have yet (none: no new version)."""
    article = await get(session, slug)
    data = to_data(article)
    known = {same_question(q) for q in data.questions}
    new: list[str] = []
    for question in questions:
        key = same_question(question)
        if key and key not in known:
            known.add(key)
            new.append(" ".join(question.split()))
    if not new:
        return []
    _apply(article, replace(data, questions=(*data.questions, *new)))
    article.version += 1
    plural = "s" if len(new) > 1 else ""
    await _record(
        session, article, author=author, change=f"taught {len(new)} example question{plural}"
    )
    return new


async def history(session: AsyncSession, slug: str) -> list[VersionInfo]:
    """Every version of an article, oldest first."""
    article = await get(session, slug)
    rows = await session.scalars(
        select(ArticleVersion)
        .where(ArticleVersion.article_id == article.id)
        .order_by(ArticleVersion.version)
    )
    return [
        VersionInfo(
            version=row.version,
            author=row.author,
            change=row.change,
            created_at=row.created_at.isoformat(),
            content=_from_content(row.content),
        )
        for row in rows
    ]


async def rollback(session: AsyncSession, slug: str, version: int, *, author: str) -> Article:
    """Bring back the content of `version` as a new version (the status is kept, so rolling
    back a published article does not unpublish it)."""
    article = await get(session, slug)
    row = (
        await session.scalar(
            select(ArticleVersion).where(
                ArticleVersion.article_id == article.id, ArticleVersion.version == version
            )
        )
        if 1 <= version <= article.version  # also keeps numbers SQL cannot hold out of a query
        else None
    )
    if row is None:
        raise ArticleNotFoundError(
            f"article {slug!r} has no version {version} (it has 1 to {article.version})"
        )
    if version == article.version:
        raise KnowledgeError(f"version {version} is already the current version of {slug!r}")
    restored = _from_content(row.content).with_status(article.status)
    changed = restored.changed_fields(to_data(article))
    if not changed:
        raise KnowledgeError(f"version {version} of {slug!r} has the same content as now")
    _apply(article, restored)
    article.version += 1
    await _record(
        session,
        article,
        author=author,
        change=f"rolled back to version {version} ({', '.join(changed)})",
    )
    return article


async def published(session: AsyncSession) -> list[ArticleData]:
    """Every published article (what customers may be answered from)."""
    return [to_data(a) for a in await list_articles(session, status="published")]


async def generation(session: AsyncSession) -> int:
    """How many times the index has changed (0 before the first build)."""
    value = await session.scalar(select(IndexState.value).where(IndexState.name == GENERATION))
    return int(value or 0)


async def bump_generation(session: AsyncSession) -> int:
    """Record that the index changed; running servers reload when they see it."""
    state = await session.get(IndexState, GENERATION, with_for_update=True)
    if state is None:
        state = IndexState(name=GENERATION, value=0)
        session.add(state)
    state.value = (state.value or 0) + 1
    state.updated_at = utcnow()
    await session.flush()
    return state.value


async def erase_customer(session: AsyncSession, customer_ref: str) -> int:
    """Delete the answer log and feedback of one customer; returns the rows removed."""
    feedback = await session.execute(delete(Feedback).where(Feedback.customer_ref == customer_ref))
    answers = await session.execute(delete(AnswerLog).where(AnswerLog.customer_ref == customer_ref))
    return int(getattr(feedback, "rowcount", 0) or 0) + int(getattr(answers, "rowcount", 0) or 0)


async def count_articles(session: AsyncSession) -> dict[str, int]:
    """Number of articles per status."""
    rows = await session.execute(select(Article.status, func.count()).group_by(Article.status))
    return {str(status): int(n) for status, n in rows.all()}
