"""The triage pages' routes: the incident list and detail, and their action form (rendering lives in triage)."""

from __future__ import annotations

from monitor.errors import BadRequest, HttpError, NotFound
from monitor.web import triage
from monitor.web.api import StoreFactory, action_fields, change
from monitor.web.http import authorize, path_parts, query_args, send_html


class TriagePages:
    """/triage (list), /triage/incidents/{id} (detail) and POST /triage/incidents/{id}/action."""

    def __init__(self, stores: StoreFactory, token: bytes | None):
        self._stores, self._token = stores, token

    def get(self, request) -> bytes:
        rest = path_parts(request)
        store = self._stores()
        try:
            if not rest:
                try:
                    filters = triage.parse_filters(query_args(request))
                except ValueError as exc:
                    raise BadRequest(str(exc)) from None
                try:
                    incidents, total, cursor = store.search_incidents(**vars(filters), page_size=triage.PAGE_SIZE)
                except ValueError as exc:  # a cursor this list did not hand out
                    raise BadRequest(str(exc)) from None
                kinds, domains = store.incident_facets()
                page = triage.render_list(incidents, total, filters, kinds, domains, self._token is not None, cursor)
                return send_html(request, 200, page)
            if len(rest) == 2 and rest[0] == "incidents" and rest[1].isdigit():
                incident = store.get_incident(int(rest[1]), events_limit=triage.EVENTS_SHOWN)
                evidence, case_id = store.evidence(incident["id"]), store.incident_case(incident["id"])
                page = triage.render_detail(incident, evidence, self._token is not None, case_id)
                return send_html(request, 200, page)
        finally:
            store.db.close()
        raise NotFound("no such page; see /triage")

    def post(self, request) -> bytes:
        rest = path_parts(request)
        if len(rest) != 3 or rest[0] != "incidents" or not rest[1].isdigit() or rest[2] != "action":
            raise HttpError(405, "only /triage/incidents/{id}/action accepts POST", {"Allow": "GET, HEAD"})
        authorize(request, self._token, (request.args.get(b"token") or [b""])[-1], api=False)
        form = query_args(request)
        action, note, actor = action_fields(form.get("action"), form.get("note"), form.get("actor"), "triage")
        incident_id = int(rest[1])
        change(self._stores, incident_id, action, actor, note, "/triage")
        request.setResponseCode(303)
        request.setHeader(b"Location", triage.incident_path(incident_id).encode())
        for name, value in triage.PAGE_HEADERS.items():
            request.setHeader(name.encode(), value.encode())
        return b""
