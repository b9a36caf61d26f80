"""Items the watchlist spider yields: raw facts about third-party pages, files and browser traffic, no judgement."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

ResourceKind = Literal["page", "script", "playlist", "audio", "sitemap"]


@dataclass
class WatchRequest:
    """One network request a rendered page made, attributed to the frame that made it.

    Requests made by the top-level document have ``is_main_frame`` True; a legitimate SoundCloud
    widget's media requests come from inside its ``w.soundcloud.com`` frame (``frame_url``) instead.
    ``status`` is None when no response arrived (``failure`` says why, when the browser told us).
    """

    page_url: str  # the page being rendered (the Scrapy request URL)
    url: str
    method: str
    resource_type: str  # Playwright's: document, script, fetch, xhr, media, image, ...
    # URL of the requesting frame when the request was made; for a navigation, the URL the frame navigates
    # to (its document). "" when unknown (service workers).
    frame_url: str
    is_main_frame: bool
    is_navigation: bool = False  # a frame navigating (its own document request)
    status: int | None = None
    content_type: str | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)  # response headers, lower-cased names
    failure: str | None = None  # the browser's error text for a request that failed


@dataclass
class WatchResource:
    """One fetch (or one deliberate non-fetch) of a URL found while crawling a watchlist target.

    ``kind`` says why the URL was fetched: a page to read and follow, a same-site script, an HLS
    playlist, the head of an audio file (``audio_byte_cap`` bytes; ``truncated`` when the file is
    longer), or a sitemap. A response of any status is a response (4xx/5xx also set ``error_kind``);
    ``error_kind`` without ``status`` means nothing arrived: a monitor.errors.ErrorKind value, including
    ``robots_disallowed`` (the URL was not requested because robots.txt forbids it) and
    ``egress_refused`` (a private address, or a redirect towards SoundCloud's own hosts, never crawled).

    Rendered pages (``rendered`` True, fetched by Chromium) fold the browser's view into the same item
    rather than a separate page summary: ``body`` is the serialised DOM after scripts ran, ``screenshot``
    a PNG of the viewport, and ``requests`` every network request the page and its frames made.
    """

    target: str  # the watch target's name
    kind: ResourceKind
    url: str  # the URL requested first
    final_url: str | None = None  # after redirects
    status: int | None = None
    headers: dict[str, list[str]] = field(default_factory=dict)  # lower-cased names, every value
    content_type: str | None = None
    body: bytes = b""  # cut at the cap (the audio cap for kind audio)
    size: int = 0  # bytes received (may exceed len(body) when truncated)
    truncated: bool = False
    redirects: list[str] = field(default_factory=list)  # URLs redirected through, in order
    depth: int = 0  # link hops from a start URL (sitemap entries count as one hop)
    found_on: str | None = None  # the page (or sitemap) that referred to this URL; None for start URLs
    fetched_at: str = ""  # ISO-8601 UTC
    duration_seconds: float = 0.0
    error_kind: str | None = None
    error_detail: str | None = None  # short human text, never used as a metric label
    rendered: bool = False
    robots_obeyed: bool = True  # False: the target overrode robots.txt (obey_robots=False)
    screenshot: bytes | None = None  # PNG, rendered pages only
    requests: list[WatchRequest] = field(default_factory=list)  # rendered pages only
