"""Bad-weather stand-ins for the scraping probes, served by the fake internet next to the demo sites: downloaders
that fail in the ways real ones do, and archive / dataset APIs that answer badly (in their real wire formats)."""

from __future__ import annotations

import gzip
import itertools
import json
from collections import Counter
from urllib.parse import parse_qs

from monitor.demo.exposure_media import PERMALINK, TRACK_ID, signed_progressive_url
from monitor.demo.internet import BackgroundInternet
from monitor.demo.model import Request, Response, Site, filler, html, redirect, text
from monitor.demo.sites import demo_sites
from monitor.runtime.crawl import CrawlService
from monitor.settings import load_settings

FAST = {"AUTOTHROTTLE_START_DELAY": 0.0, "DOWNLOAD_DELAY": 0.0}
CANARY = PERMALINK
JSON = "application/json"
HUGE_BYTES = 64 * 1024 * 1024
_FORM = '<form action="{action}" method="post"><input name="url" type="url"><button>Convert</button></form>'


def _page(title: str, body: str) -> Response:
    return html(f"<!doctype html><html><head><title>{title}</title></head><body>{body}</body></html>\n")


def form_site(host: str, action: str, answer: Response | object, **more: object) -> Site:
    """A downloader at ``host`` whose form posts to ``action``, which answers ``answer``."""
    routes = {"/": _page(host, _FORM.format(action=action)), action: answer, **more}
    return Site(host=host, routes=routes)


# --- downloaders ---------------------------------------------------------------------------------------------------

ERROR_200 = _page(
    "Error", '<div class="result-error"><h2>Something went wrong.</h2><p>Please try again later.</p></div>'
)
HUGE_RESULT = _page("Your file", '<div class="result"><a href="/big.bin" download>Download your file</a></div>')
REDIRECT_RESULT = _page(
    "Night Drive",
    f'<div class="result" data-track-id="{TRACK_ID}"><h2>Night Drive</h2>'
    '<a href="/dl/1" download>Download MP3</a></div>',
)

# A downloader that delivers the canary (phase 0), loses its form (phase 1), then works but no longer rips
# SoundCloud (phase 2): the canary incident opens, a probe-health incident opens, then both resolve.
PHASED = Site(
    host="phased.example",
    routes={
        "/": {
            0: _page("phased", _FORM.format(action="/convert")),
            1: _page("phased", "<p>new app soon</p>"),
            2: _page("phased", _FORM.format(action="/convert")),
        },
        "/convert": {0: REDIRECT_RESULT, 2: _page("phased", "<p>Your file is being prepared.</p>")},
        "/dl/1": redirect(signed_progressive_url(), 302),
    },
)

DOWNLOADERS = [
    PHASED,
    form_site("error200.example", "/convert", ERROR_200),
    form_site(
        "huge.example",
        "/convert",
        HUGE_RESULT,
        **{
            "/big.bin": Response(
                content_type="application/octet-stream", stream=filler(HUGE_BYTES, bytes(65536)), length=HUGE_BYTES
            )
        },
    ),
    form_site("redirect.example", "/convert", REDIRECT_RESULT, **{"/dl/1": redirect(signed_progressive_url(), 302)}),
    form_site("busy.example", "/convert", html("<html><body>Service Unavailable</body></html>", 503)),
    Site(
        host="apihtml.example",
        routes={"/api": _page("Error 500", "<h1>Internal error</h1><p>our API is down, try again</p>")},
    ),
    Site(host="jsbroken.example", routes={"/": _page("new layout", '<div id="new-app">nothing to fill</div>')}),
]


# --- archives and datasets ---------------------------------------------------------------------------------------

HITS: Counter[str] = Counter()
WAYBACK_HEADER = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
AUDIO_ROW = [
    "com,sndcdn,cf-media)/ab3def6hij9k.128.mp3",
    "20250314101522",
    "https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=eyJ0&Signature=FAKE&Key-Pair-Id=APKAEXAMPLE000000000",
    "audio/mpeg",
    "200",
    "7QJH2C4MZ5XQK3TVA6YB2LHN4PDEWR7S",
    "3541876",
]
AUDIO_JSON = json.dumps([WAYBACK_HEADER, AUDIO_ROW])


def _bad_cdx(request: Request) -> Response:
    """One misbehaviour per queried URL pattern (the ``url`` parameter)."""
    q = parse_qs(request.query)
    name = q.get("url", [""])[0]
    HITS[name] += 1
    if name == "malformed.example":
        return text(AUDIO_JSON[:-7], content_type=JSON)  # cut inside the last row
    if name == "notgzip.example":
        return text(AUDIO_JSON, content_type=JSON, headers=(("Content-Encoding", "gzip"),))
    if name == "realgzip.example":
        return Response(
            body=gzip.compress(AUDIO_JSON.encode()), content_type=JSON, headers=(("Content-Encoding", "gzip"),)
        )
    if name == "storm.example":
        return text("Too Many Requests\n", 429, headers=(("Retry-After", "30"),))
    if name == "retry.example" and HITS[name] == 1:
        return text("slow down\n", 429, headers=(("Retry-After", "1"),))
    if name == "unavailable.example" and HITS[name] == 1:
        return html("<html><body>503 Service Unavailable</body></html>", 503)
    if name == "empty.example":
        return text("[]", content_type=JSON)
    if name == "emptybody.example":
        return text("", content_type=JSON)
    if name == "loop.example":  # ignores resumeKey: the same page and key forever
        return text(json.dumps([WAYBACK_HEADER, AUDIO_ROW, [], ["com%2Csndcdn+20250314101522"]]), content_type=JSON)
    if name == "huge.example":
        return Response(content_type=JSON, stream=filler(HUGE_BYTES, b'[["urlkey", ' * 4096), length=HUGE_BYTES)
    if name == "object.example":
        return text('{"error": "not what a CDX server says"}', content_type=JSON)
    return text(AUDIO_JSON, content_type=JSON)


