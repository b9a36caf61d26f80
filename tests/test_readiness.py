"""/readyz logic in-process: database writable, scheduler running, no job overdue by two intervals."""

from __future__ import annotations

import asyncio
import time

from monitor.runtime import reactor
from monitor.runtime.daemon import Daemon


def test_ready_only_while_scheduler_runs_and_no_job_is_overdue(settings):
    settings.protected_domains = settings.protected_domains[:1]
    settings.protected_domains[0].domain = "soundcloud.invalid"
    settings.protected_domains[0].interval_seconds = 60
    settings.protected_domains[0].jitter_seconds = 0
    daemon = Daemon(settings)

    async def scenario():
        await daemon.start(serve_http=False)
        ok, checks = daemon.ready()
        assert not ok and checks["scheduler"] == "stopped" and checks["database"] == "ok"
        serving = asyncio.ensure_future(daemon.serve())
        await asyncio.sleep(0.1)
        ok, checks = daemon.ready()
        assert ok, checks
        job_id = daemon.jobs()[0].id
        daemon._last_finished[job_id] = time.time() - 121  # two intervals (2 x 60 s) ago and then some
        ok, checks = daemon.ready()
        assert not ok and checks["overdue_jobs"] == [job_id]
        daemon.request_stop()
        await serving
        await daemon.stop()

    reactor.run(scenario())


def test_unwritable_database_is_not_ready(settings):
    daemon = Daemon(settings)

    async def scenario():
        await daemon.start(serve_http=False)
        blocker = settings.storage.data_dir / "blocker"
        blocker.write_text("a file where the database directory should be")
        settings.storage.database = blocker / "x.db"
        ok, checks = daemon.ready()
        assert not ok and checks["database"].startswith("error")
        await daemon.stop()

    reactor.run(scenario())
