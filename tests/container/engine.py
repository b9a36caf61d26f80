"""The Docker engine for the container tests: the docker CLI wrapper, waiting, the image build's arguments."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
DOCKER = os.environ.get("SCRAPEWATCH_DOCKER") or ("/usr/bin/docker" if Path("/usr/bin/docker").exists() else "docker")
PROTECTED_DOMAINS = [
    {"domain": "soundcloud.invalid", "interval_seconds": 5, "jitter_seconds": 0},
    {"domain": "api-v2.soundcloud.invalid", "interval_seconds": 5, "jitter_seconds": 0},
]
HOST_CA_BUNDLE = Path("/etc/ssl/certs/ca-certificates.crt")
BUILD_TIMEOUT = 1200


def docker(*args: str, check: bool = True, timeout: float = 120) -> subprocess.CompletedProcess[str]:
    """Run the docker CLI; on failure, fail the test with the command and its output."""
    cmd = [DOCKER, *args]
    env = {**os.environ, "DOCKER_BUILDKIT": "1"}
    try:
        proc = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired as exc:
        pytest.fail(f"`{' '.join(cmd)}` did not finish within {timeout}s\n{exc.stdout or ''}{exc.stderr or ''}")
    if check and proc.returncode != 0:
        pytest.fail(
            f"`{' '.join(cmd)}` exited {proc.returncode}\n"
            f"stdout (tail):\n{proc.stdout[-6000:]}\nstderr (tail):\n{proc.stderr[-12000:]}"
        )
    return proc


def wait_for(what: str, probe: Callable[[], Any], timeout: float, on_timeout: Callable[[], str]) -> Any:
    """Call ``probe`` until it returns something truthy; fail with ``on_timeout()`` after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    last: Any = None
    while time.monotonic() < deadline:
        last = probe()
        if last:
            return last
        time.sleep(1)
    pytest.fail(f"{what}: not reached within {timeout}s (last: {last!r})\n{on_timeout()}")


# ---- the engine -------------------------------------------------------------------------------


def engine_answers() -> bool:
    try:
        return subprocess.run([DOCKER, "info"], capture_output=True, timeout=60).returncode == 0
    except (OSError, subprocess.TimeoutExpired):
        return False


def host_pip_index_args() -> list[str]:
    """Build args that point pip in the build at the index the host uses, if it is a reachable URL.

    Local ``file://`` indexes and find-links on the host cannot be seen from inside the build and are
    left out; with nothing configured the build uses pypi.org.
    """
    found: dict[str, str] = {}
    env_keys = {"index-url": "PIP_INDEX_URL", "extra-index-url": "PIP_EXTRA_INDEX_URL"}
    listing = subprocess.run(
        [sys.executable, "-m", "pip", "config", "list"], capture_output=True, text=True, timeout=60
    ).stdout
    for line in listing.splitlines():
        key, _, value = line.partition("=")
        name = key.rpartition(".")[2]
        if name in env_keys:
            found[name] = value.strip().strip("'\"")
    for name, env in env_keys.items():
        if os.environ.get(env):
            found[name] = os.environ[env]
    args = []
    for name, env in env_keys.items():
        urls = [u for u in found.get(name, "").split() if u.startswith(("http://", "https://"))]
        if urls:
            args += ["--build-arg", f"{env}={' '.join(urls)}"]
    return args


def pip_ca_secret_args() -> list[str]:
    """The host's CA bundle as the ``pipcert`` build secret (for TLS-intercepting networks)."""
    for candidate in (os.environ.get("PIP_CERT"), os.environ.get("REQUESTS_CA_BUNDLE"), str(HOST_CA_BUNDLE)):
        if candidate and Path(candidate).is_file():
            return ["--secret", f"id=pipcert,src={candidate}"]
    return []
