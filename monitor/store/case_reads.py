"""The store's case reads: the case list (filters, keyset pages), one case's facts, its paged sections, and the
counts the metrics collector reads at scrape time."""

from __future__ import annotations

import base64
import binascii
import json
import re
from typing import Any

import sqlite_utils

from monitor.signatures.catalogue import Catalogue
from monitor.vocabulary import CASE_STATUSES

# Statuses that still need work (the list's "active" filter): everything but taken down and no action.
ACTIVE_CASE_STATUSES = ("new", "investigating", "notice_sent", "reappeared")
_LIST_COLUMNS = (
    "id, domain, title, status, severity, owner, merged_into, opened_at, first_seen, last_seen, updated_at, "
    "notice_sent_at, taken_down_at, next_check_at"
)
_INCIDENT_COLUMNS = "i.id, i.kind, i.severity, i.status, i.domain, i.title, i.detail, i.data, i.first_seen, i.last_seen"
_EVIDENCE_COLUMNS = (
    "id, incident_id, at, url, page_url, signature, severity, detail, headers, body_sha256, screenshot_sha256, "
    "requests_sha256, last_seen_at, sightings"
)
# One timeline of both sources, ordered (at, src, id): an incident's own event (opened, escalated) reads
# before the case event it caused at the same moment (incident_linked, escalated).
_TIMELINE = (
    "SELECT * FROM ("
    "SELECT e.at, 0 AS src, e.id, 'incident' AS source, e.incident_id, e.action, e.actor, e.note, e.data, "
    "e.from_status, e.to_status, e.from_severity, e.to_severity FROM incident_events e "
    "WHERE e.incident_id IN (SELECT incident_id FROM case_incidents WHERE case_id = :case) "
    "UNION ALL SELECT c.at, 1, c.id, 'case', NULL, c.action, c.actor, c.note, c.data, NULL, NULL, NULL, NULL "
    "FROM case_events c WHERE c.case_id = :case) "
)


