"""Items the scraping spiders yield: what a downloader answered for a canary track, and archive / dataset API
pages with their rows already parsed out of the wire format. Raw facts only; monitor.scraping judges them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal

from spiders.watch_items import WatchRequest

CanaryStep = Literal["form", "submit", "api", "browser", "download"]


@dataclass
class CanaryFetch:
    """One fetch a canary probe made while following a downloader recipe.

    ``step`` says which part of the recipe it was: the page holding the form (``form``), the form submission
    (``submit``), the API call (``api``), the rendered browser session (``browser``), or the head of a file the
    result offered (``download``, at most ``byte_cap`` bytes; ``truncated`` when the file is longer).
    ``recipe_problem`` is set when the recipe could not be followed at this point (no form with the field, a
    browser step that failed); ``failed_step`` is then the 0-based index of the browser step. A response of any
    status is a response (4xx/5xx also set ``error_kind``); ``error_kind`` without ``status``: nothing arrived.
    """

    service: str
    canary_url: str
    step: CanaryStep
    url: str  # the URL requested first
    method: str = "GET"
    request_body: bytes = b""  # what was submitted (form data, API body)
    request_headers: dict[str, list[str]] = field(default_factory=dict)
    final_url: str | None = None
    status: int | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-cased names, every value
    content_type: str | None = None
    body: bytes = b""  # cut at the cap
    size: int = 0  # bytes received (may exceed len(body) when truncated)
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)
    found_on: str | None = None  # the result that offered this download
    result_found: bool | None = None  # the recipe's result_selector matched (None: no selector configured)
    recipe_problem: str | None = None
    failed_step: int | None = None
    error_kind: str | None = None
    error_detail: str | None = None
    fetched_at: str = ""
    duration_seconds: float = 0.0
    rendered: bool = False
    screenshot: bytes | None = None  # PNG, browser recipes
    requests: list[WatchRequest] = field(default_factory=list)  # browser recipes: every request, with its frame


ArchiveKind = Literal["cdx", "collinfo", "num_pages", "cc_index", "hub_search", "dataset_card", "splits", "rows"]


@dataclass
class ArchivePage:
    """One request to an archive index or a dataset hub, with what its answer held.

    ``rows`` are the answer's records in the wire format's own field names: Wayback CDX rows as dicts keyed
    by the header row, Common Crawl NDJSON objects, or dataset-viewer ``row`` objects. ``parse_error`` says why
    an answer could not be read (malformed JSON, gzip that is not); ``bad_lines`` counts NDJSON lines skipped
    (a truncated last line). ``attempts`` counts requests made for this page, ``retry_waits`` the Retry-After
    waits honoured (seconds, capped). ``stop`` explains why no further page of this query followed:
    ``complete``, ``page_cap``, ``loop`` (a resume key or page seen twice), ``rate_limited`` (429/503 after every
    retry), ``error`` or ``stopping``.
    """

    source: str  # wayback | common_crawl | the dataset hub's name
    kind: ArchiveKind
    query: str  # the URL pattern, search term or dataset id this page belongs to
    url: str
    page: int = 0
    status: int | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)
    content_type: str | None = None
    body: bytes = b""  # as received, cut at the cap
    size: int = 0
    truncated: bool = False
    rows: list[dict[str, Any]] = field(default_factory=list)
    resume_key: str | None = None
    num_pages: int | None = None
    total: int | None = None  # dataset viewer: num_rows_total
    crawl: str | None = None  # Common Crawl: the crawl id (CC-MAIN-…)
    dataset: str | None = None  # dataset hub: owner/name
    parse_error: str | None = None
    bad_lines: int = 0
    attempts: int = 1
    retry_waits: list[float] = field(default_factory=list)
    stop: str | None = None
    resume: dict[str, Any] | None = None  # the run's last item: where the next run starts (spiders.archive_cursor)
    error_kind: str | None = None
    error_detail: str | None = None
    fetched_at: str = ""
    duration_seconds: float = 0.0
