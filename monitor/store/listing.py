"""Incident lists, counts, filter menus and one incident's events and evidence, read in pages that cost the same on
page 1 and page 500: keyset cursors over indexed orders, totals from counts the triggers of migration 0010 keep."""

from __future__ import annotations

import base64
import binascii
import json
import re
from collections.abc import Iterator
from typing import Any

import sqlite_utils

from monitor.errors import NotFound
from monitor.incidents import ACTIVE

# Every column of an incident people or tools read (not the computed severity_rank).
INCIDENT_COLUMNS = (
    "id, dedupe_key, kind, severity, status, domain, scope, title, detail, data, first_seen, last_seen, "
    "occurrences, resolved_at, updated_at, clean_runs"
)
TRIAGE_COLUMNS = "id, kind, severity, status, domain, title, occurrences, first_seen, last_seen, severity_rank"
EVENT_COLUMNS = "id, incident_id, at, action, actor, from_status, to_status, from_severity, to_severity, note, data"
EVIDENCE_COLUMNS = (
    "id, incident_id, run_id, at, url, page_url, signature, severity, detail, snippet, headers, body_sha256, "
    "screenshot_sha256, requests_sha256, data, last_seen_at, last_run_id, sightings"
)


def encode_cursor(values: list[Any]) -> str:
    """An opaque, URL-safe cursor: where the next page starts (the sort key of the last row shown)."""
    return base64.urlsafe_b64encode(json.dumps(values, separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The values of a cursor made by :func:`encode_cursor`; ValueError when it is not one of this list's."""
    try:
        values = json.loads(base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)))
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise ValueError("the cursor is not one this list handed out") from None
    if (
        not isinstance(values, list)
        or len(values) != len(types)
        or not all(type(v) is t for v, t in zip(values, types, strict=True))
    ):
        raise ValueError("the cursor is not one this list handed out")
    return values


def where(
    statuses: tuple[str, ...] = (),
    severity: str | None = "",
    kind: str | None = "",
    domain: str | None = "",
    since: str | None = "",
    q: str | None = "",
) -> tuple[list[str], list[Any]]:
    """The conditions of an incident query: any of ``statuses``, exact severity / kind / domain, last seen since,
    ``q`` a substring of the title (LIKE wildcards in it are escaped). Each condition has an index (0012)."""
    clauses: list[str] = []
    args: list[Any] = []
    if statuses == ACTIVE:  # written exactly as incidents_active_rank's WHERE, so that SQLite can use it
        clauses.append("status IN ('open', 'acknowledged')")
    elif statuses:
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
    return clauses, args


def _sql_where(clauses: list[str]) -> str:
    return ("WHERE " + " AND ".join(clauses)) if clauses else ""


