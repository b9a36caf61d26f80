"""Cases for read and web tests: real incidents and evidence stored through ``Store.apply``, then case rows inserted
with SQL. The case writer (tested in tests/cases) opens cases by itself on apply; the read tests need case shapes it
would take many runs to reach (merged, taken down, notices), so they switch it off and insert their own."""

from __future__ import annotations

import dataclasses
import json
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from typing import Any

from monitor.incidents import Evaluation, Evidence, Finding
from monitor.store.core import ProbeRun, Store

T0 = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def at(minutes: float) -> str:
    """T0 plus ``minutes``, as the store writes times."""
    return (T0 + timedelta(minutes=minutes)).isoformat(timespec="microseconds")


def track(track_id: str, title: str = "", no_ai: bool = False, canary: bool = False) -> dict[str, Any]:
    """A catalogue track summary as evaluators record it in incident data."""
    return {"id": track_id, "permalink": f"https://soundcloud.com/artist/{track_id}", "title": title,
            "artist": "Example Artist", "no_ai": no_ai, "canary": canary}  # fmt: skip


def store_findings(
    store: Store, findings: Sequence[Finding], evidence: Sequence[Evidence] = (), minute: float = 0
) -> dict[str, int]:
    """Apply one probe run with ``findings`` (and their evidence); dedupe key -> incident id."""
    when = at(minute)
    run = ProbeRun("exposure_watch:t", "exposure_watch", "t", when, when, "success", None, 0.1)
    store.case_options = dataclasses.replace(store.case_options, link=False)
    return store.apply(run, Evaluation("exposure:t", list(findings)), evidence=evidence).incident_ids


def insert_case(
    store: Store,
    domain: str,
    incident_ids: Sequence[int],
    *,
    title: str | None = None,
    status: str = "new",
    severity: str = "high",
    owner: str | None = None,
    minute: float = 0,
    last_minute: float | None = None,
    domains: Sequence[str] = (),
    merged_into: int | None = None,
    taken_down_minute: float | None = None,
    events: Sequence[tuple[float, str, str | None, dict[str, Any]]] = (),
    notices: Sequence[tuple[str, str, str]] = (),
    links: Sequence[tuple[str, str, str]] = (),
    host_intel: dict[str, dict[str, Any]] | None = None,
) -> int:
    """One case row with its domains, incidents, an 'opened' event plus ``events`` (minute, action, note, data),
    ``notices`` (recipient, address, message id), ``links`` (kind, value, domain) and host intel facts by domain."""
    last = at(minute if last_minute is None else last_minute)
    db = store.db
    with db.conn:
        cur = db.execute(
            "INSERT INTO cases (domain, title, status, severity, owner, merged_into, opened_at, first_seen, last_seen, "
            "updated_at, notice_sent_at, taken_down_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [domain, title or f"{domain} exposes SoundCloud audio", status, severity, owner, merged_into, at(minute),
             at(minute), last, last, at(minute + 1) if notices else None,
             at(taken_down_minute) if taken_down_minute is not None else None],
        )  # fmt: skip
        case_id = cur.lastrowid
        if merged_into is None:
            for i, d in enumerate([domain, *domains]):
                db.execute(
                    "INSERT INTO case_domains (domain, case_id, reason, linked_at) VALUES (?, ?, ?, ?)",
                    [d, case_id, "opened" if i == 0 else "client_id", at(minute)],
                )
        for incident_id in incident_ids:
            db.execute(
                "INSERT INTO case_incidents (incident_id, case_id, linked_at) VALUES (?, ?, ?)",
                [incident_id, case_id, at(minute)],
            )
        rows = [(minute, "opened", None, {}), *events]
        for m, action, note, data in rows:
            db.execute(
                "INSERT INTO case_events (case_id, at, action, actor, note, data) VALUES (?, ?, ?, ?, ?, ?)",
                [case_id, at(m), action, "scrapewatch" if action == "opened" else "analyst", note, json.dumps(data)],
            )
        for recipient, address, message_id in notices:
            db.execute(
                "INSERT INTO case_notices (case_id, recipient, address, message_id, sent_at, actor) "
                "VALUES (?, ?, ?, ?, ?, ?)",
                [case_id, recipient, address, message_id, at(minute + 1), "analyst"],
            )
        for kind, value, d in links:
            db.execute(
                "INSERT INTO case_links (kind, value, domain, first_seen) VALUES (?, ?, ?, ?)",
                [kind, value, d, at(minute)],
            )
        for d, facts in (host_intel or {}).items():
            db.execute(
                "INSERT INTO host_intel (domain, facts, fetched_at, expires_at) VALUES (?, ?, ?, ?)",
                [d, json.dumps(facts), at(minute), at(minute + 1440)],
            )
    return case_id


def finding(
    domain: str, n: int, severity: str = "high", data: dict[str, Any] | None = None, title: str = ""
) -> Finding:
    """An exposure finding on ``domain`` (the n-th of its site)."""
    key = f"exposure:{domain}:downloader:{n}"
    title = title or f"{domain} serves SoundCloud audio #{n}"
    return Finding(key, "exposure_downloader", severity, domain, title, f"detail {n}", data or {"site": domain})


def host_facts(domain: str, provider: str = "Example Hosting") -> dict[str, Any]:
    """Host intel facts in the contract's shape."""
    return {
        "domain": domain,
        "fetched_at": at(0),
        "dns": {"a": ["192.0.2.10"], "aaaa": [], "cname": [], "ns": ["ns1.example-dns.test"], "mx": [],
                "refused": [{"address": "10.0.0.5", "reason": "private address"}], "error": None},
        "registration": {"registrar": "Example Registrar", "registrar_abuse_email": "abuse@registrar.test",
                         "registrar_abuse_phone": "+1.5550100", "created": "2024-01-02", "rdap_url": None,
                         "error": None},
        "networks": [{"ip": "192.0.2.10", "network_name": "EXAMPLE-NET", "handle": "NET-1", "asn": 64500,
                      "hosting_provider": provider, "abuse_email": "abuse@hosting.test", "country": "NL",
                      "rdap_url": None, "error": None}],
        "certificate": {"issuer": "Example CA", "subject": f"CN={domain}", "sans": [domain, f"www.{domain}"],
                        "not_before": "2026-01-01", "not_after": "2027-01-01", "sha256": "ab" * 32},
    }  # fmt: skip
