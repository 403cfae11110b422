"""indexes the reports need

Revision ID: 0007
Revises: 0006
"""

from __future__ import annotations

from alembic import op

revision = "0007"
down_revision = "0006"
branch_labels = None
depends_on = None

# name, table, columns: declared beside the models in tickets/report_models.py and
# bots/report_indexes.py
INDEXES = (
    ("ix_tickets_created_at", "tickets", ["created_at"]),
    ("ix_tickets_resolved_at", "tickets", ["resolved_at"]),
    ("ix_tickets_customer_created", "tickets", ["customer_id", "created_at"]),
    ("ix_messages_ticket_created", "messages", ["ticket_id", "created_at"]),
    ("ix_ticket_events_ticket_kind_at", "ticket_events", ["ticket_id", "kind", "at"]),
    ("ix_kb_answers_customer_created", "kb_answers", ["customer_ref", "created_at"]),
)


def upgrade() -> None:
    for name, table, columns in INDEXES:
        op.create_index(name, table, columns, unique=False)


def downgrade() -> None:
    for name, table, _columns in reversed(INDEXES):
        op.drop_index(name, table_name=table)
