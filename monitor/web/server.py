"""The daemon's HTTP server on the reactor: /metrics, /healthz, /readyz, the JSON API, evidence files and /triage."""

from __future__ import annotations

import hmac
import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from pydantic import SecretStr
from twisted.web import resource, server

from monitor.db import SEVERITIES, STATUSES
from monitor.errors import BadRequest, HttpError, InvalidTransition, NotFound
from monitor.incidents import MANUAL_ACTIONS
from monitor.metrics import REGISTRY
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles
from monitor.web import triage

log = logging.getLogger(__name__)
MAX_PAGE = 500
MAX_BODY_BYTES = 65_536
MAX_NOTE = 2000
MAX_ACTOR = 100
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
_SAFE_HEADER_VALUE = re.compile(r"^[\x20-\x7e]{1,200}$")

ReadyCheck = Callable[[], tuple[bool, dict[str, Any]]]
StoreFactory = Callable[[], Store]


def _send(request, status: int, body: bytes, content_type: str, headers: dict[str, str] | None = None) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type.encode())
    request.setHeader(b"Cache-Control", b"no-store")
    request.setHeader(b"X-Content-Type-Options", b"nosniff")
    for name, value in (headers or {}).items():
        request.setHeader(name.encode(), value.encode())
    return body


def _json(request, status: int, data: Any, headers: dict[str, str] | None = None) -> bytes:
    return _send(request, status, json.dumps(data, indent=1, default=str).encode(), "application/json", headers)


def _html(request, status: int, page: bytes, headers: dict[str, str] | None = None) -> bytes:
    return _send(request, status, page, "text/html; charset=utf-8", {**triage.PAGE_HEADERS, **(headers or {})})


def _parts(request) -> list[str]:
    return [p.decode("utf-8", "replace") for p in request.postpath if p]


def _args(request) -> dict[str, str]:
    return {k.decode("utf-8", "replace"): v[-1].decode("utf-8", "replace") for k, v in request.args.items()}


class _Leaf(resource.Resource):
    """One endpoint: GET (and HEAD) and optionally POST handlers; errors as JSON, or as pages when ``html``."""

    isLeaf = True

    def __init__(self, get: Callable[[Any], bytes], post: Callable[[Any], bytes] | None = None, html: bool = False):
        super().__init__()
        self._get, self._post, self._html = get, post, html

    def render_GET(self, request) -> bytes:
        return self._run(self._get, request)

    render_HEAD = render_GET

    def render_POST(self, request) -> bytes:
        if self._post is None:
            return self._error(request, HttpError(405, "method not allowed", {"Allow": "GET, HEAD"}))
        return self._run(self._post, request)

    def _run(self, handler: Callable[[Any], bytes], request) -> bytes:
        try:
            return handler(request)
        except HttpError as exc:
            return self._error(request, exc)
        except NotFound as exc:
            return self._error(request, HttpError(404, str(exc)))
        except InvalidTransition as exc:
            return self._error(request, HttpError(409, f"{exc}; nothing was changed"))
        except Exception:
            log.exception("HTTP handler failed for %s", request.uri)
            return self._error(request, HttpError(500, "internal error; see the daemon log"))

    def _error(self, request, exc: HttpError) -> bytes:
        if not self._html:
            return _json(request, exc.status, {"error": str(exc)}, exc.headers)
        parts = _parts(request)
        back = triage.incident_path(int(parts[1])) if len(parts) >= 2 and parts[1].isdigit() else None
        return _html(request, exc.status, triage.render_error(exc.status, str(exc), back), exc.headers)


# ---- changes: token, origin, fields ----------------------------------------------------------------------


def _header(request, name: bytes) -> bytes | None:
    values = request.requestHeaders.getRawHeaders(name)
    return values[0] if values else None


