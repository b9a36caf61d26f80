"""Archive and dataset-hub stand-ins in their real wire formats (reference §5, samples §6.3 and §6.4): a Wayback
CDX server with resume keys, a Common Crawl index (collinfo.json, then NDJSON pages), and a dataset hub with its
dataset viewer. In phase 1 the archive holds one more capture and the dataset grows (re-runs must update, once)."""

from __future__ import annotations

import json
import math
import re
from collections.abc import Callable
from urllib.parse import parse_qs, quote, unquote

from monitor.demo.exposure_media import PERMALINK, TRACK_ID
from monitor.demo.sites import Request, Response, Site, register, text

JSON = "application/json"
WAYBACK_FIELDS = ["urlkey", "timestamp", "original", "mimetype", "statuscode", "digest", "length"]
_SC_LINK = quote(PERMALINK, safe="")

# --- web.archive.test: the Wayback CDX server --------------------------------------------------------------------

# §6.4's three sndcdn rows (a 200 audio capture, a 403 XML error, a legacy 2014 capture), then downloader pages.
WAYBACK_ROWS: list[list[str]] = [
    ["com,sndcdn,cf-media)/ab3def6hij9k.128.mp3?key-pair-id=apkaexample000000000&policy=eyj0…&signature=fake",
     "20250314101522",
     "https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=eyJ0…&Signature=FAKE&Key-Pair-Id=APKAEXAMPLE000000000",
     "audio/mpeg", "200", "7QJH2C4MZ5XQK3TVA6YB2LHN4PDEWR7S", "3541876"],
    ["com,sndcdn,cf-media)/zz9yx8wv7ut6.128.mp3?key-pair-id=apkaexample000000000&policy=eyj0…&signature=fake",
     "20250402083011",
     "https://cf-media.sndcdn.com/Zz9Yx8Wv7Ut6.128.mp3?Policy=eyJ0…&Signature=FAKE&Key-Pair-Id=APKAEXAMPLE000000000",
     "text/xml", "403", "3I42H3S6NNFQ2MSVX7XZKYAYSCX5QBYJ", "412"],
    ["com,sndcdn,ec-media)/zz1ab2cd3ef4.128.mp3?f10880d39085a94a0418a7ef69b03d529c1e77a04b2d5f6e8a3c0d1b2e4f6a8c0e2a4"
     "c6e8f0b2d4f6a8c0e2b4d6f8a0c2e4a6", "20140917221455",
     "http://ec-media.sndcdn.com/Zz1Ab2Cd3Ef4.128.mp3?f10880d39085a94a0418a7ef69b03d529c1e77a04b2d5f6e8a3c0d1b2e4f6a8c"
     "0e2a4c6e8f0b2d4f6a8c0e2b4d6f8a0c2e4a6", "audio/mpeg", "200", "G5XUV3NW2OVR6AQ4MB7DPLJK4ZHYTE2C", "4012733"],
    ["example,rip-canary)/rip?url=https://soundcloud.com/example-artist/night-drive", "20260301120000",
     f"http://rip-canary.example/rip?url={_SC_LINK}", "text/html", "200", "RIPCANARYRESULTPAGE0000000000001", "2210"],
    ["example,sc2mp3-fast)/convert?url=https://soundcloud.com/example-artist/night-drive", "20260518043312",
     f"https://sc2mp3-fast.example/convert?url={_SC_LINK}", "text/html", "200", "Q2WZ7J4XK5N3M6P8R2T4V6Y8A1C3E5G7",
     "9184"],
]  # fmt: skip
# Phase 1: the archive captured the canary's audio once more (a new capture: the incident is updated once).
WAYBACK_PHASE1_ROWS: list[list[str]] = [
    ["com,sndcdn,cf-media)/ab3def6hij9k.128.mp3?key-pair-id=apkaexample000000000&policy=eyj1…&signature=fake2",
     "20260601090000",
     "https://cf-media.sndcdn.com/Ab3dEf6hIj9K.128.mp3?Policy=eyJ1…&Signature=FAKE2&Key-Pair-Id=APKAEXAMPLE000000000",
     "audio/mpeg", "200", "N3WCAPTVR3D1G3ST0000000000000001", "3541876"],
]  # fmt: skip


def _bare(url: str) -> str:
    return re.sub(r"(?i)^[a-z]+://", "", url).lower()


def _matches(original: str, pattern: str, match_type: str) -> bool:
    target, pattern = _bare(original), _bare(pattern).rstrip("*")
    host = target.split("/", 1)[0]
    if match_type == "domain" or pattern.startswith("*."):
        domain = pattern.lstrip("*.").split("/", 1)[0]
        return host == domain or host.endswith("." + domain)
    if match_type == "host":
        return host == pattern.split("/", 1)[0]
    if match_type == "exact":
        return target == pattern
    return target.startswith(pattern)


