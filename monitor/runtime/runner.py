"""Runs a Daemon to completion: serve until a signal, or run each job once; always stops cleanly."""

from __future__ import annotations

import logging

from monitor.runtime.daemon import Daemon
from monitor.settings import Settings

log = logging.getLogger(__name__)


async def run_daemon(settings: Settings, once: bool = False, daemon: Daemon | None = None) -> bool:
    """Start, then serve forever (or run each job once), then stop. True when no job crashed."""
    daemon = daemon or Daemon(settings)
    await daemon.start(serve_http=not once)
    try:
        if once:
            total = len(daemon.jobs())
            log.info("running %d job(s) once", total)
            return await daemon.run_once()
        if daemon.port:
            log.info("ready: metrics at http://%s:%d/metrics", settings.http.listen_host, daemon.port)
        await daemon.serve()
        return True
    finally:
        await daemon.stop()
