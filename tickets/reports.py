"""Helpdesk KPIs computed in SQL: volumes, backlog, response and resolution times, SLA, CSAT.

The database does the counting: `GROUP BY`, portable `CASE` sums and window functions (for the
percentiles and the next-response waits). Python only merges the few grouped rows the
statements return. Every statement runs unchanged on SQLite and PostgreSQL.

Business-hours durations use a temporary table holding each calendar's open intervals with a
running total of the open seconds before each one, so "open time between a and b" costs two
indexed lookups per row. The definitions of every figure are in the README (Reports and KPIs).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Literal, TypeAlias, get_args

from sqlalchemy import (
    Column,
    Float,
    FromClause,
    Index,
    MetaData,
    Select,
    String,
    Table,
    and_,
    case,
    cast,
    exists,
    false,
    func,
    insert,
    literal,
    literal_column,
    or_,
    select,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.orm import aliased
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

import tickets.report_models  # noqa: F401 - the indexes these statements rely on
from tickets.calendar import BusinessCalendar
from tickets.config import HelpdeskConfig, default_config
from tickets.errors import TicketError
from tickets.models import CsatRating, Message, Ticket, TicketEvent, utcnow

Dimension = Literal["department", "agent", "channel", "language", "day", "week"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
CLOCKS = ("first_response", "next_response", "resolution")
OPEN_STATUSES = ("new", "open", "pending")
DONE_STATUSES = ("resolved", "closed")
TOTAL = "all"  # the key of the row that covers every ticket
MISSING = "-"  # the key of tickets without a department, assignee or language
RECONTACT_WINDOW = timedelta(days=7)
SATISFIED_MIN = 4  # CSAT scores counted as satisfied (4 and 5)
DAY = 86_400.0

AnySelect: TypeAlias = Select[*tuple[Any, ...]]


class ReportError(TicketError):
    """A report cannot be made as asked (bad window or grouping); safe to show a user."""


@dataclass(frozen=True)
class Window:
    """The half-open period `[since, until)` a report covers, in timezone-aware times."""

    since: datetime
    until: datetime

    def __post_init__(self) -> None:
        if self.since.tzinfo is None or self.until.tzinfo is None:
            raise ReportError("a report period needs timezone-aware times")
        if self.until <= self.since:
            raise ReportError(
                f"the period is empty: {self.since:%Y-%m-%d %H:%M} is not before "
                f"{self.until:%Y-%m-%d %H:%M}"
            )

    @property
    def days(self) -> float:
        return (self.until - self.since).total_seconds() / DAY


# -- portable SQL functions -------------------------------------------------------------------


class epoch(FunctionElement[float]):
    """A timestamp as seconds since 1970-01-01 UTC (a float), on SQLite and PostgreSQL."""

    type = Float()
    name = "epoch"
    inherit_cache = True


@compiles(epoch, "sqlite")
def _epoch_sqlite(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    # Timestamps are stored as UTC text; julianday() reads it, 2440587.5 is 1970-01-01.
    return f"((julianday({compiler.process(element.clauses, **kw)}) - 2440587.5) * 86400.0)"


@compiles(epoch, "postgresql")
def _epoch_postgresql(element: epoch, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(EXTRACT(EPOCH FROM {compiler.process(element.clauses, **kw)}) AS FLOAT)"


class day_of(FunctionElement[str]):
    """The UTC calendar day of a timestamp as `YYYY-MM-DD` text."""

    type = String()
    name = "day_of"
    inherit_cache = True


@compiles(day_of, "sqlite")
def _day_sqlite(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"strftime('%Y-%m-%d', {compiler.process(element.clauses, **kw)})"


@compiles(day_of, "postgresql")
def _day_postgresql(element: day_of, compiler: SQLCompiler, **kw: Any) -> str:
    return f"to_char({compiler.process(element.clauses, **kw)} AT TIME ZONE 'UTC', 'YYYY-MM-DD')"


class week_of(FunctionElement[str]):
    """The Monday (UTC) that starts the ISO week of a timestamp, as `YYYY-MM-DD` text."""

    type = String()
    name = "week_of"
    inherit_cache = True


@compiles(week_of, "sqlite")
def _week_sqlite(element: week_of, compiler: SQLCompiler, **kw: Any) -> str:
    # 'weekday 0' moves forward to the week's Sunday (or stays on it); six days back is Monday.
    return f"date({compiler.process(element.clauses, **kw)}, 'weekday 0', '-6 days')"


@compiles(week_of, "postgresql")
def _week_postgresql(element: week_of, compiler: SQLCompiler, **kw: Any) -> str:
    arg = compiler.process(element.clauses, **kw)
    return f"to_char(date_trunc('week', {arg} AT TIME ZONE 'UTC'), 'YYYY-MM-DD')"


def _text(value: str) -> ColumnElement[str]:
    """A constant rendered inline (not a bound parameter), so it may appear in GROUP BY."""
    return literal_column("'" + value.replace("'", "''") + "'", String())


def _count_if(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return func.coalesce(func.sum(case((condition, 1), else_=0)), 0)


def group_key(by: Dimension | None, at: Any = None) -> ColumnElement[str]:
    """The grouping expression of a dimension over `tickets` (`at`: the time for day/week)."""
    if by is None:
        return _text(TOTAL)
    if by == "department":
        return func.coalesce(Ticket.department, _text(MISSING))
    if by == "agent":
        return func.coalesce(Ticket.assignee, _text(MISSING))
    if by == "channel":
        return func.coalesce(Ticket.channel, _text(MISSING))
    if by == "language":
        return func.coalesce(Ticket.language, _text(MISSING))
    moment = Ticket.created_at if at is None else at
    if by == "day":
        return day_of(moment)
    if by == "week":
        return week_of(moment)
    raise ReportError(f"cannot group by {by!r} (use one of {', '.join(DIMENSIONS)})")


# -- helpdesk.yaml facts a report needs ------------------------------------------------------


@dataclass(frozen=True)
class ReportRules:
    """What the report takes from helpdesk.yaml: calendars and which SLA targets exist.

    Business time is measured like the SLA clocks measure it: on the ticket's policy
    calendar, else its department's, else the helpdesk's business calendar.
    """

    default_calendar: BusinessCalendar = field(default_factory=BusinessCalendar.always)
    policy_calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    department_calendars: Mapping[str, BusinessCalendar] = field(default_factory=dict)
    policy_targets: Mapping[str, frozenset[str]] = field(default_factory=dict)

    @classmethod
    def from_config(cls, config: HelpdeskConfig | None = None) -> ReportRules:
        """The rules of a helpdesk.yaml (the built-in default configuration when None)."""
        config = config or default_config()
        return cls(
            default_calendar=config.calendar(),
            policy_calendars={
                p.name: config.calendar(p.calendar) for p in config.sla.policies if p.calendar
            },
            department_calendars={
                d.name: config.department_calendar(d.name) for d in config.departments
            },
            policy_targets={
                p.name: frozenset(c for c in CLOCKS if p.target(c) is not None)
                for p in config.sla.policies
            },
        )

    def calendars(self) -> dict[str, BusinessCalendar]:
        """Every calendar in use, by name."""
        found = {self.default_calendar.name: self.default_calendar}
        for calendar in (*self.policy_calendars.values(), *self.department_calendars.values()):
            found.setdefault(calendar.name, calendar)
        return found

    def calendar_key(self) -> ColumnElement[str]:
        """SQL naming the calendar of each row of `tickets`."""
        default = self.default_calendar.name
        whens: list[tuple[ColumnElement[bool], ColumnElement[str]]] = [
            (Ticket.sla_policy == name, literal(cal.name))
            for name, cal in self.policy_calendars.items()
        ]
        whens += [
            (Ticket.department == name, literal(cal.name))
            for name, cal in self.department_calendars.items()
            if cal.name != default
        ]
        if not whens:
            return literal(default)
        return case(*whens, else_=literal(default))

    def has_target(self, clock: str) -> ColumnElement[bool]:
        """SQL: the ticket's SLA policy sets a target for `clock`."""
        names = sorted(name for name, clocks in self.policy_targets.items() if clock in clocks)
        if not self.policy_targets:  # no policy is known: any policy counts
            return Ticket.sla_policy.is_not(None)
        if not names:
            return false()
        return Ticket.sla_policy.in_(names)


