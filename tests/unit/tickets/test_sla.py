"""SLA clocks on business hours: due times, warnings, pause and resume, what stops a clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from tickets import sla
from tickets.config import HelpdeskConfig, parse_config
from tickets.models import Ticket

WARSAW = ZoneInfo("Europe/Warsaw")

CONFIG: HelpdeskConfig = parse_config(
    {
        "default_department": "orders",
        "business_calendar": "office",
        "calendars": {
            "office": {
                "timezone": "Europe/Warsaw",
                "hours": {"mon-fri": "08:00-16:00"},
                "country_holidays": "PL",
            }
        },
        "departments": [{"name": "orders"}, {"name": "payments", "calendar": "24x7"}],
        "sla": {
            "policies": [
                {
                    "name": "vip",
                    "match": {"customer_tier": "vip"},
                    "first_response": "1h",
                    "resolution": "8h",
                    "warn_at": 50,
                },
                {
                    "name": "standard",
                    "first_response": "4h",
                    "next_response": "2h",
                    "resolution": "16h",
                    "warn_at": 80,
                },
            ]
        },
    }
)


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)  # type: ignore[misc]


def new_ticket(
    now: datetime, department: str = "orders", customer_tier: str = "standard"
) -> Ticket:
    ticket = Ticket(number=1001, status="new", department=department, tier="L1", channel="x")
    ticket.priority = "normal"
    ticket.first_response_at = None
    ticket.resolved_at = None
    ticket.sla_paused_at = None
    ticket.sla_remaining = None
    policy = sla.policy_for(
        CONFIG,
        priority="normal",
        department=department,
        tier="L1",
        channel="x",
        customer_tier=customer_tier,
    )
    ticket.sla_policy = policy.name if policy else None
    sla.start(ticket, policy, sla.calendar_for(CONFIG, ticket), now)
    return ticket


def test_policies_match_in_order() -> None:
    assert new_ticket(local(2026, 3, 2, 8), customer_tier="vip").sla_policy == "vip"
    assert new_ticket(local(2026, 3, 2, 8)).sla_policy == "standard"


def test_due_times_and_warning_in_business_time() -> None:
    ticket = new_ticket(local(2026, 3, 2, 8))  # Monday 08:00
    assert ticket.first_response_due == local(2026, 3, 2, 12)
    assert ticket.resolution_due == local(2026, 3, 3, 16)  # 16h = two 8h days
    # warn at 80%: 12h48m of business time -> Tuesday 12:48
    assert ticket.resolution_warn_at == local(2026, 3, 3, 12, 48)
    assert ticket.first_response_warn_at == local(2026, 3, 2, 11, 12)  # 80% of 4h = 3h12m
    assert ticket.next_response_due is None  # only after the first response


def test_department_calendar_is_used_when_the_policy_has_none() -> None:
    # payments works 24x7: Friday 20:00 + 4h -> Saturday 00:00.
    ticket = new_ticket(local(2026, 3, 6, 20), department="payments")
    assert ticket.first_response_due == local(2026, 3, 7, 0)


def test_pause_while_pending_and_resume_on_reply() -> None:
    calendar = CONFIG.calendar()
    ticket = new_ticket(local(2026, 3, 2, 8))  # Monday 08:00; resolution due Tuesday 16:00
    ticket.status = "pending"
    remaining = sla.pause(ticket, calendar, local(2026, 3, 2, 11))  # 3h used
    assert remaining["resolution"][0] == timedelta(hours=13).total_seconds()
    assert remaining["first_response"][0] == timedelta(hours=1).total_seconds()
    # Days later the clocks still have not moved.
    assert sla.clock_state(ticket, "resolution", local(2026, 3, 5, 12)) == "paused"
    assert ticket.resolution_due is None
    # The customer answers on Wednesday 10:00: 6h that day + 7h Thursday -> Thursday 15:00.
    ticket.status = "open"
    sla.resume(ticket, calendar, local(2026, 3, 4, 10))
    assert ticket.resolution_due == local(2026, 3, 5, 15)
    # The 80% warning had 9h48m left: Wednesday 6h + Thursday 3h48m -> Thursday 11:48.
    assert ticket.resolution_warn_at == local(2026, 3, 5, 11, 48)
    assert ticket.first_response_due == local(2026, 3, 4, 11)
    assert ticket.sla_paused_at is None and ticket.sla_remaining is None


def test_pause_over_a_weekend_and_a_dst_change() -> None:
    calendar = CONFIG.calendar()
    ticket = new_ticket(local(2026, 3, 26, 8))  # Thursday; due Friday 27 March 16:00 CET
    ticket.status = "pending"
    sla.pause(ticket, calendar, local(2026, 3, 27, 14))  # 14h used, 2h left
    ticket.status = "open"
    sla.resume(ticket, calendar, local(2026, 3, 28, 11))  # Saturday (closed) -> Monday 10:00
    assert ticket.resolution_due == datetime(2026, 3, 30, 8, tzinfo=UTC)  # 10:00 CEST


def test_a_breached_clock_stays_breached_through_a_pause() -> None:
    calendar = CONFIG.calendar()
    ticket = new_ticket(local(2026, 3, 2, 8))
    ticket.first_response_breached = True
    ticket.status = "pending"
    remaining = sla.pause(ticket, calendar, local(2026, 3, 2, 15))  # 1h after due
    assert remaining["first_response"][0] == 0
    ticket.status = "open"
    sla.resume(ticket, calendar, local(2026, 3, 3, 9))
    assert sla.clock_state(ticket, "first_response", local(2026, 3, 3, 9)) == "breached"


def test_only_a_visible_agent_reply_counts_as_a_response() -> None:
    assert sla.counts_as_response(direction="out", author_kind="agent", internal=False)
    assert not sla.counts_as_response(direction="out", author_kind="bot", internal=False)
    assert not sla.counts_as_response(direction="out", author_kind="agent", internal=True)
    assert not sla.counts_as_response(direction="out", author_kind="system", internal=False)
    assert not sla.counts_as_response(direction="in", author_kind="customer", internal=False)


def test_first_response_then_next_response_clock() -> None:
    ticket = new_ticket(local(2026, 3, 2, 8))
    ticket.status = "open"
    assert sla.on_agent_reply(ticket, local(2026, 3, 2, 9)) is True
    assert sla.clock_state(ticket, "first_response", local(2026, 3, 2, 9)) == "met"
    # The customer writes back at 15:00: next response due in 2 business hours -> Tue 09:00.
    due = sla.on_customer_message(ticket, CONFIG, local(2026, 3, 2, 15))
    assert due == local(2026, 3, 3, 9)
    # A second customer message does not restart the clock.
    assert sla.on_customer_message(ticket, CONFIG, local(2026, 3, 2, 15, 30)) is None
    assert sla.on_agent_reply(ticket, local(2026, 3, 3, 8, 30)) is False
    assert ticket.next_response_due is None


def test_clock_states() -> None:
    ticket = new_ticket(local(2026, 3, 2, 8))  # first response due 12:00, warn 11:12
    assert sla.clock_state(ticket, "first_response", local(2026, 3, 2, 9)) == "running"
    assert sla.clock_state(ticket, "first_response", local(2026, 3, 2, 11, 30)) == "warning"
    assert sla.clock_state(ticket, "first_response", local(2026, 3, 2, 12, 1)) == "breached"
    ticket.first_response_breached = True
    ticket.first_response_at = local(2026, 3, 2, 13)
    assert sla.clock_state(ticket, "first_response", local(2026, 3, 2, 14)) == "missed"


def test_view_shows_dues_and_hours() -> None:
    ticket = new_ticket(local(2026, 3, 2, 8))
    data = sla.view(ticket, CONFIG, local(2026, 3, 2, 9))
    assert data["policy"] == "standard"
    assert data["calendar"] == "office"
    assert data["resolution_due"] == "2026-03-03T15:00:00+00:00"
    assert data["clocks"]["resolution"]["target"] == "16h"
    assert data["clocks"]["next_response"]["state"] == "none"
