"""Migration 0014: evidence sightings coalesced (one row per distinct thing seen, with a count and the last time)."""

from __future__ import annotations

import sqlite_utils

from monitor.migrations.registry import migrations


@migrations(name="0014_evidence_sightings")
def _m0014(db: sqlite_utils.Database) -> None:
    # A run that sees again what an incident's latest evidence at the same place (url, page_url, signature) already
    # shows updates that row instead of adding one: ``at`` stays the first sighting, ``last_seen_at`` and
    # ``last_run_id`` the latest, ``sightings`` how many runs saw it. Existing rows were each one sighting.
    db.executescript(
        """
        ALTER TABLE evidence ADD COLUMN last_seen_at TEXT;
        ALTER TABLE evidence ADD COLUMN last_run_id INTEGER REFERENCES probe_runs (id);
        ALTER TABLE evidence ADD COLUMN sightings INTEGER NOT NULL DEFAULT 1;
        UPDATE evidence SET last_seen_at = at, last_run_id = run_id;

        -- The writer's look-up, one seek per place: the latest run that saw evidence of an incident at a place
        -- (max(last_run_id) from the end of the index), then that run's rows there.
        CREATE INDEX evidence_place ON evidence (incident_id, url, page_url, signature, last_run_id);
        """
    )
