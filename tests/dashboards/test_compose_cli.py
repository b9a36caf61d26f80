"""compose.yaml as Docker Compose v2 reads it: `docker compose config` accepts the stack, the resolved worker service
can be scaled (`up --scale worker=N`) and is wired to Redis and Prometheus, and copies with broken references are
rejected. Compose v2 comes from .ci/compose-v2 (bookworm has only Compose v1); without it these tests fail."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from tests.dashboards.panel_queries import ROOT

DASH = ROOT / "dashboards"
COMPOSE = DASH / "compose.yaml"
PROMETHEUS = DASH / "prometheus" / "prometheus.yml"
# Where the Docker CLI looks for plugins; the Compose plugin also runs on its own, without the docker CLI.
PLUGIN_DIRS = [
    Path.home() / ".docker" / "cli-plugins",
    Path("/usr/local/lib/docker/cli-plugins"),
    Path("/usr/local/libexec/docker/cli-plugins"),
    Path("/usr/lib/docker/cli-plugins"),
    Path("/usr/libexec/docker/cli-plugins"),
]
# Variables compose.yaml interpolates, and the ones Compose itself reads: the test resolves the file as shipped.
CLEARED = ("SCRAPEWATCH_COMMAND", "GRAFANA_ADMIN_PASSWORD")


def _env() -> dict[str, str]:
    return {k: v for k, v in os.environ.items() if k not in CLEARED and not k.startswith("COMPOSE_")}


def _version(cmd: list[str]) -> str | None:
    try:
        out = subprocess.run([*cmd, "version", "--short"], capture_output=True, text=True, timeout=60, env=_env())
    except OSError:
        return None
    return out.stdout.strip().lstrip("v") if out.returncode == 0 else None


@pytest.fixture(scope="module")
def compose() -> list[str]:
    """The Compose v2 command line: `docker compose` when the docker CLI has the plugin, else the plugin binary."""
    candidates = [[docker, "compose"] for docker in dict.fromkeys(filter(None, [shutil.which("docker")]))]
    candidates += [[str(d / "docker-compose")] for d in PLUGIN_DIRS if (d / "docker-compose").is_file()]
    if standalone := shutil.which("docker-compose"):
        candidates.append([standalone])
    found = {" ".join(c): _version(c) for c in candidates}
    for cmd in candidates:
        version = found[" ".join(cmd)]
        if version and version.split(".")[0].isdigit() and int(version.split(".")[0]) >= 2:
            return cmd
    pytest.fail(
        "Docker Compose v2 is not installed (Debian 12 has only Compose v1): run `bash .ci/compose-v2` "
        f"(.ci/setup does) to install Debian trixie's docker-compose as a Docker CLI plugin; tried {found}"
    )


def config(compose: list[str], path: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*compose, "-f", str(path), "config", *args], capture_output=True, text=True, timeout=120, env=_env()
    )


@pytest.fixture(scope="module")
def resolved(compose: list[str]) -> dict:
    out = config(compose, COMPOSE, "--format", "json")
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


def test_compose_v2_accepts_the_stack_file(compose):
    out = config(compose, COMPOSE, "--quiet")
    assert out.returncode == 0 and out.stderr == "", out.stderr
    assert int(_version(compose).split(".")[0]) >= 2


def test_resolved_stack_is_the_scrapewatch_project_with_six_services(resolved):
    assert resolved["name"] == "scrapewatch"  # compose.yaml's top-level `name:`, not the directory's (dashboards)
    assert set(resolved["services"]) == {"scrapewatch", "worker", "redis", "prometheus", "alertmanager", "grafana"}
    assert set(resolved["volumes"]) == {
        f"{v}-data" for v in ("scrapewatch", "redis", "prometheus", "alertmanager", "grafana")
    } | {"worker-tmp"}
    # Bind mounts resolve relative to compose.yaml, to files of the repository.
    binds = [
        v["source"] for svc in resolved["services"].values() for v in svc.get("volumes", []) if v["type"] == "bind"
    ]
    assert len(binds) == 5 and all(Path(source).exists() for source in binds), binds


def test_resolved_worker_service_scales_on_redis(resolved):
    services = resolved["services"]
    worker, daemon = services["worker"], services["scrapewatch"]
    # `--scale worker=N` starts N containers: none may claim a fixed name or a fixed host port.
    assert "container_name" not in worker and not worker.get("ports"), worker
    # The same image and build as the daemon; another command to the image's `scrapewatch` entrypoint.
    assert worker["image"] == daemon["image"] and worker["build"] == daemon["build"]
    assert Path(worker["build"]["context"]) == ROOT
    assert not worker.get("entrypoint")
    dockerfile = (ROOT / worker["build"]["dockerfile"]).read_text()
    assert 'ENTRYPOINT ["/usr/bin/tini", "--", "scrapewatch"]' in dockerfile
    assert worker["command"][0] == "worker" and daemon["command"] == ["run"]
    assert worker["depends_on"]["redis"]["condition"] == "service_healthy"
    assert daemon["depends_on"]["redis"]["condition"] == "service_healthy"
    # Both reach the queue by the redis service's name on the project network.
    assert services["redis"]["networks"].keys() == worker["networks"].keys() == daemon["networks"].keys()
    url = "redis://redis:6379/0"
    assert worker["environment"]["SCRAPEWATCH_DISTRIBUTED__REDIS_URL"] == url
    assert daemon["environment"]["SCRAPEWATCH_DISTRIBUTED__REDIS_URL"] == url
    assert not services["redis"].get("ports")  # only the daemon and the workers reach it
    # Prometheus scrapes every worker container through Docker's DNS name for the service, on the worker's port.
    port = worker["environment"]["SCRAPEWATCH_DISTRIBUTED__WORKER_LISTEN"].rpartition(":")[2]
    (job,) = [j for j in yaml.safe_load(PROMETHEUS.read_text())["scrape_configs"] if j["job_name"].endswith("workers")]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A" and str(sd["port"]) == port
    assert services["prometheus"]["networks"].keys() == worker["networks"].keys()


def test_environment_overrides_resolve(compose, tmp_path):
    (tmp_path / ".env").write_text("SCRAPEWATCH_COMMAND=demo\n")
    out = subprocess.run(
        [*compose, "-f", str(COMPOSE), "--env-file", str(tmp_path / ".env"), "config", "--format", "json"],
        capture_output=True,
        text=True,
        timeout=120,
        env=_env(),
    )
    assert out.returncode == 0, out.stderr
    assert json.loads(out.stdout)["services"]["scrapewatch"]["command"] == ["demo"]


def _broken_copy(tmp_path: Path, change) -> Path:
    """A copy of compose.yaml beside the real one's files (so only ``change`` differs), changed by ``change``."""
    doc = copy.deepcopy(yaml.safe_load(COMPOSE.read_text()))
    change(doc)
    for name in ("prometheus", "alertmanager", "provisioning", "grafana"):
        (tmp_path / name).symlink_to(DASH / name)
    for svc in doc["services"].values():  # the copy builds from the repository as the real one does
        if "build" in svc:
            svc["build"]["context"] = str(ROOT)
    (tmp_path / "compose.yaml").write_text(yaml.safe_dump(doc, sort_keys=False))
    return tmp_path / "compose.yaml"


