"""The coordinator / worker split measured on one box: what each job type costs a worker, what a result costs the
coordinator, and how fast one coordinator applies results when workers answer instantly (canned results).

``jobs``: the demo's probes (policy audit, static and rendered watch targets, canaries, archive and dataset indexes)
run once each, sequentially, through one real `scrapewatch worker` subprocess and a real redis-server; per job: worker
CPU seconds (its process tree, Chromium included), peak PSS of that tree, result bytes (message + blobs), Redis
commands, and the coordinator's CPU seconds (decode + evaluation + store). ``apply``: workers replaced by a task that
answers every job at once with a canned result captured from a real crawl; R runs per kind with C in flight; runs/s
is the coordinator's ceiling. ``scale``: M rendered pages with 1 worker, then 2 (the gain is bounded by the cores).

``policy``: the full policy audit of N fake domains in-process against the same through one worker
(benchmarks/distributed_policy.py).

Usage: python benchmarks/distributed.py jobs | apply [--runs R] [--concurrency C] | scale [--pages M]
       | policy [--domains N] [--concurrency C] [--chunk K] [--no-reaudit]
Traffic goes to the simulated internet on loopback only.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
sys.path.insert(0, str(HERE.parent))

import redis  # noqa: E402
import yaml  # noqa: E402

from monitor.demo.internet import BackgroundInternet  # noqa: E402
from monitor.demo.run import demo_settings  # noqa: E402
from monitor.demo.sites import demo_sites  # noqa: E402
from monitor.distributed import codec  # noqa: E402
from monitor.distributed.coordinator import RemoteCrawlService  # noqa: E402
from monitor.distributed.queue import WORKERS_GROUP, Names, dumps, ensure_group, loads  # noqa: E402
from monitor.probes.base import run_probe  # noqa: E402
from monitor.probes.registry import all_jobs, build_probes  # noqa: E402
from monitor.runtime import components, reactor  # noqa: E402
from monitor.runtime.crawl import CrawlService  # noqa: E402
from monitor.settings import Settings, WatchTarget, load_settings  # noqa: E402
from spiders.browser_budget import process_tree  # noqa: E402

JOB_COMMANDS = ("xadd", "xack", "xdel", "xclaim", "incr", "expire", "evalsha", "zrem", "set", "mget", "del")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class RedisServer:
    def __init__(self) -> None:
        self.port = free_port()
        args = ["--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"]
        self.proc = subprocess.Popen([shutil.which("redis-server") or "redis-server", *args], stdout=subprocess.DEVNULL)
        self.client = redis.Redis(port=self.port)
        for _ in range(200):
            try:
                self.client.ping()
                break
            except redis.exceptions.ConnectionError:
                time.sleep(0.05)
        self.url = f"redis://127.0.0.1:{self.port}/0"

    def commands(self) -> int:
        stats = self.client.info("commandstats")
        return sum(v["calls"] for k, v in stats.items() if k.removeprefix("cmdstat_") in JOB_COMMANDS)

    def stop(self) -> None:
        self.client.close()
        self.proc.terminate()
        self.proc.wait()


def tree(pid: int) -> list[int]:
    """``pid`` and its descendants."""
    return process_tree(pid)


def cpu_seconds(pid: int) -> float:
    """User + system CPU of ``pid`` and its reaped children (Chromium exits with its crawl)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    return sum(int(fields[i]) for i in (11, 12, 13, 14)) / os.sysconf("SC_CLK_TCK")


def pss(pid: int) -> int:
    total = 0
    for p in tree(pid):
        try:
            with open(f"/proc/{p}/smaps_rollup") as f:
                total += next(int(line.split()[1]) for line in f if line.startswith("Pss:")) * 1024
        except (OSError, StopIteration):
            pass
    return total