def _same_origin(request) -> None:
    """Refuse a change whose Origin (else Referer) names another host than the one it was sent to.

    ``Origin: null`` is what Chromium sends for a form posted from a ``Referrer-Policy: no-referrer`` page (ours),
    so it says nothing either way; the token, which another site cannot know, is what protects changes.
    """
    origin = _header(request, b"origin")
    source = origin if origin not in (None, b"null") else _header(request, b"referer")
    if not source:
        return
    host = urlsplit(source.decode("latin-1")).netloc.lower()
    allowed = {h.decode("latin-1").lower() for h in (_header(request, b"host"), _header(request, b"x-forwarded-host"))
               if h}  # fmt: skip
    if host not in allowed:
        raise HttpError(403, "cross-origin request refused (Origin/Referer is another site); nothing was changed")


def _authorize(request, token: bytes | None, form_token: bytes | None, api: bool) -> None:
    """Allow a change only with the configured token (Bearer header or form field), compared in constant time."""
    if token is None:
        raise HttpError(403, "read-only: no API token is configured (http.api_token), so changes are refused")
    _same_origin(request)
    auth = _header(request, b"authorization") or b""
    scheme, _, value = auth.partition(b" ")
    given = value.strip() if scheme.lower() == b"bearer" and value.strip() else form_token
    if not given:
        if api:
            raise HttpError(401, "an API token is required: send Authorization: Bearer <http.api_token>",
                             {"WWW-Authenticate": 'Bearer realm="scrapewatch"'})  # fmt: skip
        raise HttpError(403, "the API token is required to change an incident; nothing was changed")
    if not hmac.compare_digest(given, token):
        log.warning("refused an incident change with a wrong API token from %s", request.getClientAddress().host)
        raise HttpError(403, "wrong API token; nothing was changed")


def _action_fields(action: Any, note: Any, actor: Any, default_actor: str) -> tuple[str, str | None, str]:
    if not isinstance(action, str) or action not in MANUAL_ACTIONS:
        raise BadRequest(f"action must be one of {', '.join(MANUAL_ACTIONS)}")
    if note is not None and not isinstance(note, str):
        raise BadRequest("note must be a string")
    if actor is not None and not isinstance(actor, str):
        raise BadRequest("actor must be a string")
    note = (note or "").strip() or None
    actor = (actor or "").strip() or default_actor
    if note is not None and len(note) > MAX_NOTE:
        raise BadRequest(f"note is limited to {MAX_NOTE} characters")
    if len(actor) > MAX_ACTOR or not actor.isprintable():
        raise BadRequest(f"actor must be a printable name of at most {MAX_ACTOR} characters")
    return action, note, actor


def _change(stores: StoreFactory, incident_id: int, action: str, actor: str, note: str | None, via: str) -> None:
    store = stores()
    try:
        store.change_incident(incident_id, action, actor, note)
    finally:
        store.db.close()
    log.info("incident #%d %s by %s via %s", incident_id, action, actor, via)


def _incident_json(store: Store, incident_id: int) -> dict[str, Any]:
    incident = store.get_incident(incident_id)
    incident["triage_url"] = triage.incident_path(incident_id)
    incident["evidence"] = [
        {**ev, "links": {k: link for k in ("body", "screenshot", "requests")
                         if (link := triage.evidence_link(ev.get(f"{k}_sha256")))}}
        for ev in store.evidence(incident_id)
    ]  # fmt: skip
    return incident


# ---- resources -------------------------------------------------------------------------------------------


