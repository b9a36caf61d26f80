"""Settings of the third-party watchlist: the sites crawled for exposed SoundCloud audio and their limits."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

from pydantic import Field, field_validator

from monitor.net import is_soundcloud_host
from monitor.settings.base import Section

_SPKI_PIN = re.compile(r"[A-Za-z0-9+/]{43}=")


class WatchTarget(Section):
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
        524_288,
        ge=1,
        le=67_108_864,
        description="Bytes fetched from the head of each linked audio file (512 KiB: 13 s at 320 kbit/s, enough to "
        "fingerprint; tags sit in the head).",
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


class WatchSettings(Section):
    """Third-party sites to crawl."""

    targets: list[WatchTarget] = Field(default_factory=list, description="Watchlist of third-party sites.")
    chromium_path: str = Field(
        "/usr/bin/chromium", description="Chromium executable for targets with render: true (Debian's chromium)."
    )
    browser_spki_pin: str | None = Field(
        None,
        description="Test and demo aid: base64 SHA-256 SPKI pin of a TLS key Chromium accepts whatever its issuer "
        "(the simulated internet's, for `scan --render` through it). Leave unset in production.",
    )
    max_page_bytes: int = Field(
        64 * 1024 * 1024,
        ge=65_536,
        description="Bytes one rendered page may receive (wire or decoded, whichever is more; its frames and "
        "workers included) before it is closed with error kind too_large.",
    )
    max_crawl_bytes: int = Field(
        256 * 1024 * 1024,
        ge=65_536,
        description="Bytes the rendered pages of one crawl may receive together; past it the page is closed and "
        "the crawl renders no further page (error kind crawl_budget).",
    )
    browser_memory_bytes: int = Field(
        2 * 1024 * 1024 * 1024,
        ge=256 * 1024 * 1024,
        description="Memory (PSS) Chromium's processes may hold during a rendered crawl, checked every second; over "
        "it the open pages are closed (error kind browser_memory), then the browser is restarted.",
    )
    resolve_after_clean_runs: int = Field(
        3, ge=1, le=100, description="Consecutive clean crawls of a target after which its exposure incidents resolve."
    )

    @field_validator("browser_spki_pin")
    @classmethod
    def _pin(cls, value: str | None) -> str | None:
        # It becomes a Chromium switch value: only a base64 SHA-256 digest is accepted.
        if value is not None and not _SPKI_PIN.fullmatch(value.strip()):
            raise ValueError("expected a base64 SHA-256 SPKI pin (44 characters ending in '=')")
        return value.strip() if value is not None else None
