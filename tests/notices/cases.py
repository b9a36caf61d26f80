"""A case to draft notices and export bundles from: real incidents and evidence stored through Store.apply, case
fields and host intel filled in here (the case-facts dict of docs/notices.md, as Store.case_facts returns it)."""

from __future__ import annotations

import dataclasses
import json
from pathlib import Path
from typing import Any

from monitor.db import open_db
from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store import EvidenceFiles, ProbeRun, Store

HOSTILE = '<script>alert("x")</script><img src=http://127.0.0.1:9/x>'
PAGE = b"<html><a href='https://cf-media.sndcdn.com/abc.128.mp3?Policy=x'>download</a></html>"
AUDIO_HEAD = b"ID3\x04\x00\x00\x00\x00\x00\x00" + bytes(range(256)) * 4
SHOT = b"\x89PNG\r\n\x1a\n fake screenshot of the downloader"
REQUESTS = b'{"url": "https://api-v2.soundcloud.com/resolve", "frame": "main"}\n'


def host_intel(domain: str, *, abuse: str | None = "abuse@hostco.example", registrar: str | None = "abuse@reg.example"):
    """Host intel facts of ``domain`` in the shape the host_intel probe writes."""
    return {
        "domain": domain,
        "fetched_at": "2026-11-02T10:00:00+00:00",
        "dns": {"a": ["203.0.113.7"], "aaaa": [], "cname": [], "ns": ["ns1.hostco.example"], "mx": [], "refused": [],
                "error": None},
        "registration": {"registrar": "Example Registrar LLC", "registrar_abuse_email": registrar,
                         "registrar_abuse_phone": "+1.5555550100", "created": "2024-01-01", "rdap_url": None,
                         "error": None},
        "networks": [{"ip": "203.0.113.7", "network_name": "HOSTCO-NET", "handle": "NET-1", "asn": 64500,
                      "hosting_provider": "HostCo Ltd", "abuse_email": abuse, "country": "NL", "rdap_url": None,
                      "error": None}],
        "certificate": None,
    }  # fmt: skip


def seeded(tmp_path: Path, *, title: str = "Night Drive", domain: str = "dl.example") -> tuple[Store, dict[str, Any]]:
    """A store holding one downloader case of ``domain`` (two incidents, three evidence rows) and its facts."""
    files = EvidenceFiles(tmp_path / "data" / "evidence")
    store = Store(open_db(tmp_path / "data" / "scrapewatch.db"), files)
    # This builder writes its case by hand (a state the writer would need many runs to reach).
    store.case_options = dataclasses.replace(store.case_options, link=False)
    downloader = Finding(
        f"exposure:{domain}:downloader:-", "exposure_downloader", "critical", domain, f"Downloader serving {title}"
    )
    cdn = Finding(f"exposure:{domain}:cdn:-", "exposure_cdn_media", "high", domain, "SoundCloud CDN media")
    evidence = [
        Evidence(downloader.dedupe_key, f"https://{domain}/", f"https://{domain}/", "SC-DL-PAGE", "critical",
                 body=PAGE, body_type="text/html", screenshot=SHOT, requests=REQUESTS,
                 headers={"content-type": ["text/html; charset=utf-8"], "content-encoding": ["gzip"],
                          "server": ["nginx"]}),
        Evidence(cdn.dedupe_key, "https://cf-media.sndcdn.com/abc.128.mp3?Policy=x", f"https://{domain}/track/1",
                 "SC-CDN-PROGRESSIVE", "high", body=AUDIO_HEAD, body_type="audio/mpeg",
                 headers={"content-type": "audio/mpeg"}),
        Evidence(cdn.dedupe_key, f"https://{domain}/track/1", f"https://{domain}/track/1", "SC-CDN-LINK", "high"),
    ]  # fmt: skip
    run = ProbeRun(f"exposure_watch:{domain}", "exposure_watch", domain, "2026-11-01T09:00:00+00:00",
                   "2026-11-01T09:00:05+00:00", "success", None, 5.0)  # fmt: skip
    applied = store.apply(run, Evaluation(f"exposure:{domain}", [downloader, cdn]), evidence=evidence)
    case_id = store.db["cases"].insert(
        {"domain": domain, "title": f"{domain}: downloader", "status": "investigating", "severity": "critical",
         "opened_at": "2026-11-01T09:00:05+00:00", "first_seen": "2026-11-01T09:00:05+00:00",
         "last_seen": "2026-11-01T09:00:05+00:00", "updated_at": "2026-11-01T09:00:05+00:00"}
    ).last_pk  # fmt: skip
    add_event(store, case_id, "2026-11-01T09:00:05+00:00", "opened")
    facts = {
        "id": case_id, "domain": domain, "title": f"{domain}: downloader", "status": "investigating",
        "severity": "critical", "owner": "ana", "opened_at": "2026-11-01T09:00:05+00:00",
        "first_seen": "2026-11-01T09:00:05+00:00", "last_seen": "2026-11-01T09:00:05+00:00",
        "notice_sent_at": None, "taken_down_at": None, "next_check_at": None,
        "domains": [{"domain": domain, "reason": "opened", "linked_at": "2026-11-01T09:00:05+00:00"}],
        "tracks": [
            {"track_id": "t1", "title": title, "artist": "Ana Lys", "url": "https://soundcloud.com/analys/night-drive",
             "no_ai": True, "canary": False},
            {"track_id": "t2", "title": "Canary 7", "artist": "SC T&S", "url": "https://soundcloud.com/sc-ts/canary-7",
             "no_ai": False, "canary": True},
        ],
        "links": [{"kind": "client_id", "value": "abc123", "domain": domain}],
        "host_intel": {domain: host_intel(domain)},
        "notices": [],
    }  # fmt: skip
    return store, refresh(store, facts, list(applied.incident_ids.values()))


def add_event(store: Store, case_id: int, at: str, action: str, data: dict | None = None) -> None:
    store.db["case_events"].insert(
        {"case_id": case_id, "at": at, "action": action, "actor": "test", "note": None, "data": json.dumps(data or {})}
    )


def refresh(store: Store, facts: dict[str, Any], incident_ids: list[int] | None = None) -> dict[str, Any]:
    """``facts`` with incidents, evidence, URLs and timeline read again from the database."""
    ids = incident_ids or [i["id"] for i in facts["incidents"]]
    incidents = [store.get_incident(i) for i in sorted(ids)]
    evidence = sorted((e for i in ids for e in store.evidence(i)), key=lambda e: e["id"])
    events = store.db.query("SELECT * FROM case_events WHERE case_id = ? ORDER BY at, id", [facts["id"]])
    keep = ("id", "kind", "severity", "status", "domain", "title", "detail", "data", "first_seen", "last_seen")
    ev_keep = ("id", "incident_id", "at", "url", "page_url", "signature", "severity", "detail", "headers",
               "body_sha256", "screenshot_sha256", "requests_sha256")  # fmt: skip
    return {
        **facts,
        "incidents": [{k: i[k] for k in keep} for i in incidents],
        "evidence": [{k: e[k] for k in ev_keep} for e in evidence],
        "urls": sorted({u for e in evidence for u in (e["url"], e["page_url"])}),
        "timeline": [
            {
                "at": e["at"],
                "source": "case",
                "action": e["action"],
                "actor": e["actor"],
                "note": e["note"],
                "data": json.loads(e["data"]),
            }
            for e in events
        ],
    }
