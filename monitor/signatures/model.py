"""The signature engine's value types (resources, requests, matches, track references) and severity helpers."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from monitor.signatures.tags import FileTags

SEVERITIES: tuple[str, ...] = ("info", "low", "medium", "high", "critical")
_RANK = {s: i for i, s in enumerate(SEVERITIES)}
SNIPPET_CHARS = 300


def severity_rank(severity: str) -> int:
    """0 for info … 4 for critical; unknown names rank as info."""
    return _RANK.get(severity, 0)


def raise_to(severity: str, floor: str) -> str:
    """The more severe of the two."""
    return severity if severity_rank(severity) >= severity_rank(floor) else floor


@dataclass(frozen=True)
class Resource:
    """One fetched thing from a third-party site.

    ``kind`` is ``page``, ``script``, ``playlist``, ``audio`` or ``other``; ``headers`` has lower-cased names and
    every value; ``frame_url`` is the frame document that made or holds it (rendered crawls); ``tags`` are the
    audio file's tags when the crawler already read them (otherwise the engine reads them from ``body``).
    """

    url: str
    kind: str
    status: int | None = None
    content_type: str = ""
    body: bytes = b""
    headers: Mapping[str, list[str]] = field(default_factory=dict)
    frame_url: str | None = None
    tags: FileTags | None = None


@dataclass(frozen=True)
class NetworkRequest:
    """A request captured by a rendered (browser) crawl, with the frame that made it."""

    url: str
    method: str = "GET"
    resource_type: str = ""
    frame_url: str = ""
    is_main_frame: bool = True
    status: int | None = None
    content_type: str = ""
    headers: Mapping[str, list[str]] = field(default_factory=dict)


@dataclass(frozen=True)
class TrackRef:
    """What a match says about which track; any part may be None."""

    track_id: str | None = None
    media_token: str | None = None
    permalink: str | None = None
    secret_token: str | None = None
    urn: str | None = None


@dataclass(frozen=True)
class Match:
    """One signature hit: reference id, family, final severity, where it was found and the evidence."""

    signature: str
    family: str
    severity: str
    url: str
    detail: str
    snippet: str
    track: TrackRef | None = None
    data: dict = field(default_factory=dict)


def max_severity(matches: Iterable[Match]) -> str | None:
    """The highest severity among ``matches``; None when there are none."""
    best: str | None = None
    for m in matches:
        if best is None or severity_rank(m.severity) > severity_rank(best):
            best = m.severity
    return best


# Second path segments that make /{user}/{x} a user sub-page rather than a track (yt-dlp's list plus "sets").
_NOT_TRACK = frozenset({"tracks", "albums", "sets", "reposts", "likes", "spotlight", "comments", "popular-tracks"})
_NOT_TRACK |= frozenset({"followers", "following", "recommended", "toptracks", "playlists", "stations"})
# First path segments that are SoundCloud's own pages, never a user.
RESERVED_FIRST = frozenset(
    {"discover", "stations", "search", "charts", "tags", "pages", "you", "upload", "settings", "oembed", "messages"}
    | {"notifications", "people", "groups", "jobs", "imprint", "terms-of-use", "popular", "mobile", "logout"}
    | {"signin", "login", "signup", "player", "widget", "connect", "apps", "go", "creators", "premium", "pro"}
    | {"artists", "stream", "feed", "home", "for-artists", "press", "community-guidelines", "getting-started"}
)
PERMALINK = re.compile(
    r"(?i)https?://(?:www\.|m\.)?soundcloud\.com/([\w-]+)/"
    r"(?!(?:tracks|albums|sets|reposts|likes|spotlight|comments|popular-tracks)/?(?:$|[?#\s\"']))"
    r"([\w-]+)(?:/(s-[A-Za-z0-9]{5,}))?"
)
_URN = re.compile(r"(?i)soundcloud(?::|%3A)tracks(?::|%3A)(\d{1,12})")
_API_TRACK = re.compile(r"(?i)api(?:-v2)?\.soundcloud\.com/tracks/(?:soundcloud(?::|%3A)tracks(?::|%3A))?(\d{1,12})\b")
MEDIA_TOKEN = re.compile(
    r"(?:cf-media\.sndcdn\.com/|cf-hls-media\.sndcdn\.com/(?:playlist/|media/(?:\d+/){2,3})"
    r"|cf-preview-media\.sndcdn\.com/preview/\d+/\d+/|playback\.media-streaming\.soundcloud\.cloud/"
    r"|(?:ec|ak)-media\.sndcdn\.com/|media\.soundcloud\.com/stream/)([A-Za-z0-9]{12})(?![A-Za-z0-9])",
    re.I,
)
_SECRET = re.compile(r"(?i)secret_token(?:=|%3D)(s-[A-Za-z0-9]{5,})")
_FILE_ID = re.compile(r"(?i)soundcloud[_-](\d{5,11})(?!\d)|\(soundcloud, (\d{5,11})\)")


def permalink_of(text: str) -> tuple[str, str | None] | None:
    """The first track permalink in ``text`` as ``("https://soundcloud.com/{user}/{track}", secret_token)``.

    Slugs are lower-cased (SoundCloud permalinks are), ``m.``/``www.`` dropped; user sub-pages (``/sets``,
    ``/likes``…) and SoundCloud's reserved first segments (``/discover``, ``/search``…) are not tracks.
    """
    for m in PERMALINK.finditer(text[:65536]):
        user, track = m.group(1).lower(), m.group(2).lower()
        if user in RESERVED_FIRST or track in _NOT_TRACK:
            continue
        return f"https://soundcloud.com/{user}/{track}", m.group(3)
    return None


def track_ref(*texts: str) -> TrackRef | None:
    """Collect track id, URN, media token, permalink and secret token from ``texts``; None when none is named."""
    found: dict[str, str | None] = {"track_id": None, "media_token": None, "permalink": None, "secret_token": None}
    urn = None
    for text in texts:
        if not text:
            continue
        text = text[:65536]
        if urn is None and (m := _URN.search(text)):
            urn, found["track_id"] = f"soundcloud:tracks:{m.group(1)}", found["track_id"] or m.group(1)
        if found["track_id"] is None and (m := _API_TRACK.search(text) or _FILE_ID.search(text)):
            found["track_id"] = next(g for g in m.groups() if g)
        if found["media_token"] is None and (m := MEDIA_TOKEN.search(text)):
            found["media_token"] = m.group(1)
        if found["permalink"] is None and (p := permalink_of(text)):
            found["permalink"], found["secret_token"] = p[0], found["secret_token"] or p[1]
        if found["secret_token"] is None and (m := _SECRET.search(text)):
            found["secret_token"] = m.group(1)
    if urn is None and found["track_id"]:
        urn = f"soundcloud:tracks:{found['track_id']}"
    if not any(found.values()) and urn is None:
        return None
    return TrackRef(urn=urn, **found)