def _wayback_filter(spec: str) -> Callable[[dict[str, str]], bool]:
    negate = spec.startswith("!")
    name, _, regex = spec.lstrip("!").partition(":")
    compiled = re.compile(regex)
    return lambda row: bool(compiled.fullmatch(row.get(name, ""))) != negate


def _cdx(request: Request) -> Response:
    q = parse_qs(request.query)
    if q.get("output") != ["json"]:
        return text("only output=json is simulated\n", 400)
    rows = WAYBACK_ROWS + (WAYBACK_PHASE1_ROWS if request.phase >= 1 else [])
    rows = sorted(rows, key=lambda r: (r[0], r[1]))
    chosen = [dict(zip(WAYBACK_FIELDS, r, strict=True)) for r in rows]
    chosen = [r for r in chosen if _matches(r["original"], q.get("url", [""])[0], q.get("matchType", ["exact"])[0])]
    for spec in q.get("filter", []):
        chosen = [r for r in chosen if _wayback_filter(spec)(r)]
    start = 0
    if q.get("resumeKey"):
        key = unquote(q["resumeKey"][0])
        start = next((i + 1 for i, r in enumerate(chosen) if f"{r['urlkey']} {r['timestamp']}" == key), len(chosen))
    limit = int(q.get("limit", ["10000"])[0])
    page = chosen[start : start + limit]
    fields = q.get("fl", [",".join(WAYBACK_FIELDS)])[0].split(",")
    out: list[list[str]] = [fields, *([r[f] for f in fields] for r in page)] if page else []
    if q.get("showResumeKey") == ["true"] and page and start + limit < len(chosen):
        out += [[], [quote(f"{page[-1]['urlkey']} {page[-1]['timestamp']}")]]
    return text(json.dumps(out), content_type=JSON)


register(Site(host="web.archive.test", routes={"/cdx/search/cdx": _cdx}))


# --- index.commoncrawl.test: collinfo.json and one NDJSON index per crawl ------------------------------------------

CC = "http://index.commoncrawl.test"
CC_CRAWLS = ("CC-MAIN-2026-21", "CC-MAIN-2026-17", "CC-MAIN-2026-13")
_WARC = "crawl-data/{crawl}/segments/1747000000000.00/warc/{crawl}-20260518000000-20260518030000-00042.warc.gz"
# §6.4's two lines (a downloader page carrying a SoundCloud link, and the downloader's merged MP3), and the canary
# downloader's pages; the older crawl holds an earlier capture of the same page.
CC_ROWS: dict[str, list[dict[str, str]]] = {
    "CC-MAIN-2026-21": [
        {"urlkey": "example,sc2mp3-fast)/convert?url=https://soundcloud.com/example-artist/night-drive",
         "timestamp": "20260518043312",
         "url": "https://sc2mp3-fast.example/convert?url=https%3A%2F%2Fsoundcloud.com%2Fexample-artist%2Fnight-drive",
         "mime": "text/html", "mime-detected": "text/html", "status": "200",
         "digest": "Q2WZ7J4XK5N3M6P8R2T4V6Y8A1C3E5G7", "length": "9184", "offset": "511229184", "languages": "eng",
         "encoding": "UTF-8"},
        {"urlkey": f"example,sc2mp3-fast)/system/storage/temp/soundcloud-{TRACK_ID}.mp3",
         "timestamp": "20260518043320",
         "url": f"https://sc2mp3-fast.example/system/storage/temp/soundcloud-{TRACK_ID}.mp3",
         "mime": "audio/mpeg", "mime-detected": "audio/mpeg", "status": "200",
         "digest": "B7N3K9Q2W5E8R1T4Y6U8I0O2P4A6S8D0", "length": "3542019", "offset": "88120411"},
        {"urlkey": f"example,rip-canary)/file/soundcloud-{TRACK_ID}.mp3", "timestamp": "20260519101010",
         "url": f"http://rip-canary.example/file/soundcloud-{TRACK_ID}.mp3", "mime": "audio/mpeg",
         "mime-detected": "audio/mpeg", "status": "200", "digest": "RIPCANARYFILE00000000000000000001",
         "length": "121344", "offset": "1204"},
    ],
    "CC-MAIN-2026-17": [
        {"urlkey": "example,sc2mp3-fast)/convert?url=https://soundcloud.com/example-artist/night-drive",
         "timestamp": "20260422010101",
         "url": "https://sc2mp3-fast.example/convert?url=https%3A%2F%2Fsoundcloud.com%2Fexample-artist%2Fnight-drive",
         "mime": "text/html", "mime-detected": "text/html", "status": "200",
         "digest": "OLDERCAPTURE0000000000000000000A", "length": "9011", "offset": "7331"},
    ],
}  # fmt: skip
for _crawl, _rows in CC_ROWS.items():
    for _row in _rows:
        _row["filename"] = _WARC.format(crawl=_crawl)
