"""The daemon's HTTP server on the reactor: /metrics, /healthz, /readyz, the JSON API, evidence files and /triage."""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from twisted.web import resource, server

from monitor.cases.notice import Sender
from monitor.metrics import REGISTRY
from monitor.signatures.catalogue import Catalogue
from monitor.store.files import EvidenceFiles
from monitor.web.api import Api, ReadyCheck, StoreFactory
from monitor.web.case_actions import CaseActions
from monitor.web.case_pages import CaseLeaf, CasePages
from monitor.web.cases_api import CasesApi
from monitor.web.http import Leaf, api_gate, not_found, send, send_json
from monitor.web.limits import HttpLimits, limited_site
from monitor.web.pages import TriagePages

log = logging.getLogger(__name__)


class _Root(resource.Resource):
    def getChild(self, path: bytes, request):
        return Leaf(not_found)


def build_site(
    stores: StoreFactory,
    ready: ReadyCheck,
    evidence_root: Path | None = None,
    api_token: SecretStr | str | None = None,
    limits: HttpLimits | None = None,
    catalogue: Catalogue | None = None,
    case_actions: dict[str, Any] | None = None,
) -> server.Site:
    """The resource tree served by the daemon; without ``api_token`` incidents are read-only over HTTP.
    ``limits`` bound what one connection may cost (defaults: HttpLimits()); ``catalogue`` describes the tracks
    of cases (without it, as their incidents recorded them); ``case_actions`` configures the case pages' notice and
    export actions (exports_dir, sender, templates_dir)."""
    if isinstance(api_token, SecretStr):
        api_token = api_token.get_secret_value()
    token = api_token.encode() if api_token else None
    files = EvidenceFiles(evidence_root) if evidence_root is not None else None
    root = _Root()
    root.putChild(b"", Leaf(lambda r: send(r, 200, _INDEX, "text/plain; charset=utf-8")))
    root.putChild(b"metrics", Leaf(lambda r: send(r, 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)))
    root.putChild(b"healthz", Leaf(lambda r: send(r, 200, b"ok\n", "text/plain; charset=utf-8")))

    def readyz(request) -> bytes:
        ok, details = ready()
        return send_json(request, 200 if ok else 503, {"ready": ok, **details})

    root.putChild(b"readyz", Leaf(readyz))
    api = Api(stores, files, token)
    api.putChild(b"cases", Leaf(CasesApi(stores, catalogue).get))
    root.putChild(b"api", api)
    pages = TriagePages(stores, token)
    root.putChild(b"triage", Leaf(pages.get, pages.post, html=True))
    actions = CaseActions(stores, token, catalogue, files, **(case_actions or {}))
    root.putChild(b"cases", CaseLeaf(CasePages(stores, token, catalogue).get, actions.post, html=True))
    return limited_site(root, limits or HttpLimits(), api_gate(token))


_INDEX = b"""scrapewatch
/metrics                            Prometheus metrics
/healthz                            liveness
/readyz                             readiness (database writable, scheduler running, no job overdue)
/triage                             incident triage page (filters: status, severity, kind, domain, q; after)
/triage/incidents/{id}              one incident: timeline, data, evidence; actions with the API token
/api/incidents                      incidents (status, severity, kind, domain, since, limit; after from "next")
/api/incidents/{id}                 one incident with its first events and evidence (events_next, evidence_next)
/api/incidents/{id}/events          an incident's events, paged (limit, after)
/api/incidents/{id}/evidence        an incident's evidence, paged (limit, after)
POST /api/incidents/{id}/actions    {"action", "note", "actor"} with Authorization: Bearer <http.api_token>
/api/evidence/{sha256}              an evidence file (bodies of third-party pages as text attachments)
/cases                              cases page (filters: status, severity, domain, owner, q; after)
/cases/{id}                         one case: domains, tracks, host intel, incidents, timeline, evidence
/api/cases                          cases (status, severity, domain, owner, q, merged, after, limit)
/api/cases/{id}                     one case's facts (sections bounded; "more" cursors continue them)
/api/cases/{id}/{section}           incidents, evidence or timeline of a case, page by page (after, limit)
"""


def case_action_settings(settings) -> dict[str, Any]:
    """What the case pages' actions need from the settings: where bundles go, who signs, the team's templates."""
    notices = settings.notices
    return {
        "exports_dir": notices.exports_dir or settings.storage.data_dir / "exports",
        "sender": Sender.from_settings(notices),
        "templates_dir": notices.templates_dir,
    }
