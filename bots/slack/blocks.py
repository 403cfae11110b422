"""Block Kit rendering of relaydesk messages: ticket cards, drafts, mirrors, customer buttons.

Pure functions from neutral data (the ticket view of `docs/messages.md`, message meta) to Slack
blocks. Action ids say who may press a button: `customer:<action>:<n>` for customers in DMs,
`desk:<action>` for agents in triage channels.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

from bots.messages import Button

SECTION_MAX = 2900
HEADER_MAX = 150
FALLBACK_MAX = 3000
OPTION_TEXT_MAX = 75  # a select option's text
OPTION_VALUE_MAX = 150  # and its value

CUSTOMER_PREFIX = "customer:"
DESK_PREFIX = "desk:"
EDIT_CALLBACK = "desk:edit_send"
EDIT_BLOCK = "draft"
EDIT_INPUT = "text"

DRAFT_ACTIONS: tuple[tuple[str, str], ...] = (
    ("send", "Send"),
    ("edit", "Edit"),
    ("regenerate", "Regenerate"),
    ("shorter", "Shorter"),
    ("friendlier", "Friendlier"),
    ("formal", "Formal"),
    ("translate", "Translate"),
)
TIERS = ("L1", "L2", "L3")
CLOSED_STATUSES = ("resolved", "closed")
STATUS_ICONS = {"new": "🆕", "open": "🟢", "pending": "⏸️", "resolved": "✅", "closed": "⚪"}
SLA_ICONS = {"ok": "🟢", "warning": "🟠", "breached": "🔴", "paused": "⏸️", "met": "✅"}
PRIORITY_ICONS = {"low": "🔹", "normal": "▫️", "high": "🔸", "urgent": "🔺"}


def clip(text: str, limit: int = SECTION_MAX) -> str:
    """Text cut to fit a Block Kit field."""
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def escape(text: str) -> str:
    """Escape the three characters Slack's mrkdwn treats as markup."""
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _plain(text: str) -> dict[str, Any]:
    return {"type": "plain_text", "text": clip(text, 75), "emoji": True}


def _section(text: str) -> dict[str, Any]:
    return {"type": "section", "text": {"type": "mrkdwn", "text": clip(text) or " "}}


def _context(text: str) -> dict[str, Any]:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": clip(text)}]}


def _button(label: str, action_id: str, value: str, style: str | None = None) -> dict[str, Any]:
    button: dict[str, Any] = {
        "type": "button",
        "text": _plain(label),
        "action_id": action_id,
        "value": value[:2000],
    }
    if style:
        button["style"] = style
    return button


# --------------------------------------------------------------------------- customers


def customer_blocks(text: str, buttons: Sequence[Button]) -> list[dict[str, Any]]:
    """A customer-facing message: the text, and its buttons (👍/👎, CSAT) when it has some."""
    blocks: list[dict[str, Any]] = [_section(text)]
    if buttons:
        blocks.append(
            {
                "type": "actions",
                "elements": [
                    _button(b.label, f"{CUSTOMER_PREFIX}{b.action}:{i}", b.value)
                    for i, b in enumerate(buttons[:25])
                ],
            }
        )
    return blocks


# --------------------------------------------------------------------------- ticket card


def card_text(view: dict[str, Any]) -> str:
    """The plain-text fallback of a card (notifications, screen readers)."""
    return clip(
        f"Ticket #{view.get('number')}: {view.get('subject') or '(no subject)'}"
        f" [{view.get('status', '?')}, {view.get('priority', '?')}]",
        FALLBACK_MAX,
    )


def _customer_line(view: dict[str, Any]) -> str:
    customer = view.get("customer") or {}
    name = escape(str(customer.get("name") or customer.get("id") or "unknown"))
    parts = [str(view.get("channel") or "?"), str(view.get("language") or "?")]
    tier = customer.get("tier")
    if tier:
        parts.append(str(tier))
    history = []
    if view.get("follow_up_of"):
        history.append(f"follow-up of #{view['follow_up_of']}")
    previous = customer.get("previous_tickets")
    if previous:
        history.append(f"{previous} previous ticket{'s' if previous != 1 else ''}")
    lines = f"\n{' · '.join(history)}" if history else ""
    return f"*Customer*\n{name} ({' · '.join(parts)}){lines}"


