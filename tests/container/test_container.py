"""The real image in a real Docker engine: build, serve, run as non-root, persist, stop cleanly on SIGTERM.

Runs only when asked for (``pytest -m container tests/container``; .ci/run does it after the suite).
Docker is brought up with .ci/docker-up when it is not answering; if it cannot start, the tests fail
with the reason instead of skipping.

The container never reaches a real site: the protected domains are overridden to ``.invalid`` names,
its resolver is a dead loopback address, and a DOCKER-USER firewall rule drops everything it would send
beyond its own bridge. Only the host talks to it, through the published loopback port.

Environment:
    SCRAPEWATCH_TEST_IMAGE  use this already-built tag instead of building (it is not removed afterwards)
    SCRAPEWATCH_DOCKER      docker CLI (default: Debian's /usr/bin/docker, which has BuildKit)

The tests share one container and run in file order: serve, non-root, health, browser, persist, stop.
"""

from __future__ import annotations

import json
import subprocess
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.container.engine import PROTECTED_DOMAINS, docker, wait_for

pytestmark = [pytest.mark.container, pytest.mark.timeout(1800)]

HEALTHZ_WAIT = 90
INCIDENT_WAIT = 90
HEALTHY_WAIT = 90  # the image's HEALTHCHECK probes every 10 s
STOP_GRACE = 45  # longer than the daemon's default shutdown grace (30 s)


# ---- the container ----------------------------------------------------------------------------


@dataclass
class Stop:
    """How one container ended under ``docker stop``."""

    container: str
    exit_code: int
    oom_killed: bool
    seconds: float
    logs: str = field(repr=False)


