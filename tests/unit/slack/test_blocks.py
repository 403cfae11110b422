"""Block Kit rendering: what agents and customers see, and which buttons they get."""

from __future__ import annotations

from typing import Any

from bots.messages import Button
from bots.slack import blocks as b


def view(**changes: Any) -> dict[str, Any]:
    base: dict[str, Any] = {
        "number": 42,
        "subject": "Refund for order 1234",
        "status": "open",
        "priority": "high",
        "department": "payments",
        "tier": "L1",
        "assignee": None,
        "channel": "telegram",
        "language": "pl",
        "customer": {"id": 5, "name": "Ada <Admin>", "tier": "vip", "previous_tickets": 3},
        "sla": {
            "first_response_due": "2026-03-02T09:30:00+00:00",
            "resolution_due": None,
            "state": "warning",
        },
        "summary": "Wants a refund for a damaged parcel.",
        "bot_tried": ["Returns policy article", "Delivery times article"],
    }
    base.update(changes)
    return base


def texts(blocks: list[dict[str, Any]]) -> str:
    out = []
    for block in blocks:
        if "text" in block:
            out.append(block["text"]["text"])
        for field in block.get("fields", []):
            out.append(field["text"])
        for element in block.get("elements", []):
            if "text" in element and isinstance(element["text"], dict):
                out.append(element["text"]["text"])
            elif isinstance(element.get("text"), str):
                out.append(element["text"])
    return "\n".join(out)


def actions(blocks: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [e for block in blocks if block["type"] == "actions" for e in block["elements"]]


def test_card_shows_everything_an_agent_needs() -> None:
    card = b.card_blocks(view())
    shown = texts(card)
    assert card[0]["type"] == "header" and card[0]["text"]["text"] == "#42 Refund for order 1234"
    for expected in (
        "Ada &lt;Admin&gt;",
        "telegram",
        "pl",
        "vip",
        "3 previous tickets",
        "high",
        "open",
        "unassigned",
        "payments",
        "L1",
        "warning",
        "2026-03-02 09:30 UTC",
        "Wants a refund for a damaged parcel.",
        "• Returns policy article",
        "• Delivery times article",
    ):
        assert expected in shown, expected


def test_card_buttons_carry_the_ticket_number() -> None:
    card = b.card_blocks(view(), departments=["orders", "payments", "account"])
    by_id = {e["action_id"]: e for e in actions(card)}
    assert set(by_id) == {
        "desk:assign",
        "desk:escalate",
        "desk:pending",
        "desk:resolve",
        "desk:save_kb",
        "desk:teach_pick",
    }
    assert by_id["desk:assign"]["value"] == "42"
    assert by_id["desk:teach_pick"]["value"] == "42"
    options = [o["value"] for o in by_id["desk:escalate"]["options"]]
    assert options == ["42:tier:L2", "42:tier:L3", "42:department:orders", "42:department:account"]


def test_assignee_is_a_mention_and_resolved_cards_lose_resolve_and_pending() -> None:
    card = b.card_blocks(view(assignee="U123", status="resolved", tier="L3"))
    assert "<@U123>" in texts(card)
    ids = {e["action_id"] for e in actions(card)}
    assert "desk:resolve" not in ids and "desk:pending" not in ids
    assert "desk:escalate" not in ids  # L3 and no other department: nowhere to escalate


def test_card_fallback_text_names_the_ticket() -> None:
    assert b.card_text(view()) == "Ticket #42: Refund for order 1234 [open, high]"


def test_draft_block_has_the_seven_buttons_in_order() -> None:
    blocks = b.draft_blocks(
        {
            "ticket_number": 42,
            "draft_id": 7,
            "text": "Hi",
            "offline": True,
            "reason": "no model configured",
        }
    )
    labels = [e["text"]["text"] for e in actions(blocks)]
    assert labels == ["Send", "Edit", "Regenerate", "Shorter", "Friendlier", "Formal", "Translate"]
    assert {e["value"] for e in actions(blocks)} == {"42:7"}
    shown = texts(blocks)
    assert "offline draft" in shown and "no model configured" in shown


def test_sent_draft_has_no_buttons() -> None:
    blocks = b.draft_blocks(
        {"ticket_number": 42, "draft_id": 7, "text": "Hi", "state": "sent", "by": "U9"}
    )
    assert actions(blocks) == []
    assert "Sent to the customer" in texts(blocks) and "<@U9>" in texts(blocks)


def test_draft_text_survives_the_round_trip_through_blocks() -> None:
    text = "Dear <customer> & co,\nyour refund is on its way."
    assert b.draft_text_from_blocks(b.draft_blocks({"text": text})) == text


def test_customer_buttons_are_customer_actions() -> None:
    blocks = b.customer_blocks(
        "Did this help?",
        [Button("👍 Helped", "kb_helped", "a1"), Button("👎 Talk to a person", "kb_human", "a1")],
    )
    ids = [e["action_id"] for e in actions(blocks)]
    assert ids == ["customer:kb_helped:0", "customer:kb_human:1"]
    assert b.customer_blocks("plain", [])[-1]["type"] == "section"


def test_mirror_shows_author_text_and_translation() -> None:
    text = b.mirror_text(
        {
            "author": "customer",
            "text": "Gdzie jest paczka?",
            "translation": "Where is my parcel?",
            "translation_language": "en",
        }
    )
    assert text.startswith("*👤 Customer*\nGdzie jest paczka?")
    assert "_Translation (en):_ Where is my parcel?" in text


def test_long_texts_are_clipped_to_block_limits() -> None:
    long = "x" * 10_000
    card = b.card_blocks(view(subject=long, summary=long))
    assert len(card[0]["text"]["text"]) <= b.HEADER_MAX
    assert all(len(block["text"]["text"]) <= 3000 for block in card if "text" in block)


def test_edit_modal_is_prefilled_and_keeps_where_to_send() -> None:
    modal = b.edit_modal("Draft text", {"ticket": 42, "draft_id": "7"})
    assert modal["callback_id"] == b.EDIT_CALLBACK
    element = modal["blocks"][0]["element"]
    assert element["initial_value"] == "Draft text" and element["action_id"] == b.EDIT_INPUT
    assert '"ticket":42' in modal["private_metadata"]


def test_teach_picker_offers_the_articles_within_slacks_limits() -> None:
    long_slug = "s" * 200  # its value would pass Slack's 150 characters: left out
    picker = b.teach_picker(
        42,
        "gdzie jest moja *paczka*?",
        [("track-order", "Tracking an order " * 10), (long_slug, "Too long"), ("faq", "FAQ")],
    )
    [select_menu] = actions(picker)
    assert select_menu["action_id"] == "desk:teach"
    options = select_menu["options"]
    assert [o["value"] for o in options] == ["42:track-order", "42:faq"]
    assert all(len(o["text"]["text"]) <= b.OPTION_TEXT_MAX for o in options)
    assert options[0]["text"]["text"].endswith("… (track-order)")  # the title is cut, not the slug
    assert "#42" in texts(picker) and "paczka" in texts(picker)
    assert b.teach_picker(42, "q", [(long_slug, "Too long")]) == []  # Slack refuses empty menus
