"""The JSON API: incidents (list, one, actions) and evidence files, for people's tools and the triage page."""

from __future__ import annotations

import json
import logging
import re
from collections.abc import Callable
from datetime import datetime
from typing import Any
from urllib.parse import urlencode

from twisted.web import resource

from monitor.errors import BadRequest, NotFound
from monitor.incidents import MANUAL_ACTIONS
from monitor.store.core import Store
from monitor.store.files import EvidenceFiles
from monitor.vocabulary import SEVERITIES, STATUSES
from monitor.web import triage
from monitor.web.http import SAFE_HEADER_VALUE, Leaf, authorize, not_found, path_parts, query_args, send, send_json

log = logging.getLogger(__name__)

MAX_PAGE = 500


MAX_NOTE = 2000


MAX_ACTOR = 100


ReadyCheck = Callable[[], tuple[bool, dict[str, Any]]]


StoreFactory = Callable[[], Store]


def action_fields(action: Any, note: Any, actor: Any, default_actor: str) -> tuple[str, str | None, str]:
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


def change(stores: StoreFactory, incident_id: int, action: str, actor: str, note: str | None, via: str) -> None:
    store = stores()
    try:
        store.change_incident(incident_id, action, actor, note, events_limit=0)  # the caller reads it paged
    finally:
        store.db.close()
    log.info("incident #%d %s by %s via %s", incident_id, action, actor, via)


EVENTS_SHOWN = 100  # events and evidence in /api/incidents/{id}; the rest are paged from its *_next links
EVIDENCE_SHOWN = 50


