"""The daemon's HTTP server on the reactor: /metrics, /healthz, /readyz and the read-only JSON API."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from twisted.web import resource, server

from monitor.db import SEVERITIES, STATUSES
from monitor.errors import NotFound, ScrapewatchError
from monitor.metrics import REGISTRY
from monitor.store import Store

log = logging.getLogger(__name__)
MAX_PAGE = 500

ReadyCheck = Callable[[], tuple[bool, dict[str, Any]]]
StoreFactory = Callable[[], Store]


class _BadRequest(ScrapewatchError):
    """A query parameter is invalid."""


def _send(request, status: int, body: bytes, content_type: str) -> bytes:
    request.setResponseCode(status)
    request.setHeader(b"Content-Type", content_type.encode())
    request.setHeader(b"Cache-Control", b"no-store")
    return body


def _json(request, status: int, data: Any) -> bytes:
    return _send(request, status, json.dumps(data, indent=1, default=str).encode(), "application/json")


class _Leaf(resource.Resource):
    isLeaf = True

    def __init__(self, handler: Callable[[Any], bytes]):
        super().__init__()
        self._handler = handler

    def render_GET(self, request) -> bytes:
        try:
            return self._handler(request)
        except _BadRequest as exc:
            return _json(request, 400, {"error": str(exc)})
        except NotFound as exc:
            return _json(request, 404, {"error": str(exc)})
        except Exception:
            log.exception("HTTP handler failed for %s", request.uri)
            return _json(request, 500, {"error": "internal error; see the daemon log"})

    render_HEAD = render_GET


class _Api(resource.Resource):
    def __init__(self, stores: StoreFactory):
        super().__init__()
        self._stores = stores

    def getChild(self, path: bytes, request):
        if path == b"incidents":
            return _Leaf(self._incidents)
        return resource.NoResource("unknown API path; see /api/incidents")

    def _incidents(self, request) -> bytes:
        rest = [p for p in request.postpath if p]
        store = self._stores()
        try:
            if rest:
                if len(rest) != 1 or not rest[0].isdigit():
                    raise NotFound("expected /api/incidents/{id}")
                return _json(request, 200, store.get_incident(int(rest[0])))
            args = {k.decode(): v[-1].decode("utf-8", "replace") for k, v in request.args.items()}
            filters = _incident_filters(args)
            limit, offset = _page(args)
            return _json(
                request,
                200,
                {
                    "incidents": store.list_incidents(**filters, limit=limit, offset=offset),
                    "total": store.count_incidents(**filters),
                    "limit": limit,
                    "offset": offset,
                },
            )
        finally:
            store.db.close()


def _incident_filters(args: dict[str, str]) -> dict[str, str | None]:
    unknown = set(args) - {"status", "severity", "kind", "since", "limit", "offset"}
    if unknown:
        raise _BadRequest(f"unknown parameter(s): {', '.join(sorted(unknown))}")
    status, severity, since = args.get("status"), args.get("severity"), args.get("since")
    if status and status not in STATUSES:
        raise _BadRequest(f"status must be one of {', '.join(STATUSES)}")
    if severity and severity not in SEVERITIES:
        raise _BadRequest(f"severity must be one of {', '.join(SEVERITIES)}")
    if since:
        try:
            since = datetime.fromisoformat(since.replace("Z", "+00:00")).isoformat(timespec="microseconds")
        except ValueError:
            raise _BadRequest("since must be an ISO-8601 time, e.g. 2026-11-26T00:00:00Z") from None
    return {"status": status, "severity": severity, "kind": args.get("kind"), "since": since}


def _page(args: dict[str, str]) -> tuple[int, int]:
    try:
        limit = int(args.get("limit", 100))
        offset = int(args.get("offset", 0))
    except ValueError:
        raise _BadRequest("limit and offset must be integers") from None
    if not 1 <= limit <= MAX_PAGE or offset < 0:
        raise _BadRequest(f"limit must be 1..{MAX_PAGE} and offset >= 0")
    return limit, offset


def build_site(stores: StoreFactory, ready: ReadyCheck) -> server.Site:
    """The resource tree served by the daemon."""
    root = resource.Resource()
    root.putChild(b"", _Leaf(lambda r: _send(r, 200, _INDEX, "text/plain; charset=utf-8")))
    root.putChild(b"metrics", _Leaf(lambda r: _send(r, 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)))
    root.putChild(b"healthz", _Leaf(lambda r: _send(r, 200, b"ok\n", "text/plain; charset=utf-8")))

    def readyz(request) -> bytes:
        ok, details = ready()
        return _json(request, 200 if ok else 503, {"ready": ok, **details})

    root.putChild(b"readyz", _Leaf(readyz))
    root.putChild(b"api", _Api(stores))
    site = server.Site(root)
    site.displayTracebacks = False
    site.noisy = False
    return site


_INDEX = b"""scrapewatch
/metrics               Prometheus metrics
/healthz               liveness
/readyz                readiness (database writable, scheduler running, no job overdue)
/api/incidents         incidents (status, severity, kind, since, limit, offset)
/api/incidents/{id}    one incident with its events
"""
