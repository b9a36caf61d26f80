"""A worker's own HTTP server: /metrics (jobs taken, running, failed, reclaimed, seconds per job) and /healthz."""

from __future__ import annotations

import logging
from typing import Any

from prometheus_client import CONTENT_TYPE_LATEST, generate_latest
from twisted.web import resource

from monitor.errors import StartupError
from monitor.metrics import REGISTRY
from monitor.web.http import Leaf, not_found, send, send_json
from monitor.web.limits import HttpLimits, limited_site

log = logging.getLogger(__name__)


class _Root(resource.Resource):
    def getChild(self, path: bytes, request):
        return Leaf(not_found)


def listen_worker(worker: Any, listen: str) -> Any:
    """Listen on ``listen`` (host:port, port 0 = any) for ``worker``; the Twisted port. Raises StartupError."""
    from twisted.internet import reactor
    from twisted.internet.error import CannotListenError

    root = _Root()
    root.putChild(b"metrics", Leaf(lambda r: send(r, 200, generate_latest(REGISTRY), CONTENT_TYPE_LATEST)))

    def healthz(request) -> bytes:
        ok, details = worker.healthy()
        return send_json(request, 200 if ok else 503, {"healthy": ok, **details})

    root.putChild(b"healthz", Leaf(healthz))
    host, _, port = listen.rpartition(":")
    try:
        listening = reactor.listenTCP(int(port), limited_site(root, HttpLimits()), interface=host.strip("[]"))
    except (CannotListenError, ValueError) as exc:
        raise StartupError(f"distributed.worker_listen {listen!r}: {exc}") from exc
    log.info("worker %s: /metrics and /healthz on http://%s:%d", worker.name, host, listening.getHost().port)
    return listening
