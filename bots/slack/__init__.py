"""Slack adapter: customer DMs and the agent workspace (slack-bolt)."""