def encode_cursor(*key: Any) -> str:
    """An opaque, URL-safe cursor for the position after ``key`` (a row's sort key)."""
    return base64.urlsafe_b64encode(json.dumps(list(key), separators=(",", ":")).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, types: tuple[type, ...]) -> list[Any]:
    """The sort key a cursor holds; raises ValueError for anything encode_cursor did not make."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        key = json.loads(raw)
    except (binascii.Error, ValueError, UnicodeDecodeError):
        raise ValueError("not a cursor this server made (use the 'next' value of a previous answer)") from None
    if (
        not isinstance(key, list)
        or len(key) != len(types)
        or not all(isinstance(v, t) and not isinstance(v, bool) for v, t in zip(key, types, strict=True))
    ):
        raise ValueError("not a cursor this server made (use the 'next' value of a previous answer)")
    return key


def list_cursor(row: dict[str, Any]) -> str:
    """The ``after`` cursor that continues a case list after ``row``."""
    return encode_cursor(row["last_seen"], row["id"])


class CaseReads:
    """Read queries over the cases tables (mixed into the Store through ``Reads``)."""

    db: sqlite_utils.Database

    def list_cases(
        self,
        status: str | None = None,
        severity: str | None = None,
        domain: str | None = None,
        owner: str | None = None,
        q: str | None = None,
        after: str | None = None,
        limit: int = 50,
        merged: bool = False,
    ) -> list[dict[str, Any]]:
        """Cases, most recently seen first (last_seen, then id, descending), one keyset page of at most ``limit``.

        ``status`` a case status, or "active" (not taken down / no action); ``domain`` any of the case's domains;
        ``q`` a substring of the title; ``after`` the cursor of the last row of the previous page (``list_cursor``;
        raises ValueError when malformed). Cases merged into another are left out unless ``merged``. Each row
        carries ``domains`` (all of the case's domains) and ``incidents`` (how many)."""
        # "+merged_into": not through the counts' index (cases_live), so that a page walks cases_last_seen in order
        # and stops after ``limit`` rows instead of sorting every live case.
        clauses: list[str] = [] if merged else ["+merged_into IS NULL"]
        args: list[Any] = []
        if status == "active":
            clauses.append(f"status IN ({','.join('?' * len(ACTIVE_CASE_STATUSES))})")
            args.extend(ACTIVE_CASE_STATUSES)
        elif status:
            clauses.append("status = ?")
            args.append(status)
        for column, value in (("severity", severity), ("owner", owner)):
            if value:
                clauses.append(f"{column} = ?")
                args.append(value)
        if domain:
            clauses.append("(domain = ? OR id IN (SELECT case_id FROM case_domains WHERE domain = ?))")
            args.extend([domain, domain])
        if q:
            clauses.append("title LIKE ? ESCAPE '\\'")
            args.append("%" + re.sub(r"([\\%_])", r"\\\1", q) + "%")
        if after:
            last_seen, last_id = decode_cursor(after, (str, int))
            clauses.append("(last_seen, id) < (?, ?)")
            args.extend([last_seen, last_id])
        where = ("WHERE " + " AND ".join(clauses)) if clauses else ""
        rows = list(
            self.db.query(
                f"SELECT {_LIST_COLUMNS}, "
                "(SELECT count(*) FROM case_incidents ci WHERE ci.case_id = cases.id) AS incidents, "
                "(SELECT json_group_array(domain) FROM (SELECT domain FROM case_domains cd "
                "WHERE cd.case_id = cases.id ORDER BY domain)) AS domains "
                f"FROM cases {where} ORDER BY last_seen DESC, id DESC LIMIT ?",
                [*args, limit],
            )
        )
        for row in rows:
            row["domains"] = json.loads(row["domains"] or "[]") or [row["domain"]]
        return rows

    def case_facets(self) -> tuple[list[str], list[str]]:
        """The domains and owners live cases have, for the filter menus."""
        domains = [r["d"] for r in self.db.query(
            "SELECT domain AS d FROM case_domains UNION SELECT domain FROM cases WHERE merged_into IS NULL ORDER BY 1"
        )]  # fmt: skip
        owners = [r["owner"] for r in self.db.query(
            "SELECT DISTINCT owner FROM cases WHERE owner IS NOT NULL AND merged_into IS NULL ORDER BY owner"
        )]  # fmt: skip
        return domains, owners

    def case_row(self, case_id: int) -> dict[str, Any] | None:
        """The case's own row (merged_into included), or None."""
        rows = list(self.db.query("SELECT * FROM cases WHERE id = ?", [case_id]))
        return rows[0] if rows else None

    def incident_case(self, incident_id: int) -> int | None:
        """The id of the case an incident belongs to, or None."""
        row = self.db.execute("SELECT case_id FROM case_incidents WHERE incident_id = ?", [incident_id]).fetchone()
        return row[0] if row else None

    def case_facts(self, case_id: int, catalogue: Catalogue | None = None) -> dict[str, Any] | None:
        """Everything known about a case, in the shape notices and bundles consume (docs: cases-contract), or None.

        ``tracks`` come from the incidents' data; with ``catalogue`` a track it still holds is described from it
        (title, artist, URL, no_ai / canary as configured now)."""
        row = self.case_row(case_id)
        if row is None:
            return None
        return {
            **_summary(row),
            "domains": self.case_domains(case_id),
            "incidents": self.case_incidents(case_id),
            "evidence": self.case_evidence(case_id),
            "tracks": self.case_tracks(case_id, catalogue),
            "urls": self.case_urls(case_id),
            "links": self.case_links(case_id),
            "host_intel": self.case_host_intel(case_id),
            "notices": self.case_notices(case_id),
            "timeline": public_timeline(self.case_timeline(case_id)),
        }

    # ---- sections (each bounded by ``limit`` when given; paged ones continue after a cursor) ------------------

    def case_domains(self, case_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT domain, reason, linked_at FROM case_domains WHERE case_id = ? ORDER BY linked_at, domain LIMIT ?",
            [case_id, _cap(limit)],
        ))  # fmt: skip

    def case_incidents(self, case_id: int, after: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The case's incidents, oldest first (by id: the order they were opened in, which the case index keeps, so
        a page reads only its rows); ``after`` a cursor from ``section_cursor``."""
        where, args = _after(after, "ci.incident_id > ?", (int,))
        rows = self.db.query(
            f"SELECT {_INCIDENT_COLUMNS} FROM case_incidents ci JOIN incidents i ON i.id = ci.incident_id "
            f"WHERE ci.case_id = ? {where} ORDER BY ci.incident_id LIMIT ?",
            [case_id, *args, _cap(limit)],
        )
        return [{**r, "data": json.loads(r["data"])} for r in rows]

    def case_evidence(self, case_id: int, after: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """The evidence of the case's incidents, oldest first (by id)."""
        where, args = _after(after, "id > ?", (int,))
        rows = self.db.query(
            f"SELECT {_EVIDENCE_COLUMNS} FROM evidence WHERE incident_id IN "
            f"(SELECT incident_id FROM case_incidents WHERE case_id = ?) {where} ORDER BY id LIMIT ?",
            [case_id, *args, _cap(limit)],
        )
        return [{**r, "headers": json.loads(r["headers"])} for r in rows]

    def case_timeline(self, case_id: int, after: str | None = None, limit: int | None = None) -> list[dict[str, Any]]:
        """Case events and the events of its incidents, oldest first. Incident entries name their ``incident_id``
        and carry their status / severity change in ``data`` (from_status, to_status, from_severity, to_severity)."""
        params: dict[str, Any] = {"case": case_id, "limit": _cap(limit)}
        where = ""
        if after:
            params.update(zip(("a0", "a1", "a2"), decode_cursor(after, (str, int, int)), strict=True))
            where = "WHERE (at, src, id) > (:a0, :a1, :a2) "
        rows = self.db.query(_TIMELINE + where + "ORDER BY at, src, id LIMIT :limit", params)
        out = []
        for r in rows:
            data = json.loads(r["data"] or "{}")
            entry = {"at": r["at"], "source": r["source"], "action": r["action"], "actor": r["actor"],
                     "note": r["note"], "data": data, "id": r["id"], "src": r["src"]}  # fmt: skip
            if r["source"] == "incident":
                entry["incident_id"] = r["incident_id"]
                changes = {k: r[k] for k in ("from_status", "to_status", "from_severity", "to_severity") if r[k]}
                entry["data"] = {**changes, **data} if isinstance(data, dict) else data
            out.append(entry)
        return out

    def case_tracks(self, case_id: int, catalogue: Catalogue | None = None) -> list[dict[str, Any]]:
        """Protected tracks the case's incidents name, by track id (only the track fields of the data are read)."""
        rows = self.db.execute(
            "SELECT json_extract(i.data, '$.catalogue_track'), json_extract(i.data, '$.catalogue_tracks'), "
            "json_extract(i.data, '$.canary') FROM case_incidents ci JOIN incidents i ON i.id = ci.incident_id "
            "WHERE ci.case_id = ? ORDER BY i.id",
            [case_id],
        ).fetchall()
        found: dict[str, dict[str, Any]] = {}
        for one, many, canary in rows:
            for raw in (one, canary, *(_json_list(many))):
                summary = json.loads(raw) if isinstance(raw, str) else raw
                if isinstance(summary, dict) and summary.get("id") is not None:
                    found.setdefault(str(summary["id"]), summary)
        return [_track(tid, summary, catalogue) for tid, summary in sorted(found.items())]

    def case_urls(self, case_id: int, limit: int | None = None) -> list[str]:
        """The distinct locations of the case's evidence (url and page_url), sorted."""
        rows = self.db.execute(
            "WITH ev AS (SELECT url, page_url FROM evidence WHERE incident_id IN "
            "(SELECT incident_id FROM case_incidents WHERE case_id = ?)) "
            "SELECT url FROM ev WHERE url != '' UNION SELECT page_url FROM ev WHERE page_url != '' ORDER BY 1 LIMIT ?",
            [case_id, _cap(limit)],
        ).fetchall()
        return [r[0] for r in rows]

    def case_links(self, case_id: int, limit: int | None = None) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT kind, value, domain FROM case_links WHERE domain IN "
            "(SELECT domain FROM case_domains WHERE case_id = ?) ORDER BY kind, value, domain LIMIT ?",
            [case_id, _cap(limit)],
        ))  # fmt: skip

    def case_host_intel(self, case_id: int) -> dict[str, Any]:
        """Host intel facts by domain, for the case's domains that have a host_intel row."""
        rows = self.db.execute(
            "SELECT h.domain, h.facts FROM host_intel h JOIN case_domains d ON d.domain = h.domain "
            "WHERE d.case_id = ? ORDER BY h.domain",
            [case_id],
        ).fetchall()
        return {domain: _json_dict(facts) for domain, facts in rows}

    def case_notices(self, case_id: int) -> list[dict[str, Any]]:
        return list(self.db.query(
            "SELECT recipient, address, message_id, sent_at, actor FROM case_notices WHERE case_id = ? "
            "ORDER BY sent_at, id",
            [case_id],
        ))  # fmt: skip

    def case_counts(self) -> dict[str, Any]:
        """Live (unmerged) cases by status, notices sent by recipient, confirmed takedowns and the median time
        from a case's first_seen to its taken_down_at (None before the first takedown)."""
        return case_counts(self.db)


