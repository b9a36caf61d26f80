"""Every dashboard panel proven against a real Prometheus scraping a real daemon.

Debian's prometheus runs on loopback with a copy of dashboards/prometheus/prometheus.yml (and the real rules.yml
beside it) whose scrape targets point at a `scrapewatch demo` process: the real daemon against the simulated
internet, whose robots.txt weakens after 5 seconds. Once /metrics shows both demo phases (a policy regression and
the watchlist's exposure incidents) and Prometheus has scraped them, every target of every panel is queried as
Grafana would (variables filled in; range queries for time series) and must return data with a finite value;
every metric a panel reads must be on the daemon's live /metrics; every variable must list values; every link
must open the daemon's triage page. Needs Debian's prometheus (.ci/setup installs it); without it the tests fail.
"""

from __future__ import annotations

import json
import math
import re
import shutil
import signal
import subprocess
import time
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml

from monitor.demo.run import DEMO_TARGETS
from tests.dashboards.panel_queries import (
    PROMETHEUS_SERIES,
    ROOT,
    dashboards,
    exported_names,
    grafana_values,
    links,
    metric_names,
    panels,
    substitute,
    targets,
    variable_queries,
)
from tests.helpers.proc import COMMAND, clean_env, free_port, get, wait_for, write_config

PROMETHEUS_YML = ROOT / "dashboards" / "prometheus" / "prometheus.yml"
RULES = ROOT / "dashboards" / "prometheus" / "rules.yml"
TARGETS = targets()
VARIABLES = variable_queries()


@dataclass
class Stack:
    daemon: str
    prometheus: str
    started: float  # when Prometheus started: the start of every range query
    metrics: str  # the daemon's /metrics once both demo phases were recorded


def _tail(path: Path, lines: int = 30) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else ""


def prom(base: str, path: str, **params) -> object:
    """``data`` of a Prometheus HTTP API answer; a query error (a parse error, say) fails the test."""
    status, body = get(f"{base}{path}?{urllib.parse.urlencode(params)}", timeout=30)
    answer = json.loads(body)
    assert status == 200 and answer["status"] == "success", f"{path} {params}: {status} {answer}"
    return answer["data"]


def _prometheus_config(tmp: Path, daemon_port: int, prom_port: int) -> Path:
    """The repository's prometheus.yml with its targets on loopback, 1 s scrapes and rule evaluations."""
    cfg = yaml.safe_load(PROMETHEUS_YML.read_text())
    cfg["global"].update(scrape_interval="1s", scrape_timeout="1s", evaluation_interval="1s")
    cfg.pop("alerting")  # no Alertmanager here; the rules still evaluate and show in ALERTS
    where = {"scrapewatch": f"127.0.0.1:{daemon_port}", "prometheus": f"127.0.0.1:{prom_port}"}
    # No workers here (the demo crawls in its process): the workers' panels read the zeros the daemon exports.
    cfg["scrape_configs"] = [job for job in cfg["scrape_configs"] if job["job_name"] in where]
    for job in cfg["scrape_configs"]:
        job["static_configs"] = [{"targets": [where[job["job_name"]]]}]
    shutil.copy(RULES, tmp / "rules.yml")  # rule_files: [rules.yml] resolves beside the config, as in compose
    path = tmp / "prometheus.yml"
    path.write_text(yaml.safe_dump(cfg))
    return path


def _stop(proc: subprocess.Popen, grace: float) -> None:
    if proc.poll() is None:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(grace)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait(10)


def _both_demo_phases(text: str) -> bool:
    exposure_jobs = text.count('scrapewatch_job_last_success_timestamp_seconds{job="exposure_watch:')
    return (
        'scrapewatch_incidents_open{kind="policy_regression"' in text
        and 'scrapewatch_incidents_open{kind="exposure_' in text
        and exposure_jobs == len(DEMO_TARGETS)
    )


