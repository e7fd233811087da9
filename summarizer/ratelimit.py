"""Client-side rate limits: async token buckets for requests and tokens per minute.

``RateLimiter.acquire(tokens)`` waits until one more request and ``tokens`` more tokens
fit under ``rpm`` / ``tpm``; the token count is an estimate made before the call
(``estimate_tokens``), corrected with the real usage afterwards (``settle``). A bucket
holds at most ``burst_s`` seconds of its rate, so a run starts gently instead of
spending a whole minute's allowance at once; a request bigger than the bucket is let
through when the bucket is full and leaves it in debt.

The extraction loop (``summarizer.asking``) waits for the limiter before each request
it sends, so re-asks and the stages of a staged prompt are counted one by one, and
cache hits (answered before any request) are never slowed down. The sync API goes
through the same loop, so it is limited too.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Sequence
from typing import Any

__all__ = ["RateLimiter", "TokenBucket", "estimate_tokens"]

CHARS_PER_TOKEN = 4.0
MESSAGE_OVERHEAD = 4
DEFAULT_COMPLETION_ESTIMATE = 400


def estimate_tokens(messages: Sequence[dict[str, Any]]) -> int:
    """A cheap prompt-token estimate (~4 characters a token, plus per-message overhead)."""
    chars = sum(len(str(message.get("content") or "")) for message in messages)
    return int(chars / CHARS_PER_TOKEN) + MESSAGE_OVERHEAD * len(messages) + 3


class TokenBucket:
    """``rate`` units a minute, holding at most ``capacity`` (default: ``burst_s`` of rate).
    The rate comes from ``RunOptions`` (``rpm``/``tpm``), which checks it is positive."""

    def __init__(
        self, per_minute: float, *, burst_s: float = 1.0, capacity: float | None = None
    ) -> None:
        self.rate = per_minute / 60.0
        self.capacity = capacity if capacity is not None else max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self._updated = time.monotonic()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self._updated) * self.rate)
        self._updated = now

    def wait_time(self, amount: float) -> float:
        """Seconds until ``amount`` (capped at capacity) is available; 0 if it is now."""
        self._refill()
        needed = min(amount, self.capacity)
        if self.level >= needed:
            return 0.0
        return (needed - self.level) / self.rate

    def take(self, amount: float) -> None:
        self._refill()
        self.level -= amount

    def give_back(self, amount: float) -> None:
        self._refill()
        self.level = min(self.capacity, self.level + amount)


class RateLimiter:
    """Requests per minute and tokens per minute, shared by every worker of a batch."""

    def __init__(
        self, *, rpm: float | None = None, tpm: float | None = None, burst_s: float = 1.0
    ) -> None:
        self.requests = TokenBucket(rpm, burst_s=burst_s) if rpm else None
        self.tokens = TokenBucket(tpm, burst_s=burst_s) if tpm else None
        self._lock = asyncio.Lock()
        self.waited_s = 0.0
        self._completion_mean = float(DEFAULT_COMPLETION_ESTIMATE)
        self._seen = 0

    @property
    def active(self) -> bool:
        return self.requests is not None or self.tokens is not None

    async def acquire(self, tokens: int = 0, *, requests: int = 1) -> None:
        """Wait for ``requests`` request slots and ``tokens`` tokens (first come, first served)."""
        if not self.active:
            return
        async with self._lock:
            while True:
                wait = 0.0
                if self.requests is not None:
                    wait = max(wait, self.requests.wait_time(requests))
                if self.tokens is not None:
                    wait = max(wait, self.tokens.wait_time(tokens))
                if wait <= 0:
                    break
                self.waited_s += wait
                await asyncio.sleep(wait)
            if self.requests is not None:
                self.requests.take(requests)
            if self.tokens is not None:
                self.tokens.take(tokens)

    def estimate(self, body: dict[str, Any]) -> int:
        """Tokens one chat-completions request will likely cost: its prompt, plus the
        completions seen so far (a running mean), capped at its ``max_tokens``."""
        completion = self._completion_mean
        cap = body.get("max_tokens")
        if isinstance(cap, int) and cap > 0:
            completion = min(completion, cap)
        return estimate_tokens(body.get("messages") or []) + int(completion)

    def observe(self, completion_tokens: int) -> None:
        """Learn the completion size from an answer (servers without usage send 0)."""
        if completion_tokens <= 0:
            return
        self._seen += 1
        weight = 1 / min(self._seen, 50)  # running mean, then a slow moving average
        self._completion_mean += (completion_tokens - self._completion_mean) * weight

    def settle(self, estimated: int, actual: int) -> None:
        """Correct the token bucket once the real usage is known."""
        if self.tokens is None or actual == estimated:
            return
        if actual > estimated:
            self.tokens.take(actual - estimated)
        else:
            self.tokens.give_back(estimated - actual)
