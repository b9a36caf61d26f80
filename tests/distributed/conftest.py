"""A real redis-server on a free loopback port (no persistence), workers as `scrapewatch worker` subprocesses, and
settings that point the daemon and its workers at the simulated internet."""

from __future__ import annotations

import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path
from typing import Any

import pytest
import redis
from helpers.proc import COMMAND, clean_env, free_port, get, wait_for, write_config

from monitor.demo.internet import BackgroundInternet
from monitor.settings import ProtectedDomain, Settings, WatchTarget, load_settings

REDIS_SERVER = shutil.which("redis-server") or "/usr/bin/redis-server"


class RedisServer:
    """redis-server on 127.0.0.1:``port`` with nothing saved to disk: a restart loses every key."""

    def __init__(self, port: int | None = None):
        self.port = port or free_port()
        self.proc: subprocess.Popen | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> RedisServer:
        self.proc = subprocess.Popen(
            [REDIS_SERVER, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "", "--appendonly", "no"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port)
        wait_for(lambda: _pings(client), timeout=20, what="redis-server to answer")
        client.close()
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.terminate()
            self.proc.wait(timeout=20)
            self.proc = None

    def restart(self) -> None:
        self.stop()
        self.start()

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)


def _pings(client: redis.Redis) -> bool:
    try:
        return bool(client.ping())
    except redis.exceptions.ConnectionError:
        return False


@pytest.fixture(scope="session")
def redis_server():
    server = RedisServer().start()
    yield server
    server.stop()


@pytest.fixture(scope="module")
def internet():
    with BackgroundInternet() as net:
        yield net


# Static targets of the simulated internet, and one rendered in Chromium (monitor/demo/run.py's DEMO_TARGETS).
STATIC = (("sc2mp3-fast", "https://sc2mp3-fast.example/"), ("reupload", "https://reupload.example/"))
RENDERED = ("scplayer", "https://scplayer.example/")


def base_settings(tmp_path: Path, net: BackgroundInternet, targets: list[tuple[str, str, bool]]) -> Settings:
    """One protected domain and ``targets`` (name, URL, render), every probe through ``net``; no Redis."""
    s = load_settings(env={})
    s.storage.data_dir = tmp_path / "data"
    s.http.listen = "127.0.0.1:0"
    s.http.proxy = net.url
    s.http.timeout_seconds = 20
    s.http.retries = 0
    s.protected_domains = [ProtectedDomain(domain="soundcloud.com")]
    s.watch.targets = [WatchTarget(name=n, start_urls=[u], render=r) for n, u, r in targets]
    s.watch.browser_spki_pin = net.internet.leaf_spki_sha256
    return s


def distribute(s: Settings, redis_url: str, **overrides: Any) -> Settings:
    """``s`` with crawls going to workers through ``redis_url`` (a key prefix of its own, short timeouts)."""
    d = s.model_copy(deep=True)
    d.storage.data_dir = s.storage.data_dir.parent / "data-distributed"
    d.distributed.redis_url = redis_url
    d.distributed.key_prefix = f"t{uuid.uuid4().hex[:8]}"
    d.distributed.visibility_timeout_seconds = 3
    d.distributed.job_deadline_seconds = 120
    d.distributed.domain_delay_seconds = 0
    for key, value in overrides.items():
        setattr(d.distributed, key, value)
    return d


def worker_config(path: Path, s: Settings) -> Path:
    """The config file of a worker of ``s``: the proxy, the browser pin, the queue."""
    return write_config(
        path,
        {
            "http": {"proxy": s.http.proxy, "timeout_seconds": s.http.timeout_seconds, "retries": s.http.retries},
            "watch": {"browser_spki_pin": s.watch.browser_spki_pin},
            "distributed": s.distributed.model_dump(exclude={"worker_listen"}),
            "scheduler": {"shutdown_grace_seconds": 5},
        },
    )


class WorkerProcess:
    """`scrapewatch worker` in a subprocess with /healthz and /metrics on a free port."""

    def __init__(self, config: Path, cwd: Path, log: Path):
        self.port = free_port()
        self.log = log
        self.proc = subprocess.Popen(
            [*COMMAND, "worker", "--config", str(config), "--concurrency", "1", "--listen", f"127.0.0.1:{self.port}"],
            cwd=cwd,
            env=clean_env(),
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
        )
        wait_for(self.healthy, timeout=60, what=f"worker on port {self.port} ({log})")

    def healthy(self) -> bool:
        if self.proc.poll() is not None:
            raise AssertionError(f"worker exited {self.proc.returncode}: {self.log.read_text()[-2000:]}")
        try:
            return get(f"http://127.0.0.1:{self.port}/healthz", timeout=2)[0] == 200
        except OSError:
            return False

    def health(self) -> dict[str, Any]:
        import json

        return json.loads(get(f"http://127.0.0.1:{self.port}/healthz", timeout=5)[1])

    def metric(self, name: str) -> float:
        body = get(f"http://127.0.0.1:{self.port}/metrics", timeout=5)[1].decode()
        return sum(float(line.split()[-1]) for line in body.splitlines() if line.startswith(name + " "))

    def kill(self) -> None:
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait(timeout=20)

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def workers(tmp_path):
    """``start(settings, n)`` -> n worker processes for ``settings``; all stopped at the end."""
    started: list[WorkerProcess] = []

    def start(s: Settings, n: int = 2) -> list[WorkerProcess]:
        config = worker_config(tmp_path / "worker.yaml", s)
        root = Path(__file__).resolve().parents[2]
        new = [WorkerProcess(config, root, tmp_path / f"worker{len(started) + i}.log") for i in range(n)]
        started.extend(new)
        return new

    yield start
    for w in started:
        w.stop()


def incident_rows(db_path: Path) -> list[tuple]:
    """(kind, domain, severity, status, dedupe_key) of every incident, sorted."""
    import sqlite3

    conn = sqlite3.connect(db_path)
    try:
        rows = conn.execute("SELECT kind, domain, severity, status, dedupe_key FROM incidents").fetchall()
    finally:
        conn.close()
    return sorted(rows)


def wait_until(predicate, timeout: float = 60, what: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")