def _scraped(prometheus: str) -> bool:
    regression = 'scrapewatch_incidents_open{kind="policy_regression"}'
    critical = 'ALERTS{alertname="ScrapewatchCriticalIncidentOpen"}'
    return all(prom(prometheus, "/api/v1/query", query=q)["result"] for q in (regression, critical))


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    binary = shutil.which("prometheus")
    if binary is None:
        pytest.fail("Debian's prometheus is not installed: `apt-get install prometheus` (bash .ci/setup installs it)")
    tmp = tmp_path_factory.mktemp("stack")
    daemon_port, prom_port = free_port(), free_port()
    daemon, prometheus = f"http://127.0.0.1:{daemon_port}", f"http://127.0.0.1:{prom_port}"
    config = write_config(
        tmp / "scrapewatch.yaml",
        {
            "storage": {"data_dir": str(tmp / "data")},
            "http": {"listen": f"127.0.0.1:{daemon_port}"},
            "scheduler": {"shutdown_grace_seconds": 5},
        },
    )
    prom_log, demo_log = tmp / "prometheus.log", tmp / "demo.log"
    with prom_log.open("w") as plog, demo_log.open("w") as dlog:
        prom_proc = subprocess.Popen(
            [
                binary,
                f"--config.file={_prometheus_config(tmp, daemon_port, prom_port)}",
                f"--storage.tsdb.path={tmp / 'tsdb'}",
                f"--web.listen-address=127.0.0.1:{prom_port}",
            ],
            stdout=plog,
            stderr=subprocess.STDOUT,
        )
        started = time.time()
        demo = subprocess.Popen(
            [*COMMAND, "demo", "--config", str(config), "--change-after", "5"],
            cwd=tmp,
            env=clean_env(),
            stdout=dlog,
            stderr=subprocess.STDOUT,
        )
        try:
            try:
                wait_for(lambda: get(f"{prometheus}/-/ready")[0] == 200, timeout=30, what="Prometheus ready")
                wait_for(lambda: _both_demo_phases(get(f"{daemon}/metrics")[1].decode()),
                         timeout=200, interval=1, what="both demo phases on /metrics")  # fmt: skip
                # Prometheus has scraped them, and its rules have run on them (the demo's critical exposures).
                wait_for(lambda: _scraped(prometheus), timeout=20, interval=0.5, what="Prometheus scraping both")
            except AssertionError as exc:
                raise AssertionError(
                    f"{exc}\n--- demo log ---\n{_tail(demo_log)}\n--- prometheus log ---\n{_tail(prom_log)}"
                ) from None
            time.sleep(3)  # a few more scrapes, so that rates over the last interval have points after the change
            yield Stack(daemon, prometheus, started, get(f"{daemon}/metrics")[1].decode())
        finally:
            _stop(demo, 30)
            _stop(prom_proc, 15)


def _values(data: dict) -> list[float]:
    kind, result = data["resultType"], data["result"]
    if kind == "scalar":
        return [float(result[1])]
    if kind == "vector":
        return [float(s["value"][1]) for s in result]
    return [float(v[1]) for s in result for v in s["values"]]


def run_target(stack: Stack, expr: str, instant: bool, ranged: bool) -> list[tuple[str, dict]]:
    """Query ``expr`` the way its panel does: an instant query at "now" and/or a range query over the run."""
    now = time.time()
    query = substitute(expr, grafana_values(range_seconds=math.ceil(now - stack.started)))
    out = []
    if instant:
        out.append(("instant", prom(stack.prometheus, "/api/v1/query", query=query, time=now)))
    if ranged:
        out.append(
            ("range", prom(stack.prometheus, "/api/v1/query_range", query=query, start=stack.started, end=now, step=1))
        )
    return out


@pytest.mark.parametrize("target", TARGETS, ids=[t.id for t in TARGETS])
def test_every_panel_query_returns_data(stack, target):
    for kind, data in run_target(stack, target.expr, target.instant, target.range):
        assert data["result"], f"{kind} query of {target.id} returned no series: {target.expr}"
        assert any(math.isfinite(v) for v in _values(data)), f"{kind} query of {target.id}: no finite value"


def test_panels_read_only_metrics_the_live_daemon_exports(stack):
    exported = exported_names(stack.metrics)
    used = {n for t in TARGETS for n in metric_names(t.expr)} | {n for v in VARIABLES for n in metric_names(v.selector)}
    assert len(used - PROMETHEUS_SERIES) >= 30, sorted(used)
    # The workers row reads what `scrapewatch worker` processes export (tests/distributed checks a worker's /metrics).
    missing = sorted(n for n in used - exported - PROMETHEUS_SERIES if not n.startswith("scrapewatch_worker_"))
    assert not missing, f"panels query metrics the daemon does not export: {missing}"