def _unchanged(doc: dict) -> None:
    pass


def _undeclared_volume(doc: dict) -> None:
    del doc["volumes"]["worker-tmp"]


def _named_replicated_worker(doc: dict) -> None:
    doc["services"]["worker"]["container_name"] = "scrapewatch-worker"
    doc["services"]["worker"]["deploy"] = {"replicas": 4}


def _worker_on_a_missing_queue(doc: dict) -> None:
    doc["services"]["worker"]["depends_on"] = {"queue": {"condition": "service_healthy"}}


def test_the_unchanged_copy_is_accepted(compose, tmp_path):
    """The control for the rejections below: copying alone breaks nothing."""
    out = config(compose, _broken_copy(tmp_path, _unchanged), "--quiet")
    assert out.returncode == 0, out.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        (_undeclared_volume, 'service "worker" refers to undefined volume worker-tmp'),
        (_named_replicated_worker, "can't set container_name and worker as container name must be unique"),
        (_worker_on_a_missing_queue, 'service "worker" depends on undefined service "queue"'),
    ],
    ids=["undeclared-volume", "container-name-with-replicas", "depends-on-missing-service"],
)
def test_broken_copies_are_rejected(compose, tmp_path, change, message):
    out = config(compose, _broken_copy(tmp_path, change), "--quiet")
    assert out.returncode != 0
    assert message in out.stderr, out.stderr
