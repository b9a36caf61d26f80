"""The memory watchdog's escalation against a real process tree: open pages are closed first, and the browser is
closed when that is not enough. The "browser" is a process holding memory that closing pages does not free."""

from __future__ import annotations

import asyncio
import subprocess
import sys

from monitor.errors import BrowserMemoryExceeded, ErrorKind
from spiders.browser_budget import CrawlBudget, MemoryWatchdog, PageMeter, tree_memory

MIB = 1 << 20
HOG = "import sys, time; block = bytearray(300 * 1024 * 1024); block[::4096] = b'x' * len(block[::4096]); " \
      "print('ready', flush=True); time.sleep(60)"  # fmt: skip


class _Session:
    def __init__(self, pid: int):
        self.pid = pid

    async def send(self, method, params=None):
        assert method == "SystemInfo.getProcessInfo"
        return {"processInfo": [{"type": "renderer", "id": 1}, {"type": "browser", "id": self.pid}]}

    async def detach(self):
        pass


class _Browser:
    """What the watchdog uses of a Playwright Browser, over a real process."""

    def __init__(self, process: subprocess.Popen):
        self.process = process
        self.closed = False

    async def new_browser_cdp_session(self):
        return _Session(self.process.pid)

    async def close(self):
        self.closed = True
        self.process.kill()


class _Page:
    def __init__(self):
        self.closed = False

    def on(self, event, handler):
        pass

    async def close(self):
        self.closed = True


def test_over_budget_the_watchdog_closes_the_pages_then_the_browser():
    process = subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        assert tree_memory(process.pid) > 280 * MIB  # the hog's pages are resident
        browser, pages = _Browser(process), CrawlBudget(0)
        page = _Page()
        meter = PageMeter(page, 0, pages)
        pages.meters.add(meter)
        watchdog = MemoryWatchdog(200 * MIB, 0.05, lambda: browser, pages)

        async def run() -> None:
            watchdog.start()
            for _ in range(1200):  # up to a minute on a loaded machine
                if browser.closed:
                    break
                await asyncio.sleep(0.05)
            await watchdog.stop()

        asyncio.run(run())
    finally:
        process.kill()
        process.wait()
    assert page.closed and meter.kind is ErrorKind.BROWSER_MEMORY
    assert isinstance(meter.error(), BrowserMemoryExceeded) and "over the budget" in meter.exceeded
    assert (watchdog.pages_closed, watchdog.restarts, browser.closed) == (1, 1, True)
    assert watchdog.peak > 200 * MIB


def test_under_budget_the_watchdog_leaves_pages_alone():
    process = subprocess.Popen([sys.executable, "-c", HOG], stdout=subprocess.PIPE, text=True)
    try:
        assert process.stdout.readline().strip() == "ready"
        browser, pages, page = _Browser(process), CrawlBudget(0), _Page()
        pages.meters.add(PageMeter(page, 0, pages))
        watchdog = MemoryWatchdog(1024 * MIB, 0.05, lambda: browser, pages)

        async def run() -> None:
            watchdog.start()
            while watchdog.peak == 0:
                await asyncio.sleep(0.05)
            await asyncio.sleep(0.3)
            await watchdog.stop()

        asyncio.run(asyncio.wait_for(run(), 60))
    finally:
        process.kill()
        process.wait()
    assert not page.closed and not browser.closed and watchdog.pages_closed == 0
