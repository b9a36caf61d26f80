"""Flapping never opens anything new: for every probe kind, run A, a failure (503, timeout, reset, DNS, a body cut
short), run A again -> nothing opened, reopened or alerted beyond the failure's own health finding, which resolves;
and A, B, A -> the B incidents resolve (policy, watch). Real probes, the simulated internet, a real SQLite store."""

from __future__ import annotations

import pytest
from helpers.http_servers import FakeDns
from helpers.weather import Weather, flaky

from monitor.agents import load_registry
from monitor.db import open_db
from monitor.demo.internet import BackgroundInternet
from monitor.demo.scraping_config import demo_scraping_settings
from monitor.demo.sites import demo_sites
from monitor.probes.archives import ArchiveProbe
from monitor.probes.canary import CanaryProbe
from monitor.probes.datasets import DatasetProbe
from monitor.probes.policy import PolicySnapshotProbe
from monitor.probes.watch import ExposureProbe
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import ProtectedDomain, Settings, WatchTarget
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles

FAST = {"AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING", "DOWNLOAD_DELAY": 0.0}
# A failure's own findings: the file or service is unreachable, the job is failing.
HEALTH = {"policy_file_unreachable", "probe_health"}
RAISING = {"opened", "reopened", "escalated"}
WEATHER = Weather()


@pytest.fixture(scope="module")
def net():
    with BackgroundInternet(flaky(demo_sites(), WEATHER)) as running:
        yield running


@pytest.fixture(autouse=True)
def fair(net, monkeypatch):
    FakeDns().install(monkeypatch)  # the probes reach every name through the proxy, never a real resolver
    WEATHER.mode = None
    net.internet.set_phase(0)
    yield
    WEATHER.mode = None
    net.internet.set_phase(0)


class World:
    """Probes of every kind over one store, each run as the daemon would run its jobs."""

    def __init__(self, tmp_path, net):
        settings = Settings(**demo_scraping_settings(net.url))
        settings.http.retries = 0
        settings.http.timeout_seconds = 2.0  # the stalled answers of the "timeout" weather
        for endpoint in (settings.scraping.wayback, settings.scraping.common_crawl, settings.scraping.dataset_hub):
            endpoint.rate_limit_seconds = 0
        self.store = Store(open_db(tmp_path / "sw.db"), EvidenceFiles(tmp_path / "evidence"))
        crawl = CrawlService(settings, scrapy_overrides=FAST)
        agents = load_registry(None).tokens()
        self.probes = {
            "policy": PolicySnapshotProbe(self.store, crawl, agents, settings.policy, health_threshold=3),
            "watch": ExposureProbe(self.store, crawl, None, 1),
            **{
                cls.kind.split("_")[0]: cls(self.store, crawl, settings)
                for cls in (CanaryProbe, ArchiveProbe, DatasetProbe)
            },
        }
        self.specs = {
            "policy": [("policy_snapshot:soundcloud.com", ProtectedDomain(domain="soundcloud.com"))],
            "watch": [("exposure_watch:dl", WatchTarget(name="dl", start_urls=["https://sc2mp3-fast.example/"]))],
        }

    def run(self, kind: str) -> list:
        probe = self.probes[kind]
        # The demo's rip-broken recipe fails on every run (a real, persistent failure): not weather.
        jobs = self.specs.get(kind) or [(job.id, job.spec) for job in probe.jobs() if "rip-broken" not in job.id]
        return [t for job_id, spec in jobs for t in reactor.run(probe.run(job_id, spec)).transitions]

    def active(self) -> dict[str, str]:
        rows = self.store.db.execute("SELECT dedupe_key, kind FROM incidents WHERE status IN ('open', 'acknowledged')")
        return dict(rows.fetchall())

    def alerts(self) -> list[tuple[str, str]]:
        rows = self.store.db.execute("SELECT transition, json_extract(payload, '$.kind') FROM alert_outbox ORDER BY id")
        return rows.fetchall()


def kind_of(t) -> str:
    return t.finding.kind if t.finding else t.incident.kind


