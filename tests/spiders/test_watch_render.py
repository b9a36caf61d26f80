"""Rendered watch crawls: Debian's Chromium through the fake internet, every request attributed to its frame."""

from __future__ import annotations

import pytest
from helpers.watch_run import CHROMIUM, by_url, crawl, crawl_with_stats

from monitor.demo.internet import BackgroundInternet
from monitor.demo.trap_sites import TRAP_HUGE_BYTES
from monitor.probes.watch import crawl_target
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import WatchTarget, load_settings
from spiders.rendering import PLAYWRIGHT_HANDLER, playwright_settings

pytestmark = pytest.mark.browser

SCPLAYER = "http://scplayer.example"
TRACK_PAGE = f"{SCPLAYER}/example-artist/night-drive"
HLS = f"{SCPLAYER}/relay/hls/example-artist/night-drive/aac_160k/playlist.m3u8"
POST = "http://indie-blog.example/2026/05/night-drive-premiere/"
PNG = b"\x89PNG\r\n\x1a\n"
FAST = {"AUTOTHROTTLE_START_DELAY": 0.0, "DOWNLOAD_DELAY": 0.0}


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


def assert_pages_closed(stats):
    assert stats["playwright/page_count"] == stats["scrapewatch/rendered_pages_closed"] > 0


def test_player_page_fetches_its_playlist_from_the_main_frame(net):
    items, stats = crawl_with_stats(net, {"name": "scplayer", "start_urls": [f"{SCPLAYER}/"], "render": True})
    assert_pages_closed(stats)
    got = by_url(items)
    page = got[TRACK_PAGE]
    assert (page.kind, page.status, page.rendered, page.error_kind) == ("page", 200, True, None)
    assert page.screenshot is not None and page.screenshot.startswith(PNG)
    assert b"window.__sc_hydration" in page.body and page.body.lstrip().lower().startswith(b"<!doctype html>")
    (fetch,) = [r for r in page.requests if r.url == HLS]
    assert (fetch.resource_type, fetch.method, fetch.is_navigation) == ("fetch", "GET", False)
    assert fetch.is_main_frame is True
    assert (fetch.frame_url, fetch.page_url, fetch.status) == (TRACK_PAGE, TRACK_PAGE, 200)
    assert fetch.content_type == "application/vnd.apple.mpegurl"
    assert fetch.headers["content-type"] == ["application/vnd.apple.mpegurl"]
    (document,) = [r for r in page.requests if r.resource_type == "document"]
    assert (document.url, document.is_main_frame, document.is_navigation) == (TRACK_PAGE, True, True)
    # Scripts, playlists and audio are fetched by Scrapy, not rendered.
    assert (got[HLS].kind, got[HLS].rendered) == ("playlist", False)
    assert got[f"{SCPLAYER}/sitemap.xml"].rendered is False


def test_blog_widget_media_requests_come_from_the_widget_frame(net):
    net.internet.clear_requests()
    items, stats = crawl_with_stats(
        net, {"name": "blog", "start_urls": [POST], "render": True, "max_depth": 0, "follow_sitemap": False}
    )
    assert_pages_closed(stats)
    (post,) = items
    assert post.rendered and post.screenshot.startswith(PNG)
    (media,) = [r for r in post.requests if r.url.startswith("https://cf-media.sndcdn.com/")]
    assert media.frame_url.startswith("https://w.soundcloud.com/player/?url=") and not media.is_main_frame
    assert media.status == 200 and media.content_type == "audio/mpeg"
    (widget,) = [r for r in post.requests if r.url.startswith("https://w.soundcloud.com/player/?")]
    assert (widget.resource_type, widget.is_navigation, widget.is_main_frame) == ("document", True, False)
    main_hosts = {r.url.split("/")[2] for r in post.requests if r.is_main_frame}
    assert main_hosts == {"indie-blog.example", "w.soundcloud.com", "i1.sndcdn.com"}  # page, api.js, artwork
    assert not any("cf-media" in r.url for r in post.requests if r.is_main_frame)
    # The browser reached SoundCloud's stand-ins the only way it can: TLS through CONNECT.
    assert {(r.host, r.via) for r in net.internet.requests if r.host == "cf-media.sndcdn.com"} == {
        ("cf-media.sndcdn.com", "connect")
    }


