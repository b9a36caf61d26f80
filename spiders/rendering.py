"""Rendered crawls: scrapy-playwright settings for Debian's Chromium, the per-page capture of browser traffic, and
reading a rendered page (settle, screenshot, DOM) within bounds."""

from __future__ import annotations

import asyncio
import contextlib
import os
import re
import time
import weakref
from typing import Any
from urllib.parse import urlsplit

from monitor.errors import ErrorKind, classify_exception
from monitor.net import check_host
from spiders.browser_budget import (
    BROWSER_MEMORY_SETTING,
    DEFAULT_BROWSER_MEMORY_BYTES,
    DEFAULT_MAX_CRAWL_BYTES,
    DEFAULT_MAX_PAGE_BYTES,
    MAX_CRAWL_BYTES_SETTING,
    MAX_PAGE_BYTES_SETTING,
)
from spiders.browser_egress import BACKGROUND_HOSTS, CHROMIUM_ARGS
from spiders.facts import short_error
from spiders.watch_items import WatchRequest

PLAYWRIGHT_HANDLER = "spiders.browser_handler.BoundedPlaywrightDownloadHandler"
CAPTURE_META = "scrapewatch_captured"
# A hostile page may fire requests forever; the evidence needs the first few hundred.
MAX_CAPTURED_REQUESTS = 500
# How long a rendered page may keep loading (iframes, fetches) after DOMContentLoaded.
SETTLE_SECONDS = 8.0
SCREENSHOT_SECONDS = 10.0
# Scrapy setting: seconds a rendered page may take beyond its navigation (reading the DOM, settling, screenshot).
RENDER_TIMEOUT_SETTING = "SCRAPEWATCH_RENDER_TIMEOUT"
DEFAULT_RENDER_TIMEOUT = 30.0


# The redirect guard of each open page (spiders.browser_handler), for capture_requests to hand it the request log.
GUARDS: weakref.WeakKeyDictionary[Any, Any] = weakref.WeakKeyDictionary()


def render_timeout(settings: Any) -> float:
    """``SCRAPEWATCH_RENDER_TIMEOUT`` of a crawl's settings, in seconds."""
    return settings.getfloat(RENDER_TIMEOUT_SETTING, DEFAULT_RENDER_TIMEOUT) or DEFAULT_RENDER_TIMEOUT


DEBIAN_WRAPPER, DEBIAN_BINARY = "/usr/bin/chromium", "/usr/lib/chromium/chromium"
VIEWPORT = {"width": 1280, "height": 800}

_NET_ERROR = re.compile(r"net::(ERR_[A-Z_]+)")
_NET_KINDS = {
    "ERR_NAME_NOT_RESOLVED": ErrorKind.DNS,
    "ERR_NAME_RESOLUTION_FAILED": ErrorKind.DNS,
    "ERR_CONNECTION_REFUSED": ErrorKind.REFUSED,
    "ERR_TIMED_OUT": ErrorKind.TIMEOUT,
    "ERR_CONNECTION_TIMED_OUT": ErrorKind.TIMEOUT,
    "ERR_TOO_MANY_REDIRECTS": ErrorKind.REDIRECT_LOOP,
    # Only RedirectGuard blocks requests "by client" here: a redirect into a private address.
    "ERR_BLOCKED_BY_CLIENT": ErrorKind.EGRESS_REFUSED,
    "ERR_PROXY_CONNECTION_FAILED": ErrorKind.PROXY,
    "ERR_TUNNEL_CONNECTION_FAILED": ErrorKind.PROXY,
    "ERR_EMPTY_RESPONSE": ErrorKind.CONNECTION,
    "ERR_CONNECTION_RESET": ErrorKind.CONNECTION,
    "ERR_CONNECTION_CLOSED": ErrorKind.CONNECTION,
}


