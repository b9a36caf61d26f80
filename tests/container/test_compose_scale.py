"""`docker compose up --scale worker=4` on dashboards/compose.yaml: four worker containers of the image under test
answer their healthchecks, take the daemon's crawl jobs from Redis, and the daemon applies their results.

Runs with the container tests (``pytest -m container tests/container``). No image registry is reachable, so a
small override file swaps in what cannot be pulled: the image under test for the daemon and the workers, and a
Redis image built here from the local Debian base with Debian's redis-server. Only `redis`, `scrapewatch` and
`worker` are started (Prometheus, Alertmanager and Grafana would need their registry images). As in
test_container.py, the protected domains are ``.invalid`` names, resolvers are a dead loopback address, and a
DOCKER-USER rule drops whatever would leave the project's bridge. Needs Compose v2 (.ci/compose-v2).
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from tests.container.engine import PROTECTED_DOMAINS, REPO, docker, wait_for

pytestmark = [pytest.mark.container, pytest.mark.timeout(900)]

WORKERS = 4
HEALTHY_WAIT = 300  # five Python processes importing Scrapy at once on a loaded 2-core CI machine
RESULTS_WAIT = 180
REDIS_DOCKERFILE = """\
FROM debian:bookworm-slim
RUN apt-get update && apt-get install -y --no-install-recommends redis-server && rm -rf /var/lib/apt/lists/* \\
    && mkdir /data && chown redis:redis /data
WORKDIR /data
USER redis
"""


@dataclass
class Stack:
    project: str
    files: list[str]

    def compose(self, *args: str, timeout: float = 120, check: bool = True) -> subprocess.CompletedProcess[str]:
        return docker("compose", "-p", self.project, *self.files, *args, timeout=timeout, check=check)

    def states(self) -> dict[str, str]:
        """Container name -> health (`healthy`, `starting`, `unhealthy`) or state when it has no healthcheck."""
        out = self.compose("ps", "--all", "--format", "json").stdout
        rows = [json.loads(line) for line in out.splitlines() if line.strip()]
        if len(rows) == 1 and isinstance(rows[0], list):  # older Compose v2 print one JSON array
            rows = rows[0]
        return {r["Name"]: r.get("Health") or r["State"] for r in rows}

    def logs(self) -> str:
        proc = self.compose("logs", "--no-color", "--tail", "60", check=False)
        return f"--- docker compose logs (last 60 lines each) ---\n{proc.stdout}{proc.stderr}\nstates: {self.states()}"

    def daemon_metrics(self) -> str:
        address = self.compose("port", "scrapewatch", "9410").stdout.strip()
        with urllib.request.urlopen(f"http://{address}/metrics", timeout=10) as resp:
            return resp.read().decode()

    def worker_jobs_taken(self, index: int) -> float:
        script = (
            "import urllib.request; print(next(l for l in urllib.request.urlopen('http://127.0.0.1:9411/metrics')"
            ".read().decode().splitlines() if l.startswith('scrapewatch_worker_jobs_taken_total ')))"
        )
        out = self.compose("exec", "-T", "--index", str(index), "worker", "python3", "-c", script).stdout
        return float(out.split()[-1])


def metric(text: str, sample: str) -> float:
    values = [float(line.rpartition(" ")[2]) for line in text.splitlines() if line.startswith(sample + " ")]
    return values[0] if values else 0.0


@pytest.fixture(scope="module")
def redis_image(docker_engine: None, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    context = tmp_path_factory.mktemp("redis-image")
    (context / "Dockerfile").write_text(REDIS_DOCKERFILE)
    tag = "scrapewatch-test-redis:bookworm"  # kept: BuildKit's cache makes the next run's build instant
    docker("build", "--quiet", "-t", tag, str(context), timeout=600)
    return tag


@pytest.fixture(scope="module")
def stack(image: str, redis_image: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    suffix = uuid.uuid4().hex[:8]
    bridge = f"swtest{suffix}"
    override = {
        "services": {
            "scrapewatch": {
                "image": image,
                "dns": ["127.0.0.1"],
                "ports": ["127.0.0.1::9410"],  # replaces the fixed 9410 (the `!override` tag, below)
                "environment": {"SCRAPEWATCH_PROTECTED_DOMAINS": json.dumps(PROTECTED_DOMAINS)},
                "healthcheck": {"start_period": f"{HEALTHY_WAIT}s"},
            },
            "worker": {"image": image, "dns": ["127.0.0.1"], "healthcheck": {"start_period": f"{HEALTHY_WAIT}s"}},
            "redis": {
                "image": redis_image,
                # Debian's redis-server without a config file refuses non-loopback clients unless told not to.
                "command": ["redis-server", "--appendonly", "yes", "--save", "", "--protected-mode", "no"],
            },
        },
        "networks": {"default": {"driver_opts": {"com.docker.network.bridge.name": bridge}}},
    }
    path = Path(tmp_path_factory.mktemp("compose")) / "override.yaml"
    path.write_text(yaml.safe_dump(override).replace("ports:\n", "ports: !override\n"))
    stack = Stack(f"swtest-{suffix}", ["-f", str(REPO / "dashboards" / "compose.yaml"), "-f", str(path)])
    guard = ["DOCKER-USER", "-i", bridge, "!", "-o", bridge, "-j", "DROP"]
    # The network is created first so that the guard is in place before any container starts.
    stack.compose("up", "--no-start", "--no-build", "redis")
    iptables = subprocess.run(["iptables", "-I", *guard], capture_output=True, text=True)
    try:
        if iptables.returncode != 0:
            pytest.fail(f"could not install the egress guard (iptables -I {' '.join(guard)}):\n{iptables.stderr}")
        started = time.monotonic()
        stack.compose("up", "--detach", "--no-build", "--scale", f"worker={WORKERS}", "redis", "scrapewatch", "worker")
        yield stack
        print(f"compose stack up and checked in {time.monotonic() - started:.1f}s")
    finally:
        stack.compose("down", "--volumes", "--remove-orphans", "--timeout", "45", timeout=300, check=False)
        if iptables.returncode == 0:
            subprocess.run(["iptables", "-D", *guard], capture_output=True)


def test_scaled_workers_become_healthy(stack: Stack) -> None:
    def all_healthy() -> dict[str, str] | None:
        states = stack.states()
        workers = {name: s for name, s in states.items() if "-worker-" in name}
        assert len(workers) == WORKERS, f"`--scale worker={WORKERS}` started {sorted(workers)}"
        return states if all(s == "healthy" for s in states.values()) else None

    states = wait_for("every container of the stack healthy", all_healthy, HEALTHY_WAIT, stack.logs)
    assert len(states) == WORKERS + 2  # the workers, redis and the daemon


def test_workers_run_the_daemons_jobs(stack: Stack) -> None:
    """The daemon queues its policy audits on Redis; the workers take them, and the daemon applies the results
    (the .invalid domains do not resolve, so each audit opens policy_file_unreachable)."""

    def applied() -> float:
        return metric(stack.daemon_metrics(), 'scrapewatch_queue_results_total{outcome="applied"}')

    domains = len(PROTECTED_DOMAINS)  # one audit job per domain and interval
    wait_for("results applied by the daemon", lambda: applied() >= domains, RESULTS_WAIT, stack.logs)
    taken = [stack.worker_jobs_taken(i) for i in range(1, WORKERS + 1)]
    assert sum(taken) >= domains, f"jobs taken per worker: {taken}\n{stack.logs()}"
    assert metric(stack.daemon_metrics(), "scrapewatch_queue_jobs_submitted_total") >= domains

    def kinds() -> set[tuple[str, str]]:
        proc = stack.compose("exec", "-T", "scrapewatch", "scrapewatch", "incidents", "list", "--json")
        return {(i["kind"], i["domain"]) for i in json.loads(proc.stdout)}

    # "applied" counts a result handed to its run, before the run's transaction commits, and one failed fetch is
    # weather (the second failed run in a row opens the incident; the audits run every 5 s): wait for it.
    wait_for(
        "policy_file_unreachable on soundcloud.invalid",
        lambda: ("policy_file_unreachable", "soundcloud.invalid") in kinds(),
        RESULTS_WAIT,
        stack.logs,
    )
    found = kinds()
    assert all(domain.endswith(".invalid") for _, domain in found), found
