"""Small dataclasses for dashboards, rows, panels and queries, rendered to Grafana dashboard JSON (schema 39)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

SCHEMA_VERSION = 39
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
SCRAPEWATCH_URL = "http://localhost:9410"
TAGS = ["scrapewatch"]


def triage(**params: str) -> str:
    """A link to the daemon's triage page; ``params`` are its filters (status, severity, kind, domain, q)."""
    query = urlencode(params, safe="${}._:") if params else ""
    return "${scrapewatch_url}/triage" + (f"?{query}" if query else "")


def or_zero(expr: str, **labels: str) -> str:
    """``expr``, or one series with value 0 (labelled ``labels``) when ``expr`` has no series at all.

    For counters and gauges that only appear once something happened (a job raised, a probe failed): there a
    zero is the honest answer, and a panel that says "0 / none" is clearer than "No data"."""
    zero = "vector(0)"
    for name, value in labels.items():
        zero = f'label_replace({zero}, "{name}", "{value}", "", "")'
    return f"{expr} or on () {zero}"


@dataclass(frozen=True)
class Query:
    """One PromQL target. ``instant``: one value at the end of the range (stats, tables); else a time series."""

    expr: str
    legend: str = ""
    instant: bool = False
    table: bool = False


@dataclass(frozen=True)
class Link:
    title: str
    url: str


@dataclass
class Panel:
    """A visualisation. ``links`` show in the panel's header menu; ``data_links`` on every value it draws."""

    type: str
    title: str
    description: str
    queries: list[Query]
    unit: str = "short"
    w: int = 8
    h: int = 8
    links: list[Link] = field(default_factory=list)
    data_links: list[Link] = field(default_factory=list)
    mappings: dict[Any, tuple[str, str]] = field(default_factory=dict)  # value -> (text, colour)
    thresholds: list[tuple[float | None, str]] = field(default_factory=lambda: [(None, "green")])
    color_mode: str = "thresholds"
    min: float | None = None
    max: float | None = None
    decimals: int | None = None
    no_value: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    custom: dict[str, Any] = field(default_factory=dict)
    overrides: list[dict[str, Any]] = field(default_factory=list)
    transformations: list[dict[str, Any]] = field(default_factory=list)
    repeat: str | None = None


@dataclass
class Row:
    title: str
    panels: list[Panel]


@dataclass
class Variable:
    """A dashboard variable whose values come from ``label_values(...)`` (multi-select, "All" is ``.*``)."""

    name: str
    query: str
    label: str = ""


@dataclass
class Dashboard:
    uid: str
    title: str
    description: str
    rows: list[Row]
    variables: list[Variable] = field(default_factory=list)
    time_from: str = "now-6h"


# ---- rendering -------------------------------------------------------------------------------------------------


def _mappings(mappings: dict[Any, tuple[str, str]]) -> list[dict[str, Any]]:
    if not mappings:
        return []
    options = {
        str(v): {"text": text, "color": color, "index": i} for i, (v, (text, color)) in enumerate(mappings.items())
    }
    return [{"type": "value", "options": options}]


def _link(link: Link) -> dict[str, Any]:
    return {"title": link.title, "url": link.url, "targetBlank": True}


def _target(q: Query, ref: str) -> dict[str, Any]:
    return {
        "refId": ref,
        "datasource": DATASOURCE,
        "editorMode": "code",
        "expr": q.expr,
        "legendFormat": q.legend or "__auto",
        "instant": q.instant,
        "range": not q.instant,
        "format": "table" if q.table else "time_series",
    }


def _default_options(p: Panel) -> dict[str, Any]:
    reduce = {"calcs": ["lastNotNull"], "fields": "", "values": False}
    legend = {"displayMode": "list", "placement": "bottom", "showLegend": True, "calcs": []}
    if p.type == "stat":
        return {"reduceOptions": reduce, "colorMode": "value", "graphMode": "area", "justifyMode": "auto",
                "orientation": "auto", "textMode": "auto", "wideLayout": True, "showPercentChange": False}  # fmt: skip
    if p.type == "bargauge":
        return {"reduceOptions": reduce, "orientation": "horizontal", "displayMode": "basic", "showUnfilled": True,
                "valueMode": "color", "namePlacement": "auto", "sizing": "auto", "minVizHeight": 16,
                "minVizWidth": 8, "maxVizHeight": 300}  # fmt: skip
    if p.type == "timeseries":
        return {"legend": legend, "tooltip": {"mode": "multi", "sort": "desc"}}
    if p.type == "state-timeline":
        return {"legend": legend, "tooltip": {"mode": "single", "sort": "none"}, "showValue": "auto",
                "mergeValues": True, "alignValue": "left", "rowHeight": 0.9}  # fmt: skip
    if p.type == "table":
        return {"showHeader": True, "cellHeight": "sm", "footer": {"show": False, "reducer": ["sum"], "fields": ""}}
    raise ValueError(f"unknown panel type {p.type}")


def _default_custom(p: Panel) -> dict[str, Any]:
    if p.type == "timeseries":
        return {"drawStyle": "line", "lineWidth": 1, "fillOpacity": 10, "showPoints": "never", "spanNulls": False,
                "axisPlacement": "auto", "stacking": {"mode": "none", "group": "A"}}  # fmt: skip
    if p.type == "state-timeline":
        return {"fillOpacity": 80, "lineWidth": 0}
    if p.type == "table":
        return {"align": "auto", "cellOptions": {"type": "auto"}, "inspect": False}
    return {}