class IncidentListing:
    """Paged reads of incidents (mixed into the store's Reads)."""

    db: sqlite_utils.Database

    # ---- lists -------------------------------------------------------------------------------------------------

    def page_incidents(
        self,
        status: str | None = None,
        severity: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        domain: str | None = None,
        limit: int = 100,
        offset: int = 0,
        after: str | None = None,
    ) -> tuple[list[dict[str, Any]], str | None]:
        """One page of incidents, newest activity first (last_seen, id), and the cursor of the next page (None:
        this was the last). ``after`` is a cursor from an earlier page (keyset: as fast on page 500 as on page 1,
        and rows seen again meanwhile never shift the pages); ``offset`` is kept for old links and skips rows."""
        key = decode_cursor(after, (str, int)) if after else None
        rows = self._by_last_seen((status,) if status else (), severity, kind, domain, since, key, limit + 1, offset)
        more, rows = len(rows) > limit, rows[:limit]
        return rows, encode_cursor([rows[-1]["last_seen"], rows[-1]["id"]]) if more else None

    def _by_last_seen(self, statuses, severity, kind, domain, since, key, limit, offset) -> list[dict[str, Any]]:
        clauses, args = where(statuses, severity, kind, domain, since)
        if key:
            clauses.append("(last_seen, id) < (?, ?)")
            args.extend(key)
        sql = (
            f"SELECT {INCIDENT_COLUMNS} FROM incidents {_sql_where(clauses)} "
            "ORDER BY last_seen DESC, id DESC LIMIT ? OFFSET ?"
        )
        return [self._decode(r) for r in self.db.query(sql, [*args, limit, offset])]

    def list_incidents(
        self,
        status: str | None = None,
        severity: str | None = None,
        kind: str | None = None,
        since: str | None = None,
        limit: int = 100,
        offset: int = 0,
        domain: str | None = None,
        after: str | None = None,
    ) -> list[dict[str, Any]]:
        """Incidents, newest activity first, filtered by exact status / severity / kind / domain and last_seen >=
        since (see :meth:`page_incidents`)."""
        return self.page_incidents(status, severity, kind, since, domain, limit, offset, after)[0]

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
        statuses = (status,) if status else ()
        key = None
        while True:
            rows = self._by_last_seen(statuses, severity, kind, None, since, key, page_size, 0 if key else offset)
            yield from rows
            if len(rows) < page_size:
                return
            key = [rows[-1]["last_seen"], rows[-1]["id"]]

    def count_incidents(self, status=None, severity=None, kind=None, since=None, domain=None) -> int:
        """How many incidents match; exact, and read from the kept counts unless ``since`` or ``domain`` is set."""
        return self._count((status,) if status else (), severity, kind, domain, since)

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
        after: str | None = None,
    ) -> tuple[list[dict[str, Any]], int, str | None]:
        """One page of incidents (most severe, then most recent first), the total count and the cursor of the next
        page (None: the last). ``status`` "active" means open or acknowledged, "all" any; ``q`` is a substring of
        the title; ``after`` a cursor from the previous page (``page`` is kept for old links: an OFFSET)."""
        statuses = () if status == "all" else ACTIVE if status == "active" else (status,)
        clauses, args = where(statuses, severity, kind, domain, q=q)
        total = self._count(statuses, severity, kind, domain, "", q)
        # With one severity the rank is the same on every row: the (severity, last_seen) order is the whole order.
        key = ["last_seen", "id"] if severity else ["severity_rank", "last_seen", "id"]
        if after:
            clauses.append(f"({', '.join(key)}) < ({', '.join('?' * len(key))})")
            args.extend(decode_cursor(after, (str, int) if severity else (int, str, int)))
        rows = list(
            self.db.query(
                f"SELECT {TRIAGE_COLUMNS} FROM incidents {_sql_where(clauses)} "
                f"ORDER BY {', '.join(k + ' DESC' for k in key)} LIMIT ? OFFSET ?",
                [*args, page_size + 1, 0 if after else (page - 1) * page_size],
            )
        )
        more, rows = len(rows) > page_size, rows[:page_size]
        cursor = encode_cursor([rows[-1][k] for k in key]) if more else None
        return rows, total, cursor

    def incident_facets(self) -> tuple[list[str], list[str]]:
        """The kinds and domains that incidents have, for the filter menus (from the kept counts)."""
        kinds = [r[0] for r in self.db.execute("SELECT DISTINCT kind FROM incident_counts ORDER BY kind")]
        domains = [r[0] for r in self.db.execute("SELECT domain FROM incident_domains ORDER BY domain")]
        return kinds, domains

    def open_incident_counts(self) -> list[tuple[str, str, int]]:
        """(kind, severity, count) of incidents that are open or acknowledged."""
        rows = self.db.execute(
            "SELECT kind, severity, sum(n) FROM incident_counts WHERE status IN ('open', 'acknowledged') "
            "GROUP BY kind, severity ORDER BY kind, severity"
        )
        return [(kind, severity, n) for kind, severity, n in rows]

    def _count(self, statuses=(), severity="", kind="", domain="", since="", q="") -> int:
        if domain or since or q:  # counted over an index of the filter: as many rows as match
            clauses, args = where(statuses, severity, kind, domain, since, q)
            return self.db.execute(f"SELECT count(*) FROM incidents {_sql_where(clauses)}", args).fetchone()[0]
        clauses, args = where(statuses, severity, kind)
        sql = f"SELECT coalesce(sum(n), 0) FROM incident_counts {_sql_where(clauses)}"
        return self.db.execute(sql, args).fetchone()[0]

    # ---- one incident ------------------------------------------------------------------------------------------

    def get_incident(self, incident_id: int, events_limit: int | None = None) -> dict[str, Any]:
        """One incident with its events, oldest first (the first ``events_limit`` of them and ``events_next``, the
        cursor of the rest, when given; all of them otherwise); raises NotFound."""
        row = self._one(f"SELECT {INCIDENT_COLUMNS} FROM incidents WHERE id = ?", [incident_id])
        if row is None:
            raise NotFound(f"no incident with id {incident_id}")
        incident = self._decode(row)
        if events_limit is None:
            rows = self.db.query(
                f"SELECT {EVENT_COLUMNS} FROM incident_events WHERE incident_id = ? ORDER BY id", [incident_id]
            )
            incident["events"] = [{**e, "data": json.loads(e["data"])} for e in rows]
        else:
            incident["events"], incident["events_next"] = self.incident_events(incident_id, events_limit)
        return incident

    def require_incident(self, incident_id: int) -> None:
        """Raises NotFound unless the incident exists."""
        if self._one("SELECT id FROM incidents WHERE id = ?", [incident_id]) is None:
            raise NotFound(f"no incident with id {incident_id}")

    def incident_events(
        self, incident_id: int, limit: int = 100, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of an incident's events, oldest first, and the cursor of the next page (None: the last)."""
        start = decode_cursor(after, (int,))[0] if after else 0
        rows = self.db.query(
            f"SELECT {EVENT_COLUMNS} FROM incident_events WHERE incident_id = ? AND id > ? ORDER BY id LIMIT ?",
            [incident_id, start, limit + 1],
        )
        events = [{**e, "data": json.loads(e["data"])} for e in rows]
        more, events = len(events) > limit, events[:limit]
        return events, encode_cursor([events[-1]["id"]]) if more and events else None

    def evidence(self, incident_id: int, limit: int = 200) -> list[dict[str, Any]]:
        """An incident's evidence, newest first."""
        return self.evidence_page(incident_id, limit)[0]

    def evidence_page(
        self, incident_id: int, limit: int = 200, after: str | None = None
    ) -> tuple[list[dict[str, Any]], str | None]:
        """A page of an incident's evidence, newest first, and the cursor of the next page (None: the last)."""
        clause, args = ("AND id < ?", decode_cursor(after, (int,))) if after else ("", [])
        rows = self.db.query(
            f"SELECT {EVIDENCE_COLUMNS} FROM evidence WHERE incident_id = ? {clause} ORDER BY id DESC LIMIT ?",
            [incident_id, *args, limit + 1],
        )
        out = [{**r, "headers": json.loads(r["headers"]), "data": json.loads(r["data"])} for r in rows]
        more, out = len(out) > limit, out[:limit]
        return out, encode_cursor([out[-1]["id"]]) if more else None

    # ---- helpers (shared with Reads) ---------------------------------------------------------------------------

    def _one(self, sql: str, args: list[Any]) -> dict[str, Any] | None:
        rows = list(self.db.query(sql, args))
        return rows[0] if rows else None

    @staticmethod
    def _decode(row: dict[str, Any]) -> dict[str, Any]:
        return {**row, "data": json.loads(row["data"])}
