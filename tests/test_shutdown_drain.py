"""SIGTERM drains: a run in flight gets scheduler.shutdown_grace_seconds to finish and commit; a longer one is
stopped after the grace and recorded; the process exits 0 either way."""

from __future__ import annotations

import asyncio
import signal
import sqlite3
import subprocess
import threading
import time

import pytest

from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import Request, Response, Site, by_host, text
from tests.helpers.proc import COMMAND, clean_env, write_config

ROBOTS = "User-agent: *\nDisallow: /private\n"


class SlowSite:
    """A site on the fake internet that answers every path after ``delay`` seconds; ``arrived`` is set as soon
    as a request reaches it (the crawl is in flight from then on)."""

    def __init__(self, host: str, delay: float):
        self.delay = delay
        self.arrived = threading.Event()
        self.site = Site(host=host, fallback=self._answer)

    async def _answer(self, request: Request) -> Response:
        self.arrived.set()
        await asyncio.sleep(self.delay)
        if request.path == "/robots.txt":
            return text(ROBOTS)
        return text("not here", 404)


@pytest.fixture
def slow_sites():
    fast = SlowSite("slow-ok.test", delay=2)
    stuck = SlowSite("slow-stuck.test", delay=120)
    with BackgroundInternet(by_host([fast.site, stuck.site]), idle_timeout=300) as net:
        yield net, fast, stuck


def start_daemon(tmp_path, net, domain: str, grace: float) -> subprocess.Popen:
    cfg = write_config(
        tmp_path / "scrapewatch.yaml",
        {
            "storage": {"data_dir": str(tmp_path / "data")},
            "http": {"listen": "127.0.0.1:0", "timeout_seconds": 60, "retries": 0},
            "protected_domains": [{"domain": domain, "interval_seconds": 3600, "jitter_seconds": 0}],
            "scheduler": {"shutdown_grace_seconds": grace},
        },
    )
    return subprocess.Popen(
        [*COMMAND, "run", "--config", str(cfg)],
        cwd=tmp_path,
        env=clean_env(HTTPS_PROXY=net.url),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )


def terminate(proc: subprocess.Popen, timeout: float) -> tuple[int, str]:
    proc.send_signal(signal.SIGTERM)
    try:
        code = proc.wait(timeout=timeout)
    except subprocess.TimeoutExpired:
        proc.kill()
        raise
    return code, proc.stderr.read()


def runs(tmp_path) -> list[tuple[str, str | None, str | None]]:
    conn = sqlite3.connect(tmp_path / "data" / "scrapewatch.db")
    try:
        return conn.execute("SELECT outcome, error_kind, error_detail FROM probe_runs").fetchall()
    finally:
        conn.close()


def test_sigterm_lets_a_run_in_flight_finish_and_commit(tmp_path, slow_sites):
    net, fast, _ = slow_sites
    proc = start_daemon(tmp_path, net, "slow-ok.test", grace=20)
    try:
        assert fast.arrived.wait(60), "the crawl never reached the slow site"
    except BaseException:
        proc.kill()
        raise
    t0 = time.monotonic()
    code, stderr = terminate(proc, timeout=40)
    assert code == 0, stderr
    assert "cancelled during shutdown" not in stderr and "still running after" not in stderr, stderr
    assert "waiting up to 20s for 1 running job(s)" in stderr, stderr
    assert runs(tmp_path) == [("success", None, None)], stderr
    assert time.monotonic() - t0 < 20  # it waited for the run, not for the whole grace


def test_sigterm_stops_a_run_longer_than_the_grace_and_records_it(tmp_path, slow_sites):
    net, _, stuck = slow_sites
    proc = start_daemon(tmp_path, net, "slow-stuck.test", grace=2)
    try:
        assert stuck.arrived.wait(60), "the crawl never reached the stuck site"
    except BaseException:
        proc.kill()
        raise
    t0 = time.monotonic()
    code, stderr = terminate(proc, timeout=40)
    elapsed = time.monotonic() - t0
    assert code == 0, stderr
    assert "1 job(s) still running after 2s: stopping their crawls" in stderr, stderr
    assert elapsed >= 2  # the grace was given
    # The in-flight download outlives the crawl's stop request, so the run is cancelled and recorded as an
    # 'error' run of kind 'shutdown' (not a failure of the site: no incident about the site follows from it).
    assert runs(tmp_path) == [
        ("error", "shutdown", "stopped by the daemon's shutdown before it finished (scheduler.shutdown_grace_seconds)")
    ], stderr