# -- business time ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def business_hours_table(
    session: AsyncSession, rules: ReportRules, start: datetime, end: datetime
) -> AsyncIterator[Table]:
    """A temporary table of every calendar's open intervals between `start` and `end`.

    Columns: `calendar`, `start_s`, `end_s` (epoch seconds) and `before_s`, the open seconds
    of that calendar from the table's first interval up to `start_s`. Dropped on exit.
    """
    name = f"report_hours_{uuid.uuid4().hex[:12]}"
    table = Table(
        name,
        MetaData(),
        Column("calendar", String(64), nullable=False),
        Column("start_s", Float, nullable=False),
        Column("end_s", Float, nullable=False),
        Column("before_s", Float, nullable=False),
        prefixes=["TEMPORARY"],
    )
    Index(f"ix_{name}", table.c.calendar, table.c.start_s)
    rows: list[dict[str, Any]] = []
    for calendar in rules.calendars().values():
        rows.extend(_open_intervals(calendar, start, end))
    connection = await session.connection()
    await connection.run_sync(table.create)
    try:
        if rows:
            await session.execute(insert(table), rows)
        yield table
    finally:
        with contextlib.suppress(SQLAlchemyError):
            await connection.run_sync(table.drop)


def _open_intervals(
    calendar: BusinessCalendar, start: datetime, end: datetime
) -> Iterable[dict[str, Any]]:
    day = start.astimezone(calendar.zone).date() - timedelta(days=1)
    last: date = end.astimezone(calendar.zone).date() + timedelta(days=1)
    before = 0.0
    while day <= last:
        for begin, finish in calendar.intervals(day):
            begin_s, end_s = begin.timestamp(), finish.timestamp()
            yield {
                "calendar": calendar.name,
                "start_s": begin_s,
                "end_s": end_s,
                "before_s": before,
            }
            before += end_s - begin_s
        day += timedelta(days=1)


