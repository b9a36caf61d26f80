"""The Prometheus side: alert rules pass `promtool check rules` and their `promtool test rules` unit tests, every
metric they query exists in the exporter, and the example Alertmanager config is valid and routes as documented.
promtool comes from Debian's prometheus package and amtool from prometheus-alertmanager (.ci/setup installs
both); a missing tool fails these tests rather than skipping them."""

from __future__ import annotations

import re
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
RULES = ROOT / "dashboards" / "prometheus" / "rules.yml"
RULE_TESTS = ROOT / "dashboards" / "prometheus" / "tests"
ALERTMANAGER = ROOT / "dashboards" / "alertmanager" / "alertmanager.yml"


def tool(name: str, package: str) -> str:
    path = shutil.which(name)
    if path is None:
        pytest.fail(f"{name} is not installed: `apt-get install {package}` (bash .ci/setup installs it)")
    return path


def run(*args: str, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run(args, cwd=cwd, capture_output=True, text=True, timeout=120)


def test_rules_pass_promtool_check():
    out = run(tool("promtool", "prometheus"), "check", "rules", str(RULES))
    assert out.returncode == 0, out.stdout + out.stderr
    declared = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    assert declared >= 10 and f"SUCCESS: {declared} rules found" in out.stdout


@pytest.mark.parametrize("test_file", sorted(p.name for p in RULE_TESTS.glob("*.yml")))
def test_promtool_rule_unit_tests(test_file):
    out = run(tool("promtool", "prometheus"), "test", "rules", test_file, cwd=RULE_TESTS)
    assert out.returncode == 0, out.stdout + out.stderr
    assert "SUCCESS" in out.stdout


def test_every_alert_in_the_rules_has_a_unit_test():
    alerts = {r["alert"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"] if "alert" in r}
    tested = {
        case["alertname"]
        for f in RULE_TESTS.glob("*.yml")
        for t in yaml.safe_load(f.read_text())["tests"]
        for case in t.get("alert_rule_test", [])
        if case.get("exp_alerts")
    }
    assert alerts <= tested, sorted(alerts - tested)


def _exported_names(tmp_path) -> set[str]:
    from monitor.db import open_db
    from monitor.metrics import REGISTRY, StoreCollector

    path = tmp_path / "m.db"
    open_db(path).close()
    families = [*REGISTRY.collect(), *StoreCollector(lambda: open_db(path, migrate=False).conn).collect()]
    names = set()
    for f in families:
        names.add(f.name)
        names.update(s.name for s in f.samples)
        if f.type == "counter":
            names.add(f"{f.name}_total")
    return names


def test_every_metric_the_rules_query_is_exported(tmp_path):
    exprs = " ".join(r["expr"] for g in yaml.safe_load(RULES.read_text())["groups"] for r in g["rules"])
    queried = set(re.findall(r"\bscrapewatch_[a-z_]+", exprs))
    assert queried, "no scrapewatch metric in the rules?"
    missing = sorted(queried - _exported_names(tmp_path))
    assert not missing, missing


def test_alertmanager_example_is_valid_and_routes_as_documented():
    amtool = tool("amtool", "prometheus-alertmanager")
    out = run(amtool, "check-config", str(ALERTMANAGER))
    assert out.returncode == 0, out.stdout + out.stderr
    for labels, receivers in [
        (["alertname=ScrapewatchDown", "severity=critical"], "tns-pager"),
        (["alertname=ScrapewatchCriticalIncidentOpen", "severity=critical"], "tns-pager,tns-chat"),
        (["alertname=ScrapewatchAlertDeadLetters", "severity=warning"], "tns-email"),
        (["alertname=ScrapewatchProbesFailing", "severity=warning"], "tns-chat"),
    ]:
        routed = run(amtool, "config", "routes", "test", f"--config.file={ALERTMANAGER}", *labels)
        assert routed.stdout.strip() == receivers, (labels, routed.stdout, routed.stderr)
