"""The store's reads: incidents, evidence, policy snapshots and verdicts, runs and probe-health streaks."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from monitor.errors import NotFound
from monitor.evaluators import health
from monitor.incidents import ACTIVE, SEVERITY_RANK
from monitor.policy.matrix import Cell
from monitor.policy.snapshot import Previous
from monitor.store import verdicts as store_verdicts
from monitor.store.case_reads import CaseReads


class Reads(CaseReads):
    """Read queries over scrapewatch's tables (no transaction: SQLite reads see the last commit); the case reads
    come from ``CaseReads``."""

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

    def list_incidents(
        self,
        status: str | None = None,
        severity: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        limit: int = 100,
        offset: int = 0,
    ) -> list[dict[str, Any]]:
        """Incidents, newest activity first, filtered by exact status / severity / kind and last_seen >= since."""
        clauses, args = self._where((status,) if status else (), severity, kind, since=since)
        sql = f"SELECT * FROM incidents {clauses} ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?"
        return [self._decode(r) for r in self.db.query(sql, [*args, limit, offset])]

    def iter_incidents(
        self,
        status: str | None = None,
        severity: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        offset: int = 0,
        page_size: int = 500,
    ) -> Iterator[dict[str, Any]]:
        """Every incident list_incidents would list from ``offset`` on, read ``page_size`` rows per query. Pages
        after the first continue after the last row read (keyset), so no query is unbounded and an incident
        seen again meanwhile (moving ahead of the rows read) is never listed twice."""
        clauses, args = self._where((status,) if status else (), severity, kind, since=since)
        after: list[Any] = []
        while True:
            where = clauses
            if after:
                where += (" AND " if where else "WHERE ") + "(last_seen < ? OR (last_seen = ? AND id < ?))"
            sql = f"SELECT * FROM incidents {where} ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?"
            rows = list(self.db.query(sql, [*args, *after, page_size, 0 if after else offset]))
            yield from (self._decode(r) for r in rows)
            if len(rows) < page_size:
                return
            after = [rows[-1]["last_seen"], rows[-1]["last_seen"], rows[-1]["id"]]

    def count_incidents(self, status=None, severity=None, kind=None, since=None) -> int:
        clauses, args = self._where((status,) if status else (), severity, kind, since=since)
        return self._one(f"SELECT count(*) AS n FROM incidents {clauses}", args)["n"]

    def get_incident(self, incident_id: int) -> dict[str, Any]:
        """One incident with its events (oldest first); raises NotFound."""
        row = self._one("SELECT * FROM incidents WHERE id = ?", [incident_id])
        if row is None:
            raise NotFound(f"no incident with id {incident_id}")
        incident = self._decode(row)
        incident["events"] = [
            {**e, "data": json.loads(e["data"])}
            for e in self.db.query("SELECT * FROM incident_events WHERE incident_id = ? ORDER BY id", [incident_id])
        ]
        return incident

    def open_incident_counts(self) -> list[tuple[str, str, int]]:
        """(kind, severity, count) of incidents that are open or acknowledged."""
        return [
            (r["kind"], r["severity"], r["n"])
            for r in self.db.query(
                "SELECT kind, severity, count(*) AS n FROM incidents "
                "WHERE status IN ('open', 'acknowledged') GROUP BY kind, severity"
            )
        ]

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

    def evidence(self, incident_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """An incident's evidence, newest first."""
        rows = self.db.query(
            "SELECT * FROM evidence WHERE incident_id = ? ORDER BY id DESC LIMIT ?", [incident_id, limit]
        )
        return [{**r, "headers": json.loads(r["headers"]), "data": json.loads(r["data"])} for r in rows]

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

    @staticmethod
    def _where(
        statuses: tuple[str, ...] = (),
        severity: str = "",
        kind: str = "",
        domain: str = "",
        since: str = "",
        q: str = "",
    ) -> tuple[str, list[Any]]:
        """The WHERE clause of an incident query: any of ``statuses``, exact severity / kind / domain, last seen since,
        ``q`` a substring of the title (LIKE wildcards in it are escaped)."""
        clauses: list[str] = []
        args: list[Any] = []
        if statuses:
            clauses.append(f"status IN ({','.join('?' * len(statuses))})")
            args.extend(statuses)
        for column, value in (("severity", severity), ("kind", kind), ("domain", domain)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if since:
            clauses.append("last_seen >= ?")
            args.append(since)
        if q:
            clauses.append("title LIKE ? ESCAPE '\\'")
            args.append("%" + re.sub(r"([\\%_])", r"\\\1", q) + "%")
        return ("WHERE " + " AND ".join(clauses)) if clauses else "", args

    def _one(self, sql: str, args: list[Any]) -> dict[str, Any] | None:
        rows = list(self.db.query(sql, args))
        return rows[0] if rows else None

    @staticmethod
    def _decode(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "data": json.loads(row["data"])}

    def search_incidents(
        self,
        *,
        status: str = "active",
        severity: str = "",
        kind: str = "",
        domain: str = "",
        q: str = "",
        page: int = 1,
        page_size: int = 50,
    ) -> tuple[list[dict[str, Any]], int]:
        """One page of incidents (most severe, then most recent first) and the total count. ``status`` "active"
        means open or acknowledged, "all" any; ``q`` is a substring of the title."""
        statuses = () if status == "all" else ACTIVE if status == "active" else (status,)
        where, args = self._where(statuses, severity, kind, domain, q=q)
        rank = "CASE severity " + " ".join(f"WHEN '{s}' THEN {r}" for s, r in SEVERITY_RANK.items()) + " END"
        total = self._one(f"SELECT count(*) AS n FROM incidents {where}", args)["n"]
        rows = self.db.query(
            f"SELECT id, kind, severity, status, domain, title, occurrences, first_seen, last_seen FROM incidents "
            f"{where} ORDER BY {rank} DESC, last_seen DESC, id DESC LIMIT ? OFFSET ?",
            [*args, page_size, (page - 1) * page_size],
        )
        return list(rows), total

    def incident_facets(self) -> tuple[list[str], list[str]]:
        """The kinds and domains that incidents have, for the filter menus."""
        kinds = [r["kind"] for r in self.db.query("SELECT DISTINCT kind FROM incidents ORDER BY kind")]
        domains = [r["domain"] for r in self.db.query("SELECT DISTINCT domain FROM incidents ORDER BY domain")]
        return kinds, domains
