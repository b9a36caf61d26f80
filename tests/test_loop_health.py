"""Event-loop health: the lag monitor, CPU-heavy policy evaluation off the loop, the bounded batch parse cache,
and the lag metric and HTTP limits on a running daemon."""

from __future__ import annotations

import asyncio
import gc
import io
import json
import re
import signal
import socket
import subprocess
import time

from monitor import metrics
from monitor.agents import load_registry
from monitor.cli.policy import RobotsCache, run_batch
from monitor.demo.internet import BackgroundInternet
from monitor.evaluators import policy as policy_evaluation
from monitor.probes.policy import PolicySnapshotProbe
from monitor.runtime import loop_health
from monitor.settings import ProtectedDomain, load_settings
from spiders.items import PolicyFileItem
from tests.helpers.proc import COMMAND, clean_env, free_port, get, wait_for
from tests.test_daemon import daemon_config

LAG_OBSERVED = re.compile(rb"^scrapewatch_event_loop_lag_seconds_count [1-9]", re.MULTILINE)


def sample_count() -> float:
    return metrics.REGISTRY.get_sample_value("scrapewatch_event_loop_lag_seconds_count") or 0.0


def test_the_lag_monitor_sees_a_blocked_loop_and_stops_at_once():
    async def scenario() -> tuple[float, float, float]:
        monitor, until = loop_health.LagMonitor(interval=0.05), asyncio.Event()
        task = loop_health.start(until, monitor)
        await asyncio.sleep(0.12)
        time.sleep(0.3)  # the loop is blocked: the monitor's next wake-up is ~0.3 s late
        await asyncio.sleep(0.12)
        until.set()
        t0 = time.monotonic()
        await task
        return monitor.max_lag, time.monotonic() - t0, metrics.EVENT_LOOP_LAG_MAX._value.get()

    before = sample_count()
    max_lag, stop_took, gauge = asyncio.run(scenario())
    assert 0.2 < max_lag < 1.0 and gauge == max_lag
    assert sample_count() - before >= 3
    assert stop_took < 0.04  # returns when told, not after its current sleep


def test_the_max_covers_only_the_last_window():
    monitor = loop_health.LagMonitor(window=60)
    monitor.observe(2.0, now=100.0)
    monitor.observe(0.1, now=130.0)
    assert monitor.max_lag == 2.0
    monitor.observe(0.05, now=161.0)  # the 2 s lag is now more than a minute old
    assert monitor.max_lag == 0.1 and metrics.EVENT_LOOP_LAG_MAX._value.get() == 0.1


def large_robots(target_bytes: int) -> bytes:
    lines, n = [], 0
    while sum(map(len, lines)) < target_bytes:
        lines.append(f"User-agent: Bot{n}\nDisallow: /private/{n}/*.mp3$\nAllow: /private/{n}/public\n")
        lines.append("".join(f"Disallow: /a{n}/b{i}/*/c?d=*\n" for i in range(20)))
        n += 1
    return ("".join(lines) + "User-agent: *\nDisallow: /you/\n").encode()


def test_a_large_robots_audit_leaves_the_loop_responsive(tmp_path, store):
    settings = load_settings(env={})
    domain = ProtectedDomain(domain="soundcloud.com", interval_seconds=3600, jitter_seconds=0)
    probe = PolicySnapshotProbe(store, None, load_registry(None).tokens(), settings.policy, [domain])
    body = large_robots(400 * 1024)
    # robots.txt and an ai.txt (the same grammar) of 400 KiB each: a robots.txt alone is capped at 500 KiB, and on an
    # idle machine its audit alone took 0.07 s, under the bound below that makes the lag comparison mean anything.
    items = [
        PolicyFileItem("soundcloud.com", file, domain.url(file), status=200, body=body)
        for file in ("robots.txt", "ai.txt")
    ]

    async def audited_with_ticker() -> tuple[float, float]:
        lags: list[float] = []
        done = asyncio.Event()

        async def ticker() -> None:
            loop = asyncio.get_running_loop()
            while not done.is_set():
                asked = loop.time() + 0.005
                await asyncio.sleep(0.005)
                lags.append(loop.time() - asked)

        tick = asyncio.create_task(ticker())
        await asyncio.sleep(0.02)
        t0 = time.perf_counter()
        outcome = await probe._evaluate(domain, items)
        took = time.perf_counter() - t0
        done.set()
        await tick
        assert outcome.cells, "the matrix was audited"
        return took, max(lags)

    policy_evaluation.clear_robots_cache()  # the parse is what is measured, not a cache hit
    # A full garbage collection stops every thread; the daemon freezes its start-up heap (loop_health.start) so
    # that these stay short, and the test's heap (pytest, Scrapy, Twisted) is frozen the same way.
    gc.collect()
    gc.freeze()
    try:
        took, max_lag = asyncio.run(audited_with_ticker())
    finally:
        gc.unfreeze()
    assert took > 0.1, f"the audit took only {took:.3f}s: the input is too small to show anything"
    # On the loop this lag would be the whole audit; in a worker thread the loop still runs between GIL switches.
    assert max_lag < took / 4, (max_lag, took)


def test_the_batch_parse_cache_is_bounded(tmp_path):
    lines = [{"robots": f"User-agent: *\nDisallow: /x{i}/\n", "agent": "GPTBot", "url": f"/x{i}/y"} for i in range(300)]
    lines += [{"robots": lines[-1]["robots"], "agent": "ClaudeBot", "url": "/x299/z"}] * 50  # repeats hit the cache
    source = io.BytesIO(b"".join(json.dumps(line).encode() + b"\n" for line in lines))
    out, cache = io.StringIO(), RobotsCache(maxsize=16)
    assert run_batch(source, out, cache) == 0
    answers = [json.loads(line) for line in out.getvalue().splitlines()]
    assert len(answers) == 350 and not any(a["allowed"] for a in answers)
    assert len(cache) == 16 and cache.parses == 300


def test_the_daemon_exports_loop_lag_and_applies_its_http_limits(tmp_path):
    port = free_port()
    cfg = daemon_config(tmp_path, port=port, domains=["soundcloud.com"], request_timeout_seconds=1,
                        max_request_bytes=2048)  # fmt: skip
    with BackgroundInternet() as net:
        proc = subprocess.Popen([*COMMAND, "run", "--config", str(cfg)], cwd=tmp_path,
                                env=clean_env(HTTPS_PROXY=net.url), stderr=subprocess.PIPE, text=True)  # fmt: skip
        base = f"http://127.0.0.1:{port}"
        try:
            wait_for(lambda: get(f"{base}/healthz")[0] == 200, what="/healthz")
            # The histogram is exported at 0 from the start: wait for the monitor's first observation.
            wait_for(lambda: LAG_OBSERVED.search(get(f"{base}/metrics")[1]),
                     what="the loop lag metric's first observation")  # fmt: skip
            text = get(f"{base}/metrics")[1].decode()
            count = next(line for line in text.splitlines() if line.startswith("scrapewatch_event_loop_lag_seconds_c"))
            assert float(count.split()[-1]) >= 1 and "scrapewatch_event_loop_lag_max_seconds " in text
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                sock.sendall(b"POST /api/incidents/1/actions HTTP/1.1\r\nHost: x\r\nContent-Length: 4096\r\n\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 413 ")
            with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
                started = time.monotonic()
                sock.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\n")
                assert sock.recv(4096).startswith(b"HTTP/1.1 408 ") and time.monotonic() - started < 5
        finally:
            proc.send_signal(signal.SIGTERM)
            code = proc.wait(timeout=30)
    assert code == 0, proc.stderr.read()
