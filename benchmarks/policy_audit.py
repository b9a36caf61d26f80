"""Throughput of the policy audit (all signals) against the raw-fetch limit, N host-named domains through a
loopback forward proxy: a bare asyncio client (aiohttp) fetching the same URLs at the same concurrency, one
many-domain Scrapy crawl (fetch only), and the full audit via ``PolicySnapshotProbe.run_many`` (fetch +
snapshot + verdict matrix + audit + one SQLite transaction per domain). AutoThrottle is OFF for the Scrapy
variants: it exists to be polite to production hosts, and the benchmark measures the machinery.

Usage: python benchmarks/policy_audit.py [--domains N] [--concurrency C] [--chunk K] [--profile FILE]
Prints one line per variant, the ratios and peak RSS; results are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.fake_net import PAGES, FakeNetProcess, host, license_url, settings_for  # noqa: E402
from monitor.runtime import reactor  # noqa: E402
from monitor.settings import ProtectedDomain  # noqa: E402

FIRST = "full audit, first pass (run_many)"
AGAIN = "full audit, re-audit (nothing changed)"


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def domains(n: int) -> list[ProtectedDomain]:
    return [ProtectedDomain(domain=host(i), scheme="http") for i in range(n)]


def extra(i: int) -> dict[str, str]:
    """What the audit fetches besides the policy files: the sampled pages and the RSL license document."""
    return {**{f"page{p}": f"http://{host(i)}{p}" for p in PAGES}, "license#1": license_url(i)}


def every_url(i: int, d: ProtectedDomain) -> list[str]:
    return [d.url(f) for f in d.files] + list(extra(i).values())


async def bare_aiohttp(proxy: str, n: int, concurrency: int, chunk: int) -> float:
    """The raw-fetch limit: every policy file of every domain, ``concurrency`` requests in flight.

    One session per ``chunk`` domains, as Scrapy runs one crawl per chunk: aiohttp keeps idle connections
    per target host even through a proxy, so one session for 10,000 hosts runs out of file descriptors.
    """
    import aiohttp

    batch = domains(n)
    sem = asyncio.Semaphore(concurrency)
    statuses: list[int] = []
    t0 = time.perf_counter()
    for at in range(0, n, chunk):
        urls = [url for i, d in enumerate(batch[at : at + chunk], at) for url in every_url(i, d)]
        async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

            async def one(url: str, session: aiohttp.ClientSession = session) -> None:
                async with sem, session.get(url, proxy=proxy) as r:
                    await r.read()
                    statuses.append(r.status)

            await asyncio.gather(*(one(url) for url in urls))
    elapsed = time.perf_counter() - t0
    assert statuses.count(200) == len(statuses) == n * len(every_url(0, batch[0])), sorted(set(statuses))
    return elapsed


def service(proxy: str, concurrency: int):
    from monitor.runtime.crawl import CrawlService

    overrides = {"AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": concurrency, "LOG_LEVEL": "WARNING"}
    return CrawlService(settings_for(proxy, Path(tempfile.mkdtemp())), scrapy_overrides=overrides)


async def scrapy_fetch(proxy: str, n: int, concurrency: int, chunk: int) -> float:
    crawl = service(proxy, concurrency)
    batch = domains(n)
    t0 = time.perf_counter()
    for at in range(0, n, chunk):
        part = batch[at : at + chunk]
        fetched = await crawl.fetch_policy_files_many(part, extra={d.domain: extra(i) for i, d in enumerate(part, at)})
        assert all(i.status == 200 for items in fetched.values() for i in items)
    return time.perf_counter() - t0


async def full_audit(proxy: str, n: int, concurrency: int, chunk: int) -> tuple[float, float]:
    from monitor.agents import load_registry
    from monitor.db import open_db
    from monitor.probes.policy import PolicySnapshotProbe
    from monitor.store.core import Store

    crawl = service(proxy, concurrency)
    settings = settings_for(proxy, Path(tempfile.mkdtemp()))
    store = Store(open_db(settings.storage.data_dir / "bench.db"))
    agents = load_registry(settings.policy.agents_file).tokens()
    probe = PolicySnapshotProbe(store, crawl, agents, settings.policy)
    jobs = [(f"bench:{d.domain}", d) for d in domains(n)]
    elapsed = []
    for _ in range(2):  # the first audit of a domain stores all its cells; a re-audit only compares them
        t0 = time.perf_counter()
        applied = await probe.run_many(jobs, chunk=chunk)
        elapsed.append(time.perf_counter() - t0)
        assert len(applied) == n
    files = len(every_url(0, jobs[0][1]))
    assert store.db.execute("SELECT count(*) FROM observations").fetchone()[0] == 2 * files * n
    cells = store.db.execute("SELECT count(*) FROM policy_verdicts_in_force").fetchone()[0]
    assert cells == n * len(agents) * len(settings.policy.path_classes), cells
    return elapsed[0], elapsed[1]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=1000)
    parser.add_argument("--concurrency", type=int, default=64, help="requests in flight at once (every variant)")
    parser.add_argument("--chunk", type=int, default=500, help="domains per Scrapy crawl")
    parser.add_argument("--profile", help="write a cProfile of the full audit to this file")
    args = parser.parse_args()
    n, c, k = args.domains, args.concurrency, args.chunk
    server = FakeNetProcess(n)
    try:
        proxy = server.url
        results = {"bare aiohttp (raw-fetch limit)": asyncio.run(bare_aiohttp(proxy, n, c, k))}
        rss = {"bare aiohttp (raw-fetch limit)": peak_rss_mib()}
        results["scrapy fetch only (one crawl per chunk)"] = reactor.run(scrapy_fetch(proxy, n, c, k))
        rss["scrapy fetch only (one crawl per chunk)"] = peak_rss_mib()
        if args.profile:
            import cProfile

            profiler = cProfile.Profile()
            first, again = profiler.runcall(reactor.run, full_audit(proxy, n, c, k))
            profiler.dump_stats(args.profile)
        else:
            first, again = reactor.run(full_audit(proxy, n, c, k))
        results[FIRST], results[AGAIN] = first, again
        rss[FIRST] = rss[AGAIN] = peak_rss_mib()
    finally:
        server_rss = server.stop()
    base = n / results["bare aiohttp (raw-fetch limit)"]
    files = len(every_url(0, domains(1)[0]))
    print(f"{n} domains x {files} URLs, {c} requests in flight, {k} domains per crawl, proxy {proxy}")
    for name, secs in results.items():
        rate = n / secs
        print(
            f"{name:42s} {secs:7.2f}s  {rate:8.1f} domains/s  ratio to bare {rate / base:5.2f}"
            f"  peak RSS so far {rss[name]:.0f} MiB"
        )
    print(f"peak RSS: benchmark process {peak_rss_mib():.0f} MiB, fake-net process {server_rss} MiB")


if __name__ == "__main__":
    main()
