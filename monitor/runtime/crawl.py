"""Runs scrapewatch's spiders on the shared Twisted asyncio reactor and hands their items back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from contextvars import ContextVar
from dataclasses import dataclass
from typing import Any

from scrapy import Spider, signals
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.settings import Settings as ScrapySettings

from monitor.errors import CrawlError
from monitor.settings import ProtectedDomain, Settings
from spiders.http_limits import BoundedHTTP11DownloadHandler as HTTP11DownloadHandler
from spiders.items import PolicyFileItem
from spiders.rendering import playwright_settings
from spiders.spiders.policy_files import PolicyFilesSpider

logger = logging.getLogger(__name__)

PROJECT_SETTINGS = "spiders.settings"


@dataclass
class RunTag:
    """The probe run a crawl belongs to: ``key`` names it (a remote crawl's job ids derive from it, and the store
    applies a keyed run once); ``crawls`` counts the remote crawls made for it (0: the key is not stored)."""

    key: str
    crawls: int = 0


# Set by monitor.probes.base.run_probe around one run; None outside a run (one-off scans, batch audits).
CURRENT_RUN: ContextVar[RunTag | None] = ContextVar("scrapewatch_current_run", default=None)


def scrapy_settings(settings: Settings) -> dict[str, Any]:
    """The Scrapy settings that the daemon's configuration decides (logging is left to the caller)."""
    http = settings.http
    return {
        "USER_AGENT": http.user_agent,
        "DOWNLOAD_TIMEOUT": http.timeout_seconds,
        "SCRAPEWATCH_MAX_RESPONSE_BYTES": http.max_response_bytes,
        "SCRAPEWATCH_ALLOW_PRIVATE_NETWORKS": http.allow_private_networks,
        "SCRAPEWATCH_PROXY": http.proxy,
        "SCRAPEWATCH_NO_PROXY": list(http.no_proxy),
        "CONCURRENT_REQUESTS_PER_DOMAIN": http.concurrent_requests_per_domain,
        "RETRY_ENABLED": http.retries > 0,
        "RETRY_TIMES": http.retries,
    }


def build_scrapy_settings(settings: Settings, overrides: Mapping[str, Any] | None = None) -> ScrapySettings:
    """Project settings (spiders/settings.py) overlaid with the configuration, then ``overrides``."""
    result = ScrapySettings()
    result.setmodule(PROJECT_SETTINGS, priority="project")
    # "cmdline" priority: the configuration wins over a spider's custom_settings, as `-s` would.
    result.update(scrapy_settings(settings), priority="cmdline")
    if overrides:
        result.update(dict(overrides), priority="cmdline")
    return result


class _Collector:
    """Receives one crawl's signals. Bound methods of a live object: pydispatcher holds weak refs."""

    def __init__(self, item_type: type = PolicyFileItem) -> None:
        self.item_type = item_type
        self.items: list[Any] = []
        self.spider_errors: list[str] = []

    def item_scraped(self, item: Any, **_: Any) -> None:
        if isinstance(item, self.item_type):
            self.items.append(item)

    def spider_error(self, failure: Any, **_: Any) -> None:
        value = getattr(failure, "value", failure)
        self.spider_errors.append(f"{type(value).__name__}: {value}")


def _finish_reason(crawler: Crawler) -> str | None:
    try:
        return crawler.stats.get_value("finish_reason")
    except RuntimeError:  # the crawl failed before its stats existed
        return None


def _files(domain: ProtectedDomain, extra: Mapping[str, str] | None) -> dict[str, str]:
    """File name -> URL: the domain's policy files, then ``extra`` (a name given twice is fetched once)."""
    files = {file: domain.url(file) for file in domain.files}
    for name, url in (extra or {}).items():
        files.setdefault(name, url)
    return files


class WidePoolHTTP11DownloadHandler(HTTP11DownloadHandler):
    """Scrapy's HTTP/1.1 handler keeping up to CONCURRENT_REQUESTS idle connections per pool key.

    Through a forward proxy every http:// request shares the proxy's key, and the stock pool keeps only
    CONCURRENT_REQUESTS_PER_DOMAIN idle connections: a many-domain crawl would churn connections.
    """

    def __init__(self, crawler: Crawler):
        super().__init__(crawler)
        self._pool.maxPersistentPerHost = max(
            crawler.settings.getint("CONCURRENT_REQUESTS"), crawler.settings.getint("CONCURRENT_REQUESTS_PER_DOMAIN")
        )


# Settings of a many-domain crawl on top of the service's (the caller's overrides win).
_BATCH_SETTINGS: dict[str, Any] = {
    "DOWNLOAD_HANDLERS": {"http": f"{__name__}.WidePoolHTTP11DownloadHandler"},
}


