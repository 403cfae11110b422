"""Telegram adapter: Update <-> neutral messages, Bot API calls (python-telegram-bot).

`setup(services)` adds the channel, its webhook route and its lifecycle to a running relaydesk.
"""

from bots.telegram.setup import setup

__all__ = ["setup"]
