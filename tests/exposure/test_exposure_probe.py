"""The exposure probe end to end: watch crawl through the simulated internet -> signature engine -> incidents with
evidence in SQLite and files under the data dir; legitimate embeds raise nothing; clean runs resolve."""

from __future__ import annotations

import base64
import json

import pytest
from helpers.http_servers import FakeSite, Reply

from monitor.db import open_db
from monitor.demo.internet import BackgroundInternet
from monitor.probes.watch import ExposureProbe
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import WatchTarget, load_settings
from monitor.signatures import load_catalogue
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles

FAST = {"AUTOTHROTTLE_ENABLED": False, "LOG_LEVEL": "WARNING"}


def policy(resource: str, expiry: int = 4102444800) -> str:
    doc = {"Statement": [{"Resource": resource, "Condition": {"DateLessThan": {"AWS:EpochTime": expiry}}}]}
    raw = base64.b64encode(json.dumps(doc).encode()).decode()
    return raw.replace("+", "-").replace("=", "_").replace("/", "~")


SIGNED = (
    "https://cf-media.sndcdn.com/Zq8xLm3Np7Rt.128.mp3?Policy="
    + policy("*://cf-media.sndcdn.com/Zq8xLm3Np7Rt.128.mp3*")
    + "&amp;Signature=FAKE~sig&amp;Key-Pair-Id=APKAEXAMPLE000000000"
)
EXPOSING = f'<html><body><h1>Free tracks</h1><a download href="{SIGNED}">Download MP3</a></body></html>'.encode()
CLEAN = b"<html><body><h1>Free tracks</h1><p>Nothing here today.</p></body></html>"


@pytest.fixture(scope="module")
def internet():
    with BackgroundInternet() as net:
        yield net


def make_probe(tmp_path, proxy=None, catalogue=None, resolve_after=2):
    settings = load_settings(env={})
    settings.http.retries = 0
    settings.http.proxy = proxy
    settings.http.allow_private_networks = proxy is None  # FakeSite lives on 127.0.0.1
    store = Store(open_db(tmp_path / "sw.db"), EvidenceFiles(tmp_path / "evidence"))
    return ExposureProbe(store, CrawlService(settings, scrapy_overrides=FAST), catalogue, resolve_after)


def incidents(store):
    return list(store.db.query("SELECT * FROM incidents ORDER BY id"))


def test_demo_downloader_is_critical_with_evidence_and_the_blog_raises_nothing(tmp_path, internet):
    probe = make_probe(tmp_path, internet.url)
    internet.internet.clear_requests()
    reactor.run(probe.run("exposure_watch:dl", WatchTarget(name="dl", start_urls=["https://sc2mp3-fast.example/"])))
    # The downloader links and redirects to SoundCloud's CDN: the probe reads those links, it never follows them.
    assert {r.host for r in internet.internet.requests} == {"sc2mp3-fast.example"}
    reactor.run(probe.run("exposure_watch:blog", WatchTarget(name="blog", start_urls=["https://indie-blog.example/"])))
    rows = incidents(probe.store)
    assert rows and {r["domain"] for r in rows} == {"sc2mp3-fast.example"}
    assert "exposure_downloader" in {r["kind"] for r in rows}
    assert (
        max(rows, key=lambda r: ["info", "low", "medium", "high", "critical"].index(r["severity"]))["severity"]
        == "critical"
    )
    downloader = next(r for r in rows if r["kind"] == "exposure_downloader")
    evidence = probe.store.evidence(downloader["id"])
    assert evidence and all(e["signature"].startswith("SC-") for e in evidence)
    body = next(e for e in evidence if e["body_sha256"])
    kept = probe.store.files.get(body["body_sha256"])
    assert kept is not None and b"soundcloud" in kept.lower()
    assert probe.store.evidence_file(body["body_sha256"])["kind"] == "body"
    assert not [r for r in rows if r["domain"] == "indie-blog.example"]  # the official widget is legitimate


