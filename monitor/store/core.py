"""The only writer of the database: one probe result or one human action is one transaction."""

from __future__ import annotations

import contextlib
import json
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlite_utils

from monitor.errors import NotFound, StorageError
from monitor.evaluators import health
from monitor.incidents import (
    ACTIVE,
    Evaluation,
    Evidence,
    IncidentState,
    Transition,
    contain_storms,
    manual_status,
    storm_keys,
    transition,
)
from monitor.policy.matrix import Cell
from monitor.policy.snapshot import FileVerdict
from monitor.store import case_writes, evidence_writes, policy_files
from monitor.store import verdicts as store_verdicts
from monitor.store.files import EvidenceFiles, StoredFile
from monitor.store.reads import Reads
from spiders.items import PolicyFileItem

SYSTEM_ACTOR = "scrapewatch"


def utcnow() -> str:
    """Now as ISO-8601 UTC with microseconds; sorts as text."""
    return datetime.now(UTC).isoformat(timespec="microseconds")


@dataclass(frozen=True)
class ProbeRun:
    """One execution of one probe job."""

    job: str
    probe: str
    domain: str
    started_at: str
    finished_at: str
    outcome: str  # success | failure (the target did not answer) | error (the probe itself raised)
    error_kind: str | None
    duration_seconds: float
    error_detail: str | None = None
    key: str | None = None  # idempotency key (a run crawled by workers): a key already applied is not applied again


@dataclass(frozen=True)
class Applied:
    """What a probe result changed: the run id and the incident transitions written."""

    run_id: int
    transitions: list[Transition]
    incident_ids: dict[str, int]
    outcome: str = "success"  # the run's: success, failure or error