# The policy probe meets every failure mode; the other kinds one or two each (kept lean for CI).
CASES = [("policy", mode) for mode in ("503", "timeout", "reset", "dns", "truncated")] + [
    ("watch", "503"), ("watch", "timeout"), ("canary", "503"), ("archives", "dns"), ("datasets", "truncated"),
]  # fmt: skip


@pytest.mark.parametrize(("kind", "mode"), CASES)
def test_a_failure_between_two_equal_runs_changes_nothing_but_its_own_health(tmp_path, net, kind, mode):
    world = World(tmp_path, net)
    world.run(kind)
    before, alerted = world.active(), len(world.alerts())
    assert before, f"{kind}: the demo should give run A something to find"

    WEATHER.mode = mode
    failed = world.run(kind)
    assert WEATHER.served, "the failure was served"
    raised = {(t.action, kind_of(t)) for t in failed if t.alerts and kind_of(t) not in HEALTH}
    assert not raised, f"{kind}/{mode}: the failure itself changed {raised}"

    WEATHER.mode = None
    # A canary's findings, its health included, resolve after canary_resolve_after_clean_runs clean runs (2).
    again = [t for _ in range(2 if kind == "canary" else 1) for t in world.run(kind)]
    assert not [t for t in again if t.action in RAISING], f"{kind}/{mode}: run A again raised something"
    assert world.active() == before, f"{kind}/{mode}: not back to run A's incidents"
    news = world.alerts()[alerted:]
    assert {k for _, k in news} <= HEALTH, f"{kind}/{mode}: alerts beyond the failure's health: {news}"


def test_the_503_scenario_opens_no_policy_regression(tmp_path, net):
    """robots.txt served, one 503, the same robots.txt again: with the default expectation and every registry agent."""
    world = World(tmp_path, net)
    agents = len(world.probes["policy"].agents)
    assert agents > 150 and world.probes["policy"].expectation.agents is None
    steps = [world.run("policy")]
    WEATHER.mode = "503"
    steps.append(world.run("policy"))
    WEATHER.mode = None
    steps.append(world.run("policy"))
    assert not [t for step in steps for t in step if kind_of(t) == "policy_regression"]
    # One 503 is weather: not even an unreachable incident (that takes two failed runs in a row).
    assert not [t for t in steps[1] + steps[2] if t.alerts]
    verdicts = world.store.db.execute(
        "SELECT count(*), count(DISTINCT valid_from) FROM policy_verdicts_in_force"
    ).fetchone()
    assert verdicts == (agents * 4, 1)
    # The 503 never became a version of the matrix: nothing was ever closed.
    assert world.store.db.execute("SELECT count(*) FROM policy_verdicts WHERE valid_to IS NOT NULL").fetchone()[0] == 0


def test_policy_a_b_a_resolves_the_b_incidents(tmp_path, net):
    world = World(tmp_path, net)
    world.run("policy")
    before = world.active()
    net.internet.set_phase(1)  # GPTBot's block and the CDN's noai header are dropped
    changed = world.run("policy")
    opened = {t.dedupe_key for t in changed if t.action == "opened" and kind_of(t) == "policy_regression"}
    assert opened, "phase 1 weakens the policy: a regression opens"
    net.internet.set_phase(0)
    back = world.run("policy")
    resolved = {t.dedupe_key for t in back if t.action == "resolved"}
    assert opened <= resolved
    assert not [t for t in back if t.action in RAISING and kind_of(t) != "policy_file_changed"]
    assert {k for k, kind in world.active().items() if kind != "policy_file_changed"} == set(before)


def test_watch_a_b_a_resolves_the_b_incidents(tmp_path, net):
    world = World(tmp_path, net)
    clean = ("exposure_watch:blog", WatchTarget(name="blog", start_urls=["https://indie-blog.example/"]))
    exposing = ("exposure_watch:blog", WatchTarget(name="blog", start_urls=["https://sc2mp3-fast.example/"]))
    world.specs["watch"] = [clean]
    assert not [t for t in world.run("watch") if t.action in RAISING]
    world.specs["watch"] = [exposing]
    opened = {t.dedupe_key for t in world.run("watch") if t.action == "opened"}
    assert opened
    world.specs["watch"] = [clean]
    back = world.run("watch")
    assert opened <= {t.dedupe_key for t in back if t.action == "resolved"}
    assert not world.active()