CC_ROWS_PER_PAGE = 1


def _collinfo(request: Request) -> Response:
    crawls = [
        {"id": c, "name": f"{c} Index", "timegate": f"{CC}/{c}/", "cdx-api": f"{CC}/{c}-index",
         "from": "2026-01-01T00:00:00", "to": "2026-06-01T00:00:00"}
        for c in CC_CRAWLS
    ]  # fmt: skip
    return text(json.dumps(crawls), content_type=JSON)


def _cc_filter(spec: str) -> Callable[[dict[str, str]], bool]:
    negate = spec.startswith("!")
    spec = spec.lstrip("!")
    mode = spec[0] if spec[:1] in ("=", "~") else ""
    name, _, value = spec.lstrip("=~").partition(":")
    if mode == "~":
        compiled = re.compile(value)
        return lambda row: bool(compiled.match(row.get(name, ""))) != negate
    if mode == "=":
        return lambda row: (row.get(name, "") == value) != negate
    return lambda row: (value in row.get(name, "")) != negate


def _cc_index(request: Request) -> Response:
    crawl = request.path.strip("/").removesuffix("-index")
    if crawl not in CC_CRAWLS:
        return text('{"message": "no such collection"}', 404, content_type=JSON)
    q = parse_qs(request.query)
    rows = [r for r in CC_ROWS.get(crawl, []) if _matches(r["url"], q.get("url", [""])[0], q.get("matchType", [""])[0])]
    for spec in q.get("filter", []):
        rows = [r for r in rows if _cc_filter(spec)(r)]
    pages = math.ceil(len(rows) / CC_ROWS_PER_PAGE)
    if q.get("showNumPages") == ["true"]:
        return text(json.dumps({"pages": pages, "pageSize": 5, "blocks": pages}), content_type=JSON)
    page = int(q.get("page", ["0"])[0])
    chunk = rows[page * CC_ROWS_PER_PAGE : (page + 1) * CC_ROWS_PER_PAGE]
    if not chunk:
        message = {"message": f"No Captures found for: {q.get('url', [''])[0]}"}
        return text(json.dumps(message), 404, content_type=JSON)
    return text("".join(json.dumps(r) + "\n" for r in chunk), content_type="text/x-ndjson")


register(
    Site(
        host="index.commoncrawl.test",
        routes={"/collinfo.json": _collinfo, **{f"/{c}-index": _cc_index for c in CC_CRAWLS}},
    )
)


# --- huggingface.test and datasets-server.huggingface.test: search, cards, viewer rows ------------------------------

DATASET = "nightbeats/nightbeats-40k"
OTHER_DATASET = "acme/ambient-field-recordings"
ROWS_TOTAL = (60, 84)  # phase 0, phase 1: the dataset grows
CARD = """---
license: cc-by-4.0
task_categories:
- text-to-audio
- audio-classification
tags:
- music
- soundcloud
- electronic
size_categories:
- 10K<n<100K
configs:
- config_name: default
  data_files: data/train-*.parquet
---

# Dataset Card for `nightbeats-40k`

40,112 electronic music tracks crawled from public SoundCloud playlists in March 2026 with yt-dlp
(`--extract-audio --embed-metadata --write-info-json`). Audio is stored as 64 kbps Opus (original stream),
with the full SoundCloud API metadata for each track.

| sc_track_id | permalink_url | title | artist | license | duration_ms | audio |
|---|---|---|---|---|---|---|
| 1234567890 | https://soundcloud.com/example-artist/night-drive | Night Drive | Example Artist | all-rights-reserved | 221306 | audio/1234567890.opus |
| 1234500001 | https://soundcloud.com/another-producer/unreleased-demo/s-Xy12Ab | Unreleased Demo | another producer | all-rights-reserved | 187004 | audio/1234500001.opus |
| 987654321 | https://soundcloud.com/cc-artist/free-loop | Free Loop | CC Artist | cc-by | 60012 | audio/987654321.opus |
"""  # noqa: E501  (§6.3's table, verbatim)
OTHER_CARD = """---
license: cc0-1.0
---
# Ambient field recordings

Two hours of rain, wind and city noise recorded by the acme team with their own microphones.
"""
_FEATURES = [
    {"feature_idx": i, "name": name, "type": {"dtype": dtype, "_type": "Value"}}
    for i, (name, dtype) in enumerate(
        [("sc_track_id", "int64"), ("urn", "string"), ("permalink_url", "string"), ("license", "string"),
         ("genre", "string"), ("playback_count", "int64"), ("artwork_url", "string"), ("media", "string"),
         ("info_json", "string"), ("audio", "string")]
    )
]  # fmt: skip


