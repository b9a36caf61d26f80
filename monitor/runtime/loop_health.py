"""Event-loop health: a task that sleeps and measures how late it woke, i.e. how long the loop was blocked."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import time
from collections import deque

from monitor import metrics

INTERVAL_SECONDS = 0.5
WINDOW_SECONDS = 60.0

_tasks: set[asyncio.Task] = set()  # the loop keeps only weak references to tasks


class LagMonitor:
    """Feeds scrapewatch_event_loop_lag_seconds and the max over the last ``window`` seconds."""

    def __init__(self, interval: float = INTERVAL_SECONDS, window: float = WINDOW_SECONDS):
        self.interval, self.window = interval, window
        self._recent: deque[tuple[float, float]] = deque()  # (monotonic time, lag)

    def observe(self, lag: float, now: float) -> None:
        metrics.EVENT_LOOP_LAG.observe(lag)
        self._recent.append((now, lag))
        while self._recent and self._recent[0][0] < now - self.window:
            self._recent.popleft()
        metrics.EVENT_LOOP_LAG_MAX.set(self.max_lag)

    @property
    def max_lag(self) -> float:
        return max((lag for _, lag in self._recent), default=0.0)

    async def run(self, until: asyncio.Event) -> None:
        """Tick until ``until`` is set (returning at once then, not after the current sleep)."""
        loop = asyncio.get_running_loop()
        while not until.is_set():
            asked = loop.time() + self.interval
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(until.wait(), self.interval)
                return
            self.observe(max(0.0, loop.time() - asked), time.monotonic())


def start(until: asyncio.Event, monitor: LagMonitor | None = None) -> asyncio.Task:
    """Run a LagMonitor on the current loop until ``until`` is set, after freezing the start-up heap.

    A full garbage collection stops every thread, the loop's too, for as long as it takes to scan every tracked
    object; the daemon's imports (Scrapy, Twisted, Playwright) alone make that a few hundred milliseconds on a
    busy host. Frozen objects are never scanned again, so what the daemon keeps from start-up costs nothing.
    """
    gc.collect()
    gc.freeze()
    task = asyncio.get_running_loop().create_task((monitor or LagMonitor()).run(until), name="event-loop-lag")
    _tasks.add(task)
    task.add_done_callback(_tasks.discard)
    return task
