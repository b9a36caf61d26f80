"""The watchlist's config model and the watch probe's crawl_target (static crawls) through the fake internet."""

from __future__ import annotations

import pytest
from helpers.watch_run import crawl
from pydantic import ValidationError

from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import Response, Site, by_host, html
from monitor.probes.watch import crawl_target
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlError, CrawlService
from monitor.settings import WatchSettings, WatchTarget, load_settings
from spiders.watch_items import WatchResource

FAST = {"AUTOTHROTTLE_START_DELAY": 0.0, "DOWNLOAD_DELAY": 0.0}


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


def service_for(net: BackgroundInternet) -> CrawlService:
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    return CrawlService(settings, scrapy_overrides=FAST)


def test_watch_target_defaults():
    target = WatchTarget(name="dl", start_urls=["https://sc2mp3-fast.example/"])
    assert target.model_dump(exclude={"name", "start_urls"}) == {
        "interval_seconds": 21600,
        "max_depth": 2,
        "max_pages": 50,
        "max_resources": 100,
        "follow_sitemap": True,
        "obey_robots": True,
        "render": False,
        "audio_byte_cap": 524_288,  # 13 s at 320 kbit/s: enough for the audio matcher
        "extra_hosts": [],
    }
    assert WatchSettings().chromium_path == "/usr/bin/chromium"


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"start_urls": []}, "start_urls"),
        ({"start_urls": ["ftp://files.example/"]}, "start_urls"),
        ({"start_urls": ["sc2mp3-fast.example"]}, "start_urls"),
        ({"start_urls": ["https://m.soundcloud.com/discover"]}, "start_urls"),
        ({"max_pages": 0}, "max_pages"),
        ({"max_depth": -1}, "max_depth"),
        ({"audio_byte_cap": 0}, "audio_byte_cap"),
        ({"max_resources": 0}, "max_resources"),
        ({"extra_hosts": ["https://cdn.example/"]}, "extra_hosts"),
        ({"extra_hosts": ["cf-hls-media.sndcdn.com"]}, "extra_hosts"),
        ({"follow": True}, "follow"),
    ],
)
def test_watch_target_validation(fields, field):
    with pytest.raises(ValidationError) as caught:
        WatchTarget(**{"name": "dl", "start_urls": ["http://sc2mp3-fast.example/"], **fields})
    assert caught.value.errors()[0]["loc"][0] == field


def test_extra_hosts_are_normalised():
    target = WatchTarget(name="dl", start_urls=["http://a.example/"], extra_hosts=[" CDN.B.example. "])
    assert target.extra_hosts == ["cdn.b.example"]


def test_crawl_service_returns_the_watch_items(net):
    service = service_for(net)
    target = WatchTarget(name="sc2mp3", start_urls=["http://sc2mp3-fast.example/"], max_pages=3, max_resources=2)
    items = reactor.run(crawl_target(service, target))
    assert all(isinstance(item, WatchResource) and item.target == "sc2mp3" for item in items)
    assert len([item for item in items if item.kind == "page"]) == 3
    assert len([item for item in items if item.kind != "page"]) == 2
    assert {item.rendered for item in items} == {False} and service.active() == 0


def test_extra_hosts_widen_the_scope():
    sites = by_host(
        [
            Site("shop.test", {"/": html('<a href="http://files.test/a.mp3">a</a> <a href="http://x.test/">x</a>')}),
            Site("files.test", {"/a.mp3": Response(body=b"ID3" + bytes(64), content_type="audio/mpeg")}),
            Site("x.test", {"/": html("x")}),
        ]
    )
    target = {"name": "shop", "start_urls": ["http://shop.test/"], "follow_sitemap": False}
    with BackgroundInternet(sites) as net:
        alone = crawl(net, target)
        widened = crawl(net, {**target, "extra_hosts": ["files.test"]})
        hosts = {r.host for r in net.internet.requests}
    assert [item.url for item in alone] == ["http://shop.test/"]
    assert [(item.url, item.kind) for item in widened] == [
        ("http://shop.test/", "page"),
        ("http://files.test/a.mp3", "audio"),
    ]
    assert "x.test" not in hosts


def test_a_stopping_service_refuses_new_watch_crawls(net):
    service = service_for(net)
    reactor.run(service.stop())
    with pytest.raises(CrawlError, match="stopping"):
        reactor.run(crawl_target(service, WatchTarget(name="x", start_urls=["http://scmirror.example/"])))


def test_render_without_playwright_settings_is_refused_loudly(net):
    with pytest.raises(ValueError, match="playwright_settings"):
        crawl(net, {"name": "x", "start_urls": ["http://scmirror.example/"], "render": True}, DOWNLOAD_HANDLERS={})
