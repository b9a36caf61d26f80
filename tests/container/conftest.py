"""Fixtures shared by the container tests: one Docker engine and one build of the image per session."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator

import pytest

from tests.container.engine import (
    BUILD_TIMEOUT,
    DOCKER,
    REPO,
    docker,
    engine_answers,
    host_pip_index_args,
    pip_ca_secret_args,
)


@pytest.fixture(scope="session")
def docker_engine() -> Iterator[None]:
    """A Docker engine that answers; started with .ci/docker-up (and stopped afterwards) if needed."""
    started_by_us = not engine_answers()
    if started_by_us:
        up = subprocess.run(["bash", str(REPO / ".ci/docker-up")], capture_output=True, text=True, timeout=1800)
        if up.returncode != 0:
            pytest.fail(f"Docker could not be started: .ci/docker-up exited {up.returncode}\n{up.stderr}{up.stdout}")
    try:
        info = subprocess.run([DOCKER, "info"], capture_output=True, text=True, timeout=60)
    except (OSError, subprocess.TimeoutExpired) as exc:
        pytest.fail(f"Docker CLI {DOCKER} unusable: {exc}")
    if info.returncode != 0:
        pytest.fail(f"Docker engine does not answer `{DOCKER} info`:\n{info.stderr}")
    yield
    if started_by_us:
        subprocess.run(["bash", str(REPO / ".ci/docker-down")], capture_output=True, timeout=120)


@pytest.fixture(scope="session")
def image(docker_engine: None) -> Iterator[str]:
    """The image under test, built once for every container test: SCRAPEWATCH_TEST_IMAGE, or a fresh build."""
    given = os.environ.get("SCRAPEWATCH_TEST_IMAGE")
    if given:
        docker("image", "inspect", given)
        yield given
        return
    tag = f"scrapewatch-test:{uuid.uuid4().hex[:12]}"
    started = time.monotonic()
    docker(
        "build",
        "--progress=plain",
        *pip_ca_secret_args(),
        *host_pip_index_args(),
        "-t",
        tag,
        str(REPO),
        timeout=BUILD_TIMEOUT,
    )
    print(f"built {tag} in {time.monotonic() - started:.1f}s", file=sys.stderr)
    yield tag
    docker("rmi", "--force", tag, check=False)
