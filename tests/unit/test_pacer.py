"""Send pacing: per-chat spacing and a channel-wide rate that never bursts (a fake clock)."""

from __future__ import annotations

import asyncio
import itertools

import pytest

from bots.pipeline import ratelimit
from bots.pipeline.channel import Pacing
from bots.pipeline.ratelimit import Pacer


class FakeTime:
    def __init__(self) -> None:
        self.now = 1000.0

    def clock(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        # A real clock always moves on; adding a float rounding error to 1000.0 might not.
        self.now += max(seconds, 1e-9)


@pytest.fixture
def fake_time(monkeypatch: pytest.MonkeyPatch) -> FakeTime:
    fake = FakeTime()
    monkeypatch.setattr(ratelimit.asyncio, "sleep", fake.sleep)
    return fake


def send_times(pacer: Pacer, fake: FakeTime, chats: list[str]) -> list[float]:
    async def go() -> list[float]:
        times = []
        for chat in chats:
            await pacer.acquire(chat)
            times.append(fake.now)
        return times

    return asyncio.run(go())


def most_in_one_second(times: list[float]) -> int:
    return max(sum(1 for t in times if start <= t < start + 1.0) for start in times)


def test_after_a_quiet_spell_the_channel_does_not_burst(fake_time: FakeTime) -> None:
    pacer = Pacer(Pacing(per_chat_interval=1.0, per_second=30), clock=fake_time.clock)
    fake_time.now += 3600  # idle for an hour: a deep bucket would now be full
    times = send_times(pacer, fake_time, [f"chat-{i}" for i in range(90)])
    assert most_in_one_second(times) == 30
    gaps = [b - a for a, b in itertools.pairwise(times)]
    assert min(gaps) == pytest.approx(1 / 30)


def test_one_chat_waits_its_interval(fake_time: FakeTime) -> None:
    pacer = Pacer(Pacing(per_chat_interval=1.0, per_second=30), clock=fake_time.clock)
    times = send_times(pacer, fake_time, ["a", "b", "a", "a"])
    a_times = [times[0], times[2], times[3]]
    assert [round(b - a, 6) for a, b in itertools.pairwise(a_times)] == [1.0, 1.0]
    assert times[1] - times[0] == pytest.approx(1 / 30)


def test_hold_keeps_a_chat_quiet_after_a_429(fake_time: FakeTime) -> None:
    pacer = Pacer(Pacing(per_chat_interval=1.0), clock=fake_time.clock)
    start = fake_time.now
    send_times(pacer, fake_time, ["a"])
    pacer.hold("a", 7.0)
    times = send_times(pacer, fake_time, ["a", "b"])
    assert times[0] == pytest.approx(start + 7.0)
    assert times[1] == times[0]  # another chat of an unlimited channel is not held


def test_unlimited_channel_never_waits(fake_time: FakeTime) -> None:
    pacer = Pacer(Pacing(), clock=fake_time.clock)
    start = fake_time.now
    times = send_times(pacer, fake_time, ["a", "a", "b"] * 10)
    assert times[-1] == start