def open_seconds_at(
    hours: Table, calendar: ColumnElement[str], at: ColumnElement[float]
) -> ColumnElement[float]:
    """SQL: the open seconds of `calendar` from the table's start up to the moment `at`."""
    h = hours.alias()
    inside = at - h.c.start_s
    span = h.c.end_s - h.c.start_s
    value = h.c.before_s + case((inside < span, inside), else_=span)
    latest = (
        select(value)
        .where(h.c.calendar == calendar, h.c.start_s <= at)
        .order_by(h.c.start_s.desc())
        .limit(1)
        .scalar_subquery()
    )
    return func.coalesce(latest, 0.0)


# -- results ---------------------------------------------------------------------------------


def _ratio(part: float, whole: float) -> float | None:
    return round(part / whole, 4) if whole else None


def _seconds(value: Any) -> float | None:
    return None if value is None else round(float(value), 1)


@dataclass(frozen=True)
class DurationStats:
    """How long something took, over `count` cases: mean, median and 90th percentile (s).

    Percentiles are nearest-rank: the value at position ceil(p * count) in ascending order.
    """

    count: int = 0
    mean_s: float | None = None
    p50_s: float | None = None
    p90_s: float | None = None

    def to_dict(self) -> dict[str, Any]:
        return {
            "count": self.count,
            "mean_s": self.mean_s,
            "p50_s": self.p50_s,
            "p90_s": self.p90_s,
        }


@dataclass(frozen=True)
class ClockStats:
    """One SLA clock: tickets whose policy sets its target, and how many of them breached."""

    with_target: int = 0
    breached: int = 0

    @property
    def breach_rate(self) -> float | None:
        return _ratio(self.breached, self.with_target)

    def to_dict(self) -> dict[str, Any]:
        return {
            "with_target": self.with_target,
            "breached": self.breached,
            "breach_rate": self.breach_rate,
        }


