"""Migration 0011: an outbox index by incident, and cases for the incidents an existing database already holds."""

from __future__ import annotations

from datetime import UTC, datetime

import sqlite_utils

from monitor.migrations.registry import migrations
from monitor.store.case_writes import backfill


@migrations(name="0011_case_backfill")
def _m0011(db: sqlite_utils.Database) -> None:
    # Each committed incident change tags its outbox row with its case: found by incident, not by a scan.
    db.execute("CREATE INDEX IF NOT EXISTS alert_outbox_incident ON alert_outbox (incident_id, id)")
    # Idempotent (only incidents without a case are linked), so a database that already has cases loses nothing.
    backfill(db, datetime.now(UTC).isoformat(timespec="microseconds"))
