"""Coordinator + two `scrapewatch worker` processes on a real redis-server crawl the simulated internet and store
the same incidents as the single-process daemon; a worker killed mid-render loses nothing and duplicates nothing."""

from __future__ import annotations

import sqlite3
import threading

from monitor.distributed.coordinator import RemoteCrawlService
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.runtime.daemon import Daemon
from tests.distributed.conftest import RENDERED, STATIC, base_settings, distribute, incident_rows, wait_until


def run_once(settings, crawl=None) -> tuple[bool, Daemon]:
    daemon = Daemon(settings, crawl)

    async def go() -> bool:
        await daemon.start(serve_http=False)
        try:
            return await daemon.run_once()
        finally:
            await daemon.stop()

    return reactor.run(go()), daemon


def rows(db, sql, args=()):
    conn = sqlite3.connect(db)
    try:
        return conn.execute(sql, args).fetchall()
    finally:
        conn.close()


def test_workers_store_the_same_incidents_as_the_single_process_daemon(tmp_path, internet, redis_server, workers):
    targets = [(n, u, False) for n, u in STATIC]  # the rendered target is the next test's
    local = base_settings(tmp_path, internet, targets)
    remote = distribute(local, redis_server.url)
    workers(remote, 2)  # they start while the single-process daemon runs
    ok, daemon = run_once(local, CrawlService(local))
    assert ok and type(daemon.crawl) is CrawlService  # no Redis configured: crawls stay in the process
    expected = incident_rows(local.storage.database_path)
    assert any(kind.startswith("exposure") or "signature" in kind for kind, *_ in expected), expected

    ok, daemon = run_once(remote)
    assert ok and isinstance(daemon.crawl, RemoteCrawlService)
    db = remote.storage.database_path
    assert incident_rows(db) == expected
    runs = rows(db, "SELECT job, outcome FROM probe_runs ORDER BY job")
    assert [o for _, o in runs] == ["success"] * len(runs) and len(runs) == 1 + len(targets), runs
    keys = rows(db, "SELECT count(*), count(DISTINCT run_id) FROM run_keys")[0]
    assert keys == (len(runs), len(runs))  # every remote run carries its idempotency key
    client = redis_server.client()
    assert client.xlen(f"{remote.distributed.key_prefix}:jobs") == 0  # every job acknowledged and deleted
    client.close()


def test_a_worker_killed_mid_render_loses_nothing_and_duplicates_nothing(tmp_path, internet, redis_server, workers):
    local = base_settings(tmp_path, internet, [(*RENDERED, True)])
    local.protected_domains = []
    remote = distribute(local, redis_server.url)
    pool = workers(remote, 2)
    killed: list = []

    def kill_the_one_rendering() -> None:
        busy = wait_until(lambda: [w for w in pool if w.health()["running"]], timeout=120, what="a worker's job")
        busy[0].kill()
        killed.append(busy[0])

    killer = threading.Thread(target=kill_the_one_rendering)
    killer.start()
    ok, _ = run_once(remote)
    killer.join()
    assert ok and killed
    survivor = next(w for w in pool if w is not killed[0])
    assert survivor.metric("scrapewatch_worker_jobs_reclaimed_total") == 1
    db = remote.storage.database_path
    assert rows(db, "SELECT outcome FROM probe_runs") == [("success",)]
    incidents = rows(db, "SELECT dedupe_key, occurrences FROM incidents")
    assert incidents and all(n == 1 for _, n in incidents), incidents
    outbox = rows(db, "SELECT incident_id, count(*) FROM alert_outbox GROUP BY incident_id")
    assert outbox and all(n == 1 for _, n in outbox), outbox
