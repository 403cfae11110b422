"""Send pacing: a minimum interval per chat and an even spacing per channel.

The channel-wide limit is a token bucket that holds at most one token: sends are spaced
`1 / per_second` apart and never burst. A bucket as deep as the rate would, after a quiet
spell, let a whole second's worth out at once and then keep sending at the full rate: twice
the limit within one second, which platforms answer with 429s of our own making."""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable

from bots.pipeline.channel import Pacing


class Pacer:
    """Waits just long enough to keep one channel within its platform limits (per process)."""

    def __init__(self, pacing: Pacing, *, clock: Callable[[], float] = time.monotonic) -> None:
        self.pacing = pacing
        self._clock = clock
        self._last_by_chat: dict[str, float] = {}
        self._tokens = 1.0
        self._updated = clock()
        self._lock = asyncio.Lock()

    def _chat_delay(self, chat_key: str, now: float) -> float:
        last = self._last_by_chat.get(chat_key)
        if last is None or self.pacing.per_chat_interval <= 0:
            return 0.0
        return max(0.0, last + self.pacing.per_chat_interval - now)

    def _bucket_delay(self, now: float) -> float:
        rate = self.pacing.per_second
        if rate <= 0:
            return 0.0
        self._tokens = min(1.0, self._tokens + (now - self._updated) * rate)
        self._updated = now
        if self._tokens >= 1.0:
            return 0.0
        return (1.0 - self._tokens) / rate

    async def acquire(self, chat_key: str) -> None:
        """Return when a message to `chat_key` may be sent, and count it as sent."""
        while True:
            async with self._lock:
                now = self._clock()
                delay = max(self._chat_delay(chat_key, now), self._bucket_delay(now))
                if delay <= 0:
                    if self.pacing.per_second > 0:
                        self._tokens -= 1.0
                    self._last_by_chat[chat_key] = now
                    if len(self._last_by_chat) > 50_000:
                        self._forget_idle(now)
                    return
            await asyncio.sleep(delay)

    def hold(self, chat_key: str, seconds: float) -> None:
        """After a 429, keep this chat quiet for `seconds`."""
        now = self._clock()
        self._last_by_chat[chat_key] = now + seconds - self.pacing.per_chat_interval

    def _forget_idle(self, now: float) -> None:
        horizon = max(self.pacing.per_chat_interval, 1.0) * 2
        for key, last in list(self._last_by_chat.items()):
            if now - last > horizon:
                del self._last_by_chat[key]
