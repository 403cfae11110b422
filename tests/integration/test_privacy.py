"""Export and erasure of one customer's data across every package's tables."""

from __future__ import annotations

import json
from pathlib import Path

from sqlalchemy import func, select

from bots import privacy
from bots.conversation import Conversation
from bots.db import Database
from bots.messages import ChatRef, InboundMessage
from bots.pipeline.models import InboxRow, OutboxRow
from bots.pipeline.store import enqueue, ingest
from drafting.models import Draft
from knowledge.models import AnswerLog, Article, Feedback
from tickets.config import default_config
from tickets.models import Customer, Message, Ticket
from tickets.service import Helpdesk

SECRET = "my card 4111 1111 1111 1111 was charged twice"


async def _customer_with_history(db: Database, user: str, text: str) -> int:
    engine = Conversation(Helpdesk(default_config()))
    message = InboundMessage(
        chat=ChatRef("telegram", f"chat-{user}"),
        user_id=user,
        user_name=f"Name {user}",
        platform_id=f"upd-{user}",
        text=text,
        language_hint="en",
    )
    await ingest(
        db,
        channel="telegram",
        platform_id=message.platform_id,
        chat_key=message.chat.key,
        payload=message.to_dict(),
    )
    async with db.session() as session:
        replies = await engine.handle(session, message)
        for reply, ticket_id in replies:
            enqueue(session, reply, ticket_id=ticket_id)
        ticket = await session.scalar(select(Ticket).order_by(Ticket.id.desc()).limit(1))
        assert ticket is not None
        customer_id = ticket.customer_id
        session.add(
            AnswerLog(
                question=text,
                language="en",
                answered=False,
                confidence=0.1,
                customer_ref=str(customer_id),
            )
        )
        session.add(Feedback(question=text, helpful=False, customer_ref=str(customer_id), slug="x"))
        session.add(
            Draft(
                ticket_id=ticket.id,
                ticket_number=ticket.number,
                kind="reply",
                language="en",
                text=f"Reply about: {text}",
                template="reply_draft",
                template_hash="h",
            )
        )
        session.add(
            Article(
                slug=f"from-{ticket.number}",
                title="Double charge",
                language="en",
                group_key=f"from-{ticket.number}",
                body=text,
                content_hash="c",
                tags=[privacy.ticket_tag(ticket.number)],
            )
        )
        await session.commit()
    return customer_id


async def test_export_then_erase_leaves_nothing_but_anonymous_shells(db: Database) -> None:
    victim = await _customer_with_history(db, "42", SECRET)
    bystander = await _customer_with_history(db, "77", "where is my parcel")

    async with db.session() as session:
        customer = await privacy.resolve_customer(session, "telegram:42")
        assert customer.id == victim
        exported = await privacy.export(session, customer)
    dumped = json.dumps(exported)
    assert SECRET in dumped
    assert exported["customer"]["identities"] == [
        {"channel": "telegram", "user": "42", "chat": "chat-42"}
    ]
    assert exported["tickets"][0]["messages"][0]["text"] == SECRET
    assert exported["knowledge_base_questions"][0]["question"] == SECRET
    assert "where is my parcel" not in dumped

    removed: list[str] = []

    async def remover(slugs: list[str]) -> None:
        removed.extend(slugs)

    async with db.session() as session:
        customer = await privacy.resolve_customer(session, str(victim))
        result = await privacy.erase(session, customer, remove_articles=remover)  # type: ignore[arg-type]
        await session.commit()
    assert result.leftovers == []
    assert result.counts["messages"] >= 2
    assert removed == ["from-1001"]

    async with db.session() as session:
        # Nothing of the secret anywhere in the text columns that held it.
        for column in (
            Message.text,
            InboxRow.payload,
            OutboxRow.payload,
            AnswerLog.question,
            Feedback.question,
            Draft.text,
            Article.body,
            Ticket.subject,
        ):
            hits = await session.scalar(select(func.count()).where(column.like("%4111%")))
            assert hits == 0, column
        shell = await session.scalar(select(Ticket).where(Ticket.customer_id == victim))
        assert shell is not None and shell.subject == privacy.ERASED and shell.number == 1001
        erased_customer = await session.get(Customer, victim)
        assert erased_customer is not None and erased_customer.name == ""
        # The other customer is untouched.
        other = await session.scalar(
            select(func.count(Message.id)).join(Ticket).where(Ticket.customer_id == bystander)
        )
        assert other and other >= 2
        assert (
            await session.scalar(
                select(func.count(InboxRow.id)).where(InboxRow.payload.like("%parcel%"))
            )
            == 1
        )


async def test_unknown_customers_and_bad_ids_are_one_line_errors(db: Database) -> None:
    async with db.session() as session:
        for ref, message in (
            ("999", "customer 999 does not exist"),
            ("telegram:nobody", "customer telegram:nobody does not exist"),
            ("bob", "'bob' is neither a customer id nor channel:user"),
        ):
            try:
                await privacy.resolve_customer(session, ref)
            except (privacy.NotFoundError, privacy.InputError) as exc:
                assert str(exc).startswith(message)
            else:
                raise AssertionError(f"{ref} resolved")


def test_cli_export_and_erase(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    env = {k: v for k, v in os.environ.items() if not k.startswith("RELAYDESK_")}
    env["RELAYDESK_DATA_DIR"] = str(tmp_path / "data")
    cli = [sys.executable, "-m", "bots.cli"]

    def call(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [*cli, *args],
            env=env,
            input=stdin,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )

    assert call("init").returncode == 0
    assert call("chat", "--user", "ann", stdin=f"{SECRET}\n").returncode == 0
    exported = call("customers", "export", "console:ann")
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["tickets"][0]["messages"][0]["text"] == SECRET
    refused = call("customers", "erase", "console:ann")
    assert refused.returncode == 2 and "--yes" in refused.stderr
    erased = call("customers", "erase", "1", "--yes")
    assert erased.returncode == 0, erased.stderr
    assert "verified: nothing left" in erased.stdout
    after = call("customers", "export", "1")
    assert SECRET not in after.stdout
