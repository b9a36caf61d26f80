"""The store's reads: policy snapshots and verdicts, runs and probe-health streaks (incident lists: listing)."""

from __future__ import annotations

import json
from typing import Any

import sqlite_utils

from monitor.evaluators import health
from monitor.policy.matrix import Cell
from monitor.policy.snapshot import Previous
from monitor.store import verdicts as store_verdicts
from monitor.store.case_reads import CaseReads
from monitor.store.listing import IncidentListing


class Reads(CaseReads, IncidentListing):
    """Read queries over scrapewatch's tables (no transaction: SQLite reads see the last commit); incident lists
    come from ``IncidentListing``, the case reads from ``CaseReads``."""

    db: sqlite_utils.Database

    def previous_file(self, domain: str, file: str) -> Previous:
        """The latest snapshot of a policy file and the last version that was present."""
        latest = self._one(
            "SELECT state, sha256 FROM snapshots WHERE domain = ? AND file = ? ORDER BY id DESC LIMIT 1",
            [domain, file],
        )
        present = self._one(
            "SELECT s.sha256, b.content FROM snapshots s JOIN bodies b ON b.sha256 = s.sha256 "
            "WHERE s.domain = ? AND s.file = ? AND s.state = 'present' ORDER BY s.id DESC LIMIT 1",
            [domain, file],
        )
        return Previous(
            state=latest["state"] if latest else None,
            sha256=latest["sha256"] if latest else None,
            last_present_sha256=present["sha256"] if present else None,
            last_present_body=present["content"] if present else None,
        )

    def snapshots(self, domain: str | None = None) -> list[dict[str, Any]]:
        where, args = ("WHERE domain = ?", [domain]) if domain else ("", [])
        return list(self.db.query(f"SELECT * FROM snapshots {where} ORDER BY domain, file, id", args))

    def body(self, sha256: str) -> bytes | None:
        row = self._one("SELECT content FROM bodies WHERE sha256 = ?", [sha256])
        return row["content"] if row else None

    def active_keys(self, scope: str) -> list[str]:
        """Dedupe keys of the open or acknowledged incidents a probe scope opened."""
        rows = self.db.query(
            "SELECT dedupe_key FROM incidents WHERE scope = ? AND status IN ('open', 'acknowledged')", [scope]
        )
        return [r["dedupe_key"] for r in rows]

    def incident_data(self, dedupe_keys: list[str]) -> dict[str, dict[str, Any]]:
        """Status, severity and data of the stored incidents with these dedupe keys (absent keys are left out)."""
        out: dict[str, dict[str, Any]] = {}
        for at in range(0, len(dedupe_keys), 500):
            chunk = dedupe_keys[at : at + 500]
            marks = ",".join("?" * len(chunk))
            sql = f"SELECT dedupe_key, status, severity, data FROM incidents WHERE dedupe_key IN ({marks})"
            for r in self.db.query(sql, chunk):
                out[r["dedupe_key"]] = {"status": r["status"], "severity": r["severity"], "data": json.loads(r["data"])}
        return out

    def outbox_pending(self) -> int:
        return self._one("SELECT count(*) AS n FROM alert_outbox WHERE status = 'pending'", [])["n"]

    def last_runs(self) -> dict[str, dict[str, Any]]:
        """The latest run of every job."""
        rows = self.db.query("SELECT * FROM probe_runs WHERE id IN (SELECT max(id) FROM probe_runs GROUP BY job)")
        return {r["job"]: r for r in rows}

    def probe_state(self, job: str) -> dict[str, Any] | None:
        """Where ``job``'s next run resumes, as its last recorded run left it (None: from the start)."""
        row = self._one("SELECT state FROM probe_state WHERE job = ?", [job])
        return json.loads(row["state"]) if row else None

    def probe_streak(self, job: str, domain: str) -> health.RunStreak:
        """The job's latest outcome and its failed (or crashed) runs since its last success."""
        latest = self._one("SELECT outcome FROM probe_runs WHERE job = ? ORDER BY id DESC LIMIT 1", [job])
        failures = list(
            self.db.query(
                "SELECT error_kind FROM probe_runs WHERE job = ? AND outcome != 'success' AND id > coalesce("
                "(SELECT max(id) FROM probe_runs WHERE job = ? AND outcome = 'success'), 0) "
                "ORDER BY id DESC LIMIT 1000",
                [job, job],
            )
        )
        outcome = latest["outcome"] if latest else None
        return health.RunStreak(
            job,
            domain,
            "failure" if outcome == "error" else outcome,
            len(failures),
            tuple(r["error_kind"] or "" for r in failures),
        )

    def evidence_file(self, sha256: str) -> dict[str, Any] | None:
        """The record of an evidence file (kind, size, content type), or None."""
        return self._one("SELECT * FROM evidence_files WHERE sha256 = ?", [sha256])

    def current_verdicts(self, domain: str) -> dict[tuple[str, str], Cell]:
        """The verdict matrix in force for ``domain``, keyed by (agent, path class)."""
        return store_verdicts.current(self.db, domain)

    def open_regressions(self, domain: str) -> dict[str, list[str]]:
        """Agent -> path classes of each active policy_regression incident of ``domain``."""
        rows = self.db.execute(
            "SELECT json_extract(data, '$.agent'), json_extract(data, '$.path_classes') FROM incidents "
            "WHERE kind = 'policy_regression' AND domain = ? AND status IN ('open', 'acknowledged') "
            "AND dedupe_key NOT LIKE 'storm:%'",
            [domain],
        ).fetchall()
        return {agent: json.loads(classes or "[]") for agent, classes in rows if agent}
