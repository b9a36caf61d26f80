"""Grafana dashboards as code: one module per dashboard, rendered by ``model`` (``python dashboards/generate.py``)."""

from __future__ import annotations

from typing import Any

from dashboards.generator import exposure, health, overview, policy
from dashboards.generator.model import render

MODULES = (overview, policy, exposure, health)


def build() -> dict[str, dict[str, Any]]:
    """Every dashboard's JSON, by file name (``<uid>.json``)."""
    return {f"{d.uid}.json": render(d) for d in (m.dashboard() for m in MODULES)}