def _sla_line(view: dict[str, Any]) -> str:
    sla = view.get("sla") or {}
    state = str(sla.get("state") or "none")
    icon = SLA_ICONS.get(state, "⏱️")
    dues = []
    if sla.get("first_response_due"):
        dues.append(f"first response by {_when(sla['first_response_due'])}")
    if sla.get("resolution_due"):
        dues.append(f"resolve by {_when(sla['resolution_due'])}")
    detail = "; ".join(dues) if dues else "no SLA clock"
    return f"*SLA*\n{icon} {state}: {detail}"


def _when(value: Any) -> str:
    text = str(value)
    if len(text) >= 16 and text[10] in "T ":
        return f"{text[:10]} {text[11:16]} UTC"
    return text


def card_blocks(view: dict[str, Any], *, departments: Sequence[str] = ()) -> list[dict[str, Any]]:
    """The ticket card: who, what, state, SLA clock, summary, what the bot tried, and actions."""
    number = view.get("number")
    status = str(view.get("status") or "new")
    priority = str(view.get("priority") or "normal")
    assignee = view.get("assignee")
    subject = str(view.get("subject") or "(no subject)")
    blocks: list[dict[str, Any]] = [
        {
            "type": "header",
            "text": {
                "type": "plain_text",
                "text": clip(f"#{number} {subject}", HEADER_MAX),
                "emoji": True,
            },
        },
        {
            "type": "section",
            "fields": [
                {"type": "mrkdwn", "text": _customer_line(view)},
                {
                    "type": "mrkdwn",
                    "text": f"*Status*\n{STATUS_ICONS.get(status, '')} {status}".replace(
                        "\n ", "\n"
                    ),
                },
                {
                    "type": "mrkdwn",
                    "text": f"*Priority*\n{PRIORITY_ICONS.get(priority, '')} {priority}".replace(
                        "\n ", "\n"
                    ),
                },
                {
                    "type": "mrkdwn",
                    "text": f"*Assignee*\n{f'<@{assignee}>' if assignee else 'unassigned'}",
                },
                {
                    "type": "mrkdwn",
                    "text": f"*Department · tier*\n{view.get('department') or 'none'}"
                    f" · {view.get('tier') or 'L1'}",
                },
                {"type": "mrkdwn", "text": _sla_line(view)},
            ],
        },
    ]
    summary = str(view.get("summary") or "").strip()
    if summary:
        blocks.append(_section(f"*Summary*\n{escape(summary)}"))
    tried = [str(t) for t in view.get("bot_tried") or [] if str(t).strip()]
    if tried:
        blocks.append(
            _section("*The bot already tried*\n" + "\n".join(f"• {escape(t)}" for t in tried))
        )
    blocks.append(_card_actions(view, departments))
    return blocks


def _card_actions(view: dict[str, Any], departments: Sequence[str]) -> dict[str, Any]:
    value = str(view.get("number"))
    status = str(view.get("status") or "new")
    elements: list[dict[str, Any]] = [_button("Assign to me", "desk:assign", value)]
    options = escalation_options(view, departments)
    if options:
        elements.append(
            {
                "type": "static_select",
                "action_id": "desk:escalate",
                "placeholder": _plain("Escalate…"),
                "options": options,
            }
        )
    if status not in CLOSED_STATUSES:
        if status != "pending":
            elements.append(_button("Pending", "desk:pending", value))
        elements.append(_button("Resolve", "desk:resolve", value, "primary"))
    elements.append(_button("Save as KB draft", "desk:save_kb", value))
    elements.append(_button("Teach the bot", "desk:teach_pick", value))
    return {"type": "actions", "block_id": f"card:{value}", "elements": elements}


def teach_picker(number: int, question: str, articles: Sequence[tuple[str, str]]) -> list[Any]:
    """Which of the articles nearest to a ticket's question answers it: picking one teaches
    the question to that article (`articles` are (slug, title), nearest first). Empty when
    no article fits in a menu (a slug too long for an option's value)."""
    options = [
        {
            "text": _plain(
                clip(
                    f"{clip(title, max(OPTION_TEXT_MAX - len(slug) - 3, 10))} ({slug})",
                    OPTION_TEXT_MAX,
                )
            ),
            "value": f"{number}:{slug}",
        }
        for slug, title in articles
        if len(f"{number}:{slug}") <= OPTION_VALUE_MAX
    ]
    if not options:
        return []
    return [
        _section(
            f"*Which article answers ticket #{number}?*\n“{escape(clip(question, 500))}”\n"
            "The one you pick learns this wording, so the bot answers questions like it."
        ),
        {
            "type": "actions",
            "block_id": f"teach:{number}",
            "elements": [
                {
                    "type": "static_select",
                    "action_id": "desk:teach",
                    "placeholder": _plain("Article…"),
                    "options": options,
                }
            ],
        },
    ]


