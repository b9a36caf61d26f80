"""Runs scrapewatch's spiders on the shared Twisted asyncio reactor and hands their items back."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from typing import Any

from scrapy import signals
from scrapy.crawler import AsyncCrawlerRunner, Crawler
from scrapy.settings import Settings as ScrapySettings

from monitor.config import ProtectedDomain, Settings
from monitor.errors import ScrapewatchError
from spiders.items import PolicyFileItem
from spiders.spiders.policy_files import PolicyFilesSpider

logger = logging.getLogger(__name__)

PROJECT_SETTINGS = "spiders.settings"


class CrawlError(ScrapewatchError):
    """A crawl could not run, or ended without one item per requested file (a bug or a shutdown)."""


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

    def __init__(self) -> None:
        self.items: list[PolicyFileItem] = []
        self.spider_errors: list[str] = []

    def item_scraped(self, item: Any, **_: Any) -> None:
        if isinstance(item, PolicyFileItem):
            self.items.append(item)

    def spider_error(self, failure: Any, **_: Any) -> None:
        value = getattr(failure, "value", failure)
        self.spider_errors.append(f"{type(value).__name__}: {value}")


def _finish_reason(crawler: Crawler) -> str | None:
    try:
        return crawler.stats.get_value("finish_reason")
    except RuntimeError:  # the crawl failed before its stats existed
        return None


class CrawlService:
    """Owns the process's one AsyncCrawlerRunner; each fetch is one crawl, run as an asyncio Task.

    Items are returned, never stored: evaluation and storage are the caller's business.
    """

    def __init__(self, settings: Settings, *, scrapy_overrides: Mapping[str, Any] | None = None):
        self._runner = AsyncCrawlerRunner(build_scrapy_settings(settings, scrapy_overrides))
        self._crawls: dict[asyncio.Task[None], Crawler] = {}
        self._stop_tasks: set[asyncio.Task[None]] = set()
        self._stopping = False

    @property
    def crawl_settings(self) -> ScrapySettings:
        """The resolved Scrapy settings every crawl starts from."""
        return self._runner.settings

    def active(self) -> int:
        """How many crawls are running (or about to start)."""
        return sum(1 for task in self._crawls if not task.done())

    async def fetch_policy_files(self, domain: ProtectedDomain) -> list[PolicyFileItem]:
        """Fetch ``domain``'s policy files: one item per file, in ``domain.files`` order.

        Probe failures (timeouts, DNS, 404, egress refusal, ...) are items with an error kind.
        Raises :class:`CrawlError` when the crawl itself fails or is stopped before it is complete.
        """
        if self._stopping:
            raise CrawlError(f"not fetching {domain.domain}: the crawl service is stopping")
        files = list(dict.fromkeys(domain.files))
        targets = [{"domain": domain.domain, "files": {file: domain.url(file) for file in files}}]
        collector = _Collector()
        try:
            crawler = self._runner.create_crawler(PolicyFilesSpider)
            crawler.signals.connect(collector.item_scraped, signal=signals.item_scraped)
            crawler.signals.connect(collector.spider_error, signal=signals.spider_error)
            task = self._runner.crawl(crawler, targets=targets)
        except Exception as exc:
            raise CrawlError(f"cannot start the policy_files crawl of {domain.domain}: {exc}") from exc
        self._crawls[task] = crawler
        task.add_done_callback(self._forget)
        try:
            # Shielded: if our caller is cancelled, the crawl is asked to stop instead of being torn down.
            await asyncio.shield(task)
        except asyncio.CancelledError:
            current = asyncio.current_task()
            if task.cancelled() and not (current and current.cancelling()):
                raise CrawlError(f"the policy_files crawl of {domain.domain} was stopped before it began") from None
            self._request_stop(crawler, task)
            raise
        except Exception as exc:
            raise CrawlError(f"the policy_files crawl of {domain.domain} failed: {exc!r}") from exc
        return self._complete(domain, files, collector, crawler)

    def _complete(
        self, domain: ProtectedDomain, files: list[str], collector: _Collector, crawler: Crawler
    ) -> list[PolicyFileItem]:
        by_file: dict[str, PolicyFileItem] = {}
        for item in collector.items:
            if item.file in by_file:
                logger.warning("policy_files yielded %s of %s twice; keeping the first", item.file, domain.domain)
                continue
            by_file[item.file] = item
        missing = [file for file in files if file not in by_file]
        if missing or collector.spider_errors:
            reason = _finish_reason(crawler)
            errors = "; ".join(collector.spider_errors[:3]) or "none"
            raise CrawlError(
                f"the policy_files crawl of {domain.domain} ended ({reason}) without an item for "
                f"{missing or 'every file'}; spider errors: {errors}"
            )
        return [by_file[file] for file in files]

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