def playwright_settings(
    chromium_path: str,
    proxy: str | None,
    ca_spki: str | None = None,
    *,
    no_proxy: list[str] | tuple[str, ...] = (),
    timeout_seconds: float = 30.0,
    allow_private_networks: bool = False,
    max_page_bytes: int = DEFAULT_MAX_PAGE_BYTES,
    max_crawl_bytes: int = DEFAULT_MAX_CRAWL_BYTES,
    browser_memory_bytes: int = DEFAULT_BROWSER_MEMORY_BYTES,
) -> dict[str, Any]:
    """Scrapy settings that make ``meta={"playwright": True}`` requests render in Chromium.

    Merge them into one crawl's settings only: the handler starts a browser per crawl and closes it
    at the end. ``proxy`` is the same outbound proxy Scrapy uses (one proxy for both); ``ca_spki`` is a
    base64 SHA-256 SPKI pin Chromium accepts whatever the issuer (the demo internet's leaf key), for
    proxies that intercept TLS; real deployments leave it None. Unless ``allow_private_networks``, the
    browser's own requests to private, loopback, link-local and metadata literals are aborted (and still
    captured), as EgressGuardMiddleware refuses Scrapy's. The byte caps and the memory budget bound what the
    crawl's pages and browser may spend (spiders.browser_budget).
    """
    args = list(CHROMIUM_ARGS)
    if ca_spki:
        args.append(f"--ignore-certificate-errors-spki-list={ca_spki}")
    launch: dict[str, Any] = {"executable_path": browser_binary(chromium_path), "headless": True, "args": args}
    if proxy:
        launch["proxy"] = {"server": proxy}
        # Chromium's background hosts go "direct", where HOST_RESOLVER_RULES makes them unresolvable.
        launch["proxy"]["bypass"] = ",".join([*(h.strip() for h in no_proxy if h.strip()), *BACKGROUND_HOSTS])
    settings: dict[str, Any] = {
        "DOWNLOAD_HANDLERS": {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER},
        "PLAYWRIGHT_BROWSER_TYPE": "chromium",
        "PLAYWRIGHT_LAUNCH_OPTIONS": launch,
        "PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": timeout_seconds * 1000,
        RENDER_TIMEOUT_SETTING: timeout_seconds,
        MAX_PAGE_BYTES_SETTING: max_page_bytes,
        MAX_CRAWL_BYTES_SETTING: max_crawl_bytes,
        BROWSER_MEMORY_SETTING: browser_memory_bytes,
        "PLAYWRIGHT_MAX_CONTEXTS": 1,
        "PLAYWRIGHT_MAX_PAGES_PER_CONTEXT": 2,
        # The crawl's contexts are created on first use, with these options (see render_meta()).
        "PLAYWRIGHT_CONTEXTS": {},
    }
    if not allow_private_networks:
        settings["PLAYWRIGHT_ABORT_REQUEST"] = f"{__name__}.targets_private_network"
    return settings


def browser_binary(chromium_path: str) -> str:
    """The Chromium binary to launch for ``chromium_path``: Debian's /usr/bin/chromium is a shell wrapper that adds
    Google API keys and ``--enable-remote-extensions`` (sign-in and extension-update traffic to accounts.google.com
    and update.googleapis.com, whatever our flags say), so the binary it wraps is launched instead."""
    if os.path.realpath(chromium_path) == DEBIAN_WRAPPER and os.path.exists(DEBIAN_BINARY):
        return DEBIAN_BINARY
    return chromium_path


def targets_private_network(request: Any) -> bool:
    """True for a browser request to a private, loopback, link-local or metadata address (or a local name).

    Host names are left to the proxy or the resolver, as EgressGuardMiddleware does behind a proxy: a page
    is not allowed to turn the crawler's browser into a probe of the network it runs in by literal address.
    """
    try:
        parts = urlsplit(request.url)
    except ValueError:
        return True
    if parts.scheme not in ("http", "https", "ws", "wss"):
        return False  # data:, blob: and the like never leave the browser
    return check_host(parts.hostname or "") is not None


def render_meta() -> dict[str, Any]:
    """Request meta for one rendered page: the page comes back to the callback, which must close it."""
    return {
        "playwright": True,
        "playwright_include_page": True,
        # Settling happens in the callback, bounded: a subresource that never loads must not fail the page.
        "playwright_page_goto_kwargs": {"wait_until": "domcontentloaded"},
        "playwright_context_kwargs": {
            # Requests made by a service worker have no frame to attribute them to.
            "service_workers": "block",
            "viewport": VIEWPORT,
            "accept_downloads": False,
        },
        "playwright_page_init_callback": capture_requests,
        CAPTURE_META: [],
    }


def _split_headers(headers: dict[str, str]) -> dict[str, list[str]]:
    # Playwright joins repeated response headers with newlines.
    return {name.lower(): value.split("\n") for name, value in headers.items()}


