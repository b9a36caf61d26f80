"""Throughput of the policy snapshot probe: bare aiohttp vs Scrapy fetch vs the full probe (fetch, evaluate,
one SQLite transaction per domain), N host-named domains x 2 files through a loopback forward proxy.

Usage: python benchmarks/policy_probe.py [--domains N] [--concurrency C]
Prints one line per variant and the ratios; results are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.fake_net import host, settings_for  # noqa: E402
from monitor.runtime import reactor  # noqa: E402
from monitor.settings import POLICY_FILES, ProtectedDomain  # noqa: E402

FILES = POLICY_FILES  # what every ProtectedDomain fetches by default


async def bare_aiohttp(proxy: str, n: int, concurrency: int) -> float:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(url: str) -> None:
            async with sem, session.get(url, proxy=proxy) as r:
                await r.read()

        t0 = time.perf_counter()
        await asyncio.gather(*(one(f"http://{host(i)}/{f}") for i in range(n) for f in FILES))
        return time.perf_counter() - t0


async def bounded(coros, concurrency: int) -> None:
    sem = asyncio.Semaphore(concurrency)

    async def run(c):
        async with sem:
            return await c

    await asyncio.gather(*(run(c) for c in coros))


async def scrapy_fetch(proxy: str, n: int, concurrency: int, polite: bool) -> float:
    from monitor.runtime.crawl import CrawlService

    overrides = {} if polite else {"AUTOTHROTTLE_ENABLED": False}
    crawl = CrawlService(settings_for(proxy, Path(tempfile.mkdtemp())), scrapy_overrides=overrides)
    domains = [ProtectedDomain(domain=host(i), scheme="http") for i in range(n)]
    t0 = time.perf_counter()
    await bounded((crawl.fetch_policy_files(d) for d in domains), concurrency)
    return time.perf_counter() - t0


async def full_probe(proxy: str, n: int, concurrency: int) -> float:
    from monitor.agents import load_registry
    from monitor.db import open_db
    from monitor.probes.policy import PolicySnapshotProbe
    from monitor.runtime.crawl import CrawlService
    from monitor.store.core import Store

    data = Path(tempfile.mkdtemp())
    settings = settings_for(proxy, data)
    crawl = CrawlService(settings, scrapy_overrides={"AUTOTHROTTLE_ENABLED": False})
    store = Store(open_db(data / "bench.db"))
    probe = PolicySnapshotProbe(store, crawl, load_registry().tokens(), settings.policy)
    domains = [ProtectedDomain(domain=host(i), scheme="http") for i in range(n)]
    t0 = time.perf_counter()
    await bounded((probe.run(f"bench:{d.domain}", d) for d in domains), concurrency)
    elapsed = time.perf_counter() - t0
    rows = store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert rows == len(FILES) * n, rows
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--domains", type=int, default=200)
    parser.add_argument("--concurrency", type=int, default=32, help="domains in flight at once")
    args = parser.parse_args()
    n, c = args.domains, args.concurrency
    server = subprocess.Popen(
        [sys.executable, str(HERE / "fake_net.py"), str(n)], stdout=subprocess.PIPE, text=True, cwd=HERE.parent
    )
    try:
        proxy = server.stdout.readline().strip()
        results = {
            "bare aiohttp": asyncio.run(bare_aiohttp(proxy, n, 2 * c)),
            "scrapy fetch (autothrottle off)": reactor.run(scrapy_fetch(proxy, n, c, polite=False)),
            "full probe (fetch+evaluate+store)": reactor.run(full_probe(proxy, n, c)),
            "scrapy fetch (polite defaults)": reactor.run(scrapy_fetch(proxy, min(n, 64), c, polite=True)),
        }
    finally:
        server.kill()
    base = n / results["bare aiohttp"]
    print(f"{n} domains x {len(FILES)} files, {c} domains in flight, proxy {proxy}")
    for name, secs in results.items():
        count = min(n, 64) if "polite" in name else n
        rate = count / secs
        print(f"{name:36s} {secs:7.2f}s  {rate:8.1f} domains/s  ratio to bare {rate / base:5.2f}")
    print(f"peak RSS of the benchmark process: {resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024:.0f} MiB")


if __name__ == "__main__":
    main()