class _Api(resource.Resource):
    def __init__(self, stores: StoreFactory, files: EvidenceFiles | None, token: bytes | None):
        super().__init__()
        self._stores, self._files, self._token = stores, files, token

    def getChild(self, path: bytes, request):
        if path == b"incidents":
            return _Leaf(self._incidents, self._incident_action)
        if path == b"evidence":
            return _Leaf(self._evidence)
        return resource.NoResource("unknown API path; see /api/incidents")

    def _incidents(self, request) -> bytes:
        rest = _parts(request)
        store = self._stores()
        try:
            if rest:
                if len(rest) != 1 or not rest[0].isdigit():
                    raise NotFound("expected /api/incidents/{id}")
                return _json(request, 200, _incident_json(store, int(rest[0])))
            args = _args(request)
            filters = _incident_filters(args)
            limit, offset = _page(args)
            incidents = store.list_incidents(**filters, limit=limit, offset=offset)
            for incident in incidents:
                incident["triage_url"] = triage.incident_path(incident["id"])
            return _json(
                request,
                200,
                {"incidents": incidents, "total": store.count_incidents(**filters), "limit": limit, "offset": offset},
            )
        finally:
            store.db.close()

    def _incident_action(self, request) -> bytes:
        rest = _parts(request)
        if len(rest) != 2 or not rest[0].isdigit() or rest[1] != "actions":
            raise NotFound("changes go to POST /api/incidents/{id}/actions")
        _authorize(request, self._token, None, api=True)
        request.content.seek(0)
        raw = request.content.read(MAX_BODY_BYTES + 1)
        if len(raw) > MAX_BODY_BYTES:
            raise HttpError(413, f"the body is limited to {MAX_BODY_BYTES} bytes")
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body must be a JSON object: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest('the body must be a JSON object such as {"action": "acknowledged", "note": "..."}')
        unknown = set(body) - {"action", "note", "actor"}
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        action, note, actor = _action_fields(body.get("action"), body.get("note"), body.get("actor"), "api")
        incident_id = int(rest[0])
        _change(self._stores, incident_id, action, actor, note, "the API")
        store = self._stores()
        try:
            return _json(request, 200, _incident_json(store, incident_id))
        finally:
            store.db.close()

    def _evidence(self, request) -> bytes:
        rest = _parts(request)
        sha = rest[0].lower() if len(rest) == 1 else ""
        if not _SHA256.match(sha) or self._files is None:
            raise NotFound("expected /api/evidence/{sha256} of a stored evidence file")
        store = self._stores()
        try:
            record = store.evidence_file(sha)
        finally:
            store.db.close()
        content = self._files.get(sha) if record else None
        if record is None or content is None:
            if record is not None:
                log.warning("evidence file %s is recorded but missing under %s", sha, self._files.root)
            raise NotFound(f"no evidence file {sha}")
        content_type, disposition = triage.evidence_type(sha, record["kind"], record["content_type"], content)
        headers = {
            "Content-Disposition": disposition,
            "Content-Security-Policy": "default-src 'none'; sandbox",
            "X-Evidence-Kind": record["kind"] if _SAFE_HEADER_VALUE.match(record["kind"]) else "other",
        }
        if record["content_type"] and _SAFE_HEADER_VALUE.match(record["content_type"]):
            headers["X-Evidence-Content-Type"] = record["content_type"]  # what the site said, for the record
        body = _send(request, 200, content, content_type, headers)
        request.setHeader(b"Cache-Control", b"private, max-age=86400, immutable")  # addressed by its hash
        return body


class _Root(resource.Resource):
    def getChild(self, path: bytes, request):
        return _Leaf(_not_found)


def _not_found(request) -> bytes:
    raise NotFound("no such path; see /")


