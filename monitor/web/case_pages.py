"""The Cases pages' routes: /cases (the list) and /cases/{id} (one case); rendering lives in case_views."""

from __future__ import annotations

from monitor.cases.reads import PAGED, bounded_facts, page_of_cases
from monitor.errors import HttpError, NotFound
from monitor.signatures.catalogue import Catalogue
from monitor.web import case_views, triage
from monitor.web.api import StoreFactory
from monitor.web.cases_api import list_filters
from monitor.web.http import Leaf, path_parts, query_args, send_html

PAGE_SIZE = 50


class CaseLeaf(Leaf):
    """A Leaf whose error pages lead back to the case list (the triage Leaf's lead back to incidents)."""

    def _error(self, request, exc: HttpError) -> bytes:
        return send_html(request, exc.status, triage.render_error(exc.status, str(exc), "/cases"), exc.headers)


class CasePages:
    """/cases (filters status, severity, domain, owner, q; keyset ``after``) and /cases/{id}.
    Its POST actions (notice draft, evidence export) are in case_actions."""

    def __init__(self, stores: StoreFactory, token: bytes | None, catalogue: Catalogue | None = None):
        self._stores, self._token, self._catalogue = stores, token, catalogue

    def get(self, request) -> bytes:
        rest = path_parts(request)
        args = query_args(request)
        store = self._stores()
        try:
            if not rest:
                # Other parameters are ignored, as on /triage: links may carry a dashboard's time range.
                wanted = {k: v for k, v in args.items() if k in ("status", "severity", "domain", "owner", "q", "after")}
                status = wanted.get("status", "active")
                wanted["status"] = "" if status == "any" else status
                filters = list_filters(wanted)
                cases, cursor = page_of_cases(store, filters, PAGE_SIZE)
                shown = case_views.CaseFilters(
                    filters["status"] or "", filters["severity"] or "", filters["domain"] or "",
                    filters["owner"] or "", filters["q"] or "",
                )  # fmt: skip
                domains, owners = store.case_facets()
                page = case_views.render_list(
                    cases, shown, filters["after"], cursor, domains, owners, self._token is not None
                )
                return send_html(request, 200, page)
            if len(rest) == 1 and rest[0].isdigit():
                after = {s: args[f"{s}_after"] for s in PAGED if args.get(f"{s}_after")}
                facts = bounded_facts(store, int(rest[0]), self._catalogue, after=after)
                return send_html(request, 200, case_views.render_case(facts, self._token is not None))
        finally:
            store.db.close()
        raise NotFound("no such page; see /cases")
