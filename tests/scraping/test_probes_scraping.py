"""The scraping probes end to end: the demo internet's downloaders, archives and dataset hub, a real SQLite store and
evidence directory; incidents with counts and evidence, no duplicates on re-runs, updates only on growth."""

from __future__ import annotations

import pytest
from scraping_fakes import FAST

from monitor import metrics
from monitor.db import open_db
from monitor.demo.scraping_config import demo_scraping_settings
from monitor.errors import ConfigError
from monitor.probes.archives import ArchiveJob, ArchiveProbe
from monitor.probes.canary import CanaryJob, CanaryProbe
from monitor.probes.datasets import DatasetJob, DatasetProbe
from monitor.probes.scraping import scraping_catalogue
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import DownloaderRecipe, Settings
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles


@pytest.fixture
def env(tmp_path, net):
    settings = Settings(**demo_scraping_settings(net.url))
    settings.storage.data_dir = tmp_path / "data"
    settings.http.retries = 0
    for endpoint in (settings.scraping.wayback, settings.scraping.common_crawl, settings.scraping.dataset_hub):
        endpoint.rate_limit_seconds = 0
    evidence = EvidenceFiles(tmp_path / "evidence")
    store = Store(open_db(tmp_path / "sw.db"), evidence)
    crawl = CrawlService(settings, scrapy_overrides=FAST)
    probes = {cls.kind: cls(store, crawl, settings) for cls in SCRAPING_KINDS}
    yield settings, store, evidence, probes
    store.db.close()


SCRAPING_KINDS = (CanaryProbe, ArchiveProbe, DatasetProbe)


def scraping_jobs(settings: Settings) -> list[tuple]:
    """Every scraping job the settings make, as (id, interval, jitter, spec), in registry order."""
    return [
        (job.id, job.interval_seconds, job.jitter_seconds, job.spec)
        for cls in SCRAPING_KINDS
        for job in cls(None, None, settings).jobs()
    ]


def run_all(settings, probes, only: str = "") -> dict[str, list[tuple[str, str]]]:
    out = {}
    for probe in probes.values():
        for job in probe.jobs():
            if job.id.startswith(only):
                applied = reactor.run(probe.run(job.id, job.spec))
                out[job.id] = [(t.action, t.dedupe_key) for t in applied.transitions]
    return out


def incidents(store) -> dict[str, dict]:
    return {r["dedupe_key"]: r for r in store.list_incidents(limit=1000)}


def sample(name: str, **labels: str) -> float:
    return metrics.REGISTRY.get_sample_value(name, labels) or 0.0


def test_the_demo_raises_canary_archive_and_dataset_incidents_once(env, net):
    settings, store, evidence, probes = env
    delivered_before = sample("scrapewatch_canary_probes_total", service="rip-canary", outcome="delivered")
    first = run_all(settings, probes)
    found = incidents(store)
    canary = found["canary:rip-canary:1234567890"]
    assert (canary["kind"], canary["severity"], canary["status"]) == ("canary_delivered", "critical", "open")
    assert canary["data"]["media_urls"][0]["live"] is True and canary["data"]["tags"]["WOAF"].endswith("night-drive")
    broken = found["canary_recipe_broken:rip-broken"]
    assert (broken["kind"], broken["severity"], broken["detail"]) == (
        "probe_health",
        "medium",
        "no form with a field named 'url' on the page",
    )
    audio = found["archive:wayback:audio:token-Ab3dEf6hIj9K"]
    assert (audio["kind"], audio["severity"], audio["data"]["count"]) == ("archive_audio_capture", "critical", 1)
    assert found["archive:common_crawl:downloader:sc2mp3-fast.example"]["data"]["count"] == 2  # two crawls
    dataset = found["dataset:huggingface:nightbeats/nightbeats-40k"]
    assert (dataset["kind"], dataset["severity"], dataset["data"]["count"], dataset["data"]["rows_total"]) == (
        "dataset_listing",
        "critical",
        62,
        60,
    )
    assert "dataset:huggingface:acme/ambient-field-recordings" not in found
    assert all(action == "opened" for changes in first.values() for action, _ in changes)
    assert sample("scrapewatch_canary_probes_total", service="rip-canary", outcome="delivered") == delivered_before + 1

    # Evidence: the submission and the ripped file, stored once by hash.
    rows = store.evidence(canary["id"])
    assert {r["signature"] for r in rows} >= {"SC-FILE-PURL"}
    submit = next(r for r in rows if r["data"]["step"] == "submit")
    assert submit["data"]["method"] == "POST" and "night-drive" in submit["data"]["request_body"]
    assert submit["headers"]["content-type"] == ["text/html; charset=utf-8"]
    assert evidence.get(submit["body_sha256"]).startswith(b"<!doctype html>")
    assert store.evidence(audio["id"])[0]["data"]["replay_url"].startswith("https://web.archive.org/web/20250314101522")

    # Re-running over the same evidence: no new incident, archives and datasets untouched.
    count = store.count_incidents()
    again = run_all(settings, probes)
    assert store.count_incidents() == count
    assert again["archives:wayback"] == again["archives:common_crawl"] == again["datasets:huggingface"] == []
    assert again["canary:rip-canary"] == [("updated", "canary:rip-canary:1234567890")]

    # The archive captures the canary again and the dataset grows: each incident is updated once.
    net.internet.set_phase(1)
    grown = run_all(settings, probes)
    assert grown["archives:wayback"] == [("updated", "archive:wayback:audio:token-Ab3dEf6hIj9K")]
    assert grown["datasets:huggingface"] == [("updated", "dataset:huggingface:nightbeats/nightbeats-40k")]
    found = incidents(store)
    assert found["archive:wayback:audio:token-Ab3dEf6hIj9K"]["data"]["count"] == 2
    assert found["dataset:huggingface:nightbeats/nightbeats-40k"]["data"]["count"] == 86
    assert run_all(settings, probes, "archives") == {"archives:wayback": [], "archives:common_crawl": []}
    # The broken recipe has now failed alerts.probe_failures (3) runs in a row: its job's probe health opens in
    # the third run's own transaction, as it did in the daemon.
    assert store.count_incidents() == count + 1
    assert incidents(store)["probe_health:canary:rip-broken"]["status"] == "open"


