"""Settings sections for the audits, the watchlist, the catalogue and alerts (the models only; monitor.config
loads them)."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path
from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from monitor.net import is_soundcloud_host

_SPKI_PIN = re.compile(r"[A-Za-z0-9+/]{43}=")


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
    browser_spki_pin: str | None = Field(
        None,
        description="Test and demo aid: base64 SHA-256 SPKI pin of a TLS key Chromium accepts whatever its issuer "
        "(the simulated internet's, for `scan --render` through it). Leave unset in production.",
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


# --- scraping probes: downloader canaries, archives and dataset hubs ------------------------------------------

_NAME = r"^[a-z0-9][a-z0-9_.-]{0,62}$"
_FIELD = r"^[\w.:\[\]-]{1,100}$"
# Where archived SoundCloud audio lives (reference §2.4): queried as URL prefixes in the archive indexes.
DEFAULT_MEDIA_HOSTS = (
    "cf-media.sndcdn.com",
    "cf-hls-media.sndcdn.com",
    "cf-hls-opus-media.sndcdn.com",
    "cf-preview-media.sndcdn.com",
    "playback.media-streaming.soundcloud.cloud",
    "ec-media.sndcdn.com",
    "media.soundcloud.com",
)


def _http_url(value: str, what: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in {"http", "https"} or not parts.hostname:
        raise ValueError(f"{what} {value!r} is not an http(s) URL with a host")
    return value


class RecipeStep(_Section):
    """One browser step of a downloader recipe (Playwright, in order)."""

    action: Literal["fill", "click", "wait_for"] = Field(
        description="fill: type a value into a field; click: click an element; wait_for: wait until it appears."
    )
    selector: str = Field(min_length=1, description="CSS selector of the element the step acts on.")
    value: str = Field("{canary}", description="fill only: the text typed; {canary} is the canary track URL.")


class DownloaderRecipe(_Section):
    """How to ask one downloader service for a track: an HTML form, an API URL template, or browser steps."""

    name: str = Field(pattern=_NAME, description="Service name used in incidents and metrics (a-z, 0-9, . _ -).")
    kind: Literal["form", "api", "browser"] = Field(description="form, api or browser (JavaScript sites).")
    url: str | None = Field(None, description="form / browser: the page that holds the form or the app.")
    field: str | None = Field(
        None, pattern=_FIELD, description="form: name of the input that takes the SoundCloud URL."
    )
    method: Literal["GET", "POST"] | None = Field(
        None, description="form: overrides the form's own method; api: the request method (default GET)."
    )
    url_template: str | None = Field(
        None, description="api: request URL with {url} where the percent-encoded canary URL goes."
    )
    body_template: str | None = Field(None, description="api: request body with {url} (the canary URL as is).")
    headers: dict[str, str] = Field(default_factory=dict, description="api: extra request headers.")
    steps: list[RecipeStep] = Field(default_factory=list, description="browser: the steps that submit the canary.")
    result_selector: str | None = Field(
        None, description="CSS selector every working result page has; its absence means the recipe broke."
    )
    interval_seconds: int = Field(21600, ge=10, description="How often the service is probed.")
    byte_cap: int = Field(
        262_144, ge=1024, le=67_108_864, description="Bytes read from the head of each file the service delivers."
    )
    max_downloads: int = Field(3, ge=0, le=20, description="Download links of a result that are fetched (heads).")
    step_timeout_seconds: float = Field(15.0, gt=0, le=120, description="browser: how long each step may take.")

    @model_validator(mode="after")
    def _complete(self) -> DownloaderRecipe:
        need = {"form": ("url", "field"), "api": ("url_template",), "browser": ("url", "steps")}[self.kind]
        missing = [name for name in need if not getattr(self, name)]
        if missing:
            raise ValueError(f"a {self.kind} recipe needs {', '.join(missing)}")
        if self.url:
            _http_url(self.url, "url")
        if self.url_template is not None:
            if "{url}" not in self.url_template:
                raise ValueError("url_template must contain {url}")
            _http_url(self.url_template.replace("{url}", "x"), "url_template")
        target = self.url or (self.url_template or "").replace("{url}", "x")
        if is_soundcloud_host(urlsplit(target).hostname or ""):
            raise ValueError(f"{target!r} is on SoundCloud's own hosts, which probes never request")
        return self


class _Endpoint(_Section):
    enabled: bool = Field(False, description="Query this endpoint; off by default so nothing public is contacted.")
    rate_limit_seconds: float = Field(2.0, ge=0, le=600, description="Pause between two requests to the endpoint.")
    max_pages_per_run: int = Field(25, ge=1, le=10_000, description="Requests (pages) one run may make at most.")
    max_retries: int = Field(3, ge=0, le=10, description="Retries of a 429 / 503 answer (after Retry-After).")
    max_retry_wait_seconds: float = Field(
        60.0, ge=0, le=3600, description="Longest wait honoured for one Retry-After (longer ones are capped)."
    )
    interval_seconds: int = Field(86400, ge=10, description="How often the endpoint is queried.")

    kind: ClassVar[str] = ""

    @property
    def source(self) -> str:
        """The name results and metrics carry (``wayback``, ``common_crawl`` or the hub's name)."""
        return self.kind

    @field_validator("base_url", "viewer_url", check_fields=False)
    @classmethod
    def _base(cls, value: str) -> str:
        return _http_url(value, "base URL").rstrip("/")


class WaybackEndpoint(_Endpoint):
    """The Internet Archive's Wayback CDX server (JSON arrays, header row, resume keys)."""

    base_url: str = Field("https://web.archive.org", description="Wayback base URL (…/cdx/search/cdx is appended).")
    page_size: int = Field(500, ge=1, le=10_000, description="Rows per CDX page (limit=).")

    kind: ClassVar[str] = "wayback"


class CommonCrawlEndpoint(_Endpoint):
    """The Common Crawl index server (collinfo.json, then NDJSON pages per monthly crawl)."""

    base_url: str = Field("https://index.commoncrawl.org", description="Index server base URL (collinfo.json).")
    crawls: int = Field(2, ge=1, le=50, description="Latest monthly crawls queried per run.")

    kind: ClassVar[str] = "common_crawl"


class DatasetHubEndpoint(_Endpoint):
    """A dataset hub (Hugging Face): dataset search, dataset cards and the dataset viewer's rows."""

    name: str = Field("huggingface", pattern=_NAME, description="Hub name used in incidents and metrics.")
    base_url: str = Field("https://huggingface.co", description="Hub base URL (search API, dataset cards).")
    viewer_url: str = Field(
        "https://datasets-server.huggingface.co", description="Dataset viewer base URL (/splits, /rows)."
    )
    search_terms: list[str] = Field(default_factory=lambda: ["soundcloud"], description="Dataset search queries.")
    datasets: list[str] = Field(default_factory=list, description="Dataset ids (owner/name) always checked.")
    max_datasets: int = Field(10, ge=1, le=1000, description="Datasets examined per run.")
    rows_page_size: int = Field(100, ge=1, le=100, description="Rows per dataset-viewer page (length=).")
    min_listing: int = Field(20, ge=1, description="SoundCloud track references that make a dataset a listing.")

    kind: ClassVar[str] = "dataset_hub"

    @property
    def source(self) -> str:
        return self.name


class ScrapingSettings(_Section):
    """Scraping probes: canary tracks sent to downloader services, archive indexes and dataset hubs."""

    downloaders: list[DownloaderRecipe] = Field(default_factory=list, description="Downloader services to probe.")
    canaries: list[str] = Field(
        default_factory=list,
        description="Catalogue track ids submitted to downloaders; empty = every catalogue track with canary: true.",
    )
    wayback: WaybackEndpoint = Field(default_factory=WaybackEndpoint, description="Wayback CDX queries.")
    common_crawl: CommonCrawlEndpoint = Field(default_factory=CommonCrawlEndpoint, description="Common Crawl index.")
    dataset_hub: DatasetHubEndpoint = Field(default_factory=DatasetHubEndpoint, description="Dataset hub search.")
    media_hosts: list[str] = Field(
        default_factory=lambda: list(DEFAULT_MEDIA_HOSTS),
        description="SoundCloud media hosts looked up in archives (captured audio).",
    )
    downloader_domains: list[str] = Field(
        default_factory=list,
        description="More downloader hosts looked up in archives (the recipes' hosts always are).",
    )
    jitter_seconds: int = Field(300, ge=0, description="Random delay added to each scraping probe run.")
    canary_resolve_after_clean_runs: int = Field(
        2, ge=1, le=100, description="Runs in which a service no longer delivers a canary before its incident resolves."
    )

    @field_validator("downloaders")
    @classmethod
    def _unique(cls, value: list[DownloaderRecipe]) -> list[DownloaderRecipe]:
        names = [r.name for r in value]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"downloader names must be unique: {twice}")
        return value

    @field_validator("media_hosts", "downloader_domains")
    @classmethod
    def _hosts(cls, value: list[str]) -> list[str]:
        hosts = [h.strip().lower().rstrip(".") for h in value]
        for host in hosts:
            if not host or "/" in host or ":" in host or " " in host:
                raise ValueError(f"{host!r} must be a bare host name")
        return hosts
