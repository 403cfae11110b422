"""Durable pipeline: the inbox (persist before ack, dedupe), the outbox, and their workers."""
