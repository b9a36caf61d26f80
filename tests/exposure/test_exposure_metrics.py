"""The exposure probe's metrics after real runs against the simulated internet: bytes crawled per target and kind,
audio files inspected by outcome, render time, whether the target answered; every value checked against the crawl's
own items and the demo sites' content."""

from __future__ import annotations

import pytest
from helpers.watch_run import CHROMIUM

from monitor.db import open_db
from monitor.demo.exposure_sites import _REUPLOAD_HOME
from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import NOT_FOUND
from monitor.evaluators.watch import AUDIO_OUTCOMES
from monitor.metrics import REGISTRY
from monitor.probes.watch import ExposureProbe
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import WatchTarget, load_settings
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles

FAST = {"AUTOTHROTTLE_ENABLED": False, "DOWNLOAD_DELAY": 0.0, "LOG_LEVEL": "WARNING"}
KINDS = ("page", "script", "playlist", "audio", "sitemap")


class RecordingCrawl(CrawlService):
    """The daemon's crawl service, keeping the items of its latest watch crawl for the test to compare with."""

    items: list = []

    async def run_spider(self, spidercls, label, **kwargs):
        self.items = await super().run_spider(spidercls, label, **kwargs)
        return self.items


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet() as running:
        yield running


@pytest.fixture
def probe(tmp_path, net):
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    settings.http.timeout_seconds = 3
    settings.watch.chromium_path = CHROMIUM
    store = Store(open_db(tmp_path / "sw.db"), EvidenceFiles(tmp_path / "evidence"))
    crawl = RecordingCrawl(settings, scrapy_overrides=FAST, browser_spki_pin=net.internet.leaf_spki_sha256)
    yield ExposureProbe(store, crawl)
    store.db.close()


def value(name: str, **labels: str) -> float:
    return REGISTRY.get_sample_value(name, labels) or 0.0


def snapshot(target: str) -> dict[str, float]:
    """Every exposure metric of ``target`` (counters as totals so far)."""
    out = {f"bytes:{k}": value("scrapewatch_exposure_bytes_total", target=target, kind=k) for k in KINDS}
    for outcome in AUDIO_OUTCOMES:
        out[f"audio:{outcome}"] = value("scrapewatch_exposure_audio_files_total", target=target, outcome=outcome)
    for outcome in ("ok", "failed"):
        out[f"pages:{outcome}"] = value("scrapewatch_exposure_pages_total", target=target, outcome=outcome)
    out["render:count"] = value("scrapewatch_exposure_render_seconds_count", target=target)
    out["render:sum"] = value("scrapewatch_exposure_render_seconds_sum", target=target)
    return out


def delta(before: dict[str, float], after: dict[str, float]) -> dict[str, float]:
    return {k: round(after[k] - before[k], 6) for k in before if after[k] != before[k]}


def up(target: str) -> float | None:
    return REGISTRY.get_sample_value("scrapewatch_exposure_target_up", {"target": target})


def test_a_reupload_crawl_counts_its_bytes_and_one_tagged_file(probe):
    target = WatchTarget(name="metrics-reupload", start_urls=["https://reupload.example/"], audio_byte_cap=262_144)
    before = snapshot(target.name)
    reactor.run(probe.run("exposure_watch:metrics-reupload", target))
    (audio,) = [i for i in probe.crawl.items if i.kind == "audio"]
    # The MP3 is longer than the audio cap: the download stops a little after 256 KiB.
    assert target.audio_byte_cap <= audio.size < target.audio_byte_cap + 64 * 1024
    assert delta(before, snapshot(target.name)) == {
        "bytes:page": len(_REUPLOAD_HOME.encode()),
        "bytes:sitemap": len(NOT_FOUND.body),  # /sitemap.xml answers 404, and those bytes were received too
        "bytes:audio": audio.size,
        "audio:tagged": 1,
        "pages:ok": 1,
    }
    assert up(target.name) == 1


def test_a_downloader_crawl_counts_untagged_and_unreadable_files(probe):
    target = WatchTarget(name="metrics-sc2mp3", start_urls=["https://sc2mp3-fast.example/"])
    before = snapshot(target.name)
    reactor.run(probe.run("exposure_watch:metrics-sc2mp3", target))
    items = probe.crawl.items
    changed = delta(before, snapshot(target.name))
    for kind in KINDS:
        assert changed.get(f"bytes:{kind}", 0) == sum(i.size for i in items if i.kind == kind)
    # The server-merged MP3 has no tags (twice: http and https links); the dl.php relay's M4A head has no
    # audio track to read (twice). SoundCloud's own CDN links are never fetched, so never counted.
    assert {k: v for k, v in changed.items() if k.startswith("audio:")} == {"audio:untagged": 2, "audio:error": 2}
    pages = [i for i in items if i.kind == "page"]
    assert changed["pages:ok"] == len([p for p in pages if p.status is not None and p.status < 400]) == 7
    # robots.txt keeps the crawl out of /admin/: not requested, so not a failed page.
    assert "pages:failed" not in changed and any(p.error_kind == "robots_disallowed" for p in pages)
    assert up(target.name) == 1


def test_target_up_follows_the_latest_crawl(probe, net):
    target = WatchTarget(name="metrics-flaky", start_urls=["http://trap.example/slow"], follow_sitemap=False)
    reactor.run(probe.run("exposure_watch:metrics-flaky", target))  # the only page never answers
    assert up(target.name) == 0 and value("scrapewatch_exposure_pages_total", target=target.name, outcome="failed")
    works = target.model_copy(update={"start_urls": ["http://trap.example/loop/a"], "max_depth": 0})
    reactor.run(probe.run("exposure_watch:metrics-flaky", works))
    assert up(target.name) == 1
    # A crawl that cannot run at all is down too, and the run is recorded as an error (the probe raised).
    reactor.run(probe.crawl.stop())
    applied = reactor.run(probe.run("exposure_watch:metrics-flaky", works))
    assert up(target.name) == 0 and applied.outcome == "error"
    (run,) = probe.store.db.query("SELECT outcome, error_kind, error_detail FROM probe_runs ORDER BY id DESC LIMIT 1")
    assert run["outcome"] == "error" and run["error_kind"] == "crash" and run["error_detail"].startswith("CrawlError")


@pytest.mark.browser
def test_rendered_pages_observe_their_render_time(probe):
    target = WatchTarget(name="metrics-scplayer", start_urls=["https://scplayer.example/"], render=True, max_pages=2)
    before = snapshot(target.name)
    reactor.run(probe.run("exposure_watch:metrics-scplayer", target))
    rendered = [i for i in probe.crawl.items if i.kind == "page" and i.rendered]
    assert len(rendered) == 2 and all(i.status == 200 for i in rendered)
    changed = delta(before, snapshot(target.name))
    assert changed["render:count"] == 2
    assert changed["render:sum"] == pytest.approx(sum(i.duration_seconds for i in rendered))
    assert min(i.duration_seconds for i in rendered) > 0 and max(i.duration_seconds for i in rendered) < 30
    # A rendered page counts its serialised DOM; the playlist it loads is fetched (and counted) by Scrapy.
    assert changed["bytes:page"] == sum(len(i.body) for i in rendered)
    assert changed["bytes:playlist"] > 0 and up(target.name) == 1
    bucket = REGISTRY.get_sample_value(
        "scrapewatch_exposure_render_seconds_bucket", {"target": target.name, "le": "60.0"}
    )
    assert bucket == changed["render:count"] + before["render:count"]
