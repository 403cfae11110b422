"""Indexes the KPI queries in `tickets.reports` rely on, declared on the helpdesk tables.

Importing this module attaches them to the tables' metadata, so the schema comparison and the
migration (`0007_report_indexes`) agree.
"""

from __future__ import annotations

from sqlalchemy import Index

from tickets.models import Message, Ticket, TicketEvent

_tickets = Ticket.__table__.c
_messages = Message.__table__.c
_events = TicketEvent.__table__.c

REPORT_INDEXES = (
    # The window of a report: tickets created, or resolved, between two moments.
    Index("ix_tickets_created_at", _tickets.created_at),
    Index("ix_tickets_resolved_at", _tickets.resolved_at),
    # Re-contact: the same customer's later tickets.
    Index("ix_tickets_customer_created", _tickets.customer_id, _tickets.created_at),
    # Next response: a ticket's messages in time order.
    Index("ix_messages_ticket_created", _messages.ticket_id, _messages.created_at),
    # A ticket's last status change before the end of a period (the backlog then).
    Index("ix_ticket_events_ticket_kind_at", _events.ticket_id, _events.kind, _events.at),
)
