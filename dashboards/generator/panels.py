"""Panel shapes used across the dashboards: stats, time series, bar gauges, tables and verdict matrices."""

from __future__ import annotations

from typing import Any

from dashboards.generator.model import Link, Panel, Query

RED, ORANGE, GREEN, BLUE = "red", "orange", "green", "blue"
SEVERITY_COLOURS = {"critical": "dark-red", "high": RED, "medium": ORANGE, "low": "yellow", "info": BLUE}


def stat(title: str, description: str, expr: str, unit: str = "short", **kw: Any) -> Panel:
    """One number (the latest value), with its recent history drawn behind it."""
    kw.setdefault("w", 4)
    kw.setdefault("h", 5)
    return Panel("stat", title, description, [Query(expr, kw.pop("legend", ""))], unit, **kw)


def timeseries(title: str, description: str, *queries: Query, unit: str = "short", **kw: Any) -> Panel:
    kw.setdefault("w", 12)
    kw.setdefault("color_mode", "palette-classic")
    return Panel("timeseries", title, description, list(queries), unit, **kw)


def bars(title: str, description: str, *queries: Query, unit: str = "short", **kw: Any) -> Panel:
    """Stacked bars: counts per interval (``increase(...[$__rate_interval])``)."""
    custom = {"drawStyle": "bars", "fillOpacity": 80, "stacking": {"mode": "normal", "group": "A"}}
    return timeseries(title, description, *queries, unit=unit, custom={**custom, **kw.pop("custom", {})}, **kw)


def bargauge(title: str, description: str, expr: str, legend: str, unit: str = "short", **kw: Any) -> Panel:
    """One bar per series, at the end of the range (an instant query)."""
    kw.setdefault("w", 8)
    return Panel("bargauge", title, description, [Query(expr, legend, instant=True)], unit, **kw)


def state_timeline(title: str, description: str, *queries: Query, **kw: Any) -> Panel:
    """One lane per series, coloured by the value mapping of each moment's value."""
    kw.setdefault("w", 12)
    return Panel("state-timeline", title, description, list(queries), "none", color_mode="thresholds", **kw)


def table(title: str, description: str, *queries: Query, unit: str = "short", **kw: Any) -> Panel:
    kw.setdefault("w", 12)
    kw.setdefault("h", 10)
    return Panel("table", title, description, list(queries), unit, **kw)


def matrix(title: str, description: str, expr: str, rows: str, columns: str, mappings: dict, **kw: Any) -> Panel:
    """A table with one row per value of label ``rows`` and one column per value of label ``columns``, each cell
    coloured by its value mapping (Grafana's "grouping to matrix" transformation over an instant query)."""
    kw.setdefault("w", 24)
    kw.setdefault("h", 12)
    return Panel(
        "table",
        title,
        description,
        [Query(expr, instant=True, table=True)],
        "none",
        mappings=mappings,
        custom={"align": "center", "cellOptions": {"type": "color-background", "mode": "basic"}},
        transformations=[
            {
                "id": "groupingToMatrix",
                "options": {"rowField": rows, "columnField": columns, "valueField": "Value", "emptyValue": "null"},
            },
        ],
        **kw,
    )


def severity_overrides() -> list[dict[str, Any]]:
    """Colour series named after a severity (legend ``{{severity}}``) the same on every dashboard."""
    return [
        {"matcher": {"id": "byName", "options": sev},
         "properties": [{"id": "color", "value": {"mode": "fixed", "fixedColor": colour}}]}
        for sev, colour in SEVERITY_COLOURS.items()
    ]  # fmt: skip


def field_link(field: str, link: Link) -> dict[str, Any]:
    """An override that puts ``link`` on the cells of one table column."""
    return {
        "matcher": {"id": "byName", "options": field},
        "properties": [{"id": "links", "value": [{"title": link.title, "url": link.url, "targetBlank": True}]}],
    }


def rename_columns(names: dict[str, str], exclude: tuple[str, ...] = ("Time",)) -> dict[str, Any]:
    """An "organize" transformation: hide ``exclude`` and give the remaining columns readable names."""
    return {"id": "organize", "options": {"excludeByName": dict.fromkeys(exclude, True), "renameByName": names}}
