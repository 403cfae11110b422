"""Backoff between send retries: exponential with jitter, capped, for any number of attempts."""

from __future__ import annotations

import pytest

from bots.pipeline.workers import backoff


@pytest.mark.parametrize(
    ("attempt", "low", "high"),
    [(1, 0.5, 1.0), (2, 1.0, 2.0), (5, 8.0, 16.0), (9, 128.0, 256.0), (10, 150.0, 300.0)],
)
def test_backoff_doubles_with_jitter_up_to_the_cap(attempt: int, low: float, high: float) -> None:
    for _ in range(50):
        assert low <= backoff(attempt) <= high


@pytest.mark.parametrize("attempt", [1025, 12_000, 10**9])
def test_backoff_takes_the_attempts_of_a_message_retried_for_days(attempt: int) -> None:
    # 30 days at one try every 5 minutes or less is over 8,000 attempts: 2 ** 8000 is no float
    assert 150.0 <= backoff(attempt) <= 300.0