def render_panel(p: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    defaults: dict[str, Any] = {
        "unit": p.unit,
        "color": {"mode": p.color_mode},
        "mappings": _mappings(p.mappings),
        "thresholds": {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in p.thresholds]},
        "links": [_link(link) for link in p.data_links],
        "custom": {**_default_custom(p), **p.custom},
    }
    for key in ("min", "max", "decimals"):
        if getattr(p, key) is not None:
            defaults[key] = getattr(p, key)
    if p.no_value is not None:
        defaults["noValue"] = p.no_value
    panel: dict[str, Any] = {
        "id": panel_id,
        "type": p.type,
        "title": p.title,
        "description": p.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": p.h, "w": p.w, "x": x, "y": y},
        "targets": [_target(q, chr(ord("A") + i)) for i, q in enumerate(p.queries)],
        "fieldConfig": {"defaults": defaults, "overrides": p.overrides},
        "options": {**_default_options(p), **p.options},
        "links": [_link(link) for link in p.links],
        "transformations": p.transformations,
    }
    if p.repeat:
        panel.update(repeat=p.repeat, repeatDirection="v")
    return panel


def _variables(d: Dashboard) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = [
        {"type": "datasource", "name": "datasource", "label": "Prometheus", "query": "prometheus",
         "current": {"selected": False, "text": "Prometheus", "value": "prometheus"},
         "hide": 0, "refresh": 1, "regex": "", "options": [], "skipUrlSync": False},
        {"type": "textbox", "name": "scrapewatch_url", "label": "scrapewatch URL (triage links)",
         "query": SCRAPEWATCH_URL, "current": {"selected": False, "text": SCRAPEWATCH_URL, "value": SCRAPEWATCH_URL},
         "options": [{"selected": True, "text": SCRAPEWATCH_URL, "value": SCRAPEWATCH_URL}],
         "hide": 0, "skipUrlSync": False,
         "description": "Base URL of the scrapewatch daemon as your browser reaches it; links open its /triage page."},
    ]  # fmt: skip
    for v in d.variables:
        out.append(
            {
                "type": "query",
                "name": v.name,
                "label": v.label or v.name,
                "datasource": DATASOURCE,
                "definition": v.query,
                "query": {"query": v.query, "refId": "PrometheusVariableQueryEditor-VariableQuery"},
                "refresh": 2,
                "multi": True,
                "includeAll": True,
                "allValue": ".*",
                "sort": 1,
                "regex": "",
                "current": {"selected": True, "text": ["All"], "value": ["$__all"]},
                "options": [],
                "hide": 0,
                "skipUrlSync": False,
            }
        )
    return out


def _layout(rows: list[Row]) -> list[dict[str, Any]]:
    """Rows one under the other; panels left to right inside a row, wrapping at Grafana's 24 columns."""
    panels: list[dict[str, Any]] = []
    y, next_id = 0, 1
    for row in rows:
        panels.append({"id": next_id, "type": "row", "title": row.title, "collapsed": False,
                       "gridPos": {"h": 1, "w": 24, "x": 0, "y": y}, "panels": []})  # fmt: skip
        next_id += 1
        y += 1
        x, line_height = 0, 0
        for p in row.panels:
            if not 0 < p.w <= 24:
                raise ValueError(f"panel {p.title!r}: width {p.w} is not within 1..24")
            if x + p.w > 24:
                y, x, line_height = y + line_height, 0, 0
            panels.append(render_panel(p, next_id, x, y))
            next_id += 1
            x += p.w
            line_height = max(line_height, p.h)
        y += line_height
    return panels


def render(d: Dashboard) -> dict[str, Any]:
    """The dashboard's JSON: links to the triage page and (by tag) to the other scrapewatch dashboards."""
    links = [
        {"title": "Triage page", "type": "link", "url": triage(), "icon": "external link", "targetBlank": True,
         "tooltip": "Open and acknowledged incidents on the scrapewatch daemon", "asDropdown": False,
         "includeVars": False, "keepTime": False, "tags": []},
        {"title": "scrapewatch", "type": "dashboards", "tags": TAGS, "asDropdown": True, "includeVars": True,
         "keepTime": True, "icon": "external link", "targetBlank": False, "tooltip": "", "url": ""},
    ]  # fmt: skip
    return {
        "uid": d.uid,
        "title": d.title,
        "description": d.description,
        "tags": TAGS,
        "editable": True,
        "graphTooltip": 1,
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "timezone": "utc",
        "time": {"from": d.time_from, "to": "now"},
        "refresh": "1m",
        "fiscalYearStartMonth": 0,
        "liveNow": False,
        "weekStart": "",
        "timepicker": {},
        "annotations": {"list": [
            {"builtIn": 1, "datasource": {"type": "grafana", "uid": "-- Grafana --"}, "enable": True, "hide": True,
             "iconColor": "rgba(0, 211, 255, 1)", "name": "Annotations & Alerts", "type": "dashboard"}]},
        "links": links,
        "templating": {"list": _variables(d)},
        "panels": _layout(d.rows),
    }  # fmt: skip
