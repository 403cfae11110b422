"""The conversation engine on a real database: commands, small talk, hand-off, follow-ups,
buttons and edits, in English and Polish."""

from __future__ import annotations

import itertools
from collections.abc import Sequence
from dataclasses import dataclass, field

import pytest
from sqlalchemy import func, select
from sqlalchemy.ext.asyncio import AsyncSession

from bots.conversation import Conversation, KbOutcome
from bots.db import Database
from bots.messages import ChatRef, InboundMessage, OutboundMessage
from tickets.config import default_config
from tickets.models import CsatRating, Message, Ticket
from tickets.service import Helpdesk

_ids = itertools.count(1)


@dataclass
class ScriptedKnowledge:
    """A knowledge port that answers questions containing a keyword and logs every call."""

    keyword: str = "password"
    calls: list[tuple[str, str]] = field(default_factory=list)
    feedback_log: list[tuple[str, bool]] = field(default_factory=list)

    async def decide(
        self, session: AsyncSession, text: str, language: str, *, customer_ref: str
    ) -> KbOutcome:
        self.calls.append((text, language))
        if self.keyword in text.lower():
            return KbOutcome(
                answered=True,
                confidence=0.93,
                answer_id="a1",
                slug="reset-password",
                title="Resetting your password",
                passage="Use the 'Forgot password' link on the sign-in page.",
                article_language="en",
            )
        return KbOutcome(
            answered=False, confidence=0.2, slug="delivery", title="Delivery", reason="unsure"
        )

    async def feedback(self, session: AsyncSession, answer_id: str, *, helpful: bool) -> str:
        self.feedback_log.append((answer_id, helpful))
        return "how do I reset my password"


def msg(
    text: str = "", *, user: str = "u1", lang: str | None = "en", **extra: object
) -> InboundMessage:
    kind = "text"
    command = None
    args = ""
    if text.startswith("/"):
        head, _, args = text[1:].partition(" ")
        command, kind = head, "command"
    fields: dict[str, object] = {
        "chat": ChatRef("telegram", f"chat-{user}"),
        "user_id": user,
        "user_name": "Ada Lovelace",
        "platform_id": f"p{next(_ids)}",
        "text": text,
        "language_hint": lang,
        "command": command,
        "command_args": args,
        "kind": kind,
    }
    fields.update(extra)
    return InboundMessage(**fields)  # type: ignore[arg-type]


class Chat:
    def __init__(self, db: Database, engine: Conversation) -> None:
        self.db = db
        self.engine = engine

    async def send(self, message: InboundMessage) -> list[OutboundMessage]:
        async with self.db.session() as session:
            replies: Sequence[tuple[OutboundMessage, int | None]] = await self.engine.handle(
                session, message
            )
            await session.commit()
        return [reply for reply, _ in replies]

    async def texts(self, message: InboundMessage) -> list[str]:
        return [r.text for r in await self.send(message) if r.kind == "text"]

    async def count(self, column: object, *where: object) -> int:
        async with self.db.session() as session:
            return int(await session.scalar(select(func.count(column)).where(*where)) or 0)


@pytest.fixture
def kb() -> ScriptedKnowledge:
    return ScriptedKnowledge()


@pytest.fixture
def chat(db: Database, kb: ScriptedKnowledge) -> Chat:
    return Chat(db, Conversation(Helpdesk(default_config()), knowledge=kb))


async def test_start_and_help_speak_the_customers_language(chat: Chat) -> None:
    start_en = await chat.texts(msg("/start"))
    assert start_en[0].startswith("Hi, Ada!") and "/human" in start_en[0]
    start_pl = await chat.texts(msg("/start", user="u2", lang="pl"))
    assert start_pl[0].startswith("Cześć, Ada!")
    help_pl = await chat.texts(msg("/help", user="u2", lang="pl"))
    assert "Napisz pytanie" in help_pl[0]
    assert await chat.count(Ticket.id) == 0


async def test_lang_pins_the_language_until_changed(chat: Chat, kb: ScriptedKnowledge) -> None:
    assert await chat.texts(msg("/lang de")) == ["Use /lang pl or /lang en."]
    assert await chat.texts(msg("/lang pl")) == ["Od teraz piszę po polsku."]
    await chat.texts(msg("where is my parcel?"))
    assert kb.calls[-1] == ("where is my parcel?", "pl")
    assert await chat.texts(msg("/lang en")) == ["From now on I will write in English."]


