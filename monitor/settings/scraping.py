"""Settings of the scraping probes: downloader canary recipes, Wayback, Common Crawl and dataset hubs."""

from __future__ import annotations

from typing import ClassVar, Literal
from urllib.parse import urlsplit

from pydantic import Field, field_validator, model_validator

from monitor.net import is_soundcloud_host
from monitor.settings.base import Section, http_url

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


class RecipeStep(Section):
    """One browser step of a downloader recipe (Playwright, in order)."""

    action: Literal["fill", "click", "wait_for"] = Field(
        description="fill: type a value into a field; click: click an element; wait_for: wait until it appears."
    )
    selector: str = Field(min_length=1, description="CSS selector of the element the step acts on.")
    value: str = Field("{canary}", description="fill only: the text typed; {canary} is the canary track URL.")


class DownloaderRecipe(Section):
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
        524_288,
        ge=1024,
        le=67_108_864,
        description="Bytes read from the head of each file the service delivers (512 KiB: 13 s at 320 kbit/s, "
        "enough to fingerprint).",
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
            http_url(self.url, "url")
        if self.url_template is not None:
            if "{url}" not in self.url_template:
                raise ValueError("url_template must contain {url}")
            http_url(self.url_template.replace("{url}", "x"), "url_template")
        target = self.url or (self.url_template or "").replace("{url}", "x")
        if is_soundcloud_host(urlsplit(target).hostname or ""):
            raise ValueError(f"{target!r} is on SoundCloud's own hosts, which probes never request")
        return self


class Endpoint(Section):
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
        return http_url(value, "base URL").rstrip("/")


class WaybackEndpoint(Endpoint):
    """The Internet Archive's Wayback CDX server (JSON arrays, header row, resume keys)."""

    base_url: str = Field("https://web.archive.org", description="Wayback base URL (…/cdx/search/cdx is appended).")
    page_size: int = Field(500, ge=1, le=10_000, description="Rows per CDX page (limit=).")

    kind: ClassVar[str] = "wayback"


class CommonCrawlEndpoint(Endpoint):
    """The Common Crawl index server (collinfo.json, then NDJSON pages per monthly crawl)."""

    base_url: str = Field("https://index.commoncrawl.org", description="Index server base URL (collinfo.json).")
    crawls: int = Field(2, ge=1, le=50, description="Latest monthly crawls queried per run.")

    kind: ClassVar[str] = "common_crawl"


class DatasetHubEndpoint(Endpoint):
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


class ScrapingSettings(Section):
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
