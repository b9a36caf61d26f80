"""The monitoring stack as configuration: prometheus.yml passes promtool and scrapes scrapewatch the way the
rules and dashboards expect, Grafana's provisioning points at it, and compose.yaml wires the four services with
volumes, healthchecks and mounts of files that exist. (test_compose_cli.py runs Compose v2 on it.)"""

from __future__ import annotations

import shutil
import subprocess

import pytest
import yaml

from tests.dashboards.panel_queries import ROOT

DASH = ROOT / "dashboards"
PROMETHEUS = DASH / "prometheus" / "prometheus.yml"
COMPOSE = DASH / "compose.yaml"


def load(path):
    return yaml.safe_load(path.read_text())


def test_prometheus_config_passes_promtool():
    promtool = shutil.which("promtool")
    if promtool is None:
        pytest.fail("promtool is not installed: `apt-get install prometheus` (bash .ci/setup installs it)")
    out = subprocess.run([promtool, "check", "config", str(PROMETHEUS)], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS: 1 rule files found" in out.stdout + out.stderr  # rules.yml, found relative to the config


def test_prometheus_scrapes_scrapewatch_as_the_rules_expect():
    cfg = load(PROMETHEUS)
    assert cfg["rule_files"] == ["rules.yml"] and (PROMETHEUS.parent / "rules.yml").exists()
    (job,) = [j for j in cfg["scrape_configs"] if j["job_name"] == "scrapewatch"]  # rules.yml: up{job="scrapewatch"}
    assert job["static_configs"][0]["targets"] == ["scrapewatch:9410"]
    # scrapewatch's own `job` label (policy_snapshot:<domain>) must not become exported_job: the audit-age rules
    # and panels match on it.
    assert job["honor_labels"] is True
    (am,) = cfg["alerting"]["alertmanagers"]
    assert am["static_configs"][0]["targets"] == ["alertmanager:9093"]


def test_grafana_provisioning():
    (ds,) = load(DASH / "provisioning" / "datasources" / "prometheus.yml")["datasources"]
    assert ds["type"] == "prometheus" and ds["uid"] == "prometheus" and ds["url"] == "http://prometheus:9090"
    assert ds["jsonData"]["timeInterval"] == load(PROMETHEUS)["global"]["scrape_interval"]
    (provider,) = load(DASH / "provisioning" / "dashboards" / "scrapewatch.yml")["providers"]
    assert provider["type"] == "file"
    grafana = load(COMPOSE)["services"]["grafana"]
    mounts = dict(v.rsplit(":", 1)[0].split(":", 1) for v in grafana["volumes"] if v.startswith("./"))
    assert mounts["./grafana"] == provider["options"]["path"]  # the dashboards JSON is where the provider looks
    assert mounts["./provisioning"] == "/etc/grafana/provisioning"


def test_compose_runs_the_six_services_with_healthchecks_and_volumes():
    compose = load(COMPOSE)
    services = compose["services"]
    assert set(services) == {"scrapewatch", "prometheus", "grafana", "alertmanager", "redis", "worker"}
    for name, svc in services.items():
        check = svc["healthcheck"]["test"]
        assert check[0] == "CMD" and len(check) > 2, name
        assert svc.get("restart") == "unless-stopped", name
        for port in svc.get("ports", []):
            assert port.startswith("127.0.0.1:"), f"{name}: publish on loopback only"
    health = {name: " ".join(svc["healthcheck"]["test"]) for name, svc in services.items()}
    assert "/healthz" in health["scrapewatch"] and "9410" in health["scrapewatch"]
    assert "localhost:9090/-/healthy" in health["prometheus"]
    assert "localhost:9093/-/healthy" in health["alertmanager"]
    assert "localhost:3000/api/health" in health["grafana"]
    assert services["scrapewatch"]["build"]["context"] == ".."
    assert (COMPOSE.parent / services["scrapewatch"]["build"]["context"] / "Dockerfile").exists()
    # Every named volume is declared, and every service that keeps state has one.
    named = {v.split(":")[0] for svc in services.values() for v in svc["volumes"] if not v.startswith(".")}
    assert named == set(compose["volumes"])
    for name, path in [
        ("scrapewatch", "/data"),
        ("prometheus", "/prometheus"),
        ("grafana", "/var/lib/grafana"),
        ("alertmanager", "/alertmanager"),
        ("redis", "/data"),
    ]:
        assert any(v.endswith(f":{path}") for v in services[name]["volumes"]), name
    assert services["grafana"]["depends_on"]["prometheus"]["condition"] == "service_healthy"


def test_compose_scales_workers_on_redis_and_prometheus_finds_them():
    services = load(COMPOSE)["services"]
    worker, daemon = services["worker"], services["scrapewatch"]
    assert worker["image"] == daemon["image"] and worker["command"][0] == "worker"  # same image, another command
    assert "ports" not in worker and "container_name" not in worker  # `--scale worker=N` needs both absent
    url = daemon["environment"]["SCRAPEWATCH_DISTRIBUTED__REDIS_URL"]
    assert worker["environment"]["SCRAPEWATCH_DISTRIBUTED__REDIS_URL"] == url == "redis://redis:6379/0"
    port = worker["environment"]["SCRAPEWATCH_DISTRIBUTED__WORKER_LISTEN"].rpartition(":")[2]
    assert f"127.0.0.1:{port}/healthz" in " ".join(worker["healthcheck"]["test"])
    (job,) = [j for j in load(PROMETHEUS)["scrape_configs"] if j["job_name"] == "scrapewatch-workers"]
    (sd,) = job["dns_sd_configs"]
    assert sd["names"] == ["worker"] and sd["type"] == "A" and str(sd["port"]) == port


def test_every_mounted_file_exists_in_the_repository():
    mounted = 0
    for name, svc in load(COMPOSE)["services"].items():
        for volume in svc["volumes"]:
            if volume.startswith("./"):
                source, _, *mode = volume.split(":")
                assert (COMPOSE.parent / source).exists(), f"{name}: {source} is not in the repository"
                assert mode == ["ro"], f"{name}: configuration is mounted read-only ({volume})"
                mounted += 1
    assert mounted == 5


def test_compose_starts_prometheus_and_alertmanager_with_the_mounted_configs():
    services = load(COMPOSE)["services"]
    prom = services["prometheus"]
    assert "--config.file=/etc/prometheus/prometheus.yml" in prom["command"]
    assert "./prometheus/rules.yml:/etc/prometheus/rules.yml:ro" in prom["volumes"]  # beside the config: rule_files
    am = services["alertmanager"]
    assert "--config.file=/etc/alertmanager/alertmanager.yml" in am["command"]
    assert "./alertmanager/alertmanager.yml:/etc/alertmanager/alertmanager.yml:ro" in am["volumes"]
