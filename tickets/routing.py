"""Routing: ordered `when -> then` rules from helpdesk.yaml decide department, priority and tier.

Rules are tried in order. Every condition a rule gives must hold; a matching rule applies its
`then` (department, priority, tier, tags, assignee; a later matching rule overrides what an
earlier one set and adds its tags) and stops unless it says `stop: false`. When no rule set a
department, the ticket goes to `default_department`.

The learned classifier reaches routing through `LearnedRouter`, a protocol the application
adapts its model to; this package never imports the model itself.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Protocol

from tickets.config import LEARNED, HelpdeskConfig, RoutingRule


class LearnedRouter(Protocol):
    """A trained text classifier: the department it guesses for a text, and its confidence."""

    def predict(self, text: str) -> tuple[str, float] | None:
        """(department, confidence in [0, 1]), or None when it has no opinion."""


@dataclass(frozen=True)
class RouteRequest:
    """What routing looks at: the customer's text and who wrote it where, and when."""

    text: str
    channel: str = ""
    language: str | None = None
    customer_tier: str = "standard"
    customer_tags: Sequence[str] = ()
    at: datetime | None = None


@dataclass(frozen=True)
class LearnedGuess:
    """The classifier's department guess; `known` is False when helpdesk.yaml lacks it."""

    department: str
    confidence: float
    known: bool


@dataclass(frozen=True)
class RuleCheck:
    """How one rule fared: matched, or the first condition that did not hold."""

    rule: str
    matched: bool
    failed: str | None = None


@dataclass(frozen=True)
class RouteDecision:
    """Where a ticket goes and why."""

    department: str
    priority: str = "normal"
    tier: str = "L1"
    tags: tuple[str, ...] = ()
    assignee: str | None = None
    rules: tuple[str, ...] = ()
    default_department: bool = True
    learned: LearnedGuess | None = None
    checks: tuple[RuleCheck, ...] = field(default=(), repr=False)

    @property
    def rule(self) -> str | None:
        """The last rule that fired (the one whose decision stands), if any."""
        return self.rules[-1] if self.rules else None

    def reason(self) -> str:
        """One line for the event log."""
        parts = [f"rule {name!r}" for name in self.rules] or ["no rule matched"]
        if self.default_department:
            parts.append("default department")
        if self.learned is not None:
            parts.append(f"learned guess {self.learned.department} ({self.learned.confidence:.2f})")
        return "; ".join(parts)

    def to_dict(self) -> dict[str, Any]:
        """The stable JSON shape of `relaydesk route --json`."""
        return {
            "department": self.department,
            "priority": self.priority,
            "tier": self.tier,
            "tags": list(self.tags),
            "assignee": self.assignee,
            "rule": self.rule,
            "rules": list(self.rules),
            "default_department": self.default_department,
            "learned": None
            if self.learned is None
            else {
                "department": self.learned.department,
                "confidence": round(self.learned.confidence, 4),
                "known": self.learned.known,
            },
            "checks": [
                {"rule": c.rule, "matched": c.matched, "failed": c.failed} for c in self.checks
            ],
        }


@lru_cache(maxsize=256)
def _pattern(regex: str) -> re.Pattern[str]:
    return re.compile(regex, re.IGNORECASE)


class Router:
    """Applies helpdesk.yaml's routing rules, consulting the learned classifier when given."""

    def __init__(self, config: HelpdeskConfig, learned: LearnedRouter | None = None) -> None:
        self.config = config
        self.learned = learned

    def guess(self, text: str) -> LearnedGuess | None:
        """The classifier's guess for `text` (None without a classifier or an opinion)."""
        if self.learned is None or not text.strip():
            return None
        result = self.learned.predict(text)
        if result is None:
            return None
        department, confidence = result
        known = self.config.department(department) is not None
        return LearnedGuess(department, float(confidence), known)

    def route(self, request: RouteRequest) -> RouteDecision:
        """Decide department, priority, tier, tags and assignee for a new ticket."""
        guess = self.guess(request.text)
        department: str | None = None
        priority, tier = "normal", "L1"
        tags: list[str] = []
        assignee: str | None = None
        fired: list[str] = []
        checks: list[RuleCheck] = []
        for rule in self.config.routing:
            failed = self.first_failing_condition(rule, request, guess)
            checks.append(RuleCheck(rule.name, failed is None, failed))
            if failed is not None:
                continue
            then = rule.then
            fired.append(rule.name)
            if then.department == LEARNED and guess is not None:
                department = guess.department
            elif then.department is not None:
                department = then.department
            priority = then.priority or priority
            tier = then.tier or tier
            tags.extend(t for t in then.tags if t not in tags)
            assignee = then.assignee or assignee
            if then.stop:
                break
        return RouteDecision(
            department=department or self.config.default_department,
            priority=priority,
            tier=tier,
            tags=tuple(tags),
            assignee=assignee,
            rules=tuple(fired),
            default_department=department is None,
            learned=guess,
            checks=tuple(checks),
        )

    def first_failing_condition(
        self, rule: RoutingRule, request: RouteRequest, guess: LearnedGuess | None
    ) -> str | None:
        """The name of the first condition of `rule` that does not hold, or None if all do."""
        when = rule.when
        if when.channel is not None and request.channel not in when.channel:
            return "channel"
        if when.language is not None and (request.language or "") not in when.language:
            return "language"
        text = request.text.casefold()
        if when.keywords is not None and not any(k.casefold() in text for k in when.keywords):
            return "keywords"
        if when.regex is not None and _pattern(when.regex).search(request.text) is None:
            return "regex"
        if when.customer_tier is not None and request.customer_tier not in when.customer_tier:
            return "customer_tier"
        if when.customer_tags is not None and not set(when.customer_tags) & set(
            request.customer_tags
        ):
            return "customer_tags"
        if when.learned is not None:
            if guess is None or not guess.known:
                return "learned"
            if when.learned.department is not None and guess.department != when.learned.department:
                return "learned.department"
            if guess.confidence < when.learned.min_confidence:
                return "learned.min_confidence"
        if when.business_hours is not None:
            at = request.at or datetime.now(UTC)
            is_open = self.config.calendar(when.calendar).is_open(at)
            if is_open != when.business_hours:
                return "business_hours"
        return None