@dataclass(frozen=True)
class CsatStats:
    """Ratings of the tickets that were resolved (and so asked for one)."""

    asked: int = 0
    ratings: int = 0
    score_sum: int = 0
    satisfied: int = 0

    @property
    def average(self) -> float | None:
        return round(self.score_sum / self.ratings, 3) if self.ratings else None

    def to_dict(self) -> dict[str, Any]:
        return {
            "asked": self.asked,
            "ratings": self.ratings,
            "average": self.average,
            "satisfied": self.satisfied,
            "satisfied_share": _ratio(self.satisfied, self.ratings),
            "response_rate": _ratio(self.ratings, self.asked),
        }


@dataclass
class TicketKpis:
    """Every ticket figure of one group (a department, agent, channel, language, day or week)."""

    key: str
    created: int = 0
    resolved: int = 0
    done: int = 0
    reopened: int = 0
    fcr: int = 0
    backlog: dict[str, int] = field(default_factory=lambda: dict.fromkeys(OPEN_STATUSES, 0))
    first_response: DurationStats = field(default_factory=DurationStats)
    first_response_business: DurationStats = field(default_factory=DurationStats)
    next_response: DurationStats = field(default_factory=DurationStats)
    next_response_business: DurationStats = field(default_factory=DurationStats)
    resolution: DurationStats = field(default_factory=DurationStats)
    resolution_business: DurationStats = field(default_factory=DurationStats)
    sla: dict[str, ClockStats] = field(
        default_factory=lambda: {c: ClockStats() for c in (*CLOCKS, "any")}
    )
    csat: CsatStats = field(default_factory=CsatStats)
    recontact_eligible: int = 0
    recontacted: int = 0

    @property
    def resolution_rate(self) -> float | None:
        return _ratio(self.done, self.created)

    @property
    def fcr_rate(self) -> float | None:
        return _ratio(self.fcr, self.done)

    @property
    def recontact_rate(self) -> float | None:
        return _ratio(self.recontacted, self.recontact_eligible)

    def to_dict(self) -> dict[str, Any]:
        """The JSON shape of one group (documented in the README)."""
        return {
            "key": self.key,
            "created": self.created,
            "resolved": self.resolved,
            "backlog": dict(self.backlog),
            "reopened": self.reopened,
            "resolution_rate": self.resolution_rate,
            "resolved_of_created": self.done,
            "first_contact_resolution": {
                "resolved": self.done,
                "first_contact": self.fcr,
                "rate": self.fcr_rate,
            },
            "first_response": self.first_response.to_dict(),
            "first_response_business": self.first_response_business.to_dict(),
            "next_response": self.next_response.to_dict(),
            "next_response_business": self.next_response_business.to_dict(),
            "resolution_time": self.resolution.to_dict(),
            "resolution_time_business": self.resolution_business.to_dict(),
            "sla": {clock: stats.to_dict() for clock, stats in self.sla.items()},
            "csat": self.csat.to_dict(),
            "recontact": {
                "resolved": self.recontact_eligible,
                "recontacted": self.recontacted,
                "rate": self.recontact_rate,
            },
        }


@dataclass
class TicketReport:
    """Ticket KPIs for a period: the totals and, when grouped, one entry per group."""

    window: Window
    by: Dimension | None
    totals: TicketKpis
    groups: list[TicketKpis]


# -- the statements --------------------------------------------------------------------------


def _in_window(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= window.since, column < window.until)


def _grouped(statement: AnySelect, by: Dimension | None, *keys: Any) -> AnySelect:
    return statement.group_by(*keys) if by is not None else statement


def _breach_logged(clock: str) -> ColumnElement[bool]:
    return exists().where(
        TicketEvent.ticket_id == Ticket.id,
        TicketEvent.kind == "sla_breach",
        TicketEvent.from_value == clock,
    )


def _breached(clock: str) -> ColumnElement[bool]:
    """SQL: the SLA clock ran out (logged by the SLA clock, or a first reply after its due)."""
    logged = _breach_logged(clock)
    if clock == "first_response":
        return or_(
            logged,
            and_(
                Ticket.first_response_due.is_not(None),
                Ticket.first_response_at > Ticket.first_response_due,
            ),
        )
    return logged


