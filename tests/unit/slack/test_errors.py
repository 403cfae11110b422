"""Slack's answers become the pipeline's send errors: retried, waited for, or recorded."""

from __future__ import annotations

from typing import Any

import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_slack_response import AsyncSlackResponse

from bots.pipeline.channel import PermanentSendError, TransientSendError
from bots.slack.channel import _translate


def error(
    data: dict[str, Any], status: int = 200, headers: dict[str, Any] | None = None
) -> SlackApiError:
    response = AsyncSlackResponse(
        client=None,  # type: ignore[arg-type]
        http_verb="POST",
        api_url="http://127.0.0.1/api/chat.postMessage",
        req_args={},
        data=data,
        headers=headers or {},
        status_code=status,
    )
    return SlackApiError("failed", response)


@pytest.mark.parametrize(
    "code", ["channel_not_found", "not_in_channel", "is_archived", "invalid_blocks"]
)
def test_refusals_are_permanent_and_keep_slacks_reason(code: str) -> None:
    translated = _translate(error({"ok": False, "error": code}))
    assert isinstance(translated, PermanentSendError)
    assert translated.reason == code


@pytest.mark.parametrize("code", ["invalid_auth", "not_authed", "token_revoked"])
def test_a_rejected_token_is_retried_until_an_admin_fixes_it(code: str) -> None:
    """As with Telegram's rejected token: what waits is sent once the token is right."""
    translated = _translate(error({"ok": False, "error": code}))
    assert isinstance(translated, TransientSendError) and not translated.permanent
    assert code in translated.reason and "SLACK_BOT_TOKEN" in translated.reason


@pytest.mark.parametrize("status", [200, 502])
def test_an_answer_without_slacks_error_is_retried(status: int) -> None:
    """A body that is not Slack's JSON (a proxy's page) names no refusal."""
    translated = _translate(error({}, status))
    assert isinstance(translated, TransientSendError) and not translated.permanent


def test_429_waits_for_retry_after() -> None:
    translated = _translate(error({"ok": False, "error": "ratelimited"}, 429, {"Retry-After": "7"}))
    assert isinstance(translated, TransientSendError)
    assert translated.retry_after == 7.0


@pytest.mark.parametrize(
    "status, code", [(503, "service_unavailable"), (500, ""), (200, "internal_error")]
)
def test_server_trouble_is_retried(status: int, code: str) -> None:
    translated = _translate(error({"ok": False, "error": code}, status))
    assert isinstance(translated, TransientSendError) and not translated.permanent
    assert translated.retry_after is None


def test_already_reacted_is_neither_retried_nor_recorded() -> None:
    translated = _translate(error({"ok": False, "error": "already_reacted"}))
    assert not isinstance(translated, (PermanentSendError, TransientSendError))
