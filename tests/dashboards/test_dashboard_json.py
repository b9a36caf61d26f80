"""The Grafana dashboards as files: the committed JSON is what the generator writes, every dashboard has what
Grafana needs (stable uid, datasource variable, layout, units, a description on every panel), every PromQL
expression parses (promtool), and every link goes to the triage page with filters it understands."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from dashboards.generate import stale
from tests.dashboards.panel_queries import (
    ROOT,
    TRIAGE_PARAMS,
    dashboards,
    grafana_values,
    links,
    metric_names,
    panels,
    substitute,
    targets,
    triage_params,
    variable_queries,
)

UIDS = ["scrapewatch-overview", "scrapewatch-ai-policy", "scrapewatch-exposure", "scrapewatch-daemon"]
PANEL_TYPES = {"stat", "timeseries", "bargauge", "table", "state-timeline"}
UNITS = {"short", "none", "s", "percentunit", "bytes", "dateTimeAsIso", "dtdurations"}
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is not installed: `apt-get install prometheus` (bash .ci/setup installs it)")
    return path


def test_committed_json_is_what_the_generator_writes():
    assert not stale(), "dashboards/grafana/ is not current: run `python dashboards/generate.py` and commit"


def test_generator_runs_as_a_script():
    out = subprocess.run(
        [sys.executable, "dashboards/generate.py", "--check"], cwd=ROOT, capture_output=True, text=True, timeout=60
    )
    assert out.returncode == 0, out.stderr


def test_the_four_dashboards_with_stable_uids():
    found = dashboards()
    assert sorted(found) == sorted(UIDS)
    for uid in UIDS:
        assert (ROOT / "dashboards" / "grafana" / f"{uid}.json").exists()


@pytest.mark.parametrize("uid", UIDS)
def test_dashboard_has_what_grafana_needs(uid):
    d = dashboards()[uid]
    assert d["title"].startswith("scrapewatch / ") and d["description"]
    assert d["schemaVersion"] >= 39
    assert "__inputs" not in d and "__requires" not in d and d.get("id") is None  # provisioned, not imported
    assert "scrapewatch" in d["tags"]
    assert d["time"]["from"].startswith("now-") and d["refresh"]
    variables = {v["name"]: v for v in d["templating"]["list"]}
    ds = variables["datasource"]
    assert ds["type"] == "datasource" and ds["query"] == "prometheus"
    url = variables["scrapewatch_url"]
    assert url["type"] in ("textbox", "constant") and url["query"] == "http://localhost:9410"
    for v in variables.values():
        if v["type"] == "query":
            assert v["datasource"] == DATASOURCE and v["definition"]
    assert "${DS_" not in str(d)  # no import-time datasource placeholders
    assert any(link.get("url", "").startswith("${scrapewatch_url}/triage") for link in d["links"])


@pytest.mark.parametrize("uid", UIDS)
def test_every_panel_is_complete_and_laid_out(uid):
    d = dashboards()[uid]
    ids = [p["id"] for p in d["panels"]] + [q["id"] for p in d["panels"] for q in p.get("panels", [])]
    assert len(ids) == len(set(ids)), "panel ids must be unique"
    drawn = panels(d)
    assert len({p["title"] for p in drawn}) == len(drawn), "panel titles must be unique"
    names = {v["name"] for v in d["templating"]["list"]}
    for p in drawn:
        where = f"{uid}: {p['title']}"
        assert p["type"] in PANEL_TYPES, where
        assert len(p["description"].strip()) >= 40, f"{where}: every panel needs a description"
        assert p["datasource"] == DATASOURCE, where
        assert p["targets"], where
        refs = [t["refId"] for t in p["targets"]]
        assert len(refs) == len(set(refs)), where
        for t in p["targets"]:
            assert t["datasource"] == DATASOURCE and t["expr"].strip(), where
            assert t["instant"] or t["range"], where
        assert p["fieldConfig"]["defaults"]["unit"] in UNITS, where
        if "repeat" in p:
            assert p["repeat"] in names, where
    # Grafana's grid: 24 columns; no two panels may overlap.
    boxes = []
    for p in d["panels"]:
        g = p["gridPos"]
        assert all(isinstance(g[k], int) for k in "hwxy") and g["h"] > 0 and g["x"] >= 0 and g["x"] + g["w"] <= 24
        for other in boxes:
            assert not (
                g["x"] < other["x"] + other["w"]
                and other["x"] < g["x"] + g["w"]
                and g["y"] < other["y"] + other["h"]
                and other["y"] < g["y"] + g["h"]
            ), f"{uid}: {p['title']} overlaps another panel"
        boxes.append(g)


def test_links_open_the_triage_page_with_its_filters():
    seen = 0
    for uid, d in dashboards().items():
        linked = 0
        for p in panels(d):
            for link in links(p):
                path, params = triage_params(link["url"])
                assert path == "/triage" or re.fullmatch(r"/triage/incidents/\d+", path), link
                assert set(params) <= TRIAGE_PARAMS, (uid, p["title"], link["url"])
                assert all(params.values()), link
                assert link["title"]
                linked += 1
        assert linked >= 2, f"{uid}: panels should link to the triage page"
        seen += linked
    assert seen > 20


def _rules_file(tmp_path: Path, exprs: dict[str, str]) -> Path:
    rules = [{"record": name, "expr": expr} for name, expr in exprs.items()]
    path = tmp_path / "panel_rules.yml"
    path.write_text(yaml.safe_dump({"groups": [{"name": "panels", "rules": rules}]}))
    return path


def _promtool_check(tmp_path: Path, exprs: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [promtool(), "check", "rules", str(_rules_file(tmp_path, exprs))], capture_output=True, text=True, timeout=60
    )


def _all_expressions() -> dict[str, str]:
    """Every target and variable selector, variables filled in as Grafana does, named as recording rules."""
    values = grafana_values(range_seconds=3600)
    exprs = {}
    for i, t in enumerate(targets()):
        exprs[f"panel:{t.uid.replace('-', '_')}:{i}"] = substitute(t.expr, values)
    for i, v in enumerate(variable_queries()):
        exprs[f"variable:{v.uid.replace('-', '_')}:{i}"] = substitute(v.selector, values)
    return exprs


def test_every_expression_parses_with_promtool(tmp_path):
    exprs = _all_expressions()
    assert len(exprs) > 60
    leftover = [e for e in exprs.values() if re.search(r"\$(?!1\b)", e)]
    assert not leftover, f"unsubstituted variables: {leftover}"
    out = _promtool_check(tmp_path, exprs)
    assert out.returncode == 0, out.stdout + out.stderr
    assert f"SUCCESS: {len(exprs)} rules found" in out.stdout


def test_the_parse_check_rejects_a_broken_expression(tmp_path):
    out = _promtool_check(tmp_path, {"ok": "sum(scrapewatch_incidents_open)", "bad": "sum by (kind) (rate(x[5m])"})
    assert out.returncode != 0
    assert "unclosed left parenthesis" in out.stdout + out.stderr


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("sum(scrapewatch_incidents_open) or vector(0)", {"scrapewatch_incidents_open"}),
        (
            'histogram_quantile(0.9, sum by (le, probe) (rate(a_bucket{x=~"$y"}[$__rate_interval])))',
            {"a_bucket"},
        ),
        (
            'sum by (k) (increase(c_total{o!="success"}[5m])) or on () label_replace(vector(0), "k", "none", "", "")',
            {"c_total"},
        ),
        ("(time() - a_seconds) / on (instance, job) b_seconds", {"a_seconds", "b_seconds"}),
        ('count(ALERTS{alertstate="firing"}) > bool 1e3', {"ALERTS"}),
        ("max(x offset 5m) * 1000 unless ignoring (job) y", {"x", "y"}),
    ],
)
def test_metric_names_of_an_expression(expr, names):
    assert metric_names(expr) == names