def _came_back(extra_contacts: FromClause | None) -> ColumnElement[bool]:
    """SQL: the customer made a new contact within 7 days after this ticket was resolved."""
    later = aliased(Ticket)
    horizon = epoch(Ticket.resolved_at) + RECONTACT_WINDOW.total_seconds()
    new_ticket = exists().where(
        later.customer_id == Ticket.customer_id,
        later.id != Ticket.id,
        later.created_at > Ticket.resolved_at,
        epoch(later.created_at) <= horizon,
    )
    if extra_contacts is None:
        return new_ticket
    contact = extra_contacts.alias()
    other = exists().where(
        contact.c.customer_ref == cast(Ticket.customer_id, String),
        epoch(contact.c.at) > epoch(Ticket.resolved_at),
        epoch(contact.c.at) <= horizon,
    )
    return or_(new_ticket, other)


def _volume_statement(
    window: Window, by: Dimension | None, rules: ReportRules, extra_contacts: FromClause | None
) -> AnySelect:
    g = group_key(by)
    done = Ticket.status.in_(DONE_STATUSES)
    replies = (
        select(func.count())
        .where(
            Message.ticket_id == Ticket.id,
            Message.author_kind == "agent",
            Message.direction == "out",
            Message.internal.is_(false()),
        )
        .correlate(Ticket)
        .scalar_subquery()
    )
    resolved_once = Ticket.resolved_at.is_not(None)
    columns: list[Any] = [
        g.label("g"),
        func.count().label("created"),
        _count_if(done).label("done"),
        _count_if(Ticket.reopen_count > 0).label("reopened"),
        _count_if(and_(done, Ticket.reopen_count == 0, replies == 1)).label("fcr"),
        _count_if(resolved_once).label("asked"),
        func.count(CsatRating.id).label("ratings"),
        func.coalesce(func.sum(CsatRating.score), 0).label("score_sum"),
        _count_if(CsatRating.score >= SATISFIED_MIN).label("satisfied"),
        _count_if(resolved_once).label("recontact_eligible"),
        _count_if(and_(resolved_once, _came_back(extra_contacts))).label("recontacted"),
    ]
    any_target = or_(*(rules.has_target(c) for c in CLOCKS))
    any_breach = or_(*(_breached(c) for c in CLOCKS))
    for clock in CLOCKS:
        target = rules.has_target(clock)
        columns.append(_count_if(target).label(f"{clock}_target"))
        columns.append(_count_if(and_(target, _breached(clock))).label(f"{clock}_breached"))
    columns.append(_count_if(any_target).label("any_target"))
    columns.append(_count_if(and_(any_target, any_breach)).label("any_breached"))
    statement = (
        select(*columns)
        .select_from(Ticket)
        .outerjoin(CsatRating, CsatRating.ticket_id == Ticket.id)
        .where(_in_window(Ticket.created_at, window))
    )
    return _grouped(statement, by, g)


def _backlog_statement(window: Window, by: Dimension | None) -> AnySelect:
    """Status of each ticket at the end of the period: its last status change before then."""
    g = group_key(by)
    last_status = (
        select(TicketEvent.to_value)
        .where(
            TicketEvent.ticket_id == Ticket.id,
            TicketEvent.kind == "status",
            TicketEvent.at < window.until,
        )
        .order_by(TicketEvent.at.desc(), TicketEvent.id.desc())
        .limit(1)
        .correlate(Ticket)
        .scalar_subquery()
    )
    status = func.coalesce(last_status, _text("new"))
    inner = (
        select(g.label("g"), status.label("status"))
        .where(Ticket.created_at < window.until)
        .subquery()
    )
    statement = select(inner.c.g, inner.c.status, func.count()).where(
        inner.c.status.in_(OPEN_STATUSES)
    )
    return statement.group_by(inner.c.g, inner.c.status)


def _resolved_statement(window: Window, by: Dimension | None) -> AnySelect:
    g = group_key(by, at=Ticket.resolved_at)
    statement = select(g.label("g"), func.count()).where(_in_window(Ticket.resolved_at, window))
    return _grouped(statement, by, g)


