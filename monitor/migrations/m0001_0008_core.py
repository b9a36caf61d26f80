"""Migrations 0001-0008: runs, policy files, incidents, alerts, verdicts, evidence, probe state, audio references."""

from __future__ import annotations

import sqlite_utils

from monitor.migrations.registry import migrations


@migrations(name="0001_initial")
def _m0001(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        CREATE TABLE probe_runs (
            id INTEGER PRIMARY KEY,
            job TEXT NOT NULL,
            probe TEXT NOT NULL,
            domain TEXT NOT NULL,
            started_at TEXT NOT NULL,
            finished_at TEXT NOT NULL,
            outcome TEXT NOT NULL CHECK (outcome IN ('success', 'failure')),
            error_kind TEXT,
            duration_seconds REAL NOT NULL,
            observations INTEGER NOT NULL DEFAULT 0
        );
        CREATE INDEX probe_runs_job ON probe_runs (job, finished_at);

        -- Each distinct body is stored once, addressed by its SHA-256.
        CREATE TABLE bodies (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            content BLOB NOT NULL,
            first_stored_at TEXT NOT NULL
        );

        CREATE TABLE observations (
            id INTEGER PRIMARY KEY,
            run_id INTEGER NOT NULL REFERENCES probe_runs (id),
            domain TEXT NOT NULL,
            file TEXT NOT NULL,
            url TEXT NOT NULL,
            final_url TEXT,
            fetched_at TEXT NOT NULL,
            status INTEGER,
            error_kind TEXT,
            error_detail TEXT,
            sha256 TEXT REFERENCES bodies (sha256),
            size INTEGER NOT NULL DEFAULT 0,
            truncated INTEGER NOT NULL DEFAULT 0,
            headers TEXT NOT NULL DEFAULT '{}',
            redirects TEXT NOT NULL DEFAULT '[]',
            duration_seconds REAL NOT NULL DEFAULT 0
        );
        CREATE INDEX observations_domain_file ON observations (domain, file, fetched_at);

        -- Every distinct version of a policy file, in the order seen; a version ends when the next starts.
        CREATE TABLE snapshots (
            id INTEGER PRIMARY KEY,
            domain TEXT NOT NULL,
            file TEXT NOT NULL,
            state TEXT NOT NULL CHECK (state IN ('present', 'missing', 'unreachable')),
            status INTEGER,
            sha256 TEXT REFERENCES bodies (sha256),
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            observations INTEGER NOT NULL DEFAULT 1
        );
        CREATE INDEX snapshots_domain_file ON snapshots (domain, file, id);

        CREATE TABLE incidents (
            id INTEGER PRIMARY KEY,
            dedupe_key TEXT NOT NULL UNIQUE,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
            status TEXT NOT NULL CHECK (status IN ('open', 'acknowledged', 'resolved', 'false_positive')),
            domain TEXT NOT NULL,
            scope TEXT NOT NULL,
            title TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            data TEXT NOT NULL DEFAULT '{}',
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            occurrences INTEGER NOT NULL DEFAULT 1,
            resolved_at TEXT,
            updated_at TEXT NOT NULL
        );
        CREATE INDEX incidents_status ON incidents (status, severity);
        CREATE INDEX incidents_scope ON incidents (scope, status);

        -- The audit trail: every change to an incident and who made it.
        CREATE TABLE incident_events (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            from_status TEXT,
            to_status TEXT,
            from_severity TEXT,
            to_severity TEXT,
            note TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX incident_events_incident ON incident_events (incident_id, id);

        -- Alerts written in the same transaction as the incident change; drained by the alert sender.
        CREATE TABLE alert_outbox (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            event_id INTEGER NOT NULL REFERENCES incident_events (id),
            idempotency_key TEXT NOT NULL UNIQUE,
            transition TEXT NOT NULL,
            severity TEXT NOT NULL,
            payload TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'sent', 'dead')),
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_error TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX alert_outbox_pending ON alert_outbox (status, next_attempt_at);
        """
    )


@migrations(name="0002_policy_verdicts")
def _m0002(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The verdict matrix as versions: a row holds from valid_from until valid_to (NULL: still current),
        -- so the policy in force at any past moment can be answered.
        CREATE TABLE policy_verdicts (
            id INTEGER PRIMARY KEY,
            domain TEXT NOT NULL,
            agent TEXT NOT NULL,
            path_class TEXT NOT NULL,
            crawl_allowed INTEGER NOT NULL,
            sample TEXT NOT NULL,
            grp TEXT NOT NULL,
            rule_line INTEGER,
            rule_directive TEXT,
            rule_pattern TEXT,
            train_ai TEXT,
            train_ai_source TEXT,
            ai_input TEXT,
            ai_input_source TEXT,
            search TEXT,
            search_source TEXT,
            restriction TEXT NOT NULL CHECK (restriction IN ('full', 'partial', 'none')),
            contradictions INTEGER NOT NULL DEFAULT 0,
            valid_from TEXT NOT NULL,
            valid_to TEXT
        );
        CREATE UNIQUE INDEX policy_verdicts_current
            ON policy_verdicts (domain, agent, path_class) WHERE valid_to IS NULL;
        CREATE INDEX policy_verdicts_time ON policy_verdicts (domain, valid_from, valid_to);
        """
    )


