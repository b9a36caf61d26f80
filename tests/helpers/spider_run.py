"""Runs PolicyFilesSpider to completion on the shared reactor and returns its items (for spider tests)."""

from __future__ import annotations

from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import Settings

from monitor.runtime import reactor
from spiders.items import PolicyFileItem
from spiders.spiders.policy_files import PolicyFilesSpider

FAST = {
    "AUTOTHROTTLE_START_DELAY": 0.0,  # no politeness pause between a fixture's two files
    "RETRY_TIMES": 0,
    "DOWNLOAD_TIMEOUT": 5,
}


class _Items:
    def __init__(self) -> None:
        self.items: list[PolicyFileItem] = []

    def item_scraped(self, item: Any, **_: Any) -> None:
        self.items.append(item)


def run_spider(targets: Any, **overrides: Any) -> list[PolicyFileItem]:
    """Run PolicyFilesSpider with the project settings plus ``overrides``; return its items."""
    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    settings.update({**FAST, **overrides}, priority="cmdline")
    sink = _Items()

    async def crawl() -> None:
        crawler = Crawler(PolicyFilesSpider, settings)
        crawler.signals.connect(sink.item_scraped, signal=signals.item_scraped)
        await crawler.crawl_async(targets=targets)

    reactor.run(crawl())
    return sink.items


def one(url: str, **overrides: Any) -> PolicyFileItem:
    """Fetch ``url`` as the robots.txt of domain ``t.test`` and return the single item."""
    items = run_spider([{"domain": "t.test", "files": {"robots.txt": url}}], **overrides)
    assert len(items) == 1, items
    return items[0]
