"""`relaydesk draft` as a subprocess: offline with no key, a compatible server, a server down."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests.e2e.test_cli_chat import clean_env, relaydesk
from tests.fakes.openai_server import FakeOpenAI, ok, openai_server, unused_base_url

__all__ = ["openai_server"]

CUSTOMER = "My parcel 4411 never arrived, write to jan@example.com or call +48 600 700 800"


@pytest.fixture
def helpdesk(tmp_path: Path) -> dict[str, str]:
    """An initialised data dir with ticket #1001 opened through the chat."""
    env = clean_env(tmp_path)
    assert relaydesk("init", env=env).returncode == 0
    chat = relaydesk("chat", env=env, stdin=CUSTOMER + "\n")
    assert chat.returncode == 0 and "#1001" in chat.stdout, chat.stdout + chat.stderr
    return env


def test_no_key_gives_a_marked_offline_draft(helpdesk: dict[str, str]) -> None:
    result = relaydesk("draft", "1001", env=helpdesk)
    assert result.returncode == 0, result.stderr
    assert "Offline draft" in result.stdout
    assert "no model is configured" in result.stdout
    assert "Hello local," in result.stdout and "Best regards," in result.stdout
    assert "jan@example.com" not in result.stdout  # the offline draft never echoes the customer

    as_json = relaydesk("draft", "1001", "--tone", "formal", "--json", env=helpdesk)
    assert as_json.returncode == 0, as_json.stderr
    data = json.loads(as_json.stdout)
    assert data["offline"] is True and data["ticket"] == 1001 and data["tone"] == "formal"
    assert data["text"].startswith("Dear local,")
    assert data["notice"].startswith("Offline draft")
    assert set(data) >= {"draft_id", "kind", "cited", "model", "prompt_version", "tokens"}


def test_a_compatible_server_drafts_and_gets_no_personal_data(
    helpdesk: dict[str, str], openai_server: FakeOpenAI
) -> None:
    openai_server.default = ok("Hello, we have asked the courier and will write to [EMAIL_1].")
    env = {
        **helpdesk,
        "OPENAI_BASE_URL": openai_server.base_url,
        "RELAYDESK_LLM_MODEL": "llama3.1",
    }
    result = relaydesk("draft", "1001", "--json", env=env)
    assert result.returncode == 0, result.stderr
    data = json.loads(result.stdout)
    assert data["offline"] is False and data["model"] == "llama3.1"
    assert data["text"] == "Hello, we have asked the courier and will write to jan@example.com."
    assert data["template"] == "reply_draft"
    [request] = openai_server.requests
    assert request.body["model"] == "llama3.1"
    sent = openai_server.request_text()
    assert "jan@example.com" not in sent and "600 700 800" not in sent
    assert "[EMAIL_1]" in sent and "[PHONE_1]" in sent


def test_a_server_that_is_down_falls_back_and_says_why(helpdesk: dict[str, str]) -> None:
    base_url = unused_base_url()
    env = {**helpdesk, "OPENAI_BASE_URL": base_url, "OPENAI_API_KEY": "sk-test"}
    result = relaydesk("draft", "1001", env=env)
    assert result.returncode == 0, result.stderr
    out = " ".join(result.stdout.split())
    assert "Offline draft" in out
    assert f"the model server at {base_url} did not answer" in out
    assert "Traceback" not in result.stderr


def test_bad_input_is_one_line_and_non_zero(helpdesk: dict[str, str]) -> None:
    missing = relaydesk("draft", "4242", env=helpdesk)
    assert missing.returncode == 1
    assert missing.stderr.strip() == "error: ticket #4242 does not exist"
    rude = relaydesk("draft", "1001", "--tone", "rude", env=helpdesk)
    assert rude.returncode == 1
    assert rude.stderr.strip() == (
        "error: unknown tone 'rude': use one of shorter, friendlier, formal"
    )
    language = relaydesk("draft", "1001", "--translate", "not a language", env=helpdesk)
    assert language.returncode == 1 and len(language.stderr.strip().splitlines()) == 1
    assert "Traceback" not in missing.stderr + rude.stderr + language.stderr
