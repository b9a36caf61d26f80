"""Policy files in the store: each fetch as an observation, each distinct body once, each version as a snapshot."""

from __future__ import annotations

import hashlib
import json

import sqlite_utils

from monitor.policy.snapshot import FileVerdict
from spiders.items import PolicyFileItem


def observation(db: sqlite_utils.Database, run_id: int, now: str, item: PolicyFileItem, verdict: FileVerdict) -> None:
    sha = store_body(db, item.body, now) if item.status is not None else None
    db.execute(
        "INSERT INTO observations (run_id, domain, file, url, final_url, fetched_at, status, "
        "error_kind, error_detail, sha256, size, truncated, headers, redirects, duration_seconds) "
        "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [run_id, item.domain, item.file, item.url, item.final_url, item.fetched_at or now, item.status,
         item.error_kind, item.error_detail, sha, item.size, int(item.truncated), json.dumps(item.headers),
         json.dumps(item.redirects), item.duration_seconds],
    )  # fmt: skip
    snapshot(db, item, verdict, now)


def store_body(db: sqlite_utils.Database, body: bytes, now: str) -> str:
    sha = hashlib.sha256(body).hexdigest()
    db.execute(
        "INSERT OR IGNORE INTO bodies (sha256, size, content, first_stored_at) VALUES (?, ?, ?, ?)",
        [sha, len(body), body, now],
    )
    return sha


def snapshot(db: sqlite_utils.Database, item: PolicyFileItem, verdict: FileVerdict, now: str) -> None:
    if verdict.new_version:
        db.execute(
            "INSERT INTO snapshots (domain, file, state, status, sha256, first_seen, last_seen) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            [item.domain, item.file, verdict.state, item.status, verdict.sha256, now, now],
        )
    else:
        db.execute(
            "UPDATE snapshots SET last_seen = ?, observations = observations + 1, status = ? "
            "WHERE id = (SELECT max(id) FROM snapshots WHERE domain = ? AND file = ?)",
            [now, item.status, item.domain, item.file],
        )
