"""A small helpdesk history with hand-computed KPIs, built through the real ticket service.

Calendar "office": Europe/Warsaw, Monday to Friday 09:00-17:00 local (08:00-16:00 UTC in March
2024, before the clocks change on the 31st). Department "payments" works 24x7. One SLA policy
for everything: first response 4 h, next response 4 h, resolution 16 h of business time.
The reopen window is one day.

    T1 orders, telegram, customer A (en)
       Fri 03-08 15:00 UTC opened (16:00 local); a bot message; an internal note Mon 08:00
       Mon 03-11 09:00 first agent reply: wall 66 h = 237600 s; business Fri 16-17 + Mon 09-10
                    local = 7200 s (across the weekend)
       Mon 15:30 and 15:45 customer writes; Tue 03-12 08:30 agent: a wait of 61200 s wall,
                    business 16:30-17:00 + 09:00-09:30 local = 3600 s
       Tue 09:00 resolved: wall 90 h = 324000 s; business 1 h + 8 h + 1 h = 36000 s
       Tue 09:30 CSAT 5
    T2 payments (keyword "invoice"), telegram, customer B (pl)
       Tue 03-05 10:00 opened; first response due 14:00; SLA tick 14:30 logs the breach
       15:00 agent reply (18000 s, late); 16:00 resolved
       Wed 03-06 09:00 the customer writes within the reopen window: reopened; a wait
       10:00 agent reply (3600 s); 11:00 resolved again: 25 h = 90000 s (24x7); no rating
    T3 orders, slack, customer C (en), never answered, never assigned
       Wed 03-06 14:00 opened (15:00 local): first response due Thu 10:00 UTC, resolution
       due Fri 14:00 UTC; ticks on Thu 12:00 and Fri 16:00 log both breaches
    T4 orders, slack, customer A again (another channel): Thu 03-14 09:00 opened, a follow-up
       of T1 (outside the reopen window); 09:30 agent reply (1800 s); 10:00 pending
    T5 payments, telegram, customer D (pl): Thu 03-07 08:00 opened, 08:30 reply (1800 s),
       09:00 resolved (3600 s), 09:30 CSAT 3: the only first-contact resolution
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bots.db import Database
from tickets.config import HelpdeskConfig, load_config
from tickets.models import Customer, CustomerIdentity, Ticket
from tickets.service import Helpdesk, find_or_create_customer

CONFIG = """
default_department: orders
business_calendar: office
calendars:
  office:
    timezone: Europe/Warsaw
    hours: {mon-fri: "09:00-17:00"}
departments:
  - {name: orders}
  - {name: payments, calendar: 24x7}
routing:
  - name: invoices
    when: {keywords: [invoice]}
    then: {department: payments}
sla:
  policies:
    - {name: std, first_response: 4h, next_response: 4h, resolution: 16h, warn_at: null}
