"""Migration 0012: read paths that stay flat as history grows (indexes, a severity rank, counts kept by triggers)."""

from __future__ import annotations

import sqlite_utils

from monitor.migrations.registry import migrations


@migrations(name="0012_read_paths")
def _m0012(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- The triage page sorts by severity, most severe first: a plain column (computed, never written) so that
        -- an index can hold that order and a keyset cursor can compare it.
        ALTER TABLE incidents ADD COLUMN severity_rank INTEGER GENERATED ALWAYS AS (CASE severity
            WHEN 'info' THEN 0 WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 WHEN 'critical' THEN 4
            END) VIRTUAL;

        -- /api/incidents: newest activity first (last_seen, id), alone or under one exact filter.
        CREATE INDEX incidents_seen ON incidents (last_seen);
        CREATE INDEX incidents_kind_seen ON incidents (kind, last_seen);
        CREATE INDEX incidents_domain_seen ON incidents (domain, last_seen);
        CREATE INDEX incidents_status_seen ON incidents (status, last_seen);
        CREATE INDEX incidents_severity_seen ON incidents (severity, last_seen);
        -- /triage: most severe, then newest activity first; the default view lists the active ones.
        CREATE INDEX incidents_rank ON incidents (severity_rank, last_seen);
        CREATE INDEX incidents_active_rank ON incidents (severity_rank, last_seen)
            WHERE status IN ('open', 'acknowledged');
        CREATE INDEX incidents_status_rank ON incidents (status, severity_rank, last_seen);
        CREATE INDEX incidents_kind_rank ON incidents (kind, severity_rank, last_seen);
        CREATE INDEX incidents_domain_rank ON incidents (domain, severity_rank, last_seen);

        -- Counts kept exact by triggers in the writing transaction, so that totals, filter menus and gauges read a
        -- few rows instead of counting the whole history.
        CREATE TABLE incident_counts (
            status TEXT NOT NULL,
            severity TEXT NOT NULL,
            kind TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (status, severity, kind)
        ) WITHOUT ROWID;
        CREATE TABLE incident_domains (domain TEXT PRIMARY KEY, n INTEGER NOT NULL) WITHOUT ROWID;
        INSERT INTO incident_counts SELECT status, severity, kind, count(*) FROM incidents GROUP BY 1, 2, 3;
        INSERT INTO incident_domains SELECT domain, count(*) FROM incidents GROUP BY 1;

        CREATE TRIGGER incident_counts_insert AFTER INSERT ON incidents BEGIN
            INSERT INTO incident_counts VALUES (new.status, new.severity, new.kind, 1)
                ON CONFLICT (status, severity, kind) DO UPDATE SET n = n + 1;
            INSERT INTO incident_domains VALUES (new.domain, 1) ON CONFLICT (domain) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER incident_counts_delete AFTER DELETE ON incidents BEGIN
            UPDATE incident_counts SET n = n - 1
                WHERE status = old.status AND severity = old.severity AND kind = old.kind;
            DELETE FROM incident_counts WHERE n <= 0;
            UPDATE incident_domains SET n = n - 1 WHERE domain = old.domain;
            DELETE FROM incident_domains WHERE n <= 0;
        END;
        CREATE TRIGGER incident_counts_update AFTER UPDATE OF status, severity, kind, domain ON incidents
        WHEN old.status IS NOT new.status OR old.severity IS NOT new.severity OR old.kind IS NOT new.kind
            OR old.domain IS NOT new.domain BEGIN
            UPDATE incident_counts SET n = n - 1
                WHERE status = old.status AND severity = old.severity AND kind = old.kind;
            INSERT INTO incident_counts VALUES (new.status, new.severity, new.kind, 1)
                ON CONFLICT (status, severity, kind) DO UPDATE SET n = n + 1;
            DELETE FROM incident_counts WHERE n <= 0;
            UPDATE incident_domains SET n = n - 1 WHERE domain = old.domain;
            INSERT INTO incident_domains VALUES (new.domain, 1) ON CONFLICT (domain) DO UPDATE SET n = n + 1;
            DELETE FROM incident_domains WHERE n <= 0;
        END;

        -- /metrics reads the verdicts in force on every scrape: from this index alone, not from rows scattered
        -- through the whole verdict history.
        CREATE INDEX policy_verdicts_current_metrics ON policy_verdicts
            (domain, agent, path_class, crawl_allowed, restriction, contradictions) WHERE valid_to IS NULL;

        -- Alert deliveries by channel and status (dead letters per channel on every scrape).
        CREATE TABLE alert_delivery_counts (
            channel TEXT NOT NULL,
            status TEXT NOT NULL,
            n INTEGER NOT NULL,
            PRIMARY KEY (channel, status)
        ) WITHOUT ROWID;
        INSERT INTO alert_delivery_counts SELECT channel, status, count(*) FROM alert_deliveries GROUP BY 1, 2;
        CREATE TRIGGER alert_delivery_counts_insert AFTER INSERT ON alert_deliveries BEGIN
            INSERT INTO alert_delivery_counts VALUES (new.channel, new.status, 1)
                ON CONFLICT (channel, status) DO UPDATE SET n = n + 1;
        END;
        CREATE TRIGGER alert_delivery_counts_delete AFTER DELETE ON alert_deliveries BEGIN
            UPDATE alert_delivery_counts SET n = n - 1 WHERE channel = old.channel AND status = old.status;
        END;
        CREATE TRIGGER alert_delivery_counts_update AFTER UPDATE OF channel, status ON alert_deliveries
        WHEN old.channel IS NOT new.channel OR old.status IS NOT new.status BEGIN
            UPDATE alert_delivery_counts SET n = n - 1 WHERE channel = old.channel AND status = old.status;
            INSERT INTO alert_delivery_counts VALUES (new.channel, new.status, 1)
                ON CONFLICT (channel, status) DO UPDATE SET n = n + 1;
        END;
        """
    )
