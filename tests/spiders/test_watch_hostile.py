"""WatchSpider against trap.example: loops, endless depth, link floods, huge / slow / garbage pages stay bounded."""

from __future__ import annotations

import time

import pytest
from helpers.watch_run import by_url, crawl

from monitor.demo.internet import BackgroundInternet
from monitor.demo.trap_sites import TRAP_HUGE_BYTES
from monitor.net import is_soundcloud_host
from spiders.watch_links import kind_of_link, kind_of_media
from spiders.watch_scope import embeds_soundcloud_media, in_scope, site_of

TRAP = "http://trap.example"


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


@pytest.fixture
def internet(net):
    net.internet.clear_requests()
    return net


def trap_paths(net: BackgroundInternet) -> list[str]:
    return [r.path for r in net.internet.requests if r.host == "trap.example"]


def test_endless_depth_stops_at_max_depth(internet):
    items = crawl(internet, {"name": "trap", "start_urls": [f"{TRAP}/deep/1"], "max_depth": 3})
    pages = sorted((item.depth, item.url) for item in items if item.kind == "page")
    assert pages == [(n - 1, f"{TRAP}/deep/{n}") for n in (1, 2, 3, 4)]
    assert "/deep/5" not in trap_paths(internet)


def test_page_limit_and_loops(internet):
    items = crawl(internet, {"name": "trap", "start_urls": [f"{TRAP}/"], "max_pages": 20})
    pages = [item for item in items if item.kind == "page"]
    assert len(pages) == 20 and max(item.depth for item in pages) <= 2
    paths = trap_paths(internet)
    # The loop a <-> b (and self-links, fragments) is fetched once per page.
    assert paths.count("/loop/a") == 1 and paths.count("/loop/b") == 1
    assert len([p for p in paths if p not in ("/robots.txt", "/sitemap.xml")]) == 20


def test_default_page_limit_is_fifty(internet):
    items = crawl(internet, {"name": "trap", "start_urls": [f"{TRAP}/"], "follow_sitemap": False})
    assert len(items) == 50 and {item.kind for item in items} == {"page"}
    assert len([p for p in trap_paths(internet) if p != "/robots.txt"]) == 50


def test_hostile_pages_are_bounded_items(internet):
    started = time.monotonic()
    items = crawl(
        internet,
        {"name": "trap", "start_urls": [f"{TRAP}/hostile"], "follow_sitemap": False},
        DOWNLOAD_TIMEOUT=2,
        SCRAPEWATCH_MAX_RESPONSE_BYTES=1_048_576,
    )
    assert time.monotonic() - started < 15
    got = by_url(items)
    huge = got[f"{TRAP}/huge"]
    assert (huge.status, huge.truncated, len(huge.body)) == (200, True, 1_048_576)
    assert 1_048_576 < huge.size < TRAP_HUGE_BYTES
    slow = got[f"{TRAP}/slow"]
    assert (slow.status, slow.error_kind) == (None, "timeout") and 1.5 < slow.duration_seconds < 6
    loop = got[f"{TRAP}/redirect-loop"]
    assert (loop.status, loop.error_kind) == (None, "redirect_loop") and len(loop.redirects) >= 5
    garbage = got[f"{TRAP}/garbage"]
    assert (garbage.status, garbage.error_kind, len(garbage.body)) == (200, None, 64 * 1024)
    assert len(items) == 5  # the garbage page led nowhere


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("soundcloud.com", True),
        ("w.soundcloud.com", True),
        ("cf-media.sndcdn.com", True),
        ("playback.media-streaming.soundcloud.cloud", True),
        ("SoundCloud.com.", True),
        ("soundcloud.app.goo.gl", True),
        ("notsoundcloud.com", False),
        ("soundcloud.com.evil.example", False),
        ("sc2mp3-fast.example", False),
    ],
)
def test_soundcloud_hosts(host, expected):
    assert is_soundcloud_host(host) is expected


@pytest.mark.parametrize(
    ("host", "expected"),
    [
        ("site.example", True),
        ("www.site.example", True),
        ("cdn.site.example", True),
        ("othersite.example", False),
        ("site.example.evil", False),
        ("extra.example", True),
        ("", False),
    ],
)
def test_same_site_scope(host, expected):
    sites = frozenset({site_of("www.site.example"), "extra.example"})
    assert in_scope(host, sites) is expected


def test_soundcloud_hosts_are_never_in_scope_even_when_listed():
    assert not in_scope("w.soundcloud.com", frozenset({"soundcloud.com"}))


@pytest.mark.parametrize(
    ("url", "kind"),
    [
        ("http://a.example/x.mp3", "audio"),
        ("http://a.example/X.FLAC?dl=1", "audio"),
        ("http://a.example/list.m3u8", "playlist"),
        ("http://a.example/track", "page"),
        ("http://a.example/dl.php?u=https%3A%2F%2Fcf-media.sndcdn.com%2Fabc.128.mp3", "audio"),
        ("http://a.example/go?url=https%253A%252F%252Fplayback.media-streaming.soundcloud.cloud%252Fx", "audio"),
        ("http://a.example/convert?url=https%3A%2F%2Fsoundcloud.com%2Fa%2Fb", "page"),
    ],
)
def test_link_kinds(url, kind):
    assert kind_of_link(url) == kind


def test_download_attribute_and_media_sources():
    assert kind_of_link("http://a.example/get/42", download=True) == "audio"
    assert kind_of_media("http://a.example/relay/playlist.m3u8") == "playlist"
    assert kind_of_media("http://a.example/stream/42") == "audio"
    assert embeds_soundcloud_media("http://a.example/x?src=https://api-v2.soundcloud.com/media/soundcloud:tracks:1/")
    assert not embeds_soundcloud_media("http://a.example/x?src=https://i1.sndcdn.example/a.jpg")
