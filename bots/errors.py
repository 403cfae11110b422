"""The application's error root; adapters translate library errors into these at the edge."""

from __future__ import annotations


class RelaydeskError(Exception):
    """Base of every error relaydesk raises on purpose; its message is safe to show a user."""


class ConfigError(RelaydeskError):
    """Settings or helpdesk.yaml are wrong; the message names the field and why."""


class StorageError(RelaydeskError):
    """The database is unreachable, or its schema is not current."""


class NotFoundError(RelaydeskError):
    """A ticket, customer or article that was asked for does not exist."""


class InputError(RelaydeskError):
    """A command or request got input it cannot use."""


class RetryLater(RelaydeskError):
    """A stored event cannot be handled yet, through no fault of its own (the Telegram bot
    does not know its own username until getMe answers): the inbox tries it again after a
    pause, for as long as it takes, without counting a failed attempt."""
