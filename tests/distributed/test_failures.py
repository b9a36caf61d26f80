"""Failures on the real engine: a poisoned job goes to the dead letters after max_attempts and its run is recorded
as failed (probe health opens); Redis restarted mid-run without its data loses no job; a stalled queue is unready; a
result whose reply was lost on the way to the coordinator is read again."""

from __future__ import annotations

import asyncio
import json
import sqlite3
from typing import Any

from monitor import metrics
from monitor.db import open_db
from monitor.distributed.coordinator import RemoteCrawlService
from monitor.distributed.worker import Worker
from monitor.evaluators.health import KIND as PROBE_HEALTH
from monitor.incidents import Evaluation
from monitor.probes.base import Job, Outcome, ProbeBase, run_probe
from monitor.runtime import reactor
from monitor.runtime.daemon import Daemon
from monitor.settings import load_settings
from monitor.store.core import Store
from spiders.spiders.watch import WatchSpider
from spiders.watch_items import WatchResource
from tests.distributed.conftest import STATIC, RedisServer, base_settings, distribute


class Crawling(ProbeBase):
    """A probe kind of the test's own: one watch crawl of ``target`` through the remote crawl service."""

    kind = "poison"
    health_threshold = 1

    def __init__(self, crawl, store, target: dict[str, Any]):
        self.crawl, self.store, self.target = crawl, store, target

    def domain_of(self, spec: Any) -> str:
        return "poison.example"

    async def observe(self, job: Job) -> Outcome:
        items = await self.crawl.run_spider(WatchSpider, "poison", item_type=WatchResource, target=self.target)
        return Outcome(Evaluation(scope="poison"), report=items)


def queue_settings(tmp_path, redis_url: str):
    s = load_settings(env={})
    s.storage.data_dir = tmp_path
    return distribute(s, redis_url, max_attempts=3, visibility_timeout_seconds=2)


def test_a_poisoned_job_is_dead_lettered_after_max_attempts_and_its_run_fails(tmp_path, redis_server):
    s = queue_settings(tmp_path, redis_server.url)
    store = Store(open_db(tmp_path / "p.db"))
    poisoned = {"name": "poison", "start_urls": []}  # the watch spider raises on it, on every attempt

    async def go():
        crawl, worker = RemoteCrawlService(s), Worker(s, 1)
        running = asyncio.ensure_future(worker.run())
        try:
            probe = Crawling(crawl, store, poisoned)
            return await run_probe(probe, probe.job("poison:x", None))
        finally:
            worker.stop()
            await running
            await crawl.close()

    applied = reactor.run(go())
    assert applied.outcome == "error"
    run = store.db.execute("SELECT outcome, error_kind, error_detail FROM probe_runs").fetchall()
    assert [(o, k) for o, k, _ in run] == [("error", "dead_letter")] and "3 attempt" in run[0][2]
    client = redis_server.client()
    dead = client.xrange(f"{s.distributed.key_prefix}:dead")
    assert len(dead) == 1 and json.loads(dead[0][1][b"data"])["attempts"] == 3
    assert client.xlen(f"{s.distributed.key_prefix}:jobs") == 0
    client.close()
    health = store.db.execute("SELECT status FROM incidents WHERE kind = ?", [PROBE_HEALTH]).fetchall()
    assert health == [("open",)]
    store.db.close()


def test_redis_restarted_mid_run_loses_no_job(tmp_path, internet):
    server = RedisServer().start()
    try:
        local = base_settings(tmp_path, internet, [(n, u, False) for n, u in STATIC])
        remote = distribute(local, server.url, visibility_timeout_seconds=2)
        daemon = Daemon(remote)
        worker = Worker(remote, 1)  # one slot: the other jobs wait in the stream when Redis goes
        resubmitted = metrics.QUEUE_RESUBMITTED._value.get()
        restarted: list[bool] = []

        async def restart_when_busy() -> None:
            while not worker.running:
                await asyncio.sleep(0.05)
            await asyncio.to_thread(server.restart)
            restarted.append(True)

        async def go() -> bool:
            await daemon.start(serve_http=False)
            running = asyncio.ensure_future(worker.run())
            restart = asyncio.ensure_future(restart_when_busy())
            try:
                return await daemon.run_once()
            finally:
                worker.stop()
                await running
                restart.cancel()
                await daemon.stop()

        assert reactor.run(go()) and restarted
        assert metrics.QUEUE_RESUBMITTED._value.get() > resubmitted  # the restart lost queued jobs; sent again
        conn = sqlite3.connect(remote.storage.database_path)
        runs = conn.execute("SELECT job, outcome FROM probe_runs ORDER BY job").fetchall()
        kinds = {k for (k,) in conn.execute("SELECT DISTINCT kind FROM incidents")}
        conn.close()
        assert runs == sorted((j.id, "success") for j in daemon.jobs()) and len(runs) == 3
        assert {"policy_breach", "exposure_downloader", "exposure_file_tags"} <= kinds
    finally:
        server.stop()


