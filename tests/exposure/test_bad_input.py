"""Bad input for the exposure hunt, through the real watch spider and evaluation against trap.example: malformed
HTML, a 50 MB page, a calendar trap, redirect chains into private addresses, binary served as HTML, audio files that
are not audio and decompression bombs end in bounded time and memory, with a recorded reason and no false incident."""

from __future__ import annotations

import struct
import time
import zlib
from datetime import UTC, datetime

import pytest
from helpers.memory import PeakRss
from helpers.watch_run import crawl_with_stats

from monitor.db import open_db
from monitor.demo.internet import BackgroundInternet
from monitor.demo.trap_sites import BOMB_INFLATED_BYTES, PRIVATE_TARGETS, TRAP_FIFTY_MB, bomb_body
from monitor.evaluators.watch import TargetResult, evaluate_crawl
from monitor.metrics import REGISTRY
from monitor.probes.base import record
from monitor.probes.watch import ExposureProbe, crawl_target
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import WatchTarget, load_settings
from monitor.signatures.model import severity_rank
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles
from spiders.watch_items import WatchResource

TRAP = "http://trap.example"
MIB = 1024 * 1024
CAP = 2 * MIB  # http.max_response_bytes' default
FAST = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0.0, "LOG_LEVEL": "WARNING"}


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


def _service(net, timeout_seconds: float) -> CrawlService:
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    settings.http.timeout_seconds = timeout_seconds
    assert settings.http.max_response_bytes == CAP
    service = CrawlService(settings, scrapy_overrides=FAST)
    # A first crawl pays for Scrapy's own start-up, so that memory measured afterwards is the page's.
    reactor.run(crawl_target(service, target("/loop/a", max_depth=0)))
    return service


@pytest.fixture(scope="module")
def service(net):
    return _service(net, 5)


@pytest.fixture(scope="module")
def patient_service(net):
    """For downloads that are big on purpose: a loaded CI machine must not turn them into timeouts."""
    return _service(net, 60)


def target(path: str, **fields) -> WatchTarget:
    return WatchTarget(name="trap", start_urls=[f"{TRAP}{path}"], follow_sitemap=False, **fields)


def spider_target(path: str, **fields) -> dict:
    """The watch spider's ``target`` argument, as CrawlService passes it."""
    return target(path, **fields).model_dump(exclude={"interval_seconds"})


def scan(service: CrawlService, path: str, **fields) -> tuple[list[WatchResource], TargetResult, float]:
    """Crawl ``path`` with the daemon's crawl service and evaluate it: items, result, seconds for both."""
    started = time.monotonic()
    items = reactor.run(crawl_target(service, target(path, **fields)))
    result = evaluate_crawl("trap", items, now=datetime.now(UTC))
    return items, result, time.monotonic() - started


def alerting(result: TargetResult) -> list:
    return [m for m in result.matches if severity_rank(m.severity) >= severity_rank("low")]


def requested(net: BackgroundInternet, host: str = "trap.example") -> list[str]:
    return [r.path for r in net.internet.requests if r.host == host]


def test_malformed_html_is_scanned_and_followed_in_bounded_time(service):
    # Unclosed tags, junk attributes, 20,000 levels of nesting (beyond libxml2's limit), unterminated comment.
    items, result, seconds = scan(service, "/malformed", max_depth=1)
    assert seconds < 15
    pages = {i.url: i for i in items if i.kind == "page"}
    assert pages[f"{TRAP}/malformed"].status == 200 and pages[f"{TRAP}/malformed"].error_kind is None
    # The links after the deep nesting are still found (a browser shows them; libxml2 alone dropped them).
    assert {f"{TRAP}/loop/a", f"{TRAP}/deep/1", f"{TRAP}/loop/b"} <= set(pages)
    # The download link buried in the nesting is still a finding, and the only one.
    (finding,) = result.evaluation.findings
    assert (finding.kind, finding.severity) == ("exposure_cdn_media", "critical")
    assert "SC-CDN-PROGRESSIVE" in finding.data["signatures"]


