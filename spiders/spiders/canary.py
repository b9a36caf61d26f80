"""The canary spider: ask one downloader service for a canary track, the way its recipe says, and fetch the heads
of the files it offers. Every fetch is a CanaryFetch; the spider never decides whether the service delivered."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any
from urllib.parse import quote, urlencode, urlsplit, urlunsplit

from scrapy import Request, Spider
from scrapy.http import Response, TextResponse
from scrapy.settings import BaseSettings
from scrapy_playwright.page import PageMethod
from twisted.python.failure import Failure

from monitor.errors import classify_exception, kind_for_status
from monitor.net import host_of, is_soundcloud_host
from spiders.facts import duration_of, short_error, utc_now
from spiders.middlewares import MAX_BYTES_META
from spiders.rendering import (
    CAPTURE_META,
    PLAYWRIGHT_HANDLER,
    classify_browser_error,
    close_page,
    page_screenshot,
    read_dom,
    render_meta,
    render_timeout,
    settle,
)
from spiders.scraping_items import CanaryFetch
from spiders.watch_links import is_html, page_references
from spiders.watch_scope import SoundCloudGuardMiddleware

CANARY_META = "scrapewatch_canary"
STEPS_META = "scrapewatch_canary_steps"
KINDS = ("form", "api", "browser")
ACTIONS = ("fill", "click", "wait_for")
MAX_JSON_URLS = 200
_DEFAULTS: dict[str, Any] = {
    "url": None,
    "field": None,
    "method": None,
    "url_template": None,
    "body_template": None,
    "headers": {},
    "steps": [],
    "result_selector": None,
    "byte_cap": 524_288,
    "max_downloads": 3,
    "step_timeout_seconds": 15.0,
}


def parse_recipe(recipe: Any) -> dict[str, Any]:
    """Validate the spider's ``recipe`` argument (a dict, or its JSON text); monitor.settings'
    DownloaderRecipe is its config twin."""
    if isinstance(recipe, str | bytes):
        recipe = json.loads(recipe)
    if not isinstance(recipe, dict) or not isinstance(recipe.get("name"), str) or recipe.get("kind") not in KINDS:
        raise ValueError(f"recipe must be a mapping with a name and a kind in {KINDS}")
    unknown = sorted(set(recipe) - set(_DEFAULTS) - {"name", "kind"})
    if unknown:
        raise ValueError(f"unknown recipe keys: {unknown}")
    out = {**_DEFAULTS, **recipe}
    need = {"form": ("url", "field"), "api": ("url_template",), "browser": ("url", "steps")}[out["kind"]]
    missing = [key for key in need if not out[key]]
    if missing:
        raise ValueError(f"a {out['kind']} recipe needs {', '.join(missing)}")
    if out["field"] is not None and not all(c.isalnum() or c in "_-.:[]" for c in out["field"]):
        raise ValueError("recipe field must be a plain input name")
    for step in out["steps"]:
        if not isinstance(step, dict) or step.get("action") not in ACTIONS or not step.get("selector"):
            raise ValueError(f"each browser step needs an action in {ACTIONS} and a selector")
    return out


_SKIPPED_INPUTS = frozenset({"submit", "button", "image", "reset", "file"})


def form_submission(
    response: TextResponse, xpath: str, field: str, value: str, method: str | None
) -> tuple[str, str, str | None]:
    """(method, URL, body) of submitting the first form at ``xpath`` with ``field`` set to ``value``, the way a
    browser would: the form's other successful controls keep their values; GET puts them in the query."""
    form = response.xpath(xpath)[0]
    pairs: list[tuple[str, str]] = []
    for control in form.xpath(".//input | .//textarea | .//select"):
        attrib, tag = control.attrib, str(getattr(control.root, "tag", "")).lower()
        name = attrib.get("name")
        if not name or "disabled" in attrib or name == field:
            continue
        kind = attrib.get("type", "text").lower()
        if tag == "input" and (kind in _SKIPPED_INPUTS or (kind in ("checkbox", "radio") and "checked" not in attrib)):
            continue
        if tag == "textarea":
            pairs.append((name, control.xpath("string()").get() or ""))
        elif tag == "select":
            chosen = control.xpath(".//option[@selected]/@value").get() or control.xpath(".//option[1]/@value").get()
            pairs.append((name, chosen or ""))
        else:
            pairs.append((name, attrib.get("value", "on" if kind in ("checkbox", "radio") else "")))
    pairs.append((field, value))
    verb = (method or form.attrib.get("method") or "GET").upper()
    action = response.urljoin(form.attrib.get("action") or response.url).split("#", 1)[0]
    if verb == "GET":
        parts = urlsplit(action)
        return "GET", urlunsplit(parts._replace(query=urlencode(pairs))), None
    return verb, action, urlencode(pairs)


