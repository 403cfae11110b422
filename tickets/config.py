"""The `helpdesk.yaml` schema: departments, calendars, SLA policies, routing, escalation, CSAT.

`load_config(path)` reads and validates a file; any mistake raises `ConfigFileError` with one
line naming the file, the field path and why, e.g.
`helpdesk.yaml: routing[2].when.learned.min_confidence: must be between 0 and 1 (rule 'vip')`.
`default_config()` is what runs when no file is given: one department, open 24x7, no breach
actions.
"""

from __future__ import annotations

import re
from datetime import UTC, date, datetime, time, timedelta
from itertools import pairwise
from pathlib import Path
from typing import Annotated, Any, Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import yaml
from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from tickets.calendar import (
    COUNTRY_HOLIDAYS,
    MAX_DAYS,
    WEEKDAYS,
    BusinessCalendar,
    CalendarError,
)
from tickets.errors import TicketError

PRIORITIES = ("low", "normal", "high", "urgent")
TIERS = ("L1", "L2", "L3")
LEARNED = "learned"  # `then.department: learned` routes to the classifier's guess
ALWAYS = "24x7"  # a calendar that always exists and never closes

Priority = Literal["low", "normal", "high", "urgent"]
Tier = Literal["L1", "L2", "L3"]
BreachAction = Literal["escalate_tier", "raise_priority", "notify"]

_DURATION = re.compile(r"^\s*(?:(\d+)\s*d)?\s*(?:(\d+)\s*h)?\s*(?:(\d+)\s*m)?\s*$")
# The longest duration helpdesk.yaml may give: due times and windows stay within the calendar.
MAX_DURATION = timedelta(days=365)
_HOURS = re.compile(r"^\s*(\d{1,2}):(\d{2})\s*-\s*(\d{1,2}):(\d{2})\s*$")


class ConfigFileError(TicketError):
    """helpdesk.yaml is missing, unreadable or wrong; the message names the field and why."""


def parse_duration(value: Any) -> timedelta:
    """`30m`, `4h`, `1h30m`, `2d` (a day is 24 hours) -> timedelta."""
    if isinstance(value, timedelta):
        return value
    text = str(value)
    match = _DURATION.match(text) if isinstance(value, str) else None
    if match is None or not any(match.groups()):
        raise ValueError(f"must be a duration like 30m, 4h, 1h30m or 2d, not {text!r}")
    days, hours, minutes = (int(g or 0) for g in match.groups())
    if (days * 24 + hours) * 60 + minutes > MAX_DURATION.total_seconds() // 60:
        raise ValueError(f"must be at most {format_duration(MAX_DURATION)}, not {text!r}")
    return timedelta(days=days, hours=hours, minutes=minutes)