def test_rerun_updates_instead_of_duplicating(tmp_path, internet):
    probe = make_probe(tmp_path, internet.url)
    target = WatchTarget(name="mirror", start_urls=["https://scmirror.example/"])
    first = reactor.run(probe.run("exposure_watch:mirror", target))
    count = len(incidents(probe.store))
    kept = probe.store.db.execute("SELECT count(*), sum(sightings) FROM evidence").fetchone()
    again = reactor.run(probe.run("exposure_watch:mirror", target))
    assert count and len(incidents(probe.store)) == count
    assert {t.action for t in first.transitions} == {"opened"} and {t.action for t in again.transitions} == {"updated"}
    assert all(r["occurrences"] == 2 for r in incidents(probe.store))
    # The same pages seen again (their Date headers aside): the evidence rows count a second sighting, none is added.
    assert kept[0] and probe.store.db.execute("SELECT count(*), sum(sightings) FROM evidence").fetchone() == (
        kept[0],
        2 * kept[0],
    )


def test_clean_runs_resolve_after_k_and_a_dead_site_is_not_clean(tmp_path):
    probe = make_probe(tmp_path, resolve_after=2)
    with FakeSite({"/": Reply(200, EXPOSING, {"Content-Type": "text/html"})}) as site:
        target = WatchTarget(name="dl", start_urls=[site.url("/")], follow_sitemap=False, obey_robots=False)
        reactor.run(probe.run("exposure_watch:dl", target))
        (opened,) = incidents(probe.store)
        assert opened["status"] == "open" and opened["severity"] == "critical"  # live signed URL in a download link
        site.routes["/"] = Reply(500, b"down", {"Content-Type": "text/plain"})
        reactor.run(probe.run("exposure_watch:dl", target))
        assert incidents(probe.store)[0]["clean_runs"] == 0  # an error page says nothing about the site
        site.routes["/"] = Reply(200, CLEAN, {"Content-Type": "text/html"})
        reactor.run(probe.run("exposure_watch:dl", target))
        assert (incidents(probe.store)[0]["status"], incidents(probe.store)[0]["clean_runs"]) == ("open", 1)
        reactor.run(probe.run("exposure_watch:dl", target))
        assert incidents(probe.store)[0]["status"] == "resolved"
        site.routes["/"] = Reply(200, EXPOSING, {"Content-Type": "text/html"})
        applied = reactor.run(probe.run("exposure_watch:dl", target))
        assert [t.action for t in applied.transitions] == ["reopened"]
    runs = [r["outcome"] for r in probe.store.db.query("SELECT outcome FROM probe_runs ORDER BY id")]
    assert runs == ["success", "failure", "success", "success", "success"]


def test_a_protected_no_ai_track_makes_the_finding_critical(tmp_path):
    catalogue_file = tmp_path / "catalogue.csv"
    catalogue_file.write_text(
        "id,permalink,media_tokens,title,artist,no_ai,canary\n"
        "1234567890,https://soundcloud.com/example-artist/night-drive,Zq8xLm3Np7Rt,Night Drive,Example,true,false\n"
    )
    probe = make_probe(tmp_path, catalogue=load_catalogue(catalogue_file))
    page = f'<html><body><audio src="{SIGNED.replace("4102444800", "1")}"></audio></body></html>'
    with FakeSite({"/": Reply(200, page.encode(), {"Content-Type": "text/html"})}) as site:
        target = WatchTarget(name="player", start_urls=[site.url("/")], follow_sitemap=False, obey_robots=False)
        reactor.run(probe.run("exposure_watch:player", target))
    (row,) = incidents(probe.store)
    data = json.loads(row["data"])
    assert row["severity"] == "critical" and data["catalogue_track"]["id"] == "1234567890"
    assert data["track"] == "catalogue:1234567890" and "(track 1234567890)" in row["title"]
