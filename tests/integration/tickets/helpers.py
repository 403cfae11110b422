"""A helpdesk.yaml for the ticket integration tests and small helpers around the service."""

from __future__ import annotations

from datetime import datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.db import Database
from tickets.config import HelpdeskConfig, parse_config
from tickets.models import Customer, Ticket, TicketEvent
from tickets.service import Helpdesk, find_or_create_customer, get_ticket

WARSAW = ZoneInfo("Europe/Warsaw")

CONFIG_DATA: dict[str, Any] = {
    "default_department": "general",
    "business_calendar": "office",
    "calendars": {
        "office": {
            "timezone": "Europe/Warsaw",
            "hours": {"mon-fri": "08:00-16:00"},
            "country_holidays": "PL",
        }
    },
    "departments": [
        {"name": "general", "slack_channel": "CGENERAL"},
        {"name": "orders", "slack_channel": "CORDERS", "agents": ["UA", "UB", "UC"]},
        {
            "name": "payments",
            "slack_channel": "CPAY",
            "tier_channels": {"L2": "CPAYL2"},
            "agents": ["UK", "UM"],
        },
    ],
    "agents": [
        {"slack_id": "UA", "name": "Anna", "tier": "L1"},
        {"slack_id": "UB", "name": "Bartek", "tier": "L1"},
        {"slack_id": "UC", "name": "Celina", "tier": "L2"},
        {"slack_id": "UK", "name": "Kasia", "tier": "L1"},
        {"slack_id": "UM", "name": "Marek", "tier": "L2"},
    ],
    "sla": {
        "policies": [
            {
                "name": "payments",
                "match": {"department": "payments"},
                "first_response": "1h",
                "next_response": "2h",
                "resolution": "16h",
                "warn_at": 50,
                "on_breach": ["notify", "escalate_tier", "raise_priority"],
            },
            {
                "name": "standard",
                "first_response": "4h",
                "next_response": "4h",
                "resolution": "16h",
                "warn_at": 80,
                "on_breach": ["notify"],
            },
        ]
    },
    "routing": [
        {
            "name": "cards",
            "when": {"keywords": ["card", "karta", "karty"]},
            "then": {"department": "payments"},
        },
        {
            "name": "parcels",
            "when": {"regex": r"parcel|order\s*#?\d+"},
            "then": {"department": "orders", "tags": ["delivery"]},
        },
    ],
    "reopen_window": "3d",
}


def make_config(**changes: Any) -> HelpdeskConfig:
    return parse_config({**CONFIG_DATA, **changes})


def local(*args: int) -> datetime:
    return datetime(*args, tzinfo=WARSAW)  # type: ignore[misc]


async def customer(session: AsyncSession, user: str = "u1", tier: str = "standard") -> Customer:
    found = await find_or_create_customer(
        session, channel="console", external_id=user, chat_id=f"chat-{user}", name=user
    )
    found.tier = tier
    return found


async def open_one(db: Database, desk: Helpdesk, text: str, now: datetime, user: str = "u1") -> int:
    async with db.session() as session:
        who = await customer(session, user)
        received = await desk.receive(
            session, customer=who, channel="console", chat_id=f"chat-{user}", text=text, now=now
        )
        await session.commit()
        return received.ticket.number


async def reload(db: Database, number: int) -> Ticket:
    async with db.session() as session:
        return await get_ticket(session, number)


async def event_log(db: Database, number: int) -> list[tuple[str, str | None, str | None]]:
    async with db.session() as session:
        ticket = await get_ticket(session, number)
        rows = await session.scalars(
            select(TicketEvent).where(TicketEvent.ticket_id == ticket.id).order_by(TicketEvent.id)
        )
        return [(e.kind, e.from_value, e.to_value) for e in rows]