@migrations(name="0003_alert_deliveries")
def _m0003(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- When the sender first saw an outbox row and fanned it out to the channels.
        ALTER TABLE alert_outbox ADD COLUMN routed_at TEXT;
        UPDATE alert_outbox SET routed_at = sent_at WHERE status != 'pending';

        -- One row per (outbox row x channel), or per (digest period x channel): what each channel got.
        CREATE TABLE alert_deliveries (
            id INTEGER PRIMARY KEY,
            outbox_id INTEGER REFERENCES alert_outbox (id),
            incident_id INTEGER REFERENCES incidents (id),
            channel TEXT NOT NULL,
            idempotency_key TEXT NOT NULL UNIQUE,
            transition TEXT NOT NULL,
            kind TEXT NOT NULL,
            severity TEXT NOT NULL,
            domain TEXT NOT NULL,
            payload TEXT,
            status TEXT NOT NULL DEFAULT 'pending'
                CHECK (status IN ('pending', 'sent', 'dead', 'muted', 'filtered')),
            detail TEXT,
            attempts INTEGER NOT NULL DEFAULT 0,
            next_attempt_at TEXT NOT NULL,
            last_attempt_at TEXT,
            last_error TEXT,
            message_key TEXT,
            created_at TEXT NOT NULL,
            sent_at TEXT
        );
        CREATE INDEX alert_deliveries_due ON alert_deliveries (status, next_attempt_at);
        CREATE INDEX alert_deliveries_outbox ON alert_deliveries (outbox_id);

        -- Mutes set from the CLI (`scrapewatch mute add`); configured mutes live in the settings.
        CREATE TABLE alert_mutes (
            id INTEGER PRIMARY KEY,
            domain TEXT,
            kind TEXT,
            until TEXT NOT NULL,
            reason TEXT NOT NULL DEFAULT '',
            actor TEXT NOT NULL,
            created_at TEXT NOT NULL,
            lifted_at TEXT,
            lifted_by TEXT,
            CHECK (domain IS NOT NULL OR kind IS NOT NULL)
        );
        """
    )


@migrations(name="0004_exposure")
def _m0004(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Consecutive clean runs of an active incident (exposure incidents resolve after K of them).
        ALTER TABLE incidents ADD COLUMN clean_runs INTEGER NOT NULL DEFAULT 0;

        -- One row per occurrence of a finding: what was matched where, with hashes of the files kept under the
        -- data directory (evidence/<sha256[:2]>/<sha256>): the response body, a screenshot, the request log.
        CREATE TABLE evidence (
            id INTEGER PRIMARY KEY,
            incident_id INTEGER NOT NULL REFERENCES incidents (id),
            run_id INTEGER NOT NULL REFERENCES probe_runs (id),
            at TEXT NOT NULL,
            url TEXT NOT NULL,
            page_url TEXT NOT NULL,
            signature TEXT NOT NULL,
            severity TEXT NOT NULL,
            detail TEXT NOT NULL DEFAULT '',
            snippet TEXT NOT NULL DEFAULT '',
            headers TEXT NOT NULL DEFAULT '{}',
            body_sha256 TEXT,
            screenshot_sha256 TEXT,
            requests_sha256 TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX evidence_incident ON evidence (incident_id, id);

        -- Files kept under the data directory, addressed by SHA-256 (each stored once).
        CREATE TABLE evidence_files (
            sha256 TEXT PRIMARY KEY,
            size INTEGER NOT NULL,
            kind TEXT NOT NULL,
            content_type TEXT NOT NULL DEFAULT '',
            first_stored_at TEXT NOT NULL
        );
        """
    )


@migrations(name="0005_run_error_detail")
def _m0005(db: sqlite_utils.Database) -> None:
    # Why a run failed in words: a probe that raised records the exception's class and message here.
    db.execute("ALTER TABLE probe_runs ADD COLUMN error_detail TEXT")
    # A run is now also 'error' (the probe itself raised). SQLite cannot ALTER a CHECK constraint; widening it in the
    # stored schema is the documented way when every existing row satisfies the new one (they all do: it only
    # allows one more value). Rebuilding the table instead would fight the foreign keys that point at it.
    old = "CHECK (outcome IN ('success', 'failure'))"
    new = "CHECK (outcome IN ('success', 'failure', 'error'))"
    version = db.execute("PRAGMA schema_version").fetchone()[0]
    db.execute("PRAGMA writable_schema = ON")
    db.execute(
        "UPDATE sqlite_master SET sql = replace(sql, ?, ?) WHERE type = 'table' AND name = 'probe_runs'", [old, new]
    )
    db.execute("PRAGMA writable_schema = OFF")
    db.execute(f"PRAGMA schema_version = {version + 1}")


@migrations(name="0006_probe_state")
def _m0006(db: sqlite_utils.Database) -> None:
    # Where a job's next run resumes (an archive query's page, resume key, crawl): JSON, written with the run.
    db.execute("CREATE TABLE probe_state (job TEXT PRIMARY KEY, state TEXT NOT NULL, updated_at TEXT NOT NULL)")


@migrations(name="0007_heartbeat")
def _m0007(db: sqlite_utils.Database) -> None:
    # One row, rewritten by every readiness check: a committed write is the only proof the database takes writes.
    db.execute("CREATE TABLE heartbeat (id INTEGER PRIMARY KEY CHECK (id = 1), at TEXT NOT NULL)")


@migrations(name="0008_audio_index")
def _m0008(db: sqlite_utils.Database) -> None:
    # Reference fingerprints of the catalogue (raw Chromaprint frames, little-endian uint32). The inverted index is
    # rebuilt in memory from them at load (a second or two for thousands of tracks), so it never goes stale.
    db.executescript(
        """
        CREATE TABLE audio_references (
            track_id TEXT PRIMARY KEY,
            path TEXT NOT NULL,
            sha256 TEXT NOT NULL,
            frames BLOB,
            seconds REAL NOT NULL DEFAULT 0,
            reason TEXT NOT NULL DEFAULT '',
            indexed_at TEXT NOT NULL
        );
        """
    )
