"""Reports across packages: ticket KPIs plus bot deflection, KB feedback and draft acceptance.

`tickets.reports` computes what the helpdesk tables know; this module adds what needs the
knowledge base's answer log and the drafting package's drafts (only `bots` may see them all),
all in SQL. It also parses report periods, builds the Slack summary (text and chart) and runs
the optional weekly digest.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import TYPE_CHECKING, Any

from sqlalchemy import Integer, String, and_, case, exists, false, func, or_, select, true, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

import bots.report_indexes  # noqa: F401 - the answer-log index these statements rely on
from bots.messages import IMAGE_META_KEY
from drafting.models import Draft
from knowledge.models import AnswerLog, Article, Feedback
from tickets.models import Counter, Message, Ticket, utcnow
from tickets.reports import (
    MISSING,
    TOTAL,
    Dimension,
    ReportError,
    ReportRules,
    TicketReport,
    Window,
    plus_seconds,
    ticket_report,
    tune_session,
)

if TYPE_CHECKING:
    from bots.db import Database

log = logging.getLogger(__name__)

DEFLECTION_WINDOW = timedelta(hours=24)
REPLY_DRAFT_KINDS = ("reply", "tone", "translation")
DRAFT_OUTCOMES = ("sent_as_is", "edited", "regenerated", "discarded")
DEFAULT_SINCE = "30d"
SLACK_DEFAULT_PERIOD = "7d"


# -- periods ---------------------------------------------------------------------------------

_RELATIVE = re.compile(r"^(\d{1,5})\s*([hdw])$")
_UNITS = {"h": timedelta(hours=1), "d": timedelta(days=1), "w": timedelta(weeks=1)}


# Ticket times are after 1970 (business time counts from the epoch); the last year is kept
# free so that the end of a day and the calendars' lookahead stay representable.
EARLIEST = datetime(1970, 1, 1, tzinfo=UTC)
LATEST = datetime(9999, 1, 1, tzinfo=UTC)


def _midnight(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=UTC)


def parse_moment(text: str, *, now: datetime, option: str, end: bool = False) -> datetime:
    """A report boundary: `YYYY-MM-DD` (UTC midnight; with `end`, the end of that day),
    `YYYY-MM-DDTHH:MM` (UTC unless it names an offset), `today`, `now`, or a time ago such
    as `12h`, `7d`, `2w`, between 1970 and 9998. Raises `ReportError` naming `option`
    otherwise."""
    try:
        moment = _moment(text, now=now, option=option, end=end)
    except OverflowError:  # e.g. the end of 9999-12-31: past what a datetime holds
        moment = None
    if moment is None or not EARLIEST <= moment <= LATEST:
        raise ReportError(
            f"{option}: {text.strip()!r} is out of range (reports cover "
            f"{EARLIEST:%Y-%m-%d} to {LATEST - timedelta(days=1):%Y-%m-%d})"
        )
    return moment


def _moment(text: str, *, now: datetime, option: str, end: bool) -> datetime:
    value = text.strip().lower()
    if value == "now":
        return now
    if value == "today":
        return _midnight(now.date()) + (timedelta(days=1) if end else timedelta(0))
    relative = _RELATIVE.match(value)
    if relative:
        return now - int(relative.group(1)) * _UNITS[relative.group(2)]
    if re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        try:
            day = date.fromisoformat(value)
        except ValueError:
            raise ReportError(f"{option}: {text!r} is not a real date") from None
        return _midnight(day) + (timedelta(days=1) if end else timedelta(0))
    try:
        moment = datetime.fromisoformat(text.strip())
    except ValueError:
        raise ReportError(
            f"{option}: {text!r} is not a date (YYYY-MM-DD), a time (YYYY-MM-DDTHH:MM) "
            "or a period back from now such as 12h, 7d or 2w"
        ) from None
    return moment.replace(tzinfo=UTC) if moment.tzinfo is None else moment.astimezone(UTC)


def parse_window(since: str | None, until: str | None, *, now: datetime) -> Window:
    """The window of `relaydesk report --since/--until` (defaults: the last 30 days)."""
    start = parse_moment(since or DEFAULT_SINCE, now=now, option="--since")
    end = parse_moment(until, now=now, option="--until", end=True) if until else now
    if end <= start:
        raise ReportError(
            f"--until ({end:%Y-%m-%d %H:%M}) must be after --since ({start:%Y-%m-%d %H:%M})"
        )
    return Window(start, end)


def parse_period(text: str, *, now: datetime) -> Window:
    """A period in chat words: `7d`, `2w`, `24h`, `today`, `week`, `month`, a day
    `YYYY-MM-DD`, or a range `YYYY-MM-DD..YYYY-MM-DD` (inclusive). Empty means 7 days."""
    value = text.strip().lower() or SLACK_DEFAULT_PERIOD
    value = {"week": "7d", "month": "30d"}.get(value, value)
    if ".." in value:
        first, _, last = value.partition("..")
        start = parse_moment(first, now=now, option="period")
        end = parse_moment(last, now=now, option="period", end=True)
    elif value == "today" or re.fullmatch(r"\d{4}-\d{2}-\d{2}", value):
        start = parse_moment(value, now=now, option="period")
        end = parse_moment(value, now=now, option="period", end=True)
    else:
        start, end = parse_moment(value, now=now, option="period"), now
    if end <= start:
        raise ReportError(f"period: {text!r} ends before it starts")
    return Window(start, end)


# -- portable helpers ------------------------------------------------------------------------


class as_int(FunctionElement[int]):
    """Text holding a whole number as an integer (NULL when it is not one)."""

    type = Integer()
    name = "as_int"
    inherit_cache = True


@compiles(as_int, "sqlite")
def _as_int_sqlite(element: as_int, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"(CASE WHEN {arg} GLOB '[0-9]*' THEN CAST({arg} AS INTEGER) END)"


@compiles(as_int, "postgresql")
def _as_int_postgresql(element: as_int, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"(CASE WHEN {arg} ~ '^[0-9]{{1,9}}$' THEN CAST({arg} AS INTEGER) END)"


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _text(value: str) -> ColumnElement[str]:
    from sqlalchemy import literal_column

    return literal_column("'" + value.replace("'", "''") + "'", String())


def _answer_group(by: Dimension | None) -> ColumnElement[str] | None:
    """How knowledge base questions group (None: they cannot be split this way)."""
    from tickets.reports import day_of, week_of

    if by is None:
        return _text(TOTAL)
    if by == "department":
        return func.coalesce(Article.department, _text(MISSING))
    if by == "channel":
        return func.coalesce(AnswerLog.channel, _text(MISSING))
    if by == "language":
        return func.coalesce(AnswerLog.language, _text(MISSING))
    if by == "day":
        return day_of(AnswerLog.created_at)
    if by == "week":
        return week_of(AnswerLog.created_at)
    return None  # agents do not answer the bot's questions


# -- bot deflection --------------------------------------------------------------------------


@dataclass
class KbKpis:
    """What the bot did with customers' questions in one group.

    Of the questions it answered, each ends up as exactly one of: `thumbs_down`, `handoff`
    (the customer got a ticket within 24 h), `new_contact` (asked again or wrote within 24 h),
    `pending` (24 h have not passed yet), `verified` (👍 and nothing of the above) or
    `assumed` (no 👍 or 👎 and nothing of the above).
    """

    key: str
    questions: int = 0
    answered: int = 0
    handed_off: int = 0
    verified: int = 0
    assumed: int = 0
    thumbs_down: int = 0
    handoff: int = 0
    new_contact: int = 0
    pending: int = 0

    @property
    def judged(self) -> int:
        """Questions whose 24 hours have passed (the base of the deflection rates)."""
        return self.questions - self.pending

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "questions": self.questions,
            "answered": self.answered,
            "handed_off": self.handed_off,
            "answer_rate": _ratio(self.answered, self.questions),
            "deflection": {
                "verified": self.verified,
                "assumed": self.assumed,
                "verified_rate": _ratio(self.verified, self.judged),
                "assumed_rate": _ratio(self.assumed, self.judged),
                "judged": self.judged,
                "pending": self.pending,
            },
            "not_deflected": {
                "thumbs_down": self.thumbs_down,
                "handoff": self.handoff,
                "new_contact": self.new_contact,
            },
        }


def _deflection_outcome(question: Any, now: datetime) -> ColumnElement[str]:
    """SQL: the fate of one question (a row of `_questions`; see `KbKpis`)."""
    q = question.c
    feedback_up = exists().where(Feedback.answer_id == q.id, Feedback.helpful.is_(true()))
    feedback_down = exists().where(Feedback.answer_id == q.id, Feedback.helpful.is_(false()))
    ticket_opened = exists().where(
        Ticket.customer_id == q.customer_id,
        Ticket.created_at >= q.at,
        Ticket.created_at <= q.horizon,
    )
    other = AnswerLog.__table__.alias("other").c
    asked_again = exists().where(
        other.customer_ref == q.customer_ref,
        other.created_at > q.at,
        other.created_at <= q.horizon,
    )
    wrote = exists(
        select(Message.id)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(
            Ticket.customer_id == q.customer_id,
            Message.created_at > q.at,
            Message.created_at <= q.horizon,
            Message.author_kind == "customer",
        )
    )
    return case(
        (q.answered.is_not(true()), _text("handed_off")),
        (feedback_down, _text("thumbs_down")),
        (ticket_opened, _text("handoff")),
        (or_(asked_again, wrote), _text("new_contact")),
        (q.horizon > now, _text("pending")),
        (feedback_up, _text("verified")),
        else_=_text("assumed"),
    )


async def kb_kpis(
    session: AsyncSession, window: Window, *, by: Dimension | None = None, now: datetime
) -> dict[str, KbKpis]:
    """Bot questions and deflection per group, for questions asked in `window`."""
    group = _answer_group(by)
    if group is None:
        return {}
    # Each question's own values once (its customer as a ticket customer id, the end of
    # its 24 hours); the checks then are index ranges on timestamps.
    source = select(
        AnswerLog.id.label("id"),
        AnswerLog.customer_ref.label("customer_ref"),
        as_int(AnswerLog.customer_ref).label("customer_id"),
        AnswerLog.answered.label("answered"),
        AnswerLog.created_at.label("at"),
        plus_seconds(AnswerLog.created_at, DEFLECTION_WINDOW.total_seconds()).label("horizon"),
        group.label("g"),
    ).where(AnswerLog.created_at >= window.since, AnswerLog.created_at < window.until)
    if by == "department":
        source = source.select_from(AnswerLog).outerjoin(Article, Article.slug == AnswerLog.slug)
    questions = source.cte("questions").prefix_with("MATERIALIZED")
    inner = select(
        questions.c.g.label("g"), _deflection_outcome(questions, now).label("outcome")
    ).subquery()
    statement = select(inner.c.g, inner.c.outcome, func.count()).group_by(
        inner.c.g, inner.c.outcome
    )
    counts: dict[str, dict[str, int]] = {}
    for key, outcome, count in (await session.execute(statement)).all():
        counts.setdefault(str(key), {})[str(outcome)] = int(count)
    out: dict[str, KbKpis] = {}
    for key, seen in counts.items():
        total = sum(seen.values())
        out[key] = KbKpis(
            key=key,
            questions=total,
            answered=total - seen.get("handed_off", 0),
            handed_off=seen.get("handed_off", 0),
            verified=seen.get("verified", 0),
            assumed=seen.get("assumed", 0),
            thumbs_down=seen.get("thumbs_down", 0),
            handoff=seen.get("handoff", 0),
            new_contact=seen.get("new_contact", 0),
            pending=seen.get("pending", 0),
        )
    return out


@dataclass(frozen=True)
class ArticleFeedback:
    """How one article did: answers given from it, 👍 and 👎 received in the period."""

    slug: str
    title: str
    answers: int
    helpful: int
    not_helpful: int

    def to_dict(self) -> dict[str, Any]:
        return {
            "slug": self.slug,
            "title": self.title,
            "answers": self.answers,
            "helpful": self.helpful,
            "not_helpful": self.not_helpful,
            "helpful_share": _ratio(self.helpful, self.helpful + self.not_helpful),
        }


async def article_feedback(session: AsyncSession, window: Window) -> list[ArticleFeedback]:
    """👍/👎 per article (feedback given in the period) beside the answers it gave."""
    answers = (
        select(AnswerLog.slug.label("slug"), func.count().label("n"))
        .where(
            AnswerLog.answered.is_(true()),
            AnswerLog.slug.is_not(None),
            AnswerLog.created_at >= window.since,
            AnswerLog.created_at < window.until,
        )
        .group_by(AnswerLog.slug)
    )
    votes = (
        select(
            Feedback.slug.label("slug"),
            _count_if(Feedback.helpful.is_(true())).label("up"),
            _count_if(Feedback.helpful.is_(false())).label("down"),
        )
        .where(
            Feedback.slug.is_not(None),
            Feedback.created_at >= window.since,
            Feedback.created_at < window.until,
        )
        .group_by(Feedback.slug)
    )
    merged: dict[str, list[int]] = {}
    for slug, n in (await session.execute(answers)).all():
        merged.setdefault(str(slug), [0, 0, 0])[0] = int(n)
    for slug, up, down in (await session.execute(votes)).all():
        entry = merged.setdefault(str(slug), [0, 0, 0])
        entry[1], entry[2] = int(up), int(down)
    titles: dict[str, str] = {}
    if merged:
        rows = await session.execute(
            select(Article.slug, Article.title).where(Article.slug.in_(sorted(merged)))
        )
        titles = {str(slug): str(title) for slug, title in rows.all()}
    items = [
        ArticleFeedback(slug, titles.get(slug, ""), a, up, down)
        for slug, (a, up, down) in merged.items()
    ]
    return sorted(items, key=lambda f: (-f.not_helpful, -f.answers, f.slug))


# -- drafts ----------------------------------------------------------------------------------


@dataclass
class DraftKpis:
    """What agents did with reply drafts (AI or offline) shown in one group."""

    key: str
    drafts: int = 0
    sent_as_is: int = 0
    edited: int = 0
    regenerated: int = 0
    discarded: int = 0
    undecided: int = 0
    edit_distance_sum: int = 0
    edit_distance_count: int = 0

    @property
    def decided(self) -> int:
        return self.drafts - self.undecided

    @property
    def mean_edit_distance(self) -> float | None:
        """Mean characters changed in drafts that were edited before sending."""
        if not self.edit_distance_count:
            return None
        return round(self.edit_distance_sum / self.edit_distance_count, 1)

    def to_dict(self) -> dict[str, Any]:
        return {
            "key": self.key,
            "drafts": self.drafts,
            "sent_as_is": self.sent_as_is,
            "edited": self.edited,
            "regenerated": self.regenerated,
            "discarded": self.discarded,
            "undecided": self.undecided,
            "acceptance_rate": _ratio(self.sent_as_is + self.edited, self.decided),
            "sent_as_is_rate": _ratio(self.sent_as_is, self.decided),
            "mean_edit_distance": self.mean_edit_distance,
        }


async def draft_kpis(
    session: AsyncSession, window: Window, *, by: Dimension | None = None
) -> dict[str, DraftKpis]:
    """Draft outcomes per group (the ticket's department, assignee, channel, language, or
    the day/week the draft was made), for reply drafts made in `window`."""
    from tickets.reports import group_key

    g = group_key(by, at=Draft.created_at)
    edited = Draft.outcome == "edited"
    statement = (
        select(
            g,
            func.count(),
            *(_count_if(Draft.outcome == name) for name in DRAFT_OUTCOMES),
            _count_if(Draft.outcome.is_(None)),
            func.coalesce(func.sum(case((edited, Draft.edit_distance), else_=0)), 0),
            _count_if(and_(edited, Draft.edit_distance.is_not(None))),
        )
        .select_from(Draft)
        .join(Ticket, Ticket.id == Draft.ticket_id)
        .where(
            Draft.kind.in_(REPLY_DRAFT_KINDS),
            Draft.created_at >= window.since,
            Draft.created_at < window.until,
        )
    )
    if by is not None:
        statement = statement.group_by(g)
    out: dict[str, DraftKpis] = {}
    for row in (await session.execute(statement)).all():
        key, total, as_is, edits, regenerated, discarded, undecided, distance, measured = tuple(row)
        if not total:
            continue
        out[str(key)] = DraftKpis(
            key=str(key),
            drafts=int(total),
            sent_as_is=int(as_is),
            edited=int(edits),
            regenerated=int(regenerated),
            discarded=int(discarded),
            undecided=int(undecided),
            edit_distance_sum=int(distance),
            edit_distance_count=int(measured),
        )
    return out


# -- the whole report ------------------------------------------------------------------------


@dataclass
class ChartSeries:
    """The numbers behind the PNG charts (each list comes from one SQL statement)."""

    volume: list[tuple[str, str, int]] = field(default_factory=list)
    first_response: list[tuple[str, str, int]] = field(default_factory=list)
    deflection: list[KbKpis] = field(default_factory=list)
    csat: list[tuple[str, int, float]] = field(default_factory=list)
    breaches: list[tuple[str, str, int]] = field(default_factory=list)


@dataclass
class Report:
    """Every KPI of a period, in total and per group, ready for table, CSV, JSON or PNG."""

    window: Window
    by: Dimension | None
    generated_at: datetime
    tickets: TicketReport
    kb_totals: KbKpis
    kb_groups: list[KbKpis]
    articles: list[ArticleFeedback]
    draft_totals: DraftKpis
    draft_groups: list[DraftKpis]
    charts: ChartSeries | None = None

    def keys(self) -> list[str]:
        """Group keys in display order: ticket groups first, then any only the bot saw."""
        keys = [g.key for g in self.tickets.groups]
        others = [k.key for k in self.kb_groups] + [d.key for d in self.draft_groups]
        for key in others:
            if key not in keys:
                keys.append(key)
        if self.by in ("day", "week"):
            keys.sort()
        return keys

    def to_dict(self) -> dict[str, Any]:
        """The JSON document of `relaydesk report --format json` (shape in the README)."""
        return {
            "period": {
                "since": self.window.since.isoformat(),
                "until": self.window.until.isoformat(),
            },
            "by": self.by,
            "generated_at": self.generated_at.isoformat(),
            "tickets": {
                "totals": self.tickets.totals.to_dict(),
                "groups": [g.to_dict() for g in self.tickets.groups],
            },
            "knowledge": {
                "totals": self.kb_totals.to_dict(),
                "groups": [g.to_dict() for g in self.kb_groups],
                "articles": [a.to_dict() for a in self.articles],
            },
            "drafts": {
                "totals": self.draft_totals.to_dict(),
                "groups": [g.to_dict() for g in self.draft_groups],
            },
        }


def _sorted_like(items: dict[str, Any], keys: list[str]) -> list[Any]:
    order = {key: index for index, key in enumerate(keys)}
    return sorted(
        items.values(),
        key=lambda item: (order.get(item.key, len(order)), item.key == MISSING, item.key),
    )


def _total_kb(groups: dict[str, KbKpis]) -> KbKpis:
    """Counts add up across groups: the total without another pass over the answers."""
    total = KbKpis(key=TOTAL)
    names: tuple[str, ...] = ("questions", "answered", "handed_off", "verified", "assumed")
    names += ("thumbs_down", "handoff", "new_contact", "pending")
    for item in groups.values():
        for name in names:
            setattr(total, name, getattr(total, name) + getattr(item, name))
    return total


def _total_drafts(groups: dict[str, DraftKpis]) -> DraftKpis:
    total = DraftKpis(key=TOTAL)
    for item in groups.values():
        for name in (
            "drafts",
            "sent_as_is",
            "edited",
            "regenerated",
            "discarded",
            "undecided",
            "edit_distance_sum",
            "edit_distance_count",
        ):
            setattr(total, name, getattr(total, name) + getattr(item, name))
    return total


@dataclass
class _BotPart:
    kb_total: KbKpis
    kb_groups: dict[str, KbKpis]
    kb_days: list[KbKpis]
    draft_total: DraftKpis
    draft_groups: dict[str, DraftKpis]
    articles: list[ArticleFeedback]


async def _bot_part(
    session: AsyncSession, window: Window, by: Dimension | None, now: datetime, charts: bool
) -> _BotPart:
    """The knowledge base and drafting figures; each statement runs once."""
    await tune_session(session)
    days = await kb_kpis(session, window, by="day", now=now) if charts else {}
    kb_grouped = await kb_kpis(session, window, by=by, now=now) if by is not None else {}
    if by is None and not charts:
        kb_total = (await kb_kpis(session, window, now=now)).get(TOTAL, KbKpis(key=TOTAL))
    elif by is not None and _answer_group(by) is not None:
        kb_total = _total_kb(kb_grouped)
    elif charts:
        kb_total = _total_kb(days)
    else:
        kb_total = (await kb_kpis(session, window, now=now)).get(TOTAL, KbKpis(key=TOTAL))
    draft_grouped = await draft_kpis(session, window, by=by)
    draft_total = _total_drafts(draft_grouped)
    return _BotPart(
        kb_total=kb_total,
        kb_groups=kb_grouped if by is not None else {},
        kb_days=sorted(days.values(), key=lambda k: k.key),
        draft_total=draft_total,
        draft_groups=draft_grouped if by is not None else {},
        articles=await article_feedback(session, window),
    )


async def build_report(
    session: AsyncSession,
    window: Window,
    *,
    by: Dimension | None = None,
    rules: ReportRules | None = None,
    now: datetime | None = None,
    charts: bool = False,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> Report:
    """Compute the full report for `window` (and the chart series when `charts`).

    With `sessions` (a session factory on the same database), the knowledge base and
    drafting figures are computed on a second connection while the ticket figures run on
    `session`, so the two halves use two processor cores.
    """
    now = now or utcnow()
    contacts = select(
        AnswerLog.customer_ref.label("customer_ref"), AnswerLog.created_at.label("at")
    ).subquery()
    ticket_part = ticket_report(
        session,
        window,
        by=by,
        rules=rules,
        extra_contacts=contacts,
        charts=charts,
        sessions=sessions,
    )
    if sessions is None:
        tickets = await ticket_part
        bot = await _bot_part(session, window, by, now, charts)
    else:

        async def _separately() -> _BotPart:
            async with sessions() as other:
                return await _bot_part(other, window, by, now, charts)

        tickets, bot = await asyncio.gather(ticket_part, _separately())
    keys = [g.key for g in tickets.groups]
    report = Report(
        window=window,
        by=by,
        generated_at=now,
        tickets=tickets,
        kb_totals=bot.kb_total,
        kb_groups=_sorted_like(bot.kb_groups, keys),
        articles=bot.articles,
        draft_totals=bot.draft_total,
        draft_groups=_sorted_like(bot.draft_groups, keys),
    )
    if charts and tickets.charts is not None:
        report.charts = ChartSeries(
            volume=tickets.charts.volume,
            first_response=tickets.charts.first_response,
            deflection=bot.kb_days,
            csat=tickets.charts.csat,
            breaches=tickets.charts.breaches,
        )
    return report


# -- Slack -----------------------------------------------------------------------------------


def human_duration(seconds: float | None) -> str:
    """`45s`, `12m`, `3h 20m`, `2d 4h`; `-` when there is no value."""
    if seconds is None:
        return "-"
    total = round(seconds)
    if total < 60:
        return f"{total}s"
    minutes = total // 60
    if minutes < 60:
        return f"{minutes}m"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours}h {minutes}m" if minutes else f"{hours}h"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h" if hours else f"{days}d"


def percent(value: float | None) -> str:
    return "-" if value is None else f"{value * 100:.0f}%"


def summary_text(report: Report) -> str:
    """The report in a few lines of Slack mrkdwn."""
    t = report.tickets.totals
    kb = report.kb_totals
    drafts = report.draft_totals
    sla = t.sla
    csat = t.csat
    since, until = report.window.since, report.window.until
    lines = [
        f"*relaydesk report* {since:%Y-%m-%d %H:%M} – {until:%Y-%m-%d %H:%M} UTC",
        f"• Tickets: {t.created} created, {t.resolved} resolved; backlog "
        f"{t.backlog['new']} new / {t.backlog['open']} open / {t.backlog['pending']} pending",
        f"• First response: median {human_duration(t.first_response.p50_s)} "
        f"({human_duration(t.first_response_business.p50_s)} business), "
        f"p90 {human_duration(t.first_response.p90_s)}; resolution median "
        f"{human_duration(t.resolution.p50_s)}",
        f"• SLA breached: first response {percent(sla['first_response'].breach_rate)}, "
        f"next response {percent(sla['next_response'].breach_rate)}, "
        f"resolution {percent(sla['resolution'].breach_rate)}",
        f"• CSAT: {csat.average if csat.average is not None else '-'} average, "
        f"{percent(csat.to_dict()['satisfied_share'])} 4-5, "
        f"{percent(csat.to_dict()['response_rate'])} answered; "
        f"FCR {percent(t.fcr_rate)}; re-contact {percent(t.recontact_rate)}",
        f"• Bot: {kb.questions} questions, {kb.answered} answered; deflection "
        f"{kb.verified} verified ({percent(kb.to_dict()['deflection']['verified_rate'])}), "
        f"{kb.assumed} assumed ({percent(kb.to_dict()['deflection']['assumed_rate'])})",
        f"• Drafts: {drafts.drafts} shown, "
        f"{percent(drafts.to_dict()['acceptance_rate'])} sent "
        f"({drafts.sent_as_is} as is, {drafts.edited} edited, mean edit distance "
        f"{drafts.mean_edit_distance if drafts.mean_edit_distance is not None else '-'})",
    ]
    return "\n".join(lines)


async def slack_summary(
    session: AsyncSession,
    period: str = "",
    *,
    rules: ReportRules | None = None,
    now: datetime | None = None,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> tuple[str, bytes]:
    """What `/relaydesk report [period]` posts: summary text (mrkdwn) and a PNG chart.

    `period` is `7d`, `2w`, `today`, `week`, `month`, `YYYY-MM-DD` or `A..B` (empty: 7 days).
    Raises `ReportError` with a one-line, user-safe message for a period it cannot read.
    """
    from bots.report_charts import render_png

    now = now or utcnow()
    window = parse_period(period, now=now)
    report = await build_report(
        session, window, rules=rules, now=now, charts=True, sessions=sessions
    )
    png = await asyncio.to_thread(render_png, report)
    return summary_text(report), png


# -- the weekly digest -----------------------------------------------------------------------

DIGEST_COUNTER = "report_digest"
DIGEST_WEEKDAY = 0  # Monday
DIGEST_HOUR = 8  # 08:00 UTC


def digest_week(now: datetime) -> int:
    """The ISO week a digest sent at `now` covers the week before of, as `YYYYWW`."""
    year, week, _ = (now - timedelta(days=7)).isocalendar()
    return year * 100 + week


def next_digest_at(now: datetime) -> datetime:
    """The next Monday 08:00 UTC strictly after `now`."""
    day = now.date() + timedelta(days=(DIGEST_WEEKDAY - now.weekday()) % 7)
    moment = datetime(day.year, day.month, day.day, DIGEST_HOUR, tzinfo=UTC)
    return moment if moment > now else moment + timedelta(days=7)


async def _claim_digest(session: AsyncSession, week: int) -> bool:
    """Take the right to send this week's digest (once across replicas)."""
    postgres = session.get_bind().dialect.name == "postgresql"
    insert = pg_insert if postgres else sqlite_insert
    await session.execute(
        insert(Counter)
        .values(name=DIGEST_COUNTER, value=0)
        .on_conflict_do_nothing(index_elements=["name"])
    )
    result = await session.execute(
        update(Counter)
        .where(Counter.name == DIGEST_COUNTER, Counter.value < week)
        .values(value=week)
        .execution_options(synchronize_session=False)
    )
    return bool(getattr(result, "rowcount", 0))


