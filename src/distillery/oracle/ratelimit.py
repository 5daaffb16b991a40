"""A small asyncio token bucket for requests-per-minute and tokens-per-minute limits.

Only this was written by hand: the in-flight bound is an ``asyncio.Semaphore``-like worker
pool and retries with ``Retry-After`` come from the openai SDK. Provider limits are per
minute but enforced over shorter windows, so the bucket holds ``burst_s`` seconds' worth of
capacity (default 2 s) rather than a whole minute's.
"""

from __future__ import annotations

import asyncio
import time


class TokenBucket:
    """Continuous-refill bucket; ``await take(n)`` waits until ``n`` (capped at capacity) fits.

    A request bigger than the capacity is let through when the bucket is full and leaves it in
    debt, so huge requests are slowed, never deadlocked. ``give_back`` refunds an overestimate.
    """

    def __init__(self, per_minute: float, burst_s: float = 2.0):
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate * burst_s)
        self.level = self.capacity
        self.stamp = time.monotonic()
        self._lock = asyncio.Lock()

    def _refill(self) -> None:
        now = time.monotonic()
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    async def take(self, n: float = 1.0) -> float:
        """Take ``n``; returns the seconds waited."""
        waited = 0.0
        async with self._lock:  # FIFO: one waiter at a time refills and takes
            need = min(n, self.capacity)
            while True:
                self._refill()
                if self.level >= need:
                    self.level -= n
                    return waited
                delay = (need - self.level) / self.rate
                waited += delay
                await asyncio.sleep(delay)

    def give_back(self, n: float) -> None:
        """Refund ``n`` (negative: charge more than was taken)."""
        self._refill()
        self.level = min(self.capacity, self.level + n)


class RateLimiter:
    """Requests and tokens per minute (either may be None = unlimited)."""

    def __init__(self, requests_per_minute: float | None, tokens_per_minute: float | None, burst_s: float = 2.0):
        self.requests = TokenBucket(requests_per_minute, burst_s) if requests_per_minute else None
        self.tokens = TokenBucket(tokens_per_minute, burst_s) if tokens_per_minute else None
        self.waited_s = 0.0

    async def acquire(self, est_tokens: int) -> None:
        if self.requests:
            self.waited_s += await self.requests.take(1)
        if self.tokens:
            self.waited_s += await self.tokens.take(est_tokens)

    def settle(self, est_tokens: int, actual_tokens: int) -> None:
        """Correct the estimate taken in :meth:`acquire` by what the response says it used."""
        if self.tokens and actual_tokens != est_tokens:
            self.tokens.give_back(est_tokens - actual_tokens)