def escalation_options(view: dict[str, Any], departments: Sequence[str]) -> list[dict[str, Any]]:
    """Escalate choices: the tiers above the current one, then the other departments."""
    number = view.get("number")
    tier = str(view.get("tier") or "L1")
    above = TIERS[TIERS.index(tier) + 1 :] if tier in TIERS else ()
    options = [{"text": _plain(f"Tier {t}"), "value": f"{number}:tier:{t}"} for t in above]
    options += [
        {"text": _plain(f"Department: {d}"), "value": f"{number}:department:{d}"}
        for d in departments
        if d != view.get("department")
    ]
    return options[:100]


# --------------------------------------------------------------------------- thread


def mirror_text(meta: dict[str, Any]) -> str:
    """A customer's (or the bot's) message as shown in the ticket's thread."""
    author = str(meta.get("author") or "customer")
    label = {"customer": "👤 Customer", "bot": "🤖 Bot", "agent": "🧑‍💼 Agent"}.get(
        author, escape(author)
    )
    name = meta.get("author_name")
    head = f"*{label}*" + (f" ({escape(str(name))})" if name else "")
    text = escape(str(meta.get("text") or "")) or "_(no text)_"
    lines = [f"{head}\n{text}"]
    translation = meta.get("translation")
    if translation:
        lang = meta.get("translation_language") or "department language"
        lines.append(f"_Translation ({escape(str(lang))}):_ {escape(str(translation))}")
    return clip("\n".join(lines))


def draft_blocks(meta: dict[str, Any]) -> list[dict[str, Any]]:
    """The AI draft with Send / Edit / Regenerate / tone / Translate buttons (or its outcome)."""
    text = str(meta.get("text") or "")
    state = meta.get("state")
    if state == "sent":
        by = meta.get("by")
        return [
            _section(f"✅ *Sent to the customer*{f' by <@{by}>' if by else ''}"),
            _section(escape(text)),
        ]
    label = "*AI draft*" + (" _(offline draft)_" if meta.get("offline") else "")
    blocks = [_section(label), _section(escape(text))]
    notes = []
    if meta.get("reason"):
        notes.append(str(meta["reason"]))
    if meta.get("language"):
        notes.append(f"language: {meta['language']}")
    if meta.get("draft_id") is not None:
        notes.append(f"draft {meta['draft_id']}")
    if notes:
        blocks.append(_context(escape(" · ".join(notes))))
    value = f"{meta.get('ticket_number')}:{meta.get('draft_id') or ''}"
    blocks.append(
        {
            "type": "actions",
            "block_id": f"draft:{value}",
            "elements": [
                _button(
                    label_, f"{DESK_PREFIX}{action}", value, "primary" if action == "send" else None
                )
                for action, label_ in DRAFT_ACTIONS
            ],
        }
    )
    return blocks


def draft_text_from_blocks(blocks: Sequence[dict[str, Any]]) -> str | None:
    """The draft text of a draft message, read back from its blocks (the second section)."""
    sections = [b for b in blocks if b.get("type") == "section" and "text" in b]
    if len(sections) < 2:
        return None
    text = str(sections[1]["text"].get("text", ""))
    return text.replace("&lt;", "<").replace("&gt;", ">").replace("&amp;", "&")


def edit_modal(text: str, metadata: dict[str, Any]) -> dict[str, Any]:
    """The Edit modal: the draft in a text box; submitting sends it to the customer."""
    return {
        "type": "modal",
        "callback_id": EDIT_CALLBACK,
        "private_metadata": json.dumps(metadata, separators=(",", ":")),
        "title": _plain(f"Reply to #{metadata.get('ticket')}"),
        "submit": _plain("Send"),
        "close": _plain("Cancel"),
        "blocks": [
            {
                "type": "input",
                "block_id": EDIT_BLOCK,
                "label": _plain("Reply to the customer"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": EDIT_INPUT,
                    "multiline": True,
                    "initial_value": text[:3000],
                },
            }
        ],
    }
