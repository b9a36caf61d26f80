"""Migration 0009: cases, their domains, links, timeline, notices, exports and host intel."""

from __future__ import annotations

import sqlite_utils

from monitor.migrations.registry import migrations


@migrations(name="0009_cases")
def _m0009(db: sqlite_utils.Database) -> None:
    # Cases: the incidents of one offender, the operator evidence that links its domains, what the team did about it,
    # who runs and hosts it (host intel), and the evidence bundles exported for it.
    db.executescript(
        """
        CREATE TABLE cases (
            id INTEGER PRIMARY KEY,
            domain TEXT NOT NULL,
            title TEXT NOT NULL,
            status TEXT NOT NULL DEFAULT 'new' CHECK (status IN
                ('new', 'investigating', 'notice_sent', 'taken_down', 'no_action', 'reappeared')),
            severity TEXT NOT NULL CHECK (severity IN ('info', 'low', 'medium', 'high', 'critical')),
            owner TEXT,
            merged_into INTEGER REFERENCES cases (id),
            opened_at TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            last_seen TEXT NOT NULL,
            updated_at TEXT NOT NULL,
            notice_sent_at TEXT,
            taken_down_at TEXT,
            next_check_at TEXT
        );
        CREATE INDEX cases_status ON cases (status, severity);
        CREATE INDEX cases_last_seen ON cases (last_seen);
        -- Every registrable domain belongs to at most one live case; reason says why it joined (opened / a link).
        CREATE TABLE case_domains (
            domain TEXT PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases (id),
            reason TEXT NOT NULL,
            linked_at TEXT NOT NULL
        );
        CREATE INDEX case_domains_case ON case_domains (case_id);
        CREATE TABLE case_incidents (
            incident_id INTEGER PRIMARY KEY REFERENCES incidents (id),
            case_id INTEGER NOT NULL REFERENCES cases (id),
            linked_at TEXT NOT NULL
        );
        CREATE INDEX case_incidents_case ON case_incidents (case_id);
        -- Operator evidence seen on a domain (kind: client_id, analytics_id, ip, certificate, relay_host): two
        -- domains sharing a (kind, value) are one operator's, so their cases merge.
        CREATE TABLE case_links (
            id INTEGER PRIMARY KEY,
            kind TEXT NOT NULL,
            value TEXT NOT NULL,
            domain TEXT NOT NULL,
            first_seen TEXT NOT NULL,
            UNIQUE (kind, value, domain)
        );
        CREATE INDEX case_links_value ON case_links (kind, value);
        -- The case timeline: every change and action, who made it.
        CREATE TABLE case_events (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases (id),
            at TEXT NOT NULL,
            action TEXT NOT NULL,
            actor TEXT NOT NULL,
            note TEXT,
            data TEXT NOT NULL DEFAULT '{}'
        );
        CREATE INDEX case_events_case ON case_events (case_id, id);
        CREATE TABLE case_notices (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases (id),
            recipient TEXT NOT NULL CHECK (recipient IN ('hosting', 'registrar', 'site')),
            address TEXT,
            message_id TEXT,
            sent_at TEXT NOT NULL,
            actor TEXT NOT NULL
        );
        CREATE INDEX case_notices_case ON case_notices (case_id);
        -- Each export's manifest chain head: a later export or a third party can verify the bundle against it.
        CREATE TABLE case_exports (
            id INTEGER PRIMARY KEY,
            case_id INTEGER NOT NULL REFERENCES cases (id),
            at TEXT NOT NULL,
            path TEXT NOT NULL,
            chain_head TEXT NOT NULL,
            files INTEGER NOT NULL,
            actor TEXT NOT NULL
        );
        CREATE INDEX case_exports_case ON case_exports (case_id, id);
        -- Who runs and hosts a domain (DNS, RDAP for the domain and its addresses, TLS certificate), cached.
        CREATE TABLE host_intel (
            domain TEXT PRIMARY KEY,
            facts TEXT NOT NULL DEFAULT '{}',
            error TEXT,
            fetched_at TEXT NOT NULL,
            expires_at TEXT NOT NULL
        );
        """
    )