def _stats_statement(values: AnySelect, by: Dimension | None) -> AnySelect:
    """count, mean, p50 and p90 of `values` (columns `g`, `v`) per group, in SQL."""
    source = values.subquery()
    partition = [source.c.g] if by is not None else []
    ranked = select(
        source.c.g,
        source.c.v,
        func.row_number().over(partition_by=partition, order_by=source.c.v).label("rn"),
        func.count().over(partition_by=partition).label("n"),
    ).subquery()
    p50 = (ranked.c.n + 1) // 2
    p90 = (ranked.c.n * 9 + 9) // 10
    key = ranked.c.g if by is not None else _text(TOTAL)
    statement = select(
        key,
        func.count(),
        func.avg(ranked.c.v),
        func.max(case((ranked.c.rn == p50, ranked.c.v))),
        func.max(case((ranked.c.rn == p90, ranked.c.v))),
    )
    return _grouped(statement, by, ranked.c.g)


def _duration_values(
    window: Window,
    by: Dimension | None,
    rules: ReportRules,
    hours: Table | None,
    start: Any,
    end: Any,
    condition: ColumnElement[bool],
) -> AnySelect:
    if hours is None:
        value = epoch(end) - epoch(start)
    else:
        calendar = rules.calendar_key()
        value = open_seconds_at(hours, calendar, epoch(end)) - open_seconds_at(
            hours, calendar, epoch(start)
        )
    return select(group_key(by).label("g"), value.label("v")).where(
        _in_window(Ticket.created_at, window), condition
    )


def _waits_values(
    window: Window, by: Dimension | None, rules: ReportRules, hours: Table | None
) -> AnySelect:
    """Each customer wait after the first response: from the first customer message that
    follows a customer-visible agent reply to the next such reply."""
    order = (Message.created_at, Message.id)
    at = epoch(Message.created_at)
    is_reply = and_(Message.author_kind == "agent", Message.internal.is_(false()))
    sequence = (
        select(
            group_key(by).label("g"),
            rules.calendar_key().label("cal"),
            Message.author_kind.label("author"),
            at.label("at"),
            func.lag(Message.author_kind)
            .over(partition_by=Message.ticket_id, order_by=order)
            .label("previous"),
            func.min(case((Message.author_kind == "agent", at)))
            .over(partition_by=Message.ticket_id, order_by=order, rows=(1, None))
            .label("reply_at"),
        )
        .select_from(Message)
        .join(Ticket, Ticket.id == Message.ticket_id)
        .where(
            _in_window(Ticket.created_at, window),
            or_(Message.author_kind == "customer", is_reply),
        )
        .subquery()
    )
    if hours is None:
        value = sequence.c.reply_at - sequence.c.at
    else:
        value = open_seconds_at(hours, sequence.c.cal, sequence.c.reply_at) - open_seconds_at(
            hours, sequence.c.cal, sequence.c.at
        )
    return select(sequence.c.g.label("g"), value.label("v")).where(
        sequence.c.author == "customer",
        sequence.c.previous == "agent",
        sequence.c.reply_at.is_not(None),
    )


# -- running them ----------------------------------------------------------------------------


async def _stats(
    session: AsyncSession, values: AnySelect, by: Dimension | None
) -> dict[str, DurationStats]:
    rows = (await session.execute(_stats_statement(values, by))).all()
    return {
        str(g): DurationStats(int(n), _seconds(mean), _seconds(p50), _seconds(p90))
        for g, n, mean, p50, p90 in rows
        if n
    }


