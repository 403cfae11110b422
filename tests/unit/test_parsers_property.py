"""Property-based: any payload, real platform shapes with random damage included, reaches the
pipeline as a neutral message, None (ignored, with a log line), `MalformedPayload` (kept as
failed, never retried) or the adapter's own "retry later" error; nothing else escapes."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from bots.messages import InboundMessage
from bots.pipeline.workers import MalformedPayload, safe_parse
from bots.slack.parse import parse as parse_slack
from bots.telegram.parse import ParseOptions, UnknownBotIdentity, parse_update
from tests.conftest import FIXTURES, requires_shared

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=12), children, max_size=4)
    ),
    max_leaves=12,
)


def _load(folder: Path) -> list[dict[str, Any]]:
    payloads = []
    for path in sorted(folder.rglob("*.json")):
        if path.name == "MANIFEST.json":
            continue
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            continue
        if isinstance(data, dict):
            payloads.append(data)
    return payloads


TELEGRAM = FIXTURES / "telegram" / "nutgram" / "updates"
SLACK = FIXTURES / "slack" / "bolt_python"
TELEGRAM_UPDATES = _load(TELEGRAM) if TELEGRAM.exists() else [{"update_id": 1}]
SLACK_BODIES = _load(SLACK) if SLACK.exists() else [{"type": "event_callback"}]


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> list[tuple[Any, ...]]:
    out = [prefix] if prefix else []
    if isinstance(value, dict):
        for key, child in value.items():
            out += _paths(child, (*prefix, key))
    elif isinstance(value, list):
        for index, child in enumerate(value):
            out += _paths(child, (*prefix, index))
    return out


def _damage(payload: dict[str, Any], data: st.DataObject) -> dict[str, Any]:
    damaged = copy.deepcopy(payload)
    paths = _paths(damaged)
    for _ in range(data.draw(st.integers(1, 3))):
        if not paths:
            break
        path = data.draw(st.sampled_from(paths))
        parent: Any = damaged
        for step in path[:-1]:
            parent = parent[step]
        if data.draw(st.booleans()) and isinstance(parent, dict):
            parent.pop(path[-1], None)
        else:
            try:
                parent[path[-1]] = data.draw(JSON)
            except (IndexError, KeyError, TypeError):
                continue
        paths = _paths(damaged)
    return damaged


@dataclass
class ParserChannel:
    """Just the parsing face of a channel, around the adapter's real parser."""

    name: str
    parse: Callable[[dict[str, Any]], InboundMessage | None]


TELEGRAM_CHANNELS = [
    ParserChannel("telegram", lambda p, o=options: parse_update(p, o))
    for options in (ParseOptions(), ParseOptions(groups=True))
]
SLACK_CHANNEL = ParserChannel("slack", parse_slack)


def _ok(channel: ParserChannel, payload: Any) -> None:
    try:
        result = safe_parse(channel, payload)  # type: ignore[arg-type]
    except (MalformedPayload, UnknownBotIdentity):
        return
    assert result is None or isinstance(result, InboundMessage)


def _telegram_ok(payload: Any) -> None:
    for channel in TELEGRAM_CHANNELS:
        _ok(channel, payload)


def _slack_ok(payload: Any) -> None:
    _ok(SLACK_CHANNEL, payload)


@requires_shared(TELEGRAM)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_telegram_parser_survives_damaged_real_updates(data: st.DataObject) -> None:
    payload = data.draw(st.sampled_from(TELEGRAM_UPDATES))
    _telegram_ok(_damage(payload, data))


@settings(max_examples=80, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_telegram_parser_survives_arbitrary_objects(payload: dict[str, Any]) -> None:
    _telegram_ok(payload)
    _telegram_ok({"update_id": 7, **payload})


@requires_shared(SLACK)
@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_slack_parser_survives_damaged_real_bodies(data: st.DataObject) -> None:
    payload = data.draw(st.sampled_from(SLACK_BODIES))
    _slack_ok(_damage(payload, data))


@settings(max_examples=80, deadline=None)
@given(payload=st.dictionaries(st.text(max_size=12), JSON, max_size=6))
def test_slack_parser_survives_arbitrary_objects(payload: dict[str, Any]) -> None:
    _slack_ok(payload)
    _slack_ok({"type": "event_callback", "event_id": "Ev1", **payload})
    _slack_ok({"type": "block_actions", **payload})