@dataclass
class Deployment:
    """One named volume and the container currently running on it."""

    image: str
    suffix: str = field(default_factory=lambda: uuid.uuid4().hex[:8])
    name: str = ""
    containers: list[str] = field(default_factory=list)
    stops: list[Stop] = field(default_factory=list)

    @property
    def volume(self) -> str:
        return f"scrapewatch-test-data-{self.suffix}"

    @property
    def network(self) -> str:
        return f"scrapewatch-test-{self.suffix}"

    @property
    def bridge(self) -> str:
        return f"swtest{self.suffix}"  # Linux interface names are at most 15 characters

    def start(self) -> None:
        """Start a new container on the volume and wait until /healthz answers 200."""
        self.name = f"scrapewatch-test-{self.suffix}-{len(self.containers)}"
        self.containers.append(self.name)
        docker(
            "run", "--detach", "--name", self.name,
            "--network", self.network, "--dns", "127.0.0.1",
            "--volume", f"{self.volume}:/data",
            "--publish", "127.0.0.1::9410",
            "--env", f"SCRAPEWATCH_PROTECTED_DOMAINS={json.dumps(PROTECTED_DOMAINS)}",
            self.image,
        )  # fmt: skip
        wait_for(f"GET /healthz on {self.name}", lambda: self.http_status("/healthz") == 200, HEALTHZ_WAIT, self.logs)

    @property
    def base_url(self) -> str:
        out = docker("port", self.name, "9410/tcp").stdout.split()
        assert out, f"port 9410 of {self.name} is not published\n{self.logs()}"
        return f"http://{out[0]}"

    def http_status(self, path: str) -> int | None:
        try:
            with urllib.request.urlopen(self.base_url + path, timeout=5) as resp:
                return resp.status
        except urllib.error.HTTPError as exc:
            return exc.code
        except OSError:
            return None

    def get(self, path: str) -> str:
        with urllib.request.urlopen(self.base_url + path, timeout=10) as resp:
            assert resp.status == 200, f"GET {path} -> {resp.status}\n{self.logs()}"
            return resp.read().decode()

    def exec(self, *args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
        return docker("exec", self.name, *args, check=False, timeout=timeout)

    def inspect(self, template: str) -> str:
        return docker("inspect", "--format", template, self.name).stdout.strip()

    def incidents_when_ready(self) -> list[dict[str, Any]]:
        """Like :meth:`incidents`, but an empty list while the CLI cannot answer yet (database not created)."""
        try:
            return self.incidents()
        except AssertionError:
            return []

    def incidents(self) -> list[dict[str, Any]]:
        proc = self.exec("scrapewatch", "incidents", "list", "--json")
        assert proc.returncode == 0, f"`scrapewatch incidents list --json` exited {proc.returncode}\n{proc.stderr}"
        try:
            return json.loads(proc.stdout)
        except json.JSONDecodeError as exc:
            raise AssertionError(f"incidents list --json is not JSON ({exc}):\n{proc.stdout[:2000]}") from exc

    def stop(self) -> Stop:
        """``docker stop`` (SIGTERM, then SIGKILL after the grace period); how it ended is recorded."""
        started = time.monotonic()
        docker("stop", "--time", str(STOP_GRACE), self.name, timeout=STOP_GRACE + 60)
        took = time.monotonic() - started
        state = json.loads(self.inspect("{{json .State}}"))
        stop = Stop(self.name, int(state["ExitCode"]), bool(state["OOMKilled"]), took, self.logs())
        self.stops.append(stop)
        return stop

    def logs(self) -> str:
        if not self.name:
            return "(no container)"
        proc = docker("logs", "--tail", "200", self.name, check=False)
        return f"--- docker logs {self.name} (last 200 lines) ---\n{proc.stdout}{proc.stderr}"


@pytest.fixture(scope="module")
def deployment(image: str) -> Iterator[Deployment]:
    """A running container of ``image`` on a fresh named volume, with no way out to the internet."""
    dep = Deployment(image)
    docker("volume", "create", dep.volume)
    docker("network", "create", "--opt", f"com.docker.network.bridge.name={dep.bridge}", dep.network)
    guard = ["DOCKER-USER", "-i", dep.bridge, "!", "-o", dep.bridge, "-j", "DROP"]
    iptables = subprocess.run(["iptables", "-I", *guard], capture_output=True, text=True)
    try:
        if iptables.returncode != 0:
            pytest.fail(f"could not install the egress guard (iptables -I {' '.join(guard)}):\n{iptables.stderr}")
        dep.start()
        yield dep
    finally:
        for name in dep.containers:
            docker("rm", "--force", "--volumes", name, check=False)
        if iptables.returncode == 0:
            subprocess.run(["iptables", "-D", *guard], capture_output=True)
        docker("network", "rm", dep.network, check=False)
        docker("volume", "rm", "--force", dep.volume, check=False)


# ---- the tests --------------------------------------------------------------------------------


def test_serves_healthz_and_metrics(deployment: Deployment) -> None:
    assert deployment.http_status("/healthz") == 200, deployment.logs()
    metrics = deployment.get("/metrics")
    assert "scrapewatch_build_info" in metrics, f"/metrics lacks scrapewatch_build_info:\n{metrics[:3000]}"


def test_runs_as_non_root(deployment: Deployment) -> None:
    uid = deployment.exec("id", "-u")
    assert uid.returncode == 0, uid.stderr
    assert uid.stdout.strip() != "0", "docker exec runs as root: the image's USER is root"
    top = docker("top", deployment.name, "-eo", "pid,uid,args").stdout.splitlines()
    processes = [line.split(None, 2) for line in top[1:] if line.strip()]
    assert any("scrapewatch" in p[2] for p in processes if len(p) == 3), f"daemon not found in:\n{top}"
    root = [p for p in processes if p[1] == "0"]
    assert not root, f"processes running as root in the container: {root}"


def test_docker_healthcheck_reaches_healthy(deployment: Deployment) -> None:
    def status() -> str | None:
        state = deployment.inspect("{{if .State.Health}}{{.State.Health.Status}}{{end}}")
        assert state, "the image defines no HEALTHCHECK"
        assert state != "unhealthy", f"HEALTHCHECK reports unhealthy: {deployment.inspect('{{json .State.Health}}')}"
        return state == "healthy"

    wait_for("Docker health status 'healthy'", status, HEALTHY_WAIT, deployment.logs)


PLAYWRIGHT_SMOKE = """
import os
from playwright.sync_api import sync_playwright
with sync_playwright() as p:
    browser = p.chromium.launch(executable_path=os.environ["PLAYWRIGHT_CHROMIUM_EXECUTABLE"])
    page = browser.new_page()
    page.set_content("<title>scrapewatch</title>")
    print(browser.version, page.title())
    browser.close()
"""


def test_playwright_drives_debian_chromium(deployment: Deployment) -> None:
    """The pinned Playwright's driver starts and launches /usr/bin/chromium as the non-root user (no network)."""
    proc = deployment.exec("python3", "-c", PLAYWRIGHT_SMOKE, timeout=120)
    assert proc.returncode == 0, f"Playwright could not launch chromium:\n{proc.stdout}{proc.stderr}"
    assert proc.stdout.split()[-1] == "scrapewatch", proc.stdout


def test_incidents_survive_a_restart_on_the_same_volume(deployment: Deployment) -> None:
    found = wait_for(
        "an incident in `scrapewatch incidents list --json`",
        deployment.incidents_when_ready,
        INCIDENT_WAIT,
        deployment.logs,
    )
    kinds = {(i.get("kind"), i.get("domain")) for i in found}
    assert all(str(i.get("domain", "")).endswith(".invalid") for i in found), f"unexpected domains: {kinds}"
    assert any(i.get("kind") == "policy_file_unreachable" for i in found), f"no policy_file_unreachable in {kinds}"
    before = {str(i["id"]) for i in found}

    deployment.stop()  # its exit code is checked by test_sigterm_stops_it_cleanly
    deployment.start()  # a new container, same named volume
    after = {str(i["id"]) for i in deployment.incidents()}
    assert before <= after, f"incidents lost across the restart: {sorted(before - after)}\n{deployment.logs()}"


def test_sigterm_stops_it_cleanly(deployment: Deployment) -> None:
    """Every ``docker stop`` of the run (the restart's and this one) ends with exit code 0, in time."""
    deployment.stop()
    for stop in deployment.stops:
        assert stop.exit_code == 0, (
            f"{stop.container} exited {stop.exit_code} on SIGTERM (137 = killed after {STOP_GRACE}s)\n{stop.logs}"
        )
        assert not stop.oom_killed, f"{stop.container} was OOM-killed\n{stop.logs}"
        assert stop.seconds < STOP_GRACE, f"docker stop of {stop.container} took {stop.seconds:.1f}s\n{stop.logs}"
