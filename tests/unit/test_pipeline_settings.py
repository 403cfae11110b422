"""Pipeline settings reach the workers `serve` runs; wrong values are refused by name."""

from __future__ import annotations

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
