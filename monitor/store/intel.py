"""Host intel in SQLite: which domains are due for a lookup, their stored facts, and one run's writes (facts, case
links of kind ip / certificate, host_changed events on the owning case), applied inside Store.apply's transaction."""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import sqlite_utils

from monitor.incidents import ACTIVE

__all__ = ["IntelWrite", "candidate_hosts", "due", "listing", "stored_facts", "write"]

SYSTEM_ACTOR = "scrapewatch"


@dataclass(frozen=True)
class IntelWrite:
    """One domain's lookup as it is stored: facts, error summary, when to look again, and the changes found."""

    domain: str
    facts: dict[str, Any]
    error: str | None
    fetched_at: str
    expires_at: str
    changes: list[dict[str, Any]] = field(default_factory=list)
    links: list[tuple[str, str]] = field(default_factory=list)


def candidate_hosts(db: sqlite_utils.Database) -> tuple[list[str], list[str]]:
    """(domains of cases, hosts of open exposure and scraping incidents): what host intel looks up. Policy and
    probe-health incidents are about SoundCloud's own hosts or scrapewatch's probes, and storm summaries about many."""
    # A hub owner's case ("huggingface.co/owner") is not a host: the hub's operators are reached through the hub.
    cases = [
        r[0]
        for r in db.execute("SELECT domain FROM case_domains WHERE instr(domain, '/') = 0 ORDER BY linked_at, domain")
    ]
    incidents = [
        r[0]
        for r in db.execute(
            "SELECT domain FROM incidents WHERE status IN (?, ?) AND kind NOT LIKE 'policy%' "
            "AND kind <> 'probe_health' AND coalesce(json_extract(data, '$.storm'), 0) = 0 "
            "GROUP BY domain ORDER BY min(first_seen), domain",
            list(ACTIVE),
        )
    ]
    return cases, incidents


def due(db: sqlite_utils.Database, domains: Sequence[str], now: str, limit: int) -> list[str]:
    """Of ``domains``, those never looked up (first, in the given order) or whose facts expired (oldest first)."""
    stored: dict[str, str] = {}
    for at in range(0, len(domains), 500):
        chunk = list(domains[at : at + 500])
        marks = ",".join("?" * len(chunk))
        stored |= dict(db.execute(f"SELECT domain, expires_at FROM host_intel WHERE domain IN ({marks})", chunk))
    fresh = [d for d in domains if d not in stored]
    expired = sorted((stored[d], d) for d in domains if d in stored and stored[d] <= now)
    return (fresh + [d for _, d in expired])[:limit]


def stored_facts(db: sqlite_utils.Database, domain: str) -> dict[str, Any] | None:
    """The stored facts of ``domain`` (None: never looked up)."""
    row = db.execute("SELECT facts FROM host_intel WHERE domain = ?", [domain]).fetchone()
    return json.loads(row[0]) if row else None


def listing(db: sqlite_utils.Database) -> list[dict[str, Any]]:
    """Every stored lookup as ``{"domain", "facts", "error", "fetched_at"}``, by domain."""
    rows = db.execute("SELECT domain, facts, error, fetched_at FROM host_intel ORDER BY domain")
    return [{"domain": d, "facts": json.loads(f), "error": e, "fetched_at": at} for d, f, e, at in rows]


def write(writes: Sequence[IntelWrite], db: sqlite_utils.Database, now: str) -> None:
    """Store a run's lookups (called inside the run's transaction): facts, links, and one ``host_changed`` case
    event per changed field on the case that owns the domain."""
    for w in writes:
        db.execute(
            "INSERT INTO host_intel (domain, facts, error, fetched_at, expires_at) VALUES (?, ?, ?, ?, ?) "
            "ON CONFLICT (domain) DO UPDATE SET facts = excluded.facts, error = excluded.error, "
            "fetched_at = excluded.fetched_at, expires_at = excluded.expires_at",
            [w.domain, json.dumps(w.facts, sort_keys=True), w.error, w.fetched_at, w.expires_at],
        )
        db.conn.executemany(
            "INSERT OR IGNORE INTO case_links (kind, value, domain, first_seen) VALUES (?, ?, ?, ?)",
            [[kind, value, w.domain, now] for kind, value in w.links],
        )
        owner = db.execute("SELECT case_id FROM case_domains WHERE domain = ?", [w.domain]).fetchone()
        if owner is None or not w.changes:
            continue
        db.conn.executemany(
            "INSERT INTO case_events (case_id, at, action, actor, note, data) VALUES (?, ?, 'host_changed', ?, ?, ?)",
            [
                [owner[0], now, SYSTEM_ACTOR, f"{w.domain}: {c['field']} changed", json.dumps(c, sort_keys=True)]
                for c in w.changes
            ],
        )
