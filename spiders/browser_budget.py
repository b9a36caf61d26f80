"""What a rendered crawl may spend: bytes per page and per crawl (CDP Network events), and the memory of its
Chromium process tree (a watchdog reading /proc that closes pages, then restarts the browser, over budget)."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
from collections.abc import Callable
from typing import Any

from monitor.errors import BrowserMemoryExceeded, CrawlBudgetExceeded, ErrorKind, PageTooLarge

logger = logging.getLogger(__name__)

# Scrapy settings (filled from watch.max_page_bytes / max_crawl_bytes / browser_memory_bytes); 0 turns one off.
MAX_PAGE_BYTES_SETTING = "SCRAPEWATCH_MAX_PAGE_BYTES"
MAX_CRAWL_BYTES_SETTING = "SCRAPEWATCH_MAX_CRAWL_BYTES"
BROWSER_MEMORY_SETTING = "SCRAPEWATCH_BROWSER_MEMORY_BYTES"
MEMORY_INTERVAL_SETTING = "SCRAPEWATCH_BROWSER_MEMORY_INTERVAL"
DEFAULT_MAX_PAGE_BYTES = 64 * 1024 * 1024
DEFAULT_MAX_CRAWL_BYTES = 256 * 1024 * 1024
DEFAULT_BROWSER_MEMORY_BYTES = 2 * 1024 * 1024 * 1024
DEFAULT_MEMORY_INTERVAL = 1.0
METER_META = "scrapewatch_page_meter"

BUDGET_KINDS = frozenset({ErrorKind.TOO_LARGE, ErrorKind.CRAWL_BUDGET, ErrorKind.BROWSER_MEMORY})
_ERRORS = {
    ErrorKind.TOO_LARGE: PageTooLarge,
    ErrorKind.CRAWL_BUDGET: CrawlBudgetExceeded,
    ErrorKind.BROWSER_MEMORY: BrowserMemoryExceeded,
}


class CrawlBudget:
    """The bytes every page of one rendered crawl received together, and the pages open now (for the watchdog)."""

    def __init__(self, cap: int):
        self.cap = cap
        self.received = 0
        self.spent: str | None = None  # why no further page is rendered
        self.meters: set[PageMeter] = set()

    def add(self, count: int) -> bool:
        """Count ``count`` bytes; True once the crawl is past its cap."""
        self.received += count
        if self.spent is None and self.cap > 0 and self.received > self.cap:
            self.spent = (
                f"crawl byte cap reached: the crawl's rendered pages received more than {self.cap} bytes together; "
                "further pages of this crawl are not rendered"
            )
        return self.spent is not None

    def refuse(self) -> None:
        """Raise :class:`CrawlBudgetExceeded` when the crawl may render no further page."""
        if self.spent is not None:
            raise CrawlBudgetExceeded(self.spent)


class PageMeter:
    """Counts the bytes one page receives (CDP Network events) and closes the page past its own cap or the crawl's.

    Closing ends the renderer and its memory; the request then fails (:meth:`error` in the handler) or the callback
    finds ``exceeded`` set. Out-of-process (cross-site) frames and workers are separate CDP targets: the page's
    session auto-attaches to them (:class:`_Target`), so their bytes count too (shared workers excepted).
    """

    def __init__(self, page: Any, cap: int, budget: CrawlBudget | None = None):
        self._page = page
        self.cap = cap
        self.budget = budget or CrawlBudget(0)
        self.wire = 0
        self.decoded = 0
        self.kind = ErrorKind.TOO_LARGE
        self.exceeded: str | None = None
        self._closing: asyncio.Future[None] | None = None

    @classmethod
    async def install(cls, page: Any, session: Any, cap: int, budget: CrawlBudget | None = None) -> PageMeter:
        meter = cls(page, cap, budget)
        meter.budget.meters.add(meter)
        page.on("close", lambda *_: meter.budget.meters.discard(meter))
        session.on("Network.dataReceived", meter._data)
        await session.send("Network.enable")
        await _Target(meter, _root_sender(session)).attach_children(session)
        return meter

    def _data(self, event: dict[str, Any]) -> None:
        wire, decoded = int(event.get("encodedDataLength") or 0), int(event.get("dataLength") or 0)
        self.wire += wire
        self.decoded += decoded
        crawl_spent = self.budget.add(max(wire, decoded))
        if self.exceeded is not None:
            return
        if self.cap > 0 and max(self.wire, self.decoded) > self.cap:
            self.stop(
                ErrorKind.TOO_LARGE,
                f"page too large: it received more than {self.cap} bytes "
                f"({self.wire} on the wire, {self.decoded} decoded); the page was closed",
            )
        elif crawl_spent:
            self.stop(
                ErrorKind.CRAWL_BUDGET,
                f"crawl byte cap reached: the crawl's rendered pages received more than {self.budget.cap} bytes "
                f"together ({max(self.wire, self.decoded)} of them this page's); the page was closed",
            )

    def stop(self, kind: ErrorKind, reason: str) -> None:
        """Close the page for ``reason`` (recorded with error kind ``kind``); the first reason wins."""
        if self.exceeded is not None:
            return
        self.kind, self.exceeded = kind, reason
        self._closing = asyncio.ensure_future(self._close())  # held: the loop keeps only weak references

    def error(self) -> Exception | None:
        """The exception a request whose page was stopped fails with, else None."""
        return _ERRORS[self.kind](self.exceeded) if self.exceeded else None

    async def _close(self) -> None:
        with contextlib.suppress(Exception):
            await self._page.close()


def _root_sender(session: Any) -> Callable[[str, dict[str, Any]], None]:
    pending: set[asyncio.Future[Any]] = set()

    def send(method: str, params: dict[str, Any]) -> None:
        task = asyncio.ensure_future(session.send(method, params))
        pending.add(task)  # held: the loop keeps only weak references
        task.add_done_callback(_forget(pending))

    return send


def _forget(pending: set[asyncio.Future[Any]]) -> Callable[[asyncio.Future[Any]], None]:
    def done(task: asyncio.Future[Any]) -> None:
        pending.discard(task)
        if not task.cancelled():
            task.exception()  # a target that went away: nothing to count any more

    return done


class _Target:
    """One CDP target of a page (the page itself, a cross-site frame, a worker) whose child targets are attached,
    recursively, so that their ``Network.dataReceived`` events reach the page's meter.

    Playwright's CDP sessions deliver no events of flattened child sessions, so children are attached in the
    non-flat mode: commands go to them in ``Target.sendMessageToTarget``, their events come back wrapped in
    ``Target.receivedMessageFromTarget``. A new target waits until its Network domain is enabled (a cross-site
    frame's document would otherwise be half counted); Chromium starts it only once every client that asked it to
    wait released it, so Playwright's own routing (and the egress check) is still in place first.
    """

    def __init__(self, meter: PageMeter, send: Callable[[str, dict[str, Any]], None]):
        self._meter = meter
        self._send = send
        self._children: dict[str, _Target] = {}
        self._next_id = 0

    async def attach_children(self, session: Any) -> None:
        """For the page's own session: listen to its child-target events and start attaching."""
        for method in ("Target.attachedToTarget", "Target.detachedFromTarget", "Target.receivedMessageFromTarget"):
            session.on(method, lambda params, method=method: self.event(method, params))
        await session.send("Target.setAutoAttach", _AUTO_ATTACH)

    def _child_sender(self, session_id: str) -> Callable[[str, dict[str, Any]], None]:
        def send(method: str, params: dict[str, Any]) -> None:
            self._next_id += 1
            message = json.dumps({"id": self._next_id, "method": method, "params": params})
            self._send("Target.sendMessageToTarget", {"sessionId": session_id, "message": message})

        return send

    def event(self, method: str, params: dict[str, Any]) -> None:
        if method == "Network.dataReceived":
            self._meter._data(params)
        elif method == "Target.attachedToTarget":
            child = _Target(self._meter, self._child_sender(params["sessionId"]))
            self._children[params["sessionId"]] = child
            child._send("Network.enable", {})
            child._send("Target.setAutoAttach", _AUTO_ATTACH)  # its own frames and workers
            child._send("Runtime.runIfWaitingForDebugger", {})
        elif method == "Target.detachedFromTarget":
            self._children.pop(params.get("sessionId", ""), None)
        elif method == "Target.receivedMessageFromTarget":
            child = self._children.get(params.get("sessionId", ""))
            with contextlib.suppress(ValueError, TypeError):
                message = json.loads(params.get("message") or "")
                if child is not None and "method" in message:
                    child.event(message["method"], message.get("params") or {})


_AUTO_ATTACH = {"autoAttach": True, "waitForDebuggerOnStart": True, "flatten": False}


def process_children() -> dict[int, list[int]]:
    """Every process's children, by parent pid, from /proc (a snapshot: processes come and go)."""
    children: dict[int, list[int]] = {}
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                with open(f"/proc/{entry}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            children.setdefault(ppid, []).append(int(entry))
    return children


def process_tree(root: int) -> list[int]:
    """``root`` and its descendants."""
    children, out, todo = process_children(), [], [root]
    while todo:
        pid = todo.pop()
        out.append(pid)
        todo.extend(children.get(pid, []))
    return out


def tree_memory(root: int) -> int:
    """Bytes of memory a process and its descendants hold (PSS from /proc: Chromium's processes share most of their
    pages, which RSS would count once per process; RSS where PSS cannot be read)."""
    children, total, todo = process_children(), 0, [root]
    while todo:
        pid = todo.pop()
        todo.extend(children.get(pid, []))
        with contextlib.suppress(OSError, ValueError, StopIteration):
            with open(f"/proc/{pid}/smaps_rollup") as f:
                total += int(next(line for line in f if line.startswith("Pss:")).split()[1]) * 1024
            continue
        with contextlib.suppress(OSError, ValueError, IndexError), open(f"/proc/{pid}/statm") as f:
            total += int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    return total


class MemoryWatchdog:
    """Checks the memory of one crawl's Chromium process tree every ``interval`` seconds while pages render.

    Over ``budget``: every open page is closed (its request or callback records error kind ``browser_memory``); if
    the tree is still over budget at the next check, the browser is closed and the next page starts a new one.
    The browser's process id comes from CDP (SystemInfo.getProcessInfo), its descendants from /proc.
    """

    def __init__(self, budget: int, interval: float, browser: Callable[[], Any], pages: CrawlBudget):
        self.budget = budget
        self.interval = interval
        self._browser = browser
        self._pages = pages
        self._pid: int | None = None
        self._pid_of: Any = None
        self._task: asyncio.Task[None] | None = None
        self.peak = 0
        self.pages_closed = 0
        self.restarts = 0

    def start(self) -> None:
        if self.budget > 0 and (self._task is None or self._task.done()):
            self._task = asyncio.ensure_future(self._watch())

    async def stop(self) -> None:
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(BaseException):
                await self._task

    async def _root(self) -> int | None:
        browser = self._browser()
        if browser is None:
            return None
        if self._pid_of is not browser:
            session = await browser.new_browser_cdp_session()
            try:
                info = await session.send("SystemInfo.getProcessInfo")
            finally:
                with contextlib.suppress(Exception):
                    await session.detach()
            self._pid = next((p["id"] for p in info.get("processInfo", []) if p.get("type") == "browser"), None)
            self._pid_of = browser
        return self._pid

    async def _watch(self) -> None:
        over_since_close = False
        while True:
            await asyncio.sleep(self.interval)
            try:
                root = await self._root()
                if root is None:
                    continue
                used = await asyncio.to_thread(tree_memory, root)
            except Exception as exc:  # a browser closing or restarting: look again at the next tick
                logger.debug("browser memory watchdog: cannot read the process tree: %r", exc)
                self._pid_of = None
                continue
            self.peak = max(self.peak, used)
            if used <= self.budget:
                over_since_close = False
                continue
            reason = (
                f"browser memory budget exceeded: Chromium's processes held {used} bytes, over the budget of "
                f"{self.budget} bytes"
            )
            open_pages = [m for m in self._pages.meters if m.exceeded is None]
            if open_pages and not over_since_close:
                logger.warning("%s; closing %d rendered page(s)", reason, len(open_pages))
                for meter in open_pages:
                    meter.stop(ErrorKind.BROWSER_MEMORY, reason + "; the page was closed")
                self.pages_closed += len(open_pages)
                over_since_close = True
                continue
            logger.warning("%s with its pages closed; restarting the browser", reason)
            for meter in self._pages.meters:
                meter.stop(ErrorKind.BROWSER_MEMORY, reason + "; the browser was restarted")
            self.restarts += 1
            over_since_close = False
            browser, self._pid_of = self._browser(), None
            with contextlib.suppress(Exception):
                await asyncio.wait_for(browser.close(), 10)
