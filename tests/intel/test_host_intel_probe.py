"""The host_intel probe end to end: candidate domains from cases and incidents, facts, links, host_changed events
(exactly one per changed field, none when nothing changed), caching, rate limit, failures recorded not raised."""

from __future__ import annotations

import asyncio
import json

from monitor.incidents import Evaluation, Finding
from monitor.intel.model import diff
from monitor.probes.host_intel import HostIntelProbe, domains_to_look_up, source_domains
from monitor.store import ProbeRun, utcnow


def incident(store, host, kind="downloader_exposure"):
    finding = Finding(f"{kind}:{host}", kind, "high", host, f"{kind} on {host}", "detail", {})
    now = utcnow()
    store.apply(ProbeRun("watch:t", "exposure_watch", host, now, now, "success", None, 0.1), Evaluation("t", [finding]))


def open_case(store, domain):
    now = utcnow()
    with store._tx():
        case = store.db.execute(
            "INSERT INTO cases (domain, title, severity, opened_at, first_seen, last_seen, updated_at) "
            "VALUES (?, ?, 'high', ?, ?, ?, ?)",
            [domain, domain, now, now, now, now],
        ).lastrowid
        store.db.execute("INSERT INTO case_domains VALUES (?, ?, 'opened', ?)", [domain, case, now])
    return case


def run(probe):
    job = probe.jobs()[0]
    return asyncio.run(probe.run(job.id, job.spec)), probe


def expire(store):
    with store._tx():
        store.db.execute("UPDATE host_intel SET expires_at = '0'")


def events(store, case):
    rows = store.db.execute("SELECT data FROM case_events WHERE case_id = ? AND action = 'host_changed'", [case])
    return [json.loads(r[0]) for r in rows]


def test_lookups_links_and_change_events(store, intel_settings, zone_server, registry):
    incident(store, "www.sc2mp3-fast.example")
    case = open_case(store, "sc2mp3-fast.example")
    probe = HostIntelProbe(store, intel_settings)
    applied, _ = run(probe)
    assert applied.outcome == "success"
    facts = json.loads(
        store.db.execute("SELECT facts FROM host_intel WHERE domain = 'sc2mp3-fast.example'").fetchone()[0]
    )
    assert facts["networks"][0]["abuse_email"] == "abuse@shadyhost.example"
    links = set(store.db.execute("SELECT kind, value FROM case_links WHERE domain = 'sc2mp3-fast.example'"))
    assert ("ip", "203.0.113.10") in links and ("ip", "2001:db8:10::10") in links
    assert ("certificate", facts["certificate"]["sha256"]) in links
    assert events(store, case) == []  # a first lookup is not a change

    run(probe)  # cached: nothing is due, nothing is looked up again
    assert store.db.execute("SELECT count(*) FROM host_intel").fetchone()[0] == 1

    expire(store)
    run(probe)
    assert events(store, case) == []  # unchanged facts write no event

    zone_server.zone["sc2mp3-fast.example"]["A"] = ["198.51.100.99"]
    registry.domains["sc2mp3-fast.example"].registrar = "Bulletproof Registrar Inc."
    expire(store)
    run(probe)
    changes = {e["field"]: e for e in events(store, case)}
    assert sorted(changes) == ["a", "network", "registrar"]
    assert changes["a"]["old"] == ["203.0.113.10"] and changes["a"]["new"] == ["198.51.100.99"]
    assert changes["registrar"]["new"] == "Bulletproof Registrar Inc."
    expire(store)
    run(probe)
    assert len(events(store, case)) == 3  # exactly one event per changed field


def test_a_vanished_site_and_a_broken_registry_are_recorded_not_raised(store, intel_settings, zone_server, tmp_path):
    incident(store, "sc2mp3-fast.example")
    case = open_case(store, "sc2mp3-fast.example")
    probe = HostIntelProbe(store, intel_settings)
    run(probe)
    del zone_server.zone["sc2mp3-fast.example"]  # the site vanished: NXDOMAIN
    intel_settings.intel.rdap_bootstrap = str(tmp_path / "no-bootstrap")
    expire(store)
    applied, _ = run(probe)
    assert applied.outcome == "failure"  # no bootstrap: scrapewatch's own side is broken
    row = store.db.execute("SELECT facts, error, expires_at, fetched_at FROM host_intel").fetchone()
    facts = json.loads(row[0])
    assert facts["dns"]["a"] == [] and "nxdomain" in row[1] and "bootstrap" in row[1]
    assert facts["registration"]["registrar"] == "Offshore Names Ltd."  # the last value seen is kept
    assert {e["field"] for e in events(store, case)} == {"a", "aaaa", "network"}
    assert row[2] < row[3][:4] + "-99"  # retried sooner than a success


def test_rate_limit_and_which_domains(store, intel_settings):
    for host in ("sc2mp3-fast.example", "reupload.example", "soundcloud.com"):
        incident(store, host)
    incident(store, "scmirror.example", kind="policy_breach")
    intel_settings.intel.max_lookups_per_run = 1
    probe = HostIntelProbe(store, intel_settings)
    run(probe)
    assert [r[0] for r in store.db.execute("SELECT domain FROM host_intel")] == ["sc2mp3-fast.example"]
    run(probe)
    assert {r[0] for r in store.db.execute("SELECT domain FROM host_intel")} == {
        "sc2mp3-fast.example",
        "reupload.example",
    }
    run(probe)
    assert store.db.execute("SELECT count(*) FROM host_intel").fetchone()[0] == 2  # policy and SoundCloud: never


def test_candidate_domains_are_registrable_and_unique(settings):
    hosts = ["www.a.example", "cdn.b.co.uk", "127.0.0.1", "m.soundcloud.com", "web.archive.org", "huggingface.co"]
    sources = source_domains(settings)
    assert HostIntelProbe(None, settings).jobs() == []  # off until enabled
    assert {"archive.org", "huggingface.co", "commoncrawl.org"} <= sources
    assert domains_to_look_up(["a.example"], hosts, sources) == ["a.example", "b.co.uk"]
    # Host intel names a domain as cases do: a user of a private suffix is their own offender, not the platform.
    assert domains_to_look_up([], ["alice.github.io", "www.bob.github.io"], sources) == [
        "alice.github.io",
        "bob.github.io",
    ]


def test_diff_skips_failed_sections():
    base = {"dns": {"a": ["192.0.2.1"], "aaaa": [], "error": None}, "networks": [], "registration": {"registrar": "R"}}
    failed = {**base, "dns": {"a": [], "aaaa": [], "error": "timeout: x"}, "registration": {"error": "timeout: y"}}
    assert diff(base, failed) == [] and diff(failed, base) == [] and diff(None, base) == []
    moved = {**base, "dns": {"a": ["192.0.2.2"], "aaaa": [], "error": None}}
    assert diff(base, moved) == [{"field": "a", "old": ["192.0.2.1"], "new": ["192.0.2.2"]}]
