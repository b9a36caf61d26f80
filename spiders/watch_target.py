"""The watch spider's ``target`` argument: what a crawl of one watchlist site may do, validated."""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from typing import Any

TARGET_KEYS = frozenset(
    {
        "name",
        "start_urls",
        "max_depth",
        "max_pages",
        "max_resources",
        "follow_sitemap",
        "obey_robots",
        "render",
        "audio_byte_cap",
        "extra_hosts",
    }
)


@dataclass(frozen=True)
class WatchTargetArgs:
    """The spider's ``target`` argument, validated (monitor.settings.WatchTarget is its config twin)."""

    name: str
    start_urls: list[str]
    max_depth: int = 2
    max_pages: int = 50
    max_resources: int = 100  # scripts, playlists, audio heads and sitemaps, all together
    follow_sitemap: bool = True
    obey_robots: bool = True
    render: bool = False
    audio_byte_cap: int = 512 * 1024  # the audio matcher needs ~6 s of sound: 13 s at 320 kbit/s
    extra_hosts: list[str] = field(default_factory=list)


def parse_target(target: Any) -> WatchTargetArgs:
    """Validate ``target`` (a dict, or its JSON text, as ``scrapy crawl watch -a target=…`` passes it)."""
    if isinstance(target, str | bytes):
        try:
            target = json.loads(target)
        except ValueError as exc:
            raise ValueError(f"target is not valid JSON: {exc}") from None
    if not isinstance(target, dict):
        raise ValueError("target must be a mapping with at least 'name' and 'start_urls'")
    unknown = sorted(set(target) - TARGET_KEYS)
    if unknown:
        raise ValueError(f"unknown target keys: {unknown}")
    if not isinstance(target.get("name"), str) or not target["name"]:
        raise ValueError("target needs a non-empty string 'name'")
    urls = target.get("start_urls")
    if not isinstance(urls, list) or not urls or not all(isinstance(u, str) for u in urls):
        raise ValueError("target needs 'start_urls', a non-empty list of URLs")
    for key in ("max_depth", "max_pages", "max_resources", "audio_byte_cap"):
        value = target.get(key)
        minimum = 0 if key == "max_depth" else 1
        if value is not None and (not isinstance(value, int) or isinstance(value, bool) or value < minimum):
            raise ValueError(f"target {key} must be an integer >= {minimum}")
    hosts = target.get("extra_hosts", [])
    if not isinstance(hosts, list) or not all(isinstance(h, str) for h in hosts):
        raise ValueError("target extra_hosts must be a list of host names")
    return replace(WatchTargetArgs(**target), extra_hosts=[h.strip().lower().rstrip(".") for h in hosts])
