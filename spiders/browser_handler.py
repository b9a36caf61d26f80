"""The download handler of rendered crawls: scrapy-playwright's, with a deadline per page and an egress check on
every redirect hop the browser follows."""

from __future__ import annotations

import asyncio
import contextlib
import inspect
from dataclasses import dataclass
from typing import Any

from scrapy_playwright.handler import ScrapyPlaywrightDownloadHandler

from monitor.errors import RenderTimeout
from spiders.browser_budget import (
    BROWSER_MEMORY_SETTING,
    DEFAULT_BROWSER_MEMORY_BYTES,
    DEFAULT_MAX_CRAWL_BYTES,
    DEFAULT_MAX_PAGE_BYTES,
    DEFAULT_MEMORY_INTERVAL,
    MAX_CRAWL_BYTES_SETTING,
    MAX_PAGE_BYTES_SETTING,
    MEMORY_INTERVAL_SETTING,
    METER_META,
    CrawlBudget,
    MemoryWatchdog,
    PageMeter,
)
from spiders.browser_egress import NO_SOCKETS_SCRIPT, BrowserEgress
from spiders.http_limits import bound_headers
from spiders.rendering import GUARDS, MAX_CAPTURED_REQUESTS, render_timeout
from spiders.watch_items import WatchRequest


class BoundedPlaywrightDownloadHandler(ScrapyPlaywrightDownloadHandler):
    """scrapy-playwright's handler with a deadline on every rendered request.

    After navigating, the stock handler reads the DOM (``page.content()``) without a timeout, and that call runs on
    the page's main thread: a script that never yields it (a busy loop started after DOMContentLoaded) would hold
    the request, and so the whole crawl, forever. Past navigation timeout + ``SCRAPEWATCH_RENDER_TIMEOUT`` the
    request fails with :class:`RenderTimeout`; its page stays in ``meta["playwright_page"]`` for the errback to close.
    """

    def __init__(self, crawler: Any) -> None:
        super().__init__(crawler)
        # Requests of a rendered crawl without meta["playwright"] go through Scrapy's HTTP/1.1 client.
        bound_headers(self, crawler.settings)
        navigation_ms = crawler.settings.getfloat("PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT") or 30_000
        self._render_timeout = render_timeout(crawler.settings)
        self._deadline = navigation_ms / 1000 + self._render_timeout
        settings = crawler.settings
        self._max_page_bytes = settings.getint(MAX_PAGE_BYTES_SETTING, DEFAULT_MAX_PAGE_BYTES)
        self.budget = CrawlBudget(settings.getint(MAX_CRAWL_BYTES_SETTING, DEFAULT_MAX_CRAWL_BYTES))
        self.watchdog = MemoryWatchdog(
            settings.getint(BROWSER_MEMORY_SETTING, DEFAULT_BROWSER_MEMORY_BYTES),
            settings.getfloat(MEMORY_INTERVAL_SETTING, DEFAULT_MEMORY_INTERVAL) or DEFAULT_MEMORY_INTERVAL,
            lambda: getattr(self, "browser", None),
            self.budget,
        )
        if self.abort_request is not None:
            # The configured predicate judges literals; this one also resolves names Chromium connects to directly.
            launch = crawler.settings.getdict("PLAYWRIGHT_LAUNCH_OPTIONS")
            self.abort_request = BrowserEgress(launch, crawler.settings.getfloat("DOWNLOAD_TIMEOUT") or 30.0)

    async def _create_page(self, request: Any, spider: Any) -> Any:
        meter = request.meta.get(METER_META)
        if meter is not None and meter.exceeded:
            # scrapy-playwright retries a request whose page was closed under it: not one we closed on purpose.
            raise meter.error()
        self.budget.refuse()
        page = await super()._create_page(request, spider)
        # Before any navigation: every document of the page starts without sockets.
        await page.add_init_script(NO_SOCKETS_SCRIPT)
        session = await page.context.new_cdp_session(page)
        request.meta[METER_META] = await PageMeter.install(page, session, self._max_page_bytes, self.budget)
        self.watchdog.start()
        if self.abort_request is not None:
            await RedirectGuard.install(page, self.abort_request, session)
        return page

    async def _download_request(self, request: Any, spider: Any = None) -> Any:
        # A crawl past its byte cap takes no new rendered page: each fails at once, without a browser.
        self.budget.refuse()
        try:
            return await asyncio.wait_for(super()._download_request(request, spider), self._deadline)
        except Exception as exc:
            meter = request.meta.get(METER_META)
            if meter is not None and meter.exceeded:
                raise meter.error() from None
            if not isinstance(exc, TimeoutError) or isinstance(exc, RenderTimeout):
                raise
            raise RenderTimeout(
                f"render timeout: the page was not loaded and read within {self._deadline:g} s "
                "(a script that never yields the page?)"
            ) from None

    async def _close(self) -> None:
        await self.watchdog.stop()
        await super()._close()


