"""Pure evaluation of one watch crawl: the spider's items -> per-page signature scans -> findings and evidence plans.

Everything here is a function of its inputs (``now`` included): no network, no database, no files.
Incidents are deduplicated by (site, signature family, track when known); every match above info that belongs
to a finding becomes one evidence record (capped per finding and run).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from urllib.parse import urlsplit

from monitor.incidents import Evaluation, Evidence, Finding
from monitor.signatures import (
    SIGNATURES,
    Catalogue,
    Match,
    NetworkRequest,
    Resource,
    escalate,
    read_tags,
    scan_audio_match,
    scan_page,
)
from monitor.signatures.model import severity_rank
from monitor.signatures.tags import FileTags, content_format
from spiders.watch_items import WatchRequest, WatchResource

SCOPE_PREFIX = "exposure:"
EVIDENCE_PER_FINDING = 20
_EXPLANATION = {s.id: s.explanation for s in SIGNATURES}
_CHILD_KINDS = ("script", "playlist", "audio")
# How an incident title reads per signature family.
FAMILY_PHRASES = {
    "cdn-media": "links SoundCloud media files",
    "proxy": "proxies SoundCloud audio streams",
    "drm": "relays SoundCloud DRM licences",
    "api-scraper": "scrapes SoundCloud's API for streams",
    "mirror": "mirrors SoundCloud track data",
    "downloader": "runs a SoundCloud downloader",
    "file-tags": "hosts audio files downloaded from SoundCloud",
    "private-token": "exposes private SoundCloud track links",
    "archive": "holds captures of SoundCloud audio",
    "dataset": "lists SoundCloud tracks in a dataset",
    "audio-match": "hosts a copy of a protected track (audio fingerprint)",
}


def kind_of(family: str) -> str:
    """The incident kind of a signature family: ``cdn-media`` -> ``exposure_cdn_media``."""
    return "exposure_" + family.replace("-", "_")


def scope(target: str) -> str:
    return f"{SCOPE_PREFIX}{target}"


def site_of(url: str) -> str:
    """The host a finding is filed under (``www.`` dropped)."""
    try:
        host = (urlsplit(url).hostname or "").lower()
    except ValueError:
        host = ""
    return host[4:] if host.startswith("www.") else host or "unknown"


@dataclass
class TargetResult:
    """What a crawl of one watch target found."""

    evaluation: Evaluation
    evidence: list[Evidence] = field(default_factory=list)
    matches: list[Match] = field(default_factory=list)  # every match, info included (for metrics and `scan`)
    pages_ok: int = 0
    pages_failed: int = 0
    bytes_by_kind: dict[str, int] = field(default_factory=dict)  # bytes received per resource kind
    render_seconds: list[float] = field(default_factory=list)  # one per rendered page, failed renders included
    audio_outcomes: dict[str, int] = field(default_factory=dict)  # AUDIO_OUTCOMES -> audio files inspected

    @property
    def healthy(self) -> bool:
        """At least one page answered: only then does an absent finding mean the site is clean."""
        return self.pages_ok > 0


AUDIO_OUTCOMES = ("tagged", "untagged", "not_audio", "error")


def audio_tags(item: WatchResource) -> FileTags | None:
    """The tags of a fetched audio head (None when nothing came back to read)."""
    if item.kind != "audio" or not item.body:
        return None
    return read_tags(
        item.body, filename=urlsplit(item.url).path, content_type=item.content_type or "", total_size=item.size
    )


def audio_outcome(item: WatchResource, tags: FileTags | None) -> str:
    """What inspecting one audio URL gave: ``tagged`` / ``untagged`` audio, ``not_audio`` (the bytes are no audio
    format whatever the name or Content-Type say), or ``error`` (no answer, an HTTP error, nothing readable)."""
    if item.status is None or item.status >= 400 or tags is None:
        return "error"
    if content_format(item.body) == "unknown":
        return "not_audio"
    if tags.frames or tags.pictures:
        return "tagged"
    if tags.errors and not (tags.has_id3 or tags.bitrate or tags.sample_rate or tags.duration):
        return "error"
    return "untagged"


def engine_resource(item: WatchResource, tags: FileTags | None = None) -> Resource:
    kind = item.kind if item.kind in ("page", *_CHILD_KINDS) else "other"
    if kind == "audio" and tags is None:
        tags = audio_tags(item)
    return Resource(
        url=item.final_url or item.url,
        kind=kind,
        status=item.status,
        content_type=item.content_type or "",
        body=item.body,
        headers=item.headers,
        tags=tags,
    )


def engine_request(request: WatchRequest) -> NetworkRequest:
    return NetworkRequest(
        url=request.url,
        method=request.method,
        resource_type=request.resource_type,
        frame_url=request.frame_url,
        is_main_frame=request.is_main_frame,
        status=request.status,
        content_type=request.content_type or "",
        headers=request.headers,
    )


def pages(items: Sequence[WatchResource]) -> list[tuple[WatchResource, list[WatchResource]]]:
    """Each page that answered with the scripts, playlists and audio fetched from it (``found_on``)."""
    children: dict[str, list[WatchResource]] = {}
    for item in items:
        if item.kind in _CHILD_KINDS and item.found_on and item.status is not None:
            children.setdefault(item.found_on, []).append(item)
    out = []
    for item in items:
        if item.kind != "page" or item.status is None or item.status >= 400:
            continue
        kids = children.get(item.url, []) + (children.get(item.final_url, []) if item.final_url != item.url else [])
        out.append((item, kids))
    return out


def track_key(match: Match) -> str:
    """Which track a finding is about: the catalogue id when known, else the strongest id the match names."""
    cat = match.data.get("catalogue_track")
    if isinstance(cat, dict) and cat.get("id"):
        return f"catalogue:{cat['id']}"
    t = match.track
    if t is None:
        return "-"
    for prefix, value in (("id", t.track_id), ("token", t.media_token), ("permalink", t.permalink)):
        if value:
            return f"{prefix}:{value}"
    return "-"


def evaluate_crawl(
    target: str,
    items: Sequence[WatchResource],
    *,
    now: datetime,
    catalogue: Catalogue | None = None,
    resolve_after: int = 3,
    audio_matches: Mapping[str, Mapping[str, Any]] | None = None,
) -> TargetResult:
    """Scan every page of a watch crawl and group its matches into findings (severity low and up).
    ``audio_matches`` (audio URL -> the matcher's answer, ``AudioMatch.as_dict()``) adds SC-AUDIO-MATCH."""
    result = TargetResult(Evaluation(scope(target), resolve_after=resolve_after))
    by_url = {}
    tags: dict[int, FileTags | None] = {}
    for item in items:
        by_url.setdefault(item.url, item)
        if item.final_url:
            by_url.setdefault(item.final_url, item)
        result.bytes_by_kind[item.kind] = result.bytes_by_kind.get(item.kind, 0) + item.size
        if item.kind == "page" and item.rendered:
            result.render_seconds.append(item.duration_seconds)
        if item.kind == "audio" and item.error_kind != "robots_disallowed":
            tags[id(item)] = audio_tags(item)
            outcome = audio_outcome(item, tags[id(item)])
            result.audio_outcomes[outcome] = result.audio_outcomes.get(outcome, 0) + 1
    grouped: dict[str, list[tuple[Match, WatchResource]]] = {}
    for page, kids in pages(items):
        result.pages_ok += 1
        page_url = page.final_url or page.url
        resources = [engine_resource(page), *(engine_resource(k, tags.get(id(k))) for k in kids)]
        requests = [engine_request(r) for r in page.requests]
        matches = scan_page(page_url, resources, requests, now=now, site_host=site_of(page_url))
        if catalogue is not None:
            matches = escalate(matches, catalogue)
        for kid in kids if audio_matches else ():
            if kid.kind == "audio" and (found := audio_matches.get(kid.url)):
                matches.extend(scan_audio_match(kid.final_url or kid.url, found, catalogue))
        result.matches.extend(matches)
        for m in matches:
            if severity_rank(m.severity) < severity_rank("low"):
                continue
            key = f"{SCOPE_PREFIX}{site_of(page_url)}:{m.family}:{track_key(m)}"
            grouped.setdefault(key, []).append((m, page))
    _fold_unknown_tracks(grouped)
    # A page robots.txt kept us from requesting did not fail: it was never asked for.
    result.pages_failed = sum(
        1
        for i in items
        if i.kind == "page" and (i.status is None or i.status >= 400) and i.error_kind != "robots_disallowed"
    )
    robots_override = any(not i.robots_obeyed for i in items)
    logs: dict[int, bytes | None] = {}  # one request log per page, shared by its matches' evidence
    for key, hits in grouped.items():
        finding = _finding(key, target, [m for m, _ in hits], robots_override)
        result.evaluation.findings.append(finding)
        ranked = sorted(hits, key=lambda h: -severity_rank(h[0].severity))[:EVIDENCE_PER_FINDING]
        result.evidence.extend(_evidence(key, m, page, by_url.get(m.url), logs) for m, page in ranked)
    return result


def _evidence(
    key: str, m: Match, page: WatchResource, res: WatchResource | None, logs: dict[int, bytes | None]
) -> Evidence:
    """One match kept with its finding: the resource's headers and body, the page's screenshot and request log."""
    if id(page) not in logs:
        logs[id(page)] = request_log(page) if page.requests else None
    return Evidence(
        dedupe_key=key,
        url=m.url,
        page_url=page.final_url or page.url,
        signature=m.signature,
        severity=m.severity,
        detail=m.detail,
        snippet=m.snippet,
        headers=res.headers if res is not None else {},
        body=res.body if res is not None and res.body else None,
        body_type=(res.content_type or "") if res is not None else "",
        screenshot=page.screenshot or None,
        requests=logs[id(page)],
        data={k: v for k, v in m.data.items() if k != "tracks"},
    )


def _fold_unknown_tracks(grouped: dict[str, list[tuple[Match, WatchResource]]]) -> None:
    """Matches of a (site, family) that name no track join that family's finding when exactly one track is named
    there in this crawl: the page is about that track, and one incident says it better than two."""
    by_family: dict[str, list[str]] = {}
    for key in grouped:
        by_family.setdefault(":".join(key.split(":", 3)[:3]), []).append(key)  # exposure:{site}:{family}
    for family_key, keys in by_family.items():
        unknown = f"{family_key}:-"
        named = [k for k in keys if k != unknown]
        if unknown in grouped and len(named) == 1:
            grouped[named[0]].extend(grouped.pop(unknown))


def _finding(key: str, target: str, matches: list[Match], robots_override: bool) -> Finding:
    top = max(matches, key=lambda m: severity_rank(m.severity))
    site, family = key[len(SCOPE_PREFIX) :].split(":", 2)[:2]
    signatures = sorted({m.signature for m in matches})
    catalogue = next((m.data["catalogue_track"] for m in matches if "catalogue_track" in m.data), None)
    track = key.split(":", 3)[3] if key.count(":") >= 3 else "-"
    about = f" (track {catalogue['id']})" if catalogue else ""
    if catalogue and family == "audio-match" and catalogue.get("title"):  # no URL names it: say which one
        about = f" (track {catalogue['id']}, {catalogue['title']!r})"
    detail = (
        f"{_EXPLANATION.get(top.signature, top.detail)} Found {len(matches)} time(s) on {site}: "
        + ", ".join(signatures)
        + f". First: {top.detail}"
    )
    data: dict[str, Any] = {
        "target": target,
        "site": site,
        "family": family,
        "signatures": signatures,
        "track": None if track == "-" else track,
        "urls": sorted({m.url for m in matches})[:20],
        "matches": len(matches),
    }
    if catalogue:
        data["catalogue_track"] = catalogue
    heard = [m.data["audio_match"] for m in matches if "audio_match" in m.data]
    if heard:  # the best fingerprint match: score, offset and matched seconds
        data["audio_match"] = max(heard, key=lambda a: (a.get("matched_seconds", 0), a.get("score", 0)))
    if robots_override:
        data["robots_override"] = True  # the target was crawled with obey_robots: false
    return Finding(
        key,
        kind_of(family),
        top.severity,
        site,
        f"{site} {FAMILY_PHRASES.get(family, 'shows SoundCloud audio')}{about} ({top.signature})",
        detail,
        data,
    )


def request_log(page: WatchResource) -> bytes:
    """A rendered page's request log as JSON lines (the evidence file)."""
    return "".join(
        json.dumps(
            {
                "url": r.url,
                "method": r.method,
                "resource_type": r.resource_type,
                "frame_url": r.frame_url,
                "is_main_frame": r.is_main_frame,
                "status": r.status,
                "content_type": r.content_type,
            }
        )
        + "\n"
        for r in page.requests
    ).encode()


def as_json(matches: Iterable[Match]) -> list[dict[str, Any]]:
    """Matches as the `scan --json` output: signature, severity, url, detail, track (catalogue id or ref)."""
    out = []
    for m in matches:
        cat = m.data.get("catalogue_track")
        track = cat.get("id") if isinstance(cat, dict) else None
        if track is None and m.track is not None:
            track = m.track.track_id or m.track.permalink or m.track.media_token
        out.append(
            {
                "signature": m.signature,
                "family": m.family,
                "severity": m.severity,
                "url": m.url,
                "detail": m.detail,
                "snippet": m.snippet,
                "track": track,
                **({"catalogue_track": cat} if cat else {}),
                **({"suppressed": m.data["suppressed"]} if "suppressed" in m.data else {}),
            }
        )
    return out
