"""Migration 0013: idempotency keys of runs crawled by workers (a result delivered twice is applied once)."""

from __future__ import annotations

import sqlite_utils

from monitor.migrations.registry import migrations


@migrations(name="0013_distributed")
def _m0013(db: sqlite_utils.Database) -> None:
    # One row per keyed run: the key (the coordinator's run id, which names the run's queued jobs) and the run it
    # became. Only runs crawled through Redis have a key; single-process runs write no row here.
    db.executescript(
        """
        CREATE TABLE run_keys (
            key TEXT PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES probe_runs (id),
            applied_at TEXT NOT NULL
        );
        """
    )