class PeakPss:
    def __init__(self, pid: int) -> None:
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(0.1):
            self.peak = max(self.peak, pss(self.pid))

    def __enter__(self) -> PeakPss:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class MeasuredService(RemoteCrawlService):
    """Counts the bytes of every result it receives (the message and its blobs)."""

    received = 0
    items = 0

    def _deliver(self, result: dict[str, Any]) -> None:
        encoded = result.get("items")
        MeasuredService.items += sum(map(len, encoded.values())) if isinstance(encoded, dict) else len(encoded or [])
        blobs = codec.blob_refs(result.get("items"))
        sizes = _blob_sizes(result.get("items"))
        MeasuredService.received += len(json.dumps(result)) + sum(sizes.get(b, 0) for b in blobs)
        super()._deliver(result)


def _blob_sizes(value: Any) -> dict[str, int]:
    found: dict[str, int] = {}
    stack = [value]
    while stack:
        v = stack.pop()
        if isinstance(v, dict):
            if "__blob__" in v:
                found[v["__blob__"]] = v["size"]
            else:
                stack.extend(v.values())
        elif isinstance(v, list):
            stack.extend(v)
    return found


def demo(tmp: Path, net: BackgroundInternet, redis_url: str) -> Settings:
    base = load_settings(env={})
    base.storage.data_dir = tmp / "data"
    s = demo_settings(base, net.url)
    s.watch.browser_spki_pin = net.internet.leaf_spki_sha256
    s.distributed.redis_url = redis_url
    s.distributed.domain_delay_seconds = 0
    s.distributed.job_deadline_seconds = 180
    return s


def start_worker(
    tmp: Path, s: Settings, name: str, listen: str = "127.0.0.1:0", profile: str | None = None
) -> subprocess.Popen:
    """`scrapewatch worker` with the crawl configuration of ``s`` (proxy, timeout, retries) as its config file;
    ``profile``: run it under cProfile, written to that file when it stops."""
    config = tmp / f"{name}.yaml"
    http = {"proxy": s.http.proxy, "no_proxy": [], "timeout_seconds": s.http.timeout_seconds, "retries": s.http.retries}
    data = {
        "http": http,
        "watch": {"browser_spki_pin": s.watch.browser_spki_pin},
        "distributed": s.distributed.model_dump(exclude={"worker_listen"}),
    }
    config.write_text(yaml.safe_dump(data))
    python = [sys.executable, "-m", "cProfile", "-o", profile] if profile else [sys.executable]
    cmd = [*python, "-m", "monitor", "worker", "--config", str(config), "--listen", listen]
    env = {k: v for k, v in os.environ.items() if not k.upper().endswith("_PROXY")}
    proc = subprocess.Popen(cmd, cwd=HERE.parent, env=env, stdout=(tmp / f"{name}.log").open("wb"), stderr=-2)
    time.sleep(0.5)
    return proc


def job_type(job: Any) -> str:
    if job.kind == "exposure_watch":
        return "rendered watch target" if job.spec.render else "static watch target"
    return {"policy_snapshot": "policy audit (1 domain)", "canary": "canary"}.get(job.kind, job.kind)


