"""The audio index's table: reference fingerprints of catalogue tracks, written and read by track id."""

from __future__ import annotations

import numpy as np
import sqlite_utils

from monitor.store.core import utcnow


def indexed_hashes(db: sqlite_utils.Database) -> dict[str, tuple[str, str]]:
    """``track id -> (path, sha256)`` of every stored reference (failed ones included: not retried unchanged)."""
    return {
        r["track_id"]: (r["path"], r["sha256"]) for r in db.query("SELECT track_id, path, sha256 FROM audio_references")
    }


def save_reference(
    db: sqlite_utils.Database, track_id: str, path: str, sha256: str, frames: np.ndarray | None, seconds: float,
    reason: str = "",
) -> None:  # fmt: skip
    """Store (or replace) one reference (one statement: atomic); ``frames`` None with a ``reason`` when it failed."""
    blob = None if frames is None else np.asarray(frames, dtype="<u4").tobytes()
    db.execute(
        "INSERT OR REPLACE INTO audio_references (track_id, path, sha256, frames, seconds, reason, indexed_at)"
        " VALUES (?, ?, ?, ?, ?, ?, ?)",
        [track_id, path, sha256, blob, seconds, reason, utcnow()],
    )


def forget_references(db: sqlite_utils.Database, keep: set[str]) -> int:
    """Delete references of tracks no longer in the catalogue; how many went."""
    gone = [t for t in indexed_hashes(db) if t not in keep]
    if gone:  # one statement: atomic
        marks = ",".join("?" * len(gone))
        db.execute(f"DELETE FROM audio_references WHERE track_id IN ({marks})", gone)
    return len(gone)


def load_references(db: sqlite_utils.Database) -> dict[str, np.ndarray]:
    """``track id -> frames`` of every reference that was fingerprinted."""
    rows = db.query("SELECT track_id, frames FROM audio_references WHERE frames IS NOT NULL ORDER BY track_id")
    return {r["track_id"]: np.frombuffer(r["frames"], dtype="<u4").astype(np.uint32) for r in rows}


def reference_rows(db: sqlite_utils.Database) -> list[dict]:
    """Every stored reference without its frames (for listings)."""
    return list(
        db.query("SELECT track_id, path, sha256, seconds, reason, indexed_at FROM audio_references ORDER BY track_id")
    )
