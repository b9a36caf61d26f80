"""``python benchmarks/distributed.py policy``: the full policy audit of N fake domains in-process against the same
audit through the coordinator, one real `scrapewatch worker` subprocess and a real redis-server on the same box.

Both sides run ``PolicySnapshotProbe.run_many`` (fetch + snapshot + verdict matrix + audit + one SQLite transaction per
domain) on a fresh SQLite database, against the same fake net (``benchmarks/fake_net.py``, its own process), with the
same Scrapy settings carried by the crawls themselves (AutoThrottle off, ``--concurrency`` requests in flight) and the
same configuration (proxy, no retries, timeout): the worker gets it as its config file. The passes alternate
(in-process first pass, distributed first pass, in-process re-audit, distributed re-audit) so that a change in the
machine's load falls on both sides. CPU seconds: the benchmark process (the coordinator, or the in-process audit),
the worker's process tree and redis-server; the fake net's own CPU is printed apart (the same work on both sides).
"""

from __future__ import annotations

import cProfile
import os
import tempfile
import time
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from benchmarks.distributed import RedisServer, cpu_seconds, free_port, start_worker
from benchmarks.fake_net import FakeNetProcess, settings_for
from benchmarks.policy_audit import domains, every_url
from monitor.agents import load_registry
from monitor.db import open_db
from monitor.distributed.coordinator import RemoteCrawlService
from monitor.probes.policy import PolicySnapshotProbe
from monitor.runtime import reactor
from monitor.runtime.crawl import CrawlService
from monitor.settings import Settings
from monitor.store.core import Store


@dataclass
class Side:
    """One way of running the audit: its probe, and the processes whose CPU it costs besides this one."""

    name: str
    probe: PolicySnapshotProbe
    store: Store
    pids: list[tuple[str, int]]
    crawl: CrawlService


@dataclass
class Pass:
    side: str
    label: str
    wall: float
    cpu: dict[str, float]
    net_cpu: float
    n: int

    @property
    def rate(self) -> float:
        return self.n / self.wall


def scrapy_overrides(concurrency: int) -> dict[str, Any]:
    """What the in-process benchmark sets on its crawls, sent with every crawl (a worker applies a job's overrides)."""
    return {"AUTOTHROTTLE_ENABLED": False, "CONCURRENT_REQUESTS": concurrency, "LOG_LEVEL": "WARNING"}


def make_probe(settings: Settings, crawl: CrawlService) -> tuple[PolicySnapshotProbe, Store]:
    store = Store(open_db(settings.storage.data_dir / "bench.db"))
    agents = load_registry(settings.policy.agents_file).tokens()
    return PolicySnapshotProbe(store, crawl, agents, settings.policy), store


def wait_healthy(port: int, proc: Any, timeout: float = 120) -> None:
    """Until the worker's /healthz answers 200 (imports done, Redis reached)."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"the worker exited with {proc.returncode}")
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=2) as r:
                if r.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.2)
    raise RuntimeError("the worker did not become healthy")


def measure(side: Side, label: str, run: Callable[[], Any], n: int, net_pid: int, profiler: Any = None) -> Pass:
    """One pass of ``side``; ``profiler`` (cProfile) records it when given."""
    cpu0 = {"benchmark": time.process_time(), **{name: cpu_seconds(pid) for name, pid in side.pids}}
    net0, t0 = cpu_seconds(net_pid), time.monotonic()
    applied = profiler.runcall(run) if profiler is not None else run()
    wall = time.monotonic() - t0
    cpu = {"benchmark": time.process_time() - cpu0["benchmark"]}
    cpu.update({name: cpu_seconds(pid) - cpu0[name] for name, pid in side.pids})
    assert len(applied) == n and all(a.run_id for a in applied), label
    return Pass(side.name, label, wall, cpu, cpu_seconds(net_pid) - net0, n)


def check(side: Side, n: int, cells_per_domain: int) -> None:
    """Both passes stored everything: every file twice, every domain's full matrix once."""
    files = len(every_url(0, domains(1)[0]))
    observed = side.store.db.execute("SELECT count(*) FROM observations").fetchone()[0]
    assert observed == 2 * files * n, (side.name, observed)
    cells = side.store.db.execute("SELECT count(*) FROM policy_verdicts_in_force").fetchone()[0]
    assert cells == n * cells_per_domain, (side.name, cells)
    failed = side.store.db.execute("SELECT count(*) FROM probe_runs WHERE outcome != 'success'").fetchone()[0]
    assert failed == 0, (side.name, failed)


