"""Bot questions, 👍/👎, hand-offs and drafts with hand-computed KPIs (times in March 2024, UTC).

The report is made "now" = 03-20 12:00. Articles: refund (payments), delivery (orders),
password (account). Every question below is logged as the knowledge base logs it.

    Q1  E  03-05 10:00 en refund    👍 10:01; E's next contact is Q7, days later -> verified
    Q2  F  03-05 11:00 en delivery  nothing more                          -> assumed
    Q3  G  03-05 12:00 en delivery  👍 12:01, but at 15:00 G asks for a person and gets a
                                    ticket: the deflection is contradicted  -> handoff
    Q4  H  03-06 09:00 pl refund    👎 09:01 and a ticket                    -> thumbs_down
    Q5  I  03-06 10:00 pl password  I asks again at 20:00 (Q6)               -> new_contact
    Q6  I  03-06 20:00 pl password  nothing more                             -> assumed
    Q7  E  03-08 09:00 en refund    👍; E asks again 25 h later (Q8)         -> verified
    Q8  E  03-09 10:00 en delivery  nothing more                             -> assumed
    Q9  J  03-19 20:00 en refund    only 16 h before "now"                   -> pending
    Q10 K  03-07 10:00 pl delivery  K writes on an older open ticket at 12:00 -> new_contact
    Q11 L  03-10 09:00 pl (none)    not sure: handed off, a ticket is opened -> handed_off

Totals: 11 questions, 10 answered, 1 handed off; verified 2, assumed 3, thumbs down 1,
hand-off 1, new contact 2, pending 1; judged 10: verified rate 0.2, assumed rate 0.3.

E also had a ticket (refund: department payments) opened 03-04 10:00 and resolved 03-04 12:00;
Q1 a day later is a re-contact. Drafts on E's ticket: sent as is (distance 0), regenerated,
its tone variant edited (12); on G's ticket: discarded, edited (30), undecided; and a summary,
which is not a reply draft. 6 reply drafts: acceptance 3/5 = 0.6, mean edit distance 21.0.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy.ext.asyncio import AsyncSession

from bots.db import Database
from drafting.models import Draft
from knowledge.models import AnswerLog, Article, Feedback
from tickets.config import load_config
from tickets.models import Customer, Ticket
from tickets.service import Helpdesk, find_or_create_customer

NOW = datetime(2024, 3, 20, 12, 0, tzinfo=UTC)

CONFIG = """
default_department: orders
departments:
  - {name: orders}
  - {name: payments}
  - {name: account}
routing:
  - name: refunds
    when: {keywords: [refund]}
    then: {department: payments}
sla:
  policies:
    - {name: std, first_response: 4h, resolution: 2d, warn_at: null}
