"""Bad input for rendered exposure crawls, in Debian's Chromium through the simulated internet: scripts that never
let a page settle end as render timeouts with a reason (the crawl used to hang forever), and redirect chains into
private addresses are refused by the browser too."""

from __future__ import annotations

import time
from datetime import UTC, datetime

import pytest
from helpers.watch_run import crawl_with_stats

from monitor.demo.internet import BackgroundInternet
from monitor.demo.trap_sites import PRIVATE_TARGETS
from monitor.evaluators.watch import evaluate_crawl

pytestmark = pytest.mark.browser

TRAP = "http://trap.example"
# Short deadlines keep the tests quick: 4 s to navigate, 4 s for each step after it (settle, screenshot, DOM).
SHORT = {"PLAYWRIGHT_DEFAULT_NAVIGATION_TIMEOUT": 4000, "SCRAPEWATCH_RENDER_TIMEOUT": 4, "DOWNLOAD_TIMEOUT": 5}


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


def rendered(path: str) -> dict:
    return {"name": "trap", "start_urls": [f"{TRAP}{path}"], "render": True, "follow_sitemap": False}


@pytest.mark.parametrize(
    ("path", "status", "reason"),
    [
        # A busy loop before DOMContentLoaded: navigation itself times out (on a loaded machine the handler's own
        # deadline may report first; either way it is a bounded render timeout).
        ("/spin", None, ("Timeout 4000ms exceeded", "render timeout: the page was not loaded and read within 8 s")),
        # A busy loop right after load: reading the DOM after navigation never returns (the handler's deadline).
        ("/spin-after-load", None, "render timeout: the page was not loaded and read within 8 s"),
        # Busy network, then a busy loop after 3 s: the page loaded, but its DOM cannot be read (our own deadline).
        ("/spin-later", 200, "render timeout: the page's scripts did not let its DOM be read within 4 s"),
    ],
)
def test_js_that_never_settles_is_a_render_timeout(net, path, status, reason):
    started = time.monotonic()
    items, stats = crawl_with_stats(net, rendered(path), **SHORT)
    result = evaluate_crawl("trap", items, now=datetime.now(UTC))
    assert time.monotonic() - started < 40  # bounded: the crawl used to wait forever on /spin-after-load
    (page,) = items
    assert (page.status, page.error_kind, page.rendered) == (status, "timeout", True)
    reasons = reason if isinstance(reason, tuple) else (reason,)
    assert any(r in page.error_detail for r in reasons), page.error_detail
    assert page.screenshot is None  # a page that never yields is never painted
    assert stats["playwright/page_count"] == stats["scrapewatch/rendered_pages_closed"] == 1
    assert (result.pages_ok, result.pages_failed) == ((1, 0) if status else (0, 1))
    assert not result.evaluation.findings
    assert result.render_seconds == [page.duration_seconds] and page.duration_seconds < 20


@pytest.mark.parametrize("name", ["metadata", "loopback", "rfc1918", "localhost"])
def test_rendered_redirect_chain_into_a_private_address_is_refused(net, name):
    net.internet.clear_requests()
    items, stats = crawl_with_stats(net, rendered(f"/to-private/{name}/2"), **SHORT)
    (page,) = items
    assert (page.status, page.error_kind) == (None, "egress_refused")
    assert page.error_detail.startswith(f"navigation to {PRIVATE_TARGETS[name]} refused")
    # Chromium followed the same-site hops, and the browser was stopped before the private address.
    hops = [r.path for r in net.internet.requests if r.host == "trap.example" and r.path.startswith("/to-private/")]
    assert hops == [f"/to-private/{name}/{n}" for n in (2, 1, 0)]
    private_host = PRIVATE_TARGETS[name].split("/")[2].rsplit(":", 1)[0]
    assert not [r for r in net.internet.requests if r.host == private_host]
    refused = [r for r in page.requests if r.url == PRIVATE_TARGETS[name] and r.failure and "refused" in r.failure]
    assert refused and refused[0].is_navigation and refused[0].is_main_frame
    assert stats["playwright/page_count"] == stats["scrapewatch/rendered_pages_closed"] == 1
    result = evaluate_crawl("trap", items, now=datetime.now(UTC))
    assert (result.pages_ok, result.healthy, result.evaluation.findings) == (0, False, [])