def _headers(response: Response) -> dict[str, list[str]]:
    return {k.decode("latin-1").lower(): [v.decode("latin-1") for v in vs] for k, vs in response.headers.items()}


def json_urls(data: Any) -> Iterator[str]:
    """Every http(s) URL among the string values of a JSON document, in document order."""
    stack = [data]
    while stack:
        value = stack.pop(0)
        if isinstance(value, dict):
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
        elif isinstance(value, str) and value.startswith(("http://", "https://")):
            yield value


async def _mark_navigated(page: Any, progress: dict[str, Any]) -> None:
    progress["navigated"] = True


async def _run_step(page: Any, progress: dict[str, Any], index: int, step: dict[str, Any], timeout_ms: float) -> bool:
    """One browser step; ``progress['done']`` counts the steps that completed (the errback reads it)."""
    if step["action"] == "fill":
        await page.fill(step["selector"], step["value"], timeout=timeout_ms)
    elif step["action"] == "click":
        await page.click(step["selector"], timeout=timeout_ms)
    else:
        await page.wait_for_selector(step["selector"], timeout=timeout_ms)
    progress["done"] = index + 1
    return True


class CanarySpider(Spider):
    """Follows one downloader recipe for one canary URL: a form (fetched, filled, submitted), an API call, or
    browser steps in Chromium; then fetches the heads (``byte_cap``) of at most ``max_downloads`` files the result
    offers. SoundCloud's own hosts are never requested: a link or redirect to them stays evidence in the result.
    """

    name = "canary"
    custom_settings = {
        # An error page is a fact about the service (and about the recipe), not noise to drop.
        "HTTPERROR_ALLOW_ALL": True,
        "DOWNLOAD_DELAY": 0.5,
        "COOKIES_ENABLED": True,  # forms often need the session cookie of the page that served them
    }

    def __init__(self, recipe: Any = None, canary_url: str = "", *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.recipe = parse_recipe(recipe)
        if not isinstance(canary_url, str) or not canary_url.startswith(("http://", "https://")):
            raise ValueError("canary_url must be an http(s) URL")
        self.canary_url = canary_url
        self.service = self.recipe["name"]
        self.expected_items = 0
        self._downloads: set[str] = set()

    @classmethod
    def update_settings(cls, settings: BaseSettings) -> None:
        super().update_settings(settings)
        # After RedirectMiddleware (600), so that it sees redirects towards SoundCloud before they are followed.
        # Set at spider priority: a runner merges its own (project-priority) settings into a crawler it is handed,
        # which would otherwise drop a component added here.
        middlewares = settings.getdict("DOWNLOADER_MIDDLEWARES")
        middlewares[SoundCloudGuardMiddleware] = 650
        settings.set("DOWNLOADER_MIDDLEWARES", middlewares, priority="spider")

    @classmethod
    def from_crawler(cls, crawler: Any, *args: Any, **kwargs: Any) -> CanarySpider:
        spider = super().from_crawler(crawler, *args, **kwargs)
        if spider.recipe["kind"] == "browser":
            handlers = crawler.settings.getdict("DOWNLOAD_HANDLERS")
            if handlers.get("http") != PLAYWRIGHT_HANDLER or handlers.get("https") != PLAYWRIGHT_HANDLER:
                raise ValueError(f"recipe {spider.service!r} drives a browser, but its crawl lacks playwright settings")
        return spider

    # --- requests -------------------------------------------------------------------------------------------

    async def start(self) -> AsyncIterator[Request]:
        r = self.recipe
        if r["kind"] == "form":
            yield self._request(r["url"], "form", callback=self.parse_form)
        elif r["kind"] == "api":
            url = r["url_template"].replace("{url}", quote(self.canary_url, safe=""))
            body = r["body_template"].replace("{url}", self.canary_url) if r["body_template"] else None
            yield self._request(url, "api", method=r["method"] or "GET", body=body, headers=r["headers"])
        else:
            yield self._browser_request()

    def _request(self, url: str, step: str, *, callback: Any = None, found_on: str | None = None, **kw: Any) -> Request:
        self.expected_items += 1
        meta = {CANARY_META: (step, url, found_on), **kw.pop("meta", {})}
        return Request(
            url, callback=callback or self.parse_result, errback=self.on_error, meta=meta, dont_filter=True, **kw
        )

    def _browser_request(self) -> Request:
        progress: dict[str, Any] = {"navigated": False, "done": 0}
        timeout_ms = self.recipe["step_timeout_seconds"] * 1000
        methods = [PageMethod(_mark_navigated, progress)]
        for i, step in enumerate(self.recipe["steps"]):
            step = {**step, "value": str(step.get("value") or "{canary}").replace("{canary}", self.canary_url)}
            methods.append(PageMethod(_run_step, progress, i, step, timeout_ms))
        meta = {**render_meta(), "playwright_page_methods": methods, STEPS_META: progress, "dont_retry": True}
        return self._request(self.recipe["url"], "browser", callback=self.parse_browser, meta=meta)

    def _downloads_in(self, response: Response) -> list[Request]:
        """Requests for the files a result offers (audio links, ``<a download>``, URLs in a JSON answer)."""
        urls: list[str] = []
        if isinstance(response, TextResponse) and is_html(response):
            scope = response
            if self.recipe["result_selector"]:
                scope = response.replace(body="".join(response.css(self.recipe["result_selector"]).getall()))
            urls = [ref.url for ref in page_references(scope) if ref.kind in ("audio", "playlist")]
        elif isinstance(response, TextResponse) and response.text.lstrip()[:1] in ("{", "["):
            try:
                urls = list(json_urls(json.loads(response.text)))[:MAX_JSON_URLS]
            except ValueError:
                urls = []
        out = []
        for url in urls:
            if is_soundcloud_host(host_of(url)) or url in self._downloads:
                continue
            if len(self._downloads) >= self.recipe["max_downloads"]:
                break
            self._downloads.add(url)
            cap = self.recipe["byte_cap"]
            out.append(
                self._request(
                    url,
                    "download",
                    callback=self.parse_download,
                    found_on=response.url,
                    headers={"Range": f"bytes=0-{cap - 1}", "Accept": "audio/*,*/*;q=0.8"},
                    meta={MAX_BYTES_META: cap},
                )
            )
        return out

    # --- responses ------------------------------------------------------------------------------------------

    async def parse_form(self, response: Response) -> AsyncIterator[CanaryFetch | Request]:
        item = self._item(response)
        if item.status is None or item.status >= 400 or not isinstance(response, TextResponse):
            yield item
            return
        field = self.recipe["field"]
        xpath = f'//form[.//*[@name="{field}"]]'
        if not response.xpath(xpath):
            item.recipe_problem = f"no form with a field named {field!r} on the page"
            yield item
            return
        method, url, body = form_submission(response, xpath, field, self.canary_url, self.recipe["method"])
        headers = {"Content-Type": "application/x-www-form-urlencoded"} if body is not None else {}
        submit = Request(
            url,
            method=method,
            body=body,
            headers=headers,
            callback=self.parse_result,
            errback=self.on_error,
            meta={CANARY_META: ("submit", url, response.url)},
            dont_filter=True,
        )
        self.expected_items += 1
        yield item
        yield submit

    async def parse_result(self, response: Response) -> AsyncIterator[CanaryFetch | Request]:
        item = self._item(response)
        yield item
        if item.status is not None and item.status < 400:
            for request in self._downloads_in(response):
                yield request

    async def parse_download(self, response: Response) -> AsyncIterator[CanaryFetch]:
        yield self._item(response)

    async def parse_browser(self, response: Response) -> AsyncIterator[CanaryFetch | Request]:
        page = response.meta.pop("playwright_page", None)
        screenshot = dom = None
        dom_size = 0
        if page is not None:
            try:
                await settle(page)
                screenshot = await page_screenshot(page)
                cap = self.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
                dom, dom_size, _ = await read_dom(page, cap, render_timeout(self.settings))
            finally:
                await close_page(page)
        source = response.replace(body=dom.encode("utf-8"), encoding="utf-8") if dom is not None else response
        item = self._item(source, dom_size=dom_size)
        item.screenshot = screenshot
        yield item
        for request in self._downloads_in(source):
            yield request

    async def on_error(self, failure: Failure) -> AsyncIterator[CanaryFetch]:
        exc = failure.value
        request: Request | None = getattr(failure, "request", None)
        meta = request.meta if request is not None else {}
        page = meta.pop("playwright_page", None)
        screenshot = await page_screenshot(page) if page is not None else None
        await close_page(page)
        step, url, found_on = meta.get(CANARY_META) or ("form", request.url if request else "", None)
        rendered = bool(meta.get("playwright"))
        item = CanaryFetch(
            service=self.service,
            canary_url=self.canary_url,
            step=step,
            url=url or (request.url if request else ""),
            method=request.method if request is not None else "GET",
            request_body=request.body if request is not None else b"",
            found_on=found_on,
            error_kind=(classify_browser_error(exc) if rendered else classify_exception(exc)).value,
            error_detail=short_error(exc),
            fetched_at=utc_now(),
            duration_seconds=duration_of(meta),
            rendered=rendered,
            screenshot=screenshot,
            requests=list(meta.get(CAPTURE_META, [])),
            redirects=list(meta.get("redirect_urls", [])),
        )
        progress = meta.get(STEPS_META)
        if progress is not None and progress["navigated"] and progress["done"] < len(self.recipe["steps"]):
            index = progress["done"]
            step_def = self.recipe["steps"][index]
            item.failed_step = index
            item.recipe_problem = (
                f"browser step {index + 1} ({step_def['action']} {step_def['selector']!r}) failed: {item.error_kind}"
            )
        yield item

    def _item(self, response: Response, *, dom_size: int = 0) -> CanaryFetch:
        step, url, found_on = response.meta.get(CANARY_META) or ("form", response.url, None)
        headers = _headers(response)
        cap = self.settings.getint("SCRAPEWATCH_MAX_RESPONSE_BYTES")
        if step == "download":
            cap = min(cap, self.recipe["byte_cap"]) if cap > 0 else self.recipe["byte_cap"]
        body = response.body
        truncated = (cap > 0 and len(body) > cap) or bool(response.meta.get("download_stopped"))
        if response.status == 206 and not truncated:
            total = (headers.get("content-range") or [""])[0].rpartition("/")[2].strip()
            truncated = total.isdigit() and int(total) > len(body)
        status_kind = kind_for_status(response.status)
        request = response.request
        item = CanaryFetch(
            service=self.service,
            canary_url=self.canary_url,
            step=step,
            url=url or response.url,
            method=request.method if request is not None else "GET",
            request_body=request.body if request is not None and step in ("submit", "api") else b"",
            request_headers=_request_headers(request) if request is not None and step in ("submit", "api") else {},
            final_url=response.url,
            status=response.status,
            headers=headers,
            content_type=(headers.get("content-type") or [None])[0],
            body=body[:cap] if cap > 0 else body,
            size=max(len(body), dom_size),
            truncated=truncated,
            redirects=list(response.meta.get("redirect_urls", [])),
            found_on=found_on,
            error_kind=status_kind.value if status_kind else None,
            error_detail=f"HTTP {response.status}" if status_kind else None,
            fetched_at=utc_now(),
            duration_seconds=duration_of(response.meta),
            rendered="playwright" in response.flags or step == "browser",
            requests=list(response.meta.get(CAPTURE_META, [])),
        )
        selector = self.recipe["result_selector"]
        if selector and step in ("submit", "api", "browser"):
            try:
                item.result_found = isinstance(response, TextResponse) and bool(response.css(selector))
            except Exception:  # an unparsable body or selector: the result is not there
                item.result_found = False
        return item


def _request_headers(request: Request) -> dict[str, list[str]]:
    return {k.decode("latin-1").lower(): [v.decode("latin-1") for v in vs] for k, vs in request.headers.items()}