async def _collect(
    session: AsyncSession,
    window: Window,
    by: Dimension | None,
    rules: ReportRules,
    hours: Table | None,
    extra_contacts: FromClause | None,
) -> dict[str, TicketKpis]:
    groups: dict[str, TicketKpis] = {}

    def kpis(key: Any) -> TicketKpis:
        name = str(key)
        if name not in groups:
            groups[name] = TicketKpis(key=name)
        return groups[name]

    volume = await session.execute(_volume_statement(window, by, rules, extra_contacts))
    for row in volume.mappings():
        if not row["created"]:
            continue
        item = kpis(row["g"])
        item.created = int(row["created"])
        item.done = int(row["done"])
        item.reopened = int(row["reopened"])
        item.fcr = int(row["fcr"])
        item.csat = CsatStats(
            int(row["asked"]), int(row["ratings"]), int(row["score_sum"]), int(row["satisfied"])
        )
        item.recontact_eligible = int(row["recontact_eligible"])
        item.recontacted = int(row["recontacted"])
        item.sla = {
            clock: ClockStats(int(row[f"{clock}_target"]), int(row[f"{clock}_breached"]))
            for clock in (*CLOCKS, "any")
        }
    for g, status, count in (await session.execute(_backlog_statement(window, by))).all():
        kpis(g).backlog[str(status)] = int(count)
    for g, count in (await session.execute(_resolved_statement(window, by))).all():
        if count:
            kpis(g).resolved = int(count)

    answered = Ticket.first_response_at.is_not(None)
    finished = and_(Ticket.status.in_(DONE_STATUSES), Ticket.resolved_at.is_not(None))
    measures: list[tuple[str, Any, ColumnElement[bool]]] = [
        ("first_response", Ticket.first_response_at, answered),
        ("resolution", Ticket.resolved_at, finished),
    ]
    for name, end, condition in measures:
        for business, table in (("", None), ("_business", hours)):
            values = _duration_values(window, by, rules, table, Ticket.created_at, end, condition)
            for g, stats in (await _stats(session, values, by)).items():
                setattr(kpis(g), name + business, stats)
    for business, table in (("", None), ("_business", hours)):
        values = _waits_values(window, by, rules, table)
        for g, stats in (await _stats(session, values, by)).items():
            setattr(kpis(g), "next_response" + business, stats)
    return groups


async def _bounds(session: AsyncSession, window: Window) -> tuple[datetime, datetime] | None:
    """The span of time the period's tickets touch (for the business-hours table)."""
    row = (
        await session.execute(
            select(
                func.min(Ticket.created_at),
                func.max(Ticket.updated_at),
                func.max(Ticket.resolved_at),
                func.max(Ticket.first_response_at),
            ).where(_in_window(Ticket.created_at, window))
        )
    ).one()
    if row[0] is None:
        return None
    ends = [value for value in row[1:] if value is not None]
    return row[0], max([*ends, window.until, utcnow()])


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def ticket_report(
    session: AsyncSession,
    window: Window,
    *,
    by: Dimension | None = None,
    rules: ReportRules | None = None,
    extra_contacts: FromClause | None = None,
) -> TicketReport:
    """Ticket KPIs for `window`, in total and per `by` group (see the README for definitions).

    `extra_contacts` is an optional selectable with columns `customer_ref` (the customer's id
    as text) and `at`: other contacts a customer made (such as questions the bot answered)
    that count as re-contact.
    """
    if by is not None and by not in DIMENSIONS:
        raise ReportError(f"cannot group by {by!r} (use one of {', '.join(DIMENSIONS)})")
    rules = rules or ReportRules.from_config()
    bounds = await _bounds(session, window)
    async with contextlib.AsyncExitStack() as stack:
        hours: Table | None = None
        if bounds is not None:
            start, end = (_as_utc(b) for b in bounds)
            hours = await stack.enter_async_context(
                business_hours_table(session, rules, start, end + timedelta(days=1))
            )
        totals = await _collect(session, window, None, rules, hours, extra_contacts)
        grouped = (
            await _collect(session, window, by, rules, hours, extra_contacts)
            if by is not None
            else {}
        )
    total = totals.get(TOTAL, TicketKpis(key=TOTAL))
    groups = sorted(grouped.values(), key=lambda k: _order(k, by))
    return TicketReport(window=window, by=by, totals=total, groups=groups)


def _order(item: TicketKpis, by: Dimension | None) -> tuple[Any, ...]:
    if by in ("day", "week"):
        return (item.key,)
    return (-item.created, item.key)


# -- series for charts -----------------------------------------------------------------------