@pytest.mark.parametrize("variable", VARIABLES, ids=[v.id for v in VARIABLES])
def test_every_variable_lists_values(stack, variable):
    selector = substitute(variable.selector, {v.name: ".*" for v in VARIABLES})
    values = prom(stack.prometheus, f"/api/v1/label/{variable.label}/values", **{"match[]": selector})
    assert values, f"{variable.id}: no values for {variable.label} of {selector}"


def _label_value(stack: Stack, panel: dict, label: str) -> str | None:
    """A value of ``label`` in what the panel's queries return (what Grafana would put in a data link)."""
    for t in panel["targets"]:
        for _, data in run_target(stack, t["expr"], t["instant"], t["range"]):
            for series in data["result"]:
                if series["metric"].get(label) not in (None, "none"):
                    return series["metric"][label]
    return None


def test_panel_links_open_the_triage_page(stack):
    opened = 0
    for uid, d in dashboards().items():
        for p in panels(d):
            for link in links(p):
                url = link["url"]
                needs = set(re.findall(r"\$\{__field\.labels\.(\w+)\}", url))
                if "${__value.raw}" in url:
                    needs.add(link["field"])
                fills = {name: _label_value(stack, p, name) for name in needs}
                assert all(fills.values()), f"{uid}: {p['title']}: no series carries {needs} for {url}"
                for name, value in fills.items():
                    url = url.replace(f"${{__field.labels.{name}}}", urllib.parse.quote(value))
                    url = url.replace("${__value.raw}", urllib.parse.quote(value))
                url = substitute(url, {"scrapewatch_url": stack.daemon, "domain": "soundcloud.com"})
                status, body = get(url)
                assert status == 200 and b'id="summary"' in body, (uid, p["title"], url, status)
                if needs and all("scrapewatch_incidents_open" in t["expr"] for t in p["targets"]):
                    assert b"<tr data-id=" in body, f"{url}: the incidents this bar counts are not listed"
                opened += 1
    assert opened > 20


def _panel_expr(uid: str, title: str) -> str:
    (panel,) = [p for p in panels(dashboards()[uid]) if p["title"] == title]
    return panel["targets"][0]["expr"]


def _instant(stack: Stack, uid: str, title: str) -> dict[str, float]:
    (_, data), *_ = run_target(stack, _panel_expr(uid, title), instant=True, ranged=False)
    return {json.dumps(s["metric"], sort_keys=True): float(s["value"][1]) for s in data["result"]}


def test_the_demo_story_shows_on_the_dashboards(stack):
    # The simulated robots.txt let GPTBot onto soundcloud.com's track, set and audio paths.
    allowed = _instant(stack, "scrapewatch-ai-policy", "Allowed cells off the home page")
    assert allowed[json.dumps({"domain": "soundcloud.com"})] >= 3
    by_kind = _instant(stack, "scrapewatch-overview", "Open incidents by kind")
    kinds = {json.loads(k)["kind"] for k in by_kind}
    # Not policy_file_changed: a file change is an event that resolves at the next audit (15 s in the demo), so
    # whether it is still open when Prometheus is asked depends on the machine's speed.
    assert {"policy_regression", "exposure_proxy", "exposure_downloader"} <= kinds
    # Prometheus's own rules ran on the daemon's numbers: the critical exposures fire ScrapewatchCriticalIncidentOpen.
    assert next(iter(_instant(stack, "scrapewatch-overview", "Prometheus alerts firing").values())) >= 1
    # honor_labels kept the daemon's job label: one audit age per protected domain.
    ages = _instant(stack, "scrapewatch-overview", "Age of the last successful run, per job")
    assert sum('"policy_snapshot:' in k for k in ages) == 4


def test_the_alert_rules_load_and_evaluate(stack):
    rules = [r for g in prom(stack.prometheus, "/api/v1/rules")["groups"] for r in g["rules"]]
    declared = sum(len(g["rules"]) for g in yaml.safe_load(RULES.read_text())["groups"])
    assert len(rules) == declared >= 10
    assert all(r["health"] == "ok" for r in rules), [(r["name"], r.get("lastError")) for r in rules]
