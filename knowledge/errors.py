"""Errors of the knowledge package; messages are safe to show a user."""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base of the knowledge package's errors."""


class EmbedderError(KnowledgeError):
    """The embedding model failed or is misconfigured."""
