"""The batch policy audit (``PolicySnapshotProbe.run_many``) through a worker: one job per chunk of domains (and one
for the chunk's licenses), never one per domain; the next chunk's job is queued while this chunk is evaluated; every
domain gets its own run and the same stored state as the audit in one process."""

from __future__ import annotations

import sqlite3

import pytest

from monitor.agents import load_registry
from monitor.db import open_db
from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import Site, by_host, text
from monitor.distributed.coordinator import RemoteCrawlService
from monitor.probes.policy import PolicySnapshotProbe
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import ProtectedDomain
from monitor.store.core import Store
from tests.distributed.conftest import base_settings, distribute, incident_rows

N, CHUNK = 5, 2
LICENSE = '<rsl xmlns="https://rslstandard.org/rsl"><content url="/"><license></license></content></rsl>'


def host(i: int) -> str:
    return f"p{i}.chunks.test"


def robots(i: int) -> str:
    # p0 disallows GPTBot everywhere, the others do not: the stored matrices differ between domains.
    rules = "User-agent: GPTBot\nDisallow: /\n" if i == 0 else "User-agent: *\nAllow: /\n"
    return f"{rules}\nLicense: http://{host(i)}/license.xml\n"


@pytest.fixture(scope="module")
def net():
    sites = by_host(
        Site(
            host(i), {"/robots.txt": text(robots(i)), "/license.xml": text(LICENSE, content_type="application/rsl+xml")}
        )
        for i in range(N)
    )
    with BackgroundInternet(sites) as running:
        yield running


class Watching(PolicySnapshotProbe):
    """Notes, for every domain evaluated, how many crawls were under way meanwhile."""

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.in_flight: list[int] = []

    async def _evaluate(self, domain, items):
        self.in_flight.append(self.crawl.active())
        return await super()._evaluate(domain, items)


def audit(settings, crawl) -> tuple[Watching, list]:
    store = Store(open_db(settings.storage.database_path))
    agents = load_registry(settings.policy.agents_file).tokens()
    probe = Watching(store, crawl, agents, settings.policy)
    jobs = [(f"policy_snapshot:{host(i)}", ProtectedDomain(domain=host(i), scheme="http")) for i in range(N)]
    applied = reactor.run(probe.run_many(jobs, chunk=CHUNK))
    store.db.conn.close()
    return probe, applied


def stored(db) -> tuple[list, list, list]:
    conn = sqlite3.connect(db)
    try:
        runs = conn.execute("SELECT job, domain, outcome FROM probe_runs ORDER BY id").fetchall()
        snapshots = conn.execute("SELECT domain, file, state, sha256 FROM snapshots ORDER BY domain, file").fetchall()
        cells = conn.execute("SELECT domain, count(*) FROM policy_verdicts GROUP BY domain ORDER BY domain").fetchall()
    finally:
        conn.close()
    return runs, snapshots, cells


def test_run_many_sends_a_chunk_per_job_and_stores_what_one_process_stores(tmp_path, net, redis_server, workers):
    local = base_settings(tmp_path, net, [])
    local.protected_domains = []
    remote = distribute(local, redis_server.url)
    (worker,) = workers(remote, 1)

    probe, applied = audit(local, CrawlService(local))
    assert probe.in_flight == [0, 1, 0, 1, 0], probe.in_flight
    assert [a.outcome for a in applied] == ["success"] * N
    expected = stored(local.storage.database_path)
    runs, _, cells = expected
    assert [job for job, _, _ in runs] == [f"policy_snapshot:{host(i)}" for i in range(N)]  # one run per domain
    assert len(cells) == N and cells[0][1] > 0

    crawl = RemoteCrawlService(remote)
    probe, applied = audit(remote, crawl)
    reactor.run(crawl.close())
    assert [a.outcome for a in applied] == ["success"] * N
    assert stored(remote.storage.database_path) == expected
    assert incident_rows(remote.storage.database_path) == incident_rows(local.storage.database_path)
    chunks = -(-N // CHUNK)
    assert worker.metric("scrapewatch_worker_jobs_taken_total") == 2 * chunks  # policy files + licenses per chunk
    # From its second domain on, a chunk is evaluated while the next chunk's crawl (here: job) is out; the last
    # chunk has no next one.
    assert probe.in_flight == [0, 1, 0, 1, 0], probe.in_flight
    client = redis_server.client()
    assert client.xlen(f"{remote.distributed.key_prefix}:jobs") == 0  # every job acknowledged and deleted
    client.close()