class Store(Reads):
    """Reads and writes scrapewatch's tables; every write method is one transaction."""

    def __init__(
        self,
        db: sqlite_utils.Database,
        files: EvidenceFiles | None = None,
        storm_threshold: int = 10,
        case_options: case_writes.CaseOptions | None = None,
    ):
        self.db = db
        self.files = files
        # More alerting transitions than this of one kind on one domain in one run become one summary (0: off).
        self.storm_threshold = storm_threshold
        self.case_options = case_options or case_writes.CaseOptions()

    # ---- writes ------------------------------------------------------------------------------------

    def apply(
        self,
        run: ProbeRun,
        evaluation: Evaluation,
        *,
        evidence: Sequence[Evidence] = (),
        files: Sequence[tuple[PolicyFileItem, FileVerdict]] = (),
        cells: list[Cell] | None = None,
        previous_cells: dict[tuple[str, str], Cell] | None = None,
        health_threshold: int | None = None,
        state: dict | None = None,
        writes: Sequence[Callable[[sqlite_utils.Database, str], None]] = (),
    ) -> Applied:
        """Write one probe run, for every probe kind, atomically: the run, fetched policy files (bodies,
        observations, snapshots), the verdict matrix, incident changes with their outbox rows, evidence rows (a
        sighting identical to the latest at its place counts on that row: monitor.store.evidence_writes), and
        the job's probe-health incident (after ``health_threshold`` failed runs in a row; None: not checked),
        ``state``, where the job's next run resumes (None: the stored one is kept), and a kind's own ``writes``
        (each called with the database and the run's time; e.g. monitor.store.intel.write).

        Evidence files are written before the transaction (content-addressed, so a rolled-back run leaves at most
        an unreferenced file, never a row without its file).
        """
        stored = self._evidence_files(evidence)
        with self._tx():
            if run.key is not None:
                done = self.db.execute("SELECT run_id FROM run_keys WHERE key = ?", [run.key]).fetchone()
                if done is not None:  # a result delivered twice: the first application stands
                    return Applied(done[0], [], {}, run.outcome)
            run_id = self._insert_run(run, len(files) + len(evidence))
            if run.key is not None:
                self.db.execute(
                    "INSERT INTO run_keys (key, run_id, applied_at) VALUES (?, ?, ?)",
                    [run.key, run_id, run.finished_at],
                )
            if state is not None:
                self.db.execute(
                    "INSERT INTO probe_state (job, state, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (job) DO UPDATE SET state = excluded.state, updated_at = excluded.updated_at",
                    [run.job, json.dumps(state), run.finished_at],
                )
            for item, verdict in files:
                policy_files.observation(self.db, run_id, run.finished_at, item, verdict)
            if cells is not None:
                store_verdicts.apply(self.db, run.domain, cells, run.finished_at, previous_cells)
            transitions, ids = self._apply_evaluation(evaluation, run.finished_at)
            evidence_writes.write(self.db, run_id, run.finished_at, evidence, stored, ids)
            for kind_write in writes:
                kind_write(self.db, run.finished_at)
            case_writes.link_run(self.db, transitions, ids, evidence, run.finished_at, self.case_options)
            if health_threshold is not None:
                found, _ = self._apply_evaluation(
                    health.evaluate(self.probe_streak(run.job, run.domain), health_threshold), run.finished_at
                )
                transitions = transitions + found
        return Applied(run_id, transitions, ids, run.outcome)

    def _evidence_files(self, evidence: Sequence[Evidence]) -> dict[int, StoredFile]:
        """Write each distinct evidence file once; id(content) -> its record (one body serves many matches)."""
        stored: dict[int, StoredFile] = {}
        if not evidence:
            return stored
        if self.files is None:
            raise StorageError("this store has no evidence directory: evidence cannot be kept")
        for e in evidence:
            for content, kind, ctype in (
                (e.body, "body", e.body_type),
                (e.screenshot, "screenshot", "image/png"),
                (e.requests, "requests", e.requests_type),
            ):
                if content and id(content) not in stored:
                    stored[id(content)] = self.files.put(content, kind, ctype)
        return stored

    def mark_sent(self, outbox_id: int, at: str) -> None:
        """Record that an outbox row was accepted by its channel."""
        with self._tx():
            self.db.execute(
                "UPDATE alert_outbox SET status = 'sent', sent_at = ?, attempts = attempts + 1 WHERE id = ?",
                [at, outbox_id],
            )

    def change_incident(
        self, incident_id: int, action: str, actor: str, note: str | None = None, events_limit: int | None = None
    ) -> dict:
        """A person acknowledges / resolves / marks false positive / reopens an incident; writes an event. Returns
        the incident with its events (the first ``events_limit`` of them when given, see get_incident)."""
        now = utcnow()
        with self._tx():
            row = self._one("SELECT * FROM incidents WHERE id = ?", [incident_id])
            if row is None:
                raise NotFound(f"no incident with id {incident_id}")
            target = manual_status(action, row["status"])
            self.db.execute(
                "UPDATE incidents SET status = ?, updated_at = ?, resolved_at = ? WHERE id = ?",
                [target, now, now if target in ("resolved", "false_positive") else None, incident_id],
            )
            self._event(incident_id, now, action, actor, row["status"], target, row["severity"], None, note)
        return self.get_incident(incident_id, events_limit)

    # ---- internals ---------------------------------------------------------------------------------

    @contextlib.contextmanager
    def _tx(self) -> Iterator[None]:
        # IMMEDIATE takes the write lock up front: the incident state read inside the transaction cannot
        # change before our writes (a CLI acknowledging an incident waits on busy_timeout instead).
        try:
            self.db.conn.execute("BEGIN IMMEDIATE")
            try:
                yield
            except BaseException:
                if self.db.conn.in_transaction:
                    self.db.conn.execute("ROLLBACK")
                raise
            else:
                self.db.conn.execute("COMMIT")
        except sqlite3.OperationalError as exc:
            if self.db.conn.in_transaction:  # a failed COMMIT (SQLITE_FULL) can leave the transaction open
                self.db.conn.execute("ROLLBACK")
            if "full" in str(exc) or "disk" in str(exc) or "readonly" in str(exc):
                raise StorageError(f"cannot write to the database: {exc}; nothing of this change was kept") from exc
            raise

    def _apply_evaluation(self, evaluation: Evaluation, now: str) -> tuple[list[Transition], dict[str, int]]:
        keys = [f.dedupe_key for f in evaluation.findings] + list(evaluation.cleared)
        previous = self._incident_states(keys)
        transitions = transition(evaluation, previous)
        summaries = storm_keys(transitions, self.storm_threshold)
        if summaries:
            previous |= self._incident_states(sorted(summaries))
            linked = {
                key: {r[0] for r in self.db.execute(
                    "SELECT dedupe_key FROM incidents WHERE status IN (?, ?) AND json_extract(data, '$.summary') = ?",
                    [*ACTIVE, key])}
                for key in summaries
            }  # fmt: skip
            transitions = contain_storms(transitions, previous, self.storm_threshold, linked)
        ids: dict[str, int] = {}
        for t in transitions:
            ids[t.dedupe_key] = self._write_transition(t, evaluation.scope, now)
        return transitions, ids

    def _incident_states(self, keys: Sequence[str]) -> dict[str, IncidentState]:
        previous: dict[str, IncidentState] = {}
        for at in range(0, len(keys), 500):  # SQLite's bound on host parameters
            chunk = keys[at : at + 500]
            marks = ",".join("?" * len(chunk))
            sql = (
                "SELECT id, dedupe_key, kind, severity, status, occurrences, clean_runs, domain, data FROM incidents "
                f"WHERE dedupe_key IN ({marks})"
            )
            for r in self.db.query(sql, chunk):
                data = json.loads(r["data"] or "{}")
                previous[r["dedupe_key"]] = IncidentState(
                    r["id"], r["dedupe_key"], r["kind"], r["severity"], r["status"], r["occurrences"],
                    r["clean_runs"], r["domain"], bool(data.get("quiet")), data.get("summary"),
                    bool(data.get("resolves_silently")),
                )  # fmt: skip
        return previous

    def _write_transition(self, t: Transition, scope: str, now: str) -> int:
        f, prev = t.finding, t.incident
        if t.action == "clean":  # counted, not an event: nothing changed that people need to see
            assert prev is not None
            self.db.execute("UPDATE incidents SET clean_runs = clean_runs + 1 WHERE id = ?", [prev.id])
            return prev.id
        # An incident announced by a storm summary keeps the link, so that the summary resolves with it.
        data = json.dumps({**f.data, "summary": t.summary} if f is not None and t.summary else f.data if f else {})
        resolved_at = now if t.status == "resolved" else None  # a storm's summary of resolutions is born resolved
        if prev is None:
            assert f is not None
            cur = self.db.execute(
                "INSERT INTO incidents (dedupe_key, kind, severity, status, domain, scope, title, detail, data, "
                "first_seen, last_seen, occurrences, updated_at, resolved_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1, ?, ?)",
                [f.dedupe_key, f.kind, t.severity, t.status, f.domain, scope, f.title, f.detail,
                 data, now, now, now, resolved_at],
            )  # fmt: skip
            incident_id = cur.lastrowid
        else:
            incident_id = prev.id
            if t.action == "updated" and not self._update_is_news(t, now):
                # A standing finding seen again: counted on the incident (occurrences, last_seen), not an event,
                # so the timeline grows with changes, not with time.
                assert f is not None
                self.db.execute(
                    "UPDATE incidents SET title = ?, detail = ?, data = ?, last_seen = ?, "
                    "occurrences = occurrences + 1, updated_at = ?, clean_runs = 0 WHERE id = ?",
                    [f.title, f.detail, data, now, now, incident_id],
                )
                return incident_id
            if f is not None:
                self.db.execute(
                    "UPDATE incidents SET severity = ?, status = ?, title = ?, detail = ?, data = ?, "
                    "last_seen = ?, occurrences = occurrences + 1, updated_at = ?, resolved_at = ?, "
                    "clean_runs = 0 WHERE id = ?",
                    [t.severity, t.status, f.title, f.detail, data, now, now, resolved_at, incident_id],
                )
                if t.status == "false_positive":  # keep the human decision's resolved_at
                    self.db.execute("UPDATE incidents SET resolved_at = updated_at WHERE id = ?", [incident_id])
            else:
                self.db.execute(
                    "UPDATE incidents SET status = ?, resolved_at = ?, updated_at = ?, clean_runs = 0 WHERE id = ?",
                    [t.status, now, now, incident_id],
                )
        event_id = self._event(
            incident_id,
            now,
            t.action,
            SYSTEM_ACTOR,
            prev.status if prev else None,
            t.status,
            prev.severity if prev else None,
            t.severity,
            None,
            {"detail": f.detail} if f else {},
        )
        if t.alerts:
            row = self._one("SELECT * FROM incidents WHERE id = ?", [incident_id])
            payload = {
                "incident_id": incident_id,
                "transition": t.action,
                "kind": row["kind"],
                "severity": row["severity"],
                "status": row["status"],
                "domain": row["domain"],
                "title": row["title"],
                "detail": row["detail"],
                "first_seen": row["first_seen"],
                "last_seen": row["last_seen"],
                "occurrences": row["occurrences"],
            }
            self.db.execute(
                "INSERT INTO alert_outbox (incident_id, event_id, idempotency_key, transition, severity, "
                "payload, next_attempt_at, created_at) VALUES (?, ?, ?, ?, ?, ?, ?, ?)",
                [incident_id, event_id, f"incident-{incident_id}-event-{event_id}", t.action, t.severity,
                 json.dumps(payload), now, now],
            )  # fmt: skip
        return incident_id

    def _update_is_news(self, t: Transition, now: str) -> bool:
        """Whether an ``updated`` sighting earns a timeline event: its title or detail changed, or it interrupted
        the clean runs counting towards resolution; at most one such event per incident per UTC day (the incident
        row always holds the latest title and detail)."""
        prev, f = t.incident, t.finding
        assert prev is not None and f is not None
        row = self.db.execute("SELECT title, detail FROM incidents WHERE id = ?", [prev.id]).fetchone()
        if row is not None and (row[0], row[1]) == (f.title, f.detail) and prev.clean_runs == 0:
            return False
        last = self.db.execute(
            "SELECT action, at FROM incident_events WHERE incident_id = ? ORDER BY id DESC LIMIT 1", [prev.id]
        ).fetchone()
        return last is None or last[0] != "updated" or last[1][:10] != now[:10]

    def _event(self, incident_id, at, action, actor, from_status, to_status, from_sev, to_sev, note, data=None):
        cur = self.db.execute(
            "INSERT INTO incident_events (incident_id, at, action, actor, from_status, to_status, "
            "from_severity, to_severity, note, data) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [incident_id, at, action, actor, from_status, to_status, from_sev, to_sev, note,
             json.dumps(data or {})],
        )  # fmt: skip
        return cur.lastrowid

    def _insert_run(self, run: ProbeRun, observations: int) -> int:
        cur = self.db.execute(
            "INSERT INTO probe_runs (job, probe, domain, started_at, finished_at, outcome, error_kind, "
            "error_detail, duration_seconds, observations) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [run.job, run.probe, run.domain, run.started_at, run.finished_at, run.outcome, run.error_kind,
             run.error_detail, run.duration_seconds, observations],
        )  # fmt: skip
        return cur.lastrowid
