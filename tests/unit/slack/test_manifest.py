"""The app manifest asks for exactly what the adapter uses: scopes, events, one endpoint."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[3]
MANIFEST = ROOT / "slack-app-manifest.yaml"
ADAPTER = [ROOT / "bots" / "slack" / name for name in ("channel.py", "directory.py")]

# Web API methods (slack_sdk method names) -> the bot scope each needs.
SCOPE_OF = {
    "chat_postMessage": "chat:write",
    "chat_update": "chat:write",
    "chat_delete": "chat:write",  # a bot deletes its own messages with chat:write
    "chat_postEphemeral": "chat:write",
    "reactions_add": "reactions:write",
    "files_upload_v2": "files:write",
    "files_info": "files:read",
    "usergroups_users_list": "usergroups:read",
    "views_open": None,  # needs only a trigger_id
}
EVENT_SCOPES = {
    "message.im": "im:history",
    "message.channels": "channels:history",
    "message.groups": "groups:history",
}


def manifest() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load(MANIFEST.read_text(encoding="utf-8"))
    return data


def methods_called() -> set[str]:
    source = "\n".join(path.read_text(encoding="utf-8") for path in ADAPTER)
    return set(re.findall(r"self\.client\.([a-z_A-Z0-9]+)\(", source))


def test_every_called_method_is_known_to_this_test() -> None:
    assert methods_called() <= set(SCOPE_OF), methods_called() - set(SCOPE_OF)


def test_scopes_are_exactly_the_ones_needed() -> None:
    data = manifest()
    needed = {SCOPE_OF[m] for m in methods_called()} - {None}
    needed |= {EVENT_SCOPES[e] for e in data["settings"]["event_subscriptions"]["bot_events"]}
    needed.add("commands")
    assert set(data["oauth_config"]["scopes"]["bot"]) == needed


def test_one_endpoint_for_events_interactivity_and_the_command() -> None:
    data = manifest()
    settings = data["settings"]
    urls = {
        settings["event_subscriptions"]["request_url"],
        settings["interactivity"]["request_url"],
        *(c["url"] for c in data["features"]["slash_commands"]),
    }
    assert len(urls) == 1 and urls.pop().endswith("/slack/events")
    assert settings["interactivity"]["is_enabled"] is True
    assert [c["command"] for c in data["features"]["slash_commands"]] == ["/relaydesk"]
    assert set(settings["event_subscriptions"]["bot_events"]) == set(EVENT_SCOPES)
    assert data["features"]["app_home"]["messages_tab_enabled"] is True  # customers can DM