def test_a_canary_incident_and_a_broken_recipe_resolve(env, net):
    settings, store, _, probes = env
    settings.scraping.downloaders = [
        settings.scraping.downloaders[0].model_copy(update={"name": "phased", "url": "http://phased.example/"})
    ]
    settings.scraping.downloaders[0].result_selector = None
    assert run_all(settings, probes)["canary:phased"] == [("opened", "canary:phased:1234567890")]
    net.internet.set_phase(1)  # the form is gone: the canary incident stays as it is
    assert run_all(settings, probes, "canary")["canary:phased"] == [("opened", "canary_recipe_broken:phased")]
    net.internet.set_phase(2)  # the recipe works again and nothing is delivered: two clean runs resolve both
    assert sorted(run_all(settings, probes, "canary")["canary:phased"]) == [
        ("clean", "canary:phased:1234567890"),
        ("clean", "canary_recipe_broken:phased"),
    ]
    assert sorted(run_all(settings, probes, "canary")["canary:phased"]) == [
        ("resolved", "canary:phased:1234567890"),
        ("resolved", "canary_recipe_broken:phased"),
    ]
    runs = list(store.db.query("SELECT outcome, error_kind FROM probe_runs WHERE job = 'canary:phased' ORDER BY id"))
    assert [(r["outcome"], r["error_kind"]) for r in runs] == [
        ("success", None),
        ("failure", "recipe_broken"),
        ("success", None),
        ("success", None),
    ]


@pytest.mark.parametrize(
    ("name", "kind"),
    [("storm.example", "rate_limited"), ("malformed.example", "malformed_json"), ("notgzip.example", "bad_encoding")],
)
def test_bad_archive_answers_are_recorded_failures_and_never_incidents(env, name, kind):
    settings, store, _, probes = env
    endpoint = settings.scraping.wayback.model_copy(
        update={"base_url": "http://cdx-bad.test", "max_retries": 1, "max_retry_wait_seconds": 0.1}
    )
    before = sample("scrapewatch_scraping_api_errors_total", source="wayback", kind=kind)
    applied = reactor.run(probes["archives"].run("archives:wayback", ArchiveJob(endpoint, ({"url": name},))))
    assert applied.transitions == [] and store.count_incidents() == 0
    (run,) = store.db.query("SELECT * FROM probe_runs")
    assert (run["outcome"], run["error_kind"], run["probe"], run["domain"]) == ("failure", kind, "archives", "wayback")
    assert sample("scrapewatch_scraping_api_errors_total", source="wayback", kind=kind) == before + 1


def test_empty_archive_and_dataset_answers_are_clean_runs(env):
    settings, store, _, probes = env
    endpoint = settings.scraping.wayback.model_copy(update={"base_url": "http://cdx-bad.test"})
    assert (
        reactor.run(
            probes["archives"].run("archives:wayback", ArchiveJob(endpoint, ({"url": "empty.example"},)))
        ).transitions
        == []
    )
    hub = settings.scraping.dataset_hub.model_copy(update={"search_terms": ["nothing-matches"]})
    assert (
        reactor.run(probes["datasets"].run("datasets:huggingface", DatasetJob(hub, ("nothing-matches",)))).transitions
        == []
    )
    assert [r["outcome"] for r in store.db.query("SELECT outcome FROM probe_runs")] == ["success", "success"]


def test_metrics_count_new_captures_and_dataset_growth(env, net):
    settings, _, _, probes = env
    captures = sample("scrapewatch_archive_captures_found_total", source="wayback")
    rows = sample("scrapewatch_dataset_rows_found_total", source="huggingface")
    run_all(settings, probes, "archives:wayback")
    run_all(settings, probes, "datasets")
    assert sample("scrapewatch_archive_captures_found_total", source="wayback") == captures + 4
    assert sample("scrapewatch_dataset_rows_found_total", source="huggingface") == rows + 62
    run_all(settings, probes, "archives:wayback")
    run_all(settings, probes, "datasets")
    assert sample("scrapewatch_archive_captures_found_total", source="wayback") == captures + 4
    net.internet.set_phase(1)
    run_all(settings, probes, "datasets")
    assert sample("scrapewatch_dataset_rows_found_total", source="huggingface") == rows + 86