def format_duration(value: timedelta) -> str:
    """The inverse of `parse_duration` (`1h30m`)."""
    minutes = int(value.total_seconds() // 60)
    days, rest = divmod(minutes, 24 * 60)
    hours, mins = divmod(rest, 60)
    parts = [f"{n}{unit}" for n, unit in ((days, "d"), (hours, "h"), (mins, "m")) if n]
    return "".join(parts) or "0m"


Duration = Annotated[timedelta, BeforeValidator(parse_duration)]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


def _as_list(value: Any) -> Any:
    """Let a single value stand for a one-element list (`channel: telegram`)."""
    if value is None or isinstance(value, list):
        return value
    return [value]


StrList = Annotated[list[str], BeforeValidator(_as_list)]


# -- calendars ------------------------------------------------------------------------------


def _parse_span(text: str) -> tuple[time, time | None]:
    match = _HOURS.match(text)
    if match is None:
        raise ValueError(f"must look like 08:00-16:00, not {text!r}")
    h1, m1, h2, m2 = (int(g) for g in match.groups())
    if h1 > 23 or m1 > 59 or m2 > 59 or h2 > 24 or (h2 == 24 and m2):
        raise ValueError(f"{text!r} is not a time range within a day")
    start = time(h1, m1)
    end = None if h2 == 24 else time(h2, m2)
    if end is not None and end <= start:
        raise ValueError(f"{text!r} ends before it starts (hours may not cross midnight)")
    return start, end


def _day_keys(key: str) -> list[str]:
    key = key.strip().lower()
    if key in {"daily", "every day"}:
        return list(WEEKDAYS)
    if key in {"weekdays", "workdays"}:
        return list(WEEKDAYS[:5])
    if "-" in key:
        first, _, last = key.partition("-")
        if first in WEEKDAYS and last in WEEKDAYS:
            a, b = WEEKDAYS.index(first), WEEKDAYS.index(last)
            if a <= b:
                return list(WEEKDAYS[a : b + 1])
    if key in WEEKDAYS:
        return [key]
    raise ValueError(f"{key!r} is not a weekday (mon..sun), a range like mon-fri, or daily")


class Holiday(_Model):
    date: date
    name: str = ""


def _holiday(value: Any) -> Any:
    return {"date": value} if isinstance(value, date | str) else value


class CalendarConfig(_Model):
    """Opening hours of a team: a timezone, hours per weekday, holidays."""

    timezone: str = "UTC"
    always_open: bool = False
    hours: dict[str, Annotated[list[str], BeforeValidator(_as_list)]] = Field(default_factory=dict)
    holidays: list[Annotated[Holiday, BeforeValidator(_holiday)]] = Field(default_factory=list)
    country_holidays: str | None = None

    @field_validator("timezone")
    @classmethod
    def _zone(cls, value: str) -> str:
        try:
            ZoneInfo(value)
        except (ZoneInfoNotFoundError, ValueError):
            raise ValueError(
                f"unknown timezone {value!r} (use an IANA name like Europe/Warsaw)"
            ) from None
        return value

    @field_validator("hours")
    @classmethod
    def _hours(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        seen: set[str] = set()
        for key, spans in value.items():
            days = _day_keys(key)
            if seen & set(days):
                raise ValueError(f"{key!r} repeats a day given earlier")
            seen |= set(days)
            parsed = sorted(((*_parse_span(span), span) for span in spans), key=lambda t: t[0])
            for (_, end, earlier), (start, _, later) in pairwise(parsed):
                if end is None or start < end:
                    raise ValueError(f"{later!r} overlaps {earlier!r} on {key!r}")
        return value

    @field_validator("country_holidays")
    @classmethod
    def _country(cls, value: str | None) -> str | None:
        if value is not None and value.upper() not in COUNTRY_HOLIDAYS:
            known = ", ".join(sorted(COUNTRY_HOLIDAYS))
            raise ValueError(f"no built-in holidays for {value!r} (known: {known})")
        return value.upper() if value else None

    @model_validator(mode="after")
    def _has_hours(self) -> CalendarConfig:
        if not self.always_open and not any(self.hours.values()):
            raise ValueError("hours: a calendar needs opening hours (or always_open: true)")
        return self

    def build(self, name: str) -> BusinessCalendar:
        zone = ZoneInfo(self.timezone)
        if self.always_open:
            return BusinessCalendar.always(name, zone)
        hours: dict[str, list[tuple[time, time | None]]] = {}
        for key, spans in self.hours.items():
            for day in _day_keys(key):
                hours.setdefault(day, []).extend(_parse_span(s) for s in spans)
        days = [h.date for h in self.holidays]
        return BusinessCalendar.weekly_hours(
            name, self.timezone, hours, holidays=days, country=self.country_holidays
        )


# -- departments and agents -------------------------------------------------------------------


class DepartmentConfig(_Model):
    """A team that owns tickets; agents work them in its Slack triage channel."""

    name: str = Field(min_length=1, max_length=64)
    description: str = ""
    guidelines: str = ""  # how this team answers; given to the AI drafter
    slack_channel: str | None = None
    slack_user_group: str | None = None
    agents: list[str] = Field(default_factory=list)
    tier_channels: dict[Tier, str] = Field(default_factory=dict)
    calendar: str | None = None


class AgentConfig(_Model):
    """A person who works tickets: Slack user id, name, departments, tier."""

    slack_id: str = Field(min_length=1, max_length=64)
    name: str = ""
    departments: list[str] = Field(default_factory=list)
    tier: Tier = "L1"


# -- SLA -------------------------------------------------------------------------------------


class SlaMatch(_Model):
    """Which tickets a policy covers; every given field must match (lists mean any of)."""

    priority: Annotated[list[Priority] | None, BeforeValidator(_as_list)] = None
    department: StrList | None = None
    tier: Annotated[list[Tier] | None, BeforeValidator(_as_list)] = None
    channel: StrList | None = None
    customer_tier: StrList | None = None


class SlaPolicy(_Model):
    """Targets in business time, a warning threshold and what to do on a breach."""

    name: str = Field(min_length=1, max_length=64)
    match: SlaMatch = Field(default_factory=SlaMatch)
    calendar: str | None = None
    first_response: Duration | None = None
    next_response: Duration | None = None
    resolution: Duration | None = None
    warn_at: int | None = 80
    on_breach: list[BreachAction] = Field(default_factory=list)

    @field_validator("warn_at")
    @classmethod
    def _percent(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 99:
            raise ValueError("must be a percentage between 1 and 99 (or null for no warning)")
        return value

    @field_validator("first_response", "next_response", "resolution")
    @classmethod
    def _positive(cls, value: timedelta | None) -> timedelta | None:
        if value is not None and value <= timedelta(0):
            raise ValueError("must be longer than zero")
        return value

    def target(self, clock: str) -> timedelta | None:
        value: timedelta | None = getattr(self, clock)
        return value


class SlaConfig(_Model):
    policies: list[SlaPolicy] = Field(default_factory=list)


# -- routing ---------------------------------------------------------------------------------


class LearnedCondition(_Model):
    """The learned classifier's guess, with at least this confidence (and this department)."""

    department: str | None = None
    min_confidence: float = 0.0

    @field_validator("min_confidence")
    @classmethod
    def _unit(cls, value: float) -> float:
        if not 0.0 <= value <= 1.0:
            raise ValueError("must be between 0 and 1")
        return value


class RuleWhen(_Model):
    """Conditions of a routing rule; all given ones must hold (lists mean any of)."""

    channel: StrList | None = None
    language: StrList | None = None
    keywords: StrList | None = None
    regex: str | None = None
    customer_tier: StrList | None = None
    customer_tags: StrList | None = None
    learned: LearnedCondition | None = None
    business_hours: bool | None = None
    calendar: str | None = None

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"is not a valid regular expression: {exc}") from None
        return value

    @field_validator("keywords")
    @classmethod
    def _non_empty(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not all(k.strip() for k in value):
            raise ValueError("keywords may not be empty strings")
        return value

    @field_validator("channel", "language", "keywords", "customer_tier", "customer_tags")
    @classmethod
    def _something(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and not value:
            raise ValueError("an empty list matches nothing, so the rule could never apply")
        return value


class RuleThen(_Model):
    """What a matching rule does; `stop: false` lets later rules add to it."""

    department: str | None = None
    priority: Priority | None = None
    tier: Tier | None = None
    tags: StrList = Field(default_factory=list)
    assignee: str | None = Field(None, min_length=1, max_length=64)
    stop: bool = True


class RoutingRule(_Model):
    name: str = Field(min_length=1, max_length=64)
    when: RuleWhen = Field(default_factory=RuleWhen)
    then: RuleThen


# -- the rest ----------------------------------------------------------------------------------


class EscalationConfig(_Model):
    """How tickets move between tiers and departments."""

    reassign: bool = True  # on escalation, pick an agent of the new tier/department (round-robin)
    notify: bool = True  # announce escalations in the target Slack channel


class CsatConfig(_Model):
    enabled: bool = True
    comment: bool = True  # invite an optional comment after the score


class HelpdeskConfig(_Model):
    """The whole helpdesk.yaml."""

    default_department: str = Field(min_length=1)
    business_calendar: str = ALWAYS
    calendars: dict[str, CalendarConfig] = Field(default_factory=dict)
    departments: list[DepartmentConfig] = Field(min_length=1)
    agents: list[AgentConfig] = Field(default_factory=list)
    assignment: Literal["manual", "round_robin"] = "manual"
    sla: SlaConfig = Field(default_factory=SlaConfig)
    routing: list[RoutingRule] = Field(default_factory=list)
    escalation: EscalationConfig = Field(default_factory=EscalationConfig)
    reopen_window: Duration = timedelta(days=7)
    csat: CsatConfig = Field(default_factory=CsatConfig)

    _calendars: dict[str, BusinessCalendar] = PrivateAttr(default_factory=dict)

    # -- lookups ---------------------------------------------------------------------------

    def department(self, name: str | None) -> DepartmentConfig | None:
        for department in self.departments:
            if department.name == name:
                return department
        return None

    @property
    def department_names(self) -> list[str]:
        return [d.name for d in self.departments]

    def calendar(self, name: str | None = None) -> BusinessCalendar:
        """A calendar by name; the business calendar when no name is given."""
        key = name or self.business_calendar
        cached = self._calendars.get(key)
        if cached is None:
            spec = self.calendars.get(key)
            cached = spec.build(key) if spec is not None else BusinessCalendar.always(ALWAYS)
            self._calendars[key] = cached
        return cached

    def department_calendar(self, department: str | None) -> BusinessCalendar:
        found = self.department(department)
        return self.calendar(found.calendar if found and found.calendar else None)

    def policy(self, name: str | None) -> SlaPolicy | None:
        for policy in self.sla.policies:
            if policy.name == name:
                return policy
        return None

    def agents_of(self, department: str) -> list[AgentConfig]:
        """Agents working for a department (listed under it or naming it)."""
        found = self.department(department)
        listed = set(found.agents if found else [])
        return [a for a in self.all_agents() if a.slack_id in listed or department in a.departments]

    def all_agents(self) -> list[AgentConfig]:
        """Every agent: those in `agents:` plus ids only listed under a department."""
        known = {a.slack_id: a for a in self.agents}
        extra: dict[str, list[str]] = {}
        for department in self.departments:
            for slack_id in department.agents:
                if slack_id not in known:
                    extra.setdefault(slack_id, []).append(department.name)
        return [
            *known.values(),
            *(AgentConfig(slack_id=k, departments=v) for k, v in extra.items()),
        ]

    def find_agent(self, who: str) -> AgentConfig | None:
        """An agent by Slack user id or (case-insensitive) name."""
        for agent in self.all_agents():
            if agent.slack_id == who or (agent.name and agent.name.casefold() == who.casefold()):
                return agent
        return None

    def notify_channel(self, department: str | None, tier: str | None = None) -> str | None:
        """Where notices about a ticket go: the tier's channel, else the triage channel."""
        found = self.department(department)
        if found is None:
            return None
        if tier and tier in found.tier_channels:
            return found.tier_channels[tier]
        return found.slack_channel


def default_config() -> HelpdeskConfig:
    """What runs without a helpdesk.yaml: one department, always open, no breach actions."""
    return _DEFAULT


_DEFAULT = HelpdeskConfig(
    default_department="general",
    departments=[DepartmentConfig(name="general", description="everything")],
    sla=SlaConfig(
        policies=[
            SlaPolicy(
                name="default",
                first_response=timedelta(hours=8),
                next_response=timedelta(hours=8),
                resolution=timedelta(days=5),
                warn_at=80,
                on_breach=[],
            )
        ]
    ),
)


# -- loading -----------------------------------------------------------------------------------


def _where(loc: tuple[int | str, ...]) -> str:
    out = ""
    for part in loc:
        if isinstance(part, int):
            out += f"[{part}]"
        else:
            out += ("." if out else "") + str(part)
    return out


def _why(error: Any) -> str:
    kind = error.get("type", "")
    if kind == "missing":
        return "is required"
    if kind == "extra_forbidden":
        return "is not a known field"
    message = str(error.get("msg", "is invalid"))
    for prefix in ("Value error, ", "Assertion failed, "):
        if message.startswith(prefix):
            message = message[len(prefix) :]
    return message[:1].lower() + message[1:]


def _rule_name(data: Any, loc: tuple[int | str, ...]) -> str | None:
    """The `name` of the routing rule or SLA policy a location points into, if any."""
    if len(loc) >= 2 and loc[0] == "routing" and isinstance(loc[1], int):
        items = data.get("routing") if isinstance(data, dict) else None
    elif len(loc) >= 3 and loc[:2] == ("sla", "policies") and isinstance(loc[2], int):
        sla = data.get("sla") if isinstance(data, dict) else None
        items = sla.get("policies") if isinstance(sla, dict) else None
        loc = loc[1:]
    else:
        return None
    index = loc[1]
    if isinstance(items, list) and isinstance(index, int) and index < len(items):
        item = items[index]
        if isinstance(item, dict) and isinstance(item.get("name"), str):
            return str(item["name"])
    return None


def _clean_loc(loc: tuple[int | str, ...]) -> tuple[int | str, ...]:
    # Pydantic names union members in locations (`list[literal[...]]`): drop those.
    return tuple(p for p in loc if not (isinstance(p, str) and "[" in p))


class _Problem(Exception):
    def __init__(self, where: str, why: str) -> None:
        super().__init__(f"{where}: {why}")
        self.where, self.why = where, why


def _check_references(config: HelpdeskConfig) -> None:
    departments = set(config.department_names)
    calendars = {*config.calendars, ALWAYS}
    known_departments = ", ".join(config.department_names)
    known_calendars = ", ".join(sorted(calendars))

    def department(where: str, name: str | None, allow_learned: bool = False) -> None:
        if name is None or name in departments or (allow_learned and name == LEARNED):
            return
        raise _Problem(where, f"unknown department {name!r} (known: {known_departments})")

    def calendar(where: str, name: str | None) -> None:
        if name is not None and name not in calendars:
            raise _Problem(where, f"unknown calendar {name!r} (known: {known_calendars})")

    seen: set[str] = set()
    for i, dept in enumerate(config.departments):
        if dept.name in seen:
            raise _Problem(f"departments[{i}].name", f"{dept.name!r} is given twice")
        seen.add(dept.name)
        calendar(f"departments[{i}].calendar", dept.calendar)
    department("default_department", config.default_department)
    calendar("business_calendar", config.business_calendar)
    ids: set[str] = set()
    for i, agent in enumerate(config.agents):
        if agent.slack_id in ids:
            raise _Problem(f"agents[{i}].slack_id", f"{agent.slack_id!r} is given twice")
        ids.add(agent.slack_id)
        for j, name in enumerate(agent.departments):
            department(f"agents[{i}].departments[{j}]", name)
    names: set[str] = set()
    for i, policy in enumerate(config.sla.policies):
        where = f"sla.policies[{i}]"
        if policy.name in names:
            raise _Problem(f"{where}.name", f"{policy.name!r} is given twice")
        names.add(policy.name)
        calendar(f"{where}.calendar", policy.calendar)
        for j, name in enumerate(policy.match.department or []):
            department(f"{where}.match.department[{j}]", name)
        _check_targets_fit(config, policy, where)
    names = set()
    for i, rule in enumerate(config.routing):
        where = f"routing[{i}]"
        if rule.name in names:
            raise _Problem(f"{where}.name", f"{rule.name!r} is given twice")
        names.add(rule.name)
        calendar(f"{where}.when.calendar", rule.when.calendar)
        if rule.when.learned is not None:
            department(f"{where}.when.learned.department", rule.when.learned.department)
        department(f"{where}.then.department", rule.then.department, allow_learned=True)
        if rule.then.department == LEARNED and rule.when.learned is None:
            raise _Problem(
                f"{where}.then.department",
                "'learned' needs a `when.learned` condition (with its min_confidence)",
            )
        if rule.then.assignee and config.agents and config.find_agent(rule.then.assignee) is None:
            raise _Problem(f"{where}.then.assignee", f"unknown agent {rule.then.assignee!r}")


def _check_targets_fit(config: HelpdeskConfig, policy: SlaPolicy, where: str) -> None:
    """Each target must be reachable in every calendar the policy's clocks may run on."""
    if policy.calendar:
        names = {policy.calendar}
    else:
        names = {d.calendar or config.business_calendar for d in config.departments}
    now = datetime.now(UTC)
    for clock in ("first_response", "next_response", "resolution"):
        target = policy.target(clock)
        if target is None:
            continue
        for name in sorted(names):
            try:
                config.calendar(name).add(now, target)
            except CalendarError:
                raise _Problem(
                    f"{where}.{clock}",
                    f"{format_duration(target)} of business time takes calendar {name!r} "
                    f"more than {MAX_DAYS // 365} years",
                ) from None


def parse_config(data: Any, source: str = "helpdesk.yaml") -> HelpdeskConfig:
    """Validate already-parsed YAML; errors name `source`, the field path and why."""
    if not isinstance(data, dict):
        raise ConfigFileError(f"{source}: must be a mapping of settings, not {type(data).__name__}")
    try:
        config = HelpdeskConfig.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        # A misspelt key also makes the real one "missing": name the misspelling first.
        error = next((e for e in errors if e.get("type") == "extra_forbidden"), errors[0])
        loc = _clean_loc(tuple(error.get("loc", ())))
        rule = _rule_name(data, loc)
        suffix = f" (rule {rule!r})" if rule and loc[0] == "routing" else ""
        suffix = suffix or (f" (policy {rule!r})" if rule else "")
        raise ConfigFileError(f"{source}: {_where(loc) or 'file'}: {_why(error)}{suffix}") from None
    try:
        _check_references(config)
    except _Problem as problem:
        loc_parts = tuple(
            int(p) if p.isdigit() else p for p in re.split(r"[.\[\]]+", problem.where) if p
        )
        rule = _rule_name(data, loc_parts)
        kind = "rule" if loc_parts[0] == "routing" else "policy"
        suffix = f" ({kind} {rule!r})" if rule else ""
        raise ConfigFileError(f"{source}: {problem.where}: {problem.why}{suffix}") from None
    return config


class _StrictLoader(yaml.SafeLoader):
    """YAML's safe loader, but a key given twice or an impossible date is an error, not
    silently the last value or a crash."""

    def construct_mapping(self, node: yaml.MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: set[Any] = set()
        for key_node, _ in node.value:
            if not isinstance(key_node, yaml.ScalarNode) or key_node.tag.endswith(":merge"):
                continue  # `<<: *defaults` merges keys the mapping may then override
            key = self.construct_object(key_node, deep=deep)
            if isinstance(key, str | int | float | bool | date):
                if key in seen:
                    raise yaml.constructor.ConstructorError(
                        None, None, f"{key!r} is given twice", key_node.start_mark
                    )
                seen.add(key)
        return super().construct_mapping(node, deep=deep)

    def construct_yaml_timestamp(self, node: yaml.ScalarNode) -> Any:
        try:
            return super().construct_yaml_timestamp(node)
        except ValueError as exc:
            raise yaml.constructor.ConstructorError(
                None, None, f"{node.value!r} is not a real date ({exc})", node.start_mark
            ) from None


_StrictLoader.add_constructor("tag:yaml.org,2002:timestamp", _StrictLoader.construct_yaml_timestamp)


def load_config(path: Path) -> HelpdeskConfig:
    """Read and validate a helpdesk.yaml file."""
    source = path.name
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise ConfigFileError(f"helpdesk config {path} does not exist") from None
    except OSError as exc:
        raise ConfigFileError(f"helpdesk config {path} cannot be read: {exc.strerror}") from None
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw.count(b"\n", 0, exc.start) + 1
        raise ConfigFileError(
            f"{source}: line {line}: byte 0x{raw[exc.start]:02x} is not UTF-8 (save the file "
            "as UTF-8)"
        ) from None
    try:
        data = yaml.load(text, Loader=_StrictLoader)  # a SafeLoader subclass
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f"line {mark.line + 1}" if mark is not None else "file"
        problem = getattr(exc, "problem", None) or "is not valid YAML"
        raise ConfigFileError(f"{source}: {where}: {problem}") from None
    if data is None:
        raise ConfigFileError(f"{source}: the file is empty")
    return parse_config(data, source)
