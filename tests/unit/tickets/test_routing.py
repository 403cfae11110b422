"""Routing rules: each condition, each action, rule order, stop/continue, the learned guess."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from tickets.config import parse_config
from tickets.routing import Router, RouteRequest

WARSAW = ZoneInfo("Europe/Warsaw")
MONDAY_NOON = datetime(2026, 3, 2, 12, tzinfo=WARSAW)
SATURDAY = datetime(2026, 3, 7, 12, tzinfo=WARSAW)


class FixedGuess:
    """A learned router that always guesses the same department."""

    def __init__(self, department: str, confidence: float) -> None:
        self.answer = (department, confidence)
        self.calls: list[str] = []

    def predict(self, text: str) -> tuple[str, float] | None:
        self.calls.append(text)
        return self.answer


def router(rules: list[dict[str, Any]], learned: FixedGuess | None = None) -> Router:
    config = parse_config(
        {
            "default_department": "general",
            "business_calendar": "office",
            "calendars": {
                "office": {"timezone": "Europe/Warsaw", "hours": {"mon-fri": "08:00-16:00"}}
            },
            "departments": [
                {"name": "general"},
                {"name": "orders"},
                {"name": "payments"},
                {"name": "account"},
            ],
            "agents": [{"slack_id": "U1", "name": "Ola"}],
            "routing": rules,
        }
    )
    return Router(config, learned)


def route(r: Router, text: str = "hello", **kwargs: Any) -> Any:
    kwargs.setdefault("at", MONDAY_NOON)
    return r.route(RouteRequest(text=text, **kwargs))


def rule(name: str, when: dict[str, Any], **then: Any) -> dict[str, Any]:
    return {"name": name, "when": when, "then": {"department": "orders", **then}}


@pytest.mark.parametrize(
    ("when", "matching", "other"),
    [
        ({"channel": "telegram"}, {"channel": "telegram"}, {"channel": "slack"}),
        ({"channel": ["slack", "console"]}, {"channel": "console"}, {"channel": "telegram"}),
        ({"language": "pl"}, {"language": "pl"}, {"language": "en"}),
        ({"keywords": ["parcel", "przesyłk"]}, {"text": "Gdzie moja PRZESYŁKA?"}, {"text": "hi"}),
        ({"regex": r"order\s*#?\d{4,}"}, {"text": "About Order #12345"}, {"text": "order me"}),
        ({"customer_tier": "vip"}, {"customer_tier": "vip"}, {"customer_tier": "standard"}),
        ({"customer_tags": ["b2b", "press"]}, {"customer_tags": ("press",)}, {"customer_tags": ()}),
        ({"business_hours": True}, {"at": MONDAY_NOON}, {"at": SATURDAY}),
        ({"business_hours": False}, {"at": SATURDAY}, {"at": MONDAY_NOON}),
    ],
)
def test_each_condition(
    when: dict[str, Any], matching: dict[str, Any], other: dict[str, Any]
) -> None:
    r = router([rule("r", when)])
    hit = route(r, **matching)
    assert (hit.department, hit.rules, hit.default_department) == ("orders", ("r",), False)
    miss = route(r, **other)
    assert (miss.department, miss.rules, miss.default_department) == ("general", (), True)
    assert miss.checks[0].failed == next(iter(when))


def test_all_conditions_of_a_rule_must_hold() -> None:
    r = router([rule("pl-telegram", {"channel": "telegram", "language": "pl"})])
    assert route(r, channel="telegram", language="pl").department == "orders"
    missed = route(r, channel="telegram", language="en")
    assert missed.department == "general"
    assert missed.checks[0].failed == "language"


def test_learned_condition_with_department_and_confidence() -> None:
    when = {"learned": {"department": "payments", "min_confidence": 0.7}}
    rules = [{"name": "ml", "when": when, "then": {"department": "payments", "priority": "high"}}]
    sure = route(router(rules, FixedGuess("payments", 0.91)))
    assert (sure.department, sure.priority, sure.rule) == ("payments", "high", "ml")
    assert sure.learned is not None and sure.learned.confidence == pytest.approx(0.91)
    unsure = route(router(rules, FixedGuess("payments", 0.5)))
    assert unsure.department == "general"
    assert unsure.checks[0].failed == "learned.min_confidence"
    other = route(router(rules, FixedGuess("orders", 0.99)))
    assert other.checks[0].failed == "learned.department"
    without_model = route(router(rules))
    assert without_model.checks[0].failed == "learned" and without_model.learned is None


def test_then_department_learned_takes_the_guess() -> None:
    rules = [
        {
            "name": "ml",
            "when": {"learned": {"min_confidence": 0.6}},
            "then": {"department": "learned"},
        }
    ]
    assert route(router(rules, FixedGuess("account", 0.8))).department == "account"
    # A guess of a department helpdesk.yaml does not have never routes.
    unknown = route(router(rules, FixedGuess("mortgages", 0.99)))
    assert unknown.department == "general"
    assert unknown.learned is not None and unknown.learned.known is False


def test_each_action() -> None:
    r = router(
        [
            rule(
                "all",
                {},
                priority="urgent",
                tier="L2",
                tags=["vip", "fast"],
                assignee="U1",
            )
        ]
    )
    decision = route(r)
    assert decision.department == "orders"
    assert decision.priority == "urgent"
    assert decision.tier == "L2"
    assert decision.tags == ("vip", "fast")
    assert decision.assignee == "U1"


def test_first_matching_rule_stops_by_default() -> None:
    r = router(
        [
            rule("first", {"keywords": ["card"]}, department="payments"),
            rule("second", {"keywords": ["card"]}, department="account"),
        ]
    )
    decision = route(r, text="my card")
    assert (decision.department, decision.rules) == ("payments", ("first",))
    assert len(decision.checks) == 1  # the second rule was never looked at


def test_stop_false_lets_later_rules_add_and_override() -> None:
    r = router(
        [
            {
                "name": "vip",
                "when": {"customer_tier": "vip"},
                "then": {"priority": "high", "tags": ["vip"], "stop": False},
            },
            rule("cards", {"keywords": ["card"]}, department="payments", tags=["cards"]),
            rule("never", {}, department="account"),
        ]
    )
    decision = route(r, text="card lost", customer_tier="vip")
    assert decision.rules == ("vip", "cards")
    assert (decision.department, decision.priority) == ("payments", "high")
    assert decision.tags == ("vip", "cards")
    # A continuing rule alone does not pick a department: the default does.
    alone = route(r, text="hello", customer_tier="vip")
    assert alone.rules == ("vip", "never")
    plain = router([{"name": "vip", "when": {}, "then": {"priority": "low", "stop": False}}])
    only = route(plain)
    assert (only.department, only.priority, only.default_department) == ("general", "low", True)


def test_no_rules_routes_to_the_default_department() -> None:
    decision = route(router([]))
    assert decision.department == "general"
    assert (decision.priority, decision.tier, decision.rule) == ("normal", "L1", None)
    assert "default department" in decision.reason()


def test_the_learned_model_is_asked_once_per_decision() -> None:
    guess = FixedGuess("payments", 0.9)
    r = router(
        [
            {
                "name": "a",
                "when": {"learned": {"min_confidence": 0.95}},
                "then": {"department": "learned"},
            },
            {
                "name": "b",
                "when": {"learned": {"min_confidence": 0.5}},
                "then": {"department": "learned"},
            },
        ],
        guess,
    )
    assert route(r, text="refund please").rule == "b"
    assert guess.calls == ["refund please"]


def test_decision_json_shape() -> None:
    data = route(router([rule("r", {})], FixedGuess("orders", 0.75))).to_dict()
    assert set(data) == {
        "department",
        "priority",
        "tier",
        "tags",
        "assignee",
        "rule",
        "rules",
        "default_department",
        "learned",
        "checks",
    }
    assert data["learned"] == {"department": "orders", "confidence": 0.75, "known": True}
    assert data["checks"] == [{"rule": "r", "matched": True, "failed": None}]
