"""Errors of the knowledge package; messages are safe to show a user."""

from __future__ import annotations


class KnowledgeError(Exception):
    """Base of the knowledge package's errors."""


class EmbedderError(KnowledgeError):
    """The embedding model failed or is misconfigured."""


class ArticleFormatError(KnowledgeError):
    """An article file or row is malformed; the message names the file, line or field."""


class ArticleNotFoundError(KnowledgeError):
    """No article has the slug (or version) that was asked for."""


class KnowledgeIndexError(KnowledgeError):
    """The vector index is missing, unreachable or was built by another embedder."""


class CalibrationError(KnowledgeError):
    """Labelled questions cannot calibrate the decision (too few, wrong columns)."""