async def test_a_short_texts_weak_evidence_yields_to_the_customers_language(
    chat: Chat, kb: ScriptedKnowledge
) -> None:
    # an English customer's keyword query spelled like Polish stays English
    await chat.texts(msg("modify purchase 3707955617", user="u5", lang="en"))
    assert kb.calls[-1][1] == "en"
    # a Polish customer (Telegram says so) stays Polish on an ambiguous "mam problem"
    await chat.texts(msg("mam problem", user="u6", lang="pl"))
    assert kb.calls[-1][1] == "pl"
    # without anything known about the customer, the weak evidence is the best guess
    await chat.texts(msg("modify purchase 3707955617", user="u7", lang=None))
    assert kb.calls[-1][1] == "pl"
    # and a clear text overrides the language the app reports
    await chat.texts(msg("where is my parcel?", user="u8", lang="pl"))
    assert kb.calls[-1][1] == "en"


async def test_kb_answer_carries_feedback_buttons_and_opens_no_ticket(
    chat: Chat, kb: ScriptedKnowledge
) -> None:
    replies = await chat.send(msg("I forgot my password"))
    assert len(replies) == 1
    answer = replies[0]
    assert "Forgot password" in answer.text and "Resetting your password" in answer.text
    assert [(b.action, b.value) for b in answer.buttons] == [
        ("kb_helped", "a1"),
        ("kb_human", "a1"),
    ]
    assert await chat.count(Ticket.id) == 0

    helped = await chat.send(msg(kind="action", action="kb_helped", action_value="a1"))
    assert [r.kind for r in helped] == ["action_ack"]
    assert kb.feedback_log == [("a1", True)]
    assert await chat.count(Ticket.id) == 0


async def test_thumbs_down_hands_off_with_the_original_question(
    chat: Chat, kb: ScriptedKnowledge
) -> None:
    await chat.send(msg("I forgot my password"))
    replies = await chat.send(
        msg(kind="action", action="kb_human", action_value="a1", meta={"callback_query_id": "q"})
    )
    assert replies[0].kind == "action_ack" and replies[0].meta == {"callback_query_id": "q"}
    assert "#1001" in replies[1].text
    async with chat.db.session() as session:
        first = await session.scalar(select(Message).order_by(Message.id).limit(1))
    assert first is not None and first.text == "how do I reset my password"
    assert kb.feedback_log == [("a1", False)]


async def test_unsure_kb_hands_off_and_follow_ups_are_acknowledged_once(
    chat: Chat, kb: ScriptedKnowledge
) -> None:
    first = await chat.texts(msg("my parcel is late"))
    assert first == [
        "I'm passing this to a person from our team. Your ticket number is #1001; you will get "
        "the reply here. You can add details or files any time."
    ]
    second = await chat.texts(msg("it was order 5512"))
    assert second == ["Added to your ticket #1001. We will reply here."]
    third = await chat.texts(msg("and it was paid by card"))
    assert third == []  # acknowledged once per turn
    assert len(kb.calls) == 1  # follow-ups go to the ticket, not the knowledge base
    assert await chat.count(Message.id, Message.author_kind == "customer") == 3
    assert await chat.count(Ticket.id) == 1


async def test_asking_for_a_person_hands_off_without_the_knowledge_base(
    chat: Chat, kb: ScriptedKnowledge
) -> None:
    replies = await chat.texts(msg("chcę rozmawiać z człowiekiem", lang=None))
    assert replies[0].startswith("Przekazuję to osobie z naszego zespołu.")
    assert kb.calls == []
    human = await chat.texts(msg("/human", user="u3"))
    assert "#1002" in human[0]


async def test_greetings_and_thanks_open_nothing(chat: Chat, kb: ScriptedKnowledge) -> None:
    assert await chat.texts(msg("hi")) == ["Hello! How can I help you today?"]
    assert await chat.texts(msg("Dzień dobry", lang=None)) == ["Dzień dobry! W czym mogę pomóc?"]
    assert await chat.texts(msg("thanks!")) == ["You're welcome! Write any time you need help."]
    assert kb.calls == []
    assert await chat.count(Ticket.id) == 0


async def test_thanks_or_ok_after_an_answer_open_no_ticket(
    chat: Chat, kb: ScriptedKnowledge
) -> None:
    """Closing words after a knowledge base answer are small talk: not a question handed to
    people ("I'm passing this to a person…") with a ticket that says "thank you for your help"."""
    await chat.send(msg("I forgot my password"))
    assert await chat.texts(msg("thank you for your help")) == [
        "You're welcome! Write any time you need help."
    ]
    assert await chat.texts(msg("ok")) == ["Great! Write any time you need help."]
    await chat.send(msg("zapomniałem password", user="u2", lang="pl"))
    assert await chat.texts(msg("ok, dzięki za pomoc", user="u2", lang="pl")) == [
        "Nie ma za co! Pisz śmiało, gdy będziesz potrzebować pomocy."
    ]
    assert await chat.count(Ticket.id) == 0
    assert len(kb.calls) == 2


