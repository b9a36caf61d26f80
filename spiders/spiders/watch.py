"""The watchlist spider: crawl one third-party site, bounded and polite, yielding what it fetched as raw facts."""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from typing import Any

from scrapy import Request, Spider
from scrapy.http import Response
from scrapy.responsetypes import responsetypes
from scrapy.settings import BaseSettings
from scrapy.spidermiddlewares.httperror import HttpError
from twisted.python.failure import Failure
from w3lib.url import canonicalize_url

from monitor.errors import ErrorKind, classify_exception, kind_for_status
from monitor.net import host_of, is_soundcloud_host
from spiders.browser_budget import BUDGET_KINDS, METER_META
from spiders.facts import decode_content, duration_of, short_error, utc_now
from spiders.middlewares import MAX_BYTES_META
from spiders.rendering import (
    CAPTURE_META,
    PLAYWRIGHT_HANDLER,
    SCREENSHOT_SECONDS,
    SETTLE_SECONDS,
    classify_browser_error,
    close_page,
    page_screenshot,
    read_dom,
    refused_navigation,
    render_meta,
    render_timeout,
    settle,
)
from spiders.watch_items import WatchResource
from spiders.watch_links import Reference, is_html, page_references, sitemap_references
from spiders.watch_scope import SoundCloudGuardMiddleware, in_scope, site_of
from spiders.watch_target import parse_target

WATCH_META = "scrapewatch_watch"
MAX_SITEMAPS = 5
_CONTENT_RANGE_TOTAL = re.compile(r"/\s*(\d+)\s*$")
_ACCEPT = {
    "page": "text/html,application/xhtml+xml;q=0.9,*/*;q=0.8",
    "script": "*/*",
    "playlist": "application/vnd.apple.mpegurl,audio/mpegurl;q=0.9,*/*;q=0.8",
    "audio": "audio/*,*/*;q=0.8",
    "sitemap": "application/xml,text/xml;q=0.9,*/*;q=0.8",
}