FIRST_RESPONSE_BUCKETS: tuple[tuple[str, float], ...] = (
    ("<15m", 900),
    ("15-30m", 1800),
    ("30m-1h", 3600),
    ("1-2h", 7200),
    ("2-4h", 14400),
    ("4-8h", 28800),
    ("8-24h", 86400),
    ("1-2d", 172800),
)
FIRST_RESPONSE_LAST_BUCKET = ">2d"


async def daily_volume(session: AsyncSession, window: Window) -> list[tuple[str, str, int]]:
    """Tickets created per UTC day and channel: `(day, channel, count)`, in day order."""
    day = day_of(Ticket.created_at)
    statement = (
        select(day, Ticket.channel, func.count())
        .where(_in_window(Ticket.created_at, window))
        .group_by(day, Ticket.channel)
        .order_by(day, Ticket.channel)
    )
    return [(str(d), str(c), int(n)) for d, c, n in (await session.execute(statement)).all()]


async def first_response_distribution(
    session: AsyncSession, window: Window
) -> list[tuple[str, str, int]]:
    """First responses per wall-clock bucket and SLA outcome: `(bucket, outcome, count)`.

    Outcomes: `met`, `breached` (see `_breached`), `no target`.
    """
    seconds = epoch(Ticket.first_response_at) - epoch(Ticket.created_at)
    bucket = case(
        *((seconds < limit, _text(label)) for label, limit in FIRST_RESPONSE_BUCKETS),
        else_=_text(FIRST_RESPONSE_LAST_BUCKET),
    )
    outcome = case(
        (_breached("first_response"), _text("breached")),
        (Ticket.first_response_due.is_not(None), _text("met")),
        else_=_text("no target"),
    )
    inner = (
        select(bucket.label("bucket"), outcome.label("outcome"))
        .where(_in_window(Ticket.created_at, window), Ticket.first_response_at.is_not(None))
        .subquery()
    )
    statement = select(inner.c.bucket, inner.c.outcome, func.count()).group_by(
        inner.c.bucket, inner.c.outcome
    )
    return [(str(b), str(o), int(n)) for b, o, n in (await session.execute(statement)).all()]


async def daily_csat(session: AsyncSession, window: Window) -> list[tuple[str, int, float]]:
    """Ratings per UTC day they were given: `(day, ratings, average score)`."""
    day = day_of(CsatRating.created_at)
    statement = (
        select(day, func.count(), func.sum(CsatRating.score))
        .where(_in_window(CsatRating.created_at, window))
        .group_by(day)
        .order_by(day)
    )
    return [
        (str(d), int(n), round(int(total) / int(n), 3))
        for d, n, total in (await session.execute(statement)).all()
        if n
    ]


async def breaches_by_department(
    session: AsyncSession, window: Window, rules: ReportRules | None = None
) -> list[tuple[str, str, int]]:
    """Breached tickets per department and clock: `(department, clock, breached)`."""
    rules = rules or ReportRules.from_config()
    g = group_key("department")
    columns = [_count_if(and_(rules.has_target(c), _breached(c))) for c in CLOCKS]
    statement = (
        select(g, *columns).where(_in_window(Ticket.created_at, window)).group_by(g).order_by(g)
    )
    out: list[tuple[str, str, int]] = []
    for row in (await session.execute(statement)).all():
        out.extend((str(row[0]), clock, int(n)) for clock, n in zip(CLOCKS, row[1:], strict=True))
    return out


def describe_window(window: Window) -> str:
    """`2024-03-01 00:00 - 2024-03-08 00:00 UTC`."""
    return f"{window.since:%Y-%m-%d %H:%M} - {window.until:%Y-%m-%d %H:%M} UTC"


__all__: Sequence[str] = (
    "DIMENSIONS",
    "ClockStats",
    "CsatStats",
    "Dimension",
    "DurationStats",
    "ReportError",
    "ReportRules",
    "TicketKpis",
    "TicketReport",
    "Window",
    "breaches_by_department",
    "daily_csat",
    "daily_volume",
    "first_response_distribution",
    "ticket_report",
)