def test_readyz_reports_a_stalled_queue(tmp_path, redis_server):
    s = queue_settings(tmp_path, redis_server.url)
    s.distributed.stall_seconds = 1
    daemon = Daemon(s)
    daemon.scheduler = None

    async def go():
        await daemon.start(serve_http=False)
        try:
            ready_empty = daemon.crawl.stalled()
            queued = asyncio.ensure_future(
                daemon.crawl.run_spider(WatchSpider, "nobody-takes-it", item_type=WatchResource, target={})
            )
            for _ in range(200):  # no worker runs: the job only ages
                await asyncio.sleep(0.1)
                if daemon.crawl.stalled():
                    break
            ok, checks = daemon.ready()
            queued.cancel()
            return ready_empty, ok, checks
        finally:
            await daemon.stop()

    ready_empty, ok, checks = reactor.run(go())
    assert ready_empty is None
    assert not ok and "oldest job waited" in checks["queue"]["stalled"] and checks["queue"]["depth"] == 1


def test_a_result_read_cut_off_is_read_again_from_the_pending_entries(tmp_path, redis_server):
    """Redis hands a result to the coordinator's consumer when it sends the reply; a reply lost on the way (a read
    timeout, a dropped connection) leaves the entry pending there, unread. At start and after such an error the
    coordinator reads its pending entries again, so the run awaiting the result still gets it."""
    from monitor.distributed.queue import COORDINATOR_GROUP, dumps
    from monitor.runtime.crawl import CURRENT_RUN, RunTag

    s = queue_settings(tmp_path, redis_server.url)
    s.distributed.job_deadline_seconds = 60
    names, client = s.distributed, redis_server.client()
    results = names.key(names.results_stream)
    crawl = RemoteCrawlService(s)

    def delivered_unread(job: str) -> None:
        """The result of ``job`` added and handed to the coordinator's consumer in one step (MULTI): its reply lost."""
        pipe = client.pipeline(transaction=True)
        pipe.xadd(results, dumps({"job": job, "ok": True, "items": {"a.test": []}, "worker": "test"}))
        pipe.xreadgroup(COORDINATOR_GROUP, crawl._consumer, {results: ">"}, count=10)
        assert pipe.execute()[1], "the entry was not delivered to the coordinator's consumer"

    async def go():
        CURRENT_RUN.set(RunTag("k"))
        client.xgroup_create(results, COORDINATOR_GROUP, id="0", mkstream=True)
        delivered_unread("k.1")  # before the coordinator reads at all (a restart of its reader)
        first = await crawl.crawl_policy("a.test", {"a.test": {}})
        second = asyncio.ensure_future(crawl.crawl_policy("a.test", {"a.test": {}}))
        while "k.2" not in crawl._waiting:
            await asyncio.sleep(0.05)
        delivered_unread("k.2")  # while the reader waits on new entries, then its connection drops
        client.client_kill_filter(_type="normal", skipme=True)
        try:
            return first, await asyncio.wait_for(second, timeout=50)
        finally:
            await crawl.close()

    assert reactor.run(go()) == ({"a.test": []}, {"a.test": []})
    assert client.xpending(results, COORDINATOR_GROUP)["pending"] == 0  # both acknowledged once read
    client.close()


def test_an_unreadable_result_or_an_error_reply_never_ends_the_reader(tmp_path, redis_server):
    """A result entry that cannot be decoded is dropped (and said); an error reply from Redis other than a lost group
    makes the queue unready while it lasts; the run awaiting a good result still gets it either way."""
    from monitor.distributed.queue import dumps
    from monitor.runtime.crawl import CURRENT_RUN, RunTag

    s = queue_settings(tmp_path, redis_server.url)
    s.distributed.job_deadline_seconds = 60
    names, client = s.distributed, redis_server.client()
    results = names.key(names.results_stream)
    crawl = RemoteCrawlService(s)
    dropped = metrics.QUEUE_RESULTS.labels("malformed")._value.get()

    async def go():
        CURRENT_RUN.set(RunTag("m"))
        crawl.start()
        first = asyncio.ensure_future(crawl.crawl_policy("a.test", {"a.test": {}}))
        while "m.1" not in crawl._waiting:
            await asyncio.sleep(0.05)
        client.xadd(results, {"junk": b"\xff not a result"})  # what no worker writes
        client.xadd(results, dumps({"job": "m.1", "ok": True, "items": {"a.test": []}, "worker": "test"}))
        got_first = await asyncio.wait_for(first, timeout=50)
        # An error reply to XREADGROUP itself: the coordinator's user loses the right to run it (NOPERM).
        client.acl_setuser("default", enabled=True, commands=["-xreadgroup"])
        try:
            for _ in range(200):
                await asyncio.sleep(0.1)
                if crawl.stalled():
                    break
            unready = crawl.stalled()
        finally:
            client.acl_setuser("default", enabled=True, commands=["+xreadgroup"])
        second = asyncio.ensure_future(crawl.crawl_policy("a.test", {"a.test": {}}))
        while "m.2" not in crawl._waiting:
            await asyncio.sleep(0.05)
        client.xadd(results, dumps({"job": "m.2", "ok": True, "items": {"a.test": ["x"]}, "worker": "test"}))
        try:
            return got_first, unready, await asyncio.wait_for(second, timeout=50), crawl.stalled()
        finally:
            await crawl.close()

    got_first, unready, got_second, ready_again = reactor.run(go())
    assert got_first == {"a.test": []} and got_second == {"a.test": ["x"]}
    assert unready is not None and "results cannot be read" in unready and "no permissions" in unready
    assert ready_again is None
    assert metrics.QUEUE_RESULTS.labels("malformed")._value.get() == dropped + 1
    client.close()