def case_counts(conn: Any) -> dict[str, Any]:
    """``CaseReads.case_counts`` over anything with ``execute`` (a sqlite3 connection or a sqlite-utils Database):
    four indexed-or-small aggregate queries, cheap enough for every scrape."""
    by_status = dict.fromkeys(CASE_STATUSES, 0)
    for status, n in conn.execute("SELECT status, count(*) FROM cases WHERE merged_into IS NULL GROUP BY status"):
        by_status[status] = n
    notices = {r: 0 for r in ("hosting", "registrar", "site")}
    for recipient, n in conn.execute("SELECT recipient, count(*) FROM case_notices GROUP BY recipient"):
        notices[recipient] = n
    taken = "FROM cases WHERE merged_into IS NULL AND taken_down_at IS NOT NULL"
    (count,) = conn.execute(f"SELECT count(*) {taken}").fetchone()
    median = None
    if count:
        # The middle one (odd count) or the middle two (even), without reading every duration.
        middle = conn.execute(
            f"SELECT (julianday(taken_down_at) - julianday(first_seen)) * 86400.0 AS s {taken} "
            "ORDER BY s LIMIT ? OFFSET ?",
            [2 - count % 2, (count - 1) // 2],
        ).fetchall()
        median = max(0.0, sum(r[0] for r in middle) / len(middle))
    return {"by_status": by_status, "notices_sent": notices, "takedowns_confirmed": count, "median_seconds": median}


def section_cursor(section: str, entry: dict[str, Any]) -> str:
    """The cursor that continues a paged section (incidents, evidence, timeline) after ``entry``."""
    if section in ("incidents", "evidence"):
        return encode_cursor(entry["id"])
    return encode_cursor(entry["at"], entry["src"], entry["id"])


def public_timeline(entries: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Timeline entries without their paging keys (src; the id of a case event)."""
    return [{k: v for k, v in e.items() if k not in ("src", "id")} for e in entries]


def _summary(row: dict[str, Any]) -> dict[str, Any]:
    keys = ("id", "domain", "title", "status", "severity", "owner", "opened_at", "first_seen", "last_seen",
            "notice_sent_at", "taken_down_at", "next_check_at")  # fmt: skip
    return {k: row[k] for k in keys}


def _after(cursor: str | None, clause: str, types: tuple[type, ...]) -> tuple[str, list[Any]]:
    if not cursor:
        return "", []
    return f"AND {clause}", decode_cursor(cursor, types)


def _cap(limit: int | None) -> int:
    return -1 if limit is None else limit  # SQLite: LIMIT -1 is no limit


def _json_list(raw: Any) -> list[Any]:
    try:
        value = json.loads(raw) if isinstance(raw, str) else raw
    except ValueError:
        return []
    return value if isinstance(value, list) else []


def _json_dict(raw: Any) -> dict[str, Any]:
    try:
        value = json.loads(raw or "{}")
    except ValueError:
        return {}
    return value if isinstance(value, dict) else {}


def _track(track_id: str, summary: dict[str, Any], catalogue: Catalogue | None) -> dict[str, Any]:
    known = catalogue.by_id.get(track_id) if catalogue is not None else None
    if known is not None:
        summary = known.summary()
    permalink = str(summary.get("permalink") or "")
    url = permalink if "://" in permalink or not permalink else f"https://{permalink}"
    return {
        "track_id": track_id,
        "title": str(summary.get("title") or ""),
        "artist": str(summary.get("artist") or ""),
        "url": url,
        "no_ai": bool(summary.get("no_ai")),
        "canary": bool(summary.get("canary")),
    }