_NDJSON = json.dumps(
    {
        "urlkey": "example,rip)/file/soundcloud-1234567890.mp3",
        "timestamp": "20260519101010",
        "url": "http://rip.example/file/soundcloud-1234567890.mp3",
        "mime": "audio/mpeg",
        "mime-detected": "audio/mpeg",
        "status": "200",
        "digest": "NDJSONFILE000000000000000000000001",
        "length": "1204",
        "offset": "99",
        "filename": "crawl-data/CC-MAIN-2026-21/segments/1/warc/x.warc.gz",
    }
)


def _bad_cc_index(request: Request) -> Response:
    q = parse_qs(request.query)
    name = q.get("url", [""])[0]
    HITS[f"cc:{name}"] += 1
    if q.get("showNumPages") == ["true"]:
        pages = {"truncated.example": 1, "loop.example": 50, "nothing.example": 0}.get(name, 1)
        return text(json.dumps({"pages": pages, "pageSize": 5, "blocks": pages}), content_type=JSON)
    if name == "truncated.example":  # the last line was cut in transit
        return text(_NDJSON + "\n" + _NDJSON.replace("00001", "00002")[:80], content_type="text/x-ndjson")
    if name == "loop.example":  # ignores page=: every page is the first one
        return text(_NDJSON + "\n", content_type="text/x-ndjson")
    return text('{"message": "No Captures found for: ' + name + '"}', 404, content_type=JSON)


def _collinfo(request: Request) -> Response:
    crawl = {"id": "CC-MAIN-2026-21", "name": "May 2026", "cdx-api": "http://cc-bad.test/CC-MAIN-2026-21-index"}
    return text(json.dumps([crawl]), content_type=JSON)


def _hub_search(request: Request) -> Response:
    term = parse_qs(request.query).get("search", [""])[0]
    if term == "broken":
        return text("[{", content_type=JSON)
    if term == "looping":
        return text(json.dumps([{"id": "loop/forever"}]), content_type=JSON)
    return text("[]", content_type=JSON)


def _hub_rows(request: Request) -> Response:
    row = {"permalink_url": PERMALINK, "sc_track_id": TRACK_ID}
    answer = {"features": [], "rows": [{"row_idx": 0, "row": row}], "num_rows_total": 1000}  # offset ignored
    return text(json.dumps(answer), content_type=JSON)


def _hub_splits(request: Request) -> Response:
    return text(
        json.dumps({"splits": [{"dataset": "loop/forever", "config": "default", "split": "train"}]}), content_type=JSON
    )


ARCHIVES = [
    Site(host="cdx-bad.test", routes={"/cdx/search/cdx": _bad_cdx}),
    Site(host="cc-bad.test", routes={"/collinfo.json": _collinfo, "/CC-MAIN-2026-21-index": _bad_cc_index}),
    Site(host="cc-garbage.test", routes={"/collinfo.json": text("<html>maintenance</html>", content_type="text/html")}),
    Site(host="hub-bad.test", routes={"/api/datasets": _hub_search}),
    Site(host="viewer-bad.test", routes={"/splits": _hub_splits, "/rows": _hub_rows}),
]


def internet() -> BackgroundInternet:
    """The demo internet plus the bad-weather sites above."""
    sites = demo_sites()
    for site in DOWNLOADERS + ARCHIVES:
        for name in site.names:
            sites[name] = site
    return BackgroundInternet(sites)


def service(net: BackgroundInternet, **http: object) -> CrawlService:
    """A CrawlService routed through ``net`` (no retries, no politeness pauses except the endpoints' own)."""
    settings = load_settings(env={})
    settings.http.proxy = net.url
    settings.http.retries = 0
    for key, value in http.items():
        setattr(settings.http, key, value)
    return CrawlService(settings, scrapy_overrides=FAST)


def requested(net: BackgroundInternet, host: str) -> list[str]:
    """Paths requested from ``host`` through the fake internet, in order."""
    return [r.path for r in net.internet.requests if r.host == host]


def gaps(net: BackgroundInternet, host: str) -> list[float]:
    """Seconds between consecutive requests to ``host``."""
    times = [r.timestamp for r in net.internet.requests if r.host == host]
    return [b - a for a, b in itertools.pairwise(times)]


__all__ = ["CANARY", "FAST", "HITS", "gaps", "internet", "requested", "service"]
