"""Errors of the helpdesk domain."""

from __future__ import annotations


class TicketError(Exception):
    """Base of the tickets package's errors; the message is safe to show a user."""


class TicketNotFound(TicketError):
    def __init__(self, number: int) -> None:
        super().__init__(f"ticket #{number} does not exist")
        self.number = number


class TicketStateError(TicketError):
    """The ticket cannot make this change in its current state (e.g. reopen a closed ticket)."""


class TicketInputError(TicketError):
    """A value given for a ticket change is not acceptable (unknown agent, bad rating...)."""
