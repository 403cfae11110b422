"""Business calendars: opening hours in a timezone, holidays, and time arithmetic over them.

Every computation converts to UTC before subtracting, so a day on which the clocks change
(Europe/Warsaw: 23 hours in March, 25 in October) counts the hours that really passed.
Opening hours are given per weekday in local time and never cross midnight (`24:00` ends a day).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from functools import lru_cache
from zoneinfo import ZoneInfo

WEEKDAYS = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
# Weekday names for customers (Monday first), then the word for a calendar never open.
_DAY_NAMES = {
    "en": ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "never"),
    "pl": ("pon.", "wt.", "śr.", "czw.", "pt.", "sob.", "niedz.", "nigdy"),
}
# How far ahead a computation may look for open hours before giving up (about ten years).
MAX_DAYS = 3700
ZERO = timedelta(0)

Hours = tuple[tuple[time, time | None], ...]  # (start, end); end None means midnight (24:00)


class CalendarError(ValueError):
    """A calendar cannot answer: it has no open hours within reach."""


def easter_sunday(year: int) -> date:
    """Gregorian Easter Sunday (the anonymous Gregorian algorithm)."""
    a = year % 19
    b, c = divmod(year, 100)
    d, e = divmod(b, 4)
    f = (b + 8) // 25
    g = (b - f + 1) // 3
    h = (19 * a + b - d - g + 15) % 30
    i, k = divmod(c, 4)
    ell = (32 + 2 * e + 2 * i - h - k) % 7
    m = (a + 11 * h + 22 * ell) // 451
    month, day = divmod(h + ell - 7 * m + 114, 31)
    return date(year, month, day + 1)


@lru_cache(maxsize=64)
def polish_holidays(year: int) -> Mapping[date, str]:
    """Public holidays in Poland (days off work) in `year`, with their Polish names."""
    easter = easter_sunday(year)
    days = {
        date(year, 1, 1): "Nowy Rok",
        date(year, 1, 6): "Święto Trzech Króli",
        easter: "Wielkanoc",
        easter + timedelta(days=1): "Poniedziałek Wielkanocny",
        date(year, 5, 1): "Święto Pracy",
        date(year, 5, 3): "Święto Konstytucji 3 Maja",
        easter + timedelta(days=49): "Zielone Świątki",
        easter + timedelta(days=60): "Boże Ciało",
        date(year, 8, 15): "Wniebowzięcie Najświętszej Maryi Panny",
        date(year, 11, 1): "Wszystkich Świętych",
        date(year, 11, 11): "Narodowe Święto Niepodległości",
        date(year, 12, 25): "Boże Narodzenie (pierwszy dzień)",
        date(year, 12, 26): "Boże Narodzenie (drugi dzień)",
    }
    if year >= 2025:  # Christmas Eve is a day off since 2025
        days[date(year, 12, 24)] = "Wigilia Bożego Narodzenia"
    return days


COUNTRY_HOLIDAYS = {"PL": polish_holidays}


@dataclass(frozen=True)
class BusinessCalendar:
    """When a team works: weekly hours in a timezone minus holidays (or always, for 24x7)."""

    name: str
    zone: tzinfo = UTC
    weekly: tuple[Hours, ...] = ((),) * 7  # Monday first
    holidays: frozenset[date] = field(default_factory=frozenset)
    country: str | None = None
    always_open: bool = False

    @classmethod
    def always(cls, name: str = "24x7", zone: tzinfo = UTC) -> BusinessCalendar:
        """A calendar that never closes."""
        return cls(name=name, zone=zone, always_open=True)

    @classmethod
    def weekly_hours(
        cls,
        name: str,
        timezone: str,
        hours: Mapping[str, Iterable[tuple[time, time | None]]],
        holidays: Iterable[date] = (),
        country: str | None = None,
    ) -> BusinessCalendar:
        """A calendar from per-weekday hours (`{"mon": [(08:00, 16:00)], ...}`)."""
        weekly = tuple(tuple(sorted(hours.get(day, ()))) for day in WEEKDAYS)
        return cls(
            name=name,
            zone=ZoneInfo(timezone),
            weekly=weekly,
            holidays=frozenset(holidays),
            country=country,
        )

    # -- questions about one day ------------------------------------------------------------

    def is_holiday(self, day: date) -> bool:
        if day in self.holidays:
            return True
        table = COUNTRY_HOLIDAYS.get(self.country or "")
        return table is not None and day in table(day.year)

    def intervals(self, day: date) -> list[tuple[datetime, datetime]]:
        """The open intervals of a local calendar day, as UTC datetimes."""
        if self.always_open:
            return [(self._utc(day, time(0)), self._utc(day + timedelta(days=1), time(0)))]
        if self.is_holiday(day):
            return []
        out = []
        for start, end in self.weekly[day.weekday()]:
            begin = self._utc(day, start)
            finish = (
                self._utc(day + timedelta(days=1), time(0)) if end is None else self._utc(day, end)
            )
            if finish > begin:
                out.append((begin, finish))
        return out

    def _utc(self, day: date, at: time) -> datetime:
        # A local time skipped by a spring-forward change maps past the gap (fold=0 semantics).
        return datetime.combine(day, at, tzinfo=self.zone).astimezone(UTC)

    def _days_from(self, moment: datetime) -> Iterator[date]:
        day = moment.astimezone(self.zone).date()
        for offset in range(MAX_DAYS):
            yield day + timedelta(days=offset)

    # -- arithmetic ---------------------------------------------------------------------------

    def is_open(self, at: datetime) -> bool:
        """Whether the team works at this moment."""
        moment = _as_utc(at)
        if self.always_open:
            return True
        day = moment.astimezone(self.zone).date()
        return any(start <= moment < end for start, end in self.intervals(day))

    def add(self, start: datetime, duration: timedelta) -> datetime:
        """The moment when `duration` of open time has passed since `start` (UTC)."""
        moment = _as_utc(start)
        if duration <= ZERO:
            return moment
        if self.always_open:
            return moment + duration
        remaining = duration
        for day in self._days_from(moment):
            for begin, end in self.intervals(day):
                if end <= moment:
                    continue
                begin = max(begin, moment)
                if end - begin >= remaining:
                    return begin + remaining
                remaining -= end - begin
        raise CalendarError(f"calendar {self.name!r} has no open hours within {MAX_DAYS} days")

    def elapsed(self, start: datetime, end: datetime) -> timedelta:
        """Open time between two moments (zero when `end` is not after `start`)."""
        first, last = _as_utc(start), _as_utc(end)
        if last <= first:
            return ZERO
        if self.always_open:
            return last - first
        total = ZERO
        for day in self._days_from(first):
            intervals = self.intervals(day)
            if intervals and intervals[0][0] >= last:
                break
            for begin, finish in intervals:
                lo, hi = max(begin, first), min(finish, last)
                if hi > lo:
                    total += hi - lo
            if self._utc(day + timedelta(days=1), time(0)) >= last:
                break
        return total

    def remaining(self, now: datetime, due: datetime) -> timedelta:
        """Open time left until `due`; negative (wall-clock) when `due` has passed."""
        if due <= now:
            return -(_as_utc(now) - _as_utc(due))
        return self.elapsed(now, due)

    def next_open(self, at: datetime) -> datetime:
        """The first moment at or after `at` when the team works."""
        moment = _as_utc(at)
        if self.always_open:
            return moment
        for day in self._days_from(moment):
            for begin, end in self.intervals(day):
                if end > moment:
                    return max(begin, moment)
        raise CalendarError(f"calendar {self.name!r} has no open hours within {MAX_DAYS} days")

    def describe(self, language: str = "en") -> str:
        """Opening hours in one line, e.g. `Mon-Fri 08:00-16:00 (Europe/Warsaw)`; day names
        in Polish for `language="pl"` (`pon.-pt. 08:00-16:00 (Europe/Warsaw)`)."""
        names = _DAY_NAMES.get(language, _DAY_NAMES["en"])
        if self.always_open:
            return "24/7"
        groups: list[tuple[int, int, Hours]] = []
        for index, hours in enumerate(self.weekly):
            if groups and groups[-1][2] == hours and groups[-1][1] == index - 1:
                groups[-1] = (groups[-1][0], index, hours)
            else:
                groups.append((index, index, hours))
        parts = []
        for first, last, hours in groups:
            if not hours:
                continue
            days = names[first]
            if last != first:
                days += "-" + names[last]
            spans = ", ".join(
                f"{s:%H:%M}-{'24:00' if e is None else format(e, '%H:%M')}" for s, e in hours
            )
            parts.append(f"{days} {spans}")
        return f"{'; '.join(parts) or names[7]} ({self.zone})"


def _as_utc(moment: datetime) -> datetime:
    if moment.tzinfo is None:
        raise ValueError("business time needs timezone-aware datetimes")
    return moment.astimezone(UTC)