def bench_policy(n: int, concurrency: int, chunk: int, again: bool, profile: str | None = None) -> list[Pass]:
    """The passes of both sides; ``profile``: cProfiles of the distributed passes (the coordinator) to
    ``profile.<pass number>`` and of the worker (all its passes) to ``profile.worker``."""
    overrides = scrapy_overrides(concurrency)
    net, server = FakeNetProcess(n), RedisServer()
    worker = None
    try:
        with tempfile.TemporaryDirectory(prefix="bench-dist-policy-") as tmp_dir:
            tmp = Path(tmp_dir)
            local_settings = settings_for(net.url, tmp / "in-process")
            remote_settings = settings_for(net.url, tmp / "distributed")
            remote_settings.distributed.redis_url = server.url
            remote_settings.distributed.job_deadline_seconds = 1800  # a chunk of 500 domains is one job
            port = free_port()
            worker_profile = f"{profile}.worker" if profile else None
            worker = start_worker(tmp, remote_settings, "worker", listen=f"127.0.0.1:{port}", profile=worker_profile)
            wait_healthy(port, worker)
            local_probe, local_store = make_probe(local_settings, CrawlService(local_settings))
            remote = RemoteCrawlService(remote_settings)
            remote_probe, remote_store = make_probe(remote_settings, remote)
            sides = [
                Side("in-process", local_probe, local_store, [], local_probe.crawl),
                Side("distributed", remote_probe, remote_store, [("worker", worker.pid), ("redis", server.proc.pid)],
                     remote),
            ]  # fmt: skip
            jobs = [(f"bench:{d.domain}", d) for d in domains(n)]
            passes: list[Pass] = []
            labels = ["first pass", "re-audit (nothing changed)"] if again else ["first pass"]
            for label in labels:
                for side in sides:

                    def run(side: Side = side) -> Any:
                        return reactor.run(side.probe.run_many(jobs, chunk=chunk, overrides=overrides))

                    profiler = cProfile.Profile() if profile and side.name == "distributed" else None
                    passes.append(measure(side, label, run, n, net.proc.pid, profiler))
                    if profiler is not None:
                        profiler.dump_stats(f"{profile}.{len(passes)}")
                    print(f"{side.name} {label}: {passes[-1].wall:.1f}s", flush=True)
            if again:
                cells = len(local_probe.agents) * len(local_settings.policy.path_classes)
                for side in sides:
                    check(side, n, cells)
            reactor.run(remote.close())
            return passes
    finally:
        if worker is not None:
            worker.terminate()
            worker.wait()
        server.stop()
        net.stop()


def report(passes: list[Pass], n: int, concurrency: int, chunk: int) -> None:
    load = os.getloadavg()
    print(f"\n{n} domains x 6 URLs, {concurrency} requests in flight, {chunk} domains per crawl (job); "
          f"load average after: {load[0]:.1f} {load[1]:.1f} {load[2]:.1f}")  # fmt: skip
    print("| pass | path | wall s | results/s | CPU s: benchmark / worker / redis (sum) | fake-net CPU s |")
    print("|---|---|---|---|---|---|")
    for p in passes:
        parts = " / ".join(f"{p.cpu.get(k, 0):.1f}" for k in ("benchmark", "worker", "redis"))
        print(f"| {p.label} | {p.side} | {p.wall:.1f} | {p.rate:.1f} | {parts} ({sum(p.cpu.values()):.1f}) | "
              f"{p.net_cpu:.1f} |")  # fmt: skip
    for label in dict.fromkeys(p.label for p in passes):
        local, remote = (
            next(p for p in passes if p.label == label and p.side == s) for s in ("in-process", "distributed")
        )
        print(f"{label}: distributed / in-process throughput = {remote.rate / local.rate:.2f}")
