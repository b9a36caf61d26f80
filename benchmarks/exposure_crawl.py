"""Throughput of the exposure crawl against bare clients over the same pages, through a loopback forward proxy.

Static: ``monitor.probes.watch.crawl_target`` (the watch spider: fetch, size cap, link extraction, one item per page)
and the same plus ``evaluate_crawl`` (the signature engine) against a bare aiohttp client fetching the same URLs
with the same number of requests in flight. Rendered: the watch spider with ``render: true`` (scrapy-playwright,
Debian's Chromium, request capture, redirect guard, settle + screenshot + DOM read per page) against a bare
Playwright loop doing the same per-page work with the same Chromium, launch options, proxy and pages in flight,
and a minimal loop (navigate, read the DOM) for scale. AutoThrottle and the download delay are OFF for the spider:
they exist to be polite to production sites, and the benchmark measures the machinery (one polite line is shown).

Usage: python benchmarks/exposure_crawl.py [--pages N] [--concurrency C] [--render-pages M] [--render-concurrency K]
Prints one line per variant, the ratios and peak RSS; results are written down in benchmarks/RESULTS.md.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from datetime import UTC, datetime
from pathlib import Path

from monitor.probes.watch import crawl_target

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

from benchmarks.exposure_net import page_url  # noqa: E402
from benchmarks.fake_net import settings_for  # noqa: E402
from monitor.runtime import reactor  # noqa: E402
from monitor.settings import WatchTarget  # noqa: E402
from spiders.rendering import SETTLE_SECONDS, VIEWPORT, playwright_settings  # noqa: E402

CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
# The spider's per-page DOM read (spiders.spiders.watch._DOM_HEAD), repeated so both sides do the same work.
DOM_HEAD = """(cap) => {
  const doctype = document.doctype ? new XMLSerializer().serializeToString(document.doctype) : "";
  const html = document.documentElement ? document.documentElement.outerHTML : "";
  return [(doctype + html).slice(0, cap + 1), doctype.length + html.length];
}"""


def peak_rss_mib() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class ChildrenMemory:
    """Peak total PSS of this process's descendants (Chromium and its helpers), sampled every 100 ms.

    PSS, not RSS: Chromium's processes share most of their pages, and summed RSS would count them once per process.
    """

    def __init__(self) -> None:
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    @staticmethod
    def _descendants() -> list[int]:
        me = os.getpid()
        parents: dict[int, int] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    with open(f"/proc/{entry}/stat") as f:
                        parents[int(entry)] = int(f.read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError, ValueError):
                    continue
        out = []
        for pid in parents:
            p = parents[pid]
            while p in parents and p not in (0, 1, me):
                p = parents[p]
            if p == me:
                out.append(pid)
        return out

    @staticmethod
    def _pss(pid: int) -> int:
        try:
            with open(f"/proc/{pid}/smaps_rollup") as f:
                for line in f:
                    if line.startswith("Pss:"):
                        return int(line.split()[1]) * 1024
        except (OSError, ValueError):
            pass
        return 0

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, sum(self._pss(pid) for pid in self._descendants()))
            self._stop.wait(0.1)

    def __enter__(self) -> ChildrenMemory:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


def target(n: int, *, render: bool = False) -> WatchTarget:
    # Every page is a start URL: both sides fetch exactly the same N URLs (links beyond depth 0 are not followed).
    urls = [page_url(i) for i in range(n)]
    return WatchTarget(
        name="bench", start_urls=urls, max_depth=0, max_pages=n, follow_sitemap=False, obey_robots=False, render=render
    )


# --- static ----------------------------------------------------------------------------------------------------


async def bare_aiohttp(proxy: str, n: int, concurrency: int) -> float:
    import aiohttp

    sem = asyncio.Semaphore(concurrency)
    statuses: list[int] = []
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=concurrency)) as session:

        async def one(url: str) -> None:
            async with sem, session.get(url, proxy=proxy) as r:
                await r.read()
                statuses.append(r.status)

        t0 = time.perf_counter()
        await asyncio.gather(*(one(page_url(i)) for i in range(n)))
        elapsed = time.perf_counter() - t0
    assert statuses.count(200) == n, sorted(set(statuses))
    return elapsed


def service(proxy: str, concurrency: int, *, polite: bool = False):
    from monitor.runtime.crawl import CrawlService

    settings = settings_for(proxy, Path(tempfile.mkdtemp()))
    settings.watch.chromium_path = CHROMIUM
    overrides = {"LOG_LEVEL": "WARNING"}
    if not polite:
        overrides |= {
            "AUTOTHROTTLE_ENABLED": False,
            "DOWNLOAD_DELAY": 0.0,
            "CONCURRENT_REQUESTS": concurrency,
            "CONCURRENT_REQUESTS_PER_DOMAIN": concurrency,
        }
    return CrawlService(settings, scrapy_overrides=overrides)


async def spider_crawl(proxy: str, n: int, concurrency: int, *, render: bool = False, polite: bool = False):
    """(seconds to crawl, seconds to evaluate) for one watch crawl of the N pages."""
    from monitor.evaluators.watch import evaluate_crawl

    crawl = service(proxy, concurrency, polite=polite)
    t0 = time.perf_counter()
    items = await crawl_target(crawl, target(n, render=render))
    fetched = time.perf_counter() - t0
    pages = [i for i in items if i.kind == "page"]
    assert len(pages) == n and all(i.status == 200 for i in pages), {(i.status, i.error_kind) for i in pages}
    assert all(i.rendered for i in pages) is render
    t1 = time.perf_counter()
    result = evaluate_crawl("bench", items, now=datetime.now(UTC))
    assert result.pages_ok == n and not result.evaluation.findings
    return fetched, time.perf_counter() - t1


# --- rendered ---------------------------------------------------------------------------------------------------


async def bare_playwright(proxy: str, n: int, concurrency: int, *, same_work: bool) -> float:
    """N pages, ``concurrency`` in flight, one page each, in one browser and context launched like the spider's.

    ``same_work``: what the spider does per page (request log, DOMContentLoaded, load and network idle for at most
    SETTLE_SECONDS, a PNG screenshot, the DOM head); else only navigate and read the DOM.
    """
    from playwright.async_api import async_playwright

    launch = playwright_settings(CHROMIUM, proxy)["PLAYWRIGHT_LAUNCH_OPTIONS"]
    queue: asyncio.Queue[str] = asyncio.Queue()
    for i in range(n):
        queue.put_nowait(page_url(i))
    done: list[int] = []
    t0 = time.perf_counter()
    async with async_playwright() as pw:
        browser = await pw.chromium.launch(**launch)
        context = await browser.new_context(viewport=VIEWPORT, service_workers="block", accept_downloads=False)

        async def worker() -> None:
            while not queue.empty():
                url = queue.get_nowait()
                page = await context.new_page()
                try:
                    log: list[tuple[str, str]] = []
                    if same_work:
                        page.on("request", lambda r, log=log: log.append((r.url, r.frame.url)))
                    response = await page.goto(url, wait_until="domcontentloaded")
                    if same_work:
                        for state in ("load", "networkidle"):
                            await page.wait_for_load_state(state, timeout=SETTLE_SECONDS * 1000)
                        await page.screenshot(type="png")
                        await page.evaluate(DOM_HEAD, 2 * 1024 * 1024)
                    else:
                        await page.content()
                    done.append(response.status if response else 0)
                finally:
                    await page.close()

        await asyncio.gather(*(worker() for _ in range(concurrency)))
        await browser.close()
    elapsed = time.perf_counter() - t0
    assert done.count(200) == n, sorted(set(done))
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pages", type=int, default=2000, help="pages of the static comparison")
    parser.add_argument("--concurrency", type=int, default=8, help="requests in flight (static, both sides)")
    parser.add_argument("--render-pages", type=int, default=200, help="pages of the rendered comparison")
    parser.add_argument("--render-concurrency", type=int, default=2, help="pages in flight (rendered, both sides)")
    parser.add_argument("--polite-pages", type=int, default=20, help="pages crawled with the polite defaults")
    args = parser.parse_args()
    n, c, rn, rc = args.pages, args.concurrency, args.render_pages, args.render_concurrency
    if rc != 2:
        # playwright_settings() pins PLAYWRIGHT_MAX_PAGES_PER_CONTEXT = 2 for every rendered crawl.
        parser.error("the spider renders 2 pages at a time; --render-concurrency must be 2 to compare like with like")
    server = subprocess.Popen(
        [sys.executable, str(HERE / "exposure_net.py"), str(max(n, rn, args.polite_pages))],
        stdout=subprocess.PIPE,
        text=True,
        cwd=HERE.parent,
    )
    lines: list[str] = []
    try:
        proxy = server.stdout.readline().strip()
        # Warm-up (not timed): Chromium's files into the page cache, Scrapy's imports.
        reactor.run(bare_playwright(proxy, 4, rc, same_work=True))
        reactor.run(spider_crawl(proxy, 10, c))

        bare = reactor.run(bare_aiohttp(proxy, n, c))
        fetched, evaluated = reactor.run(spider_crawl(proxy, n, c))
        polite, _ = reactor.run(spider_crawl(proxy, args.polite_pages, c, polite=True))
        static_rss = peak_rss_mib()
        lines.append(f"static: {n} pages (~13 KB), {c} requests in flight, proxy {proxy}")
        for name, secs, pages in (
            ("bare aiohttp", bare, n),
            ("watch crawl (monitor.probes.watch.crawl_target)", fetched, n),
            ("watch crawl + evaluate_crawl", fetched + evaluated, n),
            ("watch crawl, polite defaults (2/domain, 0.5 s delay, AutoThrottle)", polite, args.polite_pages),
        ):
            rate = pages / secs
            lines.append(f"  {name:70s} {secs:7.2f}s {rate:8.1f} pages/s  ratio to bare {rate / (n / bare):5.2f}")
        lines.append(f"  peak RSS of the benchmark process after the static runs: {static_rss:.0f} MiB")

        with ChildrenMemory() as bare_children:
            same = reactor.run(bare_playwright(proxy, rn, rc, same_work=True))
        minimal = reactor.run(bare_playwright(proxy, rn, rc, same_work=False))
        with ChildrenMemory() as spider_children:
            rendered, rendered_eval = reactor.run(spider_crawl(proxy, rn, c, render=True))
        lines.append(f"rendered: {rn} pages, {rc} pages in flight, Chromium {CHROMIUM}")
        for name, secs in (
            ("bare Playwright, same per-page work (settle, screenshot, DOM)", same),
            ("bare Playwright, navigate + content only", minimal),
            ("watch spider, render: true", rendered),
            ("watch spider, render: true + evaluate_crawl", rendered + rendered_eval),
        ):
            rate = rn / secs
            lines.append(f"  {name:70s} {secs:7.2f}s {rate:8.2f} pages/s  ratio to same-work {rate / (rn / same):5.2f}")
        lines.append(
            f"  peak memory (PSS) of Chromium's processes: bare loop {bare_children.peak / 2**20:.0f} MiB, "
            f"spider {spider_children.peak / 2**20:.0f} MiB"
        )
    finally:
        server.send_signal(signal.SIGTERM)
        try:
            server_rss = server.communicate(timeout=10)[0].strip() or "?"
        except subprocess.TimeoutExpired:
            server.kill()
            server_rss = "?"
    lines.append(f"peak RSS: benchmark process {peak_rss_mib():.0f} MiB, simulated-site process {server_rss} MiB")
    print("\n".join(lines))


if __name__ == "__main__":
    main()
