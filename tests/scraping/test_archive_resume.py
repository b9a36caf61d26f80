"""Archive pagination resumes: a run capped by max_pages_per_run leaves a resume point, the next run continues there
(round-robin over crawls, queries and datasets, wrapping around), and a run that crashes keeps the old point."""

from __future__ import annotations

import pytest
from scraping_fakes import service

from monitor.db import open_db
from monitor.demo.archive_sites import DATASET, OTHER_DATASET
from monitor.demo.scraping_config import demo_scraping_settings
from monitor.probes.archives import ArchiveJob, ArchiveProbe
from monitor.probes.scraping import query_index
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import CommonCrawlEndpoint, DatasetHubEndpoint, Settings, WaybackEndpoint
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles
from spiders.archive_cursor import parse_resume

CC = "http://index.commoncrawl.test"
SC2MP3 = {"url": "sc2mp3-fast.example", "match_type": "domain"}
RIP = {"url": "rip-canary.example", "match_type": "domain"}
SNDCDN = {"url": "sndcdn.com", "match_type": "domain"}


def runs(net, endpoint, queries, n):
    """``n`` runs in a row, each resuming where the previous one's last page said: the pages of each run."""
    crawl, resume, out = service(net), None, []
    for _ in range(n):
        pages = reactor.run(query_index(crawl, endpoint, queries, resume))
        resume = pages[-1].resume
        out.append(pages)
    return out


def fetched(pages):
    return [(p.kind, p.crawl, p.query, p.page) for p in pages if p.kind in ("cc_index", "cdx")]


def test_common_crawl_covers_both_crawls_in_two_runs(net):
    endpoint = CommonCrawlEndpoint(enabled=True, base_url=CC, rate_limit_seconds=0, max_pages_per_run=4)
    first, second = runs(net, endpoint, [SC2MP3], 2)
    assert fetched(first) == [
        ("cc_index", "CC-MAIN-2026-21", "sc2mp3-fast.example", 0),
        ("cc_index", "CC-MAIN-2026-21", "sc2mp3-fast.example", 1),
    ]
    assert first[-1].stop == "page_cap"
    assert first[-1].resume == {"chain": "CC-MAIN-2026-17 sc2mp3-fast.example domain", "position": {}}
    # The second run begins with the crawl the first never reached, then wraps around to the first crawl.
    assert [(p.kind, p.crawl, p.page) for p in second] == [
        ("collinfo", None, 0),
        ("num_pages", "CC-MAIN-2026-17", 0),
        ("cc_index", "CC-MAIN-2026-17", 0),
        ("num_pages", "CC-MAIN-2026-21", 0),
    ]
    assert second[-1].resume == {
        "chain": "CC-MAIN-2026-21 sc2mp3-fast.example domain",
        "position": {"page": 0, "num_pages": 2},
    }


def test_common_crawl_resumes_mid_query_at_its_page_and_reaches_every_query(net):
    endpoint = CommonCrawlEndpoint(enabled=True, base_url=CC, rate_limit_seconds=0, max_pages_per_run=3)
    done = runs(net, endpoint, [SC2MP3, RIP], 4)
    assert done[0][-1].resume == {
        "chain": "CC-MAIN-2026-21 sc2mp3-fast.example domain",
        "position": {"page": 1, "num_pages": 2},
    }
    # The next run asks for page 1 straight away (no second showNumPages).
    assert [(p.kind, p.page) for p in done[1][1:2]] == [("cc_index", 1)]
    pairs = {(crawl, query) for pages in done for _, crawl, query, _ in fetched(pages)}
    assert pairs == {
        ("CC-MAIN-2026-21", "sc2mp3-fast.example"),
        ("CC-MAIN-2026-21", "rip-canary.example"),
        ("CC-MAIN-2026-17", "sc2mp3-fast.example"),
    }  # CC-MAIN-2026-17 holds no rip-canary capture: asked (num_pages 0), nothing to fetch
    asked = {(p.crawl, p.query) for pages in done for p in pages if p.kind == "num_pages"}
    assert ("CC-MAIN-2026-17", "rip-canary.example") in asked


