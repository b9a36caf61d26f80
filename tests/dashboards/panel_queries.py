"""What the dashboards ask Prometheus: every panel target and variable query, with Grafana's variables filled in,
the metric names an expression reads, and the names a live /metrics page exports."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

from prometheus_client.parser import text_string_to_metric_families

ROOT = Path(__file__).resolve().parents[2]
GRAFANA = ROOT / "dashboards" / "grafana"
TRIAGE_PARAMS = {"status", "severity", "kind", "domain", "q"}  # README: the filters /triage understands
# Series Prometheus makes itself: scrape health and the state of its alert rules.
PROMETHEUS_SERIES = {"up", "ALERTS"}


def dashboards() -> dict[str, dict[str, Any]]:
    """The committed dashboard JSON files, by uid."""
    out = {}
    for path in sorted(GRAFANA.glob("*.json")):
        d = json.loads(path.read_text())
        out[d["uid"]] = d
    return out


def panels(dashboard: dict[str, Any]) -> list[dict[str, Any]]:
    """Every panel that draws something (rows are containers), also those nested in collapsed rows."""
    out = []
    for p in dashboard["panels"]:
        if p["type"] == "row":
            out.extend(p.get("panels", []))
        else:
            out.append(p)
    return out


@dataclass(frozen=True)
class Target:
    uid: str
    panel: str
    panel_type: str
    ref: str
    expr: str
    instant: bool
    range: bool

    @property
    def id(self) -> str:
        return f"{self.uid}/{self.panel}/{self.ref}"


def targets() -> list[Target]:
    return [
        Target(uid, p["title"], p["type"], t["refId"], t["expr"], t.get("instant", False), t.get("range", True))
        for uid, d in dashboards().items()
        for p in panels(d)
        for t in p["targets"]
    ]


@dataclass(frozen=True)
class VariableQuery:
    uid: str
    name: str
    label: str
    selector: str

    @property
    def id(self) -> str:
        return f"{self.uid}/${self.name}"


LABEL_VALUES = re.compile(r"^label_values\((?P<selector>.+),\s*(?P<label>[a-zA-Z_]\w*)\)$")


def variable_queries() -> list[VariableQuery]:
    out = []
    for uid, d in dashboards().items():
        for v in d["templating"]["list"]:
            if v["type"] != "query":
                continue
            m = LABEL_VALUES.match(v["definition"])
            assert m, f"{uid}: variable {v['name']} is not a label_values(selector, label) query"
            out.append(VariableQuery(uid, v["name"], m["label"], m["selector"]))
    return out


def substitute(text: str, values: dict[str, str]) -> str:
    """Replace Grafana variables (``$name``, ``${name}``, ``${name:format}``) named in ``values``; anything else,
    like label_replace's ``$1``, stays as it is."""

    def repl(m: re.Match) -> str:
        name = m.group(1) or m.group(2)
        return values[name] if name in values else m.group(0)

    return re.sub(r"\$\{(\w+)(?::[^}]*)?\}|\$(\w+)", repl, text)


def grafana_values(range_seconds: int, rate_interval: str = "30s", step: str = "1s") -> dict[str, str]:
    """What Grafana puts in place of its built-in variables, and "All" (``.*``) for every dashboard variable."""
    values = {"__rate_interval": rate_interval, "__interval": step, "__range": f"{range_seconds}s"}
    values.update({v.name: ".*" for v in variable_queries()})
    return values


_STRINGS = re.compile(r'"(?:[^"\\]|\\.)*"|\'(?:[^\'\\]|\\.)*\'|`[^`]*`')
_GROUPING = re.compile(r"\b(?:by|without|on|ignoring|group_left|group_right)\s*\([^)]*\)")
_IDENT = re.compile(r"(?<![\w.:])([a-zA-Z_:][a-zA-Z0-9_:]*)(?![\w:])(?!\s*\()")
_KEYWORDS = {"and", "or", "unless", "bool", "offset", "by", "without", "on", "ignoring", "group_left",
             "group_right", "atan2", "inf", "nan", "Inf", "NaN"}  # fmt: skip


def metric_names(expr: str) -> set[str]:
    """The metric names a PromQL expression selects (not functions, keywords, label names or label values)."""
    text = _STRINGS.sub('""', expr)
    text = re.sub(r"\{[^}]*\}", " ", text)  # label matchers
    text = re.sub(r"\[[^\]]*\]", " ", text)  # range and subquery durations
    text = re.sub(r"\boffset\s+\S+", " ", text)
    text = _GROUPING.sub(" ", text)
    text = re.sub(r"\b(?:by|without)\s*$", " ", text)
    return {m for m in _IDENT.findall(text) if m not in _KEYWORDS}


def exported_names(metrics_text: str) -> set[str]:
    """Every series name a /metrics page offers: families (also those without samples yet), their samples
    (a histogram's _bucket, _sum, _count) and a counter's _total."""
    names: set[str] = set()
    for family in text_string_to_metric_families(metrics_text):
        names.add(family.name)
        names.update(s.name for s in family.samples)
        if family.type == "counter":
            names.add(f"{family.name}_total")
    return names


def links(panel: dict[str, Any]) -> list[dict[str, Any]]:
    """Panel links, data links of every field and links put on single table columns by overrides."""
    found = list(panel.get("links", []))
    found += panel["fieldConfig"]["defaults"].get("links", [])
    for override in panel["fieldConfig"].get("overrides", []):
        for prop in override["properties"]:
            if prop["id"] == "links":
                found += [{**link, "field": override["matcher"]["options"]} for link in prop["value"]]
    return found


def triage_params(url: str) -> tuple[str, dict[str, str]]:
    """(path, query parameters) of a triage link, with ${scrapewatch_url} standing for the daemon."""
    assert url.startswith("${scrapewatch_url}/triage"), url
    parts = urlsplit(url.replace("${scrapewatch_url}", "http://scrapewatch", 1))
    return parts.path, dict(parse_qsl(parts.query, keep_blank_values=True))