async def capture_requests(page: Any, request: Any) -> None:
    """Record every request ``page`` and its frames make into ``request.meta[CAPTURE_META]``."""
    captured: list[WatchRequest] = request.meta.setdefault(CAPTURE_META, [])
    by_request: dict[int, WatchRequest] = {}
    page_url = request.url
    guard = GUARDS.get(page)
    if guard is not None:
        guard.captured, guard.page_url = captured, page_url

    def on_request(pw_request: Any) -> None:
        if len(captured) >= MAX_CAPTURED_REQUESTS:
            return
        navigation = pw_request.is_navigation_request()
        try:
            frame = pw_request.frame
            # A navigating frame still shows its previous URL (about:blank): it is becoming the request's.
            frame_url, main = (pw_request.url if navigation else frame.url), frame == page.main_frame
        except Exception:  # requests without a frame (service workers): attributed to nobody
            frame_url, main = "", False
        entry = WatchRequest(
            page_url=page_url,
            url=pw_request.url,
            method=pw_request.method,
            resource_type=pw_request.resource_type,
            frame_url=frame_url,
            is_main_frame=main,
            is_navigation=navigation,
        )
        captured.append(entry)
        by_request[id(pw_request)] = entry

    def on_response(pw_response: Any) -> None:
        entry = by_request.get(id(pw_response.request))
        if entry is None:
            return
        entry.status = pw_response.status
        entry.headers = _split_headers(pw_response.headers)
        entry.content_type = pw_response.headers.get("content-type")

    def on_failed(pw_request: Any) -> None:
        entry = by_request.get(id(pw_request))
        if entry is not None:
            entry.failure = pw_request.failure

    page.on("request", on_request)
    page.on("response", on_response)
    page.on("requestfailed", on_failed)


async def settle(page: Any, seconds: float = SETTLE_SECONDS) -> None:
    """Wait until the page has loaded and its network went quiet, for at most ``seconds``; never raises."""
    deadline = time.monotonic() + seconds
    for state in ("load", "networkidle"):
        left = deadline - time.monotonic()
        if left <= 0:
            return
        # Playwright's own timeout is not enough: its wait can hang on a page whose main thread never yields.
        with contextlib.suppress(Exception):
            await asyncio.wait_for(page.wait_for_load_state(state, timeout=left * 1000), left + 1)


async def close_page(page: Any) -> None:
    """Close a rendered page, quietly: it may already be closed, or the browser gone."""
    if page is None:
        return
    with contextlib.suppress(Exception):
        await asyncio.wait_for(page.close(), 10)


def classify_browser_error(exc: BaseException) -> ErrorKind:
    """Map a Playwright navigation error (``net::ERR_…``) to an error kind, else classify it as any other."""
    match = _NET_ERROR.search(str(exc))
    if match:
        code = match.group(1)
        if code in _NET_KINDS:
            return _NET_KINDS[code]
        if code.startswith(("ERR_CERT", "ERR_SSL")):
            return ErrorKind.TLS
        if "PROXY" in code or "TUNNEL" in code:
            return ErrorKind.PROXY
    return classify_exception(exc)


async def page_screenshot(page: Any, seconds: float = SCREENSHOT_SECONDS) -> bytes | None:
    try:
        # Playwright's timeout, and ours in case its wait hangs on a page whose main thread never yields.
        return await asyncio.wait_for(page.screenshot(type="png", timeout=seconds * 1000), seconds + 1)
    except Exception:  # a crashed or never-painted page: the item says so by having none
        return None


# Only the head of a huge DOM crosses the Playwright connection (one more character than the cap, so that
# the cut shows); the length of the whole serialisation comes along.
_DOM_HEAD = """(cap) => {
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : "";
  const html = document.documentElement ? document.documentElement.outerHTML : "";
  return [(doctype + html).slice(0, cap + 1), doctype.length + html.length];
}"""


async def read_dom(page: Any, cap: int, seconds: float) -> tuple[str | None, int, tuple[str, str] | None]:
    """The rendered DOM (cut after ``cap`` characters when ``cap`` > 0), its full length, and (error kind, reason)
    when it could not be read: then the item keeps the HTML the browser had when navigation ended."""
    try:
        if cap <= 0:
            dom = await asyncio.wait_for(page.content(), seconds)
            return dom, len(dom), None
        head, length = await asyncio.wait_for(page.evaluate(_DOM_HEAD, cap), seconds)
        return head, int(length), None
    except TimeoutError:
        reason = f"render timeout: the page's scripts did not let its DOM be read within {seconds:g} s"
        return None, 0, (ErrorKind.TIMEOUT.value, reason)
    except Exception as exc:
        return None, 0, (ErrorKind.OTHER.value, f"the rendered DOM could not be read: {short_error(exc)}")


def refused_navigation(captured: list[WatchRequest]) -> str | None:
    """The URL of a main-frame navigation the browser aborted as a private-network request, if any."""
    for request in captured:
        if (
            request.is_navigation
            and request.is_main_frame
            and request.status is None
            and targets_private_network(request)
        ):
            return request.url
    return None