async def test_asking_for_a_person_on_an_open_ticket_keeps_the_customers_words(
    chat: Chat,
) -> None:
    """/human (or "człowiek") after a hand-off stores what the customer wrote, not the first
    question again as if they had repeated it; and /new then /human does not open a second
    ticket about the first question."""
    await chat.send(msg("faktura ma zły NIP", lang="pl"))
    human = await chat.texts(msg("/human", lang="pl"))
    assert human[0].startswith("Przekazuję to osobie") and "#1001" in human[0]
    await chat.send(msg("człowiek", lang="pl"))
    await chat.send(msg("/new", lang="pl"))
    second = await chat.texts(msg("/human", lang="pl"))
    assert "#1002" in second[0]
    async with chat.db.session() as session:
        said = [
            (number, text)
            for number, text in await session.execute(
                select(Ticket.number, Message.text)
                .join(Ticket, Ticket.id == Message.ticket_id)
                .where(Message.author_kind == "customer")
                .order_by(Message.id)
            )
        ]
        subjects = list(await session.scalars(select(Ticket.subject).order_by(Ticket.id)))
    assert said == [
        (1001, "faktura ma zły NIP"),
        (1001, "/human"),
        (1001, "człowiek"),
        (1002, "/human"),
    ]
    assert subjects[1] != "faktura ma zły NIP"


async def test_status_lists_only_the_customers_own_open_tickets(chat: Chat) -> None:
    assert await chat.texts(msg("/status")) == ["You have no open tickets."]
    await chat.send(msg("my parcel is late"))
    await chat.send(msg("the invoice is wrong", user="someone-else"))
    status = await chat.texts(msg("/status"))
    assert status == ["Your open tickets:\n#1001 · new · my parcel is late"]


async def test_new_starts_another_ticket_while_one_is_open(chat: Chat) -> None:
    await chat.send(msg("my parcel is late"))
    assert await chat.texts(msg("/new")) == ["Sure. What is your new request about?"]
    replies = await chat.texts(msg("the invoice has a wrong address"))
    assert "#1002" in replies[0]
    assert await chat.count(Ticket.id) == 2


async def test_csat_button_stores_the_rating_of_a_resolved_ticket(chat: Chat) -> None:
    await chat.send(msg("my parcel is late"))
    helpdesk = chat.engine.helpdesk
    async with chat.db.session() as session:
        ticket = await session.scalar(select(Ticket))
        assert ticket is not None
        await helpdesk.resolve(session, ticket, actor="agent:U1")
        await session.commit()
    replies = await chat.send(msg(kind="action", action="csat", action_value="1001:5"))
    assert [r.kind for r in replies] == ["action_ack", "text"]
    async with chat.db.session() as session:
        rating = await session.scalar(select(CsatRating.score))
    assert rating == 5
    # Someone else's ticket cannot be rated from this chat.
    await chat.send(msg(kind="action", action="csat", action_value="1001:1", user="intruder"))
    async with chat.db.session() as session:
        assert await session.scalar(select(CsatRating.score)) == 5


async def test_an_edit_updates_the_stored_message(chat: Chat) -> None:
    await chat.send(msg("my parcel is late", meta={"message_ref": "chat-u1:10"}))
    await chat.send(msg("my parcel is very late", kind="edit", ref="chat-u1:10", edited=True))
    async with chat.db.session() as session:
        stored = await session.scalar(select(Message).where(Message.platform_id == "chat-u1:10"))
    assert stored is not None
    assert stored.text == "my parcel is very late"
    assert stored.edits[0]["text"] == "my parcel is late"


async def test_unsupported_kinds_get_a_polite_note(chat: Chat) -> None:
    replies = await chat.texts(msg("", kind="unsupported", lang="pl"))
    assert replies == [
        "Przepraszam, rozumiem tylko tekst, zdjęcia, dokumenty i wiadomości głosowe."
    ]
    assert await chat.count(Ticket.id) == 0


async def test_a_photo_opens_a_ticket_with_the_attachment(
    chat: Chat, kb: ScriptedKnowledge
) -> None:
    from bots.messages import Attachment

    photo = Attachment(kind="photo", file_id="F1", size=1234, caption="broken box")
    replies = await chat.texts(msg("broken box", attachments=(photo,)))
    assert "#1001" in replies[0]
    assert kb.calls == []
    async with chat.db.session() as session:
        stored = await session.scalar(select(Message).where(Message.author_kind == "customer"))
    assert stored is not None and stored.attachments[0]["file_id"] == "F1"


async def test_asking_for_a_person_on_an_open_ticket_always_gets_an_answer(chat: Chat) -> None:
    await chat.send(msg("my parcel is late"))
    await chat.send(msg("order 5512"))
    again = await chat.texts(msg("can I talk to a human please"))
    assert again and "#1001" in again[0] and again[0].startswith("I'm passing this to a person")