reopen_window: 1d
"""

ANNA = "U0ANNA0001"
KASIA = "U0KASIA001"


def at(day: int, hour: int, minute: int = 0, second: int = 0) -> datetime:
    """A moment in March 2024, UTC."""
    return datetime(2024, 3, day, hour, minute, second, tzinfo=UTC)


def write_config(folder: Path) -> Path:
    path = folder / "helpdesk.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    return path


@dataclass
class History:
    """What the history created: the configuration, customers' ids and tickets' numbers."""

    config: HelpdeskConfig
    customers: dict[str, int]
    tickets: dict[str, int]


async def _customer(
    session: AsyncSession, channel: str, external_id: str, language: str
) -> Customer:
    return await find_or_create_customer(
        session, channel=channel, external_id=external_id, chat_id=external_id, language=language
    )


async def build_history(db: Database, folder: Path) -> History:
    """Write the history above into `db`; returns what the tests need to refer to it."""
    config = load_config(write_config(folder))
    desk = Helpdesk(config)
    async with db.session() as session:
        a = await _customer(session, "telegram", "100", "en")
        # The same person also writes from Slack: one customer, two identities.
        session.add(
            CustomerIdentity(customer_id=a.id, channel="slack", external_id="UA", chat_id="DA")
        )
        b = await _customer(session, "telegram", "200", "pl")
        c = await _customer(session, "slack", "UC", "en")
        d = await _customer(session, "telegram", "400", "pl")
        await session.flush()

        async def write(
            customer: Customer, channel: str, chat: str, text: str, when: datetime, lang: str
        ) -> Ticket:
            received = await desk.receive(
                session,
                customer=customer,
                channel=channel,
                chat_id=chat,
                text=text,
                language=lang,
                now=when,
            )
            return received.ticket

        async def reply(ticket: Ticket, agent: str, when: datetime, internal: bool = False) -> None:
            await desk.add_message(
                session,
                ticket,
                direction="out",
                author_kind="agent",
                author_id=agent,
                text="note" if internal else "reply",
                channel=ticket.channel,
                internal=internal,
                now=when,
            )

        # T2 and T3 and T5 come first in time; T1 on Friday; T4 the week after.
        t2 = await write(b, "telegram", "200", "Where is my invoice?", at(5, 10), "pl")
        await desk.assign(session, t2, KASIA, actor="agent:" + KASIA, now=at(5, 10, 5))
        await desk.tick(session, now=at(5, 14, 30))  # first response breach of T2
        await reply(t2, KASIA, at(5, 15))
        await desk.resolve(session, t2, actor="agent:" + KASIA, now=at(5, 16))

        t2_again = await write(b, "telegram", "200", "The invoice is still wrong", at(6, 9), "pl")
        assert t2_again.id == t2.id and t2.reopen_count == 1
        await reply(t2, KASIA, at(6, 10))
        await desk.resolve(session, t2, actor="agent:" + KASIA, now=at(6, 11))

        t3 = await write(c, "slack", "DC", "My parcel never arrived", at(6, 14), "en")
        t5 = await write(d, "telegram", "400", "A copy of my invoice please", at(7, 8), "pl")
        await desk.assign(session, t5, KASIA, actor="agent:" + KASIA, now=at(7, 8, 1))
        await reply(t5, KASIA, at(7, 8, 30))
        await desk.resolve(session, t5, actor="agent:" + KASIA, now=at(7, 9))
        await desk.record_csat(session, t5.number, 3, now=at(7, 9, 30))
        await desk.tick(session, now=at(7, 12))  # first response breach of T3

        t1 = await write(a, "telegram", "100", "Where is my order?", at(8, 15), "en")
        await desk.add_message(
            session,
            t1,
            direction="out",
            author_kind="bot",
            text="A person will answer soon.",
            channel="telegram",
            now=at(8, 15, 0, 5),
        )
        await desk.tick(session, now=at(8, 16))  # resolution breach of T3
        await reply(t1, ANNA, at(11, 8), internal=True)
        await desk.assign(session, t1, ANNA, actor="agent:" + ANNA, now=at(11, 8, 30))
        await reply(t1, ANNA, at(11, 9))
        await write(a, "telegram", "100", "It says returned to sender", at(11, 15, 30), "en")
        await write(a, "telegram", "100", "Hello?", at(11, 15, 45), "en")
        await reply(t1, ANNA, at(12, 8, 30))
        await desk.resolve(session, t1, actor="agent:" + ANNA, now=at(12, 9))
        await desk.record_csat(session, t1.number, 5, now=at(12, 9, 30))
        await desk.tick(session, now=at(12, 12))  # nothing is late

        t4 = await write(a, "slack", "DA", "Another order is late", at(14, 9), "en")
        assert t4.id != t1.id and t4.follow_up_of == t1.number
        await desk.assign(session, t4, ANNA, actor="agent:" + ANNA, now=at(14, 9, 1))
        await reply(t4, ANNA, at(14, 9, 30))
        await desk.set_pending(session, t4, actor="agent:" + ANNA, now=at(14, 10))
        await desk.tick(session, now=at(15, 12))
        await session.commit()
        return History(
            config=config,
            customers={"A": a.id, "B": b.id, "C": c.id, "D": d.id},
            tickets={
                "T1": t1.number,
                "T2": t2.number,
                "T3": t3.number,
                "T4": t4.number,
                "T5": t5.number,
            },
        )
