"""Peak resident memory of this process while a block runs, sampled from /proc (for bounded-memory tests)."""

from __future__ import annotations

import os
import resource
import threading
import time
from types import TracebackType

from spiders.browser_budget import tree_memory

_PAGE = os.sysconf("SC_PAGE_SIZE")


def rss_bytes() -> int:
    """Current resident set size of this process."""
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * _PAGE


class PeakRss:
    """``with PeakRss() as m: ...`` then ``m.growth``: the highest RSS seen above the RSS at entry, in bytes.

    ``resource.getrusage(RUSAGE_SELF).ru_maxrss`` is the peak of the whole test process, so a block that stays
    under an earlier test's peak would show no growth at all; this samples the current RSS every few milliseconds
    instead (and ``ru_maxrss`` still catches a spike shorter than the interval when it beats the process peak).
    """

    def __init__(self, interval: float = 0.005):
        self.interval = interval
        self.start = 0
        self.peak = 0
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._maxrss_before = 0

    @property
    def growth(self) -> int:
        return max(0, self.peak - self.start)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakRss:
        self._maxrss_before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        self.start = self.peak = rss_bytes()
        self._thread = threading.Thread(target=self._sample, name="peak-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        if maxrss > self._maxrss_before:  # a new process peak was set inside the block
            self.peak = max(self.peak, maxrss)


def tree_rss_bytes(pid: int | None = None) -> int:
    """Proportional set size (PSS) of a process and all its descendants (Chromium under the test), from /proc: the
    measure the crawl's own memory watchdog takes."""
    return tree_memory(pid or os.getpid())


class PeakTreeRss(PeakRss):
    """PeakRss over the whole process tree (the test process and the browsers it started)."""

    def __init__(self, interval: float = 0.05):
        super().__init__(interval)

    def _sample(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss_bytes())
            time.sleep(self.interval)

    def __enter__(self) -> PeakTreeRss:
        self.start = self.peak = tree_rss_bytes()
        self._thread = threading.Thread(target=self._sample, name="peak-tree-rss", daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        assert self._thread is not None
        self._thread.join()
