"""Runs WatchSpider to completion on the shared reactor through the demo internet and returns its items."""

from __future__ import annotations

import shutil
from typing import Any

from scrapy import signals
from scrapy.crawler import Crawler
from scrapy.settings import Settings

from monitor.demo.internet import BackgroundInternet
from monitor.runtime import reactor
from spiders.rendering import playwright_settings
from spiders.spiders.watch import WatchSpider
from spiders.watch_items import WatchResource

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
FAST = {
    "AUTOTHROTTLE_START_DELAY": 0.0,
    "DOWNLOAD_DELAY": 0.0,
    "RETRY_TIMES": 0,
    "DOWNLOAD_TIMEOUT": 5,
    "LOG_LEVEL": "INFO",
}


def watch_settings(net: BackgroundInternet, *, render: bool = False, **overrides: Any) -> Settings:
    """Project settings routed through ``net``'s proxy, fast, plus Chromium's when ``render``."""
    settings = Settings()
    settings.setmodule("spiders.settings", priority="project")
    routed = {**FAST, "SCRAPEWATCH_PROXY": net.url}
    if render:
        routed.update(playwright_settings(CHROMIUM, net.url, net.internet.leaf_spki_sha256, timeout_seconds=20))
    settings.update({**routed, **overrides}, priority="cmdline")
    return settings


def crawl_with_stats(
    net: BackgroundInternet, target: dict[str, Any], **overrides: Any
) -> tuple[list[WatchResource], dict[str, Any]]:
    """Run one watch crawl of ``target`` through ``net``: every item it yielded, in order, and its stats."""
    settings = watch_settings(net, render=bool(target.get("render")), **overrides)
    items: list[WatchResource] = []
    errors: list[Any] = []
    crawler = Crawler(WatchSpider, settings)
    crawler.signals.connect(lambda item, **_: items.append(item), signal=signals.item_scraped, weak=False)
    crawler.signals.connect(lambda failure, **_: errors.append(failure), signal=signals.spider_error, weak=False)
    reactor.run(crawler.crawl_async(target=target))
    assert not errors, errors
    assert crawler.spider.expected_items == len(items), "a URL taken on ended without its item"
    return items, crawler.stats.get_stats()


def crawl(net: BackgroundInternet, target: dict[str, Any], **overrides: Any) -> list[WatchResource]:
    """Run one watch crawl of ``target`` through ``net``; every item it yielded, in order."""
    return crawl_with_stats(net, target, **overrides)[0]


def by_url(items: list[WatchResource]) -> dict[str, WatchResource]:
    """Items keyed by the URL requested first (a crawl fetches each URL once)."""
    keyed = {item.url: item for item in items}
    assert len(keyed) == len(items), [item.url for item in items]
    return keyed