async def send_digest(
    session: AsyncSession,
    channel: str,
    *,
    rules: ReportRules | None = None,
    now: datetime,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> bool:
    """Enqueue last week's digest to a Slack channel, once per week; True if this call did.

    The notice carries the chart in `meta["image_png_b64"]`; the caller commits.
    """
    from bots.messages import ChatRef, OutboundMessage, image_meta
    from bots.pipeline.store import enqueue
    from bots.report_charts import render_png

    if not await _claim_digest(session, digest_week(now)):
        return False
    window = Window(now - timedelta(days=7), now)
    report = await build_report(
        session, window, rules=rules, now=now, charts=True, sessions=sessions
    )
    png = await asyncio.to_thread(render_png, report)
    message = OutboundMessage(
        chat=ChatRef("slack", channel),
        text=summary_text(report),
        kind="notice",
        meta=image_meta(
            png,
            title=f"relaydesk report {window.since:%Y-%m-%d} - {window.until:%Y-%m-%d}",
            filename=f"relaydesk-report-{window.until:%Y-%m-%d}.png",
        ),
    )
    enqueue(session, message)
    return True


class WeeklyDigest:
    """A `Lifecycle` that posts the weekly report to a Slack channel on Mondays 08:00 UTC."""

    def __init__(self, db: Database, channel: str, rules: ReportRules | None = None) -> None:
        self.db = db
        self.channel = channel
        self.rules = rules
        self._task: asyncio.Task[None] | None = None
        self._stop = asyncio.Event()

    async def start(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(), name="weekly-report-digest")

    async def stop(self) -> None:
        self._stop.set()
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None

    async def run_once(self, now: datetime) -> bool:
        """Send the digest due at `now` if no replica has; True when this call sent it."""
        async with self.db.session() as session:
            sent = await send_digest(
                session, self.channel, rules=self.rules, now=now, sessions=self.db.sessions
            )
            await session.commit()
        return sent

    async def _run(self) -> None:
        while not self._stop.is_set():
            now = utcnow()
            wait = (next_digest_at(now) - now).total_seconds()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._stop.wait(), timeout=wait)
            if self._stop.is_set():
                return
            try:
                if await self.run_once(utcnow()):
                    log.info("weekly report digest queued for %s", self.channel)
            except Exception:
                log.exception("the weekly report digest failed")


__all__ = [
    "IMAGE_META_KEY",
    "ArticleFeedback",
    "ChartSeries",
    "DraftKpis",
    "KbKpis",
    "Report",
    "WeeklyDigest",
    "article_feedback",
    "build_report",
    "draft_kpis",
    "kb_kpis",
    "parse_moment",
    "parse_period",
    "parse_window",
    "send_digest",
    "slack_summary",
    "summary_text",
]