class _Triage:
    """/triage (list), /triage/incidents/{id} (detail) and POST /triage/incidents/{id}/action."""

    def __init__(self, stores: StoreFactory, token: bytes | None):
        self._stores, self._token = stores, token

    def get(self, request) -> bytes:
        rest = _parts(request)
        store = self._stores()
        try:
            if not rest:
                try:
                    filters = triage.parse_filters(_args(request))
                except ValueError as exc:
                    raise BadRequest(str(exc)) from None
                incidents, total = triage.search(store.db, filters)
                kinds, domains = triage.facets(store.db)
                page = triage.render_list(incidents, total, filters, kinds, domains, self._token is not None)
                return _html(request, 200, page)
            if len(rest) == 2 and rest[0] == "incidents" and rest[1].isdigit():
                incident = store.get_incident(int(rest[1]))
                page = triage.render_detail(incident, store.evidence(incident["id"]), self._token is not None)
                return _html(request, 200, page)
        finally:
            store.db.close()
        raise NotFound("no such page; see /triage")

    def post(self, request) -> bytes:
        rest = _parts(request)
        if len(rest) != 3 or rest[0] != "incidents" or not rest[1].isdigit() or rest[2] != "action":
            raise HttpError(405, "only /triage/incidents/{id}/action accepts POST", {"Allow": "GET, HEAD"})
        if b"token" in parse_qs(urlsplit(request.uri).query):
            raise BadRequest("send the token in the form body or an Authorization header, never in the URL")
        _authorize(request, self._token, (request.args.get(b"token") or [b""])[-1], api=False)
        form = _args(request)
        action, note, actor = _action_fields(form.get("action"), form.get("note"), form.get("actor"), "triage")
        incident_id = int(rest[1])
        _change(self._stores, incident_id, action, actor, note, "/triage")
        request.setResponseCode(303)
        request.setHeader(b"Location", triage.incident_path(incident_id).encode())
        for name, value in triage.PAGE_HEADERS.items():
            request.setHeader(name.encode(), value.encode())
        return b""


def _incident_filters(args: dict[str, str]) -> dict[str, str | None]:
    unknown = set(args) - {"status", "severity", "kind", "since", "limit", "offset"}
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    status, severity, since = args.get("status"), args.get("severity"), args.get("since")
    if status and status not in STATUSES:
        raise BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if severity and severity not in SEVERITIES:
        raise BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
    if since:
        try:
            since = datetime.fromisoformat(since.replace("Z", "+00:00")).isoformat(timespec="microseconds")
        except ValueError:
            raise BadRequest("since must be an ISO-8601 time, e.g. 2026-11-26T00:00:00Z") from None
    return {"status": status, "severity": severity, "kind": args.get("kind"), "since": since}


def _page(args: dict[str, str]) -> tuple[int, int]:
    try:
        limit = int(args.get("limit", 100))
        offset = int(args.get("offset", 0))
    except ValueError:
        raise BadRequest("limit and offset must be integers") from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadRequest(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    return limit, offset


def build_site(
    stores: StoreFactory,
    ready: ReadyCheck,
    evidence_root: Path | None = None,
    api_token: SecretStr | str | None = None,
) -> server.Site:
    """The resource tree served by the daemon; without ``api_token`` incidents are read-only over HTTP."""
    if isinstance(api_token, SecretStr):
        api_token = api_token.get_secret_value()
    token = api_token.encode() if api_token else None
    files = EvidenceFiles(evidence_root) if evidence_root is not None else None
    root = _Root()
    root.putChild(b"", _Leaf(lambda r: _send(r, 200, _INDEX, "text/plain; charset=utf-8")))
    root.putChild(b"metrics", _Leaf(lambda r: _send(r, 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)))
    root.putChild(b"healthz", _Leaf(lambda r: _send(r, 200, b"ok\n", "text/plain; charset=utf-8")))

    def readyz(request) -> bytes:
        ok, details = ready()
        return _json(request, 200 if ok else 503, {"ready": ok, **details})

    root.putChild(b"readyz", _Leaf(readyz))
    root.putChild(b"api", _Api(stores, files, token))
    pages = _Triage(stores, token)
    root.putChild(b"triage", _Leaf(pages.get, pages.post, html=True))
    site = server.Site(root)
    site.displayTracebacks = False
    site.noisy = False
    return site


_INDEX = b"""scrapewatch
/metrics                            Prometheus metrics
/healthz                            liveness
/readyz                             readiness (database writable, scheduler running, no job overdue)
/triage                             incident triage page (filters: status, severity, kind, domain, q, page)
/triage/incidents/{id}              one incident: timeline, data, evidence; actions with the API token
/api/incidents                      incidents (status, severity, kind, since, limit, offset)
/api/incidents/{id}                 one incident with its events and evidence
POST /api/incidents/{id}/actions    {"action", "note", "actor"} with Authorization: Bearer <http.api_token>
/api/evidence/{sha256}              an evidence file (bodies of third-party pages as text attachments)
"""
