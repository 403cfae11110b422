"""Helpdesk KPIs computed in SQL: volumes, backlog, response and resolution times, SLA, CSAT.

The database does the counting: `GROUP BY`, portable `CASE` sums and window functions (for the
percentiles and the next-response waits). Python only merges the few grouped rows the
statements return. Every statement runs unchanged on SQLite and PostgreSQL.

Business-hours durations use a temporary table holding each calendar's open intervals with a
running total of the open seconds before each one, so "open time between a and b" costs two
indexed lookups per row. The definitions of every figure are in the README (Reports and KPIs).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
import uuid
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeAlias, get_args

from sqlalchemy import (
    Column,
    Float,
    FromClause,
    Index,
    Integer,
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
    literal_column,
    or_,
    select,
    text,
)
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncSession, async_sessionmaker
from sqlalchemy.ext.compiler import compiles
from sqlalchemy.sql import ColumnElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.sql.functions import FunctionElement

import tickets.report_models  # noqa: F401 - the indexes these statements rely on
from tickets.calendar import BusinessCalendar
from tickets.config import HelpdeskConfig, default_config
from tickets.errors import TicketError
from tickets.models import CsatRating, Message, Ticket, TicketEvent, UTCDateTime, utcnow

Dimension = Literal["department", "agent", "channel", "language", "day", "week"]
DIMENSIONS: tuple[str, ...] = get_args(Dimension)
CLOCKS = ("first_response", "next_response", "resolution")
OPEN_STATUSES = ("new", "open", "pending")
DONE_STATUSES = ("resolved", "closed")
TOTAL = "all"  # the key of the row that covers every ticket
MISSING = "-"  # the key of tickets without a department, assignee or language
POLICY_KEY = "@"  # business-hours keys of SLA policies that name their own calendar
RECONTACT_WINDOW = timedelta(days=7)
SATISFIED_MIN = 4  # CSAT scores counted as satisfied (4 and 5)
DAY = 86_400.0
FUTURE_HOURS = timedelta(days=366)  # how far past now the business-hours table may reach

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


class plus_seconds(FunctionElement[datetime]):
    """A timestamp column moved by a whole number of seconds, comparable with stored
    timestamps (and so with their indexes): `plus_seconds(Ticket.resolved_at, 86400)`."""

    type = UTCDateTime()
    name = "plus_seconds"
    inherit_cache = True


@compiles(plus_seconds, "sqlite")
def _plus_sqlite(element: plus_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = (compiler.process(c, **kw) for c in element.clauses)
    # Stored as 'YYYY-MM-DD HH:MM:SS.ffffff': whole seconds move, the fraction stays.
    return (
        f"(strftime('%Y-%m-%d %H:%M:%S', {moment}, ({seconds}) || ' seconds')"
        f" || substr({moment}, 20))"
    )


@compiles(plus_seconds, "postgresql")
def _plus_postgresql(element: plus_seconds, compiler: SQLCompiler, **kw: Any) -> str:
    moment, seconds = (compiler.process(c, **kw) for c in element.clauses)
    return f"({moment} + make_interval(secs => {seconds}))"


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

    def calendar_key(self) -> ColumnElement[str]:
        """SQL: the key of each ticket's calendar in the business-hours table: `@policy` for
        a policy with its own calendar, else the department when helpdesk.yaml names it, else
        `-` (the business calendar: no department, or one the configuration no longer has),
        so the table needs only the configured keys."""
        named = sorted(self.department_calendars)
        department: ColumnElement[str] = (
            case((Ticket.department.in_(named), Ticket.department), else_=_text(MISSING))
            if named
            else _text(MISSING)
        )
        if not self.policy_calendars:
            return department
        whens = [
            (Ticket.sla_policy == _text(name), _text(POLICY_KEY + name))
            for name in sorted(self.policy_calendars)
        ]
        return case(*whens, else_=department)

    def calendar_for(self, key: str) -> BusinessCalendar:
        """The calendar behind a key of `calendar_key()`."""
        if key.startswith(POLICY_KEY) and key[1:] in self.policy_calendars:
            return self.policy_calendars[key[1:]]
        return self.department_calendars.get(key, self.default_calendar)

    def known_keys(self) -> list[str]:
        """Keys of every configured department and policy calendar, and `-`."""
        keys = [MISSING, *self.department_calendars]
        keys += [POLICY_KEY + name for name in self.policy_calendars]
        return keys

    def has_target(self, clock: str) -> ColumnElement[bool]:
        """SQL: the ticket's SLA policy sets a target for `clock`. A policy helpdesk.yaml no
        longer names counts as setting every target (its clocks ran when it did)."""
        if not self.policy_targets:  # no policy is known: any policy counts
            return Ticket.sla_policy.is_not(None)
        names = sorted(name for name, clocks in self.policy_targets.items() if clock in clocks)
        unknown = and_(
            Ticket.sla_policy.is_not(None), Ticket.sla_policy.not_in(sorted(self.policy_targets))
        )
        return or_(Ticket.sla_policy.in_(names), unknown) if names else unknown


# -- business time ---------------------------------------------------------------------------


@contextlib.asynccontextmanager
async def business_hours_table(
    session: AsyncSession,
    rules: ReportRules,
    start: datetime,
    end: datetime,
    keys: Iterable[str] = (),
) -> AsyncIterator[Table]:
    """A temporary table with one row per calendar key and UTC day between `start` and `end`
    (keys: see `ReportRules.calendar_key`; the configured ones when `keys` is empty).

    Columns: `calendar` (the key), `day` (days since 1970-01-01 UTC), `before_s` (the
    calendar's open seconds from the table's first day up to that day) and the day's open
    pieces `s1`, `e1`, `s2`, `e2`, ... (epoch seconds; as many pairs as the busiest day needs,
    empty where a day has fewer). A row per day turns "open time up to t" into an equality
    join and a little arithmetic (`open_seconds`).
    """
    rows: list[dict[str, Any]] = []
    computed: dict[int, list[tuple[int, float, list[tuple[float, float]]]]] = {}
    for key in sorted(set(keys) or set(rules.known_keys())):
        calendar = rules.calendar_for(key)
        if id(calendar) not in computed:
            computed[id(calendar)] = _open_days(calendar, start, end)
        for day, before, pieces in computed[id(calendar)]:
            row: dict[str, Any] = {"calendar": key, "day": day, "before_s": before}
            for i, (a, b) in enumerate(pieces, start=1):
                row[f"s{i}"], row[f"e{i}"] = a, b
            rows.append(row)
    width = max([1, *(len(p) for days in computed.values() for _, _, p in days)])
    for row in rows:
        for i in range(1, width + 1):
            row.setdefault(f"s{i}", None)
            row.setdefault(f"e{i}", None)
    columns: list[Column[Any]] = [
        Column("calendar", String(200), nullable=False),
        Column("day", Integer, nullable=False),
        Column("before_s", Float, nullable=False),
    ]
    for i in range(1, width + 1):
        columns += [Column(f"s{i}", Float), Column(f"e{i}", Float)]
    async with _temporary_table(
        session, "report_hours", columns, rows=rows, index=("calendar", "day")
    ) as table:
        yield table


def _open_days(
    calendar: BusinessCalendar, start: datetime, end: datetime
) -> list[tuple[int, float, list[tuple[float, float]]]]:
    """(UTC day number, open seconds before it, its open pieces) for each day in range."""
    first = math.floor(start.timestamp() / DAY) - 2
    last = math.floor(end.timestamp() / DAY) + 2
    pieces: dict[int, list[tuple[float, float]]] = {}
    day = datetime.fromtimestamp(first * DAY, UTC).astimezone(calendar.zone).date()
    stop = datetime.fromtimestamp((last + 1) * DAY, UTC).astimezone(calendar.zone).date()
    while day <= stop:
        for begin, finish in calendar.intervals(day):
            a, b = begin.timestamp(), finish.timestamp()
            while a < b:  # split at UTC midnights
                number = math.floor(a / DAY)
                cut = min(b, (number + 1) * DAY)
                if first <= number <= last:
                    found = pieces.setdefault(number, [])
                    if found and found[-1][1] == a:
                        found[-1] = (found[-1][0], cut)  # adjacent: one piece
                    else:
                        found.append((a, cut))
                a = cut
        day += timedelta(days=1)
    out: list[tuple[int, float, list[tuple[float, float]]]] = []
    before = 0.0
    for number in range(first, last + 1):
        today = sorted(pieces.get(number, []))
        out.append((number, before, today))
        before += sum(b - a for a, b in today)
    return out


class epoch_day(FunctionElement[int]):
    """Days since 1970-01-01 UTC of an epoch-seconds value (floor)."""

    type = Integer()
    name = "epoch_day"
    inherit_cache = True


@compiles(epoch_day, "sqlite")
def _epoch_day_sqlite(element: epoch_day, compiler: SQLCompiler, **kw: Any) -> str:
    # Timestamps are after 1970, so truncation is the floor.
    return f"CAST(({compiler.process(element.clauses, **kw)}) / 86400.0 AS INTEGER)"


@compiles(epoch_day, "postgresql")
def _epoch_day_postgresql(element: epoch_day, compiler: SQLCompiler, **kw: Any) -> str:
    return f"CAST(FLOOR(({compiler.process(element.clauses, **kw)}) / 86400.0) AS INTEGER)"


def join_hours(
    hours: Table, calendar: ColumnElement[str], at: ColumnElement[float], day: Any = None
) -> Any:
    """An alias of the business-hours table and the ON clause joining the row of `at`
    (`day`: its day number, when the statement already has it as a column)."""
    h = hours.alias()
    return h, and_(h.c.calendar == calendar, h.c.day == (epoch_day(at) if day is None else day))


def open_seconds(h: Any, at: ColumnElement[float]) -> ColumnElement[float]:
    """SQL: open seconds up to `at`, given the joined business-hours row `h` of its day."""
    total: ColumnElement[float] = h.c.before_s
    i = 1
    while f"s{i}" in h.c:
        start, end = h.c[f"s{i}"], h.c[f"e{i}"]
        total = total + case(
            (or_(start.is_(None), at <= start), 0.0),
            (at >= end, end - start),
            else_=at - start,
        )
        i += 1
    return total


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
    charts: TicketCharts | None = None


# -- the statements --------------------------------------------------------------------------
#
# One pass over the period's tickets writes a temporary "facts" table (one row per ticket:
# its group keys, durations, flags); a second pass writes the customer waits. Every figure
# is then an aggregate over those small tables, for the total and for the chosen grouping.

CLOCK_COLUMNS = {"first_response": "fr", "next_response": "nr", "resolution": "res"}
WAIT_COLUMNS = ("wait_s", "wait_b")


def _in_window(column: Any, window: Window) -> ColumnElement[bool]:
    return and_(column >= window.since, column < window.until)


def _flag(condition: ColumnElement[bool]) -> ColumnElement[int]:
    return case((condition, 1), else_=0)


def _is_postgres(session: AsyncSession) -> bool:
    return session.get_bind().dialect.name == "postgresql"


async def tune_session(session: AsyncSession) -> None:
    """Settings for one reporting transaction: on PostgreSQL, no JIT compilation (it costs
    seconds on these one-off statements and saves nothing) and small statistics samples."""
    if _is_postgres(session):
        await session.execute(text("SET LOCAL jit = off"))
        # The temporary tables are analysed for their plans; a small sample is enough.
        await session.execute(text("SET LOCAL default_statistics_target = 10"))


@contextlib.asynccontextmanager
async def _temporary_table(
    session: AsyncSession,
    prefix: str,
    columns: Sequence[Column[Any]],
    *,
    fill: Any = None,
    rows: Sequence[dict[str, Any]] = (),
    index: Sequence[str] = (),
) -> AsyncIterator[Table]:
    """A temporary table filled from a statement (`fill`: INSERT ... SELECT) or `rows`;
    dropped on exit. Each call gets its own name, so reports never share one."""
    name = f"{prefix}_{uuid.uuid4().hex[:12]}"
    table = Table(name, MetaData(), *columns, prefixes=["TEMPORARY"])
    if index:
        Index(f"ix_{name}", *(table.c[c] for c in index))
    connection = await session.connection()
    await connection.run_sync(table.create)
    try:
        if fill is not None:
            await session.execute(insert(table).from_select(list(table.c.keys()), fill))
        if rows:
            await session.execute(insert(table), list(rows))
        if _is_postgres(session):
            # Temporary tables get no statistics on their own; the planner needs them.
            await session.execute(text(f"ANALYZE {name}"))
        yield table
    finally:
        with contextlib.suppress(SQLAlchemyError):
            await connection.run_sync(table.drop)


def _breach_events() -> Any:
    """Per ticket: which clocks the SLA clock logged a breach for (one row per ticket)."""
    return (
        select(
            TicketEvent.ticket_id.label("ticket_id"),
            *(
                func.max(_flag(TicketEvent.from_value == clock)).label(short)
                for clock, short in CLOCK_COLUMNS.items()
            ),
        )
        .where(TicketEvent.kind == "sla_breach")
        .group_by(TicketEvent.ticket_id)
        .subquery("breaches")
    )


def _came_back(own: Any, extra_contacts: FromClause | None) -> ColumnElement[bool]:
    """SQL: the customer made a new contact within 7 days after this ticket was resolved.

    `own` holds each ticket's values computed once (`id`, `customer_id`, `customer_ref`: the
    id as text, `resolved_at`, `horizon`: seven days after it), so each check is one index
    range with constant bounds."""
    o = own.c
    later = Ticket.__table__.alias("later").c
    new_ticket = exists().where(
        later.customer_id == o.customer_id,
        later.created_at > o.resolved_at,
        later.created_at <= o.horizon,
        later.id != o.id,
    )
    if extra_contacts is None:
        return new_ticket
    contact = extra_contacts.alias()
    other = exists().where(
        contact.c.customer_ref == o.customer_ref,
        contact.c.at > o.resolved_at,
        contact.c.at <= o.horizon,
    )
    return or_(new_ticket, other)


FACT_FLAGS = (
    "done",
    "resolved_once",
    "reopened",
    *(f"t_{s}" for s in CLOCK_COLUMNS.values()),
    *(f"b_{s}" for s in CLOCK_COLUMNS.values()),
    "score",
)
FACT_TIMES = ("frt_s", "frt_b", "res_s", "res_b")


def _facts_columns(dims: Sequence[str]) -> list[Column[Any]]:
    return [
        Column("id", Integer),
        Column("cal", String(200)),
        *(Column(name, String(200)) for name in dims),
        *(Column(name, Integer) for name in FACT_FLAGS),
        *(Column(name, Float) for name in FACT_TIMES),
    ]


def _public_reply(message: Any) -> ColumnElement[bool]:
    return and_(
        message.author_kind == "agent",
        message.direction == "out",
        message.internal.is_(false()),
    )


def _facts_select(
    window: Window, rules: ReportRules, hours: Table, dims: Sequence[str]
) -> AnySelect:
    """One row per ticket created in the period, in the column order of `_facts_columns`:
    its calendar, the group keys in `dims`, 0/1 flags, CSAT score, and the first response
    and resolution times in wall-clock and business seconds."""
    breaches = _breach_events()
    answered = Ticket.first_response_at.is_not(None)
    finished = and_(Ticket.status.in_(DONE_STATUSES), Ticket.resolved_at.is_not(None))
    done = Ticket.status.in_(DONE_STATUSES)
    late_first = and_(
        Ticket.first_response_due.is_not(None),
        Ticket.first_response_at > Ticket.first_response_due,
    )
    # Each ticket's own values, computed once (MATERIALIZED keeps the database from
    # re-parsing timestamps wherever the outer statement mentions them).
    base = (
        select(
            Ticket.id.label("id"),
            rules.calendar_key().label("cal"),
            *(group_key(name).label(name) for name in dims),  # type: ignore[arg-type]
            _flag(done).label("done"),
            _flag(Ticket.resolved_at.is_not(None)).label("resolved_once"),
            _flag(Ticket.reopen_count > 0).label("reopened"),
            *(_flag(rules.has_target(c)).label(f"t_{s}") for c, s in CLOCK_COLUMNS.items()),
            _flag(late_first).label("late_first"),
            epoch(Ticket.created_at).label("c0"),
            case((answered, epoch(Ticket.first_response_at))).label("c1"),
            case((finished, epoch(Ticket.resolved_at))).label("c2"),
            epoch_day(epoch(Ticket.created_at)).label("d0"),
            case((answered, epoch_day(epoch(Ticket.first_response_at)))).label("d1"),
            case((finished, epoch_day(epoch(Ticket.resolved_at)))).label("d2"),
        )
        .where(_in_window(Ticket.created_at, window))
        .cte("base")
        .prefix_with("MATERIALIZED")
    )
    b = base.c
    at_created, on_created = join_hours(hours, b.cal, b.c0, b.d0)
    at_first, on_first = join_hours(hours, b.cal, b.c1, b.d1)
    at_resolved, on_resolved = join_hours(hours, b.cal, b.c2, b.d2)
    logged = {short: func.coalesce(breaches.c[short], 0) == 1 for short in CLOCK_COLUMNS.values()}
    breached = {
        "fr": or_(logged["fr"], b.late_first == 1),
        "nr": logged["nr"],
        "res": logged["res"],
    }
    opened = open_seconds(at_created, b.c0)
    return (
        select(
            b.id,
            b.cal,
            *(b[name] for name in dims),
            b.done,
            b.resolved_once,
            b.reopened,
            *(b[f"t_{short}"] for short in CLOCK_COLUMNS.values()),
            *(_flag(breached[short]) for short in CLOCK_COLUMNS.values()),
            CsatRating.score,
            b.c1 - b.c0,
            case((b.c1.is_not(None), open_seconds(at_first, b.c1) - opened)),
            b.c2 - b.c0,
            case((b.c2.is_not(None), open_seconds(at_resolved, b.c2) - opened)),
        )
        .select_from(base)
        .outerjoin(at_created, on_created)
        .outerjoin(at_first, on_first)
        .outerjoin(at_resolved, on_resolved)
        .outerjoin(breaches, breaches.c.ticket_id == b.id)
        .outerjoin(CsatRating, CsatRating.ticket_id == b.id)
    )


def _waits_select(facts: Table, hours: Table, dims: Sequence[str]) -> AnySelect:
    """Every customer message after a ticket's first response (so the ticket was not
    resolved on first contact); those whose previous customer-visible message (by time,
    then id) is an agent reply start a wait, which lasts until the next agent reply.

    Driven from the facts rows of answered tickets (the left join keeps the database from
    walking every message of every ticket instead): one index seek finds a ticket's later
    customer messages; then, for those messages only, one seek each finds the previous
    message and the next reply, and their times become seconds once (nested CTEs)."""
    messages = Message.__table__.alias("m")
    m = messages.c
    found = (
        select(
            facts.c.id.label("ticket_id"),
            facts.c.cal.label("cal"),
            *(facts.c[name].label(name) for name in dims),
            m.id.label("message_id"),
            m.created_at.label("asked"),
        )
        .select_from(facts)
        .join(Ticket, Ticket.id == facts.c.id)
        .outerjoin(
            messages,
            and_(
                m.ticket_id == Ticket.id,
                m.created_at > Ticket.first_response_at,
                m.author_kind == "customer",
            ),
        )
        .where(facts.c.frt_s.is_not(None))
        .cte("found")
        .prefix_with("MATERIALIZED")
    )
    f = found.c
    earlier = Message.__table__.alias("earlier").c
    later = Message.__table__.alias("later").c
    previous = (
        select(earlier.author_kind)
        .where(
            earlier.ticket_id == f.ticket_id,
            earlier.created_at <= f.asked,
            or_(
                earlier.created_at < f.asked,
                and_(earlier.created_at == f.asked, earlier.id < f.message_id),
            ),
            or_(earlier.author_kind == "customer", _public_reply(earlier)),
        )
        .order_by(earlier.created_at.desc(), earlier.id.desc())
        .limit(1)
        .scalar_subquery()
    )
    next_reply = (
        select(func.min(later.created_at))
        .where(
            later.ticket_id == f.ticket_id,
            later.created_at >= f.asked,
            or_(later.created_at > f.asked, later.id > f.message_id),
            _public_reply(later),
        )
        .scalar_subquery()
    )
    candidates = (
        select(
            f.ticket_id,
            f.cal,
            *(f[name] for name in dims),
            epoch(f.asked).label("at"),
            epoch(next_reply).label("reply_at"),
            _flag(previous == "agent").label("after_reply"),
        )
        .where(f.asked.is_not(None))
        .cte("candidates")
        .prefix_with("MATERIALIZED")
    )
    w = candidates.c
    is_wait = and_(w.after_reply == 1, w.reply_at.is_not(None))
    at_start, on_start = join_hours(hours, w.cal, w.at)
    at_reply, on_reply = join_hours(hours, w.cal, w.reply_at)
    return (
        select(
            w.ticket_id,
            *(w[name] for name in dims),
            _flag(is_wait),
            case((is_wait, w.reply_at - w.at)),
            case((is_wait, open_seconds(at_reply, w.reply_at) - open_seconds(at_start, w.at))),
        )
        .select_from(candidates)
        .outerjoin(at_start, on_start)
        .outerjoin(at_reply, on_reply)
    )


def _key(table: Table, by: Dimension | None) -> ColumnElement[str]:
    return _text(TOTAL) if by is None else table.c[by]


def _grouped(statement: AnySelect, by: Dimension | None, key: Any) -> AnySelect:
    return statement.group_by(key) if by is not None else statement


def _volume_statement(facts: Table, waits: Table, by: Dimension | None) -> AnySelect:
    f = facts.c
    g = _key(facts, by)
    wrote_again = select(waits.c.ticket_id).distinct().subquery("wrote_again")
    # First contact resolution: resolved, never reopened, answered, and the customer did not
    # write again after the first agent reply.
    fcr = and_(
        f.done == 1, f.reopened == 0, f.frt_s.is_not(None), wrote_again.c.ticket_id.is_(None)
    )
    columns: list[Any] = [
        g,
        func.count(),
        func.sum(f.done),
        func.sum(f.reopened),
        func.sum(_flag(fcr)),
        func.sum(f.resolved_once),
        func.count(f.score),
        func.coalesce(func.sum(f.score), 0),
        func.sum(_flag(f.score >= SATISFIED_MIN)),
    ]
    for short in CLOCK_COLUMNS.values():
        columns.append(func.sum(f[f"t_{short}"]))
        columns.append(func.sum(_flag(and_(f[f"t_{short}"] == 1, f[f"b_{short}"] == 1))))
    any_target = or_(*(f[f"t_{s}"] == 1 for s in CLOCK_COLUMNS.values()))
    any_breach = or_(*(and_(f[f"t_{s}"] == 1, f[f"b_{s}"] == 1) for s in CLOCK_COLUMNS.values()))
    columns += [func.sum(_flag(any_target)), func.sum(_flag(any_breach))]
    statement = select(*columns).select_from(
        facts.outerjoin(wrote_again, wrote_again.c.ticket_id == f.id)
    )
    return _grouped(statement, by, g)


PERCENTILES_PER_STATEMENT = 100  # scalar subqueries in one percentile statement


def _ranks(n: int) -> tuple[int, int]:
    """Nearest-rank positions (1-based) of the median and the 90th percentile of n values."""
    return (n + 1) // 2, (n * 9 + 9) // 10


async def _distribution(
    session: AsyncSession, table: Table, value: str, by: Dimension | None
) -> dict[str, DurationStats]:
    """count, mean, p50 and p90 of a column per group, over its non-null values.

    Percentiles are nearest-rank: the value at position ceil(p * count) in ascending order.
    On SQLite an index on the temporary table (group key, value; only non-null values) is
    built once, which is the one sort this needs; the counts and means then read it in
    order, and each percentile is an `ORDER BY value LIMIT 1 OFFSET rank - 1` on it (all of
    them in one statement); window functions would sort the values again for every group.
    PostgreSQL has the nearest-rank percentile built in (`percentile_disc`)."""
    v = table.c[value]
    present = v.is_not(None)
    g = table.c[by] if by is not None else None
    key = g if g is not None else _text(TOTAL)
    if _is_postgres(session):
        # PostgreSQL's percentile_disc is nearest-rank (the first value whose cumulative
        # share reaches p), sorting each group once in memory.
        statement = select(
            key,
            func.count(v),
            func.avg(v),
            func.percentile_disc(0.5).within_group(v),
            func.percentile_disc(0.9).within_group(v),
        ).where(present)
        if g is not None:
            statement = statement.group_by(g)
        return {
            str(k): DurationStats(int(n), _seconds(mean), _seconds(p50), _seconds(p90))
            for k, n, mean, p50, p90 in (await session.execute(statement)).all()
            if n
        }
    index = Index(
        f"ix_{table.name}_{value}" + ("_g" if g is not None else ""),
        *([g] if g is not None else []),
        v,
        sqlite_where=present,
        postgresql_where=present,
    )
    connection = await session.connection()
    await connection.run_sync(index.create)
    counts = select(key, func.count(v), func.avg(v)).where(present)
    if g is not None:
        counts = counts.group_by(g)
    found = [(str(k), int(n), mean) for k, n, mean in (await session.execute(counts)).all() if n]
    out: dict[str, DurationStats] = {}
    for start in range(0, len(found), PERCENTILES_PER_STATEMENT):
        chunk = found[start : start + PERCENTILES_PER_STATEMENT]
        picks: list[Any] = []
        for name, n, _mean in chunk:
            ordered = select(v).where(present).order_by(v).limit(1)
            if g is not None:
                ordered = ordered.where(g == name)
            picks += [ordered.offset(rank - 1).scalar_subquery() for rank in _ranks(n)]
        values = (await session.execute(select(*picks))).one()
        for i, (name, n, mean) in enumerate(chunk):
            p50, p90 = values[2 * i], values[2 * i + 1]
            out[name] = DurationStats(n, _seconds(mean), _seconds(p50), _seconds(p90))
    return out


def _backlog_statement(window: Window, by: Dimension | None, now: datetime) -> AnySelect:
    """Status of each ticket at the end of the period. A ticket whose status has not changed
    since has its current status; others take their last status change before the end."""
    g = group_key(by)
    if window.until >= now:  # the period ends now: every status is the current one
        current = select(g.label("g"), Ticket.status.label("status")).where(
            Ticket.created_at < window.until, Ticket.status.in_(OPEN_STATUSES)
        )
        inside = current.subquery()
        return select(inside.c.g, inside.c.status, func.count()).group_by(
            inside.c.g, inside.c.status
        )
    changed_later = (
        select(TicketEvent.ticket_id)
        .where(TicketEvent.kind == "status", TicketEvent.at >= window.until)
        .scalar_subquery()
    )
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
    moved = Ticket.id.in_(changed_later)
    status = case((moved, func.coalesce(last_status, _text("new"))), else_=Ticket.status)
    inner = (
        select(g.label("g"), status.label("status"))
        .where(
            Ticket.created_at < window.until,
            or_(Ticket.status.in_(OPEN_STATUSES), moved),
        )
        .subquery()
    )
    statement = select(inner.c.g, inner.c.status, func.count()).where(
        inner.c.status.in_(OPEN_STATUSES)
    )
    return statement.group_by(inner.c.g, inner.c.status)


def _resolved_statement(window: Window, by: Dimension | None) -> AnySelect:
    g = group_key(by, at=Ticket.resolved_at)
    statement = select(g, func.count()).where(_in_window(Ticket.resolved_at, window))
    return _grouped(statement, by, g)


def _recontact_statement(
    window: Window, by: Dimension | None, extra_contacts: FromClause | None
) -> AnySelect:
    """Per group: cohort tickets resolved whose customer came back within 7 days."""
    own = (
        select(
            Ticket.id.label("id"),
            Ticket.customer_id.label("customer_id"),
            cast(Ticket.customer_id, String).label("customer_ref"),
            Ticket.resolved_at.label("resolved_at"),
            plus_seconds(Ticket.resolved_at, RECONTACT_WINDOW.total_seconds()).label("horizon"),
            group_key(by).label("g"),
        )
        .where(_in_window(Ticket.created_at, window), Ticket.resolved_at.is_not(None))
        .cte("own")
        .prefix_with("MATERIALIZED")
    )
    return select(own.c.g, func.count()).where(_came_back(own, extra_contacts)).group_by(own.c.g)


@dataclass
class _StatusCounts:
    """Figures read from the ticket tables directly, per group key: the backlog at the end of
    the period by status, tickets resolved in it, cohort tickets re-contacted."""

    backlog: dict[str, dict[str, int]] = field(default_factory=dict)
    resolved: dict[str, int] = field(default_factory=dict)
    recontacted: dict[str, int] = field(default_factory=dict)

    def total(self) -> _StatusCounts:
        """Every ticket is in exactly one group, so the total is the sum of the groups."""
        backlog: dict[str, int] = {}
        for statuses in self.backlog.values():
            for status, count in statuses.items():
                backlog[status] = backlog.get(status, 0) + count
        return _StatusCounts(
            backlog={TOTAL: backlog} if backlog else {},
            resolved={TOTAL: sum(self.resolved.values())} if self.resolved else {},
            recontacted={TOTAL: sum(self.recontacted.values())} if self.recontacted else {},
        )

    def apply(self, groups: dict[str, TicketKpis]) -> None:
        def kpis(key: str) -> TicketKpis:
            if key not in groups:
                groups[key] = TicketKpis(key=key)
            return groups[key]

        for key, statuses in self.backlog.items():
            kpis(key).backlog.update(statuses)
        for key, count in self.resolved.items():
            kpis(key).resolved = count
        for key, count in self.recontacted.items():
            kpis(key).recontacted = count


async def _status_counts(
    session: AsyncSession,
    window: Window,
    by: Dimension | None,
    extra_contacts: FromClause | None,
    now: datetime,
) -> _StatusCounts:
    """Backlog, resolved and re-contact per `by` group (the total when None). They need no
    facts table, so `ticket_report` runs them on a second connection beside the facts."""
    counts = _StatusCounts()
    for g, status, n in (await session.execute(_backlog_statement(window, by, now))).all():
        if n:
            counts.backlog.setdefault(str(g), {})[str(status)] = int(n)
    for g, n in (await session.execute(_resolved_statement(window, by))).all():
        if n:
            counts.resolved[str(g)] = int(n)
    recontact = _recontact_statement(window, by, extra_contacts)
    for g, n in (await session.execute(recontact)).all():
        if n:
            counts.recontacted[str(g)] = int(n)
    return counts


# -- running them ----------------------------------------------------------------------------


async def _collect(
    session: AsyncSession,
    by: Dimension | None,
    facts: Table,
    waits: Table,
    volumes: Sequence[Sequence[Any]],
) -> dict[str, TicketKpis]:
    """The figures of each `by` group: `volumes` are its rows of `_volume_statement`; the
    distributions are read here."""
    groups: dict[str, TicketKpis] = {}

    def kpis(key: Any) -> TicketKpis:
        name = str(key)
        if name not in groups:
            groups[name] = TicketKpis(key=name)
        return groups[name]

    for row in volumes:
        (key, created, done, reopened, fcr, asked, ratings, score_sum, satisfied) = row[:9]
        if not created:
            continue
        item = kpis(key)
        item.created, item.done, item.reopened, item.fcr = (
            int(created),
            int(done),
            int(reopened),
            int(fcr),
        )
        item.csat = CsatStats(int(asked), int(ratings), int(score_sum), int(satisfied))
        item.recontact_eligible = int(asked)
        clocks = [int(v or 0) for v in row[9:]]
        item.sla = {
            clock: ClockStats(clocks[2 * i], clocks[2 * i + 1])
            for i, clock in enumerate((*CLOCKS, "any"))
        }
    measures = (
        ("first_response", facts, "frt_s"),
        ("first_response_business", facts, "frt_b"),
        ("resolution", facts, "res_s"),
        ("resolution_business", facts, "res_b"),
        ("next_response", waits, "wait_s"),
        ("next_response_business", waits, "wait_b"),
    )
    for name, table, value in measures:
        for key, stats in (await _distribution(session, table, value, by)).items():
            setattr(kpis(key), name, stats)
    return groups


async def _bounds(session: AsyncSession, window: Window) -> tuple[datetime, datetime] | None:
    """The span of time the period's tickets touch (for the business-hours table): from the
    first ticket of the period to now (or the latest resolution, if later). Both come from
    an index."""
    first = await session.scalar(
        select(func.min(Ticket.created_at)).where(_in_window(Ticket.created_at, window))
    )
    if first is None:
        return None
    latest = await session.scalar(select(func.max(Ticket.resolved_at)))
    now = utcnow()
    # A period may end far in the future (`--until 9998-12-31`), but no ticket time is
    # there: a table reaching that far would take minutes to build for nothing.
    until = min(_as_utc(window.until), now + FUTURE_HOURS)
    return first, max(x for x in (latest, until, now) if x is not None)


def _as_utc(value: datetime) -> datetime:
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


async def ticket_report(
    session: AsyncSession,
    window: Window,
    *,
    by: Dimension | None = None,
    rules: ReportRules | None = None,
    extra_contacts: FromClause | None = None,
    charts: bool = False,
    sessions: async_sessionmaker[AsyncSession] | None = None,
) -> TicketReport:
    """Ticket KPIs for `window`, in total and per `by` group (see the README for definitions).

    `extra_contacts` is an optional selectable with columns `customer_ref` (the customer's id
    as text) and `at`: other contacts a customer made (such as questions the bot answered)
    that count as re-contact. `charts` also collects the series the PNG draws. With
    `sessions` (a session factory on the same database), the backlog, resolved and re-contact
    figures are computed on a second connection while `session` builds the facts.
    """
    if by is not None and by not in DIMENSIONS:
        raise ReportError(f"cannot group by {by!r} (use one of {', '.join(DIMENSIONS)})")
    rules = rules or ReportRules.from_config()
    now = utcnow()

    async def status_part(other: AsyncSession) -> _StatusCounts:
        await tune_session(other)
        return await _status_counts(other, window, by, extra_contacts, now)

    async def separately() -> _StatusCounts:
        assert sessions is not None
        async with sessions() as other:
            return await status_part(other)

    if sessions is None:
        facts_part = await _facts_part(session, window, by, rules, charts)
        counts = await status_part(session)
    else:
        facts_part, counts = await asyncio.gather(
            _facts_part(session, window, by, rules, charts), separately()
        )
    totals, grouped, series = facts_part
    if by is None:
        counts.apply(totals)
    else:
        counts.total().apply(totals)
        counts.apply(grouped)
    total = totals.get(TOTAL, TicketKpis(key=TOTAL))
    groups = sorted(grouped.values(), key=lambda k: _order(k, by))
    return TicketReport(window=window, by=by, totals=total, groups=groups, charts=series)


async def _facts_part(
    session: AsyncSession,
    window: Window,
    by: Dimension | None,
    rules: ReportRules,
    charts: bool,
) -> tuple[dict[str, TicketKpis], dict[str, TicketKpis], TicketCharts | None]:
    """The figures of the facts and waits tables: totals, groups and chart series."""
    await tune_session(session)
    bounds = await _bounds(session, window)
    if bounds is None:
        start = end = _as_utc(window.since)
    else:
        start, end = (_as_utc(b) for b in bounds)
    # Only the group keys this report shows: each costs string work on every ticket.
    dims = sorted({*([by] if by else []), *(("day", "channel", "department") if charts else ())})
    async with contextlib.AsyncExitStack() as stack:
        hours = await stack.enter_async_context(
            business_hours_table(session, rules, start, end + timedelta(days=2))
        )
        facts = await stack.enter_async_context(
            _temporary_table(
                session,
                "report_facts",
                _facts_columns(dims),
                fill=_facts_select(window, rules, hours, dims),
                index=("id",),
            )
        )
        waits = await stack.enter_async_context(
            _temporary_table(
                session,
                "report_waits",
                [
                    Column("ticket_id", Integer),
                    *(Column(name, String(200)) for name in dims),
                    Column("is_wait", Integer),
                    *(Column(name, Float) for name in WAIT_COLUMNS),
                ],
                fill=_waits_select(facts, hours, dims),
            )
        )
        volumes = list((await session.execute(_volume_statement(facts, waits, by))).all())
        if by is None:
            totals = await _collect(session, None, facts, waits, volumes)
            grouped = {}
        else:
            # Every volume figure is a count or a sum: the total adds the groups up.
            columns = zip(*(row[1:] for row in volumes), strict=True)
            total = [[TOTAL, *(sum(int(v or 0) for v in c) for c in columns)]] if volumes else []
            totals = await _collect(session, None, facts, waits, total)
            grouped = await _collect(session, by, facts, waits, volumes)
        series = await _chart_series(session, window, facts) if charts else None
    return totals, grouped, series


def _order(item: TicketKpis, by: Dimension | None) -> tuple[Any, ...]:
    if by in ("day", "week"):
        return (item.key,)
    return (-item.created, item.key == MISSING, item.key)


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


@dataclass
class TicketCharts:
    """Series behind the charts, each one grouped in SQL.

    `volume`: (UTC day, channel, tickets created); `first_response`: (wall-clock bucket,
    `met` | `breached` | `no target`, tickets); `csat`: (UTC day of the rating, ratings,
    average); `breaches`: (department, clock, tickets breached).
    """

    volume: list[tuple[str, str, int]] = field(default_factory=list)
    first_response: list[tuple[str, str, int]] = field(default_factory=list)
    csat: list[tuple[str, int, float]] = field(default_factory=list)
    breaches: list[tuple[str, str, int]] = field(default_factory=list)


async def _chart_series(session: AsyncSession, window: Window, facts: Table) -> TicketCharts:
    f = facts.c
    series = TicketCharts()
    volume = (
        select(f.day, f.channel, func.count()).group_by(f.day, f.channel).order_by(f.day, f.channel)
    )
    series.volume = [(str(d), str(c), int(n)) for d, c, n in (await session.execute(volume)).all()]
    bucket = case(
        *((f.frt_s < limit, _text(label)) for label, limit in FIRST_RESPONSE_BUCKETS),
        else_=_text(FIRST_RESPONSE_LAST_BUCKET),
    )
    outcome = case(
        (and_(f.t_fr == 1, f.b_fr == 1), _text("breached")),
        (f.t_fr == 1, _text("met")),
        else_=_text("no target"),
    )
    inner = (
        select(bucket.label("bucket"), outcome.label("outcome"))
        .where(f.frt_s.is_not(None))
        .subquery()
    )
    distribution = select(inner.c.bucket, inner.c.outcome, func.count()).group_by(
        inner.c.bucket, inner.c.outcome
    )
    series.first_response = [
        (str(b), str(o), int(n)) for b, o, n in (await session.execute(distribution)).all()
    ]
    day = day_of(CsatRating.created_at)
    csat = (
        select(day, func.count(), func.sum(CsatRating.score))
        .where(_in_window(CsatRating.created_at, window))
        .group_by(day)
        .order_by(day)
    )
    series.csat = [
        (str(d), int(n), round(int(total) / int(n), 3))
        for d, n, total in (await session.execute(csat)).all()
        if n
    ]
    breaches = select(
        f.department,
        *(
            func.sum(_flag(and_(f[f"t_{s}"] == 1, f[f"b_{s}"] == 1)))
            for s in CLOCK_COLUMNS.values()
        ),
    ).group_by(f.department)
    for row in (await session.execute(breaches.order_by(f.department))).all():
        series.breaches.extend(
            (str(row[0]), clock, int(n or 0)) for clock, n in zip(CLOCKS, row[1:], strict=True)
        )
    return series


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
    "TicketCharts",
    "TicketKpis",
    "TicketReport",
    "Window",
    "ticket_report",
)
