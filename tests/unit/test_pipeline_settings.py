"""Pipeline settings reach the workers `serve` runs; wrong values are refused by name."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from pydantic import ValidationError

from bots.app import build
from bots.settings import Settings


def test_outbox_concurrency_reaches_the_outbox_worker(tmp_path: Path) -> None:
    default = build(Settings(RELAYDESK_DATA_DIR=tmp_path), knowledge=False)
    assert default.workers()[1].concurrency == 16
    strict = build(
        Settings(RELAYDESK_DATA_DIR=tmp_path, RELAYDESK_OUTBOX_CONCURRENCY="1"), knowledge=False
    )
    assert strict.workers()[1].concurrency == 1


@pytest.mark.parametrize("wrong", ["0", "65", "many"])
def test_a_wrong_outbox_concurrency_is_refused(tmp_path: Path, wrong: str) -> None:
    with pytest.raises(ValidationError, match="RELAYDESK_OUTBOX_CONCURRENCY"):
        Settings(RELAYDESK_DATA_DIR=tmp_path, RELAYDESK_OUTBOX_CONCURRENCY=wrong)


def test_send_retry_hours_reach_the_outbox_worker(tmp_path: Path) -> None:
    default = build(Settings(RELAYDESK_DATA_DIR=tmp_path), knowledge=False)
    assert default.workers()[1].retry_window == timedelta(hours=24)
    short = build(
        Settings(RELAYDESK_DATA_DIR=tmp_path, RELAYDESK_SEND_RETRY_HOURS="0.5"), knowledge=False
    )
    assert short.workers()[1].retry_window == timedelta(minutes=30)


@pytest.mark.parametrize(
    ("wrong", "why"),
    [
        ("0", "Input should be greater than 0"),
        ("-1", "Input should be greater than 0"),
        ("721", "Input should be less than or equal to 720"),
        ("inf", "Input should be a finite number"),
        ("a day", "Input should be a valid number, unable to parse string as a number"),
    ],
)
def test_a_wrong_send_retry_hours_is_refused_by_name(tmp_path: Path, wrong: str, why: str) -> None:
    with pytest.raises(ValidationError) as caught:
        Settings(RELAYDESK_DATA_DIR=tmp_path, RELAYDESK_SEND_RETRY_HOURS=wrong)
    first = caught.value.errors()[0]
    assert (first["loc"], first["msg"]) == (("RELAYDESK_SEND_RETRY_HOURS",), why)


def test_max_send_attempts_is_no_longer_a_setting_and_says_what_replaced_it(
    tmp_path: Path,
) -> None:
    # any value is accepted (it used to be refused below 1) and only named as unused
    settings = Settings(RELAYDESK_DATA_DIR=tmp_path, RELAYDESK_MAX_SEND_ATTEMPTS="0")
    assert settings.retired_variables() == [
        "RELAYDESK_MAX_SEND_ATTEMPTS is no longer used: a message that cannot be sent yet is "
        "retried for RELAYDESK_SEND_RETRY_HOURS (24 h), not a number of attempts"
    ]
    outbox = build(settings, knowledge=False).workers()[1]
    assert not hasattr(outbox, "max_attempts")
    assert outbox.retry_window == timedelta(hours=24)
    assert Settings(RELAYDESK_DATA_DIR=tmp_path).retired_variables() == []
