"""The cases JSON API: /api/cases (filters, keyset pages), /api/cases/{id} (the case facts, long sections bounded)
and /api/cases/{id}/{incidents|evidence|timeline} (the rest of a section, page by page)."""

from __future__ import annotations

from typing import Any

from monitor.cases.reads import PAGED, STATUS_FILTERS, bounded_facts, page_of_cases, section_page
from monitor.errors import BadRequest, NotFound
from monitor.signatures.catalogue import Catalogue
from monitor.vocabulary import SEVERITIES
from monitor.web.api import MAX_PAGE, StoreFactory
from monitor.web.http import path_parts, query_args, send_json

LIST_PARAMS = {"status", "severity", "domain", "owner", "q", "after", "limit", "merged"}


def list_filters(args: dict[str, str], known: set[str] = LIST_PARAMS) -> dict[str, Any]:
    """The list filters from query parameters; raises BadRequest naming the problem."""
    unknown = set(args) - known
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    status, severity = args.get("status") or None, args.get("severity") or None
    if status and status not in STATUS_FILTERS:
        raise BadRequest(f"status must be one of {', '.join(STATUS_FILTERS)}")
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
