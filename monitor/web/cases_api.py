"""The cases JSON API: /api/cases (filters, keyset pages), /api/cases/{id} (the case facts, long sections bounded)
and /api/cases/{id}/{incidents|evidence|timeline} (the rest of a section, page by page)."""

from __future__ import annotations

from typing import Any

from monitor.errors import BadRequest, NotFound
from monitor.signatures.catalogue import Catalogue
from monitor.store.case_reads import list_cursor, public_timeline, section_cursor
from monitor.store.core import Store
from monitor.vocabulary import CASE_STATUSES, SEVERITIES
from monitor.web import triage
from monitor.web.api import MAX_PAGE, StoreFactory
from monitor.web.case_views import case_path
from monitor.web.http import path_parts, query_args, send_json

LIST_PARAMS = {"status", "severity", "domain", "owner", "q", "after", "limit", "merged"}
STATUS_CHOICES = ("active", *CASE_STATUSES)
# What /api/cases/{id} holds at most per section: a case of many thousand incidents still answers in a bounded
# body; ``more`` says where a section continues (/api/cases/{id}/{section}?after=...).
SECTION_LIMIT = 100
LIST_LIMIT = 1000  # domains, urls, links: capped (``truncated`` names the capped ones)
PAGED = ("incidents", "evidence", "timeline")


def list_filters(args: dict[str, str], known: set[str] = LIST_PARAMS) -> dict[str, Any]:
    """The list filters from query parameters; raises BadRequest naming the problem."""
    unknown = set(args) - known
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    status, severity = args.get("status") or None, args.get("severity") or None
    if status and status not in STATUS_CHOICES:
        raise BadRequest(f"status must be one of {', '.join(STATUS_CHOICES)}")
    if severity and severity not in SEVERITIES:
        raise BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
    texts = {k: (args.get(k) or "").strip() or None for k in ("domain", "owner", "q", "after")}
    if any(v and len(v) > 200 for v in texts.values()):
        raise BadRequest("domain, owner, q and after are limited to 200 characters")
    merged = args.get("merged", "")
    if merged not in ("", "0", "1", "true", "false"):
        raise BadRequest("merged must be true or false")
    return {"status": status, "severity": severity, **texts, "merged": merged in ("1", "true")}


def limit_of(args: dict[str, str], default: int) -> int:
    try:
        limit = int(args.get("limit", default))
    except ValueError:
        raise BadRequest("limit must be an integer") from None
    if not 1 <= limit <= MAX_PAGE:
        raise BadRequest(f"limit must be 1..{MAX_PAGE}")
    return limit


def page_of_cases(store: Store, filters: dict[str, Any], limit: int) -> tuple[list[dict[str, Any]], str | None]:
    """One page of cases and the cursor of the next (None on the last page); BadRequest for a bad cursor."""
    try:
        rows = store.list_cases(**filters, limit=limit + 1)
    except ValueError as exc:
        raise BadRequest(f"after: {exc}") from None
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, list_cursor(rows[-1]) if more and rows else None


def section_page(
    store: Store, case_id: int, section: str, after: str | None, limit: int
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of a case section and the cursor that continues it (None when it is complete)."""
    reader = {"incidents": store.case_incidents, "evidence": store.case_evidence, "timeline": store.case_timeline}
    try:
        rows = reader[section](case_id, after=after, limit=limit + 1)
    except ValueError as exc:
        raise BadRequest(f"after: {exc}") from None
    more = len(rows) > limit
    rows = rows[:limit]
    cursor = section_cursor(section, rows[-1]) if more and rows else None
    return (public_timeline(rows) if section == "timeline" else rows), cursor


def bounded_facts(
    store: Store,
    case_id: int,
    catalogue: Catalogue | None,
    limit: int = SECTION_LIMIT,
    after: dict[str, str] | None = None,
) -> dict[str, Any]:
    """The case facts with each long section bounded (paged ones starting after ``after[section]``), plus ``more``
    (section -> cursor or None), ``truncated``, ``merged_into`` and the page's path; raises NotFound."""
    row = store.case_row(case_id)
    if row is None:
        raise NotFound(f"no case with id {case_id}")
    facts: dict[str, Any] = {k: row[k] for k in ("id", "domain", "title", "status", "severity", "owner",
                                                  "opened_at", "first_seen", "last_seen", "notice_sent_at",
                                                  "taken_down_at", "next_check_at")}  # fmt: skip
    more: dict[str, str | None] = {}
    truncated = []
    capped = {"domains": store.case_domains, "urls": store.case_urls, "links": store.case_links}
    for name, reader in capped.items():
        facts[name] = reader(case_id, limit=LIST_LIMIT + 1)
        if len(facts[name]) > LIST_LIMIT:
            facts[name] = facts[name][:LIST_LIMIT]
            truncated.append(name)
    for section in PAGED:
        facts[section], more[section] = section_page(store, case_id, section, (after or {}).get(section), limit)
    facts["tracks"] = store.case_tracks(case_id, catalogue)
    facts["host_intel"] = store.case_host_intel(case_id)
    facts["notices"] = store.case_notices(case_id)
    for ev in facts["evidence"]:
        ev["links"] = {k: link for k in ("body", "screenshot", "requests")
                       if (link := triage.evidence_link(ev.get(f"{k}_sha256")))}  # fmt: skip
    facts.update(more=more, truncated=truncated, merged_into=row["merged_into"], case_url=case_path(case_id))
    return facts


class CasesApi:
    """GET /api/cases, /api/cases/{id} and /api/cases/{id}/{section}: reads, open like the incident API's."""

    def __init__(self, stores: StoreFactory, catalogue: Catalogue | None = None):
        self._stores, self._catalogue = stores, catalogue

    def get(self, request) -> bytes:
        rest = path_parts(request)
        args = query_args(request)
        store = self._stores()
        try:
            if not rest:
                filters = list_filters(args)
                limit = limit_of(args, 50)
                cases, cursor = page_of_cases(store, filters, limit)
                for case in cases:
                    case["case_url"] = case_path(case["id"])
                return send_json(request, 200, {"cases": cases, "next": cursor, "limit": limit})
            if not rest[0].isdigit() or len(rest) > 2 or (len(rest) == 2 and rest[1] not in PAGED):
                raise NotFound("expected /api/cases/{id} or /api/cases/{id}/{incidents|evidence|timeline}")
            case_id = int(rest[0])
            if len(rest) == 1:
                if set(args):
                    raise BadRequest("/api/cases/{id} takes no parameters; page sections at /api/cases/{id}/{section}")
                return send_json(request, 200, bounded_facts(store, case_id, self._catalogue))
            unknown = set(args) - {"after", "limit"}
            if unknown:
                raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
            if store.case_row(case_id) is None:
                raise NotFound(f"no case with id {case_id}")
            rows, cursor = section_page(store, case_id, rest[1], args.get("after") or None, limit_of(args, 100))
            return send_json(request, 200, {rest[1]: rows, "next": cursor})
        finally:
            store.db.close()