def bench_jobs(tmp: Path, net: BackgroundInternet, server: RedisServer) -> None:
    s = demo(tmp, net, server.url)
    worker = start_worker(tmp, s, "worker")
    crawl = MeasuredService(s)
    ctx = components.build(s, crawl=crawl)
    pairs = all_jobs(build_probes(ctx))
    rows: list[tuple] = []

    async def go() -> None:
        crawl.start()
        for probe, job in pairs:
            cpu0, ops0, bytes0, items0 = cpu_seconds(worker.pid), server.commands(), crawl.received, crawl.items
            own0, t0 = time.process_time(), time.monotonic()
            with PeakPss(worker.pid) as mem:
                applied = await run_probe(probe, job)
            print(f"{job.id}: {applied.outcome} in {time.monotonic() - t0:.1f}s", file=sys.stderr, flush=True)
            rows.append((job_type(job), job.id, applied.outcome, crawl.items - items0,
                         cpu_seconds(worker.pid) - cpu0, mem.peak, crawl.received - bytes0,
                         server.commands() - ops0, time.process_time() - own0, time.monotonic() - t0))  # fmt: skip
        await crawl.close()

    try:
        reactor.run(go())
    finally:
        worker.terminate()
        worker.wait()
    print("| job type | job | outcome | items | worker CPU s | worker tree peak PSS MiB | result bytes | Redis cmds | "
          "coordinator CPU s | wall s |\n|---|---|---|---|---|---|---|---|---|---|")  # fmt: skip
    for kind, job, outcome, items, cpu, peak, size, ops, own, wall in rows:
        print(f"| {kind} | {job} | {outcome} | {items} | {cpu:.2f} | {peak / 2**20:.0f} | {size:,} | {ops} | "
              f"{own:.3f} | {wall:.1f} |")  # fmt: skip


async def canned_worker(client: Any, names: Names, canned: dict[str, Any], stop: asyncio.Event) -> None:
    """Answers every job at once with the canned items of its spider (policy items renamed to the job's domains)."""
    await ensure_group(client, names.jobs, WORKERS_GROUP)
    while not stop.is_set():
        try:
            await _answer(client, names, canned)
        except Exception as exc:  # keep answering; say why one batch failed
            print(f"canned worker: {exc!r}", file=sys.stderr)


async def _answer(client: Any, names: Names, canned: dict[str, Any]) -> None:
    reply = await client.xreadgroup(WORKERS_GROUP, "canned", {names.jobs: ">"}, count=100, block=100)
    pipe = client.pipeline(transaction=False)
    for _, entries in reply or []:
        for entry_id, fields in entries:
            job = loads(fields)
            policy = job["kind"] == "policy"
            items = {d: canned["policy"] for d in job["wanted"]} if policy else canned[job["spider"]]
            pipe.xadd(names.results, dumps({"job": job["job"], "ok": True, "items": items, "worker": "canned"}))
            pipe.xack(names.jobs, WORKERS_GROUP, entry_id)
            pipe.xdel(names.jobs, entry_id)
    await pipe.execute()