@dataclass(frozen=True)
class PausedRequest:
    """What PLAYWRIGHT_ABORT_REQUEST's predicate sees of a request paused by :class:`RedirectGuard`."""

    url: str
    method: str
    resource_type: str


class RedirectGuard:
    """Applies PLAYWRIGHT_ABORT_REQUEST to the redirect hops of a page's requests too.

    Playwright routes (and so scrapy-playwright's abort predicate) see only the first request of a redirect
    chain: Chromium follows a ``302`` to ``http://169.254.169.254/…`` on its own, through the proxy or directly.
    Chrome's Fetch domain pauses every hop, so a hop the predicate refuses fails with ``net::ERR_BLOCKED_BY_CLIENT``.
    It covers the page's own target: its frames, and the navigations of out-of-process (cross-site) frames; the
    redirects of a cross-site frame's subresources are left to the egress proxy.
    """

    def __init__(self, session: Any, refuse: Any, main_frame_id: str):
        self._session = session
        self._refuse = refuse
        self._main_frame_id = main_frame_id
        self._pending: set[asyncio.Task[None]] = set()
        # Where refused hops are written down (capture_requests hands over the page's list), for the evidence.
        self.captured: list[WatchRequest] | None = None
        self.page_url = ""

    @classmethod
    async def install(cls, page: Any, refuse: Any, session: Any) -> RedirectGuard:
        tree = await session.send("Page.getFrameTree")
        guard = cls(session, refuse, tree["frameTree"]["frame"]["id"])
        session.on("Fetch.requestPaused", guard._paused)
        await session.send("Fetch.enable", {"patterns": [{"urlPattern": "*", "requestStage": "Request"}]})
        GUARDS[page] = guard
        return guard

    def _paused(self, event: dict[str, Any]) -> None:
        task = asyncio.ensure_future(self._decide(event))
        self._pending.add(task)
        task.add_done_callback(self._pending.discard)

    async def _decide(self, event: dict[str, Any]) -> None:
        request = event.get("request") or {}
        paused = PausedRequest(request.get("url", ""), request.get("method", "GET"), event.get("resourceType", ""))
        with contextlib.suppress(Exception):  # the page may be closing; its requests go with it
            refused = event.get("redirectedRequestId") and await _maybe_await(self._refuse(paused))
            if refused:
                self._record(paused, event)
                await self._session.send(
                    "Fetch.failRequest", {"requestId": event["requestId"], "errorReason": "BlockedByClient"}
                )
            else:
                await self._session.send("Fetch.continueRequest", {"requestId": event["requestId"]})

    def _record(self, paused: PausedRequest, event: dict[str, Any]) -> None:
        if self.captured is None or len(self.captured) >= MAX_CAPTURED_REQUESTS:
            return
        self.captured.append(
            WatchRequest(
                page_url=self.page_url,
                url=paused.url,
                method=paused.method,
                resource_type=paused.resource_type.lower(),
                frame_url="",
                is_main_frame=event.get("frameId") == self._main_frame_id,
                is_navigation=paused.resource_type == "Document",
                failure="refused: a redirect into a private, loopback, link-local or metadata address",
            )
        )


async def _maybe_await(value: Any) -> Any:
    return await value if inspect.isawaitable(value) else value
