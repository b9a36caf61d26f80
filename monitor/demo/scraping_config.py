"""The scraping probes' part of ``scrapewatch demo``: downloaders, archive and dataset endpoints on the simulated
internet, and the demo catalogue with its canary track."""

from __future__ import annotations

from importlib import resources
from pathlib import Path
from typing import Any

DEMO_INTERVAL = 30


def demo_catalogue_path() -> Path:
    """The bundled demo catalogue (monitor/demo/sites/catalogue.yaml): the canary track and a no-AI track."""
    return Path(str(resources.files("monitor.demo").joinpath("sites", "catalogue.yaml")))


def demo_scraping_settings(proxy_url: str) -> dict[str, Any]:
    """A configuration fragment (``http``, ``catalogue``, ``scraping``) that probes the simulated downloaders,
    Wayback, Common Crawl and dataset hub behind ``proxy_url``; merge it into the demo's settings."""
    every = {"interval_seconds": DEMO_INTERVAL}
    endpoint = {
        **every,
        "enabled": True,
        "rate_limit_seconds": 0.1,
        "max_retry_wait_seconds": 5.0,
        "max_pages_per_run": 100,
    }
    return {
        "http": {"proxy": proxy_url, "no_proxy": []},
        "catalogue": {"path": str(demo_catalogue_path())},
        "scraping": {
            "downloaders": [
                {"name": "rip-canary", "kind": "form", "url": "http://rip-canary.example/", "field": "url",
                 "result_selector": ".result", **every},
                {"name": "rip-broken", "kind": "form", "url": "http://rip-broken.example/", "field": "url", **every},
            ],
            "wayback": {**endpoint, "base_url": "http://web.archive.test", "page_size": 2},
            "common_crawl": {**endpoint, "base_url": "http://index.commoncrawl.test", "crawls": 2},
            "dataset_hub": {
                **endpoint, "base_url": "http://huggingface.test",
                "viewer_url": "http://datasets-server.huggingface.test", "rows_page_size": 25,
            },
            "downloader_domains": ["sc2mp3-fast.example"],
            "jitter_seconds": 2,
        },
    }  # fmt: skip
