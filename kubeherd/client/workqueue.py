"""The controllers' work queue: de-duplicating, rate-limited, with delayed adds.

Semantics follow client-go's workqueue, which every controller's correctness leans on:
- a key added several times before a worker takes it is processed once;
- a key is never processed by two workers at once: added while in flight, it is queued again
  when the worker calls `done`;
- `add_rate_limited` waits per item (exponential, 5 ms doubling to 1000 s) and overall (a token
  bucket of 10/s with a burst of 100), whichever is longer; `forget` resets the item's backoff.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import time
from collections import deque
from collections.abc import Awaitable, Callable

from kubeherd.client.aio import cancel_and_wait


class ItemExponentialLimiter:
    def __init__(self, base: float = 0.005, cap: float = 1000.0) -> None:
        self.base = base
        self.cap = cap
        self.failures: dict[str, int] = {}

    def when(self, item: str) -> float:
        n = self.failures.get(item, 0)
        self.failures[item] = n + 1
        return min(self.base * (2 ** n), self.cap)

    def forget(self, item: str) -> None:
        self.failures.pop(item, None)

    def retries(self, item: str) -> int:
        return self.failures.get(item, 0)


class BucketLimiter:
    """Token bucket: `rate` tokens per second, holding at most `burst`."""

    def __init__(self, rate: float = 10.0, burst: int = 100) -> None:
        self.rate = rate
        self.burst = burst
        self.tokens = float(burst)
        self.last = time.monotonic()

    def when(self, item: str) -> float:
        now = time.monotonic()
        self.tokens = min(self.burst, self.tokens + (now - self.last) * self.rate)
        self.last = now
        self.tokens -= 1
        return 0.0 if self.tokens >= 0 else -self.tokens / self.rate

    def forget(self, item: str) -> None:
        return None


class WorkQueue:
    def __init__(self, name: str = "", limiters: tuple[ItemExponentialLimiter, BucketLimiter] | None = None) -> None:
        self.name = name
        self.item_limiter, self.bucket = limiters or (ItemExponentialLimiter(), BucketLimiter())
        self.queue: deque[str] = deque()
        self.dirty: set[str] = set()
        self.processing: set[str] = set()
        self.added_at: dict[str, float] = {}
        self.waiting: list[tuple[float, int, str]] = []
        self._counter = itertools.count()
        self._ready = asyncio.Event()
        self._timer: asyncio.TimerHandle | None = None
        self.shutting_down = False
        # latency of a key from add to pickup, for the controllers' metrics
        self.latencies: deque[float] = deque(maxlen=10_000)

    def __len__(self) -> int:
        return len(self.queue)

    def add(self, item: str) -> None:
        if self.shutting_down or item in self.dirty:
            return
        self.dirty.add(item)
        self.added_at.setdefault(item, time.monotonic())
        if item in self.processing:
            return
        self.queue.append(item)
        self._ready.set()

    def add_after(self, item: str, delay: float) -> None:
        if self.shutting_down:
            return
        if delay <= 0:
            self.add(item)
            return
        heapq.heappush(self.waiting, (time.monotonic() + delay, next(self._counter), item))
        self._arm()

    def add_rate_limited(self, item: str) -> None:
        self.add_after(item, max(self.item_limiter.when(item), self.bucket.when(item)))

    def forget(self, item: str) -> None:
        self.item_limiter.forget(item)

    def retries(self, item: str) -> int:
        return self.item_limiter.retries(item)

    def _arm(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        if self.waiting:
            delay = max(0.0, self.waiting[0][0] - time.monotonic())
            self._timer = asyncio.get_running_loop().call_later(delay, self._release)

    def _release(self) -> None:
        self._timer = None
        now = time.monotonic()
        while self.waiting and self.waiting[0][0] <= now:
            _, _, item = heapq.heappop(self.waiting)
            self.add(item)
        self._arm()

    async def get(self) -> str | None:
        """The next key to work on, or None once the queue is shut down."""
        while not self.queue:
            if self.shutting_down:
                return None
            self._ready.clear()
            await self._ready.wait()
        item = self.queue.popleft()
        self.dirty.discard(item)
        self.processing.add(item)
        started = self.added_at.pop(item, None)
        if started is not None:
            self.latencies.append(time.monotonic() - started)
        return item

    def done(self, item: str) -> None:
        self.processing.discard(item)
        if item in self.dirty:
            self.queue.append(item)
            self._ready.set()

    def shutdown(self) -> None:
        self.shutting_down = True
        if self._timer is not None:
            self._timer.cancel()
        self._ready.set()


async def run_workers(queue: WorkQueue, sync: Callable[[str], Awaitable[None]], workers: int,
                      on_error: Callable[[str, BaseException], None] | None = None) -> None:
    """Run `workers` loops that take keys and call `sync`; failures are retried rate-limited."""

    async def worker() -> None:
        while True:
            key = await queue.get()
            if key is None:
                return
            try:
                await sync(key)
                queue.forget(key)
            except asyncio.CancelledError:
                raise
            except Exception as exc:
                if on_error is not None:
                    on_error(key, exc)
                queue.add_rate_limited(key)
            finally:
                queue.done(key)

    tasks = [asyncio.ensure_future(worker()) for _ in range(workers)]
    try:
        await asyncio.gather(*tasks)
    finally:
        await cancel_and_wait(tasks)