reopen_window: 1d
"""


def at(day: int, hour: int, minute: int = 0) -> datetime:
    return datetime(2024, 3, day, hour, minute, tzinfo=UTC)


@dataclass
class BotHistory:
    customers: dict[str, int]
    tickets: dict[str, int]


async def _article(session: AsyncSession, slug: str, department: str) -> None:
    session.add(
        Article(
            slug=slug,
            title=slug.title(),
            language="en",
            group_key=slug,
            department=department,
            tags=[],
            status="published",
            questions=[],
            body=f"About {slug}.",
            version=1,
            content_hash=slug,
        )
    )


def _answer(
    session: AsyncSession,
    customer: Customer,
    when: datetime,
    language: str,
    slug: str | None,
    channel: str = "telegram",
) -> AnswerLog:
    row = AnswerLog(
        question=f"question about {slug}",
        language=language,
        answered=slug is not None,
        slug=slug,
        confidence=0.9 if slug else 0.2,
        reason="" if slug else "not sure",
        channel=channel,
        customer_ref=str(customer.id),
        created_at=when,
    )
    session.add(row)
    return row


async def _feedback(
    session: AsyncSession, answer: AnswerLog, helpful: bool, when: datetime
) -> None:
    await session.flush()
    session.add(
        Feedback(
            answer_id=answer.id,
            slug=answer.slug,
            question=answer.question,
            language=answer.language,
            helpful=helpful,
            customer_ref=answer.customer_ref,
            created_at=when,
        )
    )


def _draft(
    session: AsyncSession,
    ticket: Ticket,
    when: datetime,
    outcome: str | None,
    distance: int | None = None,
    kind: str = "reply",
) -> None:
    session.add(
        Draft(
            ticket_id=ticket.id,
            ticket_number=ticket.number,
            kind=kind,
            language="en",
            text="Hello, ...",
            cited=[],
            flags=[],
            template="reply_draft.j2",
            template_hash="0" * 64,
            created_at=when,
            outcome=outcome,
            edit_distance=distance,
        )
    )


async def build_bot_history(db: Database, folder: Path) -> BotHistory:
    """Write the history above into `db`."""
    path = folder / "helpdesk.yaml"
    path.write_text(CONFIG, encoding="utf-8")
    desk = Helpdesk(load_config(path))
    async with db.session() as session:
        for slug, department in (
            ("refund", "payments"),
            ("delivery", "orders"),
            ("password", "account"),
        ):
            await _article(session, slug, department)
        people: dict[str, Customer] = {}
        for name in "EFGHIJKL":
            people[name] = await find_or_create_customer(
                session, channel="telegram", external_id=name, chat_id=name
            )

        async def ticket(name: str, text: str, when: datetime) -> Ticket:
            received = await desk.receive(
                session,
                customer=people[name],
                channel="telegram",
                chat_id=name,
                text=text,
                now=when,
            )
            return received.ticket

        # K's older ticket, still open when K writes on it after Q10.
        k_ticket = await ticket("K", "an old question", at(1, 9))
        # E's refund ticket, resolved before Q1.
        e_ticket = await ticket("E", "refund status?", at(4, 10))
        await desk.add_message(
            session,
            e_ticket,
            direction="out",
            author_kind="agent",
            author_id="U1",
            text="Done.",
            channel="telegram",
            now=at(4, 11),
        )
        await desk.resolve(session, e_ticket, actor="agent:U1", now=at(4, 12))

        q1 = _answer(session, people["E"], at(5, 10), "en", "refund")
        await _feedback(session, q1, True, at(5, 10, 1))
        _answer(session, people["F"], at(5, 11), "en", "delivery")
        q3 = _answer(session, people["G"], at(5, 12), "en", "delivery")
        await _feedback(session, q3, True, at(5, 12, 1))
        g_ticket = await ticket("G", "I want a person about my delivery", at(5, 15))
        q4 = _answer(session, people["H"], at(6, 9), "pl", "refund")
        await _feedback(session, q4, False, at(6, 9, 1))
        h_ticket = await ticket("H", "zwrot pieniędzy nie dotarł", at(6, 9, 1))
        _answer(session, people["I"], at(6, 10), "pl", "password", channel="slack")
        _answer(session, people["I"], at(6, 20), "pl", "password", channel="slack")
        _answer(session, people["K"], at(7, 10), "pl", "delivery")
        await desk.add_message(
            session,
            k_ticket,
            direction="in",
            author_kind="customer",
            text="any news?",
            channel="telegram",
            now=at(7, 12),
        )
        q7 = _answer(session, people["E"], at(8, 9), "en", "refund")
        await _feedback(session, q7, True, at(8, 9, 5))
        _answer(session, people["E"], at(9, 10), "en", "delivery")
        _answer(session, people["L"], at(10, 9), "pl", None)
        l_ticket = await ticket("L", "coś innego", at(10, 9))
        _answer(session, people["J"], at(19, 20), "en", "refund")

        _draft(session, e_ticket, at(4, 10, 30), "sent_as_is", 0)
        _draft(session, e_ticket, at(4, 10, 40), "regenerated")
        _draft(session, e_ticket, at(4, 10, 45), "edited", 12, kind="tone")
        _draft(session, g_ticket, at(5, 16), "discarded")
        _draft(session, g_ticket, at(5, 17), "edited", 30)
        _draft(session, g_ticket, at(5, 18), None)
        _draft(session, g_ticket, at(5, 18, 30), None, kind="summary")
        await session.commit()
        return BotHistory(
            customers={name: c.id for name, c in people.items()},
            tickets={
                "E": e_ticket.number,
                "G": g_ticket.number,
                "H": h_ticket.number,
                "K": k_ticket.number,
                "L": l_ticket.number,
            },
        )
