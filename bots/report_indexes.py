"""Indexes the report queries need beyond those declared beside the helpdesk tables.

Importing this module attaches them to `kb_answers` and `ticket_events` (the other
tickets-side indexes are declared in `tickets/report_models.py`); migrations
`0007_report_indexes` and `0008_report_speed` create them.
"""

from __future__ import annotations

from sqlalchemy import Index

from knowledge.models import AnswerLog
from tickets.models import TicketEvent

_answers = AnswerLog.__table__.c
_events = TicketEvent.__table__.c

# A customer's questions in time order: "asked again within 24 h", "came back within 7 days".
ANSWER_INDEX = Index("ix_kb_answers_customer_created", _answers.customer_ref, _answers.created_at)

# The backlog at the end of a period: the few tickets whose status changed after it (a range
# of this index instead of a scan of every event).
STATUS_CHANGE_INDEX = Index("ix_ticket_events_kind_at", _events.kind, _events.at)
