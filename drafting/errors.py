"""Errors of the drafting package; every message is safe to show an agent or an admin."""

from __future__ import annotations


class DraftingError(Exception):
    """Base of the drafting package's errors."""


class LLMError(DraftingError):
    """The language model could not produce a draft; `reason` says why in a few words."""

    kind = "error"  # a short name of the failure, for observers (metrics labels)
    retryable = False

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class LLMUnavailable(LLMError):
    """The model server did not answer, or answered with server errors until retries ran out."""

    kind = "unavailable"
    retryable = True


class LLMTimeout(LLMUnavailable):
    """The model did not answer within the time budget."""

    kind = "timeout"


class LLMRateLimited(LLMUnavailable):
    """The model server kept answering 429 (rate limited) until retries ran out."""

    kind = "rate_limited"


class LLMQuotaExceeded(LLMError):
    """The account's quota is used up (429 insufficient_quota); retrying will not help."""

    kind = "quota"


class LLMAuthError(LLMError):
    """The API key was refused (401/403); retrying will not help."""

    kind = "auth"


class LLMContextTooLong(LLMError):
    """The prompt did not fit the model's context even after trimming the oldest history."""

    kind = "context_too_long"


class LLMRequestError(LLMError):
    """The server refused the request itself (unknown model, bad parameter)."""

    kind = "request"


class LLMBadResponse(LLMError):
    """The model answered, but with no usable text (empty, refused, or cut off)."""

    kind = "bad_response"


class PromptError(DraftingError):
    """A prompt template is missing or could not be rendered."""


class DraftNotFound(DraftingError):
    """A draft id that was asked for does not exist."""

    def __init__(self, draft_id: int) -> None:
        super().__init__(f"draft {draft_id} does not exist")
        self.draft_id = draft_id


class InvalidOutcome(DraftingError):
    """An outcome that is not one of sent_as_is, edited, regenerated, discarded."""
