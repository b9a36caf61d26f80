"""Settings sections for the audits, the watchlist, the catalogue and alerts (the models only; monitor.config
loads them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
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


Severity = Literal["info", "low", "medium", "high", "critical"]
_CHANNEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,39}$")


class AlertChannel(_Section):
    """One Apprise destination and the alerts it wants."""

    name: str = Field(description="Channel name used in logs, metrics and `alerts test NAME` (letters, digits, _ . -).")
    url: str = Field(
        description="Apprise URL (slack://, mailto://, json://, pagerduty://, ...); masked in every output."
    )
    min_severity: Severity = Field("low", description="Lowest severity sent to this channel.")
    kinds: list[str] = Field(default_factory=list, description="Incident kinds sent to this channel (empty: all).")
    domains: list[str] = Field(
        default_factory=list, description="Domains sent to this channel, subdomains included (empty: all)."
    )
    send_resolved: bool = Field(True, description="Whether resolutions are sent (probe recoveries always are).")
    rate_limit_per_minute: int = Field(
        20, ge=0, description="At most this many messages a minute; the rest wait for the next drain (0: no limit)."
    )
    digest: bool = Field(False, description="Send this channel the periodic digest of open incidents.")

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not _CHANNEL_NAME.match(value):
            raise ValueError("use 1-40 letters, digits, '_', '.' or '-' (it is a metric label)")
        if value == "log":
            raise ValueError("'log' is the built-in channel used when none is configured")
        return value

    @field_validator("domains")
    @classmethod
    def _domains(cls, value: list[str]) -> list[str]:
        return [d.strip().lower().rstrip(".") for d in value]

    @model_validator(mode="after")
    def _url(self) -> AlertChannel:
        from monitor.alerts.channels import url_problem  # Apprise is only imported when channels exist

        problem = url_problem(self.url)
        if problem:
            raise ValueError(f"channel {self.name!r}: url is {problem}")
        return self


class AlertMute(_Section):
    """Alerts of a domain (subdomains included) and/or an incident kind are recorded, not sent, until a time."""

    domain: str | None = Field(None, description="Muted domain, subdomains included.")
    kind: str | None = Field(None, description="Muted incident kind.")
    until: datetime = Field(description="End of the mute (ISO-8601; UTC when no offset is given).")
    reason: str = Field("", description="Why (shown by `mute list`).")

    @field_validator("until")
    @classmethod
    def _aware(cls, value: datetime) -> datetime:
        return value if value.tzinfo else value.replace(tzinfo=UTC)

    @model_validator(mode="after")
    def _something(self) -> AlertMute:
        if not self.domain and not self.kind:
            raise ValueError("a mute needs a domain, a kind or both")
        return self


class AlertSettings(_Section):
    """Where alerts go and how they are delivered. With no channel, alerts are written to the log only."""

    channels: list[AlertChannel] = Field(default_factory=list, description="Apprise channels.")
    dry_run: bool = Field(False, description="Log alerts instead of sending them (they are marked sent).")
    drain_interval_seconds: float = Field(10.0, ge=0.1, description="How often the sender drains the outbox.")
    send_timeout_seconds: float = Field(30.0, gt=0, description="A send that takes longer counts as failed.")
    max_attempts: int = Field(8, ge=1, description="Failed sends before a delivery becomes a dead letter.")
    retry_base_seconds: float = Field(
        30.0, ge=0, description="First retry delay; doubled per failed attempt, with jitter."
    )
    retry_max_seconds: float = Field(3600.0, ge=0, description="Longest delay between two attempts.")
    group_threshold: int = Field(
        5, ge=1, description="More pending alerts than this for one (channel, domain) go out as one grouped message."
    )
    probe_failures: int = Field(
        3, ge=1, description="Consecutive failed runs of one probe job that open a probe_health incident."
    )
    digest_interval_seconds: int = Field(
        86400, ge=60, description="How often channels with `digest: true` get a digest of open incidents."
    )
    api_base_url: str | None = Field(
        None, description="Base URL of the daemon's API used in alert links (default: http:// + http.listen)."
    )
    mutes: list[AlertMute] = Field(default_factory=list, description="Configured mutes.")

    @model_validator(mode="after")
    def _unique_names(self) -> AlertSettings:
        seen: set[str] = set()
        for channel in self.channels:
            if channel.name in seen:
                raise ValueError(f"channel name {channel.name!r} is used twice")
            seen.add(channel.name)
        return self