def _assemble(
    wanted: dict[str, list[str]], collector: _Collector, crawler: Crawler, label: str
) -> dict[str, list[PolicyFileItem]]:
    """One item per wanted (domain, file), in file order; a missing item or a spider error is a CrawlError."""
    by_key: dict[tuple[str, str], PolicyFileItem] = {}
    for item in collector.items:
        if (item.domain, item.file) in by_key:
            logger.warning("policy_files yielded %s of %s twice; keeping the first", item.file, item.domain)
            continue
        by_key[(item.domain, item.file)] = item
    missing = [f"{d}/{f}" for d, files in wanted.items() for f in files if (d, f) not in by_key]
    if missing or collector.spider_errors:
        errors = "; ".join(collector.spider_errors[:3]) or "none"
        shown = ", ".join(missing[:5]) + (f" and {len(missing) - 5} more" if len(missing) > 5 else "")
        raise CrawlError(
            f"the policy_files crawl of {label} ended ({_finish_reason(crawler)}) without an item for "
            f"{shown or 'every file'}; spider errors: {errors}"
        )
    return {d: [by_key[(d, f)] for f in files] for d, files in wanted.items()}


class CrawlService:
    """Owns the process's one AsyncCrawlerRunner; each fetch is one crawl, run as an asyncio Task.

    Items are returned, never stored: evaluation and storage are the caller's business.
    """

    def __init__(
        self,
        settings: Settings,
        *,
        scrapy_overrides: Mapping[str, Any] | None = None,
        browser_spki_pin: str | None = None,
    ):
        # browser_spki_pin: a leaf key Chromium trusts whatever its issuer (the demo internet's), else
        # watch.browser_spki_pin (the same, for `scan --render` through the simulated internet), else None.
        self._settings = settings
        self._browser_spki_pin = browser_spki_pin or settings.watch.browser_spki_pin
        self._runner = AsyncCrawlerRunner(build_scrapy_settings(settings, scrapy_overrides))
        self._crawls: dict[asyncio.Task[None], Crawler] = {}
        self._stop_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def crawl_settings(self) -> ScrapySettings:
        """The resolved Scrapy settings every crawl starts from."""
        return self._runner.settings

    def spider_class(self, name: str) -> type[Spider]:
        """The project's spider called ``name`` (``scrapy list``); KeyError when there is none."""
        return self._runner.spider_loader.load(name)

    def active(self) -> int:
        """How many crawls are running (or about to start)."""
        return sum(1 for task in self._crawls if not task.done())

    async def fetch_policy_files(
        self, domain: ProtectedDomain, extra: Mapping[str, str] | None = None
    ) -> list[PolicyFileItem]:
        """Fetch ``domain``'s policy files: one item per file, in ``domain.files`` order, then ``extra``
        (more named URLs: sampled pages, license documents) in its order.

        Probe failures (timeouts, DNS, 404, egress refusal, ...) are items with an error kind.
        Raises :class:`CrawlError` when the crawl itself fails or is stopped before it is complete.
        """
        if self._stopping:
            raise CrawlError(f"not fetching {domain.domain}: the crawl service is stopping")
        fetched = await self.crawl_policy(domain.domain, {domain.domain: _files(domain, extra)})
        return fetched[domain.domain]

    async def fetch_policy_files_many(
        self,
        domains: list[ProtectedDomain],
        *,
        extra: Mapping[str, Mapping[str, str]] | None = None,
        overrides: Mapping[str, Any] | None = None,
    ) -> dict[str, list[PolicyFileItem]]:
        """Fetch the policy files of many domains in ONE crawl: ``{domain: items in domain.files order}``.

        ``extra`` maps a domain to more named URLs to fetch for it (as in :meth:`fetch_policy_files`).
        The same guarantees as :meth:`fetch_policy_files` for every domain (failures are items); a
        missing item anywhere, a spider error, a failed crawl or a stop is a :class:`CrawlError`.
        ``overrides`` are Scrapy settings for this crawl only (e.g. ``CONCURRENT_REQUESTS``, the global
        number of requests in flight); ``CONCURRENT_REQUESTS_PER_DOMAIN`` still bounds each host.
        """
        unique = list({d.domain: d for d in domains}.values())
        if not unique:
            return {}
        label = f"{len(unique)} domains ({unique[0].domain}, ...)" if len(unique) > 1 else unique[0].domain
        if self._stopping:
            raise CrawlError(f"not fetching {label}: the crawl service is stopping")
        wanted = {d.domain: _files(d, (extra or {}).get(d.domain)) for d in unique}
        return await self.crawl_policy(label, wanted, {**_BATCH_SETTINGS, **(overrides or {})})

    async def crawl_policy(
        self, label: str, wanted: dict[str, dict[str, str]], overrides: Mapping[str, Any] | None = None
    ) -> dict[str, list[PolicyFileItem]]:
        """One ``policy_files`` crawl of ``wanted`` (domain -> {file name: URL}): ``{domain: items in file order}``.

        The seam the policy fetches share (a remote crawl service sends it to a worker); raises :class:`CrawlError`
        as :meth:`fetch_policy_files_many` says."""
        targets = [{"domain": d, "files": files} for d, files in wanted.items()]
        collector, crawler = await self._crawl(PolicyFilesSpider, label, overrides, targets=targets)
        return _assemble({d: list(files) for d, files in wanted.items()}, collector, crawler, label)

    async def run_spider(
        self,
        spidercls: type[Spider],
        label: str,
        *,
        item_type: type,
        render: bool = False,
        overrides: Mapping[str, Any] | None = None,
        **spider_args: Any,
    ) -> list[Any]:
        """Run one crawl of any spider to its end: every ``item_type`` item it yielded, in order.

        ``render`` runs that crawl (and only it) through Chromium (``watch.chromium_path``) behind the configured
        proxy; ``overrides`` are Scrapy settings for it alone. Fetch failures are items; a spider that counts
        what it must yield (``expected_items``) is held to it. Raises :class:`CrawlError` when the crawl fails, a
        callback raised, it stopped with fetches unaccounted for, or the service is stopping.
        """
        if self._stopping:
            raise CrawlError(f"not running the {spidercls.name} spider for {label}: the crawl service is stopping")
        settings = {**(self._browser_overrides() if render else {}), **(overrides or {})}
        collector, crawler = await self._crawl(spidercls, label, settings, item_type=item_type, **spider_args)
        return self._complete(collector, crawler, f"{spidercls.name} crawl of {label}")

    def _browser_overrides(self) -> dict[str, Any]:
        http, watch = self._settings.http, self._settings.watch
        return playwright_settings(
            watch.chromium_path,
            http.proxy,
            self._browser_spki_pin,
            no_proxy=http.no_proxy,
            timeout_seconds=http.timeout_seconds,
            allow_private_networks=http.allow_private_networks,
            max_page_bytes=watch.max_page_bytes,
            max_crawl_bytes=watch.max_crawl_bytes,
            browser_memory_bytes=watch.browser_memory_bytes,
        )

    @staticmethod
    def _complete(collector: _Collector, crawler: Crawler, what: str) -> list[Any]:
        expected = getattr(crawler.spider, "expected_items", None)
        if collector.spider_errors or expected != len(collector.items):
            errors = "; ".join(collector.spider_errors[:3]) or "none"
            raise CrawlError(
                f"the {what} ended ({_finish_reason(crawler)}) with {len(collector.items)} items for {expected} "
                f"fetches; spider errors: {errors}"
            )
        return collector.items

    async def _crawl(
        self,
        spidercls: type[Spider],
        label: str,
        overrides: Mapping[str, Any] | None,
        *,
        item_type: type = PolicyFileItem,
        **spider_args: Any,
    ) -> tuple[_Collector, Crawler]:
        """Run one crawl of ``spidercls`` with ``spider_args`` to its end; cancellation asks it to stop."""
        collector = _Collector(item_type)
        what = f"{spidercls.name} crawl of {label}"
        try:
            runner = self._runner
            if overrides:
                settings = self._runner.settings.copy()
                settings.update(dict(overrides), priority="cmdline")
                runner = AsyncCrawlerRunner(settings)
            # Hand the runner the spider class, never a ready Crawler: a Crawler given to a runner gets the
            # runner's settings merged over it, which would drop what the spider's update_settings added
            # (the watch spider's SoundCloud guard middleware).
            before = set(runner.crawlers)
            task = runner.crawl(spidercls, **spider_args)
            (crawler,) = set(runner.crawlers) - before
            crawler.signals.connect(collector.item_scraped, signal=signals.item_scraped)
            crawler.signals.connect(collector.spider_error, signal=signals.spider_error)
        except Exception as exc:
            raise CrawlError(f"cannot start the {what}: {exc}") from exc
        self._crawls[task] = crawler
        task.add_done_callback(self._forget)
        try:
            # Shielded: if our caller is cancelled, the crawl is asked to stop instead of being torn down.
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                raise CrawlError(f"the {what} was stopped before it began") from None
            self._request_stop(crawler, task)
            raise
        except Exception as exc:
            raise CrawlError(f"the {what} failed: {exc!r}") from exc
        return collector, crawler

    def _forget(self, task: asyncio.Task[None]) -> None:
        self._crawls.pop(task, None)

    def _request_stop(self, crawler: Crawler, task: asyncio.Task[None]) -> None:
        if crawler.crawling:
            stop = asyncio.ensure_future(crawler.stop_async())
            self._stop_tasks.add(stop)
            stop.add_done_callback(self._stop_done)
        elif crawler.spider is None and not task.done():
            task.cancel()  # not begun yet: nothing to close gracefully

    def _stop_done(self, task: asyncio.Task[None]) -> None:
        self._stop_tasks.discard(task)
        if not task.cancelled() and task.exception() is not None:
            logger.warning("stopping a crawl failed: %r", task.exception())

    async def stop(self) -> None:
        """Ask every running crawl to stop and refuse new ones; :meth:`join` waits for them."""
        self._stopping = True
        for task, crawler in list(self._crawls.items()):
            self._request_stop(crawler, task)
        await asyncio.sleep(0)  # let the stop requests begin before the caller moves on

    async def join(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for running crawls; True when all of them finished."""
        pending = {task for task in (*self._crawls, *self._stop_tasks) if not task.done()}
        if not pending:
            return True
        _, still_pending = await asyncio.wait(pending, timeout=timeout)
        return not still_pending