def _evidence_links(evidence: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [
        {**ev, "links": {k: link for k in ("body", "screenshot", "requests")
                         if (link := triage.evidence_link(ev.get(f"{k}_sha256")))}}
        for ev in evidence
    ]  # fmt: skip


def _next(path: str, cursor: str | None, **args: Any) -> str | None:
    """The URL of the next page (None: there is none), keeping the list's other parameters."""
    if cursor is None:
        return None
    pairs = [(k, v) for k, v in args.items() if v not in (None, "")]
    return f"{path}?{urlencode([*pairs, ('after', cursor)])}"


def incident_json(store: Store, incident_id: int) -> dict[str, Any]:
    """One incident with its first events and newest evidence, and links to the next pages of both."""
    incident = store.get_incident(incident_id, events_limit=EVENTS_SHOWN)
    incident["triage_url"] = triage.incident_path(incident_id)
    base = f"/api/incidents/{int(incident_id)}"
    incident["events_next"] = _next(f"{base}/events", incident["events_next"], limit=EVENTS_SHOWN)
    evidence, cursor = store.evidence_page(incident_id, EVIDENCE_SHOWN)
    incident["evidence"] = _evidence_links(evidence)
    incident["evidence_next"] = _next(f"{base}/evidence", cursor, limit=EVIDENCE_SHOWN)
    return incident


SHA256 = re.compile(r"^[0-9a-f]{64}$")


class Api(resource.Resource):
    def __init__(self, stores: StoreFactory, files: EvidenceFiles | None, token: bytes | None):
        super().__init__()
        self._stores, self._files, self._token = stores, files, token

    def getChild(self, path: bytes, request):
        if path == b"incidents":
            return Leaf(self._incidents, self._incident_action)
        if path == b"evidence":
            return Leaf(self._evidence)
        return Leaf(not_found)

    def _incidents(self, request) -> bytes:
        rest = path_parts(request)
        store = self._stores()
        try:
            if rest:
                if not rest[0].isdigit() or len(rest) > 2 or (len(rest) == 2 and rest[1] not in ("events", "evidence")):
                    raise NotFound("expected /api/incidents/{id}, /api/incidents/{id}/events or .../evidence")
                incident_id = int(rest[0])
                if len(rest) == 1:
                    return send_json(request, 200, incident_json(store, incident_id))
                return send_json(request, 200, _incident_page(store, incident_id, rest[1], query_args(request)))
            args = query_args(request)
            filters = incident_filters(args)
            limit, offset = _page(args)
            try:
                incidents, cursor = store.page_incidents(**filters, limit=limit, offset=offset, after=args.get("after"))
            except ValueError as exc:
                raise BadRequest(str(exc)) from None
            for incident in incidents:
                incident["triage_url"] = triage.incident_path(incident["id"])
            body = {
                "incidents": incidents,
                "total": store.count_incidents(**filters),
                "limit": limit,
                "offset": offset,
                "next": _next("/api/incidents", cursor, **filters, limit=limit),
            }
            return send_json(request, 200, body)
        finally:
            store.db.close()

    def _incident_action(self, request) -> bytes:
        rest = path_parts(request)
        if len(rest) != 2 or not rest[0].isdigit() or rest[1] != "actions":
            raise NotFound("changes go to POST /api/incidents/{id}/actions")
        authorize(request, self._token, None, api=True)
        request.content.seek(0)
        raw = request.content.read()  # at most http.max_request_bytes: monitor.web.limits refused more unread
        try:
            body = json.loads(raw)
        except (ValueError, UnicodeDecodeError) as exc:
            raise BadRequest(f"the body must be a JSON object: {exc}") from None
        if not isinstance(body, dict):
            raise BadRequest('the body must be a JSON object such as {"action": "acknowledged", "note": "..."}')
        unknown = set(body) - {"action", "note", "actor"}
        if unknown:
            raise BadRequest(f"unknown field(s): {', '.join(sorted(unknown))}")
        action, note, actor = action_fields(body.get("action"), body.get("note"), body.get("actor"), "api")
        incident_id = int(rest[0])
        change(self._stores, incident_id, action, actor, note, "the API")
        store = self._stores()
        try:
            return send_json(request, 200, incident_json(store, incident_id))
        finally:
            store.db.close()

    def _evidence(self, request) -> bytes:
        rest = path_parts(request)
        sha = rest[0].lower() if len(rest) == 1 else ""
        if not SHA256.match(sha) or self._files is None:
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
            "X-Evidence-Kind": record["kind"] if SAFE_HEADER_VALUE.match(record["kind"]) else "other",
        }
        if record["content_type"] and SAFE_HEADER_VALUE.match(record["content_type"]):
            headers["X-Evidence-Content-Type"] = record["content_type"]  # what the site said, for the record
        body = send(request, 200, content, content_type, headers)
        request.setHeader(b"Cache-Control", b"private, max-age=86400, immutable")  # addressed by its hash
        return body


def _incident_page(store: Store, incident_id: int, what: str, args: dict[str, str]) -> dict[str, Any]:
    """/api/incidents/{id}/events (oldest first) or /evidence (newest first): one page and the next one's URL."""
    unknown = set(args) - {"after", "limit"}
    if unknown:
        raise BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    limit, _ = _page({"limit": args.get("limit", "100")})
    store.require_incident(incident_id)
    try:
        if what == "events":
            rows, cursor = store.incident_events(incident_id, limit, args.get("after"))
        else:
            rows, cursor = store.evidence_page(incident_id, limit, args.get("after"))
            rows = _evidence_links(rows)
    except ValueError as exc:
        raise BadRequest(str(exc)) from None
    return {what: rows, "next": _next(f"/api/incidents/{int(incident_id)}/{what}", cursor, limit=limit)}


def incident_filters(args: dict[str, str]) -> dict[str, str | None]:
    unknown = set(args) - {"status", "severity", "kind", "domain", "since", "limit", "offset", "after"}
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
    return {
        "status": status,
        "severity": severity,
        "kind": args.get("kind"),
        "domain": args.get("domain"),
        "since": since,
    }


def _page(args: dict[str, str]) -> tuple[int, int]:
    try:
        limit = int(args.get("limit", 100))
        offset = int(args.get("offset", 0))
    except ValueError:
        raise BadRequest("limit and offset must be integers") from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise BadRequest(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    return limit, offset
