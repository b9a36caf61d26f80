"""Settings sections for the audits, the watchlist, the catalogue and alerts (the models only; monitor.config
loads them)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from spiders.watch_scope import is_soundcloud_host


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", validate_assignment=True)


class WatchTarget(_Section):
    """A third-party site crawled for exposed SoundCloud audio (the watch spider's ``target``)."""

    name: str = Field(min_length=1, description="Short name used in incidents and metrics.")
    start_urls: list[str] = Field(
        min_length=1, description="Where the crawl starts (http/https; never SoundCloud's own hosts)."
    )
    interval_seconds: int = Field(21600, ge=60, description="How often the site is crawled.")
    max_depth: int = Field(2, ge=0, le=20, description="Link hops followed from a start URL (sitemap entries: 1).")
    max_pages: int = Field(50, ge=1, le=10_000, description="Pages fetched per crawl, start URLs included.")
    max_resources: int = Field(
        100, ge=1, le=10_000, description="Scripts, playlists, audio heads and sitemaps fetched per crawl."
    )
    follow_sitemap: bool = Field(True, description="Also read /sitemap.xml (and a sitemap index, bounded).")
    obey_robots: bool = Field(
        True, description="Obey robots.txt; False fetches disallowed URLs and marks every item robots_obeyed=false."
    )
    render: bool = Field(False, description="Render pages in Chromium and capture every request with its frame.")
    audio_byte_cap: int = Field(
        262_144, ge=1, le=67_108_864, description="Bytes fetched from the head of each linked audio file."
    )
    extra_hosts: list[str] = Field(
        default_factory=list, description="Hosts besides the start URLs' sites whose links may be followed."
    )

    @field_validator("start_urls")
    @classmethod
    def _start_urls(cls, value: list[str]) -> list[str]:
        for url in value:
            parts = urlsplit(url)
            if parts.scheme not in {"http", "https"} or not parts.hostname:
                raise ValueError(f"start URL {url!r} is not an http(s) URL with a host")
            if is_soundcloud_host(parts.hostname):
                raise ValueError(f"start URL {url!r} is on SoundCloud's own hosts, which watch crawls never request")
        return value

    @field_validator("extra_hosts")
    @classmethod
    def _extra_hosts(cls, value: list[str]) -> list[str]:
        hosts = [host.strip().lower().rstrip(".") for host in value]
        for host in hosts:
            if not host or "/" in host or ":" in host:
                raise ValueError(f"extra host {host!r} must be a bare host name")
            if is_soundcloud_host(host):
                raise ValueError(f"extra host {host!r} is SoundCloud's own host, which watch crawls never request")
        return hosts


class WatchSettings(_Section):
    """Third-party sites to crawl."""

    targets: list[WatchTarget] = Field(default_factory=list, description="Watchlist of third-party sites.")
    chromium_path: str = Field(
        "/usr/bin/chromium", description="Chromium executable for targets with render: true (Debian's chromium)."
    )
    resolve_after_clean_runs: int = Field(
        3, ge=1, le=100, description="Consecutive clean crawls of a target after which its exposure incidents resolve."
    )


class CatalogueSettings(_Section):
    """Protected tracks (ids, permalinks, canaries)."""

    path: Path | None = Field(None, description="CSV or YAML file of protected tracks.")


def _default_path_classes() -> dict[str, list[str]]:
    return {
        "home": ["/"],
        "track": ["/forss/flickermood", "/user-123456789/untitled-track"],
        "set": ["/forss/sets/soulhack"],
        "audio": [
            "/media/soundcloud:tracks:293/4b1e2b52-3f2c-4f8b-9a0b-3d9c2f1f6f0a/stream/hls",
            "/tracks/293/streams",
        ],
    }


class PolicyExpectation(_Section):
    """What SoundCloud's signals must say; a breach is a high-severity incident."""

    agents: Literal["all"] | list[str] = Field(
        "all", description="AI agents the expectation covers: 'all' (the registry) or a list of tokens."
    )
    disallowed_on: list[str] = Field(
        default_factory=lambda: ["track", "set", "audio"],
        description="Path classes these agents must not be allowed to crawl.",
    )
    training_reserved: bool = Field(True, description="Whether train-ai use must be reserved (a 'no' signal).")


class PolicySettings(_Section):
    """The AI-policy audit: agents, sample URLs per path class, and the expected policy."""

    agents_file: Path | None = Field(
        None, description="CSV or JSON agent registry used instead of the bundled list of AI crawlers."
    )
    path_classes: dict[str, list[str]] = Field(
        default_factory=_default_path_classes,
        description="Sample URL paths per path class (home, track, set, audio, ...) checked for every agent.",
    )
    expect: PolicyExpectation = Field(default_factory=PolicyExpectation, description="The expected policy.")
    page_samples: list[str] = Field(
        default_factory=lambda: ["home", "track"],
        description="Path classes whose first sample page is fetched from every protected domain for its "
        "page-level signals (X-Robots-Tag, robots/noai meta, tdm-* headers and meta, Content-Usage header).",
    )
    max_licenses: int = Field(
        3, ge=0, le=20, description="RSL license documents (robots.txt License lines) fetched per domain and run."
    )

    @field_validator("path_classes")
    @classmethod
    def _paths(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, paths in value.items():
            if not paths:
                raise ValueError(f"path class {name!r} has no sample path")
            bad = [p for p in paths if not p.startswith("/")]
            if bad:
                raise ValueError(f"path class {name!r}: sample paths must start with '/': {bad}")
        return value

    @model_validator(mode="after")
    def _known_classes(self) -> PolicySettings:
        unknown = sorted(set(self.expect.disallowed_on) - set(self.path_classes))
        if unknown:
            raise ValueError(f"expect.disallowed_on names unknown path classes {unknown}")
        unknown = sorted(set(self.page_samples) - set(self.path_classes))
        if unknown:
            raise ValueError(f"page_samples names unknown path classes {unknown}")
        return self


class AlertChannel(_Section):
    """One Apprise destination."""

    name: str = Field(description="Channel name used in logs and metrics.")
    url: str = Field(description="Apprise URL; masked in every output.")
    min_severity: Literal["info", "low", "medium", "high", "critical"] = Field(
        "low", description="Lowest severity sent to this channel."
    )


class AlertSettings(_Section):
    """Where alerts go. With no channel, alerts are written to the log only."""

    channels: list[AlertChannel] = Field(default_factory=list, description="Apprise channels.")
    dry_run: bool = Field(False, description="Log alerts instead of sending them.")