def test_a_stalled_rendered_page_is_a_timeout_item_and_its_page_is_closed(net):
    items, stats = crawl_with_stats(
        net,
        {"name": "trap", "start_urls": ["http://trap.example/slow"], "render": True, "follow_sitemap": False},
        PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT=3000,
    )
    (slow,) = items
    assert (slow.status, slow.error_kind, slow.rendered) == (None, "timeout", True)
    assert [r.url for r in slow.requests] == ["http://trap.example/slow"] and slow.requests[0].status is None
    assert stats["playwright/page_count"] == stats["scrapewatch/rendered_pages_closed"] == 1


def test_a_huge_rendered_page_crosses_over_only_up_to_the_cap(net):
    target = {"name": "trap", "start_urls": ["http://trap.example/huge"], "render": True, "follow_sitemap": False}
    (huge,) = crawl(net, target, SCRAPEWATCH_MAX_RESPONSE_BYTES=1_048_576)
    assert (huge.status, huge.rendered, huge.truncated, len(huge.body)) == (200, True, True, 1_048_576), (
        huge.error_kind,
        huge.error_detail,
    )
    assert huge.size > TRAP_HUGE_BYTES and huge.body.startswith(b"<html><head></head><body><p>all work")


@pytest.mark.parametrize("allow_private", [False, True])
def test_the_browser_does_not_probe_private_addresses(net, allow_private):
    net.internet.clear_requests()
    target = {"name": "trap", "start_urls": ["http://trap.example/ssrf"], "render": True, "follow_sitemap": False}
    overrides = {"PLAYWRIGHT_ABORT_REQUEST": None} if allow_private else {}
    (page,) = crawl(net, target, **overrides)
    metadata = [r for r in page.requests if r.url.startswith("http://169.254.169.254/")]
    loopback = [r for r in page.requests if r.url.startswith("http://localhost:9/")]
    assert len(metadata) == len(loopback) == 1  # attempted, so captured either way
    reached_proxy = any(r.host == "169.254.169.254" for r in net.internet.requests)
    assert reached_proxy is allow_private
    if not allow_private:
        assert metadata[0].status is None and metadata[0].failure and loopback[0].failure


def test_crawl_service_renders_only_the_crawl_that_asks(net):
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    settings.watch.chromium_path = CHROMIUM
    service = CrawlService(settings, scrapy_overrides=FAST, browser_spki_pin=net.internet.leaf_spki_sha256)
    target = {"name": "blog", "start_urls": [POST], "max_depth": 0, "follow_sitemap": False}
    rendered = reactor.run(crawl_target(service, WatchTarget(**target, render=True)))
    plain = reactor.run(crawl_target(service, WatchTarget(**target)))
    assert [(i.url, i.rendered, i.status) for i in rendered] == [(POST, True, 200)]
    assert any(r.url.startswith("https://cf-media.sndcdn.com/") for r in rendered[0].requests)
    assert [(i.url, i.rendered, i.status, i.requests) for i in plain] == [(POST, False, 200, [])]
    assert PLAYWRIGHT_HANDLER not in service.crawl_settings.getdict("DOWNLOAD_HANDLERS").values()
    assert service.active() == 0


def test_playwright_settings_carry_the_proxy_and_the_pin():
    settings = playwright_settings("/opt/chromium", "http://egress:3128", "PIN=", no_proxy=["corp.example"])
    launch = settings["PLAYWRIGHT_LAUNCH_OPTIONS"]
    assert launch["executable_path"] == "/opt/chromium" and launch["headless"] is True
    assert launch["proxy"]["server"] == "http://egress:3128"
    assert launch["proxy"]["bypass"].startswith("corp.example,update.googleapis.com,")
    assert "--ignore-certificate-errors-spki-list=PIN=" in launch["args"]
    assert settings["DOWNLOAD_HANDLERS"] == {"http": PLAYWRIGHT_HANDLER, "https": PLAYWRIGHT_HANDLER}
    assert settings["PLAYWRIGHT_ABORT_REQUEST"] == "spiders.rendering.targets_private_network"
    assert "PLAYWRIGHT_ABORT_REQUEST" not in playwright_settings("c", None, allow_private_networks=True)
    direct = playwright_settings("/usr/bin/chromium", None)
    assert "proxy" not in direct["PLAYWRIGHT_LAUNCH_OPTIONS"]
    assert not any("spki" in arg for arg in direct["PLAYWRIGHT_LAUNCH_OPTIONS"]["args"])