class WatchSpider(Spider):
    """Crawls one watch target from its start URLs (and sitemap): same-site pages to ``max_depth``, at most
    ``max_pages`` of them, plus the scripts, playlists and audio heads they refer to.

    Every URL it decides to fetch ends as exactly one WatchResource: a response of any status, or an error
    (robots.txt refusals included). SoundCloud's own hosts are never requested; links to them stay in the
    bodies. With ``render`` the pages go through Chromium (the crawl needs spiders.rendering's settings).
    """

    name = "watch"
    custom_settings = {
        # A 404 or a 503 on a watched site is a fact to record, not noise to drop.
        "HTTPERROR_ALLOW_ALL": True,
        # Obeyed per request: a target with obey_robots=False marks its requests dont_obey_robotstxt.
        "ROBOTSTXT_OBEY": True,
        "DOWNLOAD_DELAY": 0.5,
        # Our own depth and page limits, per kind; Scrapy's would also count scripts and audio heads.
        "DEPTH_LIMIT": 0,
    }

    def __init__(self, target: Any = None, *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.target = parse_target(target)
        start_hosts = [host_of(url) for url in self.target.start_urls]
        self.sites = frozenset({site_of(h) for h in start_hosts if h} | set(self.target.extra_hosts))
        self._seen: set[str] = set()
        self._pages = 0
        self._resources = 0
        self._sitemaps = 0
        # One item per URL taken on: callers check that a finished crawl accounted for every one.
        self.expected_items = 0
        self.limits: dict[str, int] = {}  # links not followed, by the limit that stopped them

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # After RedirectMiddleware (600): it must see redirects towards SoundCloud before they are followed.
        settings.set_in_component_priority_dict("DOWNLOADER_MIDDLEWARES", SoundCloudGuardMiddleware, 650)

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> WatchSpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.target.render:
            handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
            if handlers.get("http") != PLAYWRIGHT_HANDLER or handlers.get("https") != PLAYWRIGHT_HANDLER:
                name = spider.target.name
                raise ValueError(f"target {name!r} renders, but its crawl lacks spiders.rendering.playwright_settings")
        return spider

    # --- scheduling ---------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request | WatchResource]:
        origins: list[str] = []
        for url in self.target.start_urls:
            refused = self._refusal(url)
            if refused:
                self.expected_items += 1
                yield self._error_item(url, "page", 0, None, ErrorKind.EGRESS_REFUSED, refused)
                continue
            request = self._request(Reference(url, "page"), depth=0, found_on=None)
            if request is not None:
                yield request
            origin = url.split("/", 3)[:3]
            if "/".join(origin) not in origins:
                origins.append("/".join(origin))
        if self.target.follow_sitemap:
            for origin in origins:
                request = self._request(Reference(f"{origin}/sitemap.xml", "sitemap"), depth=0, found_on=None)
                if request is not None:
                    yield request

    def _refusal(self, url: str) -> str | None:
        if not url.startswith(("http://", "https://")):
            return "not an http(s) URL"
        host = host_of(url)
        if not host:
            return "no host in the URL"
        if is_soundcloud_host(host):
            return f"{host} is SoundCloud's own host: watch crawls never request it"
        return None

    def _request(self, ref: Reference, *, depth: int, found_on: str | None) -> Request | None:
        """A request for ``ref``, or None when it is out of scope, already seen or over a limit."""
        if ref.kind == "page" and depth > self.target.max_depth:
            return self._over("max_depth")  # checked first: most links of a deep crawl end here, cheaply
        try:
            key = canonicalize_url(ref.url)
        except ValueError:
            return None
        if key in self._seen or not in_scope(host_of(ref.url), self.sites):
            return None
        if ref.kind == "page":
            if self._pages >= self.target.max_pages:
                return self._over("max_pages")
            self._pages += 1
        else:
            if self._resources >= self.target.max_resources:
                return self._over("max_resources")
            if ref.kind == "sitemap":
                if self._sitemaps >= MAX_SITEMAPS:
                    return self._over("max_sitemaps")
                self._sitemaps += 1
            self._resources += 1
        self._seen.add(key)
        self.expected_items += 1
        meta: dict[str, Any] = {WATCH_META: (ref.kind, depth, found_on, ref.url)}
        headers = {"Accept": _ACCEPT[ref.kind]}
        if not self.target.obey_robots:
            meta["dont_obey_robotstxt"] = True
        if ref.kind == "audio":
            meta[MAX_BYTES_META] = self.target.audio_byte_cap
            # A hint: servers that honour it send no more than the head; the size cap holds for the others.
            headers["Range"] = f"bytes=0-{self.target.audio_byte_cap - 1}"
        if ref.kind == "page" and self.target.render:
            meta.update(render_meta())
        # dont_filter: our own seen-set dedupes; Scrapy's filter would silently drop a redirect to a seen URL.
        return Request(
            ref.url,
            callback=self.parse,
            errback=self.on_error,
            meta=meta,
            headers=headers,
            dont_filter=True,
            priority=-depth,
        )

    def _over(self, limit: str) -> None:
        """Count a link not followed because of ``limit`` (crawl stats ``scrapewatch/watch/limit/<limit>`` when the
        spider closes: one per link seen, repeats included); the first of each is logged: a trap leaves a trace."""
        if limit not in self.limits:
            self.limits[limit] = 0
            self.logger.info("watch crawl of %s: %s reached, further links are not followed", self.target.name, limit)
        self.limits[limit] += 1
        return None

    def closed(self, reason: str) -> None:
        for limit, count in self.limits.items():
            self.crawler.stats.set_value(f"scrapewatch/watch/limit/{limit}", count)

    # --- responses ----------------------------------------------------------------------------------

    async def parse(self, response: Response) -> AsyncIterator[WatchResource | Request]:
        kind, depth, found_on, url = response.meta[WATCH_META]
        page = response.meta.pop("playwright_page", None)
        screenshot = dom = problem = None
        dom_size = 0
        if page is not None:
            # Each step is bounded on its own: a page whose scripts never yield must not hold the crawl.
            budget = render_timeout(self.settings)
            try:
                await settle(page, min(SETTLE_SECONDS, budget))
                screenshot = await page_screenshot(page, min(SCREENSHOT_SECONDS, budget))
                cap = self.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
                dom, dom_size, problem = await read_dom(page, cap, budget)
            finally:
                await self._close(page)
            meter = response.meta.get(METER_META)
            if meter is not None and meter.exceeded:  # closed by a byte cap or the memory watchdog while settling
                problem = (meter.kind.value, meter.exceeded)
        item = self._response_item(
            response, kind, depth, found_on, url, dom=dom, dom_size=dom_size, screenshot=screenshot
        )
        if problem is not None:  # an HTTP error status stays the error kind; the reason is added
            item.error_kind = item.error_kind or problem[0]
            item.error_detail = "; ".join(filter(None, [item.error_detail, problem[1]]))
        yield item
        source = response
        if dom is not None:
            source = response.replace(body=item.body, encoding="utf-8")
        elif item.body is not response.body:  # decoded (Content-Encoding) or cut at the cap
            source = _with_body(response, item.body)
        if kind == "page" and item.status is not None and item.status < 300 and is_html(source):
            for ref in page_references(source):
                request = self._request(ref, depth=depth + 1, found_on=response.url)
                if request is not None:
                    yield request
        elif kind == "sitemap" and item.status is not None and item.status < 300:
            for ref in sitemap_references(response):
                request = self._request(ref, depth=depth + (ref.kind == "page"), found_on=response.url)
                if request is not None:
                    yield request

    async def on_error(self, failure: Failure) -> AsyncIterator[WatchResource]:
        exc = failure.value
        request: Request | None = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        await self._close(meta.pop("playwright_page", None))
        kind, depth, found_on, url = meta.get(WATCH_META) or ("page", 0, None, request.url if request else "")
        if isinstance(exc, HttpError) and exc.response is not None:
            yield self._response_item(exc.response, kind, depth, found_on, url)
            return
        rendered = bool(meta.get("playwright"))
        error_kind = classify_browser_error(exc) if rendered else classify_exception(exc)
        captured = list(meta.get(CAPTURE_META, []))
        detail = short_error(exc)
        # A page closed by a byte cap or the memory watchdog also ends with a main-frame navigation without status.
        refused = refused_navigation(captured) if rendered and error_kind not in BUDGET_KINDS else None
        if refused is not None:
            # The browser's own egress guard aborted a navigation (a redirect into a private address).
            error_kind, detail = ErrorKind.EGRESS_REFUSED, f"navigation to {refused[:120]} refused: private address"
        redirects = list(meta.get("redirect_urls", []))
        if error_kind is ErrorKind.REDIRECT_LOOP and request is not None:
            redirects.append(request.url)
        item = self._error_item(url, kind, depth, found_on, error_kind, detail)
        item.redirects = redirects
        item.duration_seconds = duration_of(meta)
        item.rendered = rendered
        item.requests = captured
        yield item

    async def _close(self, page: Any) -> None:
        if page is not None:
            await close_page(page)
            self.crawler.stats.inc_value("scrapewatch/rendered_pages_closed")

    def _error_item(
        self, url: str, kind: str, depth: int, found_on: str | None, error_kind: ErrorKind, detail: str
    ) -> WatchResource:
        return WatchResource(
            target=self.target.name,
            kind=kind,
            url=url,
            depth=depth,
            found_on=found_on,
            error_kind=error_kind.value,
            error_detail=detail,
            fetched_at=utc_now(),
            robots_obeyed=self.target.obey_robots,
        )

    def _response_item(
        self,
        response: Response,
        kind: str,
        depth: int,
        found_on: str | None,
        url: str,
        *,
        dom: str | None = None,
        dom_size: int = 0,
        screenshot: bytes | None = None,
    ) -> WatchResource:
        headers = {
            name.decode("latin-1").lower(): [value.decode("latin-1") for value in values]
            for name, values in response.headers.items()
        }
        cap = self.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
        if kind == "audio":
            cap = min(cap, self.target.audio_byte_cap) if cap > 0 else self.target.audio_byte_cap
        received = dom.encode("utf-8") if dom is not None else response.body
        truncated = cap > 0 and len(received) > cap
        body = received[:cap] if truncated else received
        note = None
        if dom is None and "playwright" not in response.flags and headers.get("content-encoding"):
            # Sent encoded although we asked for identity: decoded, never beyond the cap (decompression bombs).
            body, cut, note = decode_content(body, headers["content-encoding"], cap)
            truncated = truncated or cut
        if response.status == 206 and not truncated:
            # The server honoured our Range hint: the file is longer than what it sent.
            total = _CONTENT_RANGE_TOTAL.search((headers.get("content-range") or [""])[0])
            truncated = bool(total) and int(total.group(1)) > len(received)
        status_kind = kind_for_status(response.status)
        return WatchResource(
            target=self.target.name,
            kind=kind,
            url=url,
            final_url=response.url,
            status=response.status,
            headers=headers,
            content_type=(headers.get("content-type") or [None])[0],
            body=body,
            size=max(len(received), dom_size),
            truncated=truncated,
            redirects=list(response.meta.get("redirect_urls", [])),
            depth=depth,
            found_on=found_on,
            fetched_at=utc_now(),
            duration_seconds=duration_of(response.meta),
            error_kind=status_kind.value if status_kind else None,
            error_detail="; ".join(filter(None, [f"HTTP {response.status}" if status_kind else None, note])) or None,
            rendered="playwright" in response.flags,
            robots_obeyed=self.target.obey_robots,
            screenshot=screenshot,
            requests=list(response.meta.get(CAPTURE_META, [])),
        )


def _with_body(response: Response, body: bytes) -> Response:
    """``response`` with its body decoded: an encoded body made Scrapy pick the binary Response class."""
    headers = response.headers.copy()
    headers.pop(b"Content-Encoding", None)
    cls = responsetypes.from_args(headers=headers, url=response.url, body=body)
    return response.replace(cls=cls, headers=headers, body=body)