def test_a_50_mb_page_is_cut_at_the_cap_in_bounded_memory(service):
    with PeakRss() as memory:
        items, result, seconds = scan(service, "/fifty-mb")
    (page,) = items
    assert (page.status, page.truncated, len(page.body)) == (200, True, CAP)
    assert CAP <= page.size < CAP + MIB < TRAP_FIFTY_MB  # the download stopped soon after the cap
    assert seconds < 15 and result.pages_ok == 1 and not result.evaluation.findings
    # Holding the whole page would cost 50 MiB at least; the cut page, parsed and scanned, costs far less.
    assert memory.growth < 40 * MIB, memory.growth / MIB


def test_calendar_trap_is_bounded_by_max_pages(net):
    net.internet.clear_requests()
    started = time.monotonic()
    items, stats = crawl_with_stats(net, spider_target("/calendar", max_pages=25, max_depth=3))
    result = evaluate_crawl("trap", items, now=datetime.now(UTC))
    assert time.monotonic() - started < 30
    assert len(items) == 25 and {i.kind for i in items} == {"page"} and max(i.depth for i in items) <= 3
    assert result.pages_ok == 25 and not result.evaluation.findings
    # Exactly the pages taken on were fetched, and the crawl says why it stopped.
    assert len([p for p in requested(net) if p.startswith("/calendar")]) == 25
    assert stats["scrapewatch/watch/limit/max_pages"] > 0


def test_calendar_trap_is_bounded_by_max_depth(net):
    items, stats = crawl_with_stats(net, spider_target("/calendar", max_pages=500, max_depth=1))
    # The start page and its 2 month links + 28 day links; nothing one hop further.
    assert sorted({i.depth for i in items}) == [0, 1] and len(items) == 31
    assert stats["scrapewatch/watch/limit/max_depth"] > 0 and "scrapewatch/watch/limit/max_pages" not in stats


@pytest.mark.parametrize("name", sorted(PRIVATE_TARGETS))
def test_redirect_chain_into_a_private_address_is_refused(service, net, name):
    net.internet.clear_requests()
    items, result, _ = scan(service, f"/to-private/{name}/3")
    (page,) = items
    assert (page.status, page.error_kind) == (None, "egress_refused")
    assert "private" in page.error_detail or "local machine" in page.error_detail
    assert page.redirects == [f"{TRAP}/to-private/{name}/{n}" for n in (3, 2, 1, 0)]
    # The proxy saw the four same-site answers and nothing else: the private address was never asked for.
    assert [(r.host, r.path) for r in net.internet.requests if r.path != "/robots.txt"] == [
        ("trap.example", f"/to-private/{name}/{n}") for n in (3, 2, 1, 0)
    ]
    assert (result.pages_ok, result.pages_failed, result.healthy) == (0, 1, False)
    assert not result.evaluation.findings


def test_binary_served_as_html_is_a_page_without_findings(service):
    items, result, seconds = scan(service, "/garbage")
    (page,) = items
    assert (page.status, page.error_kind, page.content_type) == (200, None, "text/html")
    assert len(page.body) == page.size == 64 * 1024 and not page.truncated
    assert seconds < 10 and result.pages_ok == 1
    assert not alerting(result) and not result.evaluation.findings


def test_decompression_bomb_page_inflates_only_to_the_cap(patient_service):
    service = patient_service
    served = bomb_body()
    # What the site sends: under 2 MB of gzip that inflates to 1.9 GB (the gzip trailer's size, mod 2**32).
    assert len(served) < CAP and struct.unpack("<I", served[-4:])[0] == (BOMB_INFLATED_BYTES + 30) % 2**32
    with PeakRss() as memory:
        items, result, seconds = scan(service, "/bomb")
    (page,) = items
    assert page.headers["content-encoding"] == ["gzip"] and page.size == len(served)
    assert page.status == 200 and page.truncated and len(page.body) == CAP
    assert page.body.startswith(b"<!doctype html><html><body><p>") and page.body.endswith(b" " * 1024)
    assert page.error_kind is None and f"inflates beyond {CAP} bytes" in page.error_detail  # the recorded reason
    # Inflating the whole bomb would take minutes and 1.9 GB; stopping at the cap takes seconds and no memory.
    assert seconds < 60 and memory.growth < 64 * MIB, memory.growth / MIB
    assert result.pages_ok == 1 and not result.evaluation.findings


