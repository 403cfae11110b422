"""The index the bot-deflection and re-contact queries need on the knowledge base's answer log.

Importing this module attaches it to `kb_answers` (the tickets-side indexes are declared in
`tickets/report_models.py`); migration `0007_report_indexes` creates both.
"""

from __future__ import annotations

from sqlalchemy import Index

from knowledge.models import AnswerLog

_answers = AnswerLog.__table__.c

# A customer's questions in time order: "asked again within 24 h", "came back within 7 days".
ANSWER_INDEX = Index("ix_kb_answers_customer_created", _answers.customer_ref, _answers.created_at)