def test_wayback_continues_from_its_resume_key_then_starts_over(net):
    endpoint = WaybackEndpoint(
        enabled=True, base_url="http://web.archive.test", rate_limit_seconds=0, page_size=1, max_pages_per_run=2
    )
    first, second, third = runs(net, endpoint, [SNDCDN], 3)
    assert [(p.page, p.stop) for p in first] == [(0, None), (1, "page_cap")]
    key = first[-1].resume["position"]["resume_key"]
    assert first[-1].resume == {"chain": "sndcdn.com domain", "position": {"resume_key": key, "page": 2}}
    assert [(p.page, p.stop) for p in second] == [(2, "complete")] and "resumeKey=" in second[0].url
    seen = [r["original"].split("?")[0] for pages in (first, second) for p in pages for r in p.rows]
    assert sorted(seen) == sorted(set(seen)) and len(seen) == 3  # each capture once, none skipped
    # After the last page the next run starts over from the first page.
    assert second[-1].resume == {"chain": "sndcdn.com domain", "position": {}}
    assert "resumeKey=" not in third[0].url and third[0].page == 0


def test_a_query_no_longer_configured_starts_from_the_first(net):
    endpoint = WaybackEndpoint(enabled=True, base_url="http://web.archive.test", rate_limit_seconds=0)
    stale = {"chain": "gone.example domain", "position": {"resume_key": "x", "page": 7}}
    pages = reactor.run(query_index(service(net), endpoint, [SNDCDN], stale))
    assert (pages[0].page, "resumeKey=" in pages[0].url, pages[-1].stop) == (0, False, "complete")


def test_dataset_hub_takes_datasets_round_robin(net):
    hub = DatasetHubEndpoint(
        enabled=True,
        base_url="http://huggingface.test",
        viewer_url="http://datasets-server.huggingface.test",
        rate_limit_seconds=0,
        rows_page_size=25,
        max_pages_per_run=6,
    )
    first, second = runs(net, hub, ["soundcloud"], 2)
    cards = [[p.dataset for p in pages if p.kind == "dataset_card"] for pages in (first, second)]
    assert cards == [[DATASET], [OTHER_DATASET, DATASET]]
    assert first[-1].resume == {"chain": OTHER_DATASET, "position": {}}


def test_a_bad_resume_point_is_a_clear_error():
    assert parse_resume(None) is None
    with pytest.raises(ValueError, match="resume must be"):
        parse_resume({"position": {}})
    with pytest.raises(ValueError, match="resume must be"):
        parse_resume('{"chain": "a", "position": 3}')


# --- through the probe and the store -------------------------------------------------------------------------------


class CrashingArchiveProbe(ArchiveProbe):
    """Queries the archive for real, then raises before anything is recorded."""

    async def evaluate(self, job_id, spec):
        await super().evaluate(job_id, spec)
        raise RuntimeError("evaluator fell over")


@pytest.fixture
def probe_env(tmp_path, net):
    settings = Settings(**demo_scraping_settings(net.url))
    settings.http.retries = 0
    store = Store(open_db(tmp_path / "sw.db"), EvidenceFiles(tmp_path / "evidence"))
    endpoint = settings.scraping.wayback.model_copy(
        update={"rate_limit_seconds": 0, "page_size": 1, "max_pages_per_run": 2}
    )
    crawl = CrawlService(settings, scrapy_overrides={"DOWNLOAD_DELAY": 0.0})
    yield store, ArchiveJob(endpoint, (SNDCDN,)), ArchiveProbe(store, crawl, settings), crawl, settings
    store.db.close()


def test_the_probe_stores_the_point_with_the_run_and_a_crash_keeps_it(probe_env, net):
    store, job, probe, crawl, settings = probe_env
    audio = "archive:wayback:audio:token-Ab3dEf6hIj9K"
    first = reactor.run(probe.run("archives:wayback", job))
    assert ("opened", audio) in [(t.action, t.dedupe_key) for t in first.transitions]
    point = store.probe_state("archives:wayback")
    assert point["chain"] == "sndcdn.com domain" and point["position"]["page"] == 2

    crashed = reactor.run(CrashingArchiveProbe(store, crawl, settings).run("archives:wayback", job))
    assert crashed.outcome == "error" and store.probe_state("archives:wayback") == point

    net.internet.clear_requests()
    reactor.run(probe.run("archives:wayback", job))  # the last page; the point goes back to the start
    # One request: the third page (a run from the start would have asked for two).
    assert len([r for r in net.internet.requests if r.host == "web.archive.test"]) == 1
    assert store.probe_state("archives:wayback") == {"chain": "sndcdn.com domain", "position": {}}

    # The archive captures the canary's audio again: the run that starts over finds it.
    net.internet.set_phase(1)
    grown = reactor.run(probe.run("archives:wayback", job))
    assert [(t.action, t.dedupe_key) for t in grown.transitions] == [("updated", audio)]
    runs = [r["outcome"] for r in store.db.query("SELECT outcome FROM probe_runs ORDER BY id")]
    assert runs == ["success", "error", "success", "success"]
