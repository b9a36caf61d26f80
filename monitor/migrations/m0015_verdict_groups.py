"""Migration 0015: verdicts stored once per group of agents with equal verdicts, not once per agent."""

from __future__ import annotations

import sqlite_utils

from monitor.migrations.registry import migrations


@migrations(name="0015_verdict_groups")
def _m0015(db: sqlite_utils.Database) -> None:
    db.executescript(
        """
        -- Most agents fall to the same robots.txt group on a site, so their verdicts are equal but for the agent's
        -- name: a first audit wrote ~650 equal-looking rows per domain. A row whose agent is '*' now holds the
        -- verdicts of every agent listed in its agent set (a JSON array stored once, by its SHA-256, for every
        -- domain that has the same group). Rows written before this migration name their agent and have no set.
        CREATE TABLE policy_agent_sets (
            sha256 TEXT PRIMARY KEY,
            agents TEXT NOT NULL
        ) WITHOUT ROWID;
        ALTER TABLE policy_verdicts ADD COLUMN agent_set TEXT REFERENCES policy_agent_sets (sha256);

        -- The agent sets of one (domain, path class) are disjoint, so a set names its '*' row.
        DROP INDEX policy_verdicts_current;
        CREATE UNIQUE INDEX policy_verdicts_current
            ON policy_verdicts (domain, agent, path_class, coalesce(agent_set, '')) WHERE valid_to IS NULL;
        DROP INDEX policy_verdicts_current_metrics;
        CREATE INDEX policy_verdicts_current_metrics ON policy_verdicts
            (domain, agent, path_class, crawl_allowed, restriction, contradictions, agent_set) WHERE valid_to IS NULL;

        -- The verdicts in force, one row per (domain, agent, path class), for whoever reads the database by hand.
        CREATE VIEW policy_verdicts_in_force AS
            SELECT v.id, v.domain, coalesce(a.value, v.agent) AS agent, v.path_class, v.crawl_allowed, v.sample,
                v.grp, v.rule_line, v.rule_directive, v.rule_pattern, v.train_ai, v.train_ai_source, v.ai_input,
                v.ai_input_source, v.search, v.search_source, v.restriction, v.contradictions, v.valid_from
            FROM policy_verdicts v
            LEFT JOIN policy_agent_sets s ON s.sha256 = v.agent_set
            LEFT JOIN json_each(s.agents) a
            WHERE v.valid_to IS NULL;
        """
    )
