"""A run's evidence rows, coalesced: a sighting identical in substance to the latest one at its place updates that
row (last_seen_at, sightings) instead of adding one, so that evidence grows with changes, not with time."""

from __future__ import annotations

import json
from collections.abc import Sequence
from typing import Any

import sqlite_utils

from monitor.incidents import Evidence
from monitor.store.files import StoredFile

__all__ = ["VOLATILE_HEADERS", "substance", "write"]

# Response headers that differ between two fetches of the same content: the clock (date, age, expires), caches'
# and edges' bookkeeping and per-request ids (which node, hit or miss, a trace), session cookies, per-response CSP
# nonces, validators (etag, last-modified: the body's own hash already says whether the content changed). Any
# other header is part of what was seen: content-type, content-disposition, location, server, CORS, ...
VOLATILE_HEADERS = frozenset({
    "date", "age", "expires", "last-modified", "etag", "set-cookie", "content-security-policy",
    "content-security-policy-report-only", "report-to", "nel", "server-timing", "x-timer", "x-runtime",
    "x-response-time", "via", "x-cache", "x-cache-hits", "x-cache-status", "cf-cache-status", "x-proxy-cache",
    "x-served-by", "x-varnish", "cf-ray", "x-amz-cf-id", "x-amz-cf-pop", "x-amz-id-2", "traceparent", "tracestate",
    "x-vercel-id", "x-vercel-cache", "x-github-request-id", "x-nf-request-id", "fly-request-id", "alt-svc",
})  # fmt: skip
# Per-request ids under any vendor's prefix (x-request-id, x-amzn-requestid, x-cloud-trace-context, ...).
_VOLATILE_PARTS = ("request-id", "requestid", "trace", "correlation-id")

_PLACES_PER_QUERY = 200  # 800 host parameters: under SQLite's oldest bound (999)
_ROW_COLUMNS = (
    "e.id, e.incident_id, e.url, e.page_url, e.signature, e.severity, e.detail, e.snippet, e.headers, e.body_sha256, "
    "e.screenshot_sha256, e.requests_sha256, e.data"
)

Place = tuple[int, str, str, str]  # (incident_id, url, page_url, signature)
Substance = tuple[str | None, ...]


def _stable(headers: Any) -> dict[str, Any]:
    if not isinstance(headers, dict):
        return {}
    return {
        name.lower(): value
        for name, value in headers.items()
        if name.lower() not in VOLATILE_HEADERS and not any(part in name.lower() for part in _VOLATILE_PARTS)
    }


def substance(
    severity: str, detail: str, snippet: str, headers: str | dict[str, Any], body: str | None,
    screenshot: str | None, requests: str | None, data: str,
) -> Substance:  # fmt: skip
    """What makes two sightings at one place the same evidence, as one comparable value (``headers`` as stored,
    JSON text, or as the evaluator gave them; ``data`` as stored). Every field counts but the volatile headers:
    severity, detail and snippet say what matched; the three file hashes say what was fetched, shown and requested;
    ``data`` holds the match's facts as the evaluators state them (signed-URL expiry and liveness, track ids, a
    capture's facts, a page's row count, a canary step's status and hashes), never a timing or the clock, so a
    change there is a change in what was seen (a live link that expired, a listing that grew). ``data`` is compared
    as the text one writer (json.dumps of the evaluator's dict) made: parsing it would cost more than it could ever
    save (a different key order could only add a row, never merge two different things)."""
    parsed = json.loads(headers) if isinstance(headers, str) else headers
    stable = json.dumps(_stable(parsed), sort_keys=True, default=str)
    return (severity, detail, snippet, stable, body, screenshot, requests, data)


def write(
    db: sqlite_utils.Database,
    run_id: int,
    now: str,
    evidence: Sequence[Evidence],
    stored: dict[int, StoredFile],
    ids: dict[str, int],
) -> tuple[int, int]:
    """Write ``evidence`` of run ``run_id`` inside the caller's transaction: the file records, then a new row for
    each distinct thing seen and a sighting (last_seen_at, last_run_id, sightings + 1) on the row that already
    shows it. The rows compared are those of the latest run that saw evidence of the incident at the same place
    (url, page_url, signature): what went away and came back is a new row, so the history keeps when it changed.
    Evidence of a finding without an incident in ``ids`` is dropped. Returns (rows inserted, sightings added)."""

    def sha(content: bytes | None) -> str | None:
        return stored[id(content)].sha256 if content else None

    db.conn.executemany(
        "INSERT OR IGNORE INTO evidence_files (sha256, size, kind, content_type, first_stored_at) "
        "VALUES (?, ?, ?, ?, ?)",
        [[f.sha256, f.size, f.kind, f.content_type, now] for f in {f.sha256: f for f in stored.values()}.values()],
    )
    rows = []
    for e in evidence:
        if e.dedupe_key in ids:
            place = (ids[e.dedupe_key], e.url, e.page_url, e.signature)
            values = (e.severity, e.detail, e.snippet, json.dumps(e.headers), sha(e.body), sha(e.screenshot),
                      sha(e.requests), json.dumps(e.data, default=str))  # fmt: skip
            rows.append((place, values, substance(*values[:3], e.headers, *values[4:])))
    latest = _latest(db, list(dict.fromkeys(place for place, _, _ in rows)))
    inserts: list[list[Any]] = []
    sighted: list[int] = []
    done: set[tuple[Place, Substance]] = set()
    for place, values, key in rows:
        if (place, key) in done:  # the same thing twice in one run: one sighting
            continue
        done.add((place, key))
        row_id = latest.get(place, {}).get(key)
        if row_id is not None:
            sighted.append(row_id)
        else:
            inserts.append([place[0], run_id, now, place[1], place[2], place[3], *values, now, run_id])
    db.conn.executemany(
        "UPDATE evidence SET last_seen_at = ?, last_run_id = ?, sightings = sightings + 1 WHERE id = ?",
        [[now, run_id, row_id] for row_id in sighted],
    )
    db.conn.executemany(
        "INSERT INTO evidence (incident_id, run_id, at, url, page_url, signature, severity, detail, snippet, "
        "headers, body_sha256, screenshot_sha256, requests_sha256, data, last_seen_at, last_run_id) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        inserts,
    )
    return len(inserts), len(sighted)


def _latest(db: sqlite_utils.Database, places: list[Place]) -> dict[Place, dict[Substance, int]]:
    """Per place, the substance -> row id of the rows its latest sighting run left there, in one query per
    _PLACES_PER_QUERY places (two index seeks each on evidence_place, however long the history)."""
    out: dict[Place, dict[Substance, int]] = {}
    for at in range(0, len(places), _PLACES_PER_QUERY):
        chunk = places[at : at + _PLACES_PER_QUERY]
        marks = ", ".join(["(?, ?, ?, ?)"] * len(chunk))
        sql = (
            f"WITH k (i, u, p, s) AS (VALUES {marks}) "
            f"SELECT {_ROW_COLUMNS} FROM k JOIN evidence e "
            "ON e.incident_id = k.i AND e.url = k.u AND e.page_url = k.p AND e.signature = k.s AND e.last_run_id = "
            "(SELECT max(x.last_run_id) FROM evidence x "
            "WHERE x.incident_id = k.i AND x.url = k.u AND x.page_url = k.p AND x.signature = k.s) "
            "ORDER BY e.id"
        )
        for r in db.execute(sql, [v for place in chunk for v in place]).fetchall():
            place = (r[1], r[2], r[3], r[4])
            out.setdefault(place, {})[substance(*r[5:])] = r[0]  # the newest of equals wins (ORDER BY id)
    return out
