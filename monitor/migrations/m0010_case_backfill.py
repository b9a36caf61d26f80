"""Migration 0010: cases for the incidents an existing database already holds (once, right after 0009)."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils

from monitor.migrations.registry import migrations
from monitor.store.case_writes import backfill


@migrations(name="0010_case_backfill")
def _m0010(db: sqlite_utils.Database) -> None:
    # Idempotent (only incidents without a case are linked), so a database that already has cases loses nothing.
    backfill(db, datetime.now(UTC).isoformat(timespec="microseconds"))
