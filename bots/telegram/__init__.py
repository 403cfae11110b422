"""Telegram adapter: Update <-> neutral messages, Bot API calls (python-telegram-bot)."""