def dataset_row(i: int) -> dict:
    """Row ``i`` of the nightbeats dataset as the viewer shows it; row 0 is §6.3's JSONL row (the canary)."""
    track = TRACK_ID if i == 0 else 2_000_000_000 + i
    permalink = PERMALINK if i == 0 else f"https://soundcloud.com/nightbeats-artist-{i}/track-{i}"
    return {
        "sc_track_id": track,
        "urn": f"soundcloud:tracks:{track}",
        "permalink_url": permalink,
        "license": "all-rights-reserved" if i % 3 else "cc-by",
        "genre": "Synthwave",
        "playback_count": 48211 + i,
        "artwork_url": "https://i1.sndcdn.com/artworks-Qx7TzLm2Rk0aBcDe-9fGhIj-large.jpg",
        "media": {"transcodings": [{
            "url": f"https://api-v2.soundcloud.com/media/soundcloud:tracks:{track}/0b1c2d3e-4f50-6172-8394-a5b6c7d8e9f0"
                   "/stream/hls",
            "preset": "opus_0_0", "format": {"protocol": "hls", "mime_type": 'audio/ogg; codecs="opus"'}}]},
        "info_json": {"extractor": "soundcloud", "webpage_url_domain": "soundcloud.com", "format_id": "hls_opus_0_0"},
        "audio": {"path": f"audio/{track}.opus"},
    }  # fmt: skip


def _search(request: Request) -> Response:
    term = parse_qs(request.query).get("search", [""])[0].lower()
    found = [
        {"id": DATASET, "author": "nightbeats", "downloads": 1234, "likes": 56, "private": False,
         "tags": ["music", "soundcloud", "task_categories:text-to-audio"]},
        {"id": OTHER_DATASET, "author": "acme", "downloads": 12, "likes": 1, "private": False, "tags": ["audio"]},
    ]  # fmt: skip
    return text(json.dumps(found if term in ("soundcloud", "sndcdn", "music") else []), content_type=JSON)


def _card(body: str) -> Response:
    return text(body, content_type="text/markdown; charset=utf-8")


def _splits(request: Request) -> Response:
    dataset = parse_qs(request.query).get("dataset", [""])[0]
    if dataset not in (DATASET, OTHER_DATASET):
        return text(json.dumps({"error": "The dataset does not exist."}), 404, content_type=JSON)
    split = {"dataset": dataset, "config": "default", "split": "train"}
    return text(json.dumps({"splits": [split], "pending": [], "failed": []}), content_type=JSON)


def _rows(request: Request) -> Response:
    q = parse_qs(request.query)
    dataset = q.get("dataset", [""])[0]
    offset, length = int(q.get("offset", ["0"])[0]), min(int(q.get("length", ["100"])[0]), 100)
    if dataset == DATASET:
        total = ROWS_TOTAL[min(request.phase, 1)]
        rows = [dataset_row(i) for i in range(offset, min(offset + length, total))]
        features = _FEATURES
    elif dataset == OTHER_DATASET:
        total = 2
        rows = [{"clip": f"rain-{i}.flac", "minutes": 60} for i in range(offset, min(offset + length, total))]
        features = [{"feature_idx": 0, "name": "clip", "type": {"dtype": "string", "_type": "Value"}}]
    else:
        return text(json.dumps({"error": "The dataset does not exist."}), 404, content_type=JSON)
    answer = {
        "features": features,
        "rows": [{"row_idx": offset + n, "row": row, "truncated_cells": []} for n, row in enumerate(rows)],
        "num_rows_total": total, "num_rows_per_page": 100, "partial": False,
    }  # fmt: skip
    return text(json.dumps(answer), content_type=JSON)


register(
    Site(
        host="huggingface.test",
        routes={
            "/api/datasets": _search,
            f"/datasets/{DATASET}/raw/main/README.md": _card(CARD),
            f"/datasets/{OTHER_DATASET}/raw/main/README.md": _card(OTHER_CARD),
        },
    )
)
register(Site(host="datasets-server.huggingface.test", routes={"/splits": _splits, "/rows": _rows}))