def bench_apply(tmp: Path, net: BackgroundInternet, server: RedisServer, runs: int, concurrency: int) -> None:
    s = demo(tmp, net, server.url)
    s.scraping.downloaders, s.scraping.wayback.enabled = [], False
    s.scraping.common_crawl.enabled, s.scraping.dataset_hub.enabled = False, False
    static = WatchTarget(name="sc2mp3-fast", start_urls=["https://sc2mp3-fast.example/"])
    local = CrawlService(s)

    async def capture() -> dict[str, Any]:
        from monitor.probes.watch import crawl_target

        domain = s.protected_domains[0]
        policy_items = await local.fetch_policy_files(domain)
        watch_items = await crawl_target(local, static)
        enc = codec.Encoder(s.distributed.inline_bytes_max, s.distributed.max_result_bytes)
        canned = {"policy": enc.encode(policy_items), "watch": enc.encode(watch_items)}
        for sha, data in enc.blobs.items():
            server.client.set(Names.of(s.distributed).blob(sha), data)
        return canned

    canned = reactor.run(capture())
    s.watch.targets = [
        WatchTarget(name=f"t{i}", start_urls=["https://sc2mp3-fast.example/"]) for i in range(max(1, runs // 10))
    ]
    crawl = RemoteCrawlService(s)
    ctx = components.build(s, crawl=crawl)
    pairs = all_jobs(build_probes(ctx, ["policy_snapshot", "exposure_watch"]))

    async def go() -> None:
        stop = asyncio.Event()
        answering = asyncio.ensure_future(canned_worker(crawl.redis, crawl.names, canned, stop))
        crawl.start()
        gate = asyncio.Semaphore(concurrency)

        async def one(probe: Any, job: Any) -> None:
            async with gate:
                await run_probe(probe, job)

        for kind in ("policy_snapshot", "exposure_watch"):
            chosen = [(p, j) for p, j in pairs if j.kind == kind]
            batch = [chosen[i % len(chosen)] for i in range(runs)]
            cpu0, t0 = time.process_time(), time.monotonic()
            await asyncio.gather(*(one(p, j) for p, j in batch))
            wall, cpu = time.monotonic() - t0, time.process_time() - cpu0
            print(f"| {kind} | {runs} | {concurrency} | {runs / wall:.1f} | {1000 * cpu / runs:.1f} |")
        stop.set()
        await answering
        await crawl.close()

    print("| kind (canned results) | runs | in flight | results applied per s | coordinator CPU ms per result |")
    print("|---|---|---|---|---|")
    reactor.run(go())


async def _render_all(crawl: RemoteCrawlService, targets: list[WatchTarget]) -> float:
    from monitor.probes.watch import crawl_target

    crawl.start()
    await crawl_target(crawl, targets[0])  # warm-up: every worker started and imported
    t0 = time.monotonic()
    await asyncio.gather(*(crawl_target(crawl, t) for t in targets))
    wall = time.monotonic() - t0
    await crawl.close()
    return wall


def bench_scale(tmp: Path, net: BackgroundInternet, server: RedisServer, pages: int) -> None:
    sites = [("scplayer", "https://scplayer.example/"), ("indie-blog", "https://indie-blog.example/")]
    for n in (1, 2):
        s = demo(tmp, net, server.url)
        s.distributed.key_prefix = f"scale{n}"
        s.distributed.domain_concurrency = 64
        targets = [
            WatchTarget(name=f"r{i}", start_urls=[sites[i % 2][1]], render=True, max_pages=1) for i in range(pages)
        ]
        workers = [start_worker(tmp, s, f"scale{n}-{i}") for i in range(n)]
        try:
            wall = reactor.run(_render_all(RemoteCrawlService(s), targets))
        finally:
            for w in workers:
                w.terminate()
                w.wait()
        print(f"| {n} worker(s) | {pages} rendered targets | {wall:.1f} s | {pages / wall:.2f} targets/s |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("mode", choices=["jobs", "apply", "scale", "policy"])
    parser.add_argument("--runs", type=int, default=200)
    parser.add_argument(
        "--concurrency", type=int, default=None, help="apply: runs in flight (20); policy: requests (64)"
    )
    parser.add_argument("--pages", type=int, default=8)
    parser.add_argument("--domains", type=int, default=1000, help="policy: fake domains audited")
    parser.add_argument("--chunk", type=int, default=500, help="policy: domains per crawl (one job)")
    parser.add_argument("--no-reaudit", action="store_true", help="policy: the first pass only")
    parser.add_argument("--profile", help="policy: cProfile the coordinator's passes to FILE.<pass number>")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(asctime)s %(name)s %(levelname)s %(message)s")
    logging.getLogger("monitor").setLevel(logging.WARNING if args.mode == "policy" else logging.INFO)
    if args.mode == "policy":
        from benchmarks.distributed_policy import bench_policy, report

        concurrency = args.concurrency or 64
        passes = bench_policy(args.domains, concurrency, args.chunk, not args.no_reaudit, args.profile)
        report(passes, args.domains, concurrency, args.chunk)
        return
    server = RedisServer()
    try:
        with tempfile.TemporaryDirectory(prefix="bench-distributed-") as tmp, BackgroundInternet(demo_sites()) as net:
            if args.mode == "jobs":
                bench_jobs(Path(tmp), net, server)
            elif args.mode == "apply":
                bench_apply(Path(tmp), net, server, args.runs, args.concurrency or 20)
            else:
                bench_scale(Path(tmp), net, server, args.pages)
    finally:
        server.stop()


if __name__ == "__main__":
    main()