def test_a_gzip_encoded_page_is_read_decoded(net):
    # The other side of the bomb: a server that ignores Accept-Encoding: identity is still scanned.
    from monitor.demo.model import Response, Site, by_host

    page = b'<html><body><a download href="/night-drive.mp3">mp3</a></body></html>'
    sites = by_host(
        [
            Site(
                "gz.test",
                {
                    "/": Response(
                        body=zlib.compress(page), content_type="text/html", headers=(("Content-Encoding", "deflate"),)
                    ),
                    "/night-drive.mp3": Response(body=b"ID3", content_type="audio/mpeg"),
                },
            )
        ]
    )
    with BackgroundInternet(sites) as gz:
        items, _ = crawl_with_stats(gz, {"name": "gz", "start_urls": ["http://gz.test/"], "follow_sitemap": False})
    assert [(i.url, i.kind, i.error_detail) for i in items] == [
        ("http://gz.test/", "page", None),
        ("http://gz.test/night-drive.mp3", "audio", None),
    ]
    assert items[0].body == page and items[0].size < len(page)


def audio_files(target_name: str, outcome: str) -> float:
    return (
        REGISTRY.get_sample_value("scrapewatch_exposure_audio_files_total", {"target": target_name, "outcome": outcome})
        or 0.0
    )


def test_files_named_mp3_that_are_not_audio_raise_nothing(tmp_path, net):
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    store = Store(open_db(tmp_path / "sw.db"), EvidenceFiles(tmp_path / "ev"))
    probe = ExposureProbe(store, CrawlService(settings, scrapy_overrides=FAST))
    shelf = WatchTarget(name="not-audio-shelf", start_urls=[f"{TRAP}/audio-shelf"], follow_sitemap=False)
    before = {o: audio_files("not-audio-shelf", o) for o in ("tagged", "untagged", "not_audio", "error")}
    started = time.monotonic()
    with PeakRss() as memory:
        items = reactor.run(crawl_target(probe.crawl, shelf))
        result = evaluate_crawl(shelf.name, items, now=datetime.now(UTC))
        job = probe.job("exposure_watch:not-audio-shelf", shelf)
        applied = record(probe, job, probe.outcome(shelf, result), "2026-01-01T00:00:00+00:00", started)
    audio = {i.url.rsplit("/", 1)[1]: i for i in items if i.kind == "audio"}
    assert set(audio) == {"not-audio.mp3", "bomb.mp3", "zip-as.mp3"}
    assert all(i.status == 200 and i.content_type == "audio/mpeg" for i in audio.values())
    # The gzip-bombed MP3 inflates no further than the audio cap (256 KiB), with the reason recorded.
    bomb = audio["bomb.mp3"]
    assert bomb.truncated and len(bomb.body) == shelf.audio_byte_cap and "inflates beyond" in bomb.error_detail
    assert bomb.size <= shelf.audio_byte_cap + 64 * 1024
    # Tags were read from each and each is counted as not audio; no file-tag signature fires.
    assert not [m for m in result.matches if m.signature.startswith("SC-FILE-")]
    assert not result.evaluation.findings and not applied.transitions
    assert not list(store.db.query("SELECT id FROM incidents"))
    after = {o: audio_files("not-audio-shelf", o) for o in before}
    assert {o: after[o] - before[o] for o in before} == {"tagged": 0, "untagged": 0, "not_audio": 3, "error": 0}
    assert time.monotonic() - started < 15 and memory.growth < 64 * MIB
    store.db.close()