def test_an_unrecorded_run_writes_nothing(env):
    settings, store, _, probes = env
    job_id, _, _, spec = next(j for j in scraping_jobs(settings) if j[0] == "canary:rip-canary")
    report = reactor.run(probes["canary"].execute(job_id, spec, record_run=False))
    assert report.applied is None and [f.kind for f in report.findings] == ["canary_delivered"]
    assert report.outcomes == [("1234567890", "delivered", report.findings[0].detail)]
    assert store.count_incidents() == 0 and store.last_runs() == {}


# --- the jobs contract ---------------------------------------------------------------------------------------------


def test_scraping_jobs_lists_every_configured_probe(net):
    settings = Settings(**demo_scraping_settings(net.url))
    jobs = scraping_jobs(settings)
    assert [(job_id, interval, jitter, type(spec)) for job_id, interval, jitter, spec in jobs] == [
        ("canary:rip-canary", 30, 2, CanaryJob),
        ("canary:rip-broken", 30, 2, CanaryJob),
        ("archives:wayback", 30, 2, ArchiveJob),
        ("archives:common_crawl", 30, 2, ArchiveJob),
        ("datasets:huggingface", 30, 2, DatasetJob),
    ]
    canary = jobs[0][3]
    assert [t.id for t in canary.canaries] == ["1234567890"]  # the catalogue's canary: true tracks
    urls = [q["url"] for q in jobs[2][3].queries]
    # Protected tracks' media tokens first, then SoundCloud's media hosts, then downloader hosts.
    assert urls[:3] == ["cf-media.sndcdn.com/Ab3dEf6hIj9K", "cf-media.sndcdn.com/Qw3Rt5Yu7Io9", "cf-media.sndcdn.com/"]
    assert urls[-3:] == ["rip-canary.example", "rip-broken.example", "sc2mp3-fast.example"]
    assert jobs[2][3].queries[-1]["filters"] == ["original:.*soundcloud.*"]
    assert jobs[3][3].queries[-1]["filters"] == ["url:soundcloud"]
    assert jobs[4][3].queries == ("soundcloud",)


def test_nothing_is_scheduled_by_default():
    assert scraping_jobs(Settings()) == []
    defaults = Settings().scraping
    assert not (defaults.wayback.enabled or defaults.common_crawl.enabled or defaults.dataset_hub.enabled)
    assert defaults.wayback.base_url == "https://web.archive.org"
    assert defaults.common_crawl.base_url == "https://index.commoncrawl.org"
    assert defaults.dataset_hub.base_url == "https://huggingface.co"
    assert defaults.dataset_hub.viewer_url == "https://datasets-server.huggingface.co"


def test_canaries_must_exist(net, tmp_path):
    config = demo_scraping_settings(net.url)
    with pytest.raises(ConfigError, match=r"scraping\.canaries"):
        scraping_jobs(Settings(**{**config, "scraping": {**config["scraping"], "canaries": ["999"]}}))
    chosen = Settings(**{**config, "scraping": {**config["scraping"], "canaries": ["1234500001"]}})
    assert [t.id for t in scraping_jobs(chosen)[0][3].canaries] == ["1234500001"]
    (tmp_path / "c.csv").write_text("id,permalink,media_tokens,title,artist,no_ai,canary\n1,,,,,false,false\n")
    without = Settings(**{**config, "catalogue": {"path": str(tmp_path / "c.csv")}})
    with pytest.raises(ConfigError, match="no canary track"):
        scraping_jobs(without)
    assert scraping_catalogue(Settings()).tracks == []


@pytest.mark.parametrize(
    ("recipe", "outcome", "incident"),
    [
        ({"kind": "form", "url": "http://error200.example/", "field": "url"}, "recipe_broken", "probe_health"),
        ({"kind": "api", "url_template": "http://apihtml.example/api?u={url}"}, "recipe_broken", "probe_health"),
        ({"kind": "form", "url": "http://busy.example/", "field": "url"}, "recipe_broken", "probe_health"),
        ({"kind": "form", "url": "http://huge.example/", "field": "url", "byte_cap": 65536}, "not_delivered", None),
    ],
)
def test_bad_downloaders_never_raise_a_false_canary_incident(env, recipe, outcome, incident):
    settings, store, _, probes = env
    job = CanaryJob(DownloaderRecipe(name="bad", **recipe), scraping_catalogue(settings).tracks[:1])
    report = reactor.run(probes["canary"].execute("canary:bad", job, record_run=True))
    assert [o for _, o, _ in report.outcomes] == [outcome]
    assert [r["kind"] for r in store.list_incidents()] == ([incident] if incident else [])
    assert "canary:bad:1234567890" not in {r["dedupe_key"] for r in store.list_incidents()}
